//go:build linux

package testnet

import "syscall"

// setParentDeathSignal makes the kernel SIGTERM a node if Up's process dies without
// stopping it (SIGKILL of the CLI), so no orphaned node keeps the ports.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
