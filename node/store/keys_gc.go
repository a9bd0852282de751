package store

import (
	"github.com/ipfs/go-datastore"

	"github.com/walrus-go/walrus-go/codec"
)

// BlobRemoved is the key of the marker garbage collection leaves when it removes a blob's
// metadata and slivers (/blobs/<blob_id:hex>/removed: why and when), so a get for the blob
// answers "not stored here" rather than "unknown blob" (docs/architecture.md §5). Storing
// the blob's metadata again deletes it.
func BlobRemoved(id codec.BlobID) datastore.Key { return Blob(id).ChildString("removed") }
