//go:build unix && !linux

package testnet

import "syscall"

// setParentDeathSignal has no portable equivalent outside Linux.
func setParentDeathSignal(*syscall.SysProcAttr) {}
