//go:build unix

package testnet

import (
	"errors"
	"syscall"
)

// procAttr puts each node in its own process group, so a Ctrl-C at the terminal reaches
// only Up, which then stops the nodes in order (SIGTERM, wait, SIGKILL).
func procAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(a)
	return a
}

// processAlive reports whether pid names a live process (signal 0 probes without
// delivering anything; EPERM means it exists under another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
