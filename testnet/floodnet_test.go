package testnet_test

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// BenchmarkE2EFloodNet is part of `make bench-e2e`: the ledger's throughput on a 4-node
// loopback testnet charging fees, with and without a flood that arrives the way a stranger's
// would, over GossipSub from separate libp2p peers (BenchmarkFlood puts its flood straight
// into the nodes' entry points instead). It measures, in the same run, for each of quiet and
// flood, on a fresh cluster:
//
//   - real transactions: transfers from the faucet, each submitted and waited for in turn,
//     through the four nodes in turn: tx/s committed, p50 and p99 latency;
//   - blobs: 1 KiB stores from the wallet's session (register, upload, certify; the
//     certificate also published on the `certs` topic), one after another: blobs/s, each a
//     registration and a certification committed (reg+cert/s counts both).
//
// The flood comes from a flooder peer with a fresh identity every WALRUS_FLOODNET_ROTATE
// (default 3 s, so peer scoring, which graylists one identity within seconds, does not
// end it), connected to all four nodes, publishing as fast as it can: on `txs`, transfers
// from fresh keys with no balance, sync-done with bogus BLS signatures from fresh keys,
// transfers with bad signatures and with far-future nonces from the funded wallet,
// invalidate-blob certificates failing their BLS check; on `certs`, certify-blob
// transactions with bogus certificates; on `consensus`, garbage; and on every topic,
// replays of valid gossip that a second, listening peer records (transactions and
// certificates as they were, consensus messages under new sequence numbers).
// flood-msgs/s is what it published. WALRUS_FLOODNET_SECONDS (default 30) sets each
// phase's length. Not a timing assertion:
//
//	go test ./testnet -run '^$' -bench E2EFloodNet -benchtime 1x
func BenchmarkE2EFloodNet(b *testing.B) {
	dur := envDuration(b, "WALRUS_FLOODNET_SECONDS", 30*time.Second, time.Second)
	rotate := envDuration(b, "WALRUS_FLOODNET_ROTATE", 3*time.Second, time.Second)
	for _, flood := range []bool{false, true} {
		name := "quiet"
		if flood {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchFloodNet(b, flood, dur, rotate)
			}
		})
	}
}

// envDuration reads a duration from env: a Go duration or a number of units.
func envDuration(b *testing.B, env string, def, unit time.Duration) time.Duration {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		b.Fatalf("%s=%q: %v", env, v, err)
	}
	return time.Duration(f * float64(unit))
}

func benchFloodNet(b *testing.B, flood bool, dur, rotate time.Duration) {
	c := feeCluster(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	s := c.Session(sctx)
	scancel()

	var published atomic.Int64
	var floodWG, realWG sync.WaitGroup
	if flood {
		rec := newGossipRecorder(b, c)
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			runNetFlooder(ctx, b, c, rec, rotate, &published)
		}()
	}

	deadline := time.Now().Add(dur)
	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	var blobs int
	realWG.Add(2)
	go func() { // real transactions
		defer realWG.Done()
		faucet := c.Faucet()
		// The faucet's nonce is counted here: the node a transfer goes to (one of four in
		// turn) may not have applied the height that committed the one before yet.
		nonce := c.Unwrap(0).Ledger().Account(staking.AddressOf(faucet.Public().(ed25519.PublicKey))).Nonce
		for i := 0; time.Now().Before(deadline); i++ {
			t0 := time.Now()
			n := c.Unwrap(i % 4)
			tx := staking.Sign(c.Layout.Genesis.NetworkID(), faucet, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: staking.Address{1}, Amount: 1}})
			reply, err := n.Consensus().SubmitTx(ctx, tx.Encode())
			if err != nil || !reply.Accepted {
				b.Errorf("real transfer %d (nonce %d) via node %d: %v %+v", i, nonce, i%4, err, reply)
				return
			}
			rc, err := n.Ledger().WaitTx(ctx, reply.Hash)
			if err != nil || rc.Receipt.Code != staking.OK {
				b.Errorf("real transfer: %v %v", rc.Receipt, err)
				return
			}
			nonce++
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		}
	}()
	go func() { // blob registrations and certifications
		defer realWG.Done()
		data := make([]byte, 1<<10)
		for i := 0; time.Now().Before(deadline); i++ {
			binary.LittleEndian.PutUint64(data, uint64(i))
			stctx, stcancel := context.WithTimeout(ctx, 2*time.Minute)
			_, err := s.Store(stctx, data, client.StoreOptions{Epochs: 2})
			stcancel()
			if err != nil {
				b.Errorf("store %d: %v", i, err)
				return
			}
			mu.Lock()
			blobs++
			mu.Unlock()
		}
	}()
	// The real work ends at the deadline, after what is in flight commits; then the flood.
	realWG.Wait()
	elapsed := time.Since(start)
	cancel()
	floodWG.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no real transaction committed")
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(p(0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p(0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(blobs)/elapsed.Seconds(), "blobs/s")
	b.ReportMetric(2*float64(blobs)/elapsed.Seconds(), "reg+cert/s")
	b.ReportMetric(float64(published.Load())/elapsed.Seconds(), "flood-msgs/s")
	b.Logf("flood=%v: %d real transfers and %d blobs in %v, transfer p50 %v p99 %v, %d flood messages published, height %d",
		flood, len(lat), blobs, elapsed.Round(time.Millisecond), p(0.5), p(0.99), published.Load(), c.Node(0).Height())
}

// gossipRecorder is a listening peer: it keeps the latest valid messages the nodes deliver
// on `txs`, `certs` and `consensus`, for the flooder to replay.
type gossipRecorder struct {
	mu   sync.Mutex
	msgs map[p2p.TopicName][][]byte
}

const recorderKeep = 256

func newGossipRecorder(b *testing.B, c *testnet.Cluster) *gossipRecorder {
	r := &gossipRecorder{msgs: map[p2p.TopicName][][]byte{}}
	h := p2ptest.Host(b, nil)
	g, err := p2p.NewGossip(h, c.Layout.Genesis.Network)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	for _, name := range []p2p.TopicName{p2p.TopicTxs, p2p.TopicCertificates, p2p.TopicConsensus} {
		t, err := g.Join(name, nil)
		if err != nil {
			b.Fatal(err)
		}
		sub, err := t.Subscribe()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(sub.Cancel)
		go func() {
			for {
				m, err := sub.Next(context.Background())
				if err != nil {
					return
				}
				r.mu.Lock()
				l := append(r.msgs[name], m.Data)
				if len(l) > recorderKeep {
					l = l[len(l)-recorderKeep:]
				}
				r.msgs[name] = l
				r.mu.Unlock()
			}
		}()
	}
	connectAllNodes(b, c, h)
	return r
}

// pick returns the i-th recorded message of a topic (cycling), or nil.
func (r *gossipRecorder) pick(name p2p.TopicName, i int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.msgs[name]
	if len(l) == 0 {
		return nil
	}
	return l[i%len(l)]
}

func connectAllNodes(b *testing.B, c *testnet.Cluster, h host.Host) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 4 {
		n := c.Node(i)
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Addrs()}); err != nil {
			b.Fatal(err)
		}
	}
}

// runNetFlooder floods until ctx ends, from a new peer identity every rotate.
func runNetFlooder(ctx context.Context, b *testing.B, c *testnet.Cluster, rec *gossipRecorder, rotate time.Duration, published *atomic.Int64) {
	net := c.Layout.Genesis.NetworkID()
	wallet := c.Wallet()
	waddr := staking.AddressOf(wallet.Public().(ed25519.PublicKey))
	com, err := c.Unwrap(0).Ledger().Committee(0)
	if err != nil {
		b.Error(err)
		return
	}
	member := com.Members[0].Node
	jk, err := bls.GenerateKey(crand.Reader)
	if err != nil {
		b.Error(err)
		return
	}
	junkSig := jk.Sign([]byte("junk")) // well formed: checking it costs a pairing
	junkCert := epoch.Certificate{Epoch: 0, Signers: []byte{0x0f}, Signature: junkSig}
	var seq uint64
	// next returns the i-th flood message and its topic.
	next := func(i int) (p2p.TopicName, []byte) {
		switch i % 10 {
		case 0: // fresh key, no balance
			return p2p.TopicTxs, staking.Sign(net, floodKey(20, i), staking.Tx{Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode()
		case 1: // fresh key, bogus sync done
			return p2p.TopicTxs, staking.Sign(net, floodKey(21, i), staking.Tx{Op: &staking.SyncDone{Node: member, Sig: junkSig}}).Encode()
		case 2: // funded sender, bad signature
			raw := staking.Sign(net, wallet, staking.Tx{Nonce: uint64(i), Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode()
			raw[len(raw)-1] ^= 0xff
			return p2p.TopicTxs, raw
		case 3: // funded sender, far-future nonce
			return p2p.TopicTxs, staking.Sign(net, wallet, staking.Tx{Nonce: 1_000_000 + uint64(i), Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode()
		case 4: // funded sender, invalid-blob certificate failing its BLS check
			var id codec.BlobID
			binary.LittleEndian.PutUint64(id[:], uint64(i))
			return p2p.TopicTxs, staking.Sign(net, wallet, staking.Tx{Op: &staking.InvalidateBlob{BlobID: id, Cert: junkCert}}).Encode()
		case 5: // certs topic: a bogus certificate for a blob ID
			var id codec.BlobID
			binary.LittleEndian.PutUint64(id[:], uint64(i))
			return p2p.TopicCertificates, staking.Sign(net, wallet, staking.Tx{Op: &staking.InvalidateBlob{BlobID: id, Cert: junkCert}}).Encode()
		case 6: // consensus topic: garbage
			return p2p.TopicConsensus, binary.LittleEndian.AppendUint64(nil, uint64(i))
		case 7: // replayed transaction
			return p2p.TopicTxs, rec.pick(p2p.TopicTxs, i)
		case 8: // replayed certificate
			return p2p.TopicCertificates, rec.pick(p2p.TopicCertificates, i)
		default: // replayed consensus message under a new sequence number
			m := rec.pick(p2p.TopicConsensus, i)
			if len(m) < 8 {
				return p2p.TopicConsensus, nil
			}
			seq++
			return p2p.TopicConsensus, append(binary.LittleEndian.AppendUint64(nil, seq), m[8:]...)
		}
	}
	for i := 0; ctx.Err() == nil; {
		h, g, topics := floodPeer(ctx, b, c)
		if topics == nil {
			return
		}
		until := time.Now().Add(rotate)
		for ; ctx.Err() == nil && time.Now().Before(until); i++ {
			name, data := next(i)
			if data == nil {
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			if topics[name].Publish(pctx, data) == nil {
				published.Add(1)
			}
			pcancel()
		}
		_ = g.Close()
		_ = h.Close()
	}
}

// floodPeer starts a flooder peer with a fresh identity, joined to the flooded topics and
// connected to every node.
func floodPeer(ctx context.Context, b *testing.B, c *testnet.Cluster) (host.Host, *p2p.Gossip, map[p2p.TopicName]*p2p.Topic) {
	h := p2ptest.Host(b, nil)
	g, err := p2p.NewGossip(h, c.Layout.Genesis.Network)
	if err != nil {
		b.Error(err)
		return nil, nil, nil
	}
	topics := map[p2p.TopicName]*p2p.Topic{}
	for _, name := range []p2p.TopicName{p2p.TopicTxs, p2p.TopicCertificates, p2p.TopicConsensus} {
		if topics[name], err = g.Join(name, nil); err != nil {
			b.Error(err)
			return nil, nil, nil
		}
	}
	connectAllNodes(b, c, h)
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, t := range topics {
		_ = t.AwaitPeers(actx, 4)
	}
	return h, g, topics
}
