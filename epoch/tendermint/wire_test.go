package tendermint_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// TestMalformedFamily: message and snapshot decoding failures are ErrMalformed and
// wire.ErrMalformed.
func TestMalformedFamily(t *testing.T) {
	_, err1 := tendermint.Decode([]byte{1, 2, 3}, 10)
	_, err2 := tendermint.Decode([]byte{99}, 10)
	_, err3 := tendermint.DecodeSnapshot([]byte{1}, 10)
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, tendermint.ErrMalformed) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("case %d: %v is not in the malformed family", i+1, err)
		}
	}
}
