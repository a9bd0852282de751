package staking_test

import (
	"bytes"
	"testing"

	"github.com/walrus-go/walrus-go/staking"
)

// FuzzDecodeCheckpoint: arbitrary bytes (a checkpoint comes from any peer, inside a
// decision or a proven answer) never make DecodeCheckpoint panic, and every checkpoint it
// accepts is canonical: re-encoding gives the same bytes, so a checkpoint has one hash.
func FuzzDecodeCheckpoint(f *testing.F) {
	_, n := runScript(f, fuzzScript)
	empty, _, err := n.s.BuildCheckpoint(n.s.Time()+1, nil)
	if err != nil {
		f.Fatal(err)
	}
	withTxs := *empty
	withTxs.Txs = [][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{7}, 100)}
	for _, cp := range []*staking.Checkpoint{empty, &withTxs} {
		b := cp.Encode()
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(append([]byte(nil), b...), 0))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := staking.DecodeCheckpoint(b)
		if err != nil {
			return
		}
		if again := cp.Encode(); !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical checkpoint (%d bytes re-encode to %d)", len(b), len(again))
		}
	})
}
