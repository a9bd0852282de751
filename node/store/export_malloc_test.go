//go:build linux && cgo

package store

// KeptAfterFree exposes keptAfterFree to the tests.
var KeptAfterFree = keptAfterFree
