package actors

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults for [Spawn] and [New]; each can be overridden with an [Option].
const (
	// DefaultMailbox is the mailbox capacity. Big enough to absorb a burst of stream
	// handlers and gossip readers, small enough that a stuck actor shows up as
	// ErrMailboxFull quickly instead of as memory growth.
	DefaultMailbox = 256
	// DefaultMaxRestarts is how many failures inside DefaultRestartWindow are tolerated;
	// the next one escalates.
	DefaultMaxRestarts = 5
	// DefaultRestartWindow is the sliding window failures are counted in.
	DefaultRestartWindow = time.Minute
	// DefaultBackoffBase is the first restart delay.
	DefaultBackoffBase = 100 * time.Millisecond
	// DefaultBackoffMax caps the restart delay.
	DefaultBackoffMax = 10 * time.Second
)

// RestartEvent describes one supervised restart; an observer set with [WithObserver] sees
// every one (for logs and metrics, and for tests that want to await a restart).
type RestartEvent struct {
	// Path is the actor's name prefixed by its systems' names.
	Path string
	// Failures is the number of failures inside the window, this one included.
	Failures int
	// Err is the failure.
	Err error
	// Delay is the backoff the supervisor waits before rebuilding the actor.
	Delay time.Duration
}

type config struct {
	mailbox     int
	maxRestarts int
	window      time.Duration
	backoff     Backoff
	clock       Clock
	logger      *slog.Logger
	observer    func(RestartEvent)
	onEscalate  func(error)
}

func defaultConfig() config {
	return config{
		mailbox:     DefaultMailbox,
		maxRestarts: DefaultMaxRestarts,
		window:      DefaultRestartWindow,
		backoff:     ExponentialBackoff(DefaultBackoffBase, DefaultBackoffMax),
		clock:       SystemClock{},
		logger:      slog.Default(),
	}
}

// Option configures a [System] (where it becomes the default for every actor spawned in
// it) or a single actor in [Spawn].
type Option func(*config) error

// WithMailbox sets the mailbox capacity (at least 1).
func WithMailbox(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: mailbox capacity %d < 1", ErrInvalidConfig, n)
		}
		c.mailbox = n
		return nil
	}
}

// WithRestartPolicy sets the escalation threshold: more than maxRestarts failures within
// window escalate instead of restarting. maxRestarts 0 escalates on the first failure.
func WithRestartPolicy(maxRestarts int, window time.Duration) Option {
	return func(c *config) error {
		if maxRestarts < 0 || window <= 0 {
			return fmt.Errorf("%w: restart policy %d in %v", ErrInvalidConfig, maxRestarts, window)
		}
		c.maxRestarts, c.window = maxRestarts, window
		return nil
	}
}

// WithBackoff sets the restart delay schedule.
func WithBackoff(b Backoff) Option {
	return func(c *config) error {
		if b == nil {
			return fmt.Errorf("%w: nil backoff", ErrInvalidConfig)
		}
		c.backoff = b
		return nil
	}
}

// WithClock injects the clock supervision uses (tests pass a manual clock).
func WithClock(clk Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		c.clock = clk
		return nil
	}
}

// WithLogger sets the structured logger for restarts and escalations.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
		}
		c.logger = l
		return nil
	}
}

// WithObserver registers a function called (on the supervising goroutine, so it must not
// block) before every restart backoff.
func WithObserver(f func(RestartEvent)) Option {
	return func(c *config) error {
		c.observer = f
		return nil
	}
}

// WithEscalationHandler sets what a root [System] calls, once, when it stops because a
// failure escalated to it (the node uses it to begin an orderly shutdown). It runs on its
// own goroutine, so it may call [System.Stop]. It is ignored on child systems, which
// always escalate to their parent.
func WithEscalationHandler(f func(error)) Option {
	return func(c *config) error {
		c.onEscalate = f
		return nil
	}
}

func (c *config) apply(opts []Option) error {
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return err
		}
	}
	return nil
}
