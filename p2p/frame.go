package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/walrus-go/walrus-go/internal/hugemem"
)

// Framing errors. A framing error means the peer broke the protocol (or the link died):
// the stream is Reset and the error returned; the host itself is unaffected.
var (
	// ErrFrameTooLarge: the length prefix exceeds the protocol's cap. Nothing beyond the
	// prefix has been read or allocated.
	ErrFrameTooLarge = errors.New("p2p: frame exceeds size cap")
	// ErrMalformedFrame: the length prefix is not a valid uvarint, or a response breaks the
	// exchange's form (empty, a failure message over its cap, bytes its reader left unread).
	ErrMalformedFrame = errors.New("p2p: malformed frame length")
	// ErrTruncatedFrame: the stream ended inside a frame.
	ErrTruncatedFrame = errors.New("p2p: truncated frame")
	// ErrTimeout: the stream deadline passed. It also matches os.ErrDeadlineExceeded.
	ErrTimeout = errors.New("p2p: deadline exceeded")
	// ErrFrameRefused: the resource manager would not reserve memory for the frame's
	// announced length (the peer's, protocol's or node's memory budget is taken). The frame
	// is not read further; only its first part was.
	ErrFrameRefused = errors.New("p2p: frame refused by the memory budget")
)

// initialFrameAlloc bounds what a frame read allocates up front. A peer can announce a
// length up to the cap for free; we only grow the buffer as bytes actually arrive, so a
// lying length costs the liar bandwidth, not us memory.
const initialFrameAlloc = 64 << 10

// maxUvarintLen is the longest uvarint we accept: frames are capped far below 2^63.
const maxUvarintLen = binary.MaxVarintLen64

// AppendFrame appends uvarint(len(body)) || body to dst.
func AppendFrame(dst, body []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// WriteFrame writes one frame, uvarint(len(body)) || body, in a single Write for small
// bodies and two for large ones (to avoid copying a large body).
func WriteFrame(w io.Writer, body []byte) error {
	var hdr [maxUvarintLen]byte
	n := binary.PutUvarint(hdr[:], uint64(len(body)))
	if len(body) <= 4096 {
		buf := make([]byte, 0, n+len(body))
		buf = append(append(buf, hdr[:n]...), body...)
		_, err := w.Write(buf)
		return classify(err)
	}
	if _, err := w.Write(hdr[:n]); err != nil {
		return classify(err)
	}
	_, err := w.Write(body)
	return classify(err)
}

// WriteFrameParts writes one frame whose body is the concatenation of parts, without
// joining them: a sliver put is tens of megabytes of slivers the caller already holds.
// Parts under 4 KiB (headers between slivers) are gathered into one write with their
// neighbours, larger ones are written as they are.
func WriteFrameParts(w io.Writer, parts [][]byte) error {
	const small = 4096
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	pending := binary.AppendUvarint(make([]byte, 0, small), uint64(total))
	for _, p := range parts {
		if len(p) < small {
			pending = append(pending, p...)
			continue
		}
		if len(pending) > 0 {
			if _, err := w.Write(pending); err != nil {
				return classify(err)
			}
			pending = pending[:0]
		}
		if _, err := w.Write(p); err != nil {
			return classify(err)
		}
	}
	if len(pending) > 0 {
		if _, err := w.Write(pending); err != nil {
			return classify(err)
		}
	}
	return nil
}

// ReadFrameLength reads a frame's uvarint length prefix and checks it against maxLen.
// It reads byte by byte so it never consumes past the prefix.
func ReadFrameLength(r io.Reader, maxLen int) (int, error) {
	var b [1]byte
	var x uint64
	var s uint
	for i := 0; i < maxUvarintLen; i++ {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = ErrTruncatedFrame
			}
			return 0, classify(err)
		}
		if b[0] < 0x80 {
			if i == maxUvarintLen-1 && b[0] > 1 {
				return 0, ErrMalformedFrame
			}
			x |= uint64(b[0]) << s
			if x > uint64(maxLen) {
				return 0, fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, x, maxLen)
			}
			return int(x), nil
		}
		x |= uint64(b[0]&0x7f) << s
		s += 7
		// Fail as soon as the partial value is already over the cap, so a stream of
		// continuation bytes is not read further.
		if x > uint64(maxLen) {
			return 0, fmt.Errorf("%w: > %d bytes", ErrFrameTooLarge, maxLen)
		}
	}
	return 0, ErrMalformedFrame
}

// ReadFrame reads one frame whose body is at most maxLen bytes. io.EOF before the first
// byte means the peer closed cleanly between frames and is returned as io.EOF.
func ReadFrame(r io.Reader, maxLen int) ([]byte, error) {
	n, err := ReadFrameLength(r, maxLen)
	if err != nil {
		return nil, err
	}
	return readBody(r, n)
}

// memoryReserver is the part of a libp2p stream's resource scope readStreamFrame uses.
type memoryReserver interface {
	ReserveMemory(size int, prio uint8) error
	ReleaseMemory(size int)
}

// streamFramePriority is the resource-manager priority of a frame's reservation: it is
// granted while every scope it is charged to (stream, peer, protocol, system) stays under
// 60% of its memory limit, so frames never crowd out yamux windows and control traffic.
const streamFramePriority = 152 // network.ReservationPriorityMedium

// readStreamFrame reads one frame like ReadFrame. A large body's first part (an eighth,
// at most 1 MiB) is read as it arrives; then, when the resource manager grants the whole
// announced size to the stream's scope (and so to the peer's, the protocol's and the
// system's: all of a node's in-flight frames stay within the budget of limits.go), the
// body is allocated once at its full size and the rest read into it. Otherwise the read
// fails with ErrFrameRefused (wrapping the resource manager's error) and the caller fails
// the stream: a frame the budget refuses is not read, so no peer, lying or not, makes us
// hold more than the budget allows, and a peer must send a real share of a frame before we
// commit memory for all of it. release returns the reservation; call it once the body is
// no longer needed (the scope's end would release it anyway).
func readStreamFrame(r io.Reader, scope memoryReserver, maxLen int) (body []byte, release func(), err error) {
	n, err := ReadFrameLength(r, maxLen)
	if err != nil {
		return nil, func() {}, err
	}
	return readStreamBody(r, scope, n)
}

// readStreamBody is readStreamFrame after the length prefix: it reads an n-byte body.
func readStreamBody(r io.Reader, scope memoryReserver, n int) (body []byte, release func(), err error) {
	noop := func() {}
	if n <= initialFrameAlloc || scope == nil {
		body, err = readBody(r, n)
		return body, noop, err
	}
	head := max(initialFrameAlloc, min(n/8, 1<<20))
	buf, err := growRead(r, make([]byte, 0, initialFrameAlloc), head)
	if err != nil {
		if errors.Is(err, ErrTruncatedFrame) {
			err = fmt.Errorf("%w: got fewer than %d of %d bytes", ErrTruncatedFrame, head, n)
		}
		return nil, noop, err
	}
	if err := scope.ReserveMemory(n, streamFramePriority); err != nil {
		return nil, noop, fmt.Errorf("%w: %d bytes: %w", ErrFrameRefused, n, err)
	}
	release = func() { scope.ReleaseMemory(n) }
	body = hugemem.Bytes(n)
	copy(body, buf)
	if m, err := io.ReadFull(r, body[head:]); err != nil {
		release()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, noop, fmt.Errorf("%w: got %d of %d bytes", ErrTruncatedFrame, head+m, n)
		}
		return nil, noop, classify(err)
	}
	return body, release, nil
}

// readBody reads an n-byte frame body, growing the buffer as bytes arrive.
func readBody(r io.Reader, n int) ([]byte, error) {
	return growRead(r, make([]byte, 0, min(n, initialFrameAlloc)), n)
}

// growRead appends to buf until it holds n bytes, growing it by doubling (never past n,
// so the final buffer is exactly the body) as bytes arrive.
func growRead(r io.Reader, buf []byte, n int) ([]byte, error) {
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(max(2*cap(buf), 1), n))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil && len(buf) < n {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: got %d of %d bytes", ErrTruncatedFrame, len(buf), n)
			}
			return nil, classify(err)
		}
	}
	return buf, nil
}

// classify maps transport deadline errors to ErrTimeout (keeping the original in the
// chain) and leaves everything else alone.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}
