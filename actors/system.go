package actors

import (
	"context"
	"fmt"
	"sync"
)

// System supervises a group of actors and worker pools. A root system comes from [New]; a
// [System.Child] groups actors whose repeated failure should take down the group but be
// reported to, not decided by, the parent. Stopping a system stops its children first.
type System struct {
	name   string
	path   string
	parent *System
	cfg    config

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // actor supervisors, pool workers and child systems

	done     chan struct{}
	doneOnce sync.Once

	mu  sync.Mutex
	err error // first escalation, nil after a plain Stop
}

// New returns a running root system. Options set defaults for every actor spawned in it.
func New(name string, opts ...Option) (*System, error) {
	cfg := defaultConfig()
	if err := cfg.apply(opts); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &System{name: name, path: name, cfg: cfg, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	return s, nil
}

// Child returns a running child system: its actors inherit this system's defaults plus
// opts; when one of them escalates, the child stops all its actors and escalates to this
// system in turn. Child fails with [ErrStopped] if this system is already stopping.
func (s *System) Child(name string, opts ...Option) (*System, error) {
	cfg := s.cfg
	cfg.onEscalate = nil
	if err := cfg.apply(opts); err != nil {
		return nil, err
	}
	if !s.enter() {
		return nil, ErrStopped
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c := &System{name: name, path: s.path + "/" + name, parent: s, cfg: cfg, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	// The parent's WaitGroup counts the child until the child has fully stopped, so the
	// parent's Stop waits for the whole tree.
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		// The parent's cancel reaches c.ctx without taking c.mu; taking it once here
		// orders this Wait after any enter that saw c.ctx still live (enter checks and
		// Adds under c.mu), so Add never races with Wait.
		c.mu.Lock()
		c.mu.Unlock() //nolint:staticcheck // empty critical section is the point
		c.wg.Wait()
		c.markDone()
	}()
	return c, nil
}

// enter registers one goroutine with the system's WaitGroup unless the system is stopping.
// Checking ctx under mu, and cancelling under mu in stop, makes Add never race with Wait.
func (s *System) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.wg.Add(1)
	return true
}

// Context returns a context that is cancelled when the system begins stopping.
func (s *System) Context() context.Context { return s.ctx }

// Name returns the system's path ("root/child").
func (s *System) Name() string { return s.path }

// Done is closed once the system has stopped and every goroutine it started has ended.
func (s *System) Done() <-chan struct{} { return s.done }

// Err returns the escalated failure that stopped the system, or nil if it is running or
// was stopped with [System.Stop].
func (s *System) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop cancels every actor, pool and child of the system, waits until all their goroutines
// have returned, and returns [System.Err]. It is idempotent and safe to call concurrently.
func (s *System) Stop() error {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	if s.parent == nil {
		s.wg.Wait()
		s.markDone()
	} else {
		<-s.done
	}
	return s.Err()
}

func (s *System) markDone() { s.doneOnce.Do(func() { close(s.done) }) }

// escalate records err as the reason this system stops, stops it without waiting (it runs
// on a supervisor goroutine that the Wait would count) and reports upward.
func (s *System) escalate(err error) {
	s.mu.Lock()
	first := s.err == nil && s.ctx.Err() == nil
	if first {
		s.err = err
	}
	s.cancel()
	s.mu.Unlock()
	if !first {
		return
	}
	s.cfg.logger.Error("actor system stopping after escalation", "system", s.path, "err", err)
	if s.parent != nil {
		s.parent.escalate(&EscalationError{Path: s.path, Failures: 1, Last: err})
		return
	}
	if s.cfg.onEscalate != nil {
		// On its own goroutine: the handler may well call Stop, which waits for the
		// supervisor goroutine we are running on.
		go s.cfg.onEscalate(err)
	}
	// A root stopped by escalation still needs someone to wait for its goroutines before
	// Done closes; a helper goroutine does that (it is not counted in wg, and ends as soon as
	// the last supervisor returns).
	go func() {
		s.wg.Wait()
		s.markDone()
	}()
}

// String implements fmt.Stringer.
func (s *System) String() string { return fmt.Sprintf("actors.System(%s)", s.path) }
