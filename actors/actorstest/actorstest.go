// Package actorstest holds test helpers for code built on package actors: a manual
// [Clock] that lets a test step supervision time instead of sleeping, and a goroutine
// leak check (go.uber.org/goleak is not a dependency; this is the small part of it we
// need).
package actorstest

import (
	"bytes"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// ManualClock is an actors.Clock whose time moves only when the test calls Advance. Every
// After call is announced on Waits, so a test can await "the supervisor is now backing
// off for d" as a signal instead of sleeping.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []manualTimer
	waits  chan time.Duration
}

type manualTimer struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock returns a clock at start. Waits is buffered for waitBuffer announcements;
// After blocks if the test does not drain them, which keeps the test in lockstep.
func NewManualClock(start time.Time, waitBuffer int) *ManualClock {
	return &ManualClock{now: start, waits: make(chan time.Duration, waitBuffer)}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After registers a timer firing once the clock has advanced by d, and announces d on
// Waits.
func (c *ManualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.timers = append(c.timers, manualTimer{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.waits <- d
	return ch
}

// Waits yields the duration of every After call, in order.
func (c *ManualClock) Waits() <-chan time.Duration { return c.waits }

// Advance moves the clock forward by d and fires every timer that is due.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	keep := c.timers[:0]
	var fire []manualTimer
	for _, t := range c.timers {
		if !t.at.After(now) {
			fire = append(fire, t)
		} else {
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, t := range fire {
		t.ch <- now
	}
}

// CheckLeaks records the goroutines running now and registers a cleanup that fails t if,
// when the test ends, goroutines started since are still running after a grace period
// (goroutines can take a moment to unwind after the signal that ends them). Call it first
// in a test, before anything that starts goroutines; the cleanup runs after later
// cleanups, so resources closed with t.Cleanup are closed before the check.
func CheckLeaks(t testing.TB) {
	t.Helper()
	before := goroutineIDs()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		var leaked []string
		for {
			leaked = leaked[:0]
			for id, stack := range goroutineStacks() {
				if _, ok := before[id]; ok || benign(stack) {
					continue
				}
				leaked = append(leaked, stack)
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				break
			}
			// Polling is the only option here: an exiting goroutine signals nobody.
			time.Sleep(10 * time.Millisecond)
		}
		sort.Strings(leaked)
		t.Errorf("%d goroutine(s) leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	})
}

// benign reports goroutines that belong to the test framework or runtime.
func benign(stack string) bool {
	for _, s := range []string{
		"testing.(*T).Run", "testing.tRunner", "testing.runTests", "testing.(*M).",
		"runtime.goexit0", "os/signal.signal_recv", "runtime.ensureSigM",
		"testing.runFuzzing", "CheckLeaks.func1",
	} {
		if strings.Contains(firstFrames(stack), s) {
			return true
		}
	}
	return false
}

// firstFrames returns the head of a stack (the running function and its caller), which is
// where a goroutine's identity shows.
func firstFrames(stack string) string {
	lines := strings.SplitN(stack, "\n", 6)
	return strings.Join(lines, "\n")
}

func goroutineIDs() map[string]struct{} {
	ids := map[string]struct{}{}
	for id := range goroutineStacks() {
		ids[id] = struct{}{}
	}
	return ids
}

// goroutineStacks maps goroutine ID ("goroutine 17") to its stack, excluding the caller.
func goroutineStacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for i, g := range bytes.Split(buf, []byte("\n\n")) {
		if i == 0 {
			continue // the calling goroutine
		}
		s := string(g)
		head, _, _ := strings.Cut(s, " [")
		out[head] = s
	}
	return out
}
