package consensus

import (
	"encoding/binary"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// The `consensus` topic carries seq u64 LE || tendermint.Encode(message). GossipSub names a
// message by the hash of its bytes and drops any it has seen (p2p.NewGossip), the sender's
// own publications included; Tendermint's liveness over a lossy network rests on
// re-broadcasting the very same signed messages (epoch/tendermint package doc), and BLS
// signatures are deterministic, so without the sequence number every re-broadcast would be
// silently dropped and a message lost once (e.g. sent before the peers were connected) would
// stay lost. The sequence number is not signed and means nothing beyond making each
// publication distinct; receivers drop duplicates of the message itself.

// wireSeqSize is the size of the sequence prefix.
const wireSeqSize = 8

// EncodeWire wraps an encoded consensus message with sequence number seq.
func EncodeWire(seq uint64, encoded []byte) []byte {
	b := make([]byte, 0, wireSeqSize+len(encoded))
	b = binary.LittleEndian.AppendUint64(b, seq)
	return append(b, encoded...)
}

// The `txs` topic carries seq u64 LE || a signed transaction, for the same reason: a node
// publishes a local transaction again (actor.regossip) when its client offers it again, in
// case the first publication reached nobody, and without the sequence number GossipSub
// would drop the copy as one it has seen, for two minutes.

// EncodeTxWire wraps a signed transaction's encoding with sequence number seq.
func EncodeTxWire(seq uint64, raw []byte) []byte { return EncodeWire(seq, raw) }

// TxOfWire returns the transaction encoding inside a `txs` topic payload (untrusted).
func TxOfWire(b []byte) ([]byte, error) {
	if len(b) < wireSeqSize {
		return nil, fmt.Errorf("consensus: %d-byte txs payload", len(b))
	}
	return b[wireSeqSize:], nil
}

// DecodeWire parses a `consensus` topic payload (untrusted) into its message.
func DecodeWire(b []byte, maxValue int) (tendermint.Message, error) {
	if len(b) < wireSeqSize {
		return nil, fmt.Errorf("%w: %d-byte consensus payload", tendermint.ErrMalformed, len(b))
	}
	return tendermint.Decode(b[wireSeqSize:], maxValue)
}
