package ledger

import (
	"sync"
	"sync/atomic"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

// Event is something the ledger committed, delivered to subscribers: *CheckpointCommitted,
// *BlobRegistered, *BlobCertified, *BlobInvalidated, *BlobDeleted, *CommitteeSelected or
// *EpochChanged.
// Events of one checkpoint arrive after its CheckpointCommitted, in transaction order.
type Event interface{ isEvent() }

// CheckpointCommitted reports a checkpoint applied and durably stored.
type CheckpointCommitted struct {
	Height     uint64
	Hash       [32]byte
	Checkpoint *staking.Checkpoint
	Receipts   []staking.Receipt // one per transaction
	View       *View             // the state after the checkpoint
}

// BlobRegistered reports a successful register-blob transaction.
type BlobRegistered struct {
	Height uint64
	BlobID codec.BlobID
	Object staking.ObjectID
}

// BlobCertified reports a successful certify-blob transaction (the Point of Availability,
// docs/protocol.md §5): blob sync starts from it.
type BlobCertified struct {
	Height uint64
	BlobID codec.BlobID
	Object staking.ObjectID
}

// BlobInvalidated reports a successful invalidate-blob transaction (docs/protocol.md §4).
type BlobInvalidated struct {
	Height uint64
	BlobID codec.BlobID
}

// BlobDeleted reports a successful delete-blob transaction: one blob object of BlobID is
// gone (the blob ID may still have other live objects). Garbage collection starts from it.
// It is not reported when the object was registered in the same checkpoint.
type BlobDeleted struct {
	Height uint64
	BlobID codec.BlobID
	Object staking.ObjectID
}

// CommitteeSelected reports that the checkpoint crossed mid-epoch and selected the next
// committee (docs/protocol.md §7).
type CommitteeSelected struct {
	Height    uint64
	Committee *epoch.Committee
}

// EpochChanged reports that the checkpoint crossed an epoch end: accounting ran and the
// committee switched from Previous to Committee. The epoch-change actor plans shard moves
// from it (epoch.Plan).
type EpochChanged struct {
	Height              uint64
	Epoch               uint32
	Previous, Committee *epoch.Committee
}

func (*CheckpointCommitted) isEvent() {}
func (*BlobRegistered) isEvent()      {}
func (*BlobCertified) isEvent()       {}
func (*BlobInvalidated) isEvent()     {}
func (*BlobDeleted) isEvent()         {}
func (*CommitteeSelected) isEvent()   {}
func (*EpochChanged) isEvent()        {}

// Subscription receives ledger events on C. Delivery never blocks the ledger: when the
// channel is full the event is dropped and counted, and the subscriber repairs from the
// ledger's View (e.g. by comparing heights).
type Subscription struct {
	C       <-chan Event
	ch      chan Event
	dropped atomic.Uint64
	hub     *hub
}

// Dropped counts events lost because C was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Cancel stops delivery. C is not closed (a late send could race with the close); stop
// reading it after Cancel.
func (s *Subscription) Cancel() { s.hub.remove(s) }

type hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

func (h *hub) add(buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	ch := make(chan Event, buf)
	s := &Subscription{C: ch, ch: ch, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = make(map[*Subscription]struct{})
	}
	h.subs[s] = struct{}{}
	return s
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

func (h *hub) publish(evs []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for _, ev := range evs {
			select {
			case s.ch <- ev:
			default:
				s.dropped.Add(1)
			}
		}
	}
}
