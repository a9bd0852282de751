package client_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// frontOf starts a node host in front of the real node at: queries are answered by lie(query,
// the real node's answer), transactions are passed through.
func frontOf(t *testing.T, at peer.AddrInfo, lie func(q *query.Query, honest []byte) []byte) host.Host {
	t.Helper()
	h := newLCHost(t)
	h.Peerstore().AddAddrs(at.ID, at.Addrs, peerstore.PermanentAddrTTL)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := p2p.Handle(h, query.Spec, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		q, err := query.Decode(req)
		if err != nil {
			return nil, err
		}
		b, err := p2p.Call(ctx, h, at.ID, query.Spec, req)
		if err != nil {
			return nil, err
		}
		return lie(q, b), nil
	}, logger); err != nil {
		t.Fatal(err)
	}
	if err := p2p.Handle(h, tx.Spec, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		return p2p.Call(ctx, h, at.ID, tx.Spec, req)
	}, logger); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestStoreThroughLyingCertifiedNode: the attack on `walrus store` — a node that
// says of every blob that it is certified (a genuine proof of another, certified blob), or
// that claims a huge height on every answer, sits beside the honest nodes. The verifying
// client registers and uploads anyway (never alreadyCertified), the blob is certified on
// the real ledger and reads back, and the liar is named.
func TestStoreThroughLyingCertifiedNode(t *testing.T) {
	c, s, ctx := openCluster(t)
	// A certified blob whose genuine proven status the liar hands out for every blob.
	first, err := s.Store(ctx, randomBlob(2000, 70), client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitCertified(first.BlobID)
	var boot []peer.AddrInfo
	for _, a := range s.Config.Bootstrap {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			t.Fatal(err)
		}
		boot = append(boot, *ai)
	}
	pass := frontOf(t, boot[0], func(_ *query.Query, h []byte) []byte { return h })
	certified, err := p2p.Call(ctx, newConnected(t, pass), pass.ID(), query.Spec,
		(&query.Query{Kind: query.QueryProvenBlobStatus, BlobID: first.BlobID}).Encode())
	if err != nil {
		t.Fatal(err)
	}
	huge := func(b []byte) []byte {
		out := append([]byte(nil), b...)
		if len(out) >= 8 {
			binary.LittleEndian.PutUint64(out, math.MaxUint64)
		}
		return out
	}
	lies := []struct {
		name string
		lie  func(q *query.Query, h []byte) []byte
	}{
		{"certified status", func(q *query.Query, h []byte) []byte {
			if q.Kind == query.QueryProvenBlobStatus {
				return huge(certified) // another blob's genuine certified status, claimed newest
			}
			return h
		}},
		{"huge height", func(_ *query.Query, h []byte) []byte { return huge(h) }},
	}
	for i, l := range lies {
		t.Run(l.name, func(t *testing.T) {
			lh := frontOf(t, boot[0], l.lie)
			rj := &rejections{m: map[peer.ID]error{}}
			nodes := append([]peer.AddrInfo{{ID: lh.ID(), Addrs: lh.Addrs()}}, boot...)
			led, err := client.NewLedger(client.LedgerConfig{Host: s.Host, Network: s.Genesis.NetworkID(), Bootstrap: nodes,
				Genesis: s.Genesis, Key: c.Wallet(), NoWalletLock: true, OnReject: rj.add, ReceiptTimeout: time.Minute,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			data := randomBlob(3000, uint64(80+i))
			res, err := s.Client.StoreStream(ctx, data, led, client.StoreOptions{Epochs: 3})
			if err != nil {
				t.Fatal(err)
			}
			if res.AlreadyCertified {
				t.Fatal("the liar's word made the store skip its upload")
			}
			c.WaitCertified(res.BlobID)
			st, err := led.BlobStatus(ctx, res.BlobID)
			if err != nil || st.Status.Kind != staking.StatusCertified || !st.Proven {
				t.Fatalf("status after the store: %+v, %v", st, err)
			}
			got, err := s.Read(ctx, res.BlobID)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back: %v (%d bytes)", err, len(got))
			}
			if rj.of(lh.ID()) == nil {
				t.Fatalf("the liar %s was not named", lh.ID())
			}
		})
	}
}
