package ledger_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/p2p/protocol/ledgersync"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

func newHost(t *testing.T, seed uint64) host.Host {
	t.Helper()
	var s [32]byte
	s[0], s[1] = byte(seed), 0x77
	return p2ptest.Host(t, rand.NewChaCha8(s))
}

func TestValidateCheckpoint(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, _ := f.open(t, 0)
	h := newHost(t, 1)
	n, err := ledger.NewNet(l, ledger.NetConfig{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	other := peer.ID("someone")
	enc := func(d *tendermint.Decision) []byte {
		b, err := tendermint.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v0 := l.View()
	good := f.decide(t, v0, nil, nil, false)
	forged := f.decide(t, v0, nil, nil, true)
	vote, _ := tendermint.Encode(&tendermint.Vote{Type: tendermint.Prevote, Height: 1})
	for _, c := range []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"garbage", []byte{9, 9, 9}, p2p.Reject},
		{"vote on the checkpoints topic", vote, p2p.Reject},
		{"forged certificate", enc(forged), p2p.Reject},
		{"next height", enc(good), p2p.Accept},
		{"far future", enc(f.certify(t, v0, []byte("x"), 7, nil, false)), p2p.Ignore},
	} {
		if got := n.ValidateCheckpoint(ctx(t), p2p.Message{From: other, ReceivedFrom: other, Data: c.data}); got != c.want {
			t.Errorf("%s: verdict %d, want %d", c.name, got, c.want)
		}
	}
	// Sync hints come only from verified checkpoints: the certified far-future checkpoint
	// above queued one; a far-ahead one whose certificate does not verify queues none.
	if n.PendingHints() != 1 {
		t.Errorf("far future, certified: %d hints, want 1", n.PendingHints())
	}
	if got := n.ValidateCheckpoint(ctx(t), p2p.Message{From: other, ReceivedFrom: other, Data: enc(f.certify(t, v0, []byte("y"), 7, nil, true))}); got != p2p.Ignore || n.PendingHints() != 1 {
		t.Errorf("far future, forged: verdict %d, %d hints; want Ignore, still 1", got, n.PendingHints())
	}
	if _, err := l.Submit(ctx(t), good); err != nil {
		t.Fatal(err)
	}
	if got := n.ValidateCheckpoint(ctx(t), p2p.Message{From: other, ReceivedFrom: other, Data: enc(good)}); got != p2p.Ignore {
		t.Errorf("stale: verdict %d, want Ignore", got)
	}
}

// TestSyncFromPeer has a fresh ledger catch up over /walrus/ledger-sync/1 from one that is
// ahead, verifying every checkpoint itself.
func TestSyncFromPeer(t *testing.T) {
	actorstest.CheckLeaks(t)
	f := newFixture(t, "ledgertest")
	la, _ := f.open(t, 0)
	for i := 0; i < 70; i++ { // more than one batch
		if _, err := la.Submit(ctx(t), f.decide(t, la.View(), nil, nil, false)); err != nil {
			t.Fatal(err)
		}
	}
	g := newFixture(t, "ledgertest")
	lb, _ := g.open(t, 0)
	ha, hb := newHost(t, 1), newHost(t, 2)
	if _, err := ledger.NewNet(la, ledger.NetConfig{Host: ha}); err != nil {
		t.Fatal(err)
	}
	nb, err := ledger.NewNet(lb, ledger.NetConfig{Host: hb, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.Connect(ctx(t), peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}); err != nil {
		t.Fatal(err)
	}
	got, err := nb.SyncFrom(ctx(t), ha.ID())
	if err != nil || got != 70 {
		t.Fatalf("synced %d, %v", got, err)
	}
	if lb.Height() != 70 || lb.View().State().Root() != la.View().State().Root() {
		t.Fatalf("after sync: height %d", lb.Height())
	}
}

// TestWireDecodersNeverPanic feeds truncations and random bytes to every decoder.
func TestWireDecodersNeverPanic(t *testing.T) {
	in := &query.Info{NetworkName: "n"}
	f := newFixture(t, "ledgertest")
	l, _ := f.open(t, 0)
	in.Committee = l.View().SigningCommittee()
	in.Stakes = []uint64{1, 2, 3, 4}
	info, err := query.EncodeInfo(in)
	if err != nil {
		t.Fatal(err)
	}
	back, err := query.DecodeInfo(info)
	if err != nil || len(back.Committee.Members) != 4 || back.NetworkName != "n" || len(back.Stakes) != 4 || back.Stakes[3] != 4 {
		t.Fatalf("info round trip: %v", err)
	}
	samples := [][]byte{
		info,
		query.EncodeBlobAnswer(&query.BlobAnswer{Height: 3, Objects: make([]staking.Blob, 2)}),
		query.EncodeAccountAnswer(&query.AccountAnswer{Height: 1}),
		query.EncodeWaitAnswer(&query.WaitAnswer{Height: 1}),
		(&tx.Reply{Accepted: true, Message: "m", Height: 1 << 40}).Encode(),
		ledgersync.EncodeBatch([][]byte{{1, 2}, {3}}),
		(&query.Query{Kind: query.QueryWaitTx, Wait: time.Hour, After: 1<<40 + 3}).Encode(),
	}
	decoders := []func([]byte) error{
		func(b []byte) error { _, err := query.DecodeInfo(b); return err },
		func(b []byte) error { _, err := query.DecodeBlobAnswer(b); return err },
		func(b []byte) error { _, err := query.DecodeAccountAnswer(b); return err },
		func(b []byte) error { _, err := query.DecodeWaitAnswer(b); return err },
		func(b []byte) error { _, err := tx.DecodeReply(b); return err },
		func(b []byte) error { _, err := ledgersync.DecodeBatch(b); return err },
		func(b []byte) error { _, err := query.Decode(b); return err },
	}
	for i, dec := range decoders {
		if err := dec(samples[i]); err != nil {
			t.Errorf("decoder %d: round trip: %v", i, err)
		}
		for cut := 0; cut < len(samples[i]); cut++ {
			if err := dec(samples[i][:cut]); err == nil {
				t.Errorf("decoder %d accepted a truncation to %d bytes", i, cut)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 512)
	for k := 0; k < 2000; k++ {
		b := buf[:rng.IntN(len(buf))]
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		for _, dec := range decoders {
			_ = dec(b) // must not panic or allocate by a claimed length
		}
	}
	if q, err := query.Decode(samples[6]); err != nil || q.Wait != query.MaxWait || q.After != 1<<40+3 {
		t.Fatalf("wait not capped or After lost: %+v, %v", q, err)
	}
	if r, err := tx.DecodeReply(samples[4]); err != nil || r.Height != 1<<40 || !r.Accepted || r.Message != "m" {
		t.Fatalf("tx reply round trip: %+v, %v", r, err)
	}
}
