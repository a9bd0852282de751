package staking

import "github.com/walrus-go/walrus-go/epoch"

// NodeSyncDone reports whether node announced sync done for the current epoch (a
// `sync done` transaction, docs/protocol.md §7).
func (s *State) NodeSyncDone(node epoch.NodeID) bool { return s.syncDone.has(node) }
