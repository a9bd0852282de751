package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
)

// cpuProfileEnv names a directory in which any walrus process (a node, a store) writes CPU
// profiles of the windows SIGUSR1 marks: the first signal starts a profile, the next stops
// it, and so on, each window in <dir>/<command>-<pid>-<k>.pprof. It profiles one phase of
// a multi-process run (make bench-big's upload window: the client and every node) from
// outside. Unset in normal use, and then SIGUSR1 keeps its default action.
const cpuProfileEnv = "WALRUS_CPU_PROFILE_DIR"

// profileOnSignal installs the SIGUSR1 profile toggle when $WALRUS_CPU_PROFILE_DIR is set
// and returns what stops a profile still running (call it before the process exits).
func profileOnSignal(command string) (stop func()) {
	dir := os.Getenv(cpuProfileEnv)
	if dir == "" {
		return func() {}
	}
	t := &profileToggle{dir: dir, prefix: command + "-" + strconv.Itoa(os.Getpid())}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-ch:
				if err := t.toggle(); err != nil {
					fmt.Fprintf(os.Stderr, "walrus: cpu profile: %v\n", err)
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			<-exited // no toggle after the stop below
			t.stop()
		})
	}
}

// profileToggle starts and stops numbered CPU profiles.
type profileToggle struct {
	mu     sync.Mutex
	dir    string
	prefix string
	n      int
	f      *os.File // the running profile's file, or nil
}

// toggle starts the next profile, or stops the running one.
func (t *profileToggle) toggle() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		return t.stopLocked()
	}
	t.n++
	f, err := os.Create(filepath.Join(t.dir, fmt.Sprintf("%s-%d.pprof", t.prefix, t.n)))
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	t.f = f
	return nil
}

func (t *profileToggle) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.stopLocked()
}

func (t *profileToggle) stopLocked() error {
	if t.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := t.f.Close()
	t.f = nil
	return err
}
