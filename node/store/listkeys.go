package store

import (
	"bytes"
	"context"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-datastore"
)

// KeyLister is a datastore that can list its keys from any point of its key order. A
// go-datastore query always starts at the beginning of its prefix, so a walk in pages that
// resumes each page after a cursor through queries visits every key before the cursor
// again, page after page; a KeyLister starts at the cursor.
type KeyLister interface {
	// ListKeys calls fn with every key k (in datastore.Key.Bytes form) such that
	// lower <= k < upper, in byte order, until fn returns false, the keys run out or ctx
	// is done (its error is returned). A nil upper means no upper bound. key is valid only
	// during the call: fn must copy what it keeps.
	ListKeys(ctx context.Context, lower, upper []byte, fn func(key []byte) (more bool)) error
}

// PrefixBounds returns the range [lower, upper) of KeyLister keys that a go-datastore
// query over prefix returns: the cleaned prefix followed by "/" (just "/" for the root)
// and, as the upper bound, that string with its last byte below 0xff incremented (nil
// when there is none: no upper bound). This is how go-ds-pebble bounds its queries; the
// keys of every engine here are the datastore keys' bytes.
func PrefixBounds(prefix string) (lower, upper []byte) {
	p := datastore.NewKey(prefix).String()
	if p != "/" {
		p += "/"
	}
	lower = []byte(p)
	for i := len(lower) - 1; i >= 0; i-- {
		if lower[i] != 0xff {
			upper = bytes.Clone(lower[:i+1])
			upper[i]++
			break
		}
	}
	return lower, upper
}

// AfterDescendants returns the smallest byte string that sorts after k and after every
// key below k (k + "/" + anything): k followed by "0", the byte after "/". Keys such as
// k + "." that sort between k and its descendants but are not below it stay before it.
func AfterDescendants(k datastore.Key) []byte {
	return append([]byte(k.String()), '/'+1)
}

// listKeysCtxEvery is how many keys listPebbleKeys visits between checks of its context.
const listKeysCtxEvery = 256

// listPebbleKeys implements KeyLister.ListKeys over db with a keys-only walk of a bounded
// iterator.
func listPebbleKeys(ctx context.Context, db *pebble.DB, lower, upper []byte, fn func(key []byte) bool) (err error) {
	defer closedAsError(&err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	it, err := db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%listKeysCtxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !fn(it.Key()) {
			return nil
		}
	}
	return it.Error()
}

// ListKeys implements KeyLister.
func (d syncedDatastore) ListKeys(ctx context.Context, lower, upper []byte, fn func(key []byte) bool) error {
	return listPebbleKeys(ctx, d.DB, lower, upper, fn)
}

// ListKeys implements KeyLister.
func (d unsyncedDatastore) ListKeys(ctx context.Context, lower, upper []byte, fn func(key []byte) bool) error {
	return listPebbleKeys(ctx, d.DB, lower, upper, fn)
}
