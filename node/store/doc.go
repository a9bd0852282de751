// Package store is the node's datastore (DESIGN.md §7): go-datastore is the interface
// everywhere, and [Open] returns it over an embedded pebble engine with every write
// fsynced, so what a storage confirmation promises is on disk before it is signed. The key
// layout lives in keys.go, as typed constructors.
//
// # Why pebble
//
// Measurement pending (see dsbench/).
package store
