package codec

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor runs fn(worker, i) for every i in [0, count) on at most GOMAXPROCS goroutines
// (bounded fan-out inside one call, as the pure-core rule allows; docs/architecture.md §2). Each worker
// index in [0, workers) is used by one goroutine at a time, so fn may keep per-worker scratch.
// It returns the first error any call returned (remaining items are then skipped).
func parallelFor(count int, fn func(worker, i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), count)
	if workers <= 1 {
		for i := range count {
			if err := fn(0, i); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var failed atomic.Bool
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				if err := fn(w, i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// numWorkers is the worker count parallelFor will use for count items.
func numWorkers(count int) int { return max(1, min(runtime.GOMAXPROCS(0), count)) }
