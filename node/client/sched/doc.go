// Package sched holds the client's schedulers as pure state machines, in the manner of
// etcd-raft's core: no goroutines, no clock reads, no network. A driver feeds
// events with the time they happened, Step(now, event), and carries out what comes back
// (the requests to send, when to wake it next, and the outcome once there is one). The
// driver in node/client is a thin loop: one goroutine per request for the I/O and one
// select that turns answers, timer expiries and cancellations into events.
//
//   - [Read] decides which primary slivers a read asks of which committee member, when:
//     systematic slivers first and exactly R of them, more only when members fail, lie,
//     stay silent (the hedge) or the decode needs a different set; at most Depth requests
//     in flight per member; busy members retried after an exponential backoff.
//   - [Upload] decides when each member's upload starts: the heaviest members worth n-f
//     shards first, the reserve once one of them fails, the upload stalls, or they are all
//     through and the certificate is committed (or ReserveHold passed); and when the quorum
//     is in or out of reach.
//
// The schedulers work on member indices (into the committee) and sliver indices; they know
// nothing of codecs, peers or wire formats, so their tests are tables run in virtual time.
// The recovery and shard-sync schedulers are meant to take the same shape.
package sched

import "time"

// [Start] and [Tick] are events of every scheduler; each scheduler has its own event
// interface ([ReadEvent], [UploadEvent]) for the rest.

// Start begins the schedule: it is the first event a scheduler gets.
type Start struct{}

// Tick tells a scheduler that time has passed: the driver sends it once the Wake time
// of the previous step is reached.
type Tick struct{}

func (Start) readEvent()   {}
func (Tick) readEvent()    {}
func (Start) uploadEvent() {}
func (Tick) uploadEvent()  {}

// earliest returns the earlier of a and b, where the zero time means "none".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
