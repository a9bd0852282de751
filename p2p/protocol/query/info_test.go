package query_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
)

// TestInfoPreviousCommittee: the previous committee travels with Info during an epoch
// change and is checked on decoding (one epoch before the current one, same shard count).
func TestInfoPreviousCommittee(t *testing.T) {
	cur, _ := epochtest.Committee(5, []int{3, 4, 3}, 1)
	prev, _ := epochtest.Committee(4, []int{5, 5}, 2)
	in := &query.Info{Height: 9, Epoch: 5, NShards: 10, Committee: cur, Previous: prev}
	b, err := query.EncodeInfo(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := query.DecodeInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Previous == nil || got.Previous.Epoch != 4 || len(got.Previous.Members) != 2 || got.Previous.Owner(0) < 0 {
		t.Fatalf("previous committee %+v", got.Previous)
	}
	in.Previous = nil
	if b, err = query.EncodeInfo(in); err != nil {
		t.Fatal(err)
	}
	if got, err = query.DecodeInfo(b); err != nil || got.Previous != nil {
		t.Fatalf("without a change: %+v %v", got.Previous, err)
	}
	// A "previous" committee that is not the epoch before, or has another shard count.
	for _, bad := range []int{3, 5} {
		wrong, _ := epochtest.Committee(uint32(bad), []int{5, 5}, 3)
		in.Previous = wrong
		if b, err = query.EncodeInfo(in); err != nil {
			t.Fatal(err)
		}
		if _, err := query.DecodeInfo(b); !errors.Is(err, query.ErrMalformed) {
			t.Errorf("previous committee of epoch %d accepted: %v", bad, err)
		}
	}
	other, _ := epochtest.Committee(4, []int{6, 6}, 3)
	in.Previous = other
	if b, err = query.EncodeInfo(in); err != nil {
		t.Fatal(err)
	}
	if _, err := query.DecodeInfo(b); !errors.Is(err, query.ErrMalformed) {
		t.Errorf("previous committee of 12 shards accepted: %v", err)
	}
}
