package main

// listProvenAt is where a proven listing's facts are proven (nil when the client did not
// verify the listing): every page was proven complete at one certified checkpoint.
func listProvenAt(proven bool, height uint64, epoch uint32) *provenAt {
	if !proven {
		return nil
	}
	return &provenAt{Height: height, Epoch: epoch}
}
