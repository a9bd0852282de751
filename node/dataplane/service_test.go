package dataplane_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/node/dataplane/dataplanetest"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
	"github.com/walrus-go/walrus-go/staking"
)

var network = epoch.NetworkID{1, 2, 3}

// fixture is one storage node (member 0 of a 2-member committee, n = 10) and a peer
// that talks to it.
type fixture struct {
	t        *testing.T
	ledger   *dataplanetest.Ledger
	node     host.Host
	store    *blobstore.Store
	key      *bls.SecretKey
	peer     host.Host
	protos   [4]p2p.Protocol
	held     []uint16
	enc      *codec.EncodedBlob
	unregEnc *codec.EncodedBlob
	svc      *dataplane.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	p := codec.MustParams(10)
	com, keys := epochtest.Committee(3, []int{6, 4}, 42)
	rng := rand.New(rand.NewSource(1))
	f := &fixture{t: t, ledger: dataplanetest.NewLedger(p, network, com),
		node: p2ptest.Host(t, rng), peer: p2ptest.Host(t, rng), key: keys[0], held: com.Members[0].Shards}
	f.store = blobstore.New(dssync.MutexWrap(datastore.NewMapDatastore()), p)
	sys, err := actors.New("node")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := dataplane.New(dataplane.Config{Host: f.node, Store: f.store, Ledger: f.ledger, Key: keys[0], System: sys, Workers: 1, Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); _ = sys.Stop() })
	f.svc = svc
	if svc.NodeID() != com.Members[0].Node {
		t.Fatalf("service node ID %x, member %x", svc.NodeID(), com.Members[0].Node)
	}
	f.peer.Peerstore().AddAddrs(f.node.ID(), f.node.Addrs(), time.Hour)
	m, s, c, st := metadata.Spec(p), sliver.Spec(p), confirm.Spec, blobstatus.Spec
	f.protos = [4]p2p.Protocol{m, s, c, st}

	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if f.enc, err = codec.Encode(p, data); err != nil {
		t.Fatal(err)
	}
	if f.unregEnc, err = codec.Encode(p, data[:100]); err != nil {
		t.Fatal(err)
	}
	f.ledger.Add(staking.Blob{ID: staking.ObjectID{7}, BlobID: f.enc.BlobID,
		Storage: staking.Storage{Start: 3, End: 9}})
	return f
}

func (f *fixture) call(pr p2p.Protocol, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return p2p.Call(ctx, f.peer, f.node.ID(), pr, body)
}

func wantCode(t *testing.T, what string, err error, code p2p.Code) {
	t.Helper()
	var se *p2p.StatusError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("%s: %v, want %v", what, err, code)
	}
}

func (f *fixture) putMeta(enc *codec.EncodedBlob) error {
	req := metadata.Request{Op: metadata.OpPut, BlobID: enc.BlobID, Metadata: enc.Metadata.MarshalBCS()}
	_, err := f.call(f.protos[0], req.Encode())
	return err
}

func (f *fixture) pairOf(shard uint16) [2]*codec.Sliver {
	pr, se := f.enc.Pair(f.enc.Params.PairIndexForShard(f.enc.BlobID, int(shard)))
	return [2]*codec.Sliver{pr, se}
}

func (f *fixture) confirm() ([]byte, error) {
	req := confirm.Request{BlobID: f.enc.BlobID, Epoch: 3}
	return f.call(f.protos[2], req.Encode())
}

// TestReceivingMarksVerifiedWrites: only a write whose pairs verified and were stored
// marks a blob as being uploaded (blob sync then waits for the writer); a refused write
// marks nothing, and the mark lasts only its window.
func TestReceivingMarksVerifiedWrites(t *testing.T) {
	actorstest.CheckLeaks(t)
	f := newFixture(t)
	id := f.enc.BlobID
	if f.svc.Receiving(id, time.Hour) {
		t.Fatal("receiving before any write")
	}
	if err := f.putMeta(f.enc); err != nil {
		t.Fatal(err)
	}
	if f.svc.Receiving(id, time.Hour) {
		t.Fatal("metadata alone counts as a sliver upload")
	}
	pair := f.pairOf(f.held[0])
	corrupt := *pair[0]
	corrupt.Data = bytes.Clone(corrupt.Data)
	corrupt.Data[0] ^= 0x40
	_, err := f.call(f.protos[1], sliver.EncodePutPairs(id, [][2]*codec.Sliver{{&corrupt, pair[1]}}))
	wantCode(t, "corrupt sliver", err, p2p.CodeBadRequest)
	other := f.ledger.CurrentCommittee().Members[1].Shards[0]
	_, err = f.call(f.protos[1], sliver.EncodePutPairs(id, [][2]*codec.Sliver{f.pairOf(other)}))
	wantCode(t, "pair of a shard not held", err, p2p.CodeForbidden)
	if f.svc.Receiving(id, time.Hour) {
		t.Fatal("a refused write marks the blob as being uploaded")
	}
	if _, err := f.call(f.protos[1], sliver.EncodePutPairs(id, [][2]*codec.Sliver{pair})); err != nil {
		t.Fatalf("valid pair: %v", err)
	}
	if !f.svc.Receiving(id, time.Hour) {
		t.Fatal("a stored pair does not mark the blob as being uploaded")
	}
	if f.svc.Receiving(f.unregEnc.BlobID, time.Hour) {
		t.Fatal("another blob is marked")
	}
	time.Sleep(20 * time.Millisecond)
	if f.svc.Receiving(id, 10*time.Millisecond) {
		t.Fatal("the mark outlives its window")
	}
}

// TestHostileRequests sends malformed, oversized, misdirected and corrupt requests: each
// gets an error, nothing is stored, and the node keeps serving.
func TestHostileRequests(t *testing.T) {
	actorstest.CheckLeaks(t)
	f := newFixture(t)
	ctx := context.Background()

	// Garbage on every protocol.
	for i, pr := range f.protos {
		_, err := f.call(pr, []byte{0xFF, 1, 2})
		wantCode(t, "garbage on "+string(pr.ID), err, p2p.CodeBadRequest)
		_ = i
	}
	// Unknown blob.
	_, err := f.call(f.protos[0], (&metadata.Request{Op: metadata.OpGet, BlobID: f.enc.BlobID}).Encode())
	wantCode(t, "metadata of an unknown blob", err, p2p.CodeNotFound)
	// Unregistered blob: metadata refused.
	wantCode(t, "metadata of an unregistered blob", f.putMeta(f.unregEnc), p2p.CodeForbidden)
	// Metadata that does not match the claimed ID.
	bad := metadata.Request{Op: metadata.OpPut, BlobID: f.enc.BlobID, Metadata: f.unregEnc.Metadata.MarshalBCS()}
	_, err = f.call(f.protos[0], bad.Encode())
	wantCode(t, "metadata of another blob", err, p2p.CodeBadRequest)
	// Slivers before metadata.
	_, err = f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{f.pairOf(f.held[0])}))
	wantCode(t, "slivers before metadata", err, p2p.CodeNotFound)

	if err := f.putMeta(f.enc); err != nil {
		t.Fatalf("valid metadata: %v", err)
	}
	// A pair for a shard this node does not hold.
	other := f.ledger.CurrentCommittee().Members[1].Shards[0]
	_, err = f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{f.pairOf(other)}))
	wantCode(t, "pair of a shard not held", err, p2p.CodeForbidden)
	// A corrupt sliver.
	pair := f.pairOf(f.held[0])
	corrupt := *pair[0]
	corrupt.Data = bytes.Clone(corrupt.Data)
	corrupt.Data[0] ^= 0x40
	_, err = f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{{&corrupt, pair[1]}}))
	wantCode(t, "corrupt sliver", err, p2p.CodeBadRequest)
	if ok, _ := f.store.HasSlivers(ctx, f.enc.BlobID, f.held[:1]); ok {
		t.Fatal("a corrupt pair was stored")
	}
	// Mismatched pair (secondary of another pair).
	mis := f.pairOf(f.held[1])
	_, err = f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{{pair[0], mis[1]}}))
	wantCode(t, "mismatched pair", err, p2p.CodeBadRequest)
	// A count that promises more items than the bytes hold, and one above the cap.
	body := sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{pair})
	binary.LittleEndian.PutUint16(body[33:], 20)
	_, err = f.call(f.protos[1], body)
	wantCode(t, "lying item count", err, p2p.CodeBadRequest)
	binary.LittleEndian.PutUint16(body[33:], 65535)
	_, err = f.call(f.protos[1], body)
	wantCode(t, "item count above cap", err, p2p.CodeBadRequest)

	// Not all shards stored yet: no confirmation.
	_, err = f.confirm()
	wantCode(t, "confirmation before slivers", err, p2p.CodeNotFound)

	// An oversized frame: the node resets the stream without reading the body.
	s, err := f.peer.NewStream(ctx, f.node.ID(), f.protos[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(binary.AppendUvarint(nil, uint64(f.protos[1].MaxRequest)+1)); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	if resp, err := io.ReadAll(s); err == nil && len(resp) > 0 {
		t.Fatalf("oversized frame answered with %d bytes", len(resp))
	}
	_ = s.Reset()

	// A truncated frame: promised 1000 bytes, sent 10.
	s, err = f.peer.NewStream(ctx, f.node.ID(), f.protos[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = s.Write(append(binary.AppendUvarint(nil, 1000), make([]byte, 10)...))
	_ = s.CloseWrite()
	if resp, err := io.ReadAll(s); err == nil && len(resp) > 0 {
		t.Fatalf("truncated frame answered with %d bytes", len(resp))
	}
	_ = s.Reset()

	// The node is still up and serves a full, valid store.
	var pairs [][2]*codec.Sliver
	for _, sh := range f.held {
		pairs = append(pairs, f.pairOf(sh))
	}
	resp, err := f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, pairs))
	if err != nil {
		t.Fatalf("valid put after hostile requests: %v", err)
	}
	if items, err := sliver.DecodeItemResults(resp, len(pairs), false); err != nil || len(items) != len(pairs) {
		t.Fatalf("put results: %v", err)
	}
	out, err := f.confirm()
	if err != nil {
		t.Fatalf("confirmation: %v", err)
	}
	conf, err := confirm.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	msg := staking.ConfirmationMessage(network, 3, f.enc.BlobID, false, staking.ObjectID{})
	if err := bls.Verify(f.key.PublicKey(), msg, conf.Signature); err != nil {
		t.Fatalf("confirmation signature: %v", err)
	}
	// Wrong epoch and wrong persistence are refused: a later epoch as "not ready" (the node
	// may be behind), an earlier one as stale (the writer must store again for the new
	// committee; retrying would wait forever).
	req := confirm.Request{BlobID: f.enc.BlobID, Epoch: 4}
	_, err = f.call(f.protos[2], req.Encode())
	wantCode(t, "confirmation for a later epoch", err, p2p.CodeUnavailable)
	req = confirm.Request{BlobID: f.enc.BlobID, Epoch: 2}
	_, err = f.call(f.protos[2], req.Encode())
	wantCode(t, "confirmation for an earlier epoch", err, p2p.CodeStaleEpoch)
	req = confirm.Request{BlobID: f.enc.BlobID, Epoch: 3, Deletable: true, Object: staking.ObjectID{7}}
	_, err = f.call(f.protos[2], req.Encode())
	wantCode(t, "confirmation for another persistence", err, p2p.CodeForbidden)

	// Gets: a held sliver, a missing one, one of a shard elsewhere.
	refs := []sliver.Ref{
		{Axis: codec.AxisPrimary, Index: pair[0].Index},
		{Axis: codec.AxisSecondary, Index: pair[1].Index},
		{Axis: codec.AxisPrimary, Index: uint16(f.enc.Params.PairIndexForShard(f.enc.BlobID, int(other)))},
	}
	resp, err = f.call(f.protos[1], sliver.EncodeGet(f.enc.BlobID, refs))
	if err != nil {
		t.Fatal(err)
	}
	items, err := sliver.DecodeItemResults(resp, len(refs), true)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Code != 0 || !bytes.Equal(items[0].Sliver, pair[0].MarshalBCS()) ||
		items[1].Code != 0 || !bytes.Equal(items[1].Sliver, pair[1].MarshalBCS()) || items[2].Code != p2p.CodeNotFound {
		t.Fatalf("get results: codes %v %v %v", items[0].Code, items[1].Code, items[2].Code)
	}
	// Status.
	resp, err = f.call(f.protos[3], f.enc.BlobID[:])
	if err != nil {
		t.Fatal(err)
	}
	st, err := blobstatus.Decode(resp)
	if err != nil || st.Kind != staking.StatusRegistered || !st.HasMetadata || st.ShardsHeld != 6 || st.ShardsStored != 6 || st.Epoch != 3 {
		t.Fatalf("status %+v, %v", st, err)
	}
}

// TestPutOfAHandedOverShardIsStale: once the epoch moves a shard away from the node, a
// put for it (a writer still using the old committee) is refused as a stale epoch, which
// the writer does not retry; a put for a shard the node never held stays forbidden, which
// it does (the node may be the one behind).
func TestPutOfAHandedOverShardIsStale(t *testing.T) {
	f := newFixture(t)
	if err := f.putMeta(f.enc); err != nil {
		t.Fatal(err)
	}
	cur := f.ledger.CurrentCommittee()
	moved := f.held[0]
	next := &epoch.Committee{Epoch: cur.Epoch + 1, NShards: cur.NShards}
	for i, m := range cur.Members {
		m.Shards = slices.DeleteFunc(slices.Clone(m.Shards), func(s uint16) bool { return s == moved })
		if i == 1 {
			m.Shards = append(m.Shards, moved)
			slices.Sort(m.Shards)
		}
		next.Members = append(next.Members, m)
	}
	if err := next.Index(); err != nil {
		t.Fatal(err)
	}
	f.ledger.Advance(next)

	_, err := f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{f.pairOf(moved)}))
	wantCode(t, "put of a shard handed over", err, p2p.CodeStaleEpoch)
	never := cur.Members[1].Shards[0]
	_, err = f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{f.pairOf(never)}))
	wantCode(t, "put of a shard never held", err, p2p.CodeForbidden)
	if _, err := f.call(f.protos[1], sliver.EncodePutPairs(f.enc.BlobID, [][2]*codec.Sliver{f.pairOf(f.held[1])})); err != nil {
		t.Fatalf("put of a shard still held: %v", err)
	}
}
