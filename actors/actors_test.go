package actors_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/actors/actorstest"
)

// counter is a tiny stateful actor used across the tests.
type counterMsg interface{ isCounterMsg() }

type add struct{ n int }
type get struct{ actors.Reply[int] }
type boom struct{ actors.Reply[int] } // panics while holding a reply
type fail struct{ err error }
type block struct{ release <-chan struct{} }

func (add) isCounterMsg()   {}
func (get) isCounterMsg()   {}
func (boom) isCounterMsg()  {}
func (fail) isCounterMsg()  {}
func (block) isCounterMsg() {}

type counter struct{ n int }

func (c *counter) Receive(ctx context.Context, m counterMsg) error {
	switch m := m.(type) {
	case add:
		c.n += m.n
	case get:
		m.Ok(c.n)
	case boom:
		panic("boom")
	case fail:
		return m.err
	case block:
		select {
		case <-m.release:
		case <-ctx.Done():
		}
	}
	return nil
}

func newCounter(context.Context) (actors.Actor[counterMsg], error) { return &counter{}, nil }

func newSystem(t *testing.T, opts ...actors.Option) *actors.System {
	t.Helper()
	sys, err := actors.New("test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	return sys
}

func askCount(t *testing.T, ref *actors.Ref[counterMsg]) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := actors.Ask(ctx, ref, func(r actors.Reply[int]) counterMsg { return get{r} })
	if err != nil {
		t.Fatalf("ask: %v", err)
	}
	return n
}

func TestMessagesAreProcessedInOrder(t *testing.T) {
	actorstest.CheckLeaks(t)
	sys := newSystem(t)
	var got []int
	done := make(chan struct{})
	const n = 1000
	ref, err := actors.Spawn(sys, "order", func(context.Context) (actors.Actor[int], error) {
		return actors.Func[int](func(_ context.Context, m int) error {
			got = append(got, m) // only this goroutine touches got until done closes
			if m == n-1 {
				close(done)
			}
			return nil
		}), nil
	}, actors.WithMailbox(16))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := ref.Send(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	for i, v := range got {
		if v != i {
			t.Fatalf("message %d arrived as %d", i, v)
		}
	}
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
}

func TestAskReturnsAnswer(t *testing.T) {
	actorstest.CheckLeaks(t)
	sys := newSystem(t)
	ref, err := actors.Spawn(sys, "counter", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		if err := ref.Tell(add{i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := askCount(t, ref); got != 55 {
		t.Fatalf("count = %d, want 55", got)
	}
}

func TestAskTimeoutAndCancellation(t *testing.T) {
	actorstest.CheckLeaks(t)
	sys := newSystem(t)
	ref, err := actors.Spawn(sys, "counter", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	if err := ref.Tell(block{release}); err != nil { // the actor is now busy
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = actors.Ask(ctx, ref, func(r actors.Reply[int]) counterMsg { return get{r} })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ask on a busy actor: err = %v, want deadline exceeded", err)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := actors.Ask(ctx2, ref, func(r actors.Reply[int]) counterMsg { return get{r} })
		errc <- err
	}()
	cancel2()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ask: err = %v, want context.Canceled", err)
	}
}

func TestTellOnFullMailbox(t *testing.T) {
	actorstest.CheckLeaks(t)
	sys := newSystem(t)
	ref, err := actors.Spawn(sys, "counter", newCounter, actors.WithMailbox(2))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	// The actor takes this message and blocks on it; the mailbox is then empty.
	if err := ref.Tell(block{release}); err != nil {
		t.Fatal(err)
	}
	// Await the actor holding the block message: a get will only be answered later, but
	// Send of the gets below succeeding proves the first message left the mailbox.
	go func() {
		defer close(entered)
		ctx := context.Background()
		_ = ref.Send(ctx, add{1})
		_ = ref.Send(ctx, add{1})
	}()
	<-entered // two adds queued: the mailbox (capacity 2) is full while block holds the actor
	if err := ref.Tell(add{1}); !errors.Is(err, actors.ErrMailboxFull) {
		t.Fatalf("tell on full mailbox: err = %v, want ErrMailboxFull", err)
	}
	close(release)
	if got := askCount(t, ref); got != 2 {
		t.Fatalf("count = %d, want 2 (the rejected tell must not be delivered)", got)
	}
}

func TestRestartWithBackoffAfterPanicAndError(t *testing.T) {
	actorstest.CheckLeaks(t)
	clk := actorstest.NewManualClock(time.Unix(1000, 0), 16)
	var starts atomic.Int32
	sys := newSystem(t, actors.WithClock(clk),
		actors.WithBackoff(actors.ExponentialBackoff(100*time.Millisecond, time.Second)),
		actors.WithRestartPolicy(5, time.Minute))
	ref, err := actors.Spawn(sys, "counter", func(ctx context.Context) (actors.Actor[counterMsg], error) {
		starts.Add(1)
		return newCounter(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(add{7}); err != nil {
		t.Fatal(err)
	}
	if got := askCount(t, ref); got != 7 {
		t.Fatalf("count = %d, want 7", got)
	}

	// A panic while answering fails the asker at once, with a *PanicError.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = actors.Ask(ctx, ref, func(r actors.Reply[int]) counterMsg { return boom{r} })
	var pe *actors.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("ask that panicked: err = %v, want *PanicError", err)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	for i, w := range want {
		if d := <-clk.Waits(); d != w {
			t.Fatalf("backoff %d = %v, want %v", i+1, d, w)
		}
		// Messages sent while the actor is down wait in its mailbox.
		if err := ref.Tell(add{1}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Millisecond) // not yet due: no restart may happen
		if s := starts.Load(); s != int32(i+1) {
			t.Fatalf("restarted before the backoff elapsed: %d starts", s)
		}
		clk.Advance(w)
		if i < len(want)-1 {
			if err := ref.Tell(fail{errors.New("injected")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The fresh incarnation lost the in-memory count (durable state would be reloaded in
	// the factory) but processed every add that queued while it was down.
	if got := askCount(t, ref); got != 1 {
		t.Fatalf("count after restarts = %d, want 1", got)
	}
	if s := starts.Load(); s != 4 {
		t.Fatalf("starts = %d, want 4", s)
	}
}

func TestEscalationStopsRootSystem(t *testing.T) {
	actorstest.CheckLeaks(t)
	clk := actorstest.NewManualClock(time.Unix(1000, 0), 16)
	escalated := make(chan error, 1)
	sys := newSystem(t, actors.WithClock(clk), actors.WithRestartPolicy(2, time.Minute),
		actors.WithEscalationHandler(func(err error) { escalated <- err }))
	bad, err := actors.Spawn(sys, "bad", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	other, err := actors.Spawn(sys, "other", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	injected := errors.New("disk on fire")
	for i := 0; i < 3; i++ {
		if err := bad.Tell(fail{injected}); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			<-clk.Waits()
			clk.Advance(time.Second) // past the backoff, well inside the window
		}
	}
	err = <-escalated
	var esc *actors.EscalationError
	if !errors.As(err, &esc) || !errors.Is(err, injected) {
		t.Fatalf("escalation = %v, want EscalationError wrapping the injected error", err)
	}
	<-sys.Done()
	if !errors.Is(sys.Err(), injected) {
		t.Fatalf("sys.Err() = %v", sys.Err())
	}
	<-other.Done() // siblings stop too
	if err := other.Tell(add{1}); !errors.Is(err, actors.ErrStopped) {
		t.Fatalf("tell after stop: %v, want ErrStopped", err)
	}
}

func TestFailuresAgeOutOfWindow(t *testing.T) {
	actorstest.CheckLeaks(t)
	clk := actorstest.NewManualClock(time.Unix(1000, 0), 16)
	sys := newSystem(t, actors.WithClock(clk), actors.WithRestartPolicy(1, time.Minute))
	ref, err := actors.Spawn(sys, "flaky", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := ref.Tell(fail{errors.New("transient")}); err != nil {
			t.Fatal(err)
		}
		// Each failure is alone in its window, so it always gets the first backoff step.
		if d := <-clk.Waits(); d != actors.DefaultBackoffBase {
			t.Fatalf("failure %d: backoff %v, want %v", i, d, actors.DefaultBackoffBase)
		}
		clk.Advance(2 * time.Minute)
	}
	if got := askCount(t, ref); got != 0 {
		t.Fatalf("count = %d", got)
	}
	if sys.Err() != nil {
		t.Fatalf("escalated: %v", sys.Err())
	}
}

func TestChildEscalatesToParent(t *testing.T) {
	actorstest.CheckLeaks(t)
	escalated := make(chan error, 1)
	var root *actors.System
	root = newSystem(t, actors.WithEscalationHandler(func(err error) {
		_ = root.Stop() // a handler that shuts the system down must not deadlock
		escalated <- err
	}))
	child, err := root.Child("store", actors.WithRestartPolicy(0, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := actors.Spawn(child, "writer", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(boom{}); err != nil {
		t.Fatal(err)
	}
	err = <-escalated
	var pe *actors.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("root escalation = %v, want it to wrap the child's panic", err)
	}
	<-child.Done()
	<-root.Done()
	if ref.Err() == nil {
		t.Fatal("failed actor reports no error")
	}
}

func TestStopUnderLoadIsClean(t *testing.T) {
	actorstest.CheckLeaks(t)
	sys, err := actors.New("load")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := actors.NewPool(sys, "cpu", 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	var refs []*actors.Ref[counterMsg]
	for i := 0; i < 8; i++ {
		r, err := actors.Spawn(sys, fmt.Sprintf("c%d", i), newCounter, actors.WithMailbox(4))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	// Producers hammer the actors and the pool with blocking sends and asks.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var delivered atomic.Int64
	for i, r := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				var err error
				if j%3 == 0 {
					_, err = actors.Ask(ctx, r, func(rep actors.Reply[int]) counterMsg { return get{rep} })
				} else {
					err = r.Send(ctx, add{1})
				}
				if j%5 == i%5 {
					_ = actors.Do(pool, r, func(context.Context) (int, error) { return j, nil },
						func(v int, _ error) counterMsg { return add{v} })
				}
				if err != nil {
					if !errors.Is(err, actors.ErrStopped) {
						t.Errorf("producer: %v", err)
					}
					return
				}
				delivered.Add(1)
			}
		}()
	}
	// Stop once real traffic has flowed (a count, not a sleep).
	for delivered.Load() < 2000 {
		runtime.Gosched()
	}
	if err := sys.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	wg.Wait()
	for _, r := range refs {
		select {
		case <-r.Done():
		default:
			t.Fatalf("%s still running after Stop", r.Name())
		}
	}
	if _, err := actors.Spawn(sys, "late", newCounter); !errors.Is(err, actors.ErrStopped) {
		t.Fatalf("spawn after stop: %v", err)
	}
}

func TestPoolDoDeliversResultsAndPanics(t *testing.T) {
	actorstest.CheckLeaks(t)
	sys := newSystem(t)
	pool, err := actors.NewPool(sys, "cpu", 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		v   int
		err error
	}
	results := make(chan res, 8)
	ref, err := actors.Spawn(sys, "sink", func(context.Context) (actors.Actor[res], error) {
		return actors.Func[res](func(_ context.Context, m res) error { results <- m; return nil }), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(v int, err error) res { return res{v, err} }
	if err := actors.Do(pool, ref, func(context.Context) (int, error) { return 6 * 7, nil }, wrap); err != nil {
		t.Fatal(err)
	}
	if r := <-results; r.v != 42 || r.err != nil {
		t.Fatalf("result = %+v", r)
	}
	if err := actors.Do(pool, ref, func(context.Context) (int, error) { panic("bad input") }, wrap); err != nil {
		t.Fatal(err)
	}
	var pe *actors.PanicError
	if r := <-results; !errors.As(r.err, &pe) {
		t.Fatalf("panicking job delivered %+v, want *PanicError", r)
	}
	// The pool survives the panic.
	if err := actors.Do(pool, ref, func(context.Context) (int, error) { return 1, nil }, wrap); err != nil {
		t.Fatal(err)
	}
	if r := <-results; r.v != 1 {
		t.Fatalf("result after panic = %+v", r)
	}
}

func TestPoolTrySubmitFull(t *testing.T) {
	actorstest.CheckLeaks(t)
	sys := newSystem(t)
	pool, err := actors.NewPool(sys, "cpu", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	if err := pool.TrySubmit(func(context.Context) { close(started); <-release }); err != nil {
		t.Fatal(err)
	}
	<-started // the only worker is busy
	if err := pool.TrySubmit(func(context.Context) {}); err != nil {
		t.Fatal(err) // fills the queue of 1
	}
	if err := pool.TrySubmit(func(context.Context) {}); !errors.Is(err, actors.ErrPoolFull) {
		t.Fatalf("third submit: %v, want ErrPoolFull", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	if _, err := actors.New("x", actors.WithMailbox(0)); !errors.Is(err, actors.ErrInvalidConfig) {
		t.Fatalf("mailbox 0: %v", err)
	}
	if _, err := actors.New("x", actors.WithRestartPolicy(-1, time.Second)); !errors.Is(err, actors.ErrInvalidConfig) {
		t.Fatalf("negative restarts: %v", err)
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := actors.ExponentialBackoff(100*time.Millisecond, time.Second)
	want := []time.Duration{100, 100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b(i); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := b(1 << 20); got != time.Second {
		t.Errorf("huge failure count: %v", got)
	}
}

func TestChildStopLeavesParentRunning(t *testing.T) {
	actorstest.CheckLeaks(t)
	root := newSystem(t)
	child, err := root.Child("group")
	if err != nil {
		t.Fatal(err)
	}
	inChild, err := actors.Spawn(child, "a", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	inRoot, err := actors.Spawn(root, "b", newCounter)
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Stop(); err != nil {
		t.Fatalf("child stop: %v", err)
	}
	<-inChild.Done()
	if _, err := actors.Spawn(child, "late", newCounter); !errors.Is(err, actors.ErrStopped) {
		t.Fatalf("spawn in stopped child: %v", err)
	}
	if err := inRoot.Tell(add{2}); err != nil {
		t.Fatal(err)
	}
	if got := askCount(t, inRoot); got != 2 {
		t.Fatalf("root actor count = %d", got)
	}
	if root.Err() != nil {
		t.Fatalf("root error after a plain child stop: %v", root.Err())
	}
}
