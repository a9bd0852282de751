package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// TestStoreStreamUploadDepth: by default the streaming store keeps up to four sliver puts
// in flight to one member (Config.UploadDepth), never more. Each member stores the pairs
// itself and answers after a pause, so the puts the client has sent overlap.
func TestStoreStreamUploadDepth(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	// One pair per request; n = 100, so the heaviest member takes 40 requests.
	c := newCluster(t, []int{40, 30, 20, 10}, 31, func(cfg *client.Config) { cfg.UploadBatchBytes = 1 })
	hooks := &fakeHooks{c: c, certified: map[codec.BlobID]bool{}}
	var mu sync.Mutex
	inflight := make([]int, len(c.nodes))
	most := make([]int, len(c.nodes))
	sp := sliver.Spec(c.p)
	for i, nd := range c.nodes {
		if err := p2p.Handle(nd.host, sp, func(ctx context.Context, _ peer.ID, body []byte) ([]byte, error) {
			req, err := sliver.DecodeRequest(c.p, body)
			if err != nil {
				return nil, err
			}
			if req.Op != sliver.OpPut {
				return nil, errors.New("only puts here")
			}
			mu.Lock()
			inflight[i]++
			most[i] = max(most[i], inflight[i])
			mu.Unlock()
			defer func() {
				mu.Lock()
				inflight[i]--
				mu.Unlock()
			}()
			time.Sleep(50 * time.Millisecond) // in flight long enough to overlap
			writes := make([]blobstore.PairWrite, len(req.Pairs))
			for j := range req.Pairs {
				writes[j] = blobstore.PairWrite{Shard: c.p.ShardForPair(req.BlobID, int(req.Pairs[j][0].Index)),
					Primary: &req.Pairs[j][0], Secondary: &req.Pairs[j][1]}
			}
			errs, err := nd.store.PutPairs(ctx, req.BlobID, writes)
			if err != nil {
				return nil, err
			}
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
			return sliver.EncodeItemResults(make([]sliver.ItemResult, len(req.Pairs))), nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.client.StoreStream(ctx, randomBlob(300_000, 32), hooks, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	<-res.Upload.Done()
	mu.Lock()
	defer mu.Unlock()
	deepest := 0
	for i, m := range most {
		if m > 4 {
			t.Fatalf("member %d had %d puts in flight, UploadDepth is 4", i, m)
		}
		deepest = max(deepest, m)
	}
	if deepest != 4 {
		t.Fatalf("at most %d puts in flight to a member (%v), want the default UploadDepth 4", deepest, most)
	}
}
