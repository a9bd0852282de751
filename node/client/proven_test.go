package client_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// A small in-process network for the light client's tests: one ledger (the truth) served
// by honest nodes, and whatever lying nodes a test adds in front of it.

const lcGenesisTime = 1_700_000_000_000

type lcNet struct {
	t       testing.TB
	genesis *staking.Genesis
	keys    map[epoch.NodeID]*bls.SecretKey
	faucet  ed25519.PrivateKey
	l       *ledger.Ledger
	nonce   uint64
	ds      []*tendermint.Decision // every committed decision, in order
}

// newLCNet builds a 4-node, 12-shard genesis named name; balance varies the genesis (and so
// the network ID) under the same name.
func newLCNet(t testing.TB, name string, balance uint64) *lcNet {
	t.Helper()
	n := &lcNet{t: t, keys: map[epoch.NodeID]*bls.SecretKey{}}
	var seed [32]byte
	seed[0] = 9
	_, n.faucet, _ = ed25519.GenerateKey(rand.NewChaCha8(seed))
	g := &staking.Genesis{
		Network: name, NShards: 12, EpochDuration: 3_600_000, GenesisTime: lcGenesisTime,
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(n.faucet.Public().(ed25519.PublicKey)), Balance: balance},
	}
	for i := 0; i < 4; i++ {
		k := epochtest.Key(42, i)
		n.keys[epoch.NodeIDOf(k.PublicKey())] = k
		var op staking.Address
		op[0] = byte(i + 1)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: op, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: "p" + string(rune('0'+i)), StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40}, Stake: 1 << 40})
	}
	n.genesis = g
	n.l = openLedger(t, g)
	return n
}

func openLedger(t testing.TB, g *staking.Genesis) *ledger.Ledger {
	t.Helper()
	sys, err := actors.New("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func lcCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// sign signs a faucet transaction with the next nonce.
func (n *lcNet) sign(op staking.Op) ([]byte, uint64) {
	nonce := n.nonce
	n.nonce++
	return staking.Sign(n.genesis.NetworkID(), n.faucet, staking.Tx{Nonce: nonce, Op: op}).Encode(), nonce
}

// commit commits txs at time at (0: a second after the last) with a genuine certificate.
func (n *lcNet) commit(at int64, txs ...[]byte) {
	n.t.Helper()
	v := n.l.View()
	st := v.State()
	if at == 0 {
		at = st.Time() + 1000
	}
	cp, res, err := st.BuildCheckpoint(at, txs)
	if err != nil {
		n.t.Fatal(err)
	}
	for i, r := range res.Receipts {
		if !r.OK() {
			n.t.Fatalf("tx %d: %v", i, r)
		}
	}
	d := n.certify(v.SigningCommittee(), cp.Encode(), cp.Height)
	if _, err := n.l.Submit(lcCtx(n.t), d); err != nil {
		n.t.Fatal(err)
	}
	n.ds = append(n.ds, d)
}

func (n *lcNet) certify(c *epoch.Committee, val []byte, height uint64) *tendermint.Decision {
	msg := tendermint.VoteSignBytes(n.genesis.NetworkID(), c.Epoch, tendermint.Precommit, height, 0, tendermint.HashValue(val))
	return &tendermint.Decision{Height: height, Value: val, Commit: tendermint.CommitCert{Cert: n.sign2(c, msg)}}
}

// sign2 is a certificate of every member of c on msg.
func (n *lcNet) sign2(c *epoch.Committee, msg []byte) epoch.Certificate {
	signers := make([]byte, (len(c.Members)+7)/8)
	var sigs []bls.Signature
	for i, m := range c.Members {
		sigs = append(sigs, n.keys[m.Node].Sign(msg))
		signers[i/8] |= 1 << (i % 8)
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		n.t.Fatal(err)
	}
	return epoch.Certificate{Epoch: c.Epoch, Signers: signers, Signature: agg}
}

// register reserves storage and registers a blob of the given seed; it returns the blob ID
// and its object.
func (n *lcNet) register(seed byte) (codec.BlobID, staking.ObjectID) {
	n.t.Helper()
	p, _ := codec.NewParams(n.genesis.NShards)
	length := uint64(1000)
	root := [32]byte{seed}
	id := codec.ComputeBlobID(codec.EncodingTypeRS2, length, root)
	enc, err := p.EncodedLength(length)
	if err != nil {
		n.t.Fatal(err)
	}
	ep := n.l.View().Epoch()
	faucet := staking.AddressOf(n.faucet.Public().(ed25519.PublicKey))
	r, rn := n.sign(&staking.ReserveStorage{Size: enc, Start: ep, End: ep + 5})
	g, gn := n.sign(&staking.RegisterBlob{Storage: staking.DeriveObjectID(faucet, rn, 0), BlobID: id, Root: root, Length: length, Encoding: codec.EncodingTypeRS2})
	n.commit(0, r, g)
	return id, staking.DeriveObjectID(faucet, gn, 0)
}

func (n *lcNet) certifyBlob(id codec.BlobID, obj staking.ObjectID) {
	n.t.Helper()
	st := n.l.View().State()
	cert := n.sign2(st.Committee(), staking.ConfirmationMessage(n.genesis.NetworkID(), st.Epoch(), id, false, obj))
	c, _ := n.sign(&staking.CertifyBlob{Blob: obj, BlobID: id, Cert: cert})
	n.commit(0, c)
}

// nextEpoch commits a checkpoint in the next epoch.
func (n *lcNet) nextEpoch() {
	n.t.Helper()
	ep := n.l.View().Epoch()
	n.commit(n.genesis.GenesisTime + int64(ep+1)*n.genesis.EpochDuration + 1)
}

var hostSeed struct {
	sync.Mutex
	n uint64
}

func newLCHost(t testing.TB) host.Host {
	hostSeed.Lock()
	hostSeed.n++
	s := hostSeed.n
	hostSeed.Unlock()
	var seed [32]byte
	seed[0], seed[1], seed[2] = byte(s), byte(s>>8), 0x5c
	return p2ptest.Host(t, rand.NewChaCha8(seed))
}

// serve starts a node host answering from l.
func serve(t testing.TB, l *ledger.Ledger) host.Host {
	t.Helper()
	h := newLCHost(t)
	n, err := ledger.NewNet(l, ledger.NetConfig{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return h
}

// liar starts a node host that asks honest for every query and answers lie(query, answer)
// instead; it accepts every transaction and reports every wait as a success.
func liar(t testing.TB, honest host.Host, lie func(q *query.Query, honest []byte) []byte) host.Host {
	t.Helper()
	h := newLCHost(t)
	h.Peerstore().AddAddrs(honest.ID(), honest.Addrs(), peerstore.PermanentAddrTTL)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := p2p.Handle(h, query.Spec, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		q, err := query.Decode(req)
		if err != nil {
			return nil, err
		}
		if q.Kind == query.QueryWaitTx {
			return query.EncodeWaitAnswer(&query.WaitAnswer{Height: 1 << 40, Receipt: query.TxReceipt{Hash: q.TxHash, Height: 1 << 40}}), nil
		}
		if q.Kind == query.QueryProvenWaitTx {
			return forgedReceipt(ctx, h, honest, q)
		}
		b, err := p2p.Call(ctx, h, honest.ID(), query.Spec, req)
		if err != nil {
			return nil, err
		}
		return lie(q, b), nil
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	err = p2p.Handle(h, tx.Spec, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		return (&tx.Reply{Accepted: true, Hash: ledger.TxHash(req), Height: 1}).Encode(), nil
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// forgedReceipt is a proven-receipt answer for a transaction never committed: a success
// entry of q's hash at the honest node's latest certified checkpoint, with another entry's
// proof.
func forgedReceipt(ctx context.Context, h host.Host, honest host.Host, q *query.Query) ([]byte, error) {
	b, err := p2p.Call(ctx, h, honest.ID(), query.Spec, (&query.Query{Kind: query.QueryProvenInfo}).Encode())
	if err != nil {
		return nil, err
	}
	in, err := query.DecodeProvenInfoAnswer(b)
	if err != nil {
		return nil, err
	}
	v := binary.LittleEndian.AppendUint64(nil, in.Height) // height | index | hash | code | fee | created
	v = binary.LittleEndian.AppendUint32(v, 0)
	v = append(v, q.TxHash[:]...)
	v = append(v, byte(staking.OK))
	v = binary.LittleEndian.AppendUint64(v, 0)
	v = append(v, make([]byte, 32)...)
	return query.EncodeProvenWaitAnswer(&query.ProvenWaitAnswer{Height: in.Height, At: in.At, Where: in.Height,
		Entry: query.ProvenEntry{Value: v, Proof: in.Params.Proof}}), nil
}

// lightClient is a verifying ledger client of n's genesis over the given nodes; rejected
// collects the nodes it refused.
func lightClient(t testing.TB, g *staking.Genesis, trustFile string, nodes ...host.Host) (*client.Ledger, *rejections) {
	t.Helper()
	h := newLCHost(t)
	var boot []peer.AddrInfo
	for _, n := range nodes {
		boot = append(boot, peer.AddrInfo{ID: n.ID(), Addrs: n.Addrs()})
	}
	rj := &rejections{m: map[peer.ID]error{}}
	l, err := client.NewLedger(client.LedgerConfig{Host: h, Network: g.NetworkID(), Bootstrap: boot, Genesis: g,
		TrustFile: trustFile, OnReject: rj.add, ReceiptTimeout: 3 * time.Second, NoWalletLock: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l, rj
}

type rejections struct {
	mu sync.Mutex
	m  map[peer.ID]error
}

func (r *rejections) add(p peer.ID, err error) {
	r.mu.Lock()
	r.m[p] = err
	r.mu.Unlock()
}

func (r *rejections) of(p peer.ID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[p]
}

// TestLyingLedgerNodes: a node that lies in any way a ledger answer can lie never changes what
// the verifying client reports; the client names it and answers from the honest node. Lies:
// a wrong blob status (another blob's proven record), a forged record, a huge height, a
// committee of the wrong size, another network's answers under the same name, a stale but
// genuine state, a valid proof against an uncertified root, and garbage; a node that is all
// of them alone gives an error naming it, never a panic.
func TestLyingLedgerNodes(t *testing.T) {
	a := newLCNet(t, "same-name", 1<<50)
	a.commit(0)
	a.nextEpoch()
	idX, objX := a.register(1)
	stale := openLedger(t, a.genesis) // a node left behind before X was certified
	for _, d := range a.ds {
		if _, err := stale.Submit(lcCtx(t), d); err != nil {
			t.Fatal(err)
		}
	}
	a.certifyBlob(idX, objX)
	idY, _ := a.register(2) // registered, never certified
	a.nextEpoch()
	a.commit(0)

	// Network B: the same name and keys, another genesis; blob Z certified only there.
	b := newLCNet(t, "same-name", 1<<49)
	b.commit(0)
	idZ, objZ := b.register(3)
	b.certifyBlob(idZ, objZ)
	for b.l.View().Height() < a.l.View().Height()+5 {
		b.commit(0)
	}

	honest := serve(t, a.l)
	want := a.l.View()
	faucet := staking.AddressOf(a.faucet.Public().(ed25519.PublicKey))
	wantAcc := want.State().Account(faucet)

	// The uncertified state: the honest state plus a transfer nobody committed.
	forged := func(q *query.Query) []byte {
		v := a.l.View()
		st := v.State().Clone()
		rich := staking.Address{0xee}
		raw := staking.Sign(a.genesis.NetworkID(), a.faucet, staking.Tx{Nonce: st.Account(faucet).Nonce,
			Op: &staking.Transfer{To: rich, Amount: 1 << 40}}).Encode()
		cp, _, err := st.BuildCheckpoint(st.Time()+1, [][]byte{raw})
		if err != nil {
			t.Error(err)
			return nil
		}
		if _, err := st.ApplyCheckpoint(cp); err != nil {
			t.Error(err)
			return nil
		}
		d := v.Commit() // a genuine certificate, of another checkpoint
		at := query.Certified{Checkpoint: cp.Encode(), Round: d.Commit.Round, Cert: d.Commit.Cert}
		switch q.Kind {
		case query.QueryProvenAccount:
			val, pr := st.Prove(staking.AccountKey(q.Address))
			return query.EncodeProvenAccountAnswer(&query.ProvenAccountAnswer{Height: cp.Height, At: at, Account: query.ProvenEntry{Value: val, Proof: pr}})
		case query.QueryProvenBlobStatus:
			_, bp := st.ProveBlobStatus(q.BlobID)
			return query.EncodeProvenBlobAnswer(&query.ProvenBlobAnswer{Height: cp.Height, At: at, Proof: *bp})
		case query.QueryProvenInfo:
			ia := &query.ProvenInfoAnswer{Height: cp.Height, At: at}
			ia.Params.Value, ia.Params.Proof = st.Prove(staking.ParamsKey())
			ia.Committee.Value, ia.Committee.Proof = st.Prove(staking.CommitteeKey(false))
			return query.EncodeProvenInfoAnswer(ia)
		}
		return nil
	}
	// Another blob's genuine answer, for every blob.
	var xAnswer []byte
	lies := map[string]func(q *query.Query, h []byte) []byte{
		"wrong status": func(q *query.Query, h []byte) []byte {
			if q.Kind == query.QueryProvenBlobStatus {
				return xAnswer
			}
			return h
		},
		"forged record": func(q *query.Query, h []byte) []byte {
			if q.Kind != query.QueryProvenBlobStatus {
				return h
			}
			ans, err := query.DecodeProvenBlobAnswer(h)
			if err != nil {
				return h
			}
			rec := append(append([]byte(nil), q.BlobID[:]...), 1, 9, 0, 0, 0, 0, 0, 0, 0) // invalid at 9
			ans.Proof.Record.Value, ans.Proof.Objects = rec, nil
			return query.EncodeProvenBlobAnswer(ans)
		},
		"huge height": func(q *query.Query, h []byte) []byte {
			out := append([]byte(nil), h...)
			if len(out) >= 8 {
				binary.LittleEndian.PutUint64(out, math.MaxUint64)
			}
			return out
		},
		"committee of the wrong size": func(q *query.Query, h []byte) []byte {
			if q.Kind != query.QueryProvenInfo {
				return h
			}
			ans, err := query.DecodeProvenInfoAnswer(h)
			if err != nil {
				return h
			}
			v := append([]byte(nil), ans.Committee.Value...)
			binary.LittleEndian.PutUint32(v[4:], 8) // n_shards
			ans.Committee.Value = v
			return query.EncodeProvenInfoAnswer(ans)
		},
		"valid proof against an uncertified root": func(q *query.Query, h []byte) []byte {
			if f := forged(q); f != nil {
				return f
			}
			return h
		},
		"garbage": func(q *query.Query, h []byte) []byte {
			if len(h) > 20 {
				return h[:len(h)/2]
			}
			return []byte{1, 2, 3}
		},
	}
	ctx := lcCtx(t)
	{
		c, _ := lightClient(t, a.genesis, "", honest)
		st, err := c.BlobStatus(ctx, idX)
		if err != nil || st.Status.Kind != staking.StatusCertified {
			t.Fatalf("honest: %v, %v", st, err)
		}
		xAnswer, err = p2p.Call(ctx, newConnected(t, honest), honest.ID(), query.Spec,
			(&query.Query{Kind: query.QueryProvenBlobStatus, BlobID: idX}).Encode())
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each liar with the honest node: the truth, and the liar named. A liar with a stale
	// node: still the freshest verified truth. Network B's nodes and the stale one count as
	// liars of their own kind.
	type bad struct {
		name string
		h    host.Host
	}
	var bads []bad
	for name, lie := range lies {
		bads = append(bads, bad{name, liar(t, honest, lie)})
	}
	bads = append(bads, bad{"another network of the same name", serve(t, b.l)}, bad{"stale but genuine", serve(t, stale)})
	for _, bd := range bads {
		t.Run(bd.name, func(t *testing.T) {
			c, rj := lightClient(t, a.genesis, "", bd.h, honest)
			check := func() {
				t.Helper()
				for _, blob := range []struct {
					id   codec.BlobID
					want staking.BlobStatusKind
				}{{idX, staking.StatusCertified}, {idY, staking.StatusRegistered}, {idZ, staking.StatusNonexistent}} {
					st, err := c.BlobStatus(ctx, blob.id)
					if err != nil || st.Status.Kind != blob.want || !st.Proven || st.Height != want.Height() || st.Epoch != want.Epoch() {
						t.Fatalf("blob status %+v (want %v at height %d), %v", st, blob.want, want.Height(), err)
					}
				}
				in, err := c.Info(ctx)
				if err != nil || in.Network != a.genesis.NetworkID() || in.Height != want.Height() || in.Committee.NShards != 12 || !in.Proven {
					t.Fatalf("info %+v, %v", in, err)
				}
				acc, err := c.Account(ctx, faucet)
				if err != nil || acc.Account != wantAcc {
					t.Fatalf("account %+v, want %+v: %v", acc, wantAcc, err)
				}
			}
			check()
			// Answers are verified highest claimed height first, stopping at the first that
			// verifies: a liar claiming more than the truth is always looked at, and named.
			claimsMore := bd.name == "huge height" || bd.name == "another network of the same name" ||
				bd.name == "valid proof against an uncertified root"
			if claimsMore && rj.of(bd.h.ID()) == nil {
				t.Fatalf("the liar %s was not named", bd.h.ID())
			}
			// The liar alone: one clear error naming it (a stale node alone is believed, at
			// its own height: it is genuine).
			alone, _ := lightClient(t, a.genesis, "", bd.h)
			st, err := alone.BlobStatus(ctx, idX)
			if bd.name == "stale but genuine" {
				if err != nil || st.Status.Kind != staking.StatusRegistered || st.Height >= want.Height() {
					t.Fatalf("stale alone: %+v, %v", st, err)
				}
				return
			}
			if bd.name == "wrong status" {
				_, err = alone.BlobStatus(ctx, idY)
			}
			if bd.name == "committee of the wrong size" {
				_, err = alone.Info(ctx)
			}
			if bd.name == "valid proof against an uncertified root" {
				_, err = alone.Account(ctx, faucet)
			}
			if err == nil || !strings.Contains(err.Error(), bd.h.ID().String()) {
				t.Fatalf("the liar alone: %v", err)
			}
			var ve *client.VerifyError
			if !errors.As(err, &ve) || ve.Node != bd.h.ID() {
				t.Fatalf("not a VerifyError naming the node: %v", err)
			}
		})
	}

	// A forged receipt: the liar accepts a certify transaction the ledger would refuse and
	// reports it committed; the client checks the proven status and refuses the success.
	t.Run("forged receipt", func(t *testing.T) {
		lh := liar(t, honest, func(_ *query.Query, h []byte) []byte { return h })
		key := a.faucet
		cl, err := client.NewLedger(client.LedgerConfig{Host: newConnected(t, lh), Network: a.genesis.NetworkID(),
			Bootstrap: []peer.AddrInfo{{ID: lh.ID(), Addrs: lh.Addrs()}}, Genesis: a.genesis, Key: key, NoWalletLock: true,
			ReceiptTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		res := &client.UploadResult{Certificate: &epoch.Certificate{Epoch: want.Epoch()}}
		err = cl.CertifyBlob(ctx, idY, client.Registration{Object: staking.ObjectID{1}}, res)
		if err == nil || !errors.Is(err, client.ErrUnverified) || !strings.Contains(err.Error(), lh.ID().String()) {
			t.Fatalf("forged certify receipt believed: %v", err)
		}
	})
}

// newConnected is a fresh host that knows n's addresses.
func newConnected(t testing.TB, n host.Host) host.Host {
	h := newLCHost(t)
	h.Peerstore().AddAddrs(n.ID(), n.Addrs(), peerstore.PermanentAddrTTL)
	return h
}

// TestClientCatchesUpAcrossEpochs: a client that trusted epoch 1 and was then offline for
// 70 epochs follows the epoch links (each new committee certified by the one before; more
// than a page of query.MaxLinksPerPage, so a second page is asked) and verifies; its trust
// cache beside the configuration is updated, and a new client reading
// the cache starts from there without replaying from genesis. A cache of another network is
// ignored.
func TestClientCatchesUpAcrossEpochs(t *testing.T) {
	a := newLCNet(t, "catch-up", 1<<50)
	a.nextEpoch()
	node := serve(t, a.l)
	trustFile := filepath.Join(t.TempDir(), "client.yaml.trust")
	ctx := lcCtx(t)
	c, _ := lightClient(t, a.genesis, trustFile, node)
	if in, err := c.Info(ctx); err != nil || in.Epoch != 1 || c.TrustedEpoch() != 1 {
		t.Fatalf("info %+v, trusted %d: %v", in, c.TrustedEpoch(), err)
	}
	const offline = 70
	if offline <= query.MaxLinksPerPage {
		t.Fatalf("%d epochs fit in one page of %d links", offline, query.MaxLinksPerPage)
	}
	for range offline {
		a.nextEpoch()
	}
	a.commit(0)
	in, err := c.Info(ctx)
	if err != nil || in.Epoch != offline+1 || c.TrustedEpoch() != offline+1 || in.Height != a.l.Height() {
		t.Fatalf("after %d epochs offline: info %+v, trusted %d: %v", offline, in, c.TrustedEpoch(), err)
	}
	again, _ := lightClient(t, a.genesis, trustFile, node)
	if again.TrustedEpoch() != offline+1 {
		t.Fatalf("the cache gave epoch %d", again.TrustedEpoch())
	}
	other := newLCNet(t, "catch-up", 1<<49)
	fresh, _ := lightClient(t, other.genesis, trustFile, node)
	if fresh.TrustedEpoch() != 0 {
		t.Fatalf("a cache of another network was used: epoch %d", fresh.TrustedEpoch())
	}
}

// TestStalePreferredNodeOverridden: the node the wallet's transactions go to first answers
// the transaction path's ledger questions first (the wallet's account, the nonce basis,
// the network information registrations are built from). When it serves a genuine but old
// state — below a height this client already verified — its answer is not taken: the
// client asks every node and takes the freshest verified answer.
func TestStalePreferredNodeOverridden(t *testing.T) {
	a := newLCNet(t, "stale-preferred", 1<<50)
	a.commit(0)
	a.nextEpoch()
	stale := openLedger(t, a.genesis)
	for _, d := range a.ds {
		if _, err := stale.Submit(lcCtx(t), d); err != nil {
			t.Fatal(err)
		}
	}
	tr, _ := a.sign(&staking.Transfer{To: staking.Address{0xaa}, Amount: 5})
	a.commit(0, tr)
	a.commit(0)
	want := a.l.View()
	faucet := staking.AddressOf(a.faucet.Public().(ed25519.PublicKey))
	wantNonce := want.State().Account(faucet).Nonce
	if stale.View().Height() >= want.Height() || stale.View().State().Account(faucet).Nonce == wantNonce {
		t.Fatal("the stale node is not stale")
	}
	staleH, honest := serve(t, stale), serve(t, a.l)
	ctx := lcCtx(t)
	newClient := func(boot ...host.Host) *client.Ledger {
		var infos []peer.AddrInfo
		for _, b := range boot {
			infos = append(infos, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()})
		}
		c, err := client.NewLedger(client.LedgerConfig{Host: newLCHost(t), Network: a.genesis.NetworkID(), Genesis: a.genesis,
			Bootstrap: infos, Key: a.faucet, NoWalletLock: true, ReceiptTimeout: 3 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newClient(staleH, honest)
	// The client verifies the current height from every node.
	if in, err := c.Info(ctx); err != nil || in.Height != want.Height() {
		t.Fatalf("info %+v, %v", in, err)
	}
	c.SetPreferred(staleH.ID())
	if h := c.TxBasisHeight(ctx); h != want.Height() {
		t.Fatalf("nonce basis proven at height %d, want %d (the stale preferred node's answer was taken)", h, want.Height())
	}
	c.SetPreferred(staleH.ID())
	acc, err := c.WalletAccount(ctx)
	if err != nil || acc.Height != want.Height() || acc.Account.Nonce != wantNonce {
		t.Fatalf("wallet account %+v (want nonce %d at height %d): %v", acc, wantNonce, want.Height(), err)
	}
	c.SetPreferred(staleH.ID())
	in, err := c.TxNodeInfo(ctx)
	if err != nil || in.Height != want.Height() {
		t.Fatalf("registration info %+v (want height %d): %v", in, want.Height(), err)
	}
	// Alone, the stale node is still believed at its own height (it is genuine) for a
	// client that never verified anything newer.
	alone := newClient(staleH)
	alone.SetPreferred(staleH.ID())
	if acc, err := alone.WalletAccount(ctx); err != nil || acc.Height != stale.View().Height() {
		t.Fatalf("stale node alone: %+v, %v", acc, err)
	}
}
