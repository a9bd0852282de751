package testnet_test

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
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
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// BenchmarkE2EFloodNet is part of `make bench-e2e`: the ledger's throughput on a 4-node
// loopback testnet charging fees, with and without a flood that arrives the way a stranger's
// would, over GossipSub from separate libp2p peers (BenchmarkFlood puts its flood straight
// into the nodes' entry points instead). Two workloads, each run quiet then flooded in turn
// (each phase on a fresh cluster, closed after it), b.N times:
//
//   - serial: one funded account sends transfers, each submitted and waited for in turn,
//     through the four nodes in turn, and one 1 KiB store at a time runs through the
//     wallet's session — so tx/s is about 1/latency;
//   - sustained: WALRUS_FLOODNET_SENDERS funded accounts (default 8), each keeping
//     WALRUS_FLOODNET_WINDOW transfers in flight (default 8, pipelined nonces, each account
//     through one node), and WALRUS_FLOODNET_STORERS concurrent 1 KiB stores (default 4)
//     through the wallet's session, which keep the ledger busy.
//
// For each it reports, quiet and flood: committed transfers/s, their p50 and p99 latency
// (submission to the receipt on the node submitted to), blobs/s (each a registration and a
// certification committed; reg+cert/s counts both), flood messages published per second,
// and per phase (logged) the load average before and after and the CPU the host stole.
//
// The flood comes from a flooder peer with a fresh identity every WALRUS_FLOODNET_ROTATE
// (default 3 s, so peer scoring, which graylists one identity within seconds, does not
// end it), connected to all four nodes, publishing as fast as it can (runNetFlooder).
// WALRUS_FLOODNET_SECONDS (default 30) sets each phase's length; WALRUS_FLOODNET_ONLY=quiet
// or flood runs one kind of phase. Not a timing assertion:
//
//	go test ./testnet -run '^$' -bench E2EFloodNet -benchtime 1x
func BenchmarkE2EFloodNet(b *testing.B) {
	dur := envDuration(b, "WALRUS_FLOODNET_SECONDS", 30*time.Second, time.Second)
	rotate := envDuration(b, "WALRUS_FLOODNET_ROTATE", 3*time.Second, time.Second)
	sustained := floodWorkload{name: "sustained",
		senders: envInt(b, "WALRUS_FLOODNET_SENDERS", 8), window: envInt(b, "WALRUS_FLOODNET_WINDOW", 8),
		storers: envInt(b, "WALRUS_FLOODNET_STORERS", 4)}
	for _, w := range []floodWorkload{{name: "serial", senders: 1, window: 1, storers: 1}, sustained} {
		b.Run(w.name, func(b *testing.B) {
			var quiet, flood floodTotals
			only := os.Getenv("WALRUS_FLOODNET_ONLY")
			for r := range b.N {
				if only != "flood" {
					quiet.add(b, w, r, runFloodPhase(b, w, false, dur, rotate))
				}
				if only != "quiet" {
					flood.add(b, w, r, runFloodPhase(b, w, true, dur, rotate))
				}
			}
			if only != "flood" {
				quiet.report(b, "quiet-")
			}
			if only != "quiet" {
				flood.report(b, "flood-")
			}
		})
	}
}

// floodWorkload is a phase's real work.
type floodWorkload struct {
	name    string
	senders int // funded accounts sending transfers
	window  int // transfers each keeps in flight (pipelined nonces); 1 rotates through the nodes
	storers int // concurrent 1 KiB stores through the wallet's session
}

// floodPhase is what one phase measured.
type floodPhase struct {
	lat          []time.Duration // committed transfers' latencies
	blobs        int
	refused      int // submissions refused and tried again
	elapsed      time.Duration
	flooded      bool
	flood        *floodCounts
	load0, load1 string
	steal        time.Duration
	height       uint64
}

// floodTotals adds up phases of one kind (quiet or flood) over the runs.
type floodTotals struct {
	lat       []time.Duration
	txs       int
	blobs     int
	elapsed   time.Duration
	published int64
}

func (t *floodTotals) add(b *testing.B, w floodWorkload, run int, p floodPhase) {
	b.Helper()
	sorted := slices.Clone(p.lat)
	slices.Sort(sorted)
	b.Logf("%s run %d flood=%v: %d transfers (%.2f/s, p50 %v, p99 %v, %d refusals retried) and %d blobs (%.2f/s) in %v; "+
		"flood %d messages (%.0f/s: %d replays, %d huge); height %d; load %s -> %s; CPU steal %.2f s",
		w.name, run, p.flooded, len(p.lat),
		float64(len(p.lat))/p.elapsed.Seconds(), quantile(sorted, 0.5), quantile(sorted, 0.99), p.refused,
		p.blobs, float64(p.blobs)/p.elapsed.Seconds(), p.elapsed.Round(time.Millisecond),
		p.flood.published.Load(), float64(p.flood.published.Load())/p.elapsed.Seconds(),
		p.flood.replayed.Load(), p.flood.huge.Load(), p.height, p.load0, p.load1, p.steal.Seconds())
	t.lat = append(t.lat, p.lat...)
	t.txs += len(p.lat)
	t.blobs += p.blobs
	t.elapsed += p.elapsed
	t.published += p.flood.published.Load()
}

func (t *floodTotals) report(b *testing.B, prefix string) {
	if t.txs == 0 || t.elapsed == 0 {
		b.Fatalf("%sno real transfer committed", prefix)
	}
	slices.Sort(t.lat)
	s := t.elapsed.Seconds()
	b.ReportMetric(float64(t.txs)/s, prefix+"tx/s")
	b.ReportMetric(float64(quantile(t.lat, 0.5).Milliseconds()), prefix+"p50-ms")
	b.ReportMetric(float64(quantile(t.lat, 0.99).Milliseconds()), prefix+"p99-ms")
	b.ReportMetric(float64(t.blobs)/s, prefix+"blobs/s")
	b.ReportMetric(2*float64(t.blobs)/s, prefix+"reg+cert/s")
	b.ReportMetric(float64(t.published)/s, prefix+"flood-msgs/s")
}

// quantile is the q-quantile of sorted latencies (0 when there are none).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
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

// envInt reads a positive integer from env.
func envInt(b *testing.B, env string, def int) int {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", env, v)
	}
	return n
}

// loadAverages is /proc/loadavg's first three fields, or "?".
func loadAverages() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// runFloodPhase runs one phase of w on a fresh fee-charging cluster, flooded or not, and
// closes the cluster.
func runFloodPhase(b *testing.B, w floodWorkload, flood bool, dur, rotate time.Duration) floodPhase {
	c := feeCluster(b)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	s := c.Session(sctx)
	scancel()
	senders := fundSenders(b, c, w.senders)

	ph := floodPhase{load0: loadAverages(), flooded: flood, flood: &floodCounts{}}
	steal0 := stolenCPU()
	var floodWG, realWG sync.WaitGroup
	if flood {
		rec := newGossipRecorder(b, c)
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			runNetFlooder(ctx, b, c, rec, rotate, ph.flood)
		}()
	}

	deadline := time.Now().Add(dur)
	start := time.Now()
	var mu sync.Mutex
	stop := watchStall(b, c)
	defer stop()
	for j, key := range senders {
		realWG.Add(1)
		go func() {
			defer realWG.Done()
			refused, err := sendTransfers(ctx, c, key, j%4, w.window, deadline, func(d time.Duration) {
				mu.Lock()
				ph.lat = append(ph.lat, d)
				mu.Unlock()
			})
			mu.Lock()
			ph.refused += refused
			mu.Unlock()
			if err != nil {
				b.Errorf("sender %d: %v", j, err)
			}
		}()
	}
	for k := range w.storers {
		realWG.Add(1)
		go func() {
			defer realWG.Done()
			data := make([]byte, 1<<10)
			for i := 0; time.Now().Before(deadline); i++ {
				binary.LittleEndian.PutUint64(data, uint64(i))
				binary.LittleEndian.PutUint64(data[8:], uint64(k))
				stctx, stcancel := context.WithTimeout(ctx, 2*time.Minute)
				_, err := s.Store(stctx, data, client.StoreOptions{Epochs: 2})
				stcancel()
				if err != nil {
					b.Errorf("storer %d, store %d: %v", k, i, err)
					return
				}
				mu.Lock()
				ph.blobs++
				mu.Unlock()
			}
		}()
	}
	// The real work ends at the deadline, after what is in flight commits; then the flood.
	realWG.Wait()
	ph.elapsed = time.Since(start)
	ph.load1 = loadAverages()
	ph.steal = stealSince(steal0)
	ph.height = c.Node(0).Height()
	cancel()
	floodWG.Wait()
	mu.Lock()
	defer mu.Unlock()
	return ph
}

// watchStall logs the nodes' heights whenever none has committed for 5 s, until stop.
func watchStall(b *testing.B, c *testnet.Cluster) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		last, since := c.Node(0).Height(), time.Now()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var hs []uint64
			top := uint64(0)
			for i := range 4 {
				h := c.Node(i).Height()
				hs = append(hs, h)
				top = max(top, h)
			}
			if top > last {
				last, since = top, time.Now()
			} else if time.Since(since) >= 5*time.Second {
				b.Logf("no commit for %v: heights %v", time.Since(since).Round(time.Second), hs)
				since = time.Now()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// fundSenders makes n fresh accounts, each funded by the faucet with 100 WAL (pipelined
// transfers through node 0, waited for together).
func fundSenders(t testing.TB, c *testnet.Cluster, n int) []ed25519.PrivateKey {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	faucet := c.Faucet()
	node := c.Unwrap(0)
	nonce := node.Ledger().Account(staking.AddressOf(faucet.Public().(ed25519.PublicKey))).Nonce
	keys := make([]ed25519.PrivateKey, n)
	hashes := make([][32]byte, n)
	for i := range keys {
		keys[i] = floodKey(30, i)
		to := staking.AddressOf(keys[i].Public().(ed25519.PublicKey))
		tx := staking.Sign(c.Layout.Genesis.NetworkID(), faucet, staking.Tx{Nonce: nonce + uint64(i),
			Op: &staking.Transfer{To: to, Amount: 100 * staking.FrostPerWAL}})
		reply, err := node.Consensus().SubmitTx(ctx, tx.Encode())
		if err != nil || !reply.Accepted {
			t.Fatalf("funding sender %d: %v %+v", i, err, reply)
		}
		hashes[i] = reply.Hash
	}
	for i, h := range hashes {
		rc, err := node.Ledger().WaitTx(ctx, h)
		if err != nil || rc.Receipt.Code != staking.OK {
			t.Fatalf("funding sender %d: %v %v", i, rc.Receipt, err)
		}
	}
	// Every node has applied the funding before the senders submit to it.
	h := c.Node(0).Height()
	if err := c.WaitHeightContext(ctx, h); err != nil {
		t.Fatalf("funding: waiting for every node to reach height %d: %v", h, err)
	}
	return keys
}

// sendTransfers sends 1-FROST transfers from key until deadline, keeping window of them in
// flight with consecutive nonces (the account's nonce counted here: a node may not have
// applied the height that committed the one before yet). With window 1 each goes to the
// next node in turn from via; otherwise all go to node via. A submission the node refuses
// (its queue full, say) is tried again after 50 ms, up to 100 times; it returns how many
// were. record gets each committed transfer's latency, from its first submission to its
// receipt on the node it went to. It returns once every transfer sent has committed.
func sendTransfers(ctx context.Context, c *testnet.Cluster, key ed25519.PrivateKey, via, window int,
	deadline time.Time, record func(time.Duration)) (refused int, err error) {
	net := c.Layout.Genesis.NetworkID()
	nonce := c.Unwrap(via).Ledger().Account(staking.AddressOf(key.Public().(ed25519.PublicKey))).Nonce
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	failed := func() bool { errMu.Lock(); defer errMu.Unlock(); return firstErr != nil }
	for i := 0; time.Now().Before(deadline) && !failed(); i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return refused, ctx.Err()
		}
		n := c.Unwrap(via)
		if window == 1 {
			n = c.Unwrap((via + i) % 4)
		}
		raw := staking.Sign(net, key, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: staking.Address{1}, Amount: 1}}).Encode()
		t0 := time.Now()
		var hash [32]byte
		for try := 0; ; try++ {
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			reply, serr := n.Consensus().SubmitTx(sctx, raw)
			scancel()
			if serr == nil && reply.Accepted {
				hash = reply.Hash
				break
			}
			if try == 100 {
				<-sem
				wg.Wait()
				return refused, fmt.Errorf("transfer (nonce %d) refused %d times: %v %+v", nonce, try+1, serr, reply)
			}
			if refused++; refused <= 3 {
				log.Printf("flood bench: transfer (nonce %d) refused: %v %+v", nonce, serr, reply)
			}
			time.Sleep(50 * time.Millisecond)
		}
		nonce++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
			defer wcancel()
			rc, werr := n.Ledger().WaitTx(wctx, hash)
			if werr == nil && rc.Receipt.Code != staking.OK {
				werr = fmt.Errorf("receipt %v", rc.Receipt)
			}
			if werr != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("transfer: %w", werr)
				}
				errMu.Unlock()
				return
			}
			record(time.Since(t0))
		}()
	}
	wg.Wait()
	return refused, firstErr
}

// gossipRecorder is a listening peer: it keeps the latest valid messages the nodes deliver
// on `txs`, `certs` and `consensus`, for the flooder to replay.
type gossipRecorder struct {
	mu   sync.Mutex
	msgs map[p2p.TopicName][][]byte
}

const recorderKeep = 256

func newGossipRecorder(b testing.TB, c *testnet.Cluster) *gossipRecorder {
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

func connectAllNodes(b testing.TB, c *testnet.Cluster, h host.Host) {
	if err := connectAll(context.Background(), c, h); err != nil {
		b.Fatal(err)
	}
}

// connectAll connects h to the four nodes, within 30 s.
func connectAll(ctx context.Context, c *testnet.Cluster, h host.Host) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := range 4 {
		n := c.Node(i)
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Addrs()}); err != nil {
			return fmt.Errorf("connecting to node %d: %w", i, err)
		}
	}
	return nil
}

// hugeNodeInfo is node info with the longest peer ID and the most and longest addresses a
// transaction may carry.
func hugeNodeInfo() staking.NodeInfo {
	info := staking.NodeInfo{PeerID: strings.Repeat("p", staking.MaxPeerIDLen), Commission: 100, Fees: testnet.DefaultFees}
	for k := range staking.MaxAddrs {
		a := fmt.Sprintf("/ip4/127.0.0.%d/tcp/1/", k)
		info.Addrs = append(info.Addrs, a+strings.Repeat("x", staking.MaxAddrLen-len(a)))
	}
	return info
}

// hugeChallengeResults is the longest challenge list a transaction may carry.
func hugeChallengeResults() []staking.ChallengeResult {
	r := make([]staking.ChallengeResult, staking.MaxChallengeList)
	for k := range r {
		binary.LittleEndian.PutUint64(r[k].Node[:], uint64(k))
	}
	return r
}

// floodCounts is what a flooder published: every message, and among them the replays of
// valid gossip and the huge ones.
type floodCounts struct{ published, replayed, huge atomic.Int64 }

// floodKinds is how many kinds of message runNetFlooder cycles through.
const floodKinds = 13

// runNetFlooder floods until ctx ends, from a new peer identity every rotate, cycling
// through floodKinds kinds of message: on `txs`, transfers from fresh keys with no balance,
// sync-done with bogus BLS signatures from fresh keys, transfers with bad signatures and
// with far-future nonces from the funded wallet, invalidate-blob certificates failing their
// BLS check, and huge ones — register-node from fresh keys with the most and longest
// addresses and peer ID (MaxAddrs of MaxAddrLen bytes) and a bogus proof of possession,
// challenge results from fresh keys listing MaxChallengeList nodes, and MaxTxSize bytes of
// garbage; on `certs`, invalidate-blob transactions with bogus certificates; on
// `consensus`, garbage; and on every topic, replays of valid gossip that rec recorded
// (transactions and certificates as they were, consensus messages under new sequence
// numbers).
func runNetFlooder(ctx context.Context, b testing.TB, c *testnet.Cluster, rec *gossipRecorder, rotate time.Duration, counts *floodCounts) {
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
	hugeInfo, hugeResults := hugeNodeInfo(), hugeChallengeResults()
	garbage := make([]byte, staking.MaxTxSize)
	_, _ = crand.Read(garbage)
	var seq uint64
	// next returns the i-th flood message and its topic, and whether it is a replay or huge.
	next := func(i int) (name p2p.TopicName, data []byte, replay, huge bool) {
		switch i % floodKinds {
		case 0: // fresh key, no balance
			return p2p.TopicTxs, staking.Sign(net, floodKey(20, i), staking.Tx{Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode(), false, false
		case 1: // fresh key, bogus sync done
			return p2p.TopicTxs, staking.Sign(net, floodKey(21, i), staking.Tx{Op: &staking.SyncDone{Node: member, Sig: junkSig}}).Encode(), false, false
		case 2: // funded sender, bad signature
			raw := staking.Sign(net, wallet, staking.Tx{Nonce: uint64(i), Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode()
			raw[len(raw)-1] ^= 0xff
			return p2p.TopicTxs, raw, false, false
		case 3: // funded sender, far-future nonce
			return p2p.TopicTxs, staking.Sign(net, wallet, staking.Tx{Nonce: 1_000_000 + uint64(i), Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode(), false, false
		case 4: // funded sender, invalid-blob certificate failing its BLS check
			var id codec.BlobID
			binary.LittleEndian.PutUint64(id[:], uint64(i))
			return p2p.TopicTxs, staking.Sign(net, wallet, staking.Tx{Op: &staking.InvalidateBlob{BlobID: id, Cert: junkCert}}).Encode(), false, false
		case 5: // certs topic: a bogus certificate for a blob ID
			var id codec.BlobID
			binary.LittleEndian.PutUint64(id[:], uint64(i))
			return p2p.TopicCertificates, staking.Sign(net, wallet, staking.Tx{Op: &staking.InvalidateBlob{BlobID: id, Cert: junkCert}}).Encode(), false, false
		case 6: // consensus topic: garbage
			return p2p.TopicConsensus, binary.LittleEndian.AppendUint64(nil, uint64(i)), false, false
		case 7: // replayed transaction
			return p2p.TopicTxs, rec.pick(p2p.TopicTxs, i), true, false
		case 8: // replayed certificate
			return p2p.TopicCertificates, rec.pick(p2p.TopicCertificates, i), true, false
		case 9: // replayed consensus message under a new sequence number
			m := rec.pick(p2p.TopicConsensus, i)
			if len(m) < 8 {
				return p2p.TopicConsensus, nil, true, false
			}
			seq++
			return p2p.TopicConsensus, append(binary.LittleEndian.AppendUint64(nil, seq), m[8:]...), true, false
		case 10: // fresh key, register-node with the largest addresses and a bogus proof of possession
			op := &staking.RegisterNode{BLSKey: jk.PublicKey(), PoP: junkSig, Info: hugeInfo}
			return p2p.TopicTxs, staking.Sign(net, floodKey(22, i), staking.Tx{Op: op}).Encode(), false, true
		case 11: // fresh key, challenge results naming MaxChallengeList nodes
			op := &staking.ChallengeResults{Attester: member, Results: hugeResults, Sig: junkSig}
			return p2p.TopicTxs, staking.Sign(net, floodKey(23, i), staking.Tx{Op: op}).Encode(), false, true
		default: // MaxTxSize bytes of garbage (a copy: a published message is sent later)
			g := slices.Clone(garbage)
			binary.LittleEndian.PutUint64(g, uint64(i))
			return p2p.TopicTxs, g, false, true
		}
	}
	for i := 0; ctx.Err() == nil; {
		h, g, topics := floodPeer(ctx, b, c)
		if topics == nil {
			return
		}
		until := time.Now().Add(rotate)
		for ; ctx.Err() == nil && time.Now().Before(until); i++ {
			name, data, replay, huge := next(i)
			if data == nil {
				continue
			}
			if name == p2p.TopicTxs && !replay {
				data = consensus.EncodeTxWire(uint64(i), data) // the topic's framing (recorded copies have it)
			}
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			if topics[name].Publish(pctx, data) == nil {
				counts.published.Add(1)
				if replay {
					counts.replayed.Add(1)
				}
				if huge {
					counts.huge.Add(1)
				}
			}
			pcancel()
		}
		_ = g.Close()
		_ = h.Close()
	}
}

// floodPeer starts a flooder peer with a fresh identity, joined to the flooded topics and
// connected to every node.
func floodPeer(ctx context.Context, b testing.TB, c *testnet.Cluster) (host.Host, *p2p.Gossip, map[p2p.TopicName]*p2p.Topic) {
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
	if err := connectAll(ctx, c, h); err != nil {
		_ = g.Close()
		_ = h.Close()
		if ctx.Err() == nil {
			b.Error(err)
		}
		return nil, nil, nil
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, t := range topics {
		_ = t.AwaitPeers(actx, 4)
	}
	return h, g, topics
}
