package client

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/fsutil"
)

// pendingFile is the small file a resumable store keeps beside the client configuration
// (StoreOptions.PendingDir, <dir>/<blob ID>.json) with the storage confirmations it has
// collected, so a store interrupted after some nodes confirmed does not ask them again.
// It is untrusted on reading: every signature is verified against the committee and the
// confirmation message of the run that reads it (a stale or foreign entry is dropped), and
// the file is removed once the blob is certified.
type pendingFile struct {
	BlobID string `json:"blobId"`
	// Epoch and Message are what the confirmations sign (docs/protocol.md §5): entries of
	// another epoch or message are useless.
	Epoch   uint32 `json:"epoch"`
	Message string `json:"message"`
	// Confirmations maps a member's node ID (hex) to its BLS signature (hex).
	Confirmations map[string]string `json:"confirmations"`
}

// maxPendingFile bounds a pending file read: a committee of 1000 members' signatures.
const maxPendingFile = 1 << 20

// pendingCache is one store's pending file.
type pendingCache struct {
	mu   sync.Mutex
	path string // "" when disabled
	f    pendingFile
}

func newPendingCache(dir string, id codec.BlobID, ep uint32, msg []byte) *pendingCache {
	pc := &pendingCache{f: pendingFile{BlobID: id.String(), Epoch: ep, Message: hex.EncodeToString(msg), Confirmations: map[string]string{}}}
	if dir != "" {
		pc.path = filepath.Join(dir, id.String()+".json")
	}
	return pc
}

// load returns the cached signatures that are for this blob, epoch and message, by node.
// They are verified by the caller (CertBuilder.Add) before use.
func (pc *pendingCache) load() map[epoch.NodeID]bls.Signature {
	out := map[epoch.NodeID]bls.Signature{}
	if pc.path == "" {
		return out
	}
	b, err := fsutil.ReadBounded(pc.path, maxPendingFile)
	if err != nil {
		return out
	}
	var f pendingFile
	if json.Unmarshal(b, &f) != nil || f.BlobID != pc.f.BlobID || f.Epoch != pc.f.Epoch || f.Message != pc.f.Message {
		return out
	}
	for k, v := range f.Confirmations {
		var node epoch.NodeID
		var sig bls.Signature
		kb, err1 := hex.DecodeString(k)
		vb, err2 := hex.DecodeString(v)
		if err1 != nil || err2 != nil || len(kb) != len(node) || len(vb) != len(sig) {
			continue
		}
		copy(node[:], kb)
		copy(sig[:], vb)
		out[node] = sig
	}
	return out
}

// add records a verified confirmation and rewrites the file atomically.
func (pc *pendingCache) add(node epoch.NodeID, sig bls.Signature) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.path == "" {
		return nil
	}
	pc.f.Confirmations[hex.EncodeToString(node[:])] = hex.EncodeToString(sig[:])
	b, err := json.MarshalIndent(&pc.f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(pc.path), 0o700); err != nil {
		return err
	}
	return fsutil.WriteAtomic(pc.path, b, 0o600)
}

// remove deletes the file once the blob is certified; confirmations that arrive later
// (the background uploads) are not cached any more.
func (pc *pendingCache) remove() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.path == "" {
		return
	}
	if err := os.Remove(pc.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
	pc.path = ""
}
