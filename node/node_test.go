package node_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/ledgersync"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// TestNetwork runs one 4-node network on loopback through the control plane's life:
// first commits, a transaction visible everywhere, queries, malformed input, forged gossip,
// a partition of one node and its catch-up, and a restart that keeps the ledger.
func TestNetwork(t *testing.T) {
	actorstest.CheckLeaks(t)
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

	t.Run("queries", func(t *testing.T) {
		h, err := query.DecodeHeight(askQuery(t, cl, tn, 1, &query.Query{Kind: query.QueryHeight}))
		if err != nil || h < 2 {
			t.Fatalf("height %d, %v", h, err)
		}
		in, err := query.DecodeInfo(askQuery(t, cl, tn, 1, &query.Query{Kind: query.QueryInfo}))
		if err != nil {
			t.Fatal(err)
		}
		if in.Network != tn.genesis.NetworkID() || in.NetworkName != "nodetest" || in.NShards != testShards || len(in.Committee.Members) != 4 || in.Height < h {
			t.Fatalf("info %+v", in)
		}
		if len(in.Stakes) != 4 {
			t.Fatalf("info: %d stakes for 4 members", len(in.Stakes))
		}
		for i, m := range in.Committee.Members {
			var want uint64
			for _, gn := range tn.genesis.Nodes {
				if epoch.NodeIDOf(gn.BLSKey) == m.Node {
					want = gn.Stake
				}
			}
			if want == 0 || in.Stakes[i] != want {
				t.Fatalf("info: member %d stake %d, genesis stake %d", i, in.Stakes[i], want)
			}
		}
		acc, err := query.DecodeAccountAnswer(askQuery(t, cl, tn, 1, &query.Query{Kind: query.QueryAccount, Address: tn.genesis.Faucet.Address}))
		if err != nil || acc.Account.Nonce != nonce || acc.Height < h {
			t.Fatalf("faucet account %+v, %v", acc, err)
		}
		var id [32]byte
		id[3] = 1
		ba, err := query.DecodeBlobAnswer(askQuery(t, cl, tn, 1, &query.Query{Kind: query.QueryBlobStatus, BlobID: id}))
		if err != nil || ba.Status.Kind != staking.StatusNonexistent || len(ba.Objects) != 0 {
			t.Fatalf("blob status %+v, %v", ba, err)
		}
	})

	t.Run("rejected tx gets the reason", func(t *testing.T) {
		raw := tn.transfer(nonce+5, dest, 1) // nonce gap: the dry run refuses it
		rep := submit(t, cl, tn, 2, raw)
		if rep.Accepted || rep.Code != staking.CodeBadNonce {
			t.Fatalf("reply %+v", rep)
		}
	})

	t.Run("malformed and oversized streams", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pid := tn.nodes[1].PeerID()
		sync := ledgersync.Spec
		for _, c := range []struct {
			proto p2p.Protocol
			req   []byte
		}{
			{tx.Spec, []byte("not a transaction")},
			{query.Spec, []byte{0xee}},
			{query.Spec, []byte{byte(query.QueryAccount), 1, 2}},
			{sync, []byte{1, 2, 3}},
		} {
			_, err := p2p.Call(ctx, cl, pid, c.proto, c.req)
			if p2p.CodeOf(err) != p2p.CodeBadRequest {
				t.Errorf("%s %x: got %v, want bad request", c.proto.ID, c.req, err)
			}
		}
		// A frame announcing more than the cap: the node resets the stream unread.
		s, err := cl.NewStream(ctx, pid, query.ID)
		if err != nil {
			t.Fatal(err)
		}
		hdr := binary.AppendUvarint(nil, uint64(query.Spec.MaxRequest+1))
		_, _ = s.Write(append(hdr, make([]byte, 4096)...))
		_ = s.CloseWrite()
		if _, err := p2p.ReadFrame(s, 1<<20); err == nil {
			t.Fatal("oversized request got an answer")
		}
		s.Reset()
		// The node is still up and answering.
		if _, err := query.DecodeHeight(askQuery(t, cl, tn, 1, &query.Query{Kind: query.QueryHeight})); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("health and metrics", func(t *testing.T) {
		addr := tn.nodes[0].APIAddr()
		if addr == nil {
			t.Fatal("no API address")
		}
		resp, err := http.Get("http://" + addr.String() + "/v1/health")
		if err != nil {
			t.Fatal(err)
		}
		var h node.Health
		err = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if err != nil || h.Status != "ok" || h.Height == 0 || h.PeerID != tn.nodes[0].PeerID().String() {
			t.Fatalf("health %+v, %v", h, err)
		}
		resp, err = http.Get("http://" + addr.String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"walrus_ledger_height ", "walrus_ledger_checkpoints_total ", `walrus_ledger_txs_total{result="ok"} 1`,
			"walrus_blobsync_slivers_to_recover 0"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})

	t.Run("forged gossip is not applied", func(t *testing.T) {
		g, err := p2p.NewGossip(cl, "nodetest")
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		ckpts, err := g.Join(p2p.TopicCheckpoints, nil)
		if err != nil {
			t.Fatal(err)
		}
		cons, err := g.Join(p2p.TopicConsensus, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := ckpts.AwaitPeers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := cons.AwaitPeers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		forgedCP, forgedVote := forgeries(t, tn)
		if err := ckpts.Publish(ctx, forgedCP); err != nil {
			t.Fatal(err)
		}
		if err := cons.Publish(ctx, forgedVote); err != nil {
			t.Fatal(err)
		}
		// The network goes on with the real next checkpoint, identical everywhere.
		raw := tn.transfer(nonce, dest, 1)
		nonce++
		rep := submit(t, cl, tn, 1, raw)
		w := waitTx(t, cl, tn, 1, rep.Hash)
		tn.waitHeight(t, w.Receipt.Height, 0, 1, 2, 3)
		assertSameRoot(t, tn, 0, 1, 2, 3)
	})

	t.Run("partitioned node catches up", func(t *testing.T) {
		cut := tn.nodes[3].PeerID()
		var others []peer.ID
		for i := 0; i < 3; i++ {
			others = append(others, tn.nodes[i].PeerID())
			tn.gaters[i].Block([]peer.ID{cut})
		}
		tn.gaters[3].Block(others)
		before := tn.nodes[3].Height()
		var target uint64
		for k := 0; k < 2; k++ {
			rep := submit(t, cl, tn, 0, tn.transfer(nonce, dest, 1))
			nonce++
			w := waitTx(t, cl, tn, 0, rep.Hash)
			if !w.Receipt.OK() {
				t.Fatalf("receipt %v", w.Receipt)
			}
			target = w.Receipt.Height
		}
		if h := tn.nodes[3].Height(); h != before {
			t.Fatalf("partitioned node moved from %d to %d", before, h)
		}
		for i := range tn.gaters {
			tn.gaters[i].Unblock()
		}
		tn.waitHeight(t, target, 3)
		assertSameRoot(t, tn, 0, 3)
	})

	t.Run("follower outside the committee", func(t *testing.T) {
		dir := t.TempDir()
		k := epochtest.Key(77, 0) // not a genesis key
		if err := os.WriteFile(filepath.Join(dir, "bls.key"), k.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := &node.Config{DataDir: filepath.Join(dir, "data"), GenesisFile: tn.gfile, BLSKeyFile: filepath.Join(dir, "bls.key"),
			DisableQUIC: true, Consensus: tn.cfgs[0].Consensus, Ledger: tn.cfgs[0].Ledger}
		for _, a := range tn.nodes[0].Addrs() {
			cfg.Bootstrap = append(cfg.Bootstrap, a.String())
		}
		f, err := node.New(context.Background(), cfg, node.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.WaitHeight(ctx, tn.nodes[0].Height()); err != nil {
			t.Fatal(err)
		}
		if f.Ledger().View().State().Root() != tn.nodes[0].Ledger().View().State().Root() {
			t.Fatal("follower derived another state")
		}
	})

	t.Run("restart keeps the ledger and catches up", func(t *testing.T) {
		old := tn.nodes[2]
		h, root := old.Height(), old.Ledger().View().State().Root()
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		tn.nodes[2] = nil
		rep := submit(t, cl, tn, 0, tn.transfer(nonce, dest, 1))
		nonce++
		w := waitTx(t, cl, tn, 0, rep.Hash)
		cfg := *tn.cfgs[2]
		n, err := node.New(context.Background(), &cfg, node.WithConnectionGater(tn.gaters[2]), node.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		tn.nodes[2] = n
		if n.Height() != h || n.Ledger().View().State().Root() != root {
			t.Fatalf("restarted at height %d (was %d), root changed: %v", n.Height(), h, n.Ledger().View().State().Root() != root)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		tn.connectAll(t)
		tn.waitHeight(t, w.Receipt.Height, 2)
		assertSameRoot(t, tn, 0, 2)
	})
}

func assertSameRoot(t *testing.T, tn *testNet, idx ...int) {
	t.Helper()
	h := tn.nodes[idx[0]].Height()
	for _, i := range idx {
		if got := tn.nodes[i].Height(); got != h {
			// Heights may move on meanwhile only if a checkpoint is needed; none is here.
			t.Fatalf("node %d at height %d, node %d at %d", i, got, idx[0], h)
		}
	}
	want := tn.nodes[idx[0]].Ledger().View().State().Root()
	for _, i := range idx[1:] {
		if got := tn.nodes[i].Ledger().View().State().Root(); got != want {
			t.Fatalf("node %d root %x, node %d root %x", i, got[:8], idx[0], want[:8])
		}
	}
}

// forgeries returns a checkpoint decision for the next height with a certificate signed by
// keys outside the committee, and a prevote claiming member 0 with a wrong key.
func forgeries(t *testing.T, tn *testNet) (cp, vote []byte) {
	t.Helper()
	v := tn.nodes[0].Ledger().View()
	st := v.State()
	c, _, err := st.BuildCheckpoint(st.Time()+1, nil)
	if err != nil {
		t.Fatal(err)
	}
	val := c.Encode()
	com := v.SigningCommittee()
	msg := tendermint.VoteSignBytes(v.Network(), com.Epoch, tendermint.Precommit, c.Height, 0, tendermint.HashValue(val))
	var sigs []bls.Signature
	signers := make([]byte, (len(com.Members)+7)/8)
	for i := range com.Members {
		sigs = append(sigs, epochtest.Key(666, i).Sign(msg)) // not the members' keys
		signers[i/8] |= 1 << (i % 8)
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		t.Fatal(err)
	}
	d := &tendermint.Decision{Height: c.Height, Value: val, Commit: tendermint.CommitCert{Round: 0, Cert: epoch.Certificate{Epoch: com.Epoch, Signers: signers, Signature: agg}}}
	if cp, err = tendermint.Encode(d); err != nil {
		t.Fatal(err)
	}
	pv := &tendermint.Vote{Type: tendermint.Prevote, Height: c.Height, Round: 0, Value: tendermint.HashValue(val), Validator: 0}
	pv.Signature = epochtest.Key(666, 0).Sign(tendermint.VoteSignBytes(v.Network(), com.Epoch, tendermint.Prevote, c.Height, 0, pv.Value))
	if vote, err = tendermint.Encode(pv); err != nil {
		t.Fatal(err)
	}
	return cp, consensus.EncodeWire(1, vote)
}

func submit(t testing.TB, cl interface{}, tn *testNet, i int, raw []byte) *tx.Reply {
	t.Helper()
	h := cl.(hostT)
	h.Peerstore().AddAddrs(tn.nodes[i].PeerID(), tn.nodes[i].Host().Addrs(), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := p2p.Call(ctx, h, tn.nodes[i].PeerID(), tx.Spec, raw)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	rep, err := tx.DecodeReply(b)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func askQuery(t testing.TB, cl hostT, tn *testNet, i int, q *query.Query) []byte {
	t.Helper()
	cl.Peerstore().AddAddrs(tn.nodes[i].PeerID(), tn.nodes[i].Host().Addrs(), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := p2p.Call(ctx, cl, tn.nodes[i].PeerID(), query.Spec, q.Encode())
	if err != nil {
		t.Fatalf("query %d: %v", q.Kind, err)
	}
	return b
}

func waitTx(t testing.TB, cl interface{}, tn *testNet, i int, hash [32]byte) *query.WaitAnswer {
	t.Helper()
	b := askQuery(t, cl.(hostT), tn, i, &query.Query{Kind: query.QueryWaitTx, TxHash: hash, Wait: 30 * time.Second})
	w, err := query.DecodeWaitAnswer(b)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestCommitAfterFullPartition starts four nodes that cannot reach each other: nothing can
// commit, and every message of the first round is lost. Once healed, re-broadcasts must get
// through (GossipSub drops repeated payloads, which the consensus topic's sequence numbers
// defeat) and the first checkpoint commits.
func TestCommitAfterFullPartition(t *testing.T) {
	tn := newTestNet(t, 4)
	for _, g := range tn.gaters {
		g.Block(tn.pids)
	}
	for i := range tn.nodes {
		tn.start(t, i)
	}
	// Longer than the propose and prevote timeouts: every node has voted into the void.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := tn.nodes[0].WaitHeight(ctx, 1); err == nil {
		t.Fatal("committed without a quorum of connected nodes")
	}
	for _, g := range tn.gaters {
		g.Unblock()
	}
	tn.connectAll(t)
	tn.waitHeight(t, 1, 0, 1, 2, 3)
	assertSameRoot(t, tn, 0, 1, 2, 3)
}
