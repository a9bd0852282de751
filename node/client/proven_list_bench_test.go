package client_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// BenchmarkVerifyListAnswer: the client's work per proven listing page and proven receipt
// (decode, the commit certificate's BLS check, the multiproof or proof, the facts), with
// the answer's size: a full page of blob objects (query.MaxProvenBlobsPerPage), the four
// nodes of the committee, three stakes, one receipt.
func BenchmarkVerifyListAnswer(b *testing.B) {
	a, regs := listNet(b, "bench-lists", 1<<50)
	honest := serve(b, a.l)
	ctx := lcCtx(b)
	probe := newConnected(b, honest)
	faucet := staking.AddressOf(a.faucet.Public().(ed25519.PublicKey))
	com := a.l.View().SigningCommittee()
	get := func(q *query.Query) []byte {
		r, err := p2p.Call(ctx, probe, honest.ID(), query.Spec, q.Encode())
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	page := func(raw []byte) (*query.ProvenPageAnswer, *staking.Checkpoint) {
		ans, err := query.DecodeProvenPageAnswer(raw)
		if err != nil {
			b.Fatal(err)
		}
		cp, err := query.VerifyCertified(a.genesis.NetworkID(), com, &ans.At)
		if err != nil {
			b.Fatal(err)
		}
		return ans, cp
	}
	type bench struct {
		name string
		raw  []byte
		run  func(raw []byte) int // returns the entries verified
	}
	h := ledger.TxHash(regs[0])
	for _, bc := range []bench{
		{"blobs-page", get(&query.Query{Kind: query.QueryProvenBlobs, Address: faucet}), func(raw []byte) int {
			ans, cp := page(raw)
			p, _, err := query.VerifyBlobsPage(cp, faucet, [32]byte{}, ans)
			if err != nil {
				b.Fatal(err)
			}
			return len(p.Blobs)
		}},
		{"committee-page", get(&query.Query{Kind: query.QueryProvenCommittee}), func(raw []byte) int {
			ans, cp := page(raw)
			p, _, err := query.VerifyCommitteePage(cp, [32]byte{}, 12, ans)
			if err != nil {
				b.Fatal(err)
			}
			return len(p.Candidates)
		}},
		{"stakes-page", get(&query.Query{Kind: query.QueryProvenStakes, Address: faucet}), func(raw []byte) int {
			ans, cp := page(raw)
			p, _, err := query.VerifyStakesPage(cp, faucet, [32]byte{}, ans)
			if err != nil {
				b.Fatal(err)
			}
			return len(p.Stakes)
		}},
		{"receipt", get(&query.Query{Kind: query.QueryProvenWaitTx, TxHash: h, Wait: time.Second}), func(raw []byte) int {
			ans, err := query.DecodeProvenWaitAnswer(raw)
			if err != nil {
				b.Fatal(err)
			}
			cp, err := query.VerifyCertified(a.genesis.NetworkID(), com, &ans.At)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := query.VerifyReceipt(cp, h, 0, ans); err != nil {
				b.Fatal(err)
			}
			return 1
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			for range b.N {
				n = bc.run(bc.raw)
			}
			b.ReportMetric(float64(len(bc.raw)), "answer-bytes")
			b.ReportMetric(float64(n), "entries")
		})
	}
}
