package actors

import (
	"context"
	"fmt"
)

type result[R any] struct {
	v   R
	err error
}

// Reply is the one-slot answer channel of a request message. Embed it in a message struct
// (it then satisfies [Failer], so a crash answers the asker) and answer with [Reply.Ok],
// [Reply.Fail] or [Reply.Respond]. Only the first answer counts; later ones are dropped,
// and answering never blocks, so an actor cannot be stalled by an asker that gave up.
type Reply[R any] struct {
	ch chan result[R]
}

// Respond answers with v and err.
func (r Reply[R]) Respond(v R, err error) {
	if r.ch == nil {
		return
	}
	select {
	case r.ch <- result[R]{v, err}:
	default:
	}
}

// Ok answers with v.
func (r Reply[R]) Ok(v R) { r.Respond(v, nil) }

// Fail answers with err.
func (r Reply[R]) Fail(err error) {
	var zero R
	r.Respond(zero, err)
}

// Ask sends the message built by mk (which receives the reply channel to embed) to r and
// waits for the answer. It returns ctx.Err() if ctx ends first and [ErrStopped] if the
// actor stops without answering. Sending waits for mailbox room like [Ref.Send]: the asker
// is waiting anyway, and its context bounds the wait.
func Ask[M, R any](ctx context.Context, r *Ref[M], mk func(Reply[R]) M) (R, error) {
	var zero R
	rep := Reply[R]{ch: make(chan result[R], 1)}
	if err := r.Send(ctx, mk(rep)); err != nil {
		return zero, err
	}
	select {
	case res := <-rep.ch:
		return res.v, res.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-r.done:
		// The actor may have answered just before stopping; prefer the answer.
		select {
		case res := <-rep.ch:
			return res.v, res.err
		default:
			return zero, fmt.Errorf("%s: %w", r.path, ErrStopped)
		}
	}
}
