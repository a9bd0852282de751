package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/staking"
)

// runSite is `walrus site publish DIR [--epochs E] [--deletable] [--aggregator URL]
// [--dry-run] [--json]`: the directory's files are stored as one quilt whose identifiers are their
// paths relative to DIR with '/' separators, which an aggregator serves as a site under
// /v1/sites/{quilt_id}/ (docs/gateway.md, Sites).
func runSite(g *globals, args []string) error {
	if len(args) == 0 || args[0] != "publish" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs := newFlagSet("site")
			printCommandUsage(g.stdout, fs)
			return errHelp
		}
		return errors.New("want `walrus site publish DIR`")
	}
	fs := newFlagSet("site")
	epochs := fs.Uint("epochs", 0, "number of epochs ahead to store the site, 1 to 53 (default: enough for at least a day, at most 53)")
	deletable := fs.Bool("deletable", false, "make the site's quilt deletable by its owner")
	dryRun := fs.Bool("dry-run", false, "only print the quilt ID, encoded size, cost and transaction fees of publishing the site, and the balance after; store nothing")
	aggregator := fs.String("aggregator", "http://"+gateway.DefaultBindAddress, "the aggregator `URL` to print the site's address for")
	asJSON := fs.Bool("json", false, `print {"quiltId","url","files":[{"identifier","quiltPatchId"}],"blobStoreResult"}`)
	pos, err := parseArgs(g, fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want exactly one DIR, got %d arguments", len(pos))
	}
	if *epochs > staking.MaxEpochsAhead || (*epochs == 0 && flagSet(fs, "epochs")) {
		return fmt.Errorf("--epochs must be between 1 and %d", staking.MaxEpochsAhead)
	}
	if g.config == "" {
		return errors.New("no client configuration: pass --config FILE (client.yaml) or set WALRUS_CONFIG")
	}
	files, err := siteFiles(pos[0], maxBlobAnyGeometry())
	if err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	p := s.Client.Params()
	if max := quilt.MaxPatches(p); len(files) > max {
		return fmt.Errorf("%s has %d files; a site is one quilt, which holds at most %d files on this network (n = %d shards)", pos[0], len(files), max, p.N)
	}
	q, err := quilt.Encode(p, files)
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
		what := fmt.Sprintf("%s of %d files", "site", len(files))
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
	url := strings.TrimRight(*aggregator, "/") + "/v1/sites/" + sum.BlobID.String() + "/"
	type siteFile struct {
		Identifier   string        `json:"identifier"`
		QuiltPatchID quilt.PatchID `json:"quiltPatchId"`
	}
	list := make([]siteFile, len(q.Index.Patches))
	hasIndex := false
	for i, pt := range q.Index.Patches {
		list[i] = siteFile{pt.Identifier, pt.PatchID(sum.BlobID)}
		hasIndex = hasIndex || pt.Identifier == "index.html"
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			QuiltID         codec.BlobID         `json:"quiltId"`
			URL             string               `json:"url"`
			Files           []siteFile           `json:"files"`
			BlobStoreResult *client.StoreSummary `json:"blobStoreResult"`
		}{sum.BlobID, url, list, sum})
	}
	if sum.AlreadyCertified {
		fmt.Fprintln(g.stdout, "Success: the site was already stored; nothing uploaded.")
	} else {
		fmt.Fprintln(g.stdout, "Success: site published.")
	}
	fmt.Fprintf(g.stdout, "Quilt ID: %s\nFiles: %d (%s)\nCost: %s\nFee: %s\nExpiry epoch (exclusive): %d\nExpires at: %s\nURL: %s\n",
		sum.BlobID, len(files), humanBytes(filesSize(files)), client.FormatWAL(sum.Cost), client.FormatWAL(sum.Fee), sum.EndEpoch, epochStart(in, sum.EndEpoch), url)
	if !hasIndex {
		fmt.Fprintln(g.stderr, "walrus: warning: the site has no index.html at its root; its URL answers 404")
	}
	return nil
}

// siteFiles reads the regular files under dir (recursively; symbolic links and other
// special files are skipped), each identified by its path relative to dir with '/'
// separators, at most limit bytes in all.
func siteFiles(dir string, limit uint64) ([]quilt.File, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	var files []quilt.File
	var total uint64
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := readBlob(path, limit-min(total, limit))
		if err != nil {
			return err
		}
		total += uint64(len(data))
		files = append(files, quilt.File{Identifier: filepath.ToSlash(rel), Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no files", dir)
	}
	return files, nil
}
