package actors

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Actor is the behaviour of an actor whose messages have type M (usually an interface
// implemented by the actor's message structs). Receive runs on the actor's goroutine, one
// message at a time in mailbox order, so the actor's state needs no locks. Returning an
// error (or panicking) is a failure: the supervisor discards this Actor value and builds a
// new one from the [Factory] after a backoff. Receive must not block on the network
// (docs/architecture.md §6); slow work goes to a [Pool].
type Actor[M any] interface {
	Receive(ctx context.Context, msg M) error
}

// Stopper is optionally implemented by an [Actor] that must release resources when its
// incarnation ends (stop, failure or panic). Stop runs on the actor's goroutine.
type Stopper interface {
	Stop()
}

// Factory builds a fresh incarnation of an actor; it runs on the actor's goroutine at
// start and after every restart, and is where durable state is reloaded. A factory error
// counts as a failure like a Receive error.
type Factory[M any] func(ctx context.Context) (Actor[M], error)

// Func adapts a plain function to [Actor], for stateless actors and tests.
type Func[M any] func(ctx context.Context, msg M) error

// Receive calls f.
func (f Func[M]) Receive(ctx context.Context, msg M) error { return f(ctx, msg) }

// Failer is implemented by messages that carry a reply channel (any struct embedding
// [Reply]). When Receive fails or panics on such a message, the runtime calls Fail with the
// failure, so an [Ask] waiting on it returns at once instead of waiting for its deadline.
type Failer interface {
	Fail(err error)
}

// Ref is the address of an actor: the only handle other goroutines get. It is safe for
// concurrent use.
type Ref[M any] struct {
	path    string
	mailbox chan M
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	mu  sync.Mutex
	err error
}

// Name returns the actor's path ("system/actor").
func (r *Ref[M]) Name() string { return r.path }

// Done is closed once the actor has stopped for good and its goroutine has returned.
func (r *Ref[M]) Done() <-chan struct{} { return r.done }

// Err returns the escalated failure that stopped the actor, or nil.
func (r *Ref[M]) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Tell enqueues msg without blocking. It returns [ErrMailboxFull] when the mailbox is at
// capacity and [ErrStopped] once the actor has stopped. Tell is the right call from stream
// handlers and gossip readers, which must shed load rather than stall (docs/architecture.md §6).
func (r *Ref[M]) Tell(msg M) error {
	select {
	case <-r.done:
		return fmt.Errorf("%s: %w", r.path, ErrStopped)
	default:
	}
	select {
	case r.mailbox <- msg:
		return nil
	default:
		return fmt.Errorf("%s: %w", r.path, ErrMailboxFull)
	}
}

// Send enqueues msg, waiting for room until ctx ends or the actor stops. It is the right
// call where backpressure is wanted (a pool delivering results, an upload pipeline).
func (r *Ref[M]) Send(ctx context.Context, msg M) error {
	select {
	case <-r.done:
		return fmt.Errorf("%s: %w", r.path, ErrStopped)
	default:
	}
	select {
	case r.mailbox <- msg:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return fmt.Errorf("%s: %w", r.path, ErrStopped)
	}
}

// Stop stops this actor only and waits for its goroutine to return. Messages still in its
// mailbox are dropped; pending asks fail with [ErrStopped]. Stop must not be called from
// the actor's own goroutine.
func (r *Ref[M]) Stop() {
	r.cancel()
	<-r.done
}

// Spawn starts an actor in sys, supervised with sys's defaults overridden by opts. The
// first incarnation is built on the actor's goroutine, so Spawn never blocks on the
// factory. Spawn fails with [ErrStopped] if sys is stopping.
func Spawn[M any](sys *System, name string, factory Factory[M], opts ...Option) (*Ref[M], error) {
	if factory == nil {
		return nil, fmt.Errorf("%w: nil factory for %q", ErrInvalidConfig, name)
	}
	cfg := sys.cfg
	if err := cfg.apply(opts); err != nil {
		return nil, err
	}
	if !sys.enter() {
		return nil, fmt.Errorf("%s: %w", sys.path, ErrStopped)
	}
	ctx, cancel := context.WithCancel(sys.ctx)
	r := &Ref[M]{
		path:    sys.path + "/" + name,
		mailbox: make(chan M, cfg.mailbox),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go func() {
		defer sys.wg.Done()
		defer close(r.done)
		defer cancel()
		supervise(sys, r, factory, &cfg)
	}()
	return r, nil
}

// supervise runs incarnations of one actor until it is stopped or escalates.
func supervise[M any](sys *System, r *Ref[M], factory Factory[M], cfg *config) {
	var failures []time.Time
	for {
		err := incarnation(r, factory)
		if r.ctx.Err() != nil {
			return // stopped: not a failure, whatever the last incarnation returned
		}
		now := cfg.clock.Now()
		// Age out failures older than the window, then count this one.
		keep := failures[:0]
		for _, t := range failures {
			if now.Sub(t) < cfg.window {
				keep = append(keep, t)
			}
		}
		failures = append(keep, now)
		if len(failures) > cfg.maxRestarts {
			esc := &EscalationError{Path: r.path, Failures: len(failures), Last: err}
			r.mu.Lock()
			r.err = esc
			r.mu.Unlock()
			sys.escalate(esc)
			return
		}
		delay := cfg.backoff(len(failures))
		cfg.logger.Warn("actor failed; restarting", "actor", r.path, "failures", len(failures), "delay", delay, "err", err)
		if cfg.observer != nil {
			cfg.observer(RestartEvent{Path: r.path, Failures: len(failures), Err: err, Delay: delay})
		}
		select {
		case <-cfg.clock.After(delay):
		case <-r.ctx.Done():
			return
		}
	}
}

// incarnation builds one Actor value and feeds it messages until it fails or the actor is
// stopped. A panic anywhere in it becomes a *PanicError failure, and a message with a
// reply channel that was being processed gets that failure as its answer.
func incarnation[M any](r *Ref[M], factory Factory[M]) (err error) {
	var current any // the message being processed, to fail its Reply if we crash
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
		if err != nil {
			if f, ok := current.(Failer); ok {
				f.Fail(err)
			}
		}
	}()
	a, err := factory(r.ctx)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if a == nil {
		return fmt.Errorf("start: %w: factory returned nil actor", ErrInvalidConfig)
	}
	if s, ok := a.(Stopper); ok {
		defer s.Stop()
	}
	for {
		// Stop wins over queued work: check before every message, since select picks
		// randomly among ready cases.
		if r.ctx.Err() != nil {
			return nil
		}
		select {
		case <-r.ctx.Done():
			return nil
		case m := <-r.mailbox:
			current = m
			if err := a.Receive(r.ctx, m); err != nil {
				return err
			}
			current = nil
		}
	}
}
