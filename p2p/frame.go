package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Framing errors. A framing error means the peer broke the protocol (or the link died):
// the stream is Reset and the error returned; the host itself is unaffected.
var (
	// ErrFrameTooLarge: the length prefix exceeds the protocol's cap. Nothing beyond the
	// prefix has been read or allocated.
	ErrFrameTooLarge = errors.New("p2p: frame exceeds size cap")
	// ErrMalformedFrame: the length prefix is not a valid uvarint.
	ErrMalformedFrame = errors.New("p2p: malformed frame length")
	// ErrTruncatedFrame: the stream ended inside a frame.
	ErrTruncatedFrame = errors.New("p2p: truncated frame")
	// ErrTimeout: the stream deadline passed. It also matches os.ErrDeadlineExceeded.
	ErrTimeout = errors.New("p2p: deadline exceeded")
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
	buf := make([]byte, 0, min(n, initialFrameAlloc))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			// Double, but never past n: the final buffer is exactly the body.
			grown := make([]byte, len(buf), min(2*cap(buf), n))
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
