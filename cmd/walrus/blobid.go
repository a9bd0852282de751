package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
)

// defaultShards is Walrus Mainnet's and Testnet's shard count (docs/protocol.md, notation), so
// that by default a blob ID printed here is the one Walrus gives the same file.
const defaultShards = 1000

// blobIDResult is the --json output of blob-id.
type blobIDResult struct {
	BlobID          codec.BlobID `json:"blobId"`
	UnencodedLength uint64       `json:"unencodedLength"`
	EncodedLength   uint64       `json:"encodedLength"` // docs/protocol.md §6: what storage is bought for
	SymbolSize      int          `json:"symbolSize"`
	NShards         int          `json:"nShards"`
}

// runBlobID is `walrus blob-id [--n-shards N] [--json] FILE`: it computes the blob's
// metadata locally (docs/protocol.md §3) and prints the blob ID. FILE "-" reads stdin.
func runBlobID(g *globals, args []string) error {
	fs := newFlagSet("blob-id")
	n := fs.Int("n-shards", defaultShards, "number of shards of the target network")
	asJSON := fs.Bool("json", false, "print a JSON object instead of the bare blob ID")
	budgetFlag := fs.String("memory-budget", "", "bound the encoding's working memory, e.g. 512MiB (the file is not read into memory; past the budget the encoding spills to a temporary file; default: min(physical memory / 4, 2 GiB))")
	pos, err := parseArgs(g, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want exactly one FILE, got %d arguments", len(pos))
	}
	p, err := codec.NewParams(*n)
	if err != nil {
		return fmt.Errorf("--n-shards: %w", err)
	}
	budget, err := memoryBudget(*budgetFlag)
	if err != nil {
		return err
	}
	id, length, err := fileBlobID(p, pos[0], budget)
	if err != nil {
		return err
	}
	if !*asJSON {
		_, err = fmt.Fprintln(g.stdout, id)
		return err
	}
	s, err := p.SymbolSize(length)
	if err != nil {
		return err
	}
	enc, err := p.EncodedLength(length)
	if err != nil {
		return err
	}
	out, err := json.Marshal(blobIDResult{BlobID: id, UnencodedLength: length,
		EncodedLength: enc, SymbolSize: s, NShards: p.N})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "%s\n", out)
	return err
}

// fileBlobID is the blob ID and length of the file at path (stdin for "-", spooled to a
// temporary file) for params p, computed within budget without reading the file into
// memory.
func fileBlobID(p codec.Params, path string, budget int64) (codec.BlobID, uint64, error) {
	data, unmap, err := mapBlob(path, p.MaxBlobSize())
	if err != nil {
		return codec.BlobID{}, 0, err
	}
	defer unmap()
	_, id, err := client.BlobMetadata(p, data, budget, "")
	return id, uint64(len(data)), err
}

// readBlob reads the whole file (or stdin for "-"), refusing anything over limit bytes
// before reading it: a regular file's size is checked up front, and every read is capped
// at limit+1 bytes so a growing file or an endless pipe cannot exhaust memory.
func readBlob(path string, limit uint64) ([]byte, error) {
	var f *os.File
	if path == "-" {
		f = os.Stdin
	} else {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	var data []byte
	if st.Mode().IsRegular() {
		if size := uint64(st.Size()); size > limit {
			return nil, tooLarge(path, size, limit)
		}
		data = make([]byte, 0, st.Size()+1) // +1: room to see EOF without growing
	}
	data, err = readAllCapped(f, data, limit+1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if uint64(len(data)) > limit {
		return nil, tooLarge(path, uint64(len(data)), limit)
	}
	return data, nil
}

func tooLarge(path string, size, limit uint64) error {
	return fmt.Errorf("%s: %w: %d bytes, the maximum is %d", path, codec.ErrBlobTooLarge, size, limit)
}

// readAllCapped appends at most max bytes from r to buf.
func readAllCapped(r io.Reader, buf []byte, max uint64) ([]byte, error) {
	lr := &io.LimitedReader{R: r, N: int64(min(max, 1<<62))}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
