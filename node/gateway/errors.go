package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// ErrorDomain is the domain of every ErrorInfo the gateway sends (Walrus's daemon uses
// "daemon.walrus.space"; the reasons below keep Walrus's names where it has one).
const ErrorDomain = "gateway.walrus-go"

// Stable machine-readable reasons (the ErrorInfo "reason" of the Status shape). Clients
// may switch on them; they do not change between releases.
const (
	ReasonBlobNotFound         = "BLOB_NOT_FOUND"             // 404: the ledger knows no live blob with this ID
	ReasonBlobInvalid          = "BLOB_INVALID"               // 404: the blob is inconsistently encoded (invalid)
	ReasonBlobNotRetrievable   = "BLOB_NOT_RETRIEVABLE"       // 503: not certified yet, or too few nodes answered; retry
	ReasonBlobTooLarge         = "BLOB_TOO_LARGE"             // 403 on reads (over the aggregator's limit), 413 on stores
	ReasonInvalidBlobID        = "INVALID_BLOB_ID"            // 400: not 43 characters of URL-safe base64
	ReasonInvalidParameter     = "INVALID_PARAMETER"          // 400: a query parameter is malformed or out of range
	ReasonInvalidPersistence   = "INVALID_BLOB_PERSISTENCE"   // 400: deletable=true with permanent=true
	ReasonUnsupportedParameter = "UNSUPPORTED_PARAMETER"      // 400: a Sui-only option walrus-go has no concept for
	ReasonInvalidByteRange     = "INVALID_BYTE_RANGE"         // 400 (byte-range route) / 416 (Range header)
	ReasonTooManyRequests      = "TOO_MANY_REQUESTS"          // 429: every upload (or read) slot is taken; retry
	ReasonInsufficientConfirms = "INSUFFICIENT_CONFIRMATIONS" // 504: no quorum of storage confirmations in time
	ReasonTimeout              = "TIMEOUT"                    // 504: the ledger did not commit in time
	ReasonLedgerRejected       = "LEDGER_REJECTED"            // 500: the ledger refused a transaction of the store
	ReasonInsufficientFunds    = "INSUFFICIENT_FUNDS"         // 500: the publisher's wallet cannot pay the storage and fees
	ReasonNetworkUnavailable   = "NETWORK_UNAVAILABLE"        // 503: no node of the network answered
	ReasonNotImplemented       = "NOT_IMPLEMENTED"            // 501: a route of the Walrus API walrus-go does not serve yet
	ReasonNotFound             = "NOT_FOUND"                  // 404: no such route
	ReasonNotAQuilt            = "NOT_A_QUILT"                // 404: the blob is not a (well-formed) quilt
	ReasonQuiltPatchNotFound   = "QUILT_PATCH_NOT_FOUND"      // 404: the quilt has no such identifier or patch; a site has no such path
	ReasonInvalidQuiltPatchID  = "INVALID_QUILT_PATCH_ID"     // 400: not a quilt patch ID (50 characters of URL-safe base64, version 1)
	ReasonInternal             = "INTERNAL"                   // 500
	ReasonMissingToken         = "MISSING_TOKEN"              // 401: no Authorization: Bearer header
	ReasonInvalidToken         = "INVALID_TOKEN"              // 401: not a well-formed HS256 JWT with exp and jti
	ReasonInvalidSignature     = "INVALID_SIGNATURE"          // 401: the signature does not verify (or nbf is ahead)
	ReasonExpiredSignature     = "EXPIRED_SIGNATURE"          // 401: exp has passed
	ReasonInvalidExpiration    = "INVALID_EXPIRATION"         // 403: exp - iat differs from the configured lifetime
	ReasonInvalidEpochs        = "INVALID_EPOCHS"             // 403: epochs differ from the token's (or both epochs and max_epochs)
	ReasonEpochsAboveMax       = "EPOCHS_ABOVE_MAX"           // 403: epochs above the token's max_epochs
	ReasonInvalidSizes         = "INVALID_SIZES"              // 403: the token has both size and max_size
	ReasonMaxSizeExceeded      = "MAX_SIZE_EXCEEDED"          // 403: the body is larger than the token's max_size
	ReasonSizeIncorrect        = "SIZE_INCORRECT"             // 403: the body's size differs from the token's size
	ReasonTokenAlreadyUsed     = "TOKEN_ALREADY_USED"         // 403: the token's jti was used before (replay)
	ReasonTokenCacheFull       = "TOKEN_CACHE_FULL"           // 429: the replay cache is full until tokens expire
	ReasonMethodNotAllowed     = "METHOD_NOT_ALLOWED"         // 405
	ReasonRequestTimeout       = "REQUEST_TIMEOUT"            // 408: the body did not arrive in time
	ReasonClientClosed         = "CLIENT_CLOSED_REQUEST"      // the client went away (logged and counted only)
)

// apiError is an error with its HTTP status and stable reason.
type apiError struct {
	code    int
	reason  string
	message string
	// retryAfter, in seconds, is sent as Retry-After when positive (429, 503).
	retryAfter int
}

func (e *apiError) Error() string { return e.reason + ": " + e.message }

func newError(code int, reason, message string) *apiError {
	return &apiError{code: code, reason: reason, message: message}
}

func retryable(code int, reason, message string) *apiError {
	return &apiError{code: code, reason: reason, message: message, retryAfter: 1}
}

// grpcStatus names an HTTP code the way Walrus's Status does (AIP-193's canonical codes).
func grpcStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "UNIMPLEMENTED"
	case http.StatusRequestTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusRequestEntityTooLarge:
		return "OUT_OF_RANGE"
	case http.StatusRequestedRangeNotSatisfiable:
		return "OUT_OF_RANGE"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusUnavailableForLegalReasons:
		return "UNAVAILABLE_FOR_LEGAL_REASONS"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}

// Status is the error body of the Walrus API documents (components.schemas.Status, after
// Google's AIP-193): {"error":{"code","status","message","details":[ErrorInfo]}}.
type Status struct {
	Error StatusBody `json:"error"`
}

// StatusBody is Status's "error" object.
type StatusBody struct {
	Code    int         `json:"code"`
	Status  string      `json:"status"`
	Message string      `json:"message"`
	Details []ErrorInfo `json:"details"`
}

// ErrorInfo is the machine-readable detail every Status carries.
type ErrorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata"`
}

// Reason returns the stable reason of a Status, or "" when it has none.
func (s *Status) Reason() string {
	for _, d := range s.Error.Details {
		if d.Type == "ErrorInfo" {
			return d.Reason
		}
	}
	return ""
}

// writeError sends err in the Status shape. Errors other than *apiError are internal.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = newError(http.StatusInternalServerError, ReasonInternal, err.Error())
	}
	body := Status{Error: StatusBody{
		Code: ae.code, Status: grpcStatus(ae.code), Message: ae.message,
		Details: []ErrorInfo{{Type: "ErrorInfo", Reason: ae.reason, Domain: ErrorDomain, Metadata: map[string]string{}}},
	}}
	b, _ := json.Marshal(body) // plain strings and ints: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("Cache-Control", "no-store")
	if ae.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	if ae.code == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="walrus-go publisher"`)
	}
	w.WriteHeader(ae.code)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSON sends v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}
