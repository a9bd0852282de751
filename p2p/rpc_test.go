package p2p_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

var echo = p2p.Protocol{ID: "/walrus/test-echo/1", MaxRequest: 1 << 20, MaxResponse: 1 << 20, Timeout: 10 * time.Second}

func echoHandler(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(req, []byte("missing")):
		return nil, p2p.Errorf(p2p.CodeNotFound, "no blob %q", req[7:])
	case bytes.HasPrefix(req, []byte("plain-error")):
		return nil, errors.New("disk full")
	case bytes.HasPrefix(req, []byte("panic")):
		panic("handler bug")
	}
	return append([]byte(from.String()+":"), req...), nil
}

func TestCallRoundTrip(t *testing.T) {
	for _, quic := range []bool{false, true} {
		t.Run(fmt.Sprintf("quic=%v", quic), func(t *testing.T) {
			hs := newHosts(t, 2, quic)
			if err := p2p.Handle(hs[1], echo, echoHandler, quiet); err != nil {
				t.Fatal(err)
			}
			p2ptest.Connect(t, hs[0], hs[1])
			ctx := context.Background()
			for _, size := range []int{0, 10, 300_000} {
				req := bytes.Repeat([]byte{'x'}, size)
				resp, err := p2p.Call(ctx, hs[0], hs[1].ID(), echo, req)
				if err != nil {
					t.Fatalf("size %d: %v", size, err)
				}
				want := append([]byte(hs[0].ID().String()+":"), req...)
				if !bytes.Equal(resp, want) {
					t.Fatalf("size %d: wrong response (%d bytes)", size, len(resp))
				}
			}
		})
	}
}

func TestCallRemoteErrors(t *testing.T) {
	hs := newHosts(t, 2, false)
	if err := p2p.Handle(hs[1], echo, echoHandler, quiet); err != nil {
		t.Fatal(err)
	}
	p2ptest.Connect(t, hs[0], hs[1])
	ctx := context.Background()

	_, err := p2p.Call(ctx, hs[0], hs[1].ID(), echo, []byte("missingABC"))
	var se *p2p.StatusError
	if !errors.As(err, &se) || se.Code != p2p.CodeNotFound || se.Message != `no blob "ABC"` {
		t.Fatalf("not found: err = %v", err)
	}
	_, err = p2p.Call(ctx, hs[0], hs[1].ID(), echo, []byte("plain-error"))
	if p2p.CodeOf(err) != p2p.CodeInternal {
		t.Fatalf("plain error: code %v (%v)", p2p.CodeOf(err), err)
	}
	// A panicking handler resets the stream; the caller sees an error, the host survives.
	if _, err := p2p.Call(ctx, hs[0], hs[1].ID(), echo, []byte("panic")); err == nil {
		t.Fatal("panicking handler: no error")
	}
	if _, err := p2p.Call(ctx, hs[0], hs[1].ID(), echo, []byte("ok")); err != nil {
		t.Fatalf("call after handler panic: %v", err)
	}
}

func TestOversizeFramesRejected(t *testing.T) {
	hs := newHosts(t, 2, false)
	small := echo
	small.MaxRequest, small.MaxResponse = 1000, 1000
	if err := p2p.Handle(hs[1], small, echoHandler, quiet); err != nil {
		t.Fatal(err)
	}
	p2ptest.Connect(t, hs[0], hs[1])
	ctx := context.Background()

	// Call refuses to send what the protocol caps, before touching the network.
	if _, err := p2p.Call(ctx, hs[0], hs[1].ID(), small, make([]byte, 1001)); !errors.Is(err, p2p.ErrFrameTooLarge) {
		t.Fatalf("local oversize request: %v", err)
	}

	// A misbehaving client that announces a huge request gets its stream reset, and the
	// server never reads (or allocates) the body.
	s, err := hs[0].NewStream(ctx, hs[1].ID(), small.ID)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(binary.AppendUvarint(nil, 1<<30)); err != nil {
		t.Fatal(err)
	}
	if _, err := p2p.ReadFrame(s, 1<<20); err == nil {
		t.Fatal("server answered an oversize request")
	}
	_ = s.Reset()

	// A response over the caller's cap is rejected on read.
	tiny := small
	tiny.MaxResponse = 10
	if _, err := p2p.Call(ctx, hs[0], hs[1].ID(), tiny, []byte("0123456789")); !errors.Is(err, p2p.ErrFrameTooLarge) {
		t.Fatalf("oversize response: %v", err)
	}

	// The host is still up and serving.
	if _, err := p2p.Call(ctx, hs[0], hs[1].ID(), small, []byte("still there")); err != nil {
		t.Fatalf("call after oversize frames: %v", err)
	}
}

func TestDeadlines(t *testing.T) {
	hs := newHosts(t, 2, false)
	slow := p2p.Protocol{ID: "/walrus/test-slow/1", MaxRequest: 100, MaxResponse: 100, Timeout: 200 * time.Millisecond}
	release := make(chan struct{})
	defer close(release)
	handlerDone := make(chan error, 4)
	if err := p2p.Handle(hs[1], slow, func(ctx context.Context, _ peer.ID, _ []byte) ([]byte, error) {
		select {
		case <-ctx.Done(): // the server-side deadline ends the handler's context
			handlerDone <- ctx.Err()
		case <-release:
			handlerDone <- nil
		}
		return []byte("late"), nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	p2ptest.Connect(t, hs[0], hs[1])

	start := time.Now()
	_, err := p2p.Call(context.Background(), hs[0], hs[1].ID(), slow, []byte("q"))
	if !errors.Is(err, p2p.ErrTimeout) {
		t.Fatalf("slow handler: err = %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("timeout took %v", el)
	}
	if err := <-handlerDone; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handler context: %v, want deadline exceeded", err)
	}

	// The caller's context also bounds the call, and cancellation is prompt.
	ctx, cancel := context.WithCancel(context.Background())
	long := slow
	long.Timeout = time.Minute
	errc := make(chan error, 1)
	go func() {
		_, err := p2p.Call(ctx, hs[0], hs[1].ID(), long, []byte("q"))
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}

	// A client that opens a stream and never sends is cut off by the server's deadline.
	s, err := hs[0].NewStream(context.Background(), hs[1].ID(), slow.ID)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := p2p.ReadFrame(s, 100); err == nil || errors.Is(err, p2p.ErrTimeout) {
		t.Fatalf("idle stream: err = %v, want a reset from the server before our own deadline", err)
	}
	_ = s.Reset()
}

func TestProtocolValidate(t *testing.T) {
	if err := (p2p.Protocol{ID: "/x/1", MaxRequest: 1 << 41, MaxResponse: 1, Timeout: time.Second}).Validate(); err == nil {
		t.Fatal("2 TiB cap accepted")
	}
	if err := (p2p.Protocol{ID: "/x/1", MaxRequest: 1, MaxResponse: 1}).Validate(); err == nil {
		t.Fatal("zero timeout accepted")
	}
}

// TestManyConcurrentStreams: one client holds 600 sliver-sized exchanges open at once
// against one server (a client pushing a whole blob's pairs to a node holding many
// shards). The handler waits until every request has arrived, so all 600 streams are
// provably open together; libp2p's default per-peer limits would refuse most of them.
func TestManyConcurrentStreams(t *testing.T) {
	const n = 600
	hs := newHosts(t, 2, false)
	proto := p2p.Protocol{ID: "/walrus/test-many/1", MaxRequest: 64 << 10, MaxResponse: 16, Timeout: 60 * time.Second}
	arrived := make(chan struct{}, n)
	all := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			<-arrived
		}
		close(all)
	}()
	if err := p2p.Handle(hs[1], proto, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		arrived <- struct{}{}
		select {
		case <-all:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []byte{byte(len(req) >> 10)}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	p2ptest.Connect(t, hs[0], hs[1])
	req := make([]byte, 32<<10)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			resp, err := p2p.Call(context.Background(), hs[0], hs[1].ID(), proto, req)
			if err == nil && (len(resp) != 1 || resp[0] != 32) {
				err = fmt.Errorf("bad response %v", resp)
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// TestHandleReleasing: a response given as parts arrives as their concatenation, and its
// memory comes back through release exactly once per exchange, after the caller has the
// response, for answers and for errors alike.
func TestHandleReleasing(t *testing.T) {
	hs := newHosts(t, 2, false)
	released := make(chan []byte, 8)
	h := func(_ context.Context, _ peer.ID, req []byte) ([][]byte, func(), error) {
		buf := bytes.Repeat(req, 1000) // > 4 KiB: written as it is, not gathered
		var err error
		if bytes.Equal(req, []byte("fail")) {
			err = p2p.Errorf(p2p.CodeNotFound, "nothing")
		}
		// Parts: small ones are gathered, the large one is written from buf itself.
		return [][]byte{req[:1], buf, req[1:]}, func() { released <- buf }, err
	}
	if err := p2p.HandleReleasing(hs[1], echo, h, quiet); err != nil {
		t.Fatal(err)
	}
	p2ptest.Connect(t, hs[0], hs[1])
	ctx := context.Background()
	want := append(append([]byte("a"), bytes.Repeat([]byte("abcd"), 1000)...), "bcd"...)
	resp, err := p2p.Call(ctx, hs[0], hs[1].ID(), echo, []byte("abcd"))
	if err != nil || !bytes.Equal(resp, want) {
		t.Fatalf("call: %d bytes, %v", len(resp), err)
	}
	select {
	case buf := <-released:
		clear(buf) // the caller's copy must not change: the stream is done with buf
		if !bytes.Equal(resp, want) {
			t.Fatal("response changed when the released buffer was reused")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("release not called after the response was sent")
	}
	if _, err := p2p.Call(ctx, hs[0], hs[1].ID(), echo, []byte("fail")); p2p.CodeOf(err) != p2p.CodeNotFound {
		t.Fatalf("error answer: %v", err)
	}
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("release not called after an error answer")
	}
	select {
	case <-released:
		t.Fatal("release called twice")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestCallStream: the body reaches read as a reader of exactly its bytes; a failure status
// never reaches read; read's errors and unread bytes fail the call; a server whose stream
// ends inside the body it announced is ErrTruncatedFrame; an oversized failure message is
// refused.
func TestCallStream(t *testing.T) {
	hs := newHosts(t, 2, false)
	if err := p2p.Handle(hs[1], echo, echoHandler, quiet); err != nil {
		t.Fatal(err)
	}
	p2ptest.Connect(t, hs[0], hs[1])
	ctx := context.Background()
	req := bytes.Repeat([]byte("0123456789"), 30_000)
	want := append([]byte(hs[0].ID().String()+":"), req...)
	var got []byte
	err := p2p.CallStream(ctx, hs[0], hs[1].ID(), echo, [][]byte{req[:5], req[5:]}, func(body io.Reader, n int) error {
		if n != len(want) {
			return fmt.Errorf("n = %d, want %d", n, len(want))
		}
		var err error
		got, err = io.ReadAll(body)
		return err
	})
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("round trip: %d bytes, %v", len(got), err)
	}

	err = p2p.CallStream(ctx, hs[0], hs[1].ID(), echo, [][]byte{[]byte("missingX")}, func(io.Reader, int) error {
		t.Error("read called for a failure answer")
		return nil
	})
	if p2p.CodeOf(err) != p2p.CodeNotFound {
		t.Fatalf("failure answer: %v", err)
	}

	errMine := errors.New("parse failed")
	err = p2p.CallStream(ctx, hs[0], hs[1].ID(), echo, [][]byte{req}, func(body io.Reader, _ int) error {
		_, _ = io.ReadFull(body, make([]byte, 10))
		return errMine
	})
	if !errors.Is(err, errMine) {
		t.Fatalf("read's error: %v", err)
	}
	err = p2p.CallStream(ctx, hs[0], hs[1].ID(), echo, [][]byte{req}, func(body io.Reader, _ int) error {
		_, err := io.ReadFull(body, make([]byte, 10))
		return err
	})
	if !errors.Is(err, p2p.ErrMalformedFrame) {
		t.Fatalf("unread bytes: %v", err)
	}

	// A hostile server: announces 1 MiB, sends a success status and 1000 bytes, closes.
	liar := p2p.Protocol{ID: "/walrus/test-liar/1", MaxRequest: 1 << 10, MaxResponse: 1 << 20, Timeout: 10 * time.Second}
	hs[1].SetStreamHandler(liar.ID, func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		frame := binary.AppendUvarint(nil, 1<<20)
		frame = append(frame, 0)
		_, _ = s.Write(append(frame, make([]byte, 1000)...))
		_ = s.Close()
	})
	var read int64
	err = p2p.CallStream(ctx, hs[0], hs[1].ID(), liar, [][]byte{[]byte("q")}, func(body io.Reader, n int) error {
		var err error
		read, err = io.Copy(io.Discard, body)
		return err
	})
	if !errors.Is(err, p2p.ErrTruncatedFrame) || read != 1000 {
		t.Fatalf("truncated body: read %d, %v", read, err)
	}
	// The same server failing with a 1 MiB message: refused before it is read.
	hs[1].SetStreamHandler(liar.ID, func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		frame := binary.AppendUvarint(nil, 1<<20)
		_, _ = s.Write(append(frame, byte(p2p.CodeInternal)))
		_, _ = s.Write(make([]byte, 1<<20-1))
		_ = s.Close()
	})
	if _, err := p2p.Call(ctx, hs[0], hs[1].ID(), liar, []byte("q")); !errors.Is(err, p2p.ErrMalformedFrame) {
		t.Fatalf("oversized failure message: %v", err)
	}
}
