package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// User commands: store, read, blob-status, info, balance, transfer, address. Each opens a
// session from the client configuration (--config or $WALRUS_CONFIG, the client.yaml that
// `walrus testnet up` writes), does one thing and closes it.

// openSession opens the network session for a user command, with a context cancelled by
// SIGINT/SIGTERM or after g.timeout (--timeout; 0: never).
func openSession(g *globals) (*client.Session, context.Context, func(), error) {
	if g.config == "" {
		return nil, nil, nil, errors.New("no client configuration: pass --config FILE (client.yaml) or set WALRUS_CONFIG")
	}
	sctx, stop := signalContext()
	ctx, cancel := context.WithCancel(sctx)
	if g.timeout > 0 {
		ctx, cancel = context.WithTimeout(sctx, g.timeout)
	}
	s, err := client.Open(ctx, g.config)
	if err != nil {
		cancel()
		stop()
		return nil, nil, nil, err
	}
	return s, ctx, func() { s.Close(); cancel(); stop() }, nil
}

// printJSON writes v as one JSON line.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// parseBlobID parses a blob ID argument with a clear message.
func parseBlobID(s string) (codec.BlobID, error) {
	id, err := codec.ParseBlobID(s)
	if err != nil {
		return id, fmt.Errorf("bad blob ID %q: want 43 characters of URL-safe base64 (as printed by store or blob-id)", s)
	}
	return id, nil
}

// isTerminal reports whether w is a character device (a terminal), so progress bars go
// only where a person watches.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws an upload bar on w, at most every 100 ms, until done: uploads that
// continue in the background after the certificate must not draw over the summary.
type progressBar struct {
	w      io.Writer
	mu     sync.Mutex
	last   time.Time
	closed bool
}

func (p *progressBar) update(pr client.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if time.Since(p.last) < 100*time.Millisecond && pr.BytesSent < pr.BytesTotal {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := 0.0
	if pr.BytesTotal > 0 {
		frac = float64(pr.BytesSent) / float64(pr.BytesTotal)
	}
	n := int(frac * width)
	q := ""
	if pr.Quorum {
		q = " quorum"
	}
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d/%d nodes confirmed%s ", strings.Repeat("#", n), strings.Repeat(".", width-n),
		100*frac, pr.NodesConfirmed, pr.Nodes, q)
}

func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	fmt.Fprintln(p.w)
}

// humanBytes prints a size like Walrus does (KiB, MiB, GiB with two decimals).
func humanBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}

// runStore is `walrus store FILE... [--epochs E] [--deletable] [--parallel N] [--dry-run]
// [--json]`. One FILE prints one result (a JSON object); several are stored concurrently
// through one session (storemany.go) and print a result each and the total cost (a JSON
// list).
func runStore(g *globals, args []string) error {
	fs := newFlagSet("store")
	epochs := fs.Uint("epochs", 0, "number of epochs ahead to store the blob, 1 to 53 (default: enough for at least a day, at most 53)")
	deletable := fs.Bool("deletable", false, "make the blob deletable by its owner")
	parallel := fs.Int("parallel", defaultParallel, "with several FILEs, how many to store at once")
	dryRun := fs.Bool("dry-run", false, "only print the blob ID, encoded size, cost and transaction fees of storing each FILE, and the balance after; store nothing")
	asJSON := fs.Bool("json", false, `print {"blobId","unencodedLength","encodedLength","certifiedEpoch","endEpoch","expiresAt","cost",...}; a list of them, each with "path" (and "error" if it failed), for several FILEs`)
	budgetFlag := fs.String("memory-budget", "", "bound the store's working memory (the file itself, mapped, not counted), e.g. 512MiB or 2GiB; below what the encoding wants it spills to a temporary file and re-encodes in windows (default: min(physical memory / 4, 2 GiB))")
	pos, err := parseArgs(g, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("want at least one FILE")
	}
	budget, err := memoryBudget(*budgetFlag)
	if err != nil {
		return err
	}
	if *epochs > staking.MaxEpochsAhead || (*epochs == 0 && flagSet(fs, "epochs")) {
		return fmt.Errorf("--epochs must be between 1 and %d", staking.MaxEpochsAhead)
	}
	if *parallel < 1 {
		return errors.New("--parallel must be at least 1")
	}
	if g.config == "" {
		return errors.New("no client configuration: pass --config FILE (client.yaml) or set WALRUS_CONFIG")
	}
	// Check the files before touching the network, so a missing file fails fast. The limit
	// here is the largest geometry's; the session checks the network's own.
	if err := checkFiles(pos, maxBlobAnyGeometry()); err != nil {
		return err
	}
	var data []byte
	if len(pos) == 1 && !*dryRun {
		// A regular file is mapped read-only, not copied into memory; stdin is read.
		var unmap func()
		if data, unmap, err = mapBlob(pos[0], maxBlobAnyGeometry()); err != nil {
			return err
		}
		defer unmap()
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	if *epochs == 0 {
		*epochs = uint(defaultEpochs(time.Duration(in.EpochDuration) * time.Millisecond))
	}
	if *dryRun {
		return storeDryRun(g, s, ctx, in, pos, uint32(*epochs), *asJSON)
	}
	// Confirmations are cached beside the client configuration until the blob is
	// certified, so an interrupted store run again reuses them.
	opts := client.StoreOptions{Epochs: uint32(*epochs), Deletable: *deletable, MemoryBudget: budget,
		PendingDir: filepath.Join(filepath.Dir(g.config), "pending")}
	if len(pos) > 1 {
		opts.MemoryBudget = budget / int64(*parallel)
		return storeMany(g, s, ctx, in, pos, opts, *parallel, *asJSON)
	}
	var bar *phaseProgress
	if !*asJSON && isTerminal(g.stderr) {
		bar = newPhaseProgress(g.stderr)
		opts.Progress = bar.update
	}
	if kill := killHook(); kill != nil {
		show := opts.Progress
		opts.Progress = func(pr client.Progress) {
			if show != nil {
				show(pr)
			}
			kill(pr)
		}
	}
	sum, err := s.Store(ctx, data, opts)
	if bar != nil {
		bar.done()
	}
	if err != nil {
		return err
	}
	expires := epochStart(in, sum.EndEpoch)
	if *asJSON {
		return printJSON(g.stdout, struct {
			*client.StoreSummary
			ExpiresAt string `json:"expiresAt"`
		}{sum, expires})
	}
	kind := "Permanent"
	if *deletable {
		kind = "Deletable"
	}
	if sum.AlreadyCertified {
		fmt.Fprintf(g.stdout, "Success: %s blob was already certified; nothing uploaded.\n", kind)
	} else {
		fmt.Fprintf(g.stdout, "Success: %s blob stored successfully.\n", kind)
	}
	if r := sum.Resumed; r.PairsSkipped > 0 || r.Confirmations > 0 || r.MetadataSkipped > 0 {
		fmt.Fprintf(g.stdout, "Resumed: %d sliver pairs (%s) already on the nodes skipped, %d confirmations reused.\n",
			r.PairsSkipped, humanBytes(uint64(r.BytesSkipped)), r.Confirmations)
	}
	fmt.Fprintf(g.stdout, "Path: %s\nBlob ID: %s\nUnencoded size: %s\nEncoded size (including replicated metadata): %s\n",
		pos[0], sum.BlobID, humanBytes(sum.UnencodedLength), humanBytes(sum.EncodedLength))
	fmt.Fprintf(g.stdout, "Cost: %s\nFee: %s\nCertified in epoch: %d\nExpiry epoch (exclusive): %d\nExpires at: %s\n",
		client.FormatWAL(sum.Cost), client.FormatWAL(sum.Fee), sum.CertifiedEpoch, sum.EndEpoch, expires)
	return nil
}

// minLifetime is how long a blob stored without --epochs lives at least (docs/operating.md).
const minLifetime = client.MinLifetime

// defaultEpochs is the number of epochs `store` buys without --epochs: enough that the blob
// lives at least minLifetime however late in the current epoch it is stored (the current
// epoch counts as one, possibly almost over), capped at what the ledger sells ahead; the
// publisher's default too (client.DefaultEpochs).
func defaultEpochs(epoch time.Duration) uint32 { return client.DefaultEpochs(epoch) }

// epochStart is when epoch e starts (a blob whose end epoch is e expires then), UTC, RFC
// 3339: genesis time + e × epoch duration (docs/protocol.md §7).
func epochStart(in *query.Info, e uint32) string {
	return time.UnixMilli(in.GenesisTime + int64(e)*in.EpochDuration).UTC().Format(time.RFC3339)
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// maxBlobAnyGeometry is the largest blob any supported shard count admits; the network's
// own limit is checked once its geometry is known.
func maxBlobAnyGeometry() uint64 {
	p, err := codec.NewParams(defaultShards)
	if err != nil {
		return 1 << 30
	}
	return p.MaxBlobSize()
}

// blobIDArg parses a command's flags and its one positional BLOB_ID argument.
func blobIDArg(g *globals, fs *flag.FlagSet, args []string) (codec.BlobID, error) {
	pos, err := parseArgs(g, fs, args)
	if err != nil {
		return codec.BlobID{}, err
	}
	if len(pos) != 1 {
		return codec.BlobID{}, fmt.Errorf("want exactly one BLOB_ID, got %d arguments", len(pos))
	}
	return parseBlobID(pos[0])
}

// runRead is `walrus read BLOB_ID [--out FILE] [--range START-END]`. The blob is streamed
// (Session.ReadTo, Session.ReadRangeTo): verified rows are written as they arrive, in
// memory that does not grow with the blob while its systematic slivers are available. With
// --out it goes to a temporary file beside FILE, renamed to FILE once complete, so a
// failed read leaves no partial FILE; on stdout a failed read may leave a verified prefix.
func runRead(g *globals, args []string) error {
	fs := newFlagSet("read")
	out := fs.String("out", "", "write the blob to `file` instead of stdout (complete or not at all)")
	rng := fs.String("range", "", "read only bytes `START-END` of the blob (inclusive, from 0, as in HTTP); fetches only the slivers that hold them")
	budgetFlag := fs.String("memory-budget", "", "bound the memory of the decode a read falls back to when systematic slivers are missing, e.g. 256MiB; a blob whose decode does not fit is decoded through a temporary file, a window at a time (default: min(physical memory / 4, 2 GiB))")
	id, err := blobIDArg(g, fs, args)
	if err != nil {
		return err
	}
	budget, err := memoryBudget(*budgetFlag)
	if err != nil {
		return err
	}
	ropts := client.ReadOptions{MemoryBudget: budget}
	off, n := int64(0), int64(-1) // the whole blob
	if *rng != "" {
		if off, n, err = parseByteRange(*rng); err != nil {
			return err
		}
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	read := func(w io.Writer) error {
		// Progress on a terminal, unless the blob itself goes there.
		if isTerminal(g.stderr) && (*out != "" || !isTerminal(g.stdout)) {
			rp := &readProgress{w: w, bar: newPhaseProgress(g.stderr), total: n, start: time.Now()}
			if n < 0 {
				rp.total = blobLength(ctx, s, id)
			}
			defer rp.bar.done()
			w = rp
		}
		bw := bufio.NewWriterSize(w, 1<<20) // small rows (small blobs, small n) in fewer writes
		var err error
		if n < 0 {
			_, err = s.ReadToWith(ctx, id, bw, ropts)
		} else {
			_, err = s.ReadRangeToWith(ctx, id, off, n, bw, ropts)
		}
		if err != nil {
			return err
		}
		return bw.Flush()
	}
	if *out == "" {
		return read(g.stdout)
	}
	return writeFileStreaming(*out, read)
}

// parseByteRange parses START-END, inclusive byte positions from 0 (an HTTP byte range
// with both ends), into an offset and a length.
func parseByteRange(s string) (off, n int64, err error) {
	a, b, ok := strings.Cut(s, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start || end == math.MaxInt64 {
		return 0, 0, fmt.Errorf("bad --range %q: want START-END, byte positions from 0 with START <= END (END included)", s)
	}
	return start, end - start + 1, nil
}

// writebackChunk is how many bytes writeFileStreaming lets pile up before it starts
// writing them to disk (where the system allows: writeback_linux.go).
const writebackChunk = 32 << 20

// writeFileStreaming writes path through write, into a temporary file in the same
// directory renamed to path once write succeeded and the file is synced (its write-back
// started every 32 MiB along the way, so the final sync is short), then the directory is
// synced; on any error the temporary file is removed and path is untouched.
func writeFileStreaming(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := write(writeback(tmp)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(path))
}

// runBlobStatus is `walrus blob-status BLOB_ID [--json]`.
func runBlobStatus(g *globals, args []string) error {
	fs := newFlagSet("blob-status")
	asJSON := fs.Bool("json", false, `print {"status","endEpoch","expiresAt","deletable","objects","provenAt":{"height","epoch"}}`)
	id, err := blobIDArg(g, fs, args)
	if err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	st, err := s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		return err
	}
	// The expiry time of a registered, certified or expired blob (the start of its end
	// epoch); none for a nonexistent or invalid one.
	var expires string
	if k := st.Status.Kind; k == staking.StatusRegistered || k == staking.StatusCertified || k == staking.StatusExpired {
		in, err := s.Ledger.Info(ctx)
		if err != nil {
			return err
		}
		expires = epochStart(in, st.Status.EndEpoch)
	}
	// Where the facts are proven: the height and epoch of the certified checkpoint whose
	// state root the answer was verified against (none from an unverified client).
	var at *provenAt
	if st.Proven {
		at = &provenAt{Height: st.Height, Epoch: st.Epoch}
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			Status    string    `json:"status"`
			EndEpoch  uint32    `json:"endEpoch"`
			ExpiresAt string    `json:"expiresAt,omitempty"`
			Deletable bool      `json:"deletable"`
			Objects   int       `json:"objects"`
			ProvenAt  *provenAt `json:"provenAt,omitempty"`
		}{st.Status.Kind.String(), st.Status.EndEpoch, expires, st.Status.Deletable, st.Status.Objects, at})
	}
	defer func() {
		if at != nil {
			fmt.Fprintf(g.stdout, "Proven at height %d (epoch %d).\n", at.Height, at.Epoch)
		}
	}()
	switch st.Status.Kind {
	case staking.StatusNonexistent:
		fmt.Fprintf(g.stdout, "Blob ID %s does not exist.\n", id)
	case staking.StatusInvalid:
		fmt.Fprintf(g.stdout, "Blob ID %s is invalid (invalidated in epoch %d).\n", id, st.Status.EndEpoch)
	default:
		verb := "expires"
		if st.Status.Kind == staking.StatusExpired {
			verb = "expired"
		}
		fmt.Fprintf(g.stdout, "Blob ID %s is %s; end epoch %d (exclusive), %s at %s; %d object(s).\n",
			id, st.Status.Kind, st.Status.EndEpoch, verb, expires, st.Status.Objects)
	}
	return nil
}

// provenAt is where `blob-status --json` and `info --json` facts are proven: the certified
// checkpoint's height and epoch.
type provenAt struct {
	Height uint64 `json:"height"`
	Epoch  uint32 `json:"epoch"`
}

// infoMember is one committee member in `info --json`.
type infoMember struct {
	NodeID string `json:"nodeId"`
	PeerID string `json:"peerId"`
	Shards int    `json:"shards"`
	Stake  uint64 `json:"stake"` // FROST counting for this epoch
}

// runInfo is `walrus info [--json]`.
func runInfo(g *globals, args []string) error {
	fs := newFlagSet("info")
	asJSON := fs.Bool("json", false, "print a JSON object")
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	var members []infoMember
	for i := range in.Committee.Members {
		m := &in.Committee.Members[i]
		im := infoMember{NodeID: hex.EncodeToString(m.Node[:]), PeerID: printablePeer(m.PeerID), Shards: m.Weight()}
		if i < len(in.Stakes) {
			im.Stake = in.Stakes[i]
		}
		members = append(members, im)
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			Network       string         `json:"network"`
			NetworkID     string         `json:"networkId"`
			Height        uint64         `json:"height"`
			Epoch         uint32         `json:"epoch"`
			EpochDuration string         `json:"epochDuration"`
			NShards       int            `json:"nShards"`
			Prices        staking.Prices `json:"prices"`
			Fees          feesJSON       `json:"fees"`
			MaxBlobSize   uint64         `json:"maxBlobSize"`
			Committee     []infoMember   `json:"committee"`
			// ProvenAt: network, parameters, prices and committee are proven there (the
			// members' stakes are the node's word).
			ProvenAt *provenAt `json:"provenAt,omitempty"`
		}{in.NetworkName, hex.EncodeToString(in.Network[:]), in.Height, in.Epoch,
			(time.Duration(in.EpochDuration) * time.Millisecond).String(), in.NShards, in.Prices, feesOf(in.Prices.Fees), in.MaxBlobSize, members, infoProvenAt(in)})
	}
	w := g.stdout
	fmt.Fprintf(w, "Network: %s (id %x)\nHeight: %d\nEpoch: %d (epochs of %v)\nShards: %d\n", in.NetworkName, in.Network[:8],
		in.Height, in.Epoch, time.Duration(in.EpochDuration)*time.Millisecond, in.NShards)
	fmt.Fprintf(w, "Storage price: %s per MiB per epoch\nWrite price: %s per MiB\n", frostWAL(in.Prices.Storage), frostWAL(in.Prices.Write))
	printFees(w, in.Prices.Fees)
	fmt.Fprintf(w, "Max blob size: %s\n", humanBytes(in.MaxBlobSize))
	if in.Proven {
		fmt.Fprintf(w, "Proven at height %d (epoch %d) against the certified checkpoint\n", in.Height, in.Epoch)
	}
	fmt.Fprintf(w, "Committee (%d nodes):\n", len(members))
	for _, m := range members {
		fmt.Fprintf(w, "  %s  peer %s  %d shards  stake %s\n", m.NodeID[:16], m.PeerID, m.Shards, client.FormatWAL(m.Stake))
	}
	return nil
}

func infoProvenAt(in *query.Info) *provenAt {
	if !in.Proven {
		return nil
	}
	return &provenAt{Height: in.Height, Epoch: in.Epoch}
}

// printablePeer shows a member's peer ID in its usual base58 form when it decodes.
func printablePeer(raw string) string {
	if id, err := peerFromBytes(raw); err == nil {
		return id
	}
	return raw
}

// runBalance is `walrus balance [--json]`.
func runBalance(g *globals, args []string) error {
	fs := newFlagSet("balance")
	asJSON := fs.Bool("json", false, `print {"address","balance" (FROST),"nonce"}`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	addr := s.Ledger.Address()
	if addr == (staking.Address{}) {
		return client.ErrNoWallet
	}
	a, err := s.Ledger.Account(ctx, addr)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			Address string `json:"address"`
			Balance uint64 `json:"balance"`
			Nonce   uint64 `json:"nonce"`
		}{addr.String(), a.Account.Balance, a.Account.Nonce})
	}
	fmt.Fprintf(g.stdout, "Address: %s\nBalance: %s (%d FROST)\n", addr, client.FormatWAL(a.Account.Balance), a.Account.Balance)
	return nil
}

// runAddress is `walrus address`: the wallet's account address.
func runAddress(g *globals, args []string) error {
	fs := newFlagSet("address")
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	if g.config == "" {
		return errors.New("no client configuration: pass --config FILE (client.yaml) or set WALRUS_CONFIG")
	}
	fc, err := client.LoadFileConfig(g.config)
	if err != nil {
		return err
	}
	if fc.WalletKeyFile == "" {
		return client.ErrNoWallet
	}
	addr, err := client.WalletAddress(fc.WalletKeyFile)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(g.stdout, addr)
	return err
}

// runTransfer is `walrus transfer ADDRESS AMOUNT [--dry-run] [--json]`.
func runTransfer(g *globals, args []string) error {
	fs := newFlagSet("transfer")
	dryRun := addDryRun(fs)
	asJSON := fs.Bool("json", false, `print {"to","amount" (FROST),"fee","height"}; with --dry-run {"dryRun","command","fee","amount","total","balance","balanceAfter",...}`)
	pos, err := parseArgs(g, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("want ADDRESS AMOUNT, got %d arguments", len(pos))
	}
	to, err := parseAddress(pos[0])
	if err != nil {
		return err
	}
	amount, err := parseAmount(pos[1])
	if err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	if _, err := walletAddress(s); err != nil {
		return err
	}
	t := client.PlannedTx{Op: &staking.Transfer{To: to, Amount: amount}}
	if *dryRun {
		c, err := s.Ledger.EstimateTx(ctx, t)
		if err != nil {
			return err
		}
		return printDryRun(g, "transfer", fmt.Sprintf("transfer of %s to %s", client.FormatWAL(amount), to), c, *asJSON)
	}
	r, _, c, err := s.Ledger.SubmitPlanned(ctx, "the transfer", t)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			To     string `json:"to"`
			Amount uint64 `json:"amount"`
			Fee    uint64 `json:"fee"`
			Height uint64 `json:"height"`
		}{to.String(), amount, c.Fee, r.Height})
	}
	fmt.Fprintf(g.stdout, "Transferred %s to %s (checkpoint %d); fee %s.\n", client.FormatWAL(amount), to, r.Height, client.FormatWAL(c.Fee))
	return nil
}

// parseAddress parses a 64-hex-character account address.
func parseAddress(s string) (staking.Address, error) {
	var a staking.Address
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != len(a) {
		return a, fmt.Errorf("bad address %q: want %d hex characters", s, 2*len(a))
	}
	copy(a[:], b)
	return a, nil
}

// parseAmount parses an amount: WAL with up to nine decimals ("1.5", "2", "0.25wal"), or
// FROST with a "frost" suffix ("1500frost"). 1 WAL = 10^9 FROST (docs/protocol.md §6).
func parseAmount(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	bad := fmt.Errorf("bad amount %q: want WAL with up to 9 decimals (1.5) or FROST with a suffix (1500frost)", s)
	if f, ok := strings.CutSuffix(t, "frost"); ok {
		var v big.Int
		if _, ok := v.SetString(strings.TrimSpace(f), 10); !ok || v.Sign() <= 0 || !v.IsUint64() {
			return 0, bad
		}
		return v.Uint64(), nil
	}
	t = strings.TrimSpace(strings.TrimSuffix(t, "wal"))
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" && frac == "" || len(frac) > 9 || strings.ContainsAny(whole+frac, "+-") {
		return 0, bad
	}
	frac += strings.Repeat("0", 9-len(frac))
	var v big.Int
	if _, ok := v.SetString(whole+frac, 10); !ok || v.Sign() <= 0 || !v.IsUint64() {
		return 0, bad
	}
	return v.Uint64(), nil
}

// peerFromBytes decodes a peer ID in its binary form.
func peerFromBytes(raw string) (string, error) {
	id, err := peer.IDFromBytes([]byte(raw))
	if err != nil {
		return "", err
	}
	return id.String(), nil
}
