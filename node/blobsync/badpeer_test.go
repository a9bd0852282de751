package blobsync_test

import (
	"context"
	"testing"
	"time"

	libp2pnet "github.com/libp2p/go-libp2p/core/network"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// TestRecoverAroundTruncatedAndStalled (issue 12, lying nodes): a member that closes the
// stream in the middle of its answer, one that answers with fewer sources than asked, and
// one that reads the request and then holds the stream without answering are each counted
// as failed, and the slivers are recovered from the others; the stalled member costs the
// fetcher's per-request timeout, not the caller's whole deadline.
func TestRecoverAroundTruncatedAndStalled(t *testing.T) {
	for _, how := range []string{"truncate", "fewer", "stall"} {
		t.Run(how, func(t *testing.T) {
			nw := newNetwork(t, 50_000)
			nw.misbehave(t, how)
			f := nw.fetcher()
			f.Timeout = 2 * time.Second
			// Without the per-request timeout a stall lasts recovery.Timeout (a minute),
			// far past this deadline; with it, two seconds.
			c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			res, err := f.Recover(c, nw.com, nw.enc.BlobID, &nw.enc.Metadata, nw.lost())
			if err != nil {
				t.Fatalf("%s: %v (%+v)", how, err, res.Stats)
			}
			// A bound, not a measurement: the stall must not have held the recovery to
			// the caller's deadline (which also ends the stalled exchange).
			if d, _ := c.Deadline(); time.Until(d) < 5*time.Second {
				t.Fatalf("%s: the recovery ended only near the caller's deadline (%+v)", how, res.Stats)
			}
			nw.check(t, res)
			if res.Stats.Failed != 1 || res.Stats.V1 != 0 {
				t.Fatalf("%s: stats %+v: want exactly the bad member failed, over version 2", how, res.Stats)
			}
		})
	}
}

// misbehave makes the member of weight 2 answer version-2 requests badly (how: "truncate",
// "fewer" or "stall"; see TestRecoverAroundTruncatedAndStalled). Its answers are otherwise
// built honestly from its stored slivers.
func (nw *network) misbehave(t *testing.T, how string) int {
	bi := byWeight(nw.com, 2)
	bad := nw.hosts[bi]
	bad.RemoveStreamHandler(recovery.ID)
	bad.RemoveStreamHandler(recovery.ID2)
	store := nw.stores[bi]
	spec := recovery.Spec2(nw.p)
	held := make(chan struct{})
	t.Cleanup(func() { close(held) })
	// answer is the honest answer to items, with at most keep(limit) sources per item.
	answer := func(ctx context.Context, items []recovery.Item, keep func(limit int) int) []byte {
		results := make([]recovery.ItemResult, len(items))
		for i, it := range items {
			limit := int(it.Limit)
			if limit == 0 {
				limit = nw.p.N
			}
			for _, sh := range nw.com.Members[bi].Shards {
				if len(results[i].Batches) >= keep(limit) {
					break
				}
				pair := nw.p.PairIndexForShard(it.BlobID, int(sh))
				src, idx := codec.AxisPrimary, pair
				if it.Axis == codec.AxisPrimary {
					src, idx = codec.AxisSecondary, nw.p.SecondaryIndexOfPair(pair)
				}
				sl, err := store.Sliver(ctx, it.BlobID, int(sh), src)
				if err != nil || int(sl.Index) != idx {
					continue
				}
				x, err := codec.ExpandSliver(nw.p, &sl)
				if err != nil {
					continue
				}
				b, err := x.SymbolBatch(it.Targets)
				if err != nil {
					continue
				}
				results[i].SymbolSize = int(x.Sliver.SymbolSize)
				results[i].Batches = append(results[i].Batches, b)
			}
		}
		return recovery.EncodeResponse2(results)
	}
	bad.SetStreamHandler(recovery.ID2, func(s libp2pnet.Stream) {
		defer s.Reset()
		_ = s.SetDeadline(time.Now().Add(time.Minute))
		req, err := p2p.ReadFrame(s, spec.MaxRequest)
		if err != nil {
			return
		}
		items, err := recovery.DecodeRequest2(nw.p, req)
		if err != nil {
			return
		}
		switch how {
		case "stall":
			<-held // holds the stream open, silent, until the test ends
		case "truncate":
			body := answer(context.Background(), items, func(limit int) int { return limit })
			frame := p2p.AppendFrame(nil, append([]byte{0}, body...))
			if _, err := s.Write(frame[:len(frame)/2]); err == nil {
				_ = s.Close() // a clean close in the middle of the answer
			}
		case "fewer":
			body := answer(context.Background(), items, func(limit int) int { return limit - 1 })
			if err := p2p.WriteFrameParts(s, [][]byte{{0}, body}); err == nil {
				_ = s.Close()
			}
		default:
			t.Errorf("unknown misbehaviour %q", how)
		}
	})
	return bi
}
