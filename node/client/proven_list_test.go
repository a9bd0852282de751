package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// registerMany registers n blobs of the faucet in one checkpoint and returns the signed
// registration transactions.
func (n *lcNet) registerMany(count int, salt byte) [][]byte {
	n.t.Helper()
	p, _ := codec.NewParams(n.genesis.NShards)
	enc, _ := p.EncodedLength(1000)
	ep := n.l.View().Epoch()
	faucet := staking.AddressOf(n.faucet.Public().(ed25519.PublicKey))
	var txs, regs [][]byte
	for i := 0; i < count; i++ {
		root := [32]byte{byte(i), byte(i >> 8), salt}
		id := codec.ComputeBlobID(codec.EncodingTypeRS2, 1000, root)
		r, rn := n.sign(&staking.ReserveStorage{Size: enc, Start: ep, End: ep + 5})
		g, _ := n.sign(&staking.RegisterBlob{Storage: staking.DeriveObjectID(faucet, rn, 0), BlobID: id, Root: root, Length: 1000, Encoding: codec.EncodingTypeRS2})
		txs, regs = append(txs, r, g), append(regs, g)
	}
	n.commit(0, txs...)
	return regs
}

// listNet is a network whose faucet owns more blob objects than one proven page holds, and
// a few stakes.
func listNet(t testing.TB, name string, balance uint64) (*lcNet, [][]byte) {
	a := newLCNet(t, name, balance)
	a.commit(0)
	a.nextEpoch()
	regs := a.registerMany(query.MaxProvenBlobsPerPage+40, 1)
	var stakes [][]byte
	for _, id := range a.l.View().State().Nodes()[:3] {
		s, _ := a.sign(&staking.StakeOp{Node: id, Amount: 1000})
		stakes = append(stakes, s)
	}
	a.commit(0, stakes...)
	a.commit(0)
	return a, regs
}

// editPage decodes a proven page answer, lets edit change it, and encodes it again.
func editPage(h []byte, edit func(a *query.ProvenPageAnswer)) []byte {
	a, err := query.DecodeProvenPageAnswer(h)
	if err != nil {
		return h
	}
	edit(a)
	return query.EncodeProvenPageAnswer(a)
}

func isList(q *query.Query) bool {
	return q.Kind == query.QueryProvenCommittee || q.Kind == query.QueryProvenStakes || q.Kind == query.QueryProvenBlobs
}

// TestLyingListingNodes: a node that lies about a listing page in any way — an entry left
// out or added, a false "more" either way, a page proven against an uncertified root, another
// network's pages, a huge height, or lies on the second page only — never changes the
// committee, stakes and blob objects the verifying client lists (every page proven complete
// at one certified height); the client names the node and lists through the honest one; the
// liar alone gives one error naming it, never a panic.
func TestLyingListingNodes(t *testing.T) {
	a, _ := listNet(t, "lists", 1<<50)
	b, _ := listNet(t, "lists", 1<<49) // the same name, another genesis
	for b.l.View().Height() <= a.l.View().Height() {
		b.commit(0)
	}
	honest := serve(t, a.l)
	// A slower honest node: the liar's answers arrive first, so its pages are looked at.
	slow := liar(t, honest, func(_ *query.Query, h []byte) []byte { time.Sleep(200 * time.Millisecond); return h })
	faucet := staking.AddressOf(a.faucet.Public().(ed25519.PublicKey))
	st := a.l.View().State()
	_, wantBlobs, wantStakes := st.Owned(faucet)
	wantNodes := st.Nodes()

	forgedPage := func(q *query.Query) []byte {
		v := a.l.View()
		fs := v.State().Clone()
		raw := staking.Sign(a.genesis.NetworkID(), a.faucet, staking.Tx{Nonce: fs.Account(faucet).Nonce,
			Op: &staking.StakeOp{Node: wantNodes[0], Amount: 5}}).Encode()
		cp, _, err := fs.BuildCheckpoint(fs.Time()+1, [][]byte{raw})
		if err != nil {
			t.Error(err)
			return nil
		}
		if _, err := fs.ApplyCheckpoint(cp); err != nil {
			t.Error(err)
			return nil
		}
		d := v.Commit() // a genuine certificate, of another checkpoint
		ans := &query.ProvenPageAnswer{Height: cp.Height, At: query.Certified{Checkpoint: cp.Encode(), Round: d.Commit.Round, Cert: d.Commit.Cert}}
		switch q.Kind {
		case query.QueryProvenCommittee:
			ans.Page = *fs.ProvePage(staking.NodeListing(), q.Cursor, query.MaxProvenCandidatesPerPage,
				[]staking.Key{staking.ParamsKey(), staking.CommitteeKey(false), staking.CommitteeKey(true)})
		case query.QueryProvenStakes:
			ans.Page = *fs.ProvePage(staking.StakeListing(q.Address), q.Cursor, query.MaxProvenStakesPerPage, []staking.Key{staking.CommitteeKey(true)})
		case query.QueryProvenBlobs:
			ans.Page = *fs.ProvePage(staking.BlobListing(q.Address), q.Cursor, query.MaxProvenBlobsPerPage, nil)
		}
		return query.EncodeProvenPageAnswer(ans)
	}
	lies := map[string]func(q *query.Query, h []byte) []byte{
		"omitted entry": func(q *query.Query, h []byte) []byte {
			if !isList(q) {
				return h
			}
			return editPage(h, func(a *query.ProvenPageAnswer) {
				if len(a.Page.Entries) > 1 {
					a.Page.Entries = slices.Delete(a.Page.Entries, 1, 2)
					if len(a.Pools) > 1 {
						a.Pools = slices.Delete(a.Pools, 1, 2)
					}
					if q.Kind != query.QueryProvenCommittee {
						a.Page.Points = slices.Delete(a.Page.Points, 1, 2)
					}
				}
			})
		},
		"extra entry": func(q *query.Query, h []byte) []byte {
			if !isList(q) {
				return h
			}
			return editPage(h, func(a *query.ProvenPageAnswer) {
				if n := len(a.Page.Entries); n > 0 {
					a.Page.Entries = append(a.Page.Entries, a.Page.Entries[n-1])
					if q.Kind != query.QueryProvenCommittee {
						a.Page.Points = slices.Insert(a.Page.Points, n, a.Page.Points[n-1])
					}
				}
			})
		},
		"no more when there is": func(q *query.Query, h []byte) []byte {
			if !isList(q) {
				return h
			}
			return editPage(h, func(a *query.ProvenPageAnswer) { a.Page.More, a.Page.Next = false, [32]byte{} })
		},
		"more when there is not": func(q *query.Query, h []byte) []byte {
			if !isList(q) {
				return h
			}
			return editPage(h, func(a *query.ProvenPageAnswer) {
				if !a.Page.More {
					a.Page.More = true
					for i := range a.Page.Next {
						a.Page.Next[i] = 0xff
					}
				}
			})
		},
		"proof against an uncertified root": func(q *query.Query, h []byte) []byte {
			if !isList(q) {
				return h
			}
			if f := forgedPage(q); f != nil {
				return f
			}
			return h
		},
		"huge height": func(q *query.Query, h []byte) []byte {
			out := slices.Clone(h)
			if isList(q) && len(out) >= 8 {
				binary.LittleEndian.PutUint64(out, math.MaxUint64)
			}
			return out
		},
		"lies on the second page only": func(q *query.Query, h []byte) []byte {
			if !isList(q) || q.Cursor == ([32]byte{}) {
				return h
			}
			return editPage(h, func(a *query.ProvenPageAnswer) { a.Page.Entries = a.Page.Entries[:len(a.Page.Entries)-1] })
		},
	}
	type bad struct {
		name string
		h    host.Host
	}
	var bads []bad
	for name, lie := range lies {
		bads = append(bads, bad{name, liar(t, honest, lie)})
	}
	bads = append(bads, bad{"another network of the same name", serve(t, b.l)})
	ctx := lcCtx(t)
	for _, bd := range bads {
		t.Run(bd.name, func(t *testing.T) {
			c, rj := lightClient(t, a.genesis, "", bd.h, slow)
			blobs, err := c.BlobsOf(ctx, faucet)
			if err != nil {
				t.Fatal(err)
			}
			var got []staking.ObjectID
			for _, o := range blobs.Blobs {
				got = append(got, o.ID)
			}
			if !slices.Equal(got, wantBlobs) || len(got) <= query.MaxProvenBlobsPerPage || blobs.Height != a.l.View().Height() {
				t.Fatalf("%d blobs at height %d, want %d", len(got), blobs.Height, len(wantBlobs))
			}
			stakes, err := c.StakesOf(ctx, faucet)
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, s := range stakes.Stakes {
				got = append(got, s.ID)
			}
			if !slices.Equal(got, wantStakes) || len(got) != 3 {
				t.Fatalf("%d stakes, want %d", len(got), len(wantStakes))
			}
			com, err := c.Candidates(ctx)
			if err != nil {
				t.Fatal(err)
			}
			shards := 0
			for i, cd := range com.Candidates {
				shards += len(cd.Shards)
				if cd.Node != wantNodes[i] {
					t.Fatal("candidates differ")
				}
			}
			if len(com.Candidates) != len(wantNodes) || shards != 12 || com.NShards != 12 {
				t.Fatalf("%d candidates with %d shards", len(com.Candidates), shards)
			}
			if rj.of(bd.h.ID()) == nil {
				t.Fatalf("the liar %s was not named", bd.h.ID())
			}
			alone, _ := lightClient(t, a.genesis, "", bd.h)
			_, err = alone.BlobsOf(ctx, faucet)
			var ve *client.VerifyError
			if err == nil || !strings.Contains(err.Error(), bd.h.ID().String()) || !errors.As(err, &ve) || ve.Node != bd.h.ID() {
				t.Fatalf("the liar alone: %v", err)
			}
		})
	}
}

// txRelay is a node that answers queries through honest (lie may change them) and, for
// every transaction it accepts, commits it on a at once.
func txRelay(t *testing.T, a *lcNet, honest host.Host, lie func(ctx context.Context, h host.Host, q *query.Query, req []byte) ([]byte, error)) host.Host {
	t.Helper()
	h := newLCHost(t)
	h.Peerstore().AddAddrs(honest.ID(), honest.Addrs(), peerstore.PermanentAddrTTL)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := p2p.Handle(h, query.Spec, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		q, err := query.Decode(req)
		if err != nil {
			return nil, err
		}
		if q.Kind == query.QueryProvenWaitTx {
			return lie(ctx, h, q, req)
		}
		return p2p.Call(ctx, h, honest.ID(), query.Spec, req)
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	err = p2p.Handle(h, tx.Spec, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		before := a.l.Height()
		a.commit(0, req)
		return (&tx.Reply{Accepted: true, Hash: ledger.TxHash(req), Height: before}).Encode(), nil
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestProvenReceipts: the verifying client waits for proven receipts. A node that forges
// a receipt, gives another transaction's genuine receipt, or claims a huge height is named
// and the receipt comes from the honest node; the liar alone times out with an error naming
// it.
func TestProvenReceipts(t *testing.T) {
	a, regs := listNet(t, "receipts", 1<<50)
	honest := serve(t, a.l)
	ctx := lcCtx(t)
	other := ledger.TxHash(regs[0]) // a committed transaction's hash
	lies := map[string]func(ctx context.Context, h host.Host, q *query.Query, req []byte) ([]byte, error){
		"forged receipt": func(ctx context.Context, h host.Host, q *query.Query, _ []byte) ([]byte, error) {
			return forgedReceipt(ctx, h, honest, q)
		},
		"another transaction's receipt": func(ctx context.Context, h host.Host, q *query.Query, _ []byte) ([]byte, error) {
			q2 := *q
			q2.TxHash, q2.After = other, 0
			return p2p.Call(ctx, h, honest.ID(), query.Spec, q2.Encode())
		},
		"huge height": func(ctx context.Context, h host.Host, _ *query.Query, req []byte) ([]byte, error) {
			b, err := p2p.Call(ctx, h, honest.ID(), query.Spec, req)
			if err == nil && len(b) >= 8 {
				binary.LittleEndian.PutUint64(b, math.MaxUint64)
			}
			return b, err
		},
	}
	keyed := func(t *testing.T, nodes ...host.Host) (*client.Ledger, *rejections) {
		var boot []peer.AddrInfo
		for _, n := range nodes {
			boot = append(boot, peer.AddrInfo{ID: n.ID(), Addrs: n.Addrs()})
		}
		rj := &rejections{m: map[peer.ID]error{}}
		l, err := client.NewLedger(client.LedgerConfig{Host: newLCHost(t), Network: a.genesis.NetworkID(), Bootstrap: boot,
			Genesis: a.genesis, Key: a.faucet, NoWalletLock: true, ReceiptTimeout: 3 * time.Second, OnReject: rj.add,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return l, rj
	}
	to := staking.Address{0x77}
	{ // honest: the receipt is proven and carries the ledger's fee
		relay := txRelay(t, a, honest, func(ctx context.Context, h host.Host, _ *query.Query, req []byte) ([]byte, error) {
			return p2p.Call(ctx, h, honest.ID(), query.Spec, req)
		})
		c, _ := keyed(t, relay, honest)
		r, err := c.Transfer(ctx, to, 5)
		if err != nil || !r.OK() || r.Height != a.l.Height() {
			t.Fatalf("honest receipt %+v, %v", r, err)
		}
	}
	for name, lie := range lies {
		t.Run(name, func(t *testing.T) {
			relay := txRelay(t, a, honest, lie)
			c, rj := keyed(t, relay, honest)
			r, err := c.Transfer(ctx, to, 5)
			if err != nil || !r.OK() {
				t.Fatalf("receipt %+v, %v", r, err)
			}
			if rj.of(relay.ID()) == nil {
				t.Fatalf("the liar %s was not named", relay.ID())
			}
			alone, _ := keyed(t, relay)
			_, err = alone.Transfer(ctx, to, 5)
			if !errors.Is(err, client.ErrReceiptTimeout) || !errors.Is(err, client.ErrUnverified) || !strings.Contains(err.Error(), relay.ID().String()) {
				t.Fatalf("the liar alone: %v", err)
			}
		})
	}
}

// TestProvenAnswerByteFlips: each proven listing page and receipt answer fails to verify
// when any one of its bytes changes (a decode error, a certificate, proof or fact
// mismatch), and never panics.
func TestProvenAnswerByteFlips(t *testing.T) {
	a, regs := listNet(t, "flips", 1<<50)
	honest := serve(t, a.l)
	ctx := lcCtx(t)
	probe := newConnected(t, honest)
	faucet := staking.AddressOf(a.faucet.Public().(ed25519.PublicKey))
	v := a.l.View()
	com := v.SigningCommittee()
	verifyCP := func(c *query.Certified) (*staking.Checkpoint, error) {
		return query.VerifyCertified(a.genesis.NetworkID(), com, c)
	}
	call := func(q *query.Query) []byte {
		b, err := p2p.Call(ctx, probe, honest.ID(), query.Spec, q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	checks := map[string]struct {
		b      []byte
		verify func(b []byte) error
	}{}
	pageCheck := func(kind query.Kind, check func(cp *staking.Checkpoint, a *query.ProvenPageAnswer) error) func([]byte) error {
		return func(b []byte) error {
			ans, err := query.DecodeProvenPageAnswer(b)
			if err != nil {
				return err
			}
			cp, err := verifyCP(&ans.At)
			if err != nil {
				return err
			}
			if cp.Height != ans.Height {
				return errors.New("height")
			}
			return check(cp, ans)
		}
	}
	checks["committee"] = struct {
		b      []byte
		verify func(b []byte) error
	}{call(&query.Query{Kind: query.QueryProvenCommittee}), pageCheck(query.QueryProvenCommittee, func(cp *staking.Checkpoint, ans *query.ProvenPageAnswer) error {
		_, _, err := query.VerifyCommitteePage(cp, [32]byte{}, 12, ans)
		return err
	})}
	checks["stakes"] = struct {
		b      []byte
		verify func(b []byte) error
	}{call(&query.Query{Kind: query.QueryProvenStakes, Address: faucet}), pageCheck(query.QueryProvenStakes, func(cp *staking.Checkpoint, ans *query.ProvenPageAnswer) error {
		_, _, err := query.VerifyStakesPage(cp, faucet, [32]byte{}, ans)
		return err
	})}
	// A small blob page: the second one (40 objects), after the first page's cursor.
	first, err := query.DecodeProvenPageAnswer(call(&query.Query{Kind: query.QueryProvenBlobs, Address: faucet}))
	if err != nil {
		t.Fatal(err)
	}
	last := first.Page.Entries[len(first.Page.Entries)-1]
	cursor := staking.BlobIndexKey(staking.Address(last[:32]), staking.ObjectID(last[32:])).Path()
	checks["blobs page 2"] = struct {
		b      []byte
		verify func(b []byte) error
	}{call(&query.Query{Kind: query.QueryProvenBlobs, Address: faucet, Cursor: cursor, At: v.Height()}), pageCheck(query.QueryProvenBlobs, func(cp *staking.Checkpoint, ans *query.ProvenPageAnswer) error {
		_, _, err := query.VerifyBlobsPage(cp, faucet, cursor, ans)
		return err
	})}
	// A receipt of the last checkpoint with a registration in it.
	h := ledger.TxHash(regs[1])
	after := a.l.Height() - 3
	checks["receipt"] = struct {
		b      []byte
		verify func(b []byte) error
	}{call(&query.Query{Kind: query.QueryProvenWaitTx, TxHash: h, After: after, Wait: time.Second}), func(b []byte) error {
		ans, err := query.DecodeProvenWaitAnswer(b)
		if err != nil {
			return err
		}
		cp, err := verifyCP(&ans.At)
		if err != nil {
			return err
		}
		if cp.Height != ans.Height {
			return errors.New("height")
		}
		r, err := query.VerifyReceipt(cp, h, after, ans)
		if err == nil && (!r.OK() || r.Hash != h) {
			return errors.New("receipt facts")
		}
		return err
	}}
	for name, c := range checks {
		if err := c.verify(c.b); err != nil {
			t.Fatalf("%s: the genuine answer: %v", name, err)
		}
		ans := c.b
		end := len(ans)
		if name == "committee" {
			// The pools at the end are the node's word (documented unproven; display only).
			pa, _ := query.DecodeProvenPageAnswer(ans)
			end -= 4 + len(pa.Pools)*(4*8+4)
		}
		// Every byte of the header and certificate, then a spread sample of the rest (the
		// certificate check costs a BLS verification per try; staking's TestPageLies and
		// smt's TestMultiproofByteFlips change every byte of entries and proofs).
		checked := 0
		for i := 0; i < end; {
			b := bytes.Clone(ans)
			b[i] ^= 1 << (i % 8)
			if c.verify(b) == nil {
				t.Fatalf("%s: byte %d of %d changed verifies", name, i, len(ans))
			}
			checked++
			if i < 400 {
				i++
			} else {
				i += 1 + end/500
			}
		}
		t.Logf("%s: %d bytes, %d one-byte changes refused", name, len(ans), checked)
	}
}
