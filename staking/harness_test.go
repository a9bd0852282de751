package staking_test

import (
	"crypto/ed25519"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/staking"
)

// tnet is a test network: a state driven through real checkpoints, named accounts
// (deterministic Ed25519 keys), named nodes (deterministic BLS keys) and named objects.
type tnet struct {
	t       testing.TB
	s       *staking.State
	supply  uint64
	accts   map[string]ed25519.PrivateKey
	nodes   map[string]*bls.SecretKey
	nodeIDs map[epoch.NodeID]string
	objs    map[string]staking.ObjectID
	objName map[staking.ObjectID]string
	blobs   map[string]codec.BlobID
	seed    uint64
	nextKey int
}

func acctKey(name string) ed25519.PrivateKey {
	seed := blake2b.Sum256([]byte("staking-test-account:" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func newTnet(t testing.TB, seed uint64) *tnet {
	return &tnet{t: t, accts: map[string]ed25519.PrivateKey{}, nodes: map[string]*bls.SecretKey{},
		nodeIDs: map[epoch.NodeID]string{}, objs: map[string]staking.ObjectID{},
		objName: map[staking.ObjectID]string{}, blobs: map[string]codec.BlobID{}, seed: seed}
}

func (n *tnet) acct(name string) ed25519.PrivateKey {
	k, ok := n.accts[name]
	if !ok {
		k = acctKey(name)
		n.accts[name] = k
	}
	return k
}

func (n *tnet) addr(name string) staking.Address {
	return staking.AddressOf(n.acct(name).Public().(ed25519.PublicKey))
}

func (n *tnet) nodeKey(name string) *bls.SecretKey {
	k, ok := n.nodes[name]
	if !ok {
		k = epochtest.Key(n.seed, n.nextKey)
		n.nextKey++
		n.nodes[name] = k
		n.nodeIDs[epoch.NodeIDOf(k.PublicKey())] = name
	}
	return k
}

func (n *tnet) nodeID(name string) epoch.NodeID { return epoch.NodeIDOf(n.nodeKey(name).PublicKey()) }

func (n *tnet) nodeName(id epoch.NodeID) string {
	if s, ok := n.nodeIDs[id]; ok {
		return s
	}
	return fmt.Sprintf("%x", id[:4])
}

func (n *tnet) name(id staking.ObjectID, as string) {
	if as != "" {
		n.objs[as] = id
		n.objName[id] = as
	}
}

func (n *tnet) obj(name string) staking.ObjectID {
	id, ok := n.objs[name]
	if !ok {
		// Unknown names map to an object nobody created, to test unknown-object paths.
		return staking.ObjectID(blake2b.Sum256([]byte("unknown:" + name)))
	}
	return id
}

// genesis builds the network. nodes maps name -> stake (FROST) for genesis nodes operated
// by account "op-<name>".
func (n *tnet) genesis(shards int, duration int64, nodes []string, stakes []uint64, accounts map[string]uint64, faucet uint64, prices staking.Prices) {
	g := &staking.Genesis{Network: "testnet", NShards: shards, EpochDuration: duration, GenesisTime: 1_000_000, Prices: prices,
		Faucet: staking.GenesisAccount{Address: n.addr("faucet"), Balance: faucet}}
	names := make([]string, 0, len(accounts))
	for a := range accounts {
		names = append(names, a)
	}
	sort.Strings(names)
	n.supply = faucet
	for _, a := range names {
		g.Accounts = append(g.Accounts, staking.GenesisAccount{Address: n.addr(a), Balance: accounts[a]})
		n.supply += accounts[a]
	}
	for i, nm := range nodes {
		k := n.nodeKey(nm)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: n.addr("op-" + nm), BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: "peer-" + nm, Addrs: []string{"/ip4/127.0.0.1/tcp/" + strconv.Itoa(4000+i)},
				Commission: 1000, StoragePrice: prices.Storage, WritePrice: prices.Write, Capacity: prices.Capacity, Fees: prices.Fees}, Stake: stakes[i]})
		n.supply += stakes[i]
		n.name(staking.DeriveObjectID(staking.Address{}, uint64(i), 0), "gs-"+nm)
	}
	s, err := staking.NewState(g)
	if err != nil {
		n.t.Fatalf("genesis: %v", err)
	}
	n.s = s
}

// submit signs op from who with the right nonce and applies it in its own checkpoint one
// millisecond after the last. It checks that a transaction not admitted leaves the root
// unchanged, that an admitted one whose operation was refused only paid its fee and
// consumed its nonce, and that FROST is conserved. It returns the receipt and the nonce.
func (n *tnet) submit(who string, op staking.Op) (staking.Receipt, uint64) {
	return n.submitTx(who, staking.Tx{Op: op})
}

// submitTx is submit with the expiry and fee of tx (its nonce is filled in).
func (n *tnet) submitTx(who string, tx staking.Tx) (staking.Receipt, uint64) {
	n.t.Helper()
	key := n.acct(who)
	addr := n.addr(who)
	nonce := n.s.Account(addr).Nonce
	tx.Nonce = nonce
	stx := staking.Sign(n.s.Network(), key, tx)
	before := n.s.Root()
	// Apply to a clone first to check the rejection rules in isolation from the time step.
	probe := n.s.Clone()
	acc := probe.Account(addr)
	r := probe.Apply(stx.Encode())
	switch after := probe.Account(addr); {
	case !r.Code.Admitted():
		if probe.Root() != before {
			n.t.Fatalf("%s not admitted (%v) changed the state root", tx.Op.Kind(), r)
		}
	case !r.OK():
		if after.Nonce != acc.Nonce+1 || after.Balance != acc.Balance-r.Fee {
			n.t.Fatalf("refused %s (%v): account %+v -> %+v, fee %d", tx.Op.Kind(), r, acc, after, r.Fee)
		}
	}
	res := n.checkpoint(n.s.Time()+1, [][]byte{stx.Encode()})
	return res.Receipts[0], nonce
}

func (n *tnet) checkpoint(now int64, txs [][]byte) *staking.Result {
	n.t.Helper()
	cp, _, err := n.s.BuildCheckpoint(now, txs)
	if err != nil {
		n.t.Fatalf("build checkpoint: %v", err)
	}
	// Round-trip the checkpoint through its encoding as a follower would receive it.
	cp2, err := staking.DecodeCheckpoint(cp.Encode())
	if err != nil {
		n.t.Fatalf("decode checkpoint: %v", err)
	}
	// The state before shares its tree with the state after: applying must not change it.
	prev := n.s.Clone()
	prevRoot, prevSnap := prev.Root(), string(prev.Snapshot())
	res, err := n.s.ApplyCheckpoint(cp2)
	if err != nil {
		n.t.Fatalf("apply checkpoint: %v", err)
	}
	if prev.Root() != prevRoot || string(prev.Snapshot()) != prevSnap {
		n.t.Fatalf("applying height %d changed a clone of the state before it", cp2.Height)
	}
	n.checkSupply()
	// Snapshot, restore and clone must reproduce the root at every step of every script.
	root := n.s.Root()
	r, err := staking.Restore(n.s.Snapshot())
	if err != nil || r.Root() != root || n.s.Clone().Root() != root {
		n.t.Fatalf("snapshot/restore/clone disagree on the root at height %d: %v", n.s.Height(), err)
	}
	return res
}

func (n *tnet) checkSupply() {
	n.t.Helper()
	if got := n.s.TotalSupply() + n.s.Burned(); got != n.supply {
		n.t.Fatalf("FROST not conserved: supply+burned %d, genesis %d", got, n.supply)
	}
}

// cert builds a real aggregate certificate on msg for the current committee from the named
// signers ("all" = every member).
func (n *tnet) cert(c *epoch.Committee, ep uint32, msg []byte, signers []string) epoch.Certificate {
	n.t.Helper()
	cert := epoch.Certificate{Epoch: ep, Signers: make([]byte, (len(c.Members)+7)/8)}
	want := map[epoch.NodeID]bool{}
	all := len(signers) == 1 && signers[0] == "all"
	for _, s := range signers {
		want[n.nodeID(s)] = true
	}
	var sigs []bls.Signature
	for i, m := range c.Members {
		if !all && !want[m.Node] {
			continue
		}
		name := n.nodeName(m.Node)
		k, ok := n.nodes[name]
		if !ok {
			n.t.Fatalf("no key for member %s", name)
		}
		cert.Signers[i/8] |= 1 << (i % 8)
		sigs = append(sigs, k.Sign(msg))
	}
	if len(sigs) > 0 {
		agg, err := bls.Aggregate(sigs)
		if err != nil {
			n.t.Fatal(err)
		}
		cert.Signature = agg
	}
	return cert
}

func blobFromSeed(seed string, length uint64) (codec.BlobID, [32]byte) {
	root := blake2b.Sum256([]byte("root:" + seed))
	return codec.ComputeBlobID(codec.EncodingTypeRS2, length, root), root
}

// fmtShards prints ascending shard IDs as ranges: 0-3,7.
func fmtShards(sh []uint16) string {
	var parts []string
	for i := 0; i < len(sh); {
		j := i
		for j+1 < len(sh) && sh[j+1] == sh[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(int(sh[i])))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", sh[i], sh[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
