package client

import (
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/staking"
)

// TestWantNonce parses staking's bad-nonce reason ("nonce %d, want %d", staking/apply.go).
func TestWantNonce(t *testing.T) {
	for msg, want := range map[string]uint64{"nonce 7, want 8": 8, "nonce 12, want 3": 3, "nonce 0, want 18446744073709551615": 1<<64 - 1} {
		if got, ok := wantNonce(msg); !ok || got != want {
			t.Errorf("wantNonce(%q) = %d, %v; want %d", msg, got, ok, want)
		}
	}
	for _, msg := range []string{"", "nonce 7", "want x", "want "} {
		if _, ok := wantNonce(msg); ok {
			t.Errorf("wantNonce(%q) parsed", msg)
		}
	}
}

// TestHomeRank: every writer of a wallet ranks the bootstrap nodes alike, whatever the
// order of its list; different wallets spread over the nodes.
func TestHomeRank(t *testing.T) {
	peers := []peer.ID{"a", "b", "c", "d"}
	var a staking.Address
	first := homeRank(a, peers)
	if got := homeRank(a, []peer.ID{"d", "c", "b", "a"}); !slices.Equal(got, first) {
		t.Fatalf("rank depends on list order: %v vs %v", got, first)
	}
	homes := map[peer.ID]bool{}
	for i := range 64 {
		a[0] = byte(i)
		homes[homeRank(a, peers)[0]] = true
	}
	if len(homes) < 3 {
		t.Errorf("64 wallets use %d home nodes of 4", len(homes))
	}
}
