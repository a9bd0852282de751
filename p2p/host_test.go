package p2p_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
)

func TestIdentityFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.key")
	k1, err := p2p.LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := p2p.LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := peer.IDFromPrivateKey(k1)
	id2, _ := peer.IDFromPrivateKey(k2)
	if id1 != id2 {
		t.Fatalf("reloaded identity %s differs from %s", id2, id1)
	}

	bad := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p2p.LoadOrCreateIdentity(bad); !errors.Is(err, p2p.ErrBadKeyFile) {
		t.Fatalf("garbage key file: %v, want ErrBadKeyFile (and no silent replacement)", err)
	}
	huge := filepath.Join(dir, "huge.key")
	if err := os.WriteFile(huge, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p2p.LoadIdentity(huge); !errors.Is(err, p2p.ErrBadKeyFile) {
		t.Fatalf("huge key file: %v", err)
	}
}

func TestHostConfigValidate(t *testing.T) {
	if err := (&p2p.HostConfig{}).Validate(); err == nil {
		t.Fatal("config without identity accepted")
	}
	key, err := p2p.LoadOrCreateIdentity(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	c := p2p.HostConfig{Identity: key}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.ListenAddrs) != 2 || c.ConnHigh != p2p.DefaultConnHigh || c.MemoryBudget != p2p.DefaultMemoryBudget {
		t.Fatalf("defaults not filled: %+v", c)
	}
	c = p2p.HostConfig{Identity: key, ConnLow: 10, ConnHigh: 5}
	if err := c.Validate(); err == nil {
		t.Fatal("inverted watermarks accepted")
	}
}

func TestResourceLimits(t *testing.T) {
	cfg := p2p.ResourceLimits(p2p.DefaultMemoryBudget, p2p.DefaultFDBudget).ToPartialLimitConfig()
	if cfg.System.StreamsInbound != 12288 || cfg.System.Streams != 16384 {
		t.Fatalf("system streams %v/%v", cfg.System.StreamsInbound, cfg.System.Streams)
	}
	// One client must be able to push a whole blob's sliver pairs to a node holding 250 of
	// 1000 shards at once, several blobs in parallel.
	if cfg.PeerDefault.StreamsInbound < 1000 {
		t.Fatalf("per-peer inbound streams %v: too few for parallel sliver uploads", cfg.PeerDefault.StreamsInbound)
	}
	if cfg.ProtocolPeerDefault.StreamsInbound < 1000 {
		t.Fatalf("per-protocol-peer inbound streams %v", cfg.ProtocolPeerDefault.StreamsInbound)
	}
	if int64(cfg.PeerDefault.Memory) > p2p.DefaultMemoryBudget/2 {
		t.Fatalf("one peer may take %v of the memory budget", cfg.PeerDefault.Memory)
	}
}
