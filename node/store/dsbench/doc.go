// Package dsbench measures the candidate embedded datastores for node/store (docs/architecture.md §7):
// go-ds-pebble (chosen), go-ds-flatfs and go-ds-leveldb, on the workloads a storage node
// has — durable (fsynced) writes of sliver-sized values, reads, and many small keys.
//
// It is a separate Go module so the main module does not depend on flatfs and leveldb:
//
//	cd node/store/dsbench && go test -run '^$' -bench . -benchtime 2s
//
// The numbers it produced are recorded in node/store/doc.go.
package dsbench
