package staking

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch"
)

// ErrBadCheckpoint is wrapped by every checkpoint that cannot follow the state.
var ErrBadCheckpoint = errors.New("staking: checkpoint does not follow the state")

// Checkpoint is one entry of the ledger (docs/architecture.md §4). Epoch is the epoch its transactions
// run in, after the time step; StateRoot is the root after applying it. Transactions are
// kept as their canonical bytes: rejected ones stay in the checkpoint as no-ops with a
// receipt, so every node sees the same list.
type Checkpoint struct {
	Network   epoch.NetworkID
	Height    uint64
	Epoch     uint32
	Time      int64 // unix ms, proposer time
	PrevHash  [32]byte
	Txs       [][]byte
	StateRoot [32]byte
}

// Encode returns the canonical encoding.
func (cp *Checkpoint) Encode() []byte {
	size := 32 + 8 + 4 + 8 + 32 + 4 + 32
	for _, t := range cp.Txs {
		size += 4 + len(t)
	}
	e := &encoder{b: make([]byte, 0, size)}
	e.fixed(cp.Network[:])
	e.u64(cp.Height)
	e.u32(cp.Epoch)
	e.i64(cp.Time)
	e.fixed(cp.PrevHash[:])
	e.count(len(cp.Txs))
	for _, t := range cp.Txs {
		e.bytes(t)
	}
	e.fixed(cp.StateRoot[:])
	return e.b
}

// Hash is Blake2b-256 of the canonical encoding.
func (cp *Checkpoint) Hash() [32]byte { return blake2b.Sum256(cp.Encode()) }

// DecodeCheckpoint parses a canonical checkpoint encoding strictly.
func DecodeCheckpoint(b []byte) (*Checkpoint, error) {
	d := newDecoder(b)
	cp := new(Checkpoint)
	d.Fixed(cp.Network[:])
	cp.Height = d.U64()
	cp.Epoch = d.U32()
	cp.Time = int64(d.U64())
	d.Fixed(cp.PrevHash[:])
	n := readCount(d, MaxTxsPerCP, 4)
	if n > 0 {
		cp.Txs = make([][]byte, n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		cp.Txs[i] = readBytes(d, MaxTxSize)
	}
	d.Fixed(cp.StateRoot[:])
	if err := d.End(); err != nil {
		return nil, err
	}
	return cp, nil
}

// Result is what applying a checkpoint produced.
type Result struct {
	Events   []EpochEvent
	Receipts []Receipt // one per transaction, in order
}

// ApplyCheckpoint applies a committed checkpoint: header checks (network, height, previous
// hash, time after the previous checkpoint, transaction count), the time step
// (AdvanceTime), the epoch check, every transaction in order, and the state root check. It
// works on a copy and commits only if everything holds, so on error the state is unchanged.
func (s *State) ApplyCheckpoint(cp *Checkpoint) (*Result, error) {
	next, res, err := s.execute(cp)
	if err != nil {
		return nil, err
	}
	if root := next.Root(); root != cp.StateRoot {
		return nil, fmt.Errorf("%w: state root %x, checkpoint says %x", ErrBadCheckpoint, root[:8], cp.StateRoot[:8])
	}
	next.height, next.lastHash = cp.Height, cp.Hash()
	*s = *next
	return res, nil
}

// BuildCheckpoint is the proposer's side: it executes txs at time now on a copy of the
// state and returns the checkpoint with its epoch and state root filled in. The state is
// not changed; apply the checkpoint once it is committed.
func (s *State) BuildCheckpoint(now int64, txs [][]byte) (*Checkpoint, *Result, error) {
	cp := &Checkpoint{Network: s.network, Height: s.height + 1, Time: now, PrevHash: s.lastHash, Txs: txs}
	probe := s.Clone()
	if _, err := probe.AdvanceTime(now); err != nil {
		return nil, nil, err
	}
	cp.Epoch = probe.ep
	next, res, err := s.execute(cp)
	if err != nil {
		return nil, nil, err
	}
	cp.StateRoot = next.Root()
	return cp, res, nil
}

// ErrInvalidProposal is wrapped by CheckProposal's refusals.
var ErrInvalidProposal = errors.New("staking: invalid proposal")

// CheckProposal is the validity rule for a proposed checkpoint beyond ApplyCheckpoint
// (docs/architecture.md §4): every transaction must be Proposable — admitted (it decoded,
// was signed, had the right nonce, had not expired, and its sender paid its fee) with no
// failed BLS check. An admitted transaction whose operation is refused for another reason
// is allowed: it paid. Followers applying a committed checkpoint do not need this check.
func CheckProposal(res *Result) error {
	for i, r := range res.Receipts {
		if !r.Code.Proposable() {
			return fmt.Errorf("%w: transaction %d: %v", ErrInvalidProposal, i, r)
		}
	}
	return nil
}

// BuildProposal is BuildCheckpoint for a proposer that must satisfy CheckProposal: it
// executes the candidates in order at time now and leaves out every one that is not
// Proposable (such a transaction changed nothing, so the others' outcomes are as if it had
// never been there). It returns the checkpoint, its result and how many candidates were
// left out. The state is not changed.
func (s *State) BuildProposal(now int64, candidates [][]byte) (*Checkpoint, *Result, int, error) {
	cp := &Checkpoint{Network: s.network, Height: s.height + 1, Time: now, PrevHash: s.lastHash}
	if len(candidates) > MaxTxsPerCP {
		candidates = candidates[:MaxTxsPerCP]
	}
	if cp.Time <= s.time {
		return nil, nil, 0, fmt.Errorf("%w: time %d not after %d", ErrBadCheckpoint, cp.Time, s.time)
	}
	next := s.Clone()
	evs, err := next.AdvanceTime(now)
	if err != nil {
		return nil, nil, 0, err
	}
	cp.Epoch = next.ep
	res := &Result{Events: evs}
	decoded := make([]*SignedTx, len(candidates))
	for i, raw := range candidates {
		decoded[i], _ = DecodeSignedTx(raw)
	}
	next.preverified = next.preverify(decoded)
	dropped := 0
	for i, raw := range candidates {
		if decoded[i] == nil {
			dropped++
			continue
		}
		// A failing BLS check would be charged (admitted) yet make the proposal invalid:
		// check it first and leave the transaction out untouched.
		if NeedsBLS(decoded[i].Tx.Op) && next.VerifyTxBLS(decoded[i]) != nil {
			dropped++
			continue
		}
		r := next.applyTx(decoded[i], len(raw))
		if r.Code == CodeBadCertificate {
			// Not expected after VerifyTxBLS; it was charged, so start over without it.
			rest := append(append([][]byte(nil), candidates[:i]...), candidates[i+1:]...)
			cp, res, d, err := s.BuildProposal(now, rest)
			return cp, res, d + 1, err
		}
		if !r.Code.Proposable() {
			dropped++
			continue
		}
		cp.Txs = append(cp.Txs, raw)
		res.Receipts = append(res.Receipts, r)
	}
	next.preverified = nil
	next.recordReceipts(cp.Height, cp.Txs, res.Receipts)
	cp.StateRoot = next.Root()
	return cp, res, dropped, nil
}

func (s *State) execute(cp *Checkpoint) (*State, *Result, error) {
	switch {
	case cp.Network != s.network:
		return nil, nil, fmt.Errorf("%w: other network", ErrBadCheckpoint)
	case cp.Height != s.height+1:
		return nil, nil, fmt.Errorf("%w: height %d, want %d", ErrBadCheckpoint, cp.Height, s.height+1)
	case cp.PrevHash != s.lastHash:
		return nil, nil, fmt.Errorf("%w: previous hash", ErrBadCheckpoint)
	case cp.Time <= s.time:
		return nil, nil, fmt.Errorf("%w: time %d not after %d", ErrBadCheckpoint, cp.Time, s.time)
	case len(cp.Txs) > MaxTxsPerCP:
		return nil, nil, fmt.Errorf("%w: %d transactions", ErrBadCheckpoint, len(cp.Txs))
	}
	next := s.Clone()
	evs, err := next.AdvanceTime(cp.Time)
	if err != nil {
		return nil, nil, err
	}
	if next.ep != cp.Epoch {
		return nil, nil, fmt.Errorf("%w: epoch %d, time says %d", ErrBadCheckpoint, cp.Epoch, next.ep)
	}
	res := &Result{Events: evs, Receipts: make([]Receipt, len(cp.Txs))}
	decoded := make([]*SignedTx, len(cp.Txs))
	derr := make([]error, len(cp.Txs))
	for i, raw := range cp.Txs {
		decoded[i], derr[i] = DecodeSignedTx(raw)
	}
	next.preverified = next.preverify(decoded)
	for i := range decoded {
		if derr[i] != nil {
			res.Receipts[i] = reject(CodeMalformed, "%v", derr[i])
			continue
		}
		res.Receipts[i] = next.applyTx(decoded[i], len(cp.Txs[i]))
	}
	next.preverified = nil
	next.recordReceipts(cp.Height, cp.Txs, res.Receipts)
	return next, res, nil
}

// preverify checks, in parallel, the certificates of the checkpoint's certify and
// invalidate transactions that name the current epoch. The signed message depends only on
// the transaction and the epoch (CertifyBlob repeats the blob ID and persistence for this
// reason), and the committee is fixed while the transactions run, so each result is the one
// sequential verification would give; the apply step still checks everything else.
// BLS verification dominates checkpoint cost (see BenchmarkApplyCheckpoint), hence the
// bounded fan-out: at most GOMAXPROCS workers, all joined before returning.
func (s *State) preverify(txs []*SignedTx) map[*epoch.Certificate]error {
	type job struct {
		cert *epoch.Certificate
		msg  []byte
		th   epoch.Threshold
	}
	var jobs []job
	for _, tx := range txs {
		if tx == nil {
			continue
		}
		var j job
		switch op := tx.Tx.Op.(type) {
		case *CertifyBlob:
			if op.Cert.Epoch == s.ep {
				j = job{&op.Cert, ConfirmationMessage(s.network, s.ep, op.BlobID, op.Deletable, op.Blob), epoch.ThresholdQuorum}
			}
		case *InvalidateBlob:
			if op.Cert.Epoch == s.ep {
				j = job{&op.Cert, InvalidBlobMessage(s.network, s.ep, op.BlobID), epoch.ThresholdValidity}
			}
		}
		if j.cert != nil && (s.cache == nil || !s.cache.has(certKey(j.msg, j.cert, j.th))) {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) < 2 {
		return nil
	}
	out := make([]error, len(jobs))
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(jobs); i += workers {
				out[i] = s.committee.VerifyCertificate(jobs[i].msg, jobs[i].cert, jobs[i].th)
			}
		}(w)
	}
	wg.Wait()
	m := make(map[*epoch.Certificate]error, len(jobs))
	for i, j := range jobs {
		m[j.cert] = out[i]
	}
	return m
}
