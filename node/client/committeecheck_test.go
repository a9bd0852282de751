package client_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// badCommitteeHooks registers every blob and hands out com as the committee.
type badCommitteeHooks struct{ com *epoch.Committee }

func (h badCommitteeHooks) Committee(context.Context) (*epoch.Committee, error) { return h.com, nil }

func (badCommitteeHooks) RegisterBlob(context.Context, *codec.EncodedBlob, client.StoreOptions) (client.Registration, bool, error) {
	return client.Registration{}, false, nil
}

func (badCommitteeHooks) CertifyBlob(context.Context, codec.BlobID, client.Registration, *client.UploadResult) error {
	return errors.New("never certified")
}

// TestBadCommitteeIsAnError: a committee a node could hand out (the wrong shard count, or
// never indexed) makes every read, upload and store entry point fail with an error, never
// panic.
func TestBadCommitteeIsAnError(t *testing.T) {
	p := codec.MustParams(10)
	h := p2ptest.Host(t, nil)
	c, err := client.New(client.Config{Host: h, Params: p, Network: epoch.NetworkID{1}})
	if err != nil {
		t.Fatal(err)
	}
	wrongSize, _ := epochtest.Committee(1, []int{2, 2}, 1) // 4 shards for a 10-shard network
	unindexed := &epoch.Committee{Epoch: 1, NShards: 10, Members: []epoch.Member{{}}}
	enc, err := codec.Encode(p, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, com := range map[string]*epoch.Committee{"wrong size": wrongSize, "unindexed": unindexed, "nil": nil} {
		calls := map[string]func() error{
			"Read":     func() error { _, err := c.Read(ctx, com, enc.BlobID); return err },
			"Metadata": func() error { _, err := c.Metadata(ctx, com, enc.BlobID); return err },
			"ReadRange": func() error {
				_, err := c.ReadRangeWith(ctx, com, enc.BlobID, 0, 1, client.ReadOptions{Metadata: &enc.Metadata})
				return err
			},
			"ReadTo": func() error {
				_, err := c.ReadToWith(ctx, com, enc.BlobID, &bytes.Buffer{}, client.ReadOptions{Metadata: &enc.Metadata})
				return err
			},
			"ReadSecondarySlivers": func() error {
				_, err := c.ReadSecondarySlivers(ctx, com, enc.BlobID, &enc.Metadata, []int{0})
				return err
			},
			"Upload": func() error { _, err := c.Upload(ctx, com, enc, client.Registration{}, nil); return err },
			"Store": func() error {
				_, err := c.Store(ctx, []byte("x"), badCommitteeHooks{com}, client.StoreOptions{Epochs: 1})
				return err
			},
			"StoreStream": func() error {
				_, err := c.StoreStream(ctx, []byte("x"), badCommitteeHooks{com}, client.StoreOptions{Epochs: 1})
				return err
			},
		}
		for call, f := range calls {
			if err := f(); err == nil {
				t.Errorf("%s with a %s committee: no error", call, name)
			}
		}
	}
}
