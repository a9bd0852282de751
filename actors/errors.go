package actors

import (
	"errors"
	"fmt"
)

// ErrMailboxFull is returned by [Ref.Tell] when the actor's bounded mailbox has no room. The
// caller decides whether to drop, retry later or switch to the blocking [Ref.Send]; the
// runtime never grows a mailbox (docs/architecture.md §6: mailboxes are bounded).
var ErrMailboxFull = errors.New("actors: mailbox full")

// ErrStopped is returned when a message is sent to, or an answer awaited from, an actor
// that has stopped for good (its system stopped, it was stopped, or it escalated).
var ErrStopped = errors.New("actors: actor stopped")

// ErrPoolFull is returned by [Pool.TrySubmit] when the pool's job queue has no room.
var ErrPoolFull = errors.New("actors: worker pool queue full")

// ErrInvalidConfig is wrapped by every option and constructor validation error.
var ErrInvalidConfig = errors.New("actors: invalid configuration")

// PanicError is the failure recorded when an actor's Receive, its factory or a pool job
// panics. It keeps the recovered value and the stack so the escalation report says where.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine stack at the point of recovery.
	Stack []byte
}

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("actors: panic: %v", e.Value) }

// Unwrap exposes a panicked error value to errors.Is / errors.As.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// EscalationError reports that an actor (or a child system) failed more often than its
// restart policy allows; it is what the parent system receives and what [System.Err]
// returns at the root.
type EscalationError struct {
	// Path names the failed actor, prefixed by the names of the systems above it.
	Path string
	// Failures is how many failures fell inside the window when the policy gave up.
	Failures int
	// Last is the failure that tipped it over.
	Last error
}

// Error implements error.
func (e *EscalationError) Error() string {
	return fmt.Sprintf("actors: %s failed %d times within the restart window: %v", e.Path, e.Failures, e.Last)
}

// Unwrap returns the last failure.
func (e *EscalationError) Unwrap() error { return e.Last }
