package dataplane

import (
	"context"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/staking"
)

// msg is the actor's message type.
type msg interface{ isMsg() }

// workMsg runs fn on the worker pool and answers with its result. Stream handlers send
// it so that verification and disk I/O are bounded by the pool, never run on the actor's
// goroutine, and shed with CodeUnavailable when the node is saturated (docs/architecture.md §6).
type workMsg struct {
	actors.Reply[[]byte]
	fn func(context.Context) ([]byte, error)
}

// confirmMsg asks for a signed storage confirmation.
type confirmMsg struct {
	actors.Reply[[]byte]
	req confirm.Request
}

// confirmedMsg carries a worker's confirmation result back to the actor, which caches a
// success and answers the asker.
type confirmedMsg struct {
	key   confirmKey
	sig   bls.Signature
	err   error
	reply actors.Reply[[]byte]
}

func (*workMsg) isMsg()      {}
func (*confirmMsg) isMsg()   {}
func (*confirmedMsg) isMsg() {}

// confirmKey names one signed confirmation: the signed message is a function of exactly
// these fields (and the network, fixed per node).
type confirmKey struct {
	blob      codec.BlobID
	epoch     uint32
	deletable bool
	object    staking.ObjectID
}

// maxConfirmCache bounds the cache of signed confirmations. A client that retries, or
// several writers of the same blob, get the cached signature without another disk scan
// and BLS signing (≈1 ms); the cache is cleared wholesale when full, which only costs
// re-signing.
const maxConfirmCache = 4096

// actor owns the data plane's mutable state: the confirmation cache. Everything slow runs
// on the pool; Receive only dispatches and records.
type actor struct {
	s         *Service
	confirmed map[confirmKey]bls.Signature
}

func (a *actor) Receive(ctx context.Context, m msg) error {
	switch m := m.(type) {
	case *workMsg:
		reply, fn := m.Reply, m.fn
		if err := a.s.pool.TrySubmit(func(ctx context.Context) {
			reply.Respond(fn(ctx))
		}); err != nil {
			m.Fail(err)
		}
	case *confirmMsg:
		req := m.req
		key := confirmKey{blob: req.BlobID, epoch: req.Epoch, deletable: req.Deletable, object: req.Object}
		if !req.Deletable {
			key.object = staking.ObjectID{} // not part of a permanent blob's message
		}
		if sig, ok := a.confirmed[key]; ok {
			// The ledger may have changed since (invalidated, expired); re-check the cheap
			// ledger part, the slivers are still stored (deletion goes through this node).
			if err := a.s.writable(req.BlobID); err != nil {
				m.Fail(err)
				return nil
			}
			c := confirm.Confirmation{Epoch: req.Epoch, Signature: sig}
			m.Ok(c.Encode())
			return nil
		}
		reply := m.Reply
		if err := actors.Do(a.s.pool, a.s.ref,
			func(ctx context.Context) (bls.Signature, error) { return a.s.confirm(ctx, req) },
			func(sig bls.Signature, err error) msg {
				return &confirmedMsg{key: key, sig: sig, err: err, reply: reply}
			}); err != nil {
			m.Fail(err)
		}
	case *confirmedMsg:
		if m.err != nil {
			m.reply.Fail(m.err)
			return nil
		}
		if len(a.confirmed) >= maxConfirmCache {
			clear(a.confirmed)
		}
		a.confirmed[m.key] = m.sig
		c := confirm.Confirmation{Epoch: m.key.epoch, Signature: m.sig}
		m.reply.Ok(c.Encode())
	}
	return nil
}
