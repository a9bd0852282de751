package dataplane_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
)

// TestRemovedBlobIsNotStoredHere: a metadata get for a blob garbage collection removed
// answers CodeNotFound saying "not stored here", distinct from an unknown blob's answer
// (same code, so old clients are unaffected).
func TestRemovedBlobIsNotStoredHere(t *testing.T) {
	f := newFixture(t)
	if err := f.putMeta(f.enc); err != nil {
		t.Fatal(err)
	}
	get := func(id codec.BlobID) error {
		_, err := f.call(f.protos[0], (&metadata.Request{Op: metadata.OpGet, BlobID: id}).Encode())
		return err
	}
	if err := get(f.enc.BlobID); err != nil {
		t.Fatalf("stored metadata: %v", err)
	}
	removed, _, err := f.store.RemoveBlob(context.Background(), f.enc.BlobID, f.held, func() (blobstore.Removal, bool) {
		return blobstore.Removal{Reason: blobstore.RemovedExpired, Epoch: 9}, false
	})
	if err != nil || !removed {
		t.Fatalf("remove: %v %v", removed, err)
	}
	err = get(f.enc.BlobID)
	wantCode(t, "metadata of a removed blob", err, p2p.CodeNotFound)
	var se *p2p.StatusError
	if errors.As(err, &se); !strings.Contains(se.Message, "not stored here") || !strings.Contains(se.Message, "expired") {
		t.Fatalf("removed blob answered %q", se.Message)
	}
	err = get(f.unregEnc.BlobID)
	wantCode(t, "metadata of an unknown blob", err, p2p.CodeNotFound)
	if errors.As(err, &se); strings.Contains(se.Message, "not stored here") {
		t.Fatalf("unknown blob answered %q", se.Message)
	}
}
