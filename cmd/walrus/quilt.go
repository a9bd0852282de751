package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
)

// Quilt commands (docs/quilts.md), with Walrus's flag names: store-quilt (--paths, --blobs),
// read-quilt (--quilt-id with --identifiers or --tag, or --quilt-patch-ids; --out) and
// list-patches-in-quilt. A quilt is stored as one ordinary blob (Session.Store); reads fetch
// only the secondary slivers of the index and of the patches asked for, and fall back to
// reading the whole blob when those cannot be had.

// multiFlags pulls Walrus's multi-valued flags out of args before the stdlib flag set sees
// them: `--paths a b c` takes values up to the next flag, `--tag KEY VALUE` exactly two.
// arity -1 means "until the next argument that starts with -". A flag may repeat.
func multiFlags(args []string, arity map[string]int) (rest []string, vals map[string][]string, err error) {
	vals = map[string][]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name := strings.TrimLeft(a, "-")
		n, ok := arity[name]
		if !ok || !strings.HasPrefix(a, "-") || strings.Contains(name, "=") {
			rest = append(rest, a)
			continue
		}
		got := 0
		for i+1 < len(args) && (n < 0 || got < n) && !(strings.HasPrefix(args[i+1], "-") && len(args[i+1]) > 1) {
			i++
			vals[name] = append(vals[name], args[i])
			got++
		}
		if got == 0 || (n > 0 && got != n) {
			want := "one or more values"
			if n > 0 {
				want = fmt.Sprintf("%d values", n)
			}
			return nil, nil, fmt.Errorf("--%s wants %s", name, want)
		}
	}
	return rest, vals, nil
}

// describeMulti adds usage-only entries for multi-valued flags, so -h lists them.
func describeMulti(fs interface {
	String(string, string, string) *string
}, names map[string]string) {
	for name, usage := range names {
		fs.String(name, "", usage)
	}
}

// blobSpec is one --blobs value: Walrus's {"path", "identifier", "tags"}.
type blobSpec struct {
	Path       string            `json:"path"`
	Identifier *string           `json:"identifier"`
	Tags       map[string]string `json:"tags"`
}

// quiltFiles reads the files named by --paths (files, or directories walked recursively;
// the identifier is the file's name) and --blobs, bounded by limit bytes in all.
func quiltFiles(paths, blobs []string, limit uint64) ([]quilt.File, []string, error) {
	var files []quilt.File
	var sources []string
	var total uint64
	add := func(path, id string, tags map[string]string) error {
		data, err := readBlob(path, limit-min(total, limit))
		if err != nil {
			return err
		}
		total += uint64(len(data))
		files = append(files, quilt.File{Identifier: id, Tags: tags, Data: data})
		sources = append(sources, path)
		return nil
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			if err := add(root, filepath.Base(root), nil); err != nil {
				return nil, nil, err
			}
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			return add(path, d.Name(), nil)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, b := range blobs {
		var spec blobSpec
		dec := json.NewDecoder(strings.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil || dec.More() || spec.Path == "" {
			return nil, nil, fmt.Errorf(`bad --blobs value %q: want {"path":"FILE","identifier":"ID","tags":{"K":"V"}} (identifier and tags optional)`, b)
		}
		id := filepath.Base(spec.Path)
		if spec.Identifier != nil {
			id = *spec.Identifier
		}
		if err := add(spec.Path, id, spec.Tags); err != nil {
			return nil, nil, err
		}
	}
	if len(files) == 0 {
		return nil, nil, errors.New("no files: give --paths or --blobs")
	}
	return files, sources, nil
}

// storedPatch is one entry of store-quilt's output (Walrus's StoredQuiltPatch).
type storedPatch struct {
	Identifier   string        `json:"identifier"`
	QuiltPatchID quilt.PatchID `json:"quiltPatchId"`
	Range        [2]int        `json:"range"` // the patch's columns [start, end)
}

// runStoreQuilt is `walrus store-quilt (--paths P… | --blobs JSON…) [--epochs E]
// [--deletable] [--json]`.
func runStoreQuilt(g *globals, args []string) error {
	rest, multi, err := multiFlags(args, map[string]int{"paths": -1, "blobs": -1})
	if err != nil {
		return err
	}
	fs := newFlagSet("store-quilt")
	describeMulti(fs, map[string]string{
		"paths": "`PATH`s of files or directories (walked recursively) to store; each file's name is its identifier",
		"blobs": `files as JSON objects {"path":…,"identifier":…,"tags":{…}} (identifier defaults to the file name)`,
	})
	epochs := fs.Uint("epochs", 0, "number of epochs ahead to store the quilt, 1 to 53 (default: enough for at least a day, at most 53)")
	deletable := fs.Bool("deletable", false, "make the quilt deletable by its owner")
	dryRun := fs.Bool("dry-run", false, "only print the quilt ID, encoded size, cost and transaction fees of storing the quilt, and the balance after; store nothing")
	asJSON := fs.Bool("json", false, `print {"blobStoreResult":{…},"storedQuiltBlobs":[{"identifier","quiltPatchId","range"}],"quiltId"}`)
	if err := parseNoArgs(g, fs, rest); err != nil {
		return err
	}
	if flagSet(fs, "paths") || flagSet(fs, "blobs") {
		return errors.New("--paths and --blobs take their values as separate arguments")
	}
	if *epochs > staking.MaxEpochsAhead || (*epochs == 0 && flagSet(fs, "epochs")) {
		return fmt.Errorf("--epochs must be between 1 and %d", staking.MaxEpochsAhead)
	}
	if g.config == "" {
		return errors.New("no client configuration: pass --config FILE (client.yaml) or set WALRUS_CONFIG")
	}
	files, _, err := quiltFiles(multi["paths"], multi["blobs"], maxBlobAnyGeometry())
	if err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	q, err := quilt.Encode(s.Client.Params(), files)
	if err != nil {
		return err
	}
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	if *epochs == 0 {
		*epochs = uint(defaultEpochs(time.Duration(in.EpochDuration) * time.Millisecond))
	}
	if *dryRun {
		what := fmt.Sprintf("%s of %d files", "quilt", len(files))
		return printStoreDryRun(g, s, ctx, in, []string{what}, func(string) (*client.StoreEstimate, error) {
			return s.EstimateStore(ctx, q.Blob, uint32(*epochs))
		}, *asJSON)
	}
	opts := client.StoreOptions{Epochs: uint32(*epochs), Deletable: *deletable}
	var bar *progressBar
	if !*asJSON && isTerminal(g.stderr) {
		bar = &progressBar{w: g.stderr}
		opts.Progress = bar.update
	}
	sum, err := s.Store(ctx, q.Blob, opts)
	if bar != nil {
		bar.done()
	}
	if err != nil {
		return err
	}
	patches := make([]storedPatch, len(q.Index.Patches))
	for i, pt := range q.Index.Patches {
		patches[i] = storedPatch{Identifier: pt.Identifier, QuiltPatchID: pt.PatchID(sum.BlobID), Range: [2]int{pt.Start, pt.End}}
	}
	expires := epochStart(in, sum.EndEpoch)
	if *asJSON {
		return printJSON(g.stdout, struct {
			BlobStoreResult any           `json:"blobStoreResult"`
			StoredQuilt     []storedPatch `json:"storedQuiltBlobs"`
			QuiltID         codec.BlobID  `json:"quiltId"`
		}{struct {
			*client.StoreSummary
			ExpiresAt string `json:"expiresAt"`
		}{sum, expires}, patches, sum.BlobID})
	}
	kind := "Permanent"
	if *deletable {
		kind = "Deletable"
	}
	if sum.AlreadyCertified {
		fmt.Fprintf(g.stdout, "Success: %s quilt was already certified; nothing uploaded.\n", kind)
	} else {
		fmt.Fprintf(g.stdout, "Success: %s quilt stored successfully.\n", kind)
	}
	fmt.Fprintf(g.stdout, "Quilt ID: %s\nPatches: %d\nUnencoded size: %s (the files: %s)\nEncoded size (including replicated metadata): %s\n",
		sum.BlobID, len(patches), humanBytes(sum.UnencodedLength), humanBytes(filesSize(files)), humanBytes(sum.EncodedLength))
	fmt.Fprintf(g.stdout, "Cost: %s\nFee: %s\nCertified in epoch: %d\nExpiry epoch (exclusive): %d\nExpires at: %s\n",
		client.FormatWAL(sum.Cost), client.FormatWAL(sum.Fee), sum.CertifiedEpoch, sum.EndEpoch, expires)
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTIFIER\tQUILT PATCH ID")
	for _, pt := range patches {
		fmt.Fprintf(tw, "%s\t%s\n", pt.Identifier, pt.QuiltPatchID)
	}
	return tw.Flush()
}

func filesSize(files []quilt.File) uint64 {
	var n uint64
	for _, f := range files {
		n += uint64(len(f.Data))
	}
	return n
}

// patchItem is one patch as list-patches-in-quilt and read-quilt --json print it (the
// aggregator's QuiltPatchItem, plus where read-quilt wrote it).
type patchItem struct {
	Identifier string            `json:"identifier"`
	PatchID    quilt.PatchID     `json:"patch_id"`
	Tags       map[string]string `json:"tags"`
	Path       string            `json:"path,omitempty"`
	Size       *int              `json:"size,omitempty"`
}

func itemOf(id codec.BlobID, pt quilt.Patch) patchItem {
	tags := pt.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return patchItem{Identifier: pt.Identifier, PatchID: pt.PatchID(id), Tags: tags}
}

// runListPatches is `walrus list-patches-in-quilt QUILT_ID [--json]`: the index, read
// from the index's own slivers.
func runListPatches(g *globals, args []string) error {
	fs := newFlagSet("list-patches-in-quilt")
	asJSON := fs.Bool("json", false, `print [{"identifier","patch_id","tags"}]`)
	id, err := blobIDArg(g, fs, args)
	if err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	r, err := openQuilt(ctx, s, id, g.stderr)
	if err != nil {
		return err
	}
	ix, err := r.index(ctx)
	if err != nil {
		return err
	}
	items := make([]patchItem, len(ix.Patches))
	for i, pt := range ix.Patches {
		items[i] = itemOf(id, pt)
	}
	if *asJSON {
		return printJSON(g.stdout, items)
	}
	fmt.Fprintf(g.stdout, "Quilt ID: %s\nPatches: %d\n", id, len(items))
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTIFIER\tQUILT PATCH ID\tTAGS")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Identifier, it.PatchID, formatTags(it.Tags))
	}
	return tw.Flush()
}

func formatTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	return strings.Join(parts, ",")
}

// runReadQuilt is `walrus read-quilt --out DIR (--quilt-id ID [--identifiers X… | --tag K V]
// | --quilt-patch-ids P…) [--json]`: each patch is written to DIR/IDENTIFIER.
func runReadQuilt(g *globals, args []string) error {
	rest, multi, err := multiFlags(args, map[string]int{"identifiers": -1, "quilt-patch-ids": -1, "tag": 2})
	if err != nil {
		return err
	}
	fs := newFlagSet("read-quilt")
	describeMulti(fs, map[string]string{
		"identifiers":     "`IDENTIFIER`s of the patches to read (with --quilt-id)",
		"tag":             "`KEY VALUE`: read the patches carrying this tag (with --quilt-id)",
		"quilt-patch-ids": "quilt patch `ID`s to read (as store-quilt and list-patches-in-quilt print them)",
	})
	quiltID := fs.String("quilt-id", "", "the quilt's blob `ID`; alone, every patch is read")
	out := fs.String("out", "", "`DIR`ectory to write each patch to, as DIR/IDENTIFIER (created if missing)")
	asJSON := fs.Bool("json", false, `print [{"identifier","patch_id","tags","path","size"}]`)
	if err := parseNoArgs(g, fs, rest); err != nil {
		return err
	}
	for _, name := range []string{"identifiers", "tag", "quilt-patch-ids"} {
		if flagSet(fs, name) {
			return fmt.Errorf("--%s takes its values as separate arguments", name)
		}
	}
	ids, tag, pids := multi["identifiers"], multi["tag"], multi["quilt-patch-ids"]
	_, hasIDs := multi["identifiers"]
	_, hasTag := multi["tag"]
	_, hasPIDs := multi["quilt-patch-ids"]
	switch {
	case *out == "":
		return errors.New("--out DIR is required")
	case hasPIDs && (*quiltID != "" || hasIDs || hasTag):
		return errors.New("--quilt-patch-ids goes alone, without --quilt-id, --identifiers or --tag")
	case !hasPIDs && *quiltID == "":
		return errors.New("give --quilt-id (with --identifiers, --tag or neither) or --quilt-patch-ids")
	case hasIDs && hasTag:
		return errors.New("give --identifiers or --tag, not both")
	}
	// Parse every ID before touching the network.
	type want struct {
		quilt codec.BlobID
		pid   *quilt.PatchID
	}
	var wants []want
	if hasPIDs {
		for _, s := range pids {
			pid, err := quilt.ParsePatchID(s)
			if err != nil {
				return fmt.Errorf("bad quilt patch ID %q: %w", s, err)
			}
			wants = append(wants, want{quilt: pid.Quilt, pid: &pid})
		}
	} else {
		id, err := parseBlobID(*quiltID)
		if err != nil {
			return err
		}
		wants = append(wants, want{quilt: id})
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	readers := map[codec.BlobID]*quiltReader{}
	var items []patchItem
	for _, w := range wants {
		r := readers[w.quilt]
		if r == nil {
			if r, err = openQuilt(ctx, s, w.quilt, g.stderr); err != nil {
				return err
			}
			readers[w.quilt] = r
		}
		ix, err := r.index(ctx)
		if err != nil {
			return err
		}
		var patches []quilt.Patch
		switch {
		case w.pid != nil:
			if err := w.pid.Check(r.p); err != nil {
				return err
			}
			pt, ok := ix.At(int(w.pid.Start))
			if !ok || pt.End != int(w.pid.End) {
				return fmt.Errorf("quilt %s has no patch %s (columns %d..%d)", w.quilt, w.pid, w.pid.Start, w.pid.End)
			}
			patches = append(patches, pt)
		case hasIDs:
			var missing []string
			for _, id := range ids {
				pt, ok := ix.Lookup(id)
				if !ok {
					missing = append(missing, id)
				}
				patches = append(patches, pt)
			}
			if len(missing) > 0 {
				return fmt.Errorf("quilt %s has no patch with identifier %q", w.quilt, missing)
			}
		case hasTag:
			patches = ix.ByTag(tag[0], tag[1])
		default:
			patches = ix.Patches
		}
		for _, pt := range patches {
			path, err := patchPath(*out, pt.Identifier)
			if err != nil {
				return err
			}
			f, err := r.patch(ctx, pt)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := writeFileStreaming(path, func(w io.Writer) error {
				_, err := io.Copy(w, bytes.NewReader(f.Data))
				return err
			}); err != nil {
				return err
			}
			it := itemOf(w.quilt, pt)
			it.Path, it.Size = path, new(len(f.Data))
			items = append(items, it)
		}
	}
	if *asJSON {
		if items == nil {
			items = []patchItem{}
		}
		return printJSON(g.stdout, items)
	}
	if len(items) == 0 {
		fmt.Fprintln(g.stdout, "No patches matched.")
		return nil
	}
	for _, it := range items {
		fmt.Fprintf(g.stdout, "Wrote %s (%s) to %s\n", it.Identifier, humanBytes(uint64(*it.Size)), it.Path)
	}
	return nil
}

// patchPath is where read-quilt writes a patch: DIR/IDENTIFIER, subdirectories included
// for identifiers with slashes; identifiers that would leave DIR are refused.
func patchPath(dir, identifier string) (string, error) {
	rel := filepath.FromSlash(identifier)
	if !filepath.IsLocal(rel) || filepath.Clean(rel) == "." {
		return "", fmt.Errorf("identifier %q is not a file name inside --out; not writing it", identifier)
	}
	return filepath.Join(dir, rel), nil
}

// quiltReader reads one certified quilt: its metadata once, then secondary slivers by
// column, each from the node holding it and verified against the metadata; on any failure
// it falls back to reading and decoding the whole blob (Session.Read).
type quiltReader struct {
	s          *client.Session
	com        *epoch.Committee
	id         codec.BlobID
	p          codec.Params
	meta       codec.Metadata
	symbolSize int
	warn       io.Writer

	cols  map[int][]byte
	ix    *quilt.Index
	whole *quilt.Quilt
}

// errNotQuilt: the blob's length is not that of a quilt at this shard count.
var errNotQuilt = errors.New("not a quilt")

func openQuilt(ctx context.Context, s *client.Session, id codec.BlobID, warn io.Writer) (*quiltReader, error) {
	st, err := s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	switch st.Status.Kind {
	case staking.StatusCertified:
	case staking.StatusNonexistent:
		return nil, fmt.Errorf("%w: quilt %s does not exist", client.ErrNotFound, id)
	case staking.StatusInvalid:
		return nil, fmt.Errorf("%w: quilt %s is invalid", client.ErrInvalidBlob, id)
	default:
		return nil, fmt.Errorf("%w: quilt %s is %s", client.ErrBlobUnavailable, id, st.Status.Kind)
	}
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		return nil, err
	}
	p := s.Client.Params()
	meta, err := s.Client.Metadata(ctx, com, id)
	if err != nil {
		return nil, err
	}
	ss, err := quilt.SymbolSize(p, meta.UnencodedLength)
	if err != nil {
		return nil, fmt.Errorf("blob %s is %w: %v", id, errNotQuilt, err)
	}
	return &quiltReader{s: s, com: com, id: id, p: p, meta: meta, symbolSize: ss, warn: warn, cols: map[int][]byte{}}, nil
}

// fallback reads and decodes the whole quilt once, after a sliver fetch failed.
func (r *quiltReader) fallback(ctx context.Context, why error) error {
	if r.whole != nil {
		return nil
	}
	fmt.Fprintf(r.warn, "walrus: fetching the quilt's slivers failed (%v); reading the whole quilt\n",
		strings.ReplaceAll(why.Error(), "\n", "; "))
	blob, err := r.s.Read(ctx, r.id)
	if err != nil {
		return err
	}
	q, err := quilt.Decode(r.p, blob)
	if err != nil {
		return fmt.Errorf("blob %s is %w: %v", r.id, errNotQuilt, err)
	}
	r.whole, r.ix = q, &q.Index
	return nil
}

// index returns the quilt index, from secondary slivers 0..k-1.
func (r *quiltReader) index(ctx context.Context) (*quilt.Index, error) {
	if r.ix != nil {
		return r.ix, nil
	}
	ix, err := func() (*quilt.Index, error) {
		c0, err := r.columns(ctx, 0, 1)
		if err != nil {
			return nil, err
		}
		k, err := quilt.IndexColumns(r.p, r.symbolSize, c0)
		if err != nil {
			return nil, err
		}
		cols, err := r.columns(ctx, 0, k)
		if err != nil {
			return nil, err
		}
		return quilt.ReadIndexFromColumns(r.p, r.symbolSize, cols)
	}()
	switch {
	case err == nil:
		r.ix = ix
		return ix, nil
	case errors.Is(err, quilt.ErrMalformed):
		return nil, fmt.Errorf("blob %s is %w: %v", r.id, errNotQuilt, err)
	}
	if err := r.fallback(ctx, err); err != nil {
		return nil, err
	}
	return r.ix, nil
}

// patch returns one patch's file, from its secondary slivers.
func (r *quiltReader) patch(ctx context.Context, pt quilt.Patch) (quilt.File, error) {
	if r.whole == nil {
		cols, err := r.columns(ctx, pt.Start, pt.End)
		if err == nil {
			f, err := quilt.DecodePatch(cols)
			if err == nil && f.Identifier != pt.Identifier {
				err = fmt.Errorf("%w: the patch at column %d is %q, the index says %q", quilt.ErrMalformed, pt.Start, f.Identifier, pt.Identifier)
			}
			if err != nil {
				return quilt.File{}, fmt.Errorf("quilt %s, patch %q: %w", r.id, pt.Identifier, err)
			}
			return f, nil
		}
		if err := r.fallback(ctx, err); err != nil {
			return quilt.File{}, err
		}
	}
	return r.whole.PatchAt(pt.PatchID(r.id))
}

// columns returns the column-ordered bytes of columns [start, end), fetching the secondary
// slivers not yet held.
func (r *quiltReader) columns(ctx context.Context, start, end int) ([]byte, error) {
	var need []int
	for c := start; c < end; c++ {
		if r.cols[c] == nil {
			need = append(need, c)
		}
	}
	if err := r.fetch(ctx, need); err != nil {
		return nil, err
	}
	out := make([]byte, 0, (end-start)*r.p.R*r.symbolSize)
	for c := start; c < end; c++ {
		out = append(out, r.cols[c]...)
	}
	return out, nil
}

// fetch gets secondary slivers cols from the members holding them, each verified against
// the metadata (client.Client.ReadSecondarySlivers), and keeps those that came.
func (r *quiltReader) fetch(ctx context.Context, cols []int) error {
	if len(cols) == 0 {
		return nil
	}
	got, err := r.s.Client.ReadSecondarySlivers(ctx, r.com, r.id, &r.meta, cols)
	for c, d := range got {
		r.cols[c] = d
	}
	return err
}
