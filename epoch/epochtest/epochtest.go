// Package epochtest builds deterministic committees with real BLS keys for tests of epoch and
// of the packages that use it (staking, the consensus actor, testnet).
package epochtest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// Key returns the deterministic BLS key number i of seed.
func Key(seed uint64, i int) *bls.SecretKey {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(i))
	s[16] = 0x5e // domain-separates from other seeded readers
	k, err := bls.GenerateKey(rand.NewChaCha8(s))
	if err != nil {
		panic(fmt.Sprintf("epochtest: key generation cannot fail on a ChaCha8 reader: %v", err))
	}
	return k
}

// Committee builds an Indexed committee of len(weights) members for epoch e, where member
// keys come from Key(seed, i) and the member with key i holds weights[i] shards. Members are
// ordered by NodeID as Committee requires; keys[j] is the secret key of Members[j]. Shards are
// dealt out contiguously in member order.
func Committee(e uint32, weights []int, seed uint64) (*epoch.Committee, []*bls.SecretKey) {
	type mk struct {
		m epoch.Member
		k *bls.SecretKey
		w int
	}
	ms := make([]mk, len(weights))
	for i, w := range weights {
		k := Key(seed, i)
		ms[i] = mk{m: epoch.Member{Node: epoch.NodeIDOf(k.PublicKey()), BLSKey: k.PublicKey(), PeerID: fmt.Sprintf("peer-%d", i)}, k: k, w: w}
	}
	sort.Slice(ms, func(a, b int) bool {
		x, y := ms[a].m.Node, ms[b].m.Node
		return string(x[:]) < string(y[:])
	})
	c := &epoch.Committee{Epoch: e}
	keys := make([]*bls.SecretKey, len(ms))
	next := 0
	for j := range ms {
		for s := 0; s < ms[j].w; s++ {
			ms[j].m.Shards = append(ms[j].m.Shards, uint16(next))
			next++
		}
		c.Members = append(c.Members, ms[j].m)
		keys[j] = ms[j].k
	}
	c.NShards = next
	if err := c.Index(); err != nil {
		panic(fmt.Sprintf("epochtest: built an invalid committee: %v", err))
	}
	return c, keys
}
