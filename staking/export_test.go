package staking

// RecordReceipts writes a checkpoint's receipt entries as execute does (for tests that apply
// transactions one by one and compare roots with a whole checkpoint).
func (s *State) RecordReceipts(height uint64, txs [][]byte, rs []Receipt) {
	s.recordReceipts(height, txs, rs)
}
