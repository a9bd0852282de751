package staking

// RecordReceipts writes a checkpoint's receipt entries as execute does (for tests that apply
// transactions one by one and compare roots with a whole checkpoint).
func (s *State) RecordReceipts(height uint64, txs [][]byte, rs []Receipt) {
	s.recordReceipts(height, txs, rs)
}

// EntryKinds counts the state tree's leaves by kind, named (for scripts and growth tests).
func (s *State) EntryKinds() map[string]int {
	names := map[byte]string{kindParams: "params", kindCommittee: "committee", kindAccount: "accounts",
		kindStorage: "storage", kindBlob: "blobs", kindBlobID: "blob-ids", kindNode: "nodes", kindStake: "stakes",
		kindIncome: "income", kindReserved: "reserved", kindSyncDone: "sync-done", kindChallenge: "challenges",
		kindOwnerStake: "stake-index", kindOwnerBlob: "blob-index", kindReceipt: "receipts",
		kindExpiryBlob: "blob-expiry", kindExpiryStorage: "storage-expiry"}
	s.flush()
	out := map[string]int{}
	s.st.tree.Walk(nil, func(p, _ [32]byte, _ any) bool {
		nm, ok := names[p[0]]
		if !ok {
			nm = "unknown"
		}
		out[nm]++
		return true
	})
	return out
}
