// Package codectest builds what a malicious writer would, for tests of the defences against
// it: an inconsistently encoded blob whose metadata commits to a tampered sliver.
package codectest

import (
	"bytes"
	"fmt"

	"github.com/walrus-go/walrus-go/codec"
)

// Inconsistent returns a copy of enc in which the sliver (axis, index) has one byte flipped
// and the metadata (hence the blob ID) commits to the flipped sliver, as a writer that
// encodes one sliver wrongly would produce. Every sliver verifies against the new metadata,
// so nodes store and certify the blob, but recovering the tampered sliver from the other
// axis's symbols decodes the honest data, whose hash is not the committed one: an
// inconsistency proof (codec.RecoverSliver). enc is not modified.
func Inconsistent(enc *codec.EncodedBlob, axis codec.Axis, index int) (*codec.EncodedBlob, error) {
	p := enc.Params
	if !axis.Valid() || index < 0 || index >= p.N {
		return nil, fmt.Errorf("codectest: no %s sliver %d", axis, index)
	}
	out := *enc
	out.Primary = append([]codec.Sliver(nil), enc.Primary...)
	out.Secondary = append([]codec.Sliver(nil), enc.Secondary...)
	out.Metadata.Hashes = append([]codec.SliverPairHashes(nil), enc.Metadata.Hashes...)
	sl := &out.Primary[index]
	if axis == codec.AxisSecondary {
		sl = &out.Secondary[index]
	}
	sl.Data = bytes.Clone(sl.Data)
	sl.Data[len(sl.Data)/2] ^= 0x5a
	h, err := codec.SliverHash(p, sl)
	if err != nil {
		return nil, err
	}
	if axis == codec.AxisPrimary {
		out.Metadata.Hashes[index].Primary = h
	} else {
		out.Metadata.Hashes[p.N-1-index].Secondary = h
	}
	out.BlobID = out.Metadata.BlobID()
	return &out, nil
}
