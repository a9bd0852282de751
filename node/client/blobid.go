package client

import (
	"errors"

	"github.com/walrus-go/walrus-go/codec"
)

// BlobMetadata computes the metadata and blob ID of data (a blob in memory, or a file
// mapped with MapFile or SpoolFile) within budget bytes of working memory, as a streaming
// store does: a mapped file is read with pread rather than through the mapping, and the
// recovery cells spill to temporary files in spillDir (os.TempDir() if empty) when they do
// not fit. budget 0 leaves the encoder's default plan. The result is ComputeMetadata's.
func BlobMetadata(p codec.Params, data []byte, budget int64, spillDir string) (codec.Metadata, codec.BlobID, error) {
	enc, _ := splitBudget(budget)
	spill, release := spillAllocator(spillDir)
	defer release()
	var meta codec.Metadata
	var id codec.BlobID
	_, _, err := codec.EncodeStream(p, data, codec.StreamOptions{Budget: enc, Spill: spill, Source: fileBehind(data)},
		func(m *codec.Metadata, i codec.BlobID) error {
			meta, id = *m, i
			return codec.ErrStopped
		}, nil)
	if !errors.Is(err, codec.ErrStopped) {
		if err == nil {
			err = errors.New("client: encoder ended without metadata")
		}
		return codec.Metadata{}, codec.BlobID{}, err
	}
	return meta, id, nil
}
