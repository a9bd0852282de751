package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestProfileOnSignal: with $WALRUS_CPU_PROFILE_DIR set, SIGUSR1 starts a CPU profile and
// the next one writes it out; the stop function ends a profile still running (a second
// file).
func TestProfileOnSignal(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(cpuProfileEnv, dir)
	stop := profileOnSignal("test")
	defer stop()
	first := filepath.Join(dir, "test-"+strconv.Itoa(os.Getpid())+"-1.pprof")
	second := filepath.Join(dir, "test-"+strconv.Itoa(os.Getpid())+"-2.pprof")
	signalSelf(t)
	waitFor(t, func() bool { _, err := os.Stat(first); return err == nil })
	signalSelf(t)
	// A CPU profile is written when it stops: gzip's magic bytes first.
	waitFor(t, func() bool { b, _ := os.ReadFile(first); return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) })
	signalSelf(t)
	waitFor(t, func() bool { _, err := os.Stat(second); return err == nil })
	stop()
	if b, _ := os.ReadFile(second); !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("the profile running at stop was not written out (%d bytes)", len(b))
	}
}

func signalSelf(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 s")
		}
	}
}
