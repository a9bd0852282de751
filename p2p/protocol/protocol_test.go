package protocol_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/ledgersync"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
)

func specs(p codec.Params) []p2p.Protocol {
	return []p2p.Protocol{sliver.Spec(p), metadata.Spec(p), confirm.Spec, blobstatus.Spec, tx.Spec, query.Spec, ledgersync.Spec, recovery.Spec(p)}
}

// TestSpecs: every protocol's spec is valid for every geometry, IDs are distinct, and the
// caps admit the largest honest message.
func TestSpecs(t *testing.T) {
	for _, n := range []int{4, 10, 1000, codec.MaxShards} {
		p := codec.MustParams(n)
		seen := map[string]bool{}
		for _, pr := range specs(p) {
			if err := pr.Validate(); err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
			if seen[string(pr.ID)] {
				t.Fatalf("duplicate protocol %s", pr.ID)
			}
			seen[string(pr.ID)] = true
		}
		// The largest metadata of the geometry fits a put request and a get answer.
		m := metadata.Spec(p)
		if want := metadata.HeaderLen + p.MaxMetadataBCSLen(); m.MaxRequest < want || m.MaxResponse < want {
			t.Fatalf("n=%d: metadata caps %d/%d below %d", n, m.MaxRequest, m.MaxResponse, want)
		}
	}
	p := codec.MustParams(1000)
	s := sliver.Spec(p)
	// A full-size pair at n=1000 (C=667 and R=334 symbols of 65534 bytes) must fit one put.
	if min := sliver.RequestHeaderLen + sliver.PairCap(p); s.MaxRequest < min || s.MaxResponse < min {
		t.Fatalf("sliver caps %d/%d below a full pair (%d)", s.MaxRequest, s.MaxResponse, min)
	}
	if s.MaxRequest > 128<<20 {
		t.Fatalf("sliver cap %d is far above a full pair", s.MaxRequest)
	}
}

// TestBatchSizing: the per-request counts the clients use never make a message exceed the
// protocol's cap, and respect the byte budget.
func TestBatchSizing(t *testing.T) {
	for _, n := range []int{4, 10, 1000} {
		p := codec.MustParams(n)
		cap := sliver.BatchCap(p)
		for _, symbol := range []int{2, 64, 1000, codec.MaxSymbolSize} {
			row := p.PrimarySliverSize(symbol)
			for _, budget := range []int{1, 4 << 20, 1 << 30} {
				k := sliver.GetsPerRequest(p, row, budget)
				if k < 1 || k > sliver.MaxItems(p) {
					t.Fatalf("n=%d symbol=%d: %d gets", n, symbol, k)
				}
				if k > 1 && (sliver.ResponseHeaderLen+k*(row+sliver.GetItemOverhead) > cap || k*row > budget) {
					t.Fatalf("n=%d symbol=%d budget=%d: %d gets of %d bytes exceed cap %d or budget", n, symbol, budget, k, row, cap)
				}
				pair := row + p.SecondarySliverSize(symbol)
				k = sliver.PairsPerRequest(p, pair, budget)
				if k < 1 || k > sliver.MaxItems(p)/2 {
					t.Fatalf("n=%d symbol=%d: %d pairs", n, symbol, k)
				}
				if k > 1 && (sliver.RequestHeaderLen+k*(pair+sliver.PutPairOverhead) > cap || k*(pair+sliver.PutPairOverhead) > budget) {
					t.Fatalf("n=%d symbol=%d budget=%d: %d pairs of %d bytes exceed cap %d or budget", n, symbol, budget, k, pair, cap)
				}
			}
		}
	}
}
