package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"strings"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Lifetime commands, after Walrus's CLI: `walrus delete --blob-id ID` (or --file, or
// --object-id), `walrus extend --blob-id ID --epochs E` (or --blob-obj-id, and
// --epochs-extended as Walrus names it), `walrus list-blobs [--include-expired]`.

// objectIDString prints an object ID as the gateway does: 0x and 64 hex characters.
func objectIDString(id staking.ObjectID) string { return "0x" + hex.EncodeToString(id[:]) }

// parseObjectID parses 64 hex characters, with or without 0x.
func parseObjectID(s string) (staking.ObjectID, error) {
	var id staking.ObjectID
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bad object ID %q: want %d hex characters (0x optional), as list-blobs prints", s, 2*len(id))
	}
	copy(id[:], b)
	return id, nil
}

// blobTarget resolves --blob-id or --file (the file's blob ID for the network's shard
// count) to a blob ID; exactly one of them, or objectSet, must be given.
func blobTarget(s *client.Session, blobID, file string) (codec.BlobID, error) {
	if blobID != "" {
		return parseBlobID(blobID)
	}
	p, err := codec.NewParams(s.Genesis.NShards)
	if err != nil {
		return codec.BlobID{}, err
	}
	id, _, err := fileBlobID(p, file, defaultMemoryBudget())
	return id, err
}

// oneOf checks that exactly one of the named flags was given.
func oneOf(fs *flag.FlagSet, names ...string) error {
	n := 0
	for _, name := range names {
		if flagSet(fs, name) {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of --%s", strings.Join(names, ", --"))
	}
	return nil
}

// runDelete is `walrus delete (--blob-id ID | --file FILE | --object-id ID) [--yes] [--json]`.
func runDelete(g *globals, args []string) error {
	fs := newFlagSet("delete")
	blobID := fs.String("blob-id", "", "delete the wallet's deletable objects of this blob `ID`")
	file := fs.String("file", "", "delete the wallet's deletable objects of the blob this `FILE` makes")
	objectID := fs.String("object-id", "", "delete this one blob object (`ID` as list-blobs prints it)")
	fs.Bool("yes", false, "do not ask for confirmation (accepted for Walrus compatibility; walrus-go never asks)")
	dryRun := addDryRun(fs)
	asJSON := fs.Bool("json", false, `print {"blobId","deleted":[object IDs],"fee","status"}; with --dry-run the cost and "objects"`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	if err := oneOf(fs, "blob-id", "file", "object-id"); err != nil {
		return err
	}
	var obj staking.ObjectID
	var err error
	if *objectID != "" {
		if obj, err = parseObjectID(*objectID); err != nil {
			return err
		}
	} else if *blobID != "" {
		if _, err := parseBlobID(*blobID); err != nil {
			return err
		}
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	var id codec.BlobID
	var targets []staking.Blob
	if *objectID != "" {
		o, err := ownObject(ctx, s, obj)
		if err != nil {
			return err
		}
		if !o.Deletable {
			return fmt.Errorf("%w: object %s of blob %s was stored without --deletable", client.ErrPermanent, objectIDString(obj), o.BlobID)
		}
		id, targets = o.BlobID, []staking.Blob{o}
	} else {
		if id, err = blobTarget(s, *blobID, *file); err != nil {
			return err
		}
		if targets, err = s.Ledger.DeletableObjects(ctx, id); err != nil {
			return err
		}
	}
	cost, err := s.Ledger.EstimateTx(ctx, client.DeletePlan(targets)...)
	if err != nil {
		return err
	}
	if *dryRun {
		ids := make([]string, len(targets))
		for i, o := range targets {
			ids[i] = objectIDString(o.ID)
		}
		if *asJSON {
			return printJSON(g.stdout, struct {
				costJSON
				BlobID  codec.BlobID `json:"blobId"`
				Objects []string     `json:"objects"`
			}{costJSON{DryRun: true, Command: "delete", Cost: cost}, id, ids})
		}
		return printDryRun(g, "delete", fmt.Sprintf("deleting %d object(s) of blob %s (%s); their storage would come back to the wallet",
			len(ids), id, strings.Join(ids, ", ")), cost, false)
	}
	if err := cost.Check("deleting"); err != nil {
		return err
	}
	var deleted []staking.Blob
	for _, o := range targets {
		if _, err := s.Ledger.DeleteBlobObject(ctx, o.ID); err != nil {
			return err
		}
		deleted = append(deleted, o)
	}
	st, err := s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		return err
	}
	ids := make([]string, len(deleted))
	for i, o := range deleted {
		ids[i] = objectIDString(o.ID)
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			BlobID  codec.BlobID `json:"blobId"`
			Deleted []string     `json:"deleted"`
			Fee     uint64       `json:"fee"`
			Status  string       `json:"status"`
		}{id, ids, cost.Fee, st.Status.Kind.String()})
	}
	fmt.Fprintf(g.stdout, "Deleted %d object(s) of blob %s: %s\nTheir storage came back to the wallet; fee %s. The blob is now %s",
		len(ids), id, strings.Join(ids, ", "), client.FormatWAL(cost.Fee), st.Status.Kind)
	if st.Status.Kind != staking.StatusNonexistent {
		fmt.Fprintf(g.stdout, " (other objects of it remain: %d)", st.Status.Objects)
	}
	fmt.Fprintln(g.stdout, ".")
	return nil
}

// ownObject finds one of the wallet's blob objects by ID.
func ownObject(ctx context.Context, s *client.Session, obj staking.ObjectID) (staking.Blob, error) {
	if s.Ledger.Address() == (staking.Address{}) {
		return staking.Blob{}, client.ErrNoWallet
	}
	all, err := s.Ledger.BlobsOf(ctx, s.Ledger.Address())
	if err != nil {
		return staking.Blob{}, err
	}
	for _, o := range all.Blobs {
		if o.ID == obj {
			return o, nil
		}
	}
	return staking.Blob{}, fmt.Errorf("%w: no blob object %s (deleted, or not this wallet's)", client.ErrNotOwned, objectIDString(obj))
}

// runExtend is `walrus extend (--blob-id ID | --blob-obj-id ID) --epochs E [--json]`.
func runExtend(g *globals, args []string) error {
	fs := newFlagSet("extend")
	blobID := fs.String("blob-id", "", "extend the wallet's live object of this blob `ID` (its certified object that lives longest)")
	objectID := fs.String("blob-obj-id", "", "extend this blob object (`ID` as list-blobs prints it)")
	epochs := fs.Uint("epochs", 0, "number of `epochs` to add to the end epoch (pays storage for them)")
	fs.UintVar(epochs, "epochs-extended", 0, "the same as --epochs (Walrus's name)")
	dryRun := addDryRun(fs)
	asJSON := fs.Bool("json", false, `print {"blobId","objectId","oldEndEpoch","endEpoch","expiresAt","cost","fee"}; with --dry-run the cost (the storage is its amount)`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	if err := oneOf(fs, "blob-id", "blob-obj-id"); err != nil {
		return err
	}
	if *epochs == 0 || *epochs > staking.MaxEpochsAhead {
		return fmt.Errorf("--epochs must be between 1 and %d", staking.MaxEpochsAhead)
	}
	var id codec.BlobID
	var obj staking.ObjectID
	var err error
	if *blobID != "" {
		if id, err = parseBlobID(*blobID); err != nil {
			return err
		}
	} else if obj, err = parseObjectID(*objectID); err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	var o staking.Blob
	if *blobID != "" {
		o, err = s.Ledger.ExtendTarget(ctx, id)
	} else {
		o, err = ownObject(ctx, s, obj)
	}
	if err != nil {
		return err
	}
	if *dryRun {
		cost, end, err := s.Ledger.EstimateExtend(ctx, o, uint32(*epochs))
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(g.stdout, struct {
				costJSON
				BlobID      codec.BlobID `json:"blobId"`
				ObjectID    string       `json:"objectId"`
				OldEndEpoch uint32       `json:"oldEndEpoch"`
				EndEpoch    uint32       `json:"endEpoch"`
			}{costJSON{DryRun: true, Command: "extend", Cost: cost}, o.BlobID, objectIDString(o.ID), o.Storage.End, end})
		}
		return printDryRun(g, "extend", fmt.Sprintf("extending blob %s (object %s) by %d epochs: end epoch %d -> %d",
			o.BlobID, objectIDString(o.ID), *epochs, o.Storage.End, end), cost, false)
	}
	res, err := s.Ledger.ExtendBlobObject(ctx, o, uint32(*epochs))
	if err != nil {
		return err
	}
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	expires := epochStart(in, res.NewEnd)
	if *asJSON {
		return printJSON(g.stdout, struct {
			BlobID      codec.BlobID `json:"blobId"`
			ObjectID    string       `json:"objectId"`
			OldEndEpoch uint32       `json:"oldEndEpoch"`
			EndEpoch    uint32       `json:"endEpoch"`
			ExpiresAt   string       `json:"expiresAt"`
			Cost        uint64       `json:"cost"`
			Fee         uint64       `json:"fee"`
		}{res.Object.BlobID, objectIDString(res.Object.ID), res.OldEnd, res.NewEnd, expires, res.Cost, res.Fee})
	}
	fmt.Fprintf(g.stdout, "Extended blob %s (object %s) by %d epochs: end epoch %d -> %d (exclusive), expires at %s.\nCost: %s; fee %s\n",
		res.Object.BlobID, objectIDString(res.Object.ID), *epochs, res.OldEnd, res.NewEnd, expires, client.FormatWAL(res.Cost), client.FormatWAL(res.Fee))
	return nil
}

// listedBlob is one object in `walrus list-blobs --json`.
type listedBlob struct {
	BlobID          codec.BlobID `json:"blobId"`
	ObjectID        string       `json:"objectId"`
	Status          string       `json:"status"` // registered, certified or expired
	Size            uint64       `json:"size"`
	EncodedSize     uint64       `json:"encodedSize"`
	StorageSize     uint64       `json:"storageSize"`
	RegisteredEpoch uint32       `json:"registeredEpoch"`
	CertifiedEpoch  *uint32      `json:"certifiedEpoch"`
	EndEpoch        uint32       `json:"endEpoch"`
	ExpiresAt       string       `json:"expiresAt"`
	Deletable       bool         `json:"deletable"`
	// ProvenAt: the object, and that the listing holds every object of the wallet, is
	// proven at this certified checkpoint (the same for every object of one listing).
	ProvenAt *provenAt `json:"provenAt,omitempty"`
}

// listed describes one object at the ledger's epoch.
func listed(in *query.Info, a *query.BlobsAnswer, o staking.Blob) listedBlob {
	lb := listedBlob{BlobID: o.BlobID, ObjectID: objectIDString(o.ID), Size: o.Length, EncodedSize: o.EncodedSize,
		StorageSize: o.Storage.Size, RegisteredEpoch: o.Registered, EndEpoch: o.Storage.End,
		ExpiresAt: epochStart(in, o.Storage.End), Deletable: o.Deletable}
	switch {
	case o.Storage.End <= a.Epoch:
		lb.Status = "expired"
	case o.Certified:
		lb.Status = "certified"
	default:
		lb.Status = "registered"
	}
	if o.Certified {
		e := o.CertEpoch
		lb.CertifiedEpoch = &e
	}
	return lb
}

// runListBlobs is `walrus list-blobs [--include-expired] [--json]`.
func runListBlobs(g *globals, args []string) error {
	fs := newFlagSet("list-blobs")
	expired := fs.Bool("include-expired", false, "also list objects whose end epoch has passed (until the ledger drops them)")
	asJSON := fs.Bool("json", false, `print a list of {"blobId","objectId","status","size","encodedSize","storageSize","registeredEpoch","certifiedEpoch","endEpoch","expiresAt","deletable","provenAt":{"height","epoch"}}`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	me := s.Ledger.Address()
	if me == (staking.Address{}) {
		return client.ErrNoWallet
	}
	a, err := s.Ledger.BlobsOf(ctx, me)
	if err != nil {
		return err
	}
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	out := []listedBlob{}
	for _, o := range a.Blobs {
		if lb := listed(in, a, o); lb.Status != "expired" || *expired {
			lb.ProvenAt = listProvenAt(a.Proven, a.Height, a.Epoch)
			out = append(out, lb)
		}
	}
	if *asJSON {
		return printJSON(g.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(g.stdout, "No blobs.")
		return nil
	}
	fmt.Fprintf(g.stdout, "%-43s  %-10s  %10s  %5s  %-20s  %-9s  %s\n", "Blob ID", "Status", "Size", "End", "Expires at (UTC)", "Deletable", "Object ID")
	for _, b := range out {
		fmt.Fprintf(g.stdout, "%-43s  %-10s  %10s  %5d  %-20s  %-9t  %s\n", b.BlobID, b.Status, humanBytes(b.Size), b.EndEpoch, b.ExpiresAt, b.Deletable, b.ObjectID)
	}
	fmt.Fprintf(g.stdout, "%d blob object(s) of %s at epoch %d.\n", len(out), me, a.Epoch)
	return nil
}
