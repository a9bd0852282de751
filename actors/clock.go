package actors

import "time"

// Clock is the only way the runtime reads time. Supervision needs "now" (to age failures
// out of the restart window) and a timer (to wait out the backoff); tests inject a manual
// clock so restart behaviour is checked without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has elapsed. The runtime always selects
	// on it together with a cancellation signal, so an implementation need not support
	// cancelling.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the [Clock] backed by package time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d). Since Go 1.23 an unreferenced timer is collected even if it
// never fired, so an abandoned backoff wait leaks nothing.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Backoff maps the number of failures currently inside the restart window (1 for the first
// failure) to how long the supervisor waits before rebuilding the actor.
type Backoff func(failures int) time.Duration

// ExponentialBackoff returns a [Backoff] that waits base, 2·base, 4·base, … capped at max.
// There is no jitter: restarts of one actor are not a thundering herd, and a deterministic
// schedule keeps the behaviour testable.
func ExponentialBackoff(base, max time.Duration) Backoff {
	return func(failures int) time.Duration {
		if failures < 1 {
			failures = 1
		}
		d := base
		for i := 1; i < failures; i++ {
			d *= 2
			if d >= max || d <= 0 { // d <= 0 guards overflow
				return max
			}
		}
		if d > max {
			return max
		}
		return d
	}
}
