package query_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// chain is a ledger state advanced by genuinely certified checkpoints, without a node.
type chain struct {
	g      *staking.Genesis
	keys   map[epoch.NodeID]*bls.SecretKey
	faucet ed25519.PrivateKey
	st     *staking.State
	last   query.Certified
	links  []query.EpochLink
	nonce  uint64
}

func newChain(t testing.TB) *chain {
	t.Helper()
	c := &chain{keys: map[epoch.NodeID]*bls.SecretKey{}}
	var seed [32]byte
	seed[0] = 3
	_, c.faucet, _ = ed25519.GenerateKey(rand.NewChaCha8(seed))
	g := &staking.Genesis{Network: "proofs", NShards: 12, EpochDuration: 3_600_000, GenesisTime: 1_700_000_000_000,
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(c.faucet.Public().(ed25519.PublicKey)), Balance: 1 << 50}}
	for i := 0; i < 4; i++ {
		k := epochtest.Key(5, i)
		c.keys[epoch.NodeIDOf(k.PublicKey())] = k
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: staking.Address{byte(i + 1)}, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: "p", StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40}, Stake: 1 << 40})
	}
	c.g = g
	var err error
	if c.st, err = staking.NewState(g); err != nil {
		t.Fatal(err)
	}
	return c
}

// commit applies a checkpoint at time at carrying txs, certified by the signing committee.
func (c *chain) commit(t testing.TB, at int64, txs ...[]byte) {
	t.Helper()
	com := c.st.Committee()
	cp, _, err := c.st.BuildCheckpoint(at, txs)
	if err != nil {
		t.Fatal(err)
	}
	val := cp.Encode()
	msg := query.PrecommitMessage(c.g.NetworkID(), com.Epoch, cp.Height, 0, val)
	signers := make([]byte, (len(com.Members)+7)/8)
	var sigs []bls.Signature
	for i, m := range com.Members {
		sigs = append(sigs, c.keys[m.Node].Sign(msg))
		signers[i/8] |= 1 << (i % 8)
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		t.Fatal(err)
	}
	ep := c.st.Epoch()
	if _, err := c.st.ApplyCheckpoint(cp); err != nil {
		t.Fatal(err)
	}
	c.last = query.Certified{Checkpoint: val, Cert: epoch.Certificate{Epoch: com.Epoch, Signers: signers, Signature: agg}}
	if c.st.Epoch() != ep {
		v, p := c.st.Prove(staking.CommitteeKey(false))
		c.links = append(c.links, query.EpochLink{At: c.last, Committee: query.ProvenEntry{Value: v, Proof: p}})
	}
}

func (c *chain) transfer(to staking.Address) []byte {
	n := c.nonce
	c.nonce++
	return staking.Sign(c.g.NetworkID(), c.faucet, staking.Tx{Nonce: n, Op: &staking.Transfer{To: to, Amount: 5}}).Encode()
}

// verifier checks answers like the light client, with a cache of verified checkpoints (the
// client's) so that flipping a proof byte does not cost a pairing.
type verifier struct {
	network epoch.NetworkID
	nShards int
	coms    map[uint32]*epoch.Committee
	cache   map[[32]byte]*staking.Checkpoint
}

func (v *verifier) certified(height uint64, c *query.Certified) (*staking.Checkpoint, error) {
	cert, _ := c.Cert.MarshalBinary()
	k := blake2b.Sum256(append(append(append([]byte(nil), c.Checkpoint...), byte(c.Round), byte(c.Round>>8), byte(c.Round>>16), byte(c.Round>>24)), cert...))
	cp, ok := v.cache[k]
	if !ok {
		var err error
		if cp, err = query.VerifyCertified(v.network, v.coms[c.Cert.Epoch], c); err != nil {
			return nil, err
		}
		v.cache[k] = cp
	}
	if cp.Height != height {
		return nil, fmt.Errorf("height %d, checkpoint %d", height, cp.Height)
	}
	return cp, nil
}

// flipEach flips each byte of b below len(b)-keep in turn and requires check to fail.
func flipEach(t *testing.T, name string, b []byte, keep int, check func([]byte) error) {
	t.Helper()
	if err := check(b); err != nil {
		t.Fatalf("%s: the genuine answer fails: %v", name, err)
	}
	for i := 0; i < len(b)-keep; i++ {
		m := bytes.Clone(b)
		m[i] ^= 0x01
		if err := check(m); err == nil {
			t.Fatalf("%s: byte %d of %d flipped and the answer still verifies", name, i, len(b))
		}
	}
}

// TestEveryByteCounts: a genuine blob status, account, info and epoch-link answer each
// verify, and each fails when any one byte changes — except the info answer's stakes and
// in-progress flag, which are documented as the node's word.
func TestEveryByteCounts(t *testing.T) {
	c := newChain(t)
	genesis := c.st.Committee()
	at := c.g.GenesisTime
	c.commit(t, at+1000, c.transfer(staking.Address{9}))
	at += c.g.EpochDuration + 1
	c.commit(t, at) // epoch 1: a link
	c.commit(t, at+1000, c.transfer(staking.Address{9}))
	v := &verifier{network: c.g.NetworkID(), nShards: 12, coms: map[uint32]*epoch.Committee{0: genesis}, cache: map[[32]byte]*staking.Checkpoint{}}
	if len(c.links) != 1 {
		t.Fatalf("%d links", len(c.links))
	}

	la := query.EncodeEpochLinksAnswer(&query.EpochLinksAnswer{Height: c.st.Height(), Links: c.links})
	flipEach(t, "epoch links", la, 0, func(b []byte) error {
		a, err := query.DecodeEpochLinksAnswer(b)
		if err != nil {
			return err
		}
		if len(a.Links) != 1 {
			return fmt.Errorf("%d links", len(a.Links))
		}
		cp, err := query.VerifyCertified(v.network, genesis, &a.Links[0].At)
		if err != nil {
			return err
		}
		com, err := query.VerifyCommittee(cp, &a.Links[0].Committee, 12)
		if err == nil && a.Height != c.st.Height() {
			err = fmt.Errorf("height") // the answer's height is only informative; a flip there is caught here
		}
		if err == nil {
			v.coms[com.Epoch] = com
		}
		return err
	})

	// A blob: registered, so its record and object are proven.
	faucet := staking.AddressOf(c.faucet.Public().(ed25519.PublicKey))
	p, _ := codec.NewParams(12)
	enc, _ := p.EncodedLength(100)
	root := [32]byte{7}
	id := codec.ComputeBlobID(codec.EncodingTypeRS2, 100, root)
	rn := c.nonce
	reserve := staking.Sign(c.g.NetworkID(), c.faucet, staking.Tx{Nonce: rn, Op: &staking.ReserveStorage{Size: enc, Start: 1, End: 3}}).Encode()
	register := staking.Sign(c.g.NetworkID(), c.faucet, staking.Tx{Nonce: rn + 1, Op: &staking.RegisterBlob{
		Storage: staking.DeriveObjectID(faucet, rn, 0), BlobID: id, Root: root, Length: 100, Encoding: codec.EncodingTypeRS2}}).Encode()
	c.nonce += 2
	c.commit(t, at+2000, reserve, register)

	st, bp := c.st.ProveBlobStatus(id)
	if st.Kind != staking.StatusRegistered {
		t.Fatalf("status %v", st)
	}
	ba := query.EncodeProvenBlobAnswer(&query.ProvenBlobAnswer{Height: c.st.Height(), At: c.last, Proof: *bp})
	flipEach(t, "blob status", ba, 0, func(b []byte) error {
		a, err := query.DecodeProvenBlobAnswer(b)
		if err != nil {
			return err
		}
		cp, err := v.certified(a.Height, &a.At)
		if err != nil {
			return err
		}
		got, objs, err := query.VerifyBlob(cp, id, &a.Proof)
		if err == nil && (got != st || len(objs) != 1) {
			err = fmt.Errorf("status %v", got)
		}
		return err
	})

	val, pr := c.st.Prove(staking.AccountKey(faucet))
	aa := query.EncodeProvenAccountAnswer(&query.ProvenAccountAnswer{Height: c.st.Height(), At: c.last, Account: query.ProvenEntry{Value: val, Proof: pr}})
	want := c.st.Account(faucet)
	flipEach(t, "account", aa, 0, func(b []byte) error {
		a, err := query.DecodeProvenAccountAnswer(b)
		if err != nil {
			return err
		}
		cp, err := v.certified(a.Height, &a.At)
		if err != nil {
			return err
		}
		acc, err := query.VerifyAccount(cp, faucet, &a.Account)
		if err == nil && acc != want {
			err = fmt.Errorf("account %+v", acc)
		}
		return err
	})
	// An absent account: proven absent, and one flipped byte fails.
	val, pr = c.st.Prove(staking.AccountKey(staking.Address{0x55}))
	if val != nil {
		t.Fatal("an account that does not exist")
	}
	na := query.EncodeProvenAccountAnswer(&query.ProvenAccountAnswer{Height: c.st.Height(), At: c.last, Account: query.ProvenEntry{Proof: pr}})
	flipEach(t, "absent account", na, 0, func(b []byte) error {
		a, err := query.DecodeProvenAccountAnswer(b)
		if err != nil {
			return err
		}
		cp, err := v.certified(a.Height, &a.At)
		if err != nil {
			return err
		}
		acc, err := query.VerifyAccount(cp, staking.Address{0x55}, &a.Account)
		if err == nil && acc != (staking.Account{}) {
			err = fmt.Errorf("account %+v", acc)
		}
		return err
	})

	ia := &query.ProvenInfoAnswer{Height: c.st.Height(), At: c.last, Stakes: []uint64{1, 2, 3, 4}, Previous: true}
	ia.Params.Value, ia.Params.Proof = c.st.Prove(staking.ParamsKey())
	ia.Committee.Value, ia.Committee.Proof = c.st.Prove(staking.CommitteeKey(false))
	ib := query.EncodeProvenInfoAnswer(ia)
	flipEach(t, "info", ib, 4+4*8+1, func(b []byte) error {
		a, err := query.DecodeProvenInfoAnswer(b)
		if err != nil {
			return err
		}
		cp, err := v.certified(a.Height, &a.At)
		if err != nil {
			return err
		}
		par, err := query.VerifyParams(cp, &a.Params)
		if err != nil {
			return err
		}
		com, err := query.VerifyCommittee(cp, &a.Committee, 12)
		if err == nil && (par.Epoch != 1 || par.Prices != c.st.Prices() || com.Epoch != 1) {
			err = fmt.Errorf("params %+v", par)
		}
		return err
	})

	// A genuine committee, proven, but checked for a network of another shard count: never
	// accepted (a client reading with too small a committee would index past its end).
	cp, err := v.certified(ia.Height, &ia.At)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := query.VerifyCommittee(cp, &ia.Committee, 12); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 8, 11, 13, 1000} {
		if com, err := query.VerifyCommittee(cp, &ia.Committee, n); err == nil || !errors.Is(err, query.ErrUnverified) {
			t.Fatalf("a 12-shard committee verified for %d shards: %+v, %v", n, com, err)
		}
	}

	// The certificate under the wrong committee, and a checkpoint of another network.
	if _, err := query.VerifyCertified(v.network, genesis, &c.last); err == nil {
		t.Fatal("an epoch-1 checkpoint verified under the genesis committee")
	}
	if _, err := query.VerifyCertified(epoch.NetworkID{1}, v.coms[1], &c.last); err == nil {
		t.Fatal("a checkpoint verified for another network")
	}
}

// FuzzProvenDecoders: no decoder of a proven answer panics, and whatever decodes encodes
// back to the same bytes (canonical).
func FuzzProvenDecoders(f *testing.F) {
	c := newChain(f)
	c.commit(f, c.g.GenesisTime+c.g.EpochDuration+1, c.transfer(staking.Address{1}))
	_, bp := c.st.ProveBlobStatus(codec.BlobID{1})
	val, pr := c.st.Prove(staking.AccountKey(staking.Address{1}))
	ia := &query.ProvenInfoAnswer{Height: 1, At: c.last, Stakes: []uint64{1}}
	ia.Params.Value, ia.Params.Proof = c.st.Prove(staking.ParamsKey())
	ia.Committee.Value, ia.Committee.Proof = c.st.Prove(staking.CommitteeKey(false))
	f.Add(byte(0), query.EncodeProvenBlobAnswer(&query.ProvenBlobAnswer{Height: 1, At: c.last, Proof: *bp}))
	f.Add(byte(1), query.EncodeProvenAccountAnswer(&query.ProvenAccountAnswer{Height: 1, At: c.last, Account: query.ProvenEntry{Value: val, Proof: pr}}))
	f.Add(byte(2), query.EncodeProvenInfoAnswer(ia))
	f.Add(byte(3), query.EncodeEpochLinksAnswer(&query.EpochLinksAnswer{Height: 1, Links: c.links}))
	f.Add(byte(4), query.EncodeEpochLink(&c.links[0]))
	f.Add(byte(5), (&query.Query{Kind: query.QueryEpochLinks, FromEpoch: 3}).Encode())
	f.Add(byte(5), (&query.Query{Kind: query.QueryProvenBlobStatus, At: 9}).Encode())
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		var re []byte
		switch which % 6 {
		case 0:
			if a, err := query.DecodeProvenBlobAnswer(b); err == nil {
				re = query.EncodeProvenBlobAnswer(a)
			}
		case 1:
			if a, err := query.DecodeProvenAccountAnswer(b); err == nil {
				re = query.EncodeProvenAccountAnswer(a)
			}
		case 2:
			if a, err := query.DecodeProvenInfoAnswer(b); err == nil {
				re = query.EncodeProvenInfoAnswer(a)
			}
		case 3:
			if a, err := query.DecodeEpochLinksAnswer(b); err == nil {
				re = query.EncodeEpochLinksAnswer(a)
			}
		case 4:
			if a, err := query.DecodeEpochLink(b); err == nil {
				re = query.EncodeEpochLink(a)
			}
		case 5:
			if q, err := query.Decode(b); err == nil && q.Kind != query.QueryWaitTx && q.Kind != query.QueryProvenWaitTx {
				re = q.Encode()
			}
		}
		if re != nil && !bytes.Equal(re, b) {
			t.Fatalf("%d: %x re-encodes as %x", which%6, b, re)
		}
	})
}
