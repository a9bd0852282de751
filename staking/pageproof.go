package staking

import (
	"bytes"
	"fmt"

	"github.com/walrus-go/walrus-go/staking/smt"
)

// Proven pages of the listings (docs/architecture.md §4 "Light clients"): the registered
// nodes, and the stakes and blob objects an owner owns. Each listing is one range of tree
// paths — the node kind's subtree, or an owner's range of an owner index (tables.go,
// pathOf) — so a page is a multiproof (staking/smt) of every entry in [after the cursor,
// the page's end], which shows the page complete: nothing omitted, nothing added. "More" is
// proven the same way: the page's range then ends at the next entry's path, which the proof
// must show. An owner-index entry names an object; the object's own entry is proven in the
// same multiproof, with any further single entries the answer needs (parameters,
// committees).

// Listing is a kind of entry listed in pages, in path order.
type Listing struct {
	lo, hi [32]byte
	// check returns the path an entry's value must sit at, and the single entry the value
	// names (ok false: none).
	check func(value []byte) (path [32]byte, follow Key, ok bool, err error)
}

// NodeListing lists the registered nodes (entries NodeKey; DecodeNodeEntry).
func NodeListing() Listing {
	l := Listing{check: func(v []byte) ([32]byte, Key, bool, error) {
		n, err := DecodeNodeEntry(v)
		if err != nil {
			return [32]byte{}, Key{}, false, err
		}
		return NodeKey(n.ID).Path(), Key{}, false, nil
	}}
	l.lo, l.hi = kindRange(kindNode)
	return l
}

// StakeListing lists owner's stakes: entries of the owner index (StakeIndexKey; value
// owner || stake ID), each naming its stake (StakeKey; DecodeStakeEntry).
func StakeListing(owner Address) Listing { return ownerListing(kindOwnerStake, owner, StakeKey) }

// BlobListing lists owner's blob objects, live or expired: entries of the owner index
// (BlobIndexKey), each naming its blob object (BlobObjectKey; DecodeBlobObject).
func BlobListing(owner Address) Listing { return ownerListing(kindOwnerBlob, owner, BlobObjectKey) }

func ownerListing(kind byte, owner Address, object func(ObjectID) Key) Listing {
	l := Listing{check: func(v []byte) ([32]byte, Key, bool, error) {
		if len(v) != 64 {
			return [32]byte{}, Key{}, false, fmt.Errorf("%w: owner-index entry of %d bytes", ErrDecode, len(v))
		}
		o, id := Address(v[:32]), ObjectID(v[32:])
		// Another owner's entry in a shared range (120-bit hash prefix clash): skipped.
		return pathOf(kind, v), object(id), o == owner, nil
	}}
	l.lo = pathOf(kind, append(owner[:], make([]byte, 32)...))
	clear(l.lo[16:])
	l.hi = l.lo
	for i := 16; i < 32; i++ {
		l.hi[i] = 0xff
	}
	return l
}

func kindRange(kind byte) (lo, hi [32]byte) {
	lo[0], hi[0] = kind, kind
	for i := 1; i < 32; i++ {
		hi[i] = 0xff
	}
	return lo, hi
}

// start is the first path of the page after cursor (a path; zero: from the start); ok is
// false when nothing can follow cursor.
func (l *Listing) start(cursor [32]byte) (lo [32]byte, ok bool) {
	if cursor == ([32]byte{}) || bytes.Compare(cursor[:], l.lo[:]) < 0 {
		return l.lo, true
	}
	lo = cursor
	for i := 31; i >= 0; i-- {
		lo[i]++
		if lo[i] != 0 {
			return lo, bytes.Compare(lo[:], l.hi[:]) <= 0
		}
	}
	return lo, false // cursor was the last path of all
}

// PageProof is a proven page: the entries after a cursor in path order, whether more
// follow (Next is then the path of the first entry after the page), the values of the
// single entries the page names and of the extra keys asked (in that order; nil: absent),
// and the multiproof of all of it.
type PageProof struct {
	More    bool
	Next    [32]byte
	Entries [][]byte
	Points  [][]byte
	Proof   []byte
}

// ProvePage proves the page of at most limit (≥ 1) entries of l after cursor, with the
// entries extra names, against s.Root().
func (s *State) ProvePage(l Listing, cursor [32]byte, limit int, extra []Key) *PageProof {
	s.flush()
	limit = max(limit, 1)
	pp := new(PageProof)
	lo, ok := l.start(cursor)
	hi := l.hi
	var paths [][32]byte
	if ok {
		s.st.tree.WalkRange(lo, l.hi, func(p, _ [32]byte, v any) bool {
			if len(paths) == limit {
				pp.More, pp.Next, hi = true, p, p
				return false
			}
			paths = append(paths, p)
			pp.Entries = append(pp.Entries, encodePayload(v))
			return true
		})
	}
	var keys []Key
	for _, v := range pp.Entries {
		if _, k, ok, err := l.check(v); err == nil && ok {
			keys = append(keys, k)
		}
	}
	keys = append(keys, extra...)
	ivs := make([]smt.Interval, 0, 1+len(keys))
	if ok {
		ivs = append(ivs, smt.Interval{Lo: lo, Hi: hi})
	}
	for _, k := range keys {
		p := k.Path()
		ivs = append(ivs, smt.Point(p))
		var val []byte
		if payload, _, ok := s.st.tree.Get(p); ok {
			val = encodePayload(payload)
		}
		pp.Points = append(pp.Points, val)
	}
	pp.Proof, _, _ = s.st.tree.ProveIntervals(ivs)
	return pp
}

// VerifyPage checks pp against root as the page of at most limit entries of l after
// cursor, with extra keys, and returns, beside pp.Entries, the value of the entry each
// names (nil when it names none) and the values of the extra keys (nil: absent). Every
// failure wraps ErrProof.
func VerifyPage(root [32]byte, l Listing, cursor [32]byte, limit int, extra []Key, pp *PageProof) (named, extras [][]byte, err error) {
	if pp == nil {
		return nil, nil, fmt.Errorf("%w: no page", ErrProof)
	}
	lo, ok := l.start(cursor)
	hi := l.hi
	switch {
	case len(pp.Entries) > max(limit, 1):
		return nil, nil, fmt.Errorf("%w: %d entries in a page of %d", ErrProof, len(pp.Entries), limit)
	case !ok && (len(pp.Entries) > 0 || pp.More):
		return nil, nil, fmt.Errorf("%w: entries after the last path", ErrProof)
	case pp.More && len(pp.Entries) == 0:
		return nil, nil, fmt.Errorf("%w: an empty page with more to come", ErrProof)
	case pp.More && (bytes.Compare(pp.Next[:], lo[:]) < 0 || bytes.Compare(pp.Next[:], l.hi[:]) > 0):
		return nil, nil, fmt.Errorf("%w: next entry outside the listing", ErrProof)
	case !pp.More && pp.Next != ([32]byte{}):
		return nil, nil, fmt.Errorf("%w: a next entry without more", ErrProof)
	}
	if pp.More {
		hi = pp.Next
	}
	paths := make([][32]byte, len(pp.Entries))
	named = make([][]byte, len(pp.Entries))
	var keys []Key
	var namer []int // the entry each key of keys comes from (-1: extra)
	for i, v := range pp.Entries {
		p, k, has, err := l.check(v)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d: %v", ErrProof, i, err)
		}
		paths[i] = p
		if has {
			keys, namer = append(keys, k), append(namer, i)
		}
	}
	for _, k := range extra {
		if k.b == "" {
			return nil, nil, fmt.Errorf("%w: no key", ErrProof)
		}
		keys, namer = append(keys, k), append(namer, -1)
	}
	if len(pp.Points) != len(keys) {
		return nil, nil, fmt.Errorf("%w: %d single entries, want %d", ErrProof, len(pp.Points), len(keys))
	}
	ivs := make([]smt.Interval, 0, 1+len(keys))
	if ok {
		ivs = append(ivs, smt.Interval{Lo: lo, Hi: hi})
	}
	kp := make([][32]byte, len(keys))
	for j, k := range keys {
		kp[j] = k.Path()
		if ok && bytes.Compare(kp[j][:], lo[:]) >= 0 && bytes.Compare(kp[j][:], hi[:]) <= 0 {
			return nil, nil, fmt.Errorf("%w: a single entry inside the page's range", ErrProof)
		}
		ivs = append(ivs, smt.Point(kp[j]))
	}
	leaves, err := smt.VerifyIntervals(root, ivs, pp.Proof)
	if err != nil {
		return nil, nil, err
	}
	var inRange []smt.Leaf
	single := map[[32]byte][32]byte{}
	for _, lf := range leaves {
		if ok && bytes.Compare(lf.Path[:], lo[:]) >= 0 && bytes.Compare(lf.Path[:], hi[:]) <= 0 {
			inRange = append(inRange, lf)
		} else {
			single[lf.Path] = lf.ValueHash
		}
	}
	want := len(pp.Entries)
	if pp.More {
		want++
	}
	if len(inRange) != want {
		return nil, nil, fmt.Errorf("%w: the page has %d entries, the proof shows %d in its range", ErrProof, want, len(inRange))
	}
	for i, v := range pp.Entries {
		if inRange[i].Path != paths[i] || inRange[i].ValueHash != smt.ValueHash(v) {
			return nil, nil, fmt.Errorf("%w: entry %d is not the one the proof shows", ErrProof, i)
		}
	}
	if pp.More && inRange[want-1].Path != pp.Next {
		return nil, nil, fmt.Errorf("%w: the next entry is not the one the proof shows", ErrProof)
	}
	for j := range keys {
		vh, present := single[kp[j]]
		v := pp.Points[j]
		switch {
		case present != (v != nil):
			return nil, nil, fmt.Errorf("%w: single entry %d present %v, the proof says %v", ErrProof, j, v != nil, present)
		case present && vh != smt.ValueHash(v):
			return nil, nil, fmt.Errorf("%w: single entry %d is not the one the proof shows", ErrProof, j)
		}
		if namer[j] >= 0 {
			named[namer[j]] = v
		} else {
			extras = append(extras, v)
		}
	}
	return named, extras, nil
}
