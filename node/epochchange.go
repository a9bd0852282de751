package node

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/epochchange"
)

// newChanger builds the epoch-change actor (docs/architecture.md §5 "Epoch change") over the
// node's host, store and ledger; blob sync is its fallback, so without blob sync a shard
// whose previous owner fails is not completed (the change still completes once nodes worth
// n-f shards are done).
func (n *Node) newChanger() (*epochchange.Changer, error) {
	cl, err := client.New(client.Config{Host: n.host, Params: n.ledger.Params(), Network: n.ledger.NetworkID(), Logger: n.log})
	if err != nil {
		return nil, err
	}
	repair := func(context.Context, codec.BlobID, *epoch.Committee, []uint16) error {
		return errors.New("blob sync is disabled: cannot recover")
	}
	if n.sync != nil {
		repair = n.sync.SyncFrom
	}
	ch, err := epochchange.New(epochchange.Config{
		Host: n.host, Store: n.blobs, Ledger: n.ledger, Key: n.blsKey, Metadata: cl.Metadata,
		Repair: repair, SubmitSyncDone: n.submitSyncDone, Logger: n.log,
		Page: n.cfg.EpochChange.Page, Attempts: n.cfg.EpochChange.Attempts, RetryDelay: n.cfg.EpochChange.RetryDelay,
	})
	if err != nil {
		return nil, err
	}
	st := func(f func(epochchange.Status) int64) func() float64 {
		return func() float64 { return float64(f(ch.Status())) }
	}
	n.met.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "walrus_epoch_change_epoch",
			Help: "The epoch of the last epoch change this node started."}, st(func(s epochchange.Status) int64 { return int64(s.Epoch) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "walrus_epoch_change_shards_syncing",
			Help: "Gained shards still being pulled or recovered."}, st(func(s epochchange.Status) int64 { return s.Syncing })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "walrus_epoch_change_shards_done_total",
			Help: "Gained shards completed since start."}, st(func(s epochchange.Status) int64 { return s.Done })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "walrus_epoch_change_shards_recovered_total",
			Help: "Gained shards completed by recovery (previous owner failed) since start."}, st(func(s epochchange.Status) int64 { return s.Recovered })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "walrus_epoch_change_moved_bytes_total",
			Help: "Sliver bytes pulled from previous owners since start."}, st(func(s epochchange.Status) int64 { return s.BytesMoved })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "walrus_epoch_change_moved_pairs_total",
			Help: "Sliver pairs pulled from previous owners since start."}, st(func(s epochchange.Status) int64 { return s.BlobsMoved })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "walrus_epoch_change_released_pairs_total",
			Help: "Sliver pairs of lost shards given back once the change completed, since start."}, st(func(s epochchange.Status) int64 { return s.Released })),
	)
	return ch, nil
}
