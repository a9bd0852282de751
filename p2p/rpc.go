package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A request/response exchange on one stream (docs/architecture.md §5):
//
//	client → server: frame(request)            then CloseWrite
//	server → client: frame(status || body)     then Close
//
// status 0 means success and body is the response; any other status is a [Code] and body
// is a short UTF-8 message. Either side Resets the stream on any error, so a half-done
// exchange never looks like a clean one.

// Code classifies a handler failure on the wire so the caller can react (retry elsewhere,
// give up, penalise) without parsing messages.
type Code uint8

// Failure codes. Zero is success on the wire and is not a Code.
const (
	// CodeBadRequest: the request is malformed or fails verification. Do not retry.
	CodeBadRequest Code = 1 + iota
	// CodeNotFound: the peer does not have what was asked for (yet).
	CodeNotFound
	// CodeUnavailable: the peer is overloaded or not ready (syncing, wrong epoch); retry
	// later or elsewhere.
	CodeUnavailable
	// CodeForbidden: the request is well-formed but not allowed (blob not registered,
	// requester does not own the shard).
	CodeForbidden
	// CodeInternal: the handler failed for its own reasons.
	CodeInternal
	// CodeStaleEpoch: the request belongs to an epoch the peer has already left (a
	// confirmation for the previous committee, a put of a shard it has handed over). Do
	// not retry: redo it for the current epoch.
	CodeStaleEpoch
)

var codeNames = map[Code]string{
	CodeBadRequest: "bad request", CodeNotFound: "not found", CodeUnavailable: "unavailable",
	CodeForbidden: "forbidden", CodeInternal: "internal error", CodeStaleEpoch: "stale epoch",
}

// String implements fmt.Stringer.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code(%d)", uint8(c))
}

// maxStatusMessage caps the message carried with a failure code; the body of an error
// response is capped by the protocol's response cap anyway, this keeps errors short.
const maxStatusMessage = 512

// StatusError is a failure with a wire [Code]. Handlers return one (see [Errorf]) to choose
// the code; [Call] returns one (wrapped with the protocol and peer) when the remote handler
// failed.
type StatusError struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Errorf returns a *StatusError with code and a formatted message.
func Errorf(code Code, format string, args ...any) error {
	return &StatusError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code carried by err, CodeInternal for other non-nil errors, and 0
// for nil.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) && se.Code != 0 {
		return se.Code
	}
	return CodeInternal
}

// Handler serves one request of a protocol. from is the authenticated remote peer. The
// request bytes are the caller's untrusted input, already capped at the protocol's
// MaxRequest. ctx ends when the exchange's time is up (the protocol's Timeout plus a
// short grace, see serverGrace); an answer after that is not sent. Returning an error sends its [Code]
// (CodeInternal unless it is a [*StatusError]) and message instead of a response.
// Handlers must not block on the network (docs/architecture.md §6): they hand the request to an actor
// and wait for its answer.
type Handler func(ctx context.Context, from peer.ID, req []byte) ([]byte, error)

// ReleasingHandler is a [Handler] that answers with parts to send one after the other (the
// response is their concatenation) held in memory it wants back: release (when not nil) is
// called once the response has been written or abandoned. A node serves slivers this way
// straight from the storage engine's cache, without copying them into a response.
type ReleasingHandler func(ctx context.Context, from peer.ID, req []byte) (resp [][]byte, release func(), err error)

// Handle registers handler for p on h. Each inbound stream is served on the goroutine
// libp2p gives it, with p.Timeout (plus grace) as its deadline; a malformed or oversized request, a
// handler panic or a write failure Resets the stream without affecting the host.
func Handle(h host.Host, p Protocol, handler Handler, logger *slog.Logger) error {
	if handler == nil {
		return errors.New("p2p: nil handler")
	}
	return HandleReleasing(h, p, Plain(handler), logger)
}

// Plain adapts a [Handler], which keeps nothing after answering, to a [ReleasingHandler].
func Plain(h Handler) ReleasingHandler {
	return func(ctx context.Context, from peer.ID, req []byte) ([][]byte, func(), error) {
		resp, err := h(ctx, from, req)
		return [][]byte{resp}, nil, err
	}
}

// HandleReleasing is [Handle] for a ReleasingHandler: a handler that lends memory for its
// response gets it back when the stream is done with it.
func HandleReleasing(h host.Host, p Protocol, handler ReleasingHandler, logger *slog.Logger) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if handler == nil {
		return errors.New("p2p: nil handler")
	}
	if logger == nil {
		logger = slog.Default()
	}
	h.SetStreamHandler(p.ID, func(s network.Stream) {
		serve(s, p, handler, logger)
	})
	return nil
}

func serve(s network.Stream, p Protocol, handler ReleasingHandler, logger *slog.Logger) {
	from := s.Conn().RemotePeer()
	ok := false
	defer func() {
		if r := recover(); r != nil {
			logger.Error("stream handler panicked", "protocol", p.ID, "peer_id", from, "panic", r)
		}
		if !ok {
			_ = s.Reset()
		}
	}()
	// The server allows a grace period beyond the caller's deadline: both start the same
	// clock, the caller slightly earlier, and an exchange that runs out of time must end on
	// the caller's own timer (a clean ErrTimeout) rather than on a reset from the server
	// that, on a loaded machine, could overtake it.
	deadline := time.Now().Add(p.Timeout + serverGrace(p.Timeout))
	if err := s.SetDeadline(deadline); err != nil {
		return
	}
	req, release, err := readStreamFrame(s, s.Scope(), p.MaxRequest)
	defer release()
	if err != nil {
		logger.Debug("bad request frame", "protocol", p.ID, "peer_id", from, "err", err)
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	resp, releaseResp, herr := handler(ctx, from, req)
	if releaseResp != nil {
		defer releaseResp() // after the write below, or on any return before it
	}
	if ctx.Err() != nil {
		// The deadline passed while the handler ran: the caller has given up (its own
		// deadline is shorter and started earlier), so do not answer. Reset instead.
		return
	}
	size := 0
	for _, part := range resp {
		size += len(part)
	}
	// frame(status || parts...), the parts written as they are (WriteFrameParts).
	frame := append([][]byte{{0}}, resp...)
	switch {
	case herr != nil:
		msg := herr.Error()
		var se *StatusError
		if errors.As(herr, &se) {
			msg = se.Message
		}
		frame = [][]byte{{byte(CodeOf(herr))}, []byte(truncateUTF8(msg, maxStatusMessage))}
	case size > p.MaxResponse:
		logger.Error("handler response exceeds protocol cap", "protocol", p.ID, "size", size, "cap", p.MaxResponse)
		frame = [][]byte{{byte(CodeInternal)}, []byte("response too large")}
	}
	if err := WriteFrameParts(s, frame); err != nil {
		return
	}
	ok = s.Close() == nil
}

// serverGrace is how much longer than the caller a server keeps a stream open.
func serverGrace(timeout time.Duration) time.Duration {
	return max(timeout/10, 500*time.Millisecond)
}

// Call opens a stream to peer for p, sends req and returns the response body. The exchange
// is bounded by p.Timeout and by ctx, whichever ends first. A remote failure comes back as
// a wrapped [*StatusError]; transport failures as [ErrTimeout], [ErrFrameTooLarge],
// [ErrTruncatedFrame] or the transport's own error.
func Call(ctx context.Context, h host.Host, to peer.ID, p Protocol, req []byte) ([]byte, error) {
	return CallParts(ctx, h, to, p, [][]byte{req})
}

// CallParts is Call with the request given as parts to concatenate, which are written
// without being joined (see WriteFrameParts).
func CallParts(ctx context.Context, h host.Host, to peer.ID, p Protocol, req [][]byte) ([]byte, error) {
	var resp []byte
	err := call(ctx, h, to, p, req, func(s network.Stream, r *bodyReader) error {
		// The reservation only covers the read: the stream (and with it its scope) ends
		// when the caller returns, and the body then belongs to the caller.
		body, release, err := readStreamBody(r, s.Scope(), r.left)
		release()
		resp = body
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// CallStream is CallParts for responses the caller parses as they arrive instead of
// holding them whole (a read's slivers go straight to their place in the blob): read gets
// the success body as a reader of exactly its n bytes (at most p.MaxResponse) and must
// consume all of it. The reader reports the end of the stream inside the body as
// ErrTruncatedFrame and a passed deadline as ErrTimeout; read's error, or unread bytes
// (ErrMalformedFrame), Reset the stream and are returned wrapped like Call's.
func CallStream(ctx context.Context, h host.Host, to peer.ID, p Protocol, req [][]byte, read func(body io.Reader, n int) error) error {
	return call(ctx, h, to, p, req, func(_ network.Stream, body *bodyReader) error {
		n := body.left
		if err := read(body, n); err != nil {
			return err
		}
		if body.left != 0 {
			return fmt.Errorf("%w: %d of %d response bytes not understood", ErrMalformedFrame, body.left, n)
		}
		return nil
	})
}

// call runs one exchange with to: it sends req, reads the response's length prefix and
// status byte, turns a failure status into a *StatusError and hands a success body, not
// yet read, to body as a reader of exactly its bytes. Errors are wrapped with the protocol
// and peer.
func call(ctx context.Context, h host.Host, to peer.ID, p Protocol, req [][]byte, body func(s network.Stream, r *bodyReader) error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	size := 0
	for _, part := range req {
		size += len(part)
	}
	if size > p.MaxRequest {
		return fmt.Errorf("%s: request of %d bytes: %w (cap %d)", p.ID, size, ErrFrameTooLarge, p.MaxRequest)
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	s, err := h.NewStream(ctx, to, p.ID)
	if err != nil {
		return fmt.Errorf("%s to %s: open stream: %w", p.ID, to, classify(contextErr(ctx, err)))
	}
	if err := exchange(ctx, s, p, req, body); err != nil {
		_ = s.Reset()
		return fmt.Errorf("%s to %s: %w", p.ID, to, err)
	}
	_ = s.Close()
	return nil
}

func exchange(ctx context.Context, s network.Stream, p Protocol, req [][]byte, body func(s network.Stream, r *bodyReader) error) error {
	deadline, _ := ctx.Deadline() // always set: call adds p.Timeout
	if err := s.SetDeadline(deadline); err != nil {
		return err
	}
	// The stream deadline does not follow ctx cancellation; resetting on cancel does, and
	// unblocks a pending read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := WriteFrameParts(s, req); err != nil {
		return contextErr(ctx, err)
	}
	if err := s.CloseWrite(); err != nil {
		return contextErr(ctx, err)
	}
	// A failure message may be longer than a small protocol's largest answer (a
	// fixed-size confirmation, say): the frame cap admits either, the status byte decides.
	n, err := ReadFrameLength(s, max(p.MaxResponse, maxStatusMessage)+1)
	if err != nil {
		return contextErr(ctx, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: empty response", ErrMalformedFrame)
	}
	r := &bodyReader{r: s, left: n}
	var status [1]byte
	if _, err := io.ReadFull(r, status[:]); err != nil {
		return contextErr(ctx, err)
	}
	if status[0] == 0 && r.left > p.MaxResponse {
		return fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, r.left, p.MaxResponse)
	}
	if status[0] != 0 {
		if r.left > maxStatusMessage {
			return fmt.Errorf("%w: failure message of %d bytes (cap %d)", ErrMalformedFrame, r.left, maxStatusMessage)
		}
		msg, err := io.ReadAll(r)
		if err != nil {
			return contextErr(ctx, err)
		}
		return &StatusError{Code: Code(status[0]), Message: sanitize(msg)}
	}
	if err := body(s, r); err != nil {
		return contextErr(ctx, err)
	}
	return nil
}

// bodyReader reads exactly left more bytes of a frame body from r: it ends with io.EOF
// after them and turns an earlier end of r into ErrTruncatedFrame.
type bodyReader struct {
	r    io.Reader
	left int
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && b.left == 0:
		err = nil
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("%w: stream ended %d bytes short", ErrTruncatedFrame, b.left)
	default:
		err = classify(err)
	}
	return n, err
}

// contextErr prefers the context's reason (deadline, cancellation) over the stream error
// it caused, so callers can match context.DeadlineExceeded / ErrTimeout.
func contextErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w", ErrTimeout, cerr)
		}
		return cerr
	}
	return err
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// sanitize turns a peer's error message (untrusted bytes, at most maxStatusMessage) into a
// printable string.
func sanitize(b []byte) string {
	return string([]rune(string(b))) // invalid UTF-8 becomes U+FFFD
}
