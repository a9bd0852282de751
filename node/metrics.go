package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus metrics (docs/architecture.md §8), on a registry of its own so
// that several in-process nodes (tests, the testnet harness) do not collide.
type metrics struct {
	reg         *prometheus.Registry
	checkpoints prometheus.Counter
	txs         *prometheus.CounterVec
	epochs      prometheus.Counter
	gcBlobs     *prometheus.CounterVec
	gcBytes     *prometheus.CounterVec
	synced      *prometheus.CounterVec
}

func newMetrics(n *Node) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "walrus_ledger_checkpoints_total", Help: "Checkpoints committed since start.",
		}),
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_ledger_txs_total", Help: "Transactions committed since start, by result (ok or rejected).",
		}, []string{"result"}),
		epochs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "walrus_ledger_epoch_changes_total", Help: "Epoch changes committed since start.",
		}),
		gcBlobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_gc_blobs_total", Help: "Blobs removed by garbage collection since start, by reason (expired, deleted, invalid).",
		}, []string{"reason"}),
		gcBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_gc_bytes_total", Help: "Bytes (keys and values) removed by garbage collection since start, by reason.",
		}, []string{"reason"}),
		synced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_blobsync_total", Help: "Blob sync since start: slivers recovered and their bytes (what), " +
				"and recovery-symbol bytes received and symbols received and needed.",
		}, []string{"what"}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.checkpoints, m.txs, m.epochs, m.gcBlobs, m.gcBytes, m.synced,
		counter("walrus_scrub_slivers_total", "Stored slivers re-verified by the background scrub since start.", func() float64 {
			if n.scrub == nil {
				return 0
			}
			return float64(n.scrub.Checked())
		}),
		counter("walrus_scrub_bad_slivers_total", "Stored slivers that failed re-verification (dropped and recovered) since start.", func() float64 {
			if n.scrub == nil {
				return 0
			}
			return float64(n.scrub.Bad())
		}),
		gauge("walrus_scrub_last_pass_timestamp_seconds", "When the last full scrub pass ended (0: none yet).", func() float64 {
			if n.scrub == nil || n.scrub.LastPass().IsZero() {
				return 0
			}
			return float64(n.scrub.LastPass().Unix())
		}),
		gauge("walrus_blobsync_backlog", "Blobs waiting for or in blob sync.", func() float64 {
			if n.sync == nil {
				return 0
			}
			return float64(n.sync.Backlog())
		}),
		gauge("walrus_blobsync_slivers_to_recover", "Slivers blob sync still has to recover over its backlog's blobs "+
			"(two per shard lacking its pair; recounted like walrus_blobs_held, a lower bound past 4096 blobs).", func() float64 {
			count, _ := n.toRecover()
			return float64(count)
		}),
		counter("walrus_blobsync_retries_total", "Blob syncs that failed and were queued again (with backoff) since start.", func() float64 {
			if n.sync == nil {
				return 0
			}
			return float64(n.sync.Retries())
		}),
		gauge("walrus_ledger_height", "Height of the last committed checkpoint.", func() float64 { return float64(n.Height()) }),
		gauge("walrus_ledger_epoch", "Current epoch.", func() float64 { return float64(n.ledger.CurrentEpoch()) }),
		gauge("walrus_mempool_txs", "Transactions waiting in the mempool.", func() float64 { return float64(n.cons.MempoolSize()) }),
		gauge("walrus_p2p_peers", "Connected libp2p peers.", func() float64 { return float64(len(n.host.Network().Peers())) }),
		counter("walrus_consensus_extra_rounds_total", "Rounds beyond round 0 (timeouts, failed proposals).", func() float64 { return float64(n.cons.Rounds()) }),
	)
	return m
}
