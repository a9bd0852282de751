package actors

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Pool is a bounded set of worker goroutines for CPU-heavy jobs (RedStuff encode and
// decode, Merkle and BLS checks). Jobs wait in a bounded queue; the number of workers caps
// CPU use, the queue caps memory. Results go back to actors as messages ([Do]), so an
// actor never blocks on computation (docs/architecture.md §6). A Pool belongs to a [System] and its
// workers end when the system stops.
type Pool struct {
	name string
	sys  *System
	jobs chan func(context.Context)
}

// NewPool starts workers goroutines in sys with a queue of queue pending jobs. A
// reasonable default for CPU-bound work is runtime.GOMAXPROCS(0) workers and a queue a few
// times that.
func NewPool(sys *System, name string, workers, queue int) (*Pool, error) {
	if workers < 1 || queue < 0 {
		return nil, fmt.Errorf("%w: pool %q with %d workers, queue %d", ErrInvalidConfig, name, workers, queue)
	}
	p := &Pool{name: sys.path + "/" + name, sys: sys, jobs: make(chan func(context.Context), queue)}
	for i := 0; i < workers; i++ {
		if !sys.enter() {
			return nil, fmt.Errorf("%s: %w", p.name, ErrStopped)
		}
		go p.work()
	}
	return p, nil
}

func (p *Pool) work() {
	defer p.sys.wg.Done()
	ctx := p.sys.ctx
	for {
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case job := <-p.jobs:
			p.run(ctx, job)
		}
	}
}

// run executes one job; a panicking job is logged and dropped rather than killing the
// worker (jobs submitted through Do turn their panics into error results instead).
func (p *Pool) run(ctx context.Context, job func(context.Context)) {
	defer func() {
		if v := recover(); v != nil {
			p.sys.cfg.logger.Error("pool job panicked", "pool", p.name, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	job(ctx)
}

// Submit queues job, waiting for queue room until ctx ends or the pool's system stops.
// job receives a context cancelled when the system stops; long jobs should watch it.
// Queued jobs that have not started when the system stops are dropped.
func (p *Pool) Submit(ctx context.Context, job func(context.Context)) error {
	if p.sys.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", p.name, ErrStopped)
	}
	select {
	case p.jobs <- job:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.sys.ctx.Done():
		return fmt.Errorf("%s: %w", p.name, ErrStopped)
	}
}

// TrySubmit queues job without waiting; it returns [ErrPoolFull] when the queue is full.
// It is the call for an actor's goroutine, which must not block.
func (p *Pool) TrySubmit(job func(context.Context)) error {
	if p.sys.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", p.name, ErrStopped)
	}
	select {
	case p.jobs <- job:
		return nil
	default:
		return fmt.Errorf("%s: %w", p.name, ErrPoolFull)
	}
}

// Do queues work on p without blocking and, when it has run, delivers wrap(result, err)
// to the actor to, waiting for mailbox room (backpressure on the pool, not on the actor).
// A panic in work is delivered as a *PanicError. If to has stopped, the result is
// dropped. Do returns [ErrPoolFull] or [ErrStopped] if the job could not be queued; the
// caller (an actor) then decides to retry later or fail the request.
func Do[M, R any](p *Pool, to *Ref[M], work func(context.Context) (R, error), wrap func(R, error) M) error {
	return p.TrySubmit(func(ctx context.Context) {
		v, err := protect(ctx, work)
		_ = to.Send(ctx, wrap(v, err)) // only fails when to or the system stopped: drop
	})
}

func protect[R any](ctx context.Context, work func(context.Context) (R, error)) (v R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return work(ctx)
}
