package client

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Transaction fees on the client's side (docs/protocol.md §11 "Fees and deposits"): what
// one transaction of the wallet costs under the schedule in force (TxFee), what a command
// costs in all — its transactions' fees plus the FROST its operations move (Cost) — and the
// balance check made before anything is sent, so that a wallet that cannot pay gets one
// clear error naming the shortfall rather than a doomed transaction that pays its fee and
// is refused. `--dry-run` of every transaction command of the CLI prints a Cost.
//
// The schedule comes from the proven info answer (the parameters entry carries Prices with
// Fees); a client without a genesis (unverified answers) sees a zero schedule, as the plain
// info answer does not carry it.

// ErrInsufficientBalance: the wallet cannot pay what a command costs (fees included).
var ErrInsufficientBalance = errors.New("client: insufficient balance")

// TxFee is the fee the ledger charges the wallet's transaction carrying op under the
// schedule f: staking.RequiredFee of its signed encoding (staking.Fees.TxFee: base + per
// byte × signed size + per verify × BLS checks). The client offers no more than the minimum
// (Tx.Fee 0), and the signed size does not depend on the sender, nonce or expiry (fixed-width
// fields), so this is the fee the transaction pays.
func TxFee(f staking.Fees, op staking.Op) (uint64, error) {
	stx := staking.SignedTx{Tx: staking.Tx{Op: op}}
	fee, ok := staking.RequiredFee(f, &stx.Tx, stx.Size())
	if !ok {
		return 0, errors.New("client: transaction fee overflows")
	}
	return fee, nil
}

// CertifyOp is a certify-blob transaction of the size a certificate of a committee of
// members members has (its signer bitmap takes a bit per member), for TxFee.
func CertifyOp(members int) *staking.CertifyBlob {
	return &staking.CertifyBlob{Cert: epoch.Certificate{Signers: make([]byte, (members+7)/8)}}
}

// PlannedTx is one transaction a command would send.
type PlannedTx struct {
	Op staking.Op
	// Spend is FROST the operation takes from the wallet, besides its fee, that Op and the
	// prices alone do not tell (an extension's cost depends on the object's size:
	// ExtendCost). It adds to what OpSpend finds.
	Spend uint64
	// Returned is FROST the operation gives back to the wallet (a withdrawn stake).
	Returned uint64
}

// OpSpend is what op takes from the sender's balance besides its fee, at the prices of in:
// the amount of a transfer or a stake, the storage a reservation buys (storage price × MiB
// units × epochs), the write fee of a registration (write price × units of the encoded
// length), the deposit of a node registration; zero for the others (an extension's cost
// needs the object: PlannedTx.Spend). It reuses staking.StorageCost, the ledger's own
// arithmetic.
func OpSpend(in *query.Info, op staking.Op) (uint64, error) {
	overflow := fmt.Errorf("client: the cost of %s overflows", op.Kind())
	switch op := op.(type) {
	case *staking.Transfer:
		return op.Amount, nil
	case *staking.StakeOp:
		return op.Amount, nil
	case *staking.RegisterNode:
		return in.Prices.Fees.Deposit, nil
	case *staking.ReserveStorage:
		if op.End <= op.Start {
			return 0, nil
		}
		// The reservation alone: StorageCost at a zero write price.
		c, ok := staking.StorageCost(staking.Prices{Storage: in.Prices.Storage}, op.Size, op.End-op.Start)
		if !ok {
			return 0, overflow
		}
		return c, nil
	case *staking.RegisterBlob:
		p, err := codec.NewParams(in.NShards)
		if err != nil {
			return 0, err
		}
		enc, err := p.EncodedLength(op.Length)
		if err != nil {
			return 0, err
		}
		// The write fee alone: StorageCost for zero epochs.
		c, ok := staking.StorageCost(staking.Prices{Write: in.Prices.Write}, enc, 0)
		if !ok {
			return 0, overflow
		}
		return c, nil
	}
	return 0, nil
}

// Cost is what a command costs the wallet: the fees of its transactions and the FROST its
// operations move, against the wallet's balance (all amounts in FROST).
type Cost struct {
	Transactions int    `json:"transactions"`
	Fee          uint64 `json:"fee"`    // the transactions' fees under the schedule in force
	Amount       uint64 `json:"amount"` // taken besides the fees: amount moved or staked, storage, write fee, deposit
	Total        uint64 `json:"total"`  // Fee + Amount: what the balance must cover
	Returned     uint64 `json:"returned,omitempty"`
	Balance      uint64 `json:"balance"`      // the wallet's balance now
	BalanceAfter uint64 `json:"balanceAfter"` // Balance - Total + Returned (0 when short)
	Shortfall    uint64 `json:"shortfall,omitempty"`
	// Schedule is the fee schedule the fees were computed with.
	Schedule staking.Fees `json:"feeSchedule"`
}

// add returns a+b, or an error on overflow.
func add(a, b uint64) (uint64, error) {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return 0, errors.New("client: cost overflows")
	}
	return s, nil
}

// PlanCost is the cost of txs at the prices and fee schedule of in for a wallet holding
// balance. The balance must cover every fee and amount before anything returned counts
// (a transaction's fee is taken before its operation runs).
func PlanCost(in *query.Info, balance uint64, txs ...PlannedTx) (*Cost, error) {
	c := &Cost{Transactions: len(txs), Balance: balance, Schedule: in.Prices.Fees}
	var err error
	for _, t := range txs {
		fee, err := TxFee(in.Prices.Fees, t.Op)
		if err != nil {
			return nil, err
		}
		spend, err := OpSpend(in, t.Op)
		if err != nil {
			return nil, err
		}
		if spend, err = add(spend, t.Spend); err != nil {
			return nil, err
		}
		if c.Fee, err = add(c.Fee, fee); err != nil {
			return nil, err
		}
		if c.Amount, err = add(c.Amount, spend); err != nil {
			return nil, err
		}
		if c.Returned, err = add(c.Returned, t.Returned); err != nil {
			return nil, err
		}
	}
	if c.Total, err = add(c.Fee, c.Amount); err != nil {
		return nil, err
	}
	if balance < c.Total {
		c.Shortfall = c.Total - balance
		return c, nil
	}
	if c.BalanceAfter, err = add(balance-c.Total, c.Returned); err != nil {
		return nil, err
	}
	return c, nil
}

// Check is nil when the balance covers the cost, else an ErrInsufficientBalance naming
// what is needed, what the wallet holds and the shortfall; what names the command
// ("transfer", "storing").
func (c *Cost) Check(what string) error {
	if c.Shortfall == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s needs %s (%s); the wallet holds %s: %s short",
		ErrInsufficientBalance, what, FormatWAL(c.Total), c.Breakdown(), FormatWAL(c.Balance), FormatWAL(c.Shortfall))
}

// Breakdown says what the total is made of: "1.5 WAL + fee 0.000003 WAL".
func (c *Cost) Breakdown() string {
	var parts []string
	if c.Amount > 0 {
		parts = append(parts, FormatWAL(c.Amount))
	}
	tx := "transaction"
	if c.Transactions != 1 {
		tx += "s"
	}
	parts = append(parts, fmt.Sprintf("fee %s for %d %s", FormatWAL(c.Fee), c.Transactions, tx))
	return strings.Join(parts, " + ")
}

// EstimateTx is the cost of txs for the wallet now: the prices and fee schedule in force
// (proven info) and the wallet's balance. Nothing is sent.
func (l *Ledger) EstimateTx(ctx context.Context, txs ...PlannedTx) (*Cost, error) {
	if l.cfg.Key == nil {
		return nil, ErrNoWallet
	}
	in, err := l.Info(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := l.Account(ctx, l.addr)
	if err != nil {
		return nil, err
	}
	return PlanCost(in, acc.Account.Balance, txs...)
}

// SubmitPlanned checks that the wallet can pay t (EstimateTx; ErrInsufficientBalance
// otherwise, nothing sent), then submits it and waits for the commit as SubmitCreating
// does. what names the command in the error.
func (l *Ledger) SubmitPlanned(ctx context.Context, what string, t PlannedTx) (query.TxReceipt, staking.ObjectID, *Cost, error) {
	c, err := l.EstimateTx(ctx, t)
	if err != nil {
		return query.TxReceipt{}, staking.ObjectID{}, nil, err
	}
	if err := c.Check(what); err != nil {
		return query.TxReceipt{}, staking.ObjectID{}, c, err
	}
	r, id, err := l.SubmitCreating(ctx, t.Op)
	return r, id, c, err
}

// StorePlan is the transactions a store of a blob of length bytes (encLen encoded) for
// epochs epochs sends when nothing is reused: reserve storage, register blob, certify blob
// (with a certificate of the current committee, in.Committee).
func StorePlan(in *query.Info, length, encLen uint64, epochs uint32) []PlannedTx {
	return []PlannedTx{
		{Op: &staking.ReserveStorage{Size: encLen, Start: in.Epoch, End: in.Epoch + epochs}},
		{Op: &staking.RegisterBlob{Length: length, Encoding: codec.EncodingTypeRS2}},
		{Op: CertifyOp(committeeSize(in))},
	}
}

func committeeSize(in *query.Info) int {
	if in.Committee == nil {
		return 0
	}
	return len(in.Committee.Members)
}

// storeFee is the fees a store paid or would pay: all three transactions for a new
// registration, the certification alone for a reused registration of ours, nothing for a
// blob already certified.
func storeFee(in *query.Info, length, encLen uint64, epochs uint32, newRegistration, alreadyCertified bool) (uint64, error) {
	if alreadyCertified {
		return 0, nil
	}
	plan := StorePlan(in, length, encLen, epochs)
	if !newRegistration {
		plan = plan[2:]
	}
	c, err := PlanCost(in, 0, plan...)
	if err != nil {
		return 0, err
	}
	return c.Fee, nil
}

// checkedHooks are the session's ledger as a store's hooks, with RegisterBlob first
// checking that the wallet can pay the storage and the fees of every transaction the store
// sends (reserve, register, certify), so a wallet that cannot gets one clear error before
// anything is sent. A blob already certified long enough, or a registration of ours to
// reuse, costs less; that is looked at only when the full cost is not covered.
type checkedHooks struct{ *Ledger }

func (h checkedHooks) RegisterBlob(ctx context.Context, enc *codec.EncodedBlob, opts StoreOptions) (Registration, bool, error) {
	if err := h.checkStore(ctx, enc, opts); err != nil {
		return Registration{}, false, err
	}
	return h.Ledger.RegisterBlob(ctx, enc, opts)
}

func (h checkedHooks) checkStore(ctx context.Context, enc *codec.EncodedBlob, opts StoreOptions) error {
	l := h.Ledger
	if l.cfg.Key == nil || opts.Epochs == 0 || opts.Epochs > staking.MaxEpochsAhead {
		return nil // RegisterBlob answers these itself (a wallet-less store may reuse a blob)
	}
	in, err := l.Info(ctx)
	if err != nil {
		return err
	}
	length := enc.Metadata.UnencodedLength
	encLen, err := enc.Params.EncodedLength(length)
	if err != nil {
		return nil // RegisterBlob reports it
	}
	acc, err := l.Account(ctx, l.addr)
	if err != nil {
		return err
	}
	plan := StorePlan(in, length, encLen, opts.Epochs)
	c, err := PlanCost(in, acc.Account.Balance, plan...)
	if err != nil || c.Shortfall == 0 {
		return err
	}
	// Short of a full store: is there anything to reuse (RegisterBlob's rules)?
	st, err := l.BlobStatus(ctx, enc.BlobID)
	if err != nil {
		return err
	}
	want := in.Epoch + opts.Epochs
	if st.Status.Kind == staking.StatusCertified && st.Status.EndEpoch >= want {
		return nil
	}
	for _, o := range st.Objects {
		if o.Owner == l.addr && !o.Certified && o.Deletable == opts.Deletable && o.Storage.End >= want && o.Storage.Start <= in.Epoch {
			if c, err = PlanCost(in, acc.Account.Balance, plan[2:]...); err != nil {
				return err
			}
			return c.Check("certifying the registered blob")
		}
	}
	return c.Check("storing")
}
