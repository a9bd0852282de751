package staking

import "fmt"

// Code is the outcome of a transaction. OK is zero so that a zero Receipt means success;
// every rejection has its own code (the enum-at-1 habit does not fit a result
// code whose zero value is the common case).
type Code uint8

// Receipt codes.
const (
	OK                  Code = iota
	CodeMalformed            // bytes do not decode
	CodeBadSignature         // Ed25519 signature does not verify
	CodeBadNonce             // nonce is not the account's next nonce
	CodeInsufficient         // balance too low
	CodeInvalidArgument      // a field is out of range or inconsistent
	CodeUnknownObject        // no such storage resource, blob, stake or node
	CodeNotOwner             // the sender does not own the object
	CodeExpired              // resource or blob is not live in the current epoch
	CodeWrongEpoch           // certificate or announcement for another epoch
	CodeBadCertificate       // certificate or BLS signature does not verify
	CodeBlobInvalid          // the blob ID was invalidated
	CodeAlreadyDone          // certified twice, invalidated twice, registered twice, …
	CodeTooFarAhead          // storage beyond current + 53 epochs
	CodeCapacity             // not enough storage capacity left
	CodeNotDeletable         // delete of a permanent blob
	CodeNotWithdrawable      // withdraw before the stake is withdrawable
	CodeNotMember            // node is not in the current committee
	CodeOverflow             // an amount of the operation overflows (an overflowing minimum fee is CodeFee)
	CodeTxExpired            // the transaction's expiry height has passed
	CodeFee                  // the sender cannot pay the transaction's fee
	codeEnd
)

var codeNames = [...]string{"ok", "malformed", "bad-signature", "bad-nonce", "insufficient",
	"invalid-argument", "unknown-object", "not-owner", "expired", "wrong-epoch",
	"bad-certificate", "blob-invalid", "already-done", "too-far-ahead", "capacity",
	"not-deletable", "not-withdrawable", "not-member", "overflow", "tx-expired", "fee"}

// String names the code (stable; used in scripted test output).
func (c Code) String() string {
	if c < codeEnd {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint8(c))
}

// Admitted reports whether a transaction with this outcome was admitted: it decoded, its
// expiry had not passed, its sender could pay the fee, its signature and nonce were right.
// An admitted transaction paid its fee and consumed its nonce even if its operation was
// then refused; one not admitted changed nothing at all.
func (c Code) Admitted() bool {
	switch c {
	case CodeMalformed, CodeBadSignature, CodeBadNonce, CodeTxExpired, CodeFee:
		return false
	}
	return true
}

// Proposable reports whether a transaction with this outcome may be in a proposed
// checkpoint (docs/architecture.md §4 "valid proposals only"): it was admitted (it paid)
// and no BLS check of it failed. Validators refuse to prevote a proposal with any other.
func (c Code) Proposable() bool { return c.Admitted() && c != CodeBadCertificate }

// Receipt is the result of one transaction: OK, or a rejection code with a message. A
// transaction not admitted (Code.Admitted) changed nothing in the state; an admitted one
// whose operation was refused only paid Fee and consumed its nonce.
type Receipt struct {
	Code    Code
	Message string
	// Fee is the FROST the transaction paid (zero when not admitted).
	Fee uint64
	// Created is the object a successful transaction created (storage resource, blob
	// object, returned storage, stake), DeriveObjectID(sender, nonce, 0); zero otherwise.
	Created ObjectID
}

// OK reports success.
func (r Receipt) OK() bool { return r.Code == OK }

// Err returns nil on success, else a *TxError.
func (r Receipt) Err() error {
	if r.Code == OK {
		return nil
	}
	return &TxError{Code: r.Code, Message: r.Message}
}

// String prints "ok" or "code: message".
func (r Receipt) String() string {
	if r.Code == OK {
		return "ok"
	}
	return r.Code.String() + ": " + r.Message
}

// TxError is a rejected transaction as an error.
type TxError struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *TxError) Error() string { return "staking: " + e.Code.String() + ": " + e.Message }

func reject(c Code, format string, args ...any) Receipt {
	return Receipt{Code: c, Message: fmt.Sprintf(format, args...)}
}
