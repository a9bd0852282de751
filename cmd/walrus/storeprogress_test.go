package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client"
)

// TestPhaseProgressLines checks what a long store shows: per phase, bytes of the phase's
// total, the rate since the phase began, time left, skipped bytes and confirmations.
func TestPhaseProgressLines(t *testing.T) {
	var out bytes.Buffer
	p := newPhaseProgress(&out)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	p.update(client.Progress{Phase: client.PhaseEncode, EncodeTotal: 1 << 30})
	now = now.Add(2 * time.Second)
	p.update(client.Progress{Phase: client.PhaseEncode, BytesEncoded: 256 << 20, EncodeTotal: 1 << 30})
	if s := out.String(); !strings.Contains(s, "encode") || !strings.Contains(s, "25%") || !strings.Contains(s, "128.00 MiB/s") || !strings.Contains(s, "6s left") {
		t.Fatalf("encode line: %q", s)
	}
	out.Reset()
	p.update(client.Progress{Phase: client.PhaseUpload, BytesSent: 1 << 30, BytesSkipped: 1 << 30, BytesTotal: 4 << 30, Nodes: 4})
	now = now.Add(4 * time.Second)
	p.update(client.Progress{Phase: client.PhaseUpload, BytesSent: 2 << 30, BytesSkipped: 1 << 30, BytesTotal: 4 << 30, Nodes: 4, NodesConfirmed: 1})
	s := out.String()
	for _, want := range []string{"upload", "50%", "2.00 GiB / 4.00 GiB sent", "(1.00 GiB skipped)", "256.00 MiB/s", "8s left", "1/4 nodes confirmed"} {
		if !strings.Contains(s, want) {
			t.Fatalf("upload line %q lacks %q", s, want)
		}
	}
	p.done()
	p.update(client.Progress{Phase: client.PhaseUpload})
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatal("drew after done")
	}
}
