package p2p_test

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
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

// denyGater refuses every connection to or from one peer.
type denyGater struct{ deny peer.ID }

func (g denyGater) InterceptPeerDial(p peer.ID) bool { return p != g.deny }
func (g denyGater) InterceptAddrDial(p peer.ID, _ multiaddr.Multiaddr) bool {
	return p != g.deny
}
func (g denyGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }
func (g denyGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return p != g.deny
}
func (g denyGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

func TestHostGater(t *testing.T) {
	hs := newHosts(t, 2, false)
	key, err := p2p.GenerateIdentity(rand.New(rand.NewSource(99)))
	if err != nil {
		t.Fatal(err)
	}
	gated, err := p2p.NewHost(p2p.HostConfig{
		Identity: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DisableQUIC: true,
		MemoryBudget: 256 << 20, FDBudget: 256, Gater: denyGater{deny: hs[1].ID()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gated.Close()
	if err := gated.Connect(context.Background(), p2ptest.Info(hs[0])); err != nil {
		t.Fatalf("allowed peer: %v", err)
	}
	if err := gated.Connect(context.Background(), p2ptest.Info(hs[1])); err == nil {
		t.Fatal("gater did not block the denied peer")
	}
}
