package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
	"github.com/walrus-go/walrus-go/testnet"
)

func TestMultiFlags(t *testing.T) {
	rest, vals, err := multiFlags([]string{"--paths", "a", "b", "--json", "-blobs", "{}", "--epochs", "3", "--paths", "c"},
		map[string]int{"paths": -1, "blobs": -1})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rest, []string{"--json", "--epochs", "3"}) || !reflect.DeepEqual(vals["paths"], []string{"a", "b", "c"}) ||
		!reflect.DeepEqual(vals["blobs"], []string{"{}"}) {
		t.Fatalf("rest %q, vals %q", rest, vals)
	}
	rest, vals, err = multiFlags([]string{"--tag", "k", "v", "x", "--", "--tag"}, map[string]int{"tag": 2})
	if err != nil || !reflect.DeepEqual(vals["tag"], []string{"k", "v"}) || !reflect.DeepEqual(rest, []string{"x", "--", "--tag"}) {
		t.Fatalf("rest %q, vals %q, %v", rest, vals, err)
	}
	for _, args := range [][]string{{"--tag", "k"}, {"--tag", "k", "--json"}, {"--paths"}, {"--paths", "--json"}} {
		if _, _, err := multiFlags(args, map[string]int{"tag": 2, "paths": -1}); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestPatchPath(t *testing.T) {
	for id, want := range map[string]string{"a.txt": "d/a.txt", "css/site.css": "d/css/site.css", "海豹.png": "d/海豹.png"} {
		if got, err := patchPath("d", id); err != nil || got != filepath.FromSlash(want) {
			t.Errorf("patchPath(%q) = %q, %v", id, got, err)
		}
	}
	for _, id := range []string{"../x", "/etc/passwd", "a/../../x", "", "."} {
		if got, err := patchPath("d", id); err == nil {
			t.Errorf("patchPath(%q) = %q, want an error", id, got)
		}
	}
}

// The quilt commands refuse bad usage with one line, before dialling anything.
func TestQuiltCommandsRefuseBadUsage(t *testing.T) {
	t.Setenv("WALRUS_CONFIG", "")
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	pid := "GRSuRSQ_hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6XcBuQG8AQ"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"store-quilt", "--paths", file}, "--config"},
		{[]string{"store-quilt"}, "--config"},
		{[]string{"--config", "x.yaml", "store-quilt"}, "no files"},
		{[]string{"--config", "x.yaml", "store-quilt", "--paths"}, "--paths wants"},
		{[]string{"--config", "x.yaml", "store-quilt", "--paths", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--config", "x.yaml", "store-quilt", "--blobs", `{"path":1}`}, "bad --blobs"},
		{[]string{"--config", "x.yaml", "store-quilt", "--blobs", `{"path":"f","colour":"red"}`}, "bad --blobs"},
		{[]string{"--config", "x.yaml", "store-quilt", "--paths", file, "--epochs", "0"}, "--epochs"},
		{[]string{"store-quilt", "extra"}, "unexpected arguments"},
		{[]string{"read-quilt", "--quilt-id", id}, "--out"},
		{[]string{"read-quilt", "--out", dir}, "--quilt-id"},
		{[]string{"read-quilt", "--out", dir, "--quilt-id", id, "--identifiers", "a", "--tag", "k", "v"}, "not both"},
		{[]string{"read-quilt", "--out", dir, "--quilt-id", id, "--quilt-patch-ids", pid}, "alone"},
		{[]string{"read-quilt", "--out", dir, "--quilt-patch-ids", "nope"}, "bad quilt patch ID"},
		{[]string{"read-quilt", "--out", dir, "--quilt-id", "nope"}, "bad blob ID"},
		{[]string{"read-quilt", "--out", dir, "--quilt-id", id, "--tag", "k"}, "--tag wants 2 values"},
		{[]string{"read-quilt", "--out", dir, "--quilt-id", id}, "--config"},
		{[]string{"list-patches-in-quilt"}, "want exactly one BLOB_ID"},
		{[]string{"list-patches-in-quilt", "nope"}, "bad blob ID"},
		{[]string{"list-patches-in-quilt", id}, "--config"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1 (stderr %q)", tc.args, code, errb.String())
		}
		if s := errb.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, tc.want) {
			t.Errorf("%v: stderr %q, want one line mentioning %q", tc.args, s, tc.want)
		}
	}
	for _, name := range []string{"store-quilt", "read-quilt", "list-patches-in-quilt"} {
		var out, errb bytes.Buffer
		if code := run([]string{name, "-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Usage: walrus "+name) {
			t.Errorf("%s -h: exit %d\n%s%s", name, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	run([]string{"read-quilt", "-h"}, &out, &errb)
	for _, f := range []string{"-identifiers", "-tag", "-quilt-patch-ids", "-quilt-id", "-out"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("read-quilt -h lacks %s", f)
		}
	}
}

// TestQuiltCLI stores a quilt on an in-process testnet with store-quilt (--paths with a
// directory and a file, --blobs with tags and a Unicode identifier), lists it, and reads it
// back by identifier, by tag, by patch ID and whole, from the patches' slivers only.
func TestQuiltCLI(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cfg := c.Layout.ClientConfigFile
	walrus := func(args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"--config", cfg}, args...), &out, &errb); code != 0 {
			t.Fatalf("walrus %v: exit %d: %s", args, code, errb.String())
		}
		if strings.Contains(errb.String(), "reading the whole quilt") {
			t.Fatalf("walrus %v fell back to a whole read: %s", args, errb.String())
		}
		return out.String(), errb.String()
	}

	src := t.TempDir()
	contents := map[string][]byte{
		"index.html":  []byte("<h1>walrus</h1>"),
		"empty.txt":   {},
		"big.bin":     bytes.Repeat([]byte("0123456789abcdef"), 20000), // 320 KB
		"海豹 seal.txt": []byte("a seal"),
		"tagged.json": []byte(`{"rarity":"legendary"}`),
	}
	if err := os.MkdirAll(filepath.Join(src, "site", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{
		"index.html": filepath.Join(src, "site", "index.html"), "empty.txt": filepath.Join(src, "site", "sub", "empty.txt"),
		"big.bin": filepath.Join(src, "big.bin"), "海豹 seal.txt": filepath.Join(src, "seal"), "tagged.json": filepath.Join(src, "t.json"),
	}
	for id, p := range paths {
		if err := os.WriteFile(p, contents[id], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := walrus("store-quilt", "--epochs", "2", "--json", "--paths", filepath.Join(src, "site"), paths["big.bin"],
		"--blobs", `{"path":"`+paths["海豹 seal.txt"]+`","identifier":"海豹 seal.txt","tags":{"animal":"seal","size":"small"}}`,
		`{"path":"`+paths["tagged.json"]+`","identifier":"tagged.json","tags":{"rarity":"legendary"}}`)
	var stored struct {
		BlobStoreResult struct {
			BlobID          codec.BlobID `json:"blobId"`
			UnencodedLength uint64       `json:"unencodedLength"`
		} `json:"blobStoreResult"`
		StoredQuiltBlobs []struct {
			Identifier   string `json:"identifier"`
			QuiltPatchID string `json:"quiltPatchId"`
			Range        [2]int `json:"range"`
		} `json:"storedQuiltBlobs"`
		QuiltID codec.BlobID `json:"quiltId"`
	}
	if err := json.Unmarshal([]byte(out), &stored); err != nil {
		t.Fatalf("store-quilt --json: %v\n%s", err, out)
	}
	if stored.QuiltID != stored.BlobStoreResult.BlobID || len(stored.StoredQuiltBlobs) != len(contents) {
		t.Fatalf("store-quilt: %s", out)
	}
	// The same files make the same quilt offline: the quilt ID is the SDK-compatible one.
	p := codec.MustParams(c.Layout.Genesis.NShards)
	var files []quilt.File
	for id := range contents {
		f := quilt.File{Identifier: id, Data: contents[id]}
		switch id {
		case "海豹 seal.txt":
			f.Tags = map[string]string{"animal": "seal", "size": "small"}
		case "tagged.json":
			f.Tags = map[string]string{"rarity": "legendary"}
		}
		files = append(files, f)
	}
	q, err := quilt.Encode(p, files)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := q.ComputeID(); err != nil || id != stored.QuiltID {
		t.Fatalf("quilt ID %s, offline %s (%v)", stored.QuiltID, id, err)
	}
	quiltID := stored.QuiltID.String()

	// list-patches-in-quilt, JSON and text.
	out, _ = walrus("list-patches-in-quilt", quiltID, "--json")
	var items []patchItem
	if err := json.Unmarshal([]byte(out), &items); err != nil || len(items) != len(contents) {
		t.Fatalf("list-patches-in-quilt --json: %v\n%s", err, out)
	}
	for i, it := range items {
		if it.Identifier != stored.StoredQuiltBlobs[i].Identifier || it.PatchID.String() != stored.StoredQuiltBlobs[i].QuiltPatchID {
			t.Fatalf("patch %d: listed %+v, stored %+v", i, it, stored.StoredQuiltBlobs[i])
		}
	}
	out, _ = walrus("list-patches-in-quilt", quiltID)
	if !strings.Contains(out, "animal=seal,size=small") || !strings.Contains(out, stored.StoredQuiltBlobs[0].QuiltPatchID) {
		t.Fatalf("list-patches-in-quilt:\n%s", out)
	}

	check := func(dir string, ids ...string) {
		t.Helper()
		var n int
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
			}
			return err
		})
		if n != len(ids) {
			t.Fatalf("%s holds %d files, want %d", dir, n, len(ids))
		}
		for _, id := range ids {
			got, err := os.ReadFile(filepath.Join(dir, id))
			if err != nil || !bytes.Equal(got, contents[id]) {
				t.Fatalf("%s: %d bytes, %v; want %d bytes", id, len(got), err, len(contents[id]))
			}
		}
	}
	// By identifiers (the helper fails on the warning of a fallback to a whole read).
	dir := t.TempDir()
	walrus("read-quilt", "--out", dir, "--quilt-id", quiltID, "--identifiers", "big.bin", "海豹 seal.txt")
	check(dir, "big.bin", "海豹 seal.txt")
	// By tag.
	dir = t.TempDir()
	walrus("read-quilt", "--out", dir, "--quilt-id", quiltID, "--tag", "rarity", "legendary")
	check(dir, "tagged.json")
	// By patch IDs, JSON.
	dir = t.TempDir()
	out, _ = walrus("read-quilt", "--out", dir, "--json", "--quilt-patch-ids", stored.StoredQuiltBlobs[0].QuiltPatchID,
		stored.StoredQuiltBlobs[1].QuiltPatchID)
	var read []patchItem
	if err := json.Unmarshal([]byte(out), &read); err != nil || len(read) != 2 || *read[1].Size != len(contents[read[1].Identifier]) {
		t.Fatalf("read-quilt --json: %v\n%s", err, out)
	}
	check(dir, stored.StoredQuiltBlobs[0].Identifier, stored.StoredQuiltBlobs[1].Identifier)
	// Everything.
	dir = t.TempDir()
	out, _ = walrus("read-quilt", "--out", dir, "--quilt-id", quiltID)
	check(dir, "big.bin", "empty.txt", "index.html", "tagged.json", "海豹 seal.txt")
	if !strings.Contains(out, "Wrote big.bin") {
		t.Fatalf("read-quilt:\n%s", out)
	}

	// What a patch read fetches: the index's columns and the patch's, nothing else.
	s := c.Session(ctx)
	r, err := openQuilt(ctx, s, stored.QuiltID, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := r.index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := ix.Lookup("tagged.json")
	f, err := r.patch(ctx, pt)
	if err != nil || !bytes.Equal(f.Data, contents["tagged.json"]) {
		t.Fatalf("patch: %v", err)
	}
	want := map[int]bool{}
	for col := range ix.Columns {
		want[col] = true
	}
	for col := pt.Start; col < pt.End; col++ {
		want[col] = true
	}
	if r.whole != nil || len(r.cols) != len(want) {
		t.Fatalf("fetched columns %v (whole blob read: %v), want %v", slices.Sorted(maps.Keys(r.cols)), r.whole != nil, want)
	}
	for col := range r.cols {
		if !want[col] {
			t.Fatalf("fetched column %d, want only %v", col, want)
		}
	}

	// Errors: an unknown identifier, a patch ID of another quilt's columns, a blob that is
	// not a quilt, a quilt that does not exist.
	var o, e bytes.Buffer
	if code := run([]string{"--config", cfg, "read-quilt", "--out", dir, "--quilt-id", quiltID, "--identifiers", "nope"}, &o, &e); code != 1 ||
		!strings.Contains(e.String(), "no patch with identifier") {
		t.Fatalf("unknown identifier: %d %s", code, e.String())
	}
	bogus := quilt.PatchID{Quilt: stored.QuiltID, Version: 1, Start: 1, End: 2}
	if bogus.String() == stored.StoredQuiltBlobs[0].QuiltPatchID {
		bogus.End = 3
	}
	o.Reset()
	e.Reset()
	if code := run([]string{"--config", cfg, "read-quilt", "--out", dir, "--quilt-patch-ids", bogus.String()}, &o, &e); code != 1 ||
		!strings.Contains(e.String(), "has no patch") {
		t.Fatalf("bogus patch ID: %d %s", code, e.String())
	}
	plain := filepath.Join(src, "plain")
	if err := os.WriteFile(plain, []byte("not a quilt, 31 bytes long....."), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = walrus("store", "--epochs", "2", "--json", plain)
	var blob struct {
		BlobID codec.BlobID `json:"blobId"`
	}
	if err := json.Unmarshal([]byte(out), &blob); err != nil {
		t.Fatal(err)
	}
	o.Reset()
	e.Reset()
	if code := run([]string{"--config", cfg, "list-patches-in-quilt", blob.BlobID.String()}, &o, &e); code != 1 || !strings.Contains(e.String(), "not a quilt") {
		t.Fatalf("plain blob: %d %s", code, e.String())
	}
	o.Reset()
	e.Reset()
	if code := run([]string{"--config", cfg, "list-patches-in-quilt", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, &o, &e); code != 1 || !strings.Contains(e.String(), "does not exist") {
		t.Fatalf("missing quilt: %d %s", code, e.String())
	}
}
