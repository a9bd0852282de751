package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// TestQueryCommitteeAndStakes asks a ledger over /walrus/query/1 for the registry and an
// account's stakes: more registered nodes and stakes than one page holds, pools and shard
// lists that agree with the state's own rules before and after the mid-epoch selection, and
// bad requests refused.
func TestQueryCommitteeAndStakes(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, _ := f.open(t, 0)
	srv, cli := newHost(t, 1), newHost(t, 2)
	if _, err := ledger.NewNet(l, ledger.NetConfig{Host: srv}); err != nil {
		t.Fatal(err)
	}
	if err := cli.Connect(ctx(t), peer.AddrInfo{ID: srv.ID(), Addrs: srv.Addrs()}); err != nil {
		t.Fatal(err)
	}
	ask := func(q *query.Query) []byte {
		t.Helper()
		b, err := p2p.Call(ctx(t), cli, srv.ID(), query.Spec, q.Encode())
		if err != nil {
			t.Fatalf("query %v: %v", q.Kind, err)
		}
		return b
	}
	net := f.genesis.NetworkID()
	faucet := staking.AddressOf(f.faucet.Public().(ed25519.PublicKey))
	var nonce uint64
	sign := func(op staking.Op) []byte {
		b := staking.Sign(net, f.faucet, staking.Tx{Nonce: nonce, Op: op}).Encode()
		nonce++
		return b
	}
	commit := func(at int64, txs [][]byte) {
		t.Helper()
		v := l.View()
		cp, res, err := v.State().BuildCheckpoint(at, txs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.Receipts {
			if !r.OK() {
				t.Fatalf("tx %d: %v", i, r)
			}
		}
		if _, err := l.Submit(ctx(t), f.certify(t, v, cp.Encode(), cp.Height, nil, false)); err != nil {
			t.Fatal(err)
		}
	}

	// One page and a bit of candidates, registered by the faucet; stakes on the first
	// genesis node, one page and a bit, plus one on a new candidate.
	extra := query.MaxCandidatesPerPage + 1 - len(f.genesis.Nodes)
	var txs [][]byte
	var newNode epoch.NodeID
	for i := 0; i < extra; i++ {
		k := epochtest.Key(77, i)
		txs = append(txs, sign(&staking.RegisterNode{BLSKey: k.PublicKey(), PoP: staking.ProvePossession(net, faucet, k),
			Info: staking.NodeInfo{PeerID: "peer", Addrs: []string{"/ip4/127.0.0.1/tcp/1"}, Commission: 300, StoragePrice: 5, WritePrice: 6, Capacity: 7}}))
		if i == 0 {
			newNode = epoch.NodeIDOf(k.PublicKey())
		}
	}
	g0 := f.genesis.Nodes[0]
	gid := epoch.NodeIDOf(g0.BLSKey)
	var stakes []staking.ObjectID
	for i := 0; i < query.MaxStakesPerPage+1; i++ {
		stakes = append(stakes, staking.DeriveObjectID(faucet, nonce, 0))
		txs = append(txs, sign(&staking.StakeOp{Node: gid, Amount: 1}))
	}
	big := uint64(1) << 42 // four times a genesis node's stake: most of the next committee
	stakes = append(stakes, staking.DeriveObjectID(faucet, nonce, 0))
	txs = append(txs, sign(&staking.StakeOp{Node: newNode, Amount: big}))
	commit(l.View().State().Time()+1000, txs)

	// The registry: two pages, ascending, every node once.
	first, err := query.DecodeCommitteeAnswer(ask(&query.Query{Kind: query.QueryCommittee}))
	if err != nil {
		t.Fatal(err)
	}
	if !first.More || len(first.Candidates) != query.MaxCandidatesPerPage || first.NextSelected || first.NShards != 12 {
		t.Fatalf("first page: more %v, %d candidates, next %v", first.More, len(first.Candidates), first.NextSelected)
	}
	second, err := query.DecodeCommitteeAnswer(ask(&query.Query{Kind: query.QueryCommittee, Cursor: first.Candidates[len(first.Candidates)-1].Node}))
	if err != nil {
		t.Fatal(err)
	}
	if second.More || len(second.Candidates) != 1 {
		t.Fatalf("second page: more %v, %d candidates", second.More, len(second.Candidates))
	}
	all := append(first.Candidates, second.Candidates...)
	st := l.View().State()
	if ids := st.Nodes(); len(ids) != len(all) {
		t.Fatalf("%d candidates listed, %d registered", len(all), len(ids))
	}
	byID := map[epoch.NodeID]query.Candidate{}
	for i, c := range all {
		if c.Node != st.Nodes()[i] {
			t.Fatalf("candidate %d out of order", i)
		}
		byID[c.Node] = c
	}
	g := byID[gid]
	if g.Pool.Active != g0.Stake || g.Pool.Next != g0.Stake+query.MaxStakesPerPage+1 || g.Pool.Pending != query.MaxStakesPerPage+1 ||
		g.Pool.Stakes != query.MaxStakesPerPage+2 || len(g.Shards) != 3 || g.NextShards != nil || g.Commission != g0.Info.Commission {
		t.Fatalf("genesis node 0: %+v", g)
	}
	nc := byID[newNode]
	if nc.Operator != faucet || nc.PeerID != "peer" || len(nc.Addrs) != 1 || nc.Commission != 300 || nc.StoragePrice != 5 ||
		nc.WritePrice != 6 || nc.Capacity != 7 || nc.Pool.Next != big || nc.Pool.Active != 0 || nc.Shards != nil {
		t.Fatalf("new candidate: %+v", nc)
	}

	// Past mid-epoch the next committee is selected: the staked candidate gets shards.
	cfg := st.Config()
	commit(cfg.MidEpoch(0), nil)
	sel, err := query.DecodeCommitteeAnswer(ask(&query.Query{Kind: query.QueryCommittee, Cursor: gid}))
	if err != nil {
		t.Fatal(err)
	}
	if !sel.NextSelected || sel.NextPrices.Storage == 0 {
		t.Fatalf("after mid-epoch: next selected %v, prices %+v", sel.NextSelected, sel.NextPrices)
	}
	next := l.View().State().NextCommittee()
	for _, c := range sel.Candidates {
		if bytes.Compare(c.Node[:], gid[:]) <= 0 {
			t.Fatal("cursor not respected")
		}
		var want []uint16
		if i := next.MemberIndex(c.Node); i >= 0 {
			want = next.Members[i].Shards
		}
		if len(want) != len(c.NextShards) {
			t.Fatalf("node %x: next shards %v, committee says %v", c.Node[:4], c.NextShards, want)
		}
		if c.Node == newNode && len(c.NextShards) == 0 {
			t.Fatal("the staked candidate was not selected")
		}
	}

	// Stakes: two pages of the faucet's, none for a stranger.
	sp, err := query.DecodeStakesAnswer(ask(&query.Query{Kind: query.QueryStakes, Address: faucet}))
	if err != nil {
		t.Fatal(err)
	}
	if !sp.More || len(sp.Stakes) != query.MaxStakesPerPage || sp.FirstUnselected != 2 {
		t.Fatalf("stakes page: more %v, %d, first unselected %d", sp.More, len(sp.Stakes), sp.FirstUnselected)
	}
	sp2, err := query.DecodeStakesAnswer(ask(&query.Query{Kind: query.QueryStakes, Address: faucet, Cursor: sp.Stakes[len(sp.Stakes)-1].ID}))
	if err != nil {
		t.Fatal(err)
	}
	got := append(sp.Stakes, sp2.Stakes...)
	if sp2.More || len(got) != len(stakes) {
		t.Fatalf("%d stakes listed, %d made", len(got), len(stakes))
	}
	made := map[staking.ObjectID]bool{}
	for _, id := range stakes {
		made[id] = true
	}
	for _, s := range got {
		want, ok := st.Stake(s.ID)
		if !made[s.ID] || !ok || s.Stake(faucet) != want {
			t.Fatalf("stake %x: %+v, state %+v", s.ID[:4], s, want)
		}
	}
	var stranger staking.Address
	stranger[0] = 0x55
	if none, err := query.DecodeStakesAnswer(ask(&query.Query{Kind: query.QueryStakes, Address: stranger})); err != nil || len(none.Stakes) != 0 || none.More {
		t.Fatalf("stranger's stakes: %+v, %v", none, err)
	}

	// Malformed requests are refused.
	for _, req := range [][]byte{{byte(query.QueryCommittee)}, append([]byte{byte(query.QueryStakes)}, make([]byte, 40)...)} {
		if _, err := p2p.Call(ctx(t), cli, srv.ID(), query.Spec, req); err == nil {
			t.Errorf("request %x answered", req)
		}
	}
}

// TestStakingAnswersRejectBadInput round-trips the staking answers and checks that every
// truncation and the structural lies a node could tell (order, shard bounds, counts) are
// refused without panicking.
func TestStakingAnswersRejectBadInput(t *testing.T) {
	ca := &query.CommitteeAnswer{Height: 9, Epoch: 2, NShards: 10, NextSelected: true, More: true,
		NextPrices: staking.Prices{Storage: 1, Write: 2, Capacity: 3},
		Candidates: []query.Candidate{
			{Node: epoch.NodeID{1}, PeerID: "p", Addrs: []string{"/a", "/b"}, Commission: 5, Pool: staking.Pool{Active: 1, Next: 2, Pending: 3, Withdrawing: 4, Stakes: 5},
				Shards: []uint16{0, 3}, NextShards: []uint16{9}},
			{Node: epoch.NodeID{2}},
		}}
	b := query.EncodeCommitteeAnswer(ca)
	back, err := query.DecodeCommitteeAnswer(b)
	if err != nil || !bytes.Equal(query.EncodeCommitteeAnswer(back), b) || back.Candidates[0].Pool != ca.Candidates[0].Pool {
		t.Fatalf("committee round trip: %v", err)
	}
	sa := &query.StakesAnswer{Height: 1, Epoch: 2, FirstUnselected: 3, Stakes: []query.StakeInfo{{ID: staking.ObjectID{1}, Amount: 5, Withdrawing: true, WithdrawAt: 4}, {ID: staking.ObjectID{2}}}}
	sb := query.EncodeStakesAnswer(sa)
	if back, err := query.DecodeStakesAnswer(sb); err != nil || !bytes.Equal(query.EncodeStakesAnswer(back), sb) {
		t.Fatalf("stakes round trip: %v", err)
	}
	for cut := 0; cut < len(b); cut++ {
		if _, err := query.DecodeCommitteeAnswer(b[:cut]); err == nil {
			t.Fatalf("committee answer cut to %d accepted", cut)
		}
	}
	for cut := 0; cut < len(sb); cut++ {
		if _, err := query.DecodeStakesAnswer(sb[:cut]); err == nil {
			t.Fatalf("stakes answer cut to %d accepted", cut)
		}
	}
	lies := map[string]func(a *query.CommitteeAnswer){
		"out of order":       func(a *query.CommitteeAnswer) { a.Candidates[1].Node = epoch.NodeID{1} },
		"shard too high":     func(a *query.CommitteeAnswer) { a.Candidates[0].Shards = []uint16{10} },
		"shards unsorted":    func(a *query.CommitteeAnswer) { a.Candidates[0].NextShards = []uint16{3, 1} },
		"more shards than n": func(a *query.CommitteeAnswer) { a.NShards = 1; a.Candidates[0].NextShards = nil },
	}
	for name, lie := range lies {
		c := *ca
		c.Candidates = append([]query.Candidate(nil), ca.Candidates...)
		lie(&c)
		if _, err := query.DecodeCommitteeAnswer(query.EncodeCommitteeAnswer(&c)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s2 := *sa
	s2.Stakes = []query.StakeInfo{{ID: staking.ObjectID{2}}, {ID: staking.ObjectID{1}}}
	if _, err := query.DecodeStakesAnswer(query.EncodeStakesAnswer(&s2)); err == nil {
		t.Error("unordered stakes accepted")
	}
	// Random bytes never panic.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		junk := make([]byte, r.IntN(200))
		for i := range junk {
			junk[i] = byte(r.Uint32())
		}
		_, _ = query.DecodeCommitteeAnswer(junk)
		_, _ = query.DecodeStakesAnswer(junk)
	}
}
