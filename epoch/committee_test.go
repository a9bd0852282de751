package epoch_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
)

func TestQuorumMath(t *testing.T) {
	cases := []struct{ n, f, quorum, validity int }{
		{1, 0, 1, 1}, {4, 1, 3, 2}, {7, 2, 5, 3}, {10, 3, 7, 4}, {100, 33, 67, 34}, {1000, 333, 667, 334},
	}
	for _, c := range cases {
		if got := epoch.MaxFaulty(c.n); got != c.f {
			t.Errorf("MaxFaulty(%d) = %d, want %d", c.n, got, c.f)
		}
		if !epoch.IsQuorum(c.quorum, c.n) || epoch.IsQuorum(c.quorum-1, c.n) {
			t.Errorf("quorum of %d is not %d", c.n, c.quorum)
		}
		if !epoch.IsValidity(c.validity, c.n) || epoch.IsValidity(c.validity-1, c.n) {
			t.Errorf("validity of %d is not %d", c.n, c.validity)
		}
		// n-f is a quorum and f+1 a validity set, by the definitions of docs/protocol.md §4-5.
		if !epoch.IsQuorum(c.n-c.f, c.n) || !epoch.IsValidity(c.f+1, c.n) {
			t.Errorf("n=%d: n-f or f+1 rejected", c.n)
		}
	}
	// Two quorums intersect in more than f shards, for every n up to 2000.
	for n := 1; n <= 2000; n++ {
		q := (2*n + 1 + 2) / 3
		if !epoch.IsQuorum(q, n) || epoch.IsQuorum(q-1, n) {
			t.Fatalf("n=%d: smallest quorum is not %d", n, q)
		}
		if 2*q-n <= epoch.MaxFaulty(n) {
			t.Fatalf("n=%d: quorums of %d intersect in only %d shards", n, q, 2*q-n)
		}
	}
}

func TestSignedMessageLayout(t *testing.T) {
	var net epoch.NetworkID
	net[0], net[31] = 0xaa, 0xbb
	m := epoch.SignedMessage(epoch.IntentStorageConfirmation, net, 0x01020304, []byte("body"))
	want := append([]byte{1, 0, 3, 4, 3, 2, 1}, net[:]...)
	want = append(want, "body"...)
	if !bytes.Equal(m, want) {
		t.Fatalf("got %x want %x", m, want)
	}
	other := epoch.SignedMessage(epoch.IntentInvalidBlob, net, 0x01020304, []byte("body"))
	if bytes.Equal(m, other) {
		t.Fatal("intent does not separate messages")
	}
}

func TestIndexRejectsMalformed(t *testing.T) {
	good, _ := epochtest.Committee(1, []int{2, 3, 5}, 1)
	clone := func() *epoch.Committee {
		c := &epoch.Committee{Epoch: good.Epoch, NShards: good.NShards}
		for _, m := range good.Members {
			m.Shards = append([]uint16(nil), m.Shards...)
			c.Members = append(c.Members, m)
		}
		return c
	}
	if err := clone().Index(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(c *epoch.Committee){
		"zero shards":        func(c *epoch.Committee) { c.NShards = 0 },
		"too many shards":    func(c *epoch.Committee) { c.NShards = 70000 },
		"unowned shard":      func(c *epoch.Committee) { c.NShards++ },
		"shard out of range": func(c *epoch.Committee) { c.Members[0].Shards[0] = 500 },
		"shard owned twice":  func(c *epoch.Committee) { c.Members[1].Shards[0] = c.Members[0].Shards[0] },
		"unsorted shards": func(c *epoch.Committee) {
			s := c.Members[2].Shards
			s[0], s[1] = s[1], s[0]
		},
		"unsorted members": func(c *epoch.Committee) { c.Members[0], c.Members[1] = c.Members[1], c.Members[0] },
		"duplicate member": func(c *epoch.Committee) { c.Members[1].Node = c.Members[0].Node },
	}
	for name, mutate := range cases {
		c := clone()
		mutate(c)
		if err := c.Index(); !errors.Is(err, epoch.ErrBadCommittee) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestOwnerAndMemberIndex(t *testing.T) {
	c, _ := epochtest.Committee(3, []int{4, 1, 2, 3}, 7)
	for i, m := range c.Members {
		if c.MemberIndex(m.Node) != i {
			t.Fatalf("MemberIndex of member %d", i)
		}
		for _, s := range m.Shards {
			if c.Owner(int(s)) != i {
				t.Fatalf("Owner(%d) = %d, want %d", s, c.Owner(int(s)), i)
			}
		}
	}
	if c.MemberIndex(epoch.NodeID{0xff}) != -1 {
		t.Fatal("non-member found")
	}
}

func TestSignerIndices(t *testing.T) {
	cases := []struct {
		m    int
		bm   []byte
		want []int
		ok   bool
	}{
		{1, []byte{1}, []int{0}, true},
		{8, []byte{0x81}, []int{0, 7}, true},
		{9, []byte{0, 1}, []int{8}, true},
		{9, []byte{0}, nil, false},    // too short
		{8, []byte{0, 0}, nil, false}, // too long
		{9, []byte{0, 2}, nil, false}, // bit 9 past size 9
		{3, []byte{0x08}, nil, false}, // bit 3 past size 3
		{16, []byte{0, 0}, nil, true}, // empty set decodes; weight checks reject it
		{0, []byte{}, nil, true},
	}
	for i, c := range cases {
		cert := &epoch.Certificate{Signers: c.bm}
		got, err := cert.SignerIndices(c.m)
		if (err == nil) != c.ok {
			t.Fatalf("case %d: err %v", i, err)
		}
		if c.ok && !equalInts(got, c.want) {
			t.Fatalf("case %d: got %v want %v", i, got, c.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sign returns member i's signature on msg.
func signAll(keys []*bls.SecretKey, msg []byte) []bls.Signature {
	out := make([]bls.Signature, len(keys))
	for i, k := range keys {
		out[i] = k.Sign(msg)
	}
	return out
}

func makeCert(t *testing.T, c *epoch.Committee, sigs []bls.Signature, who ...int) *epoch.Certificate {
	t.Helper()
	cert := &epoch.Certificate{Epoch: c.Epoch, Signers: make([]byte, (len(c.Members)+7)/8)}
	var parts []bls.Signature
	for _, i := range who {
		cert.Signers[i/8] |= 1 << (i % 8)
		parts = append(parts, sigs[i])
	}
	agg, err := bls.Aggregate(parts)
	if err != nil {
		t.Fatal(err)
	}
	cert.Signature = agg
	return cert
}

func TestVerifyCertificate(t *testing.T) {
	// 10 shards: quorum 7, validity 4. Weights are per key index, members are sorted by ID,
	// so find members by weight.
	c, keys := epochtest.Committee(5, []int{1, 2, 3, 4}, 11)
	byWeight := map[int]int{}
	for i, m := range c.Members {
		byWeight[m.Weight()] = i
	}
	w1, w2, w3, w4 := byWeight[1], byWeight[2], byWeight[3], byWeight[4]
	var net epoch.NetworkID
	msg := epoch.SignedMessage(epoch.IntentStorageConfirmation, net, 5, []byte("blob"))
	sigs := signAll(keys, msg)

	if err := c.VerifyCertificate(msg, makeCert(t, c, sigs, w3, w4), epoch.ThresholdQuorum); err != nil {
		t.Fatalf("7 of 10 shards rejected: %v", err)
	}
	if err := c.VerifyCertificate(msg, makeCert(t, c, sigs, w2, w4), epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrNoQuorum) {
		t.Fatalf("6 of 10 shards: %v", err)
	}
	if err := c.VerifyCertificate(msg, makeCert(t, c, sigs, w4), epoch.ThresholdValidity); err != nil {
		t.Fatalf("4 of 10 shards for validity: %v", err)
	}
	if err := c.VerifyCertificate(msg, makeCert(t, c, sigs, w1, w2), epoch.ThresholdValidity); !errors.Is(err, epoch.ErrNoQuorum) {
		t.Fatalf("3 of 10 shards for validity: %v", err)
	}
	if err := c.VerifyCertificate(msg, makeCert(t, c, sigs, w3, w4), epoch.Threshold(0)); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("unknown threshold: %v", err)
	}
	// Wrong epoch.
	cert := makeCert(t, c, sigs, w3, w4)
	cert.Epoch = 6
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("wrong epoch: %v", err)
	}
	// Bitmap claims a signer whose signature is not in the aggregate.
	cert = makeCert(t, c, sigs, w3, w4)
	cert.Signers[0] |= 1 << w1
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("extra signer bit: %v", err)
	}
	// Aggregate containing one signature twice, bitmap naming it once plus a non-signer: a
	// "duplicate bit" cannot stand in for a missing signer.
	dup, err := bls.Aggregate([]bls.Signature{sigs[w4], sigs[w4]})
	if err != nil {
		t.Fatal(err)
	}
	cert = &epoch.Certificate{Epoch: 5, Signers: []byte{1<<w4 | 1<<w3}, Signature: dup}
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("doubled signature: %v", err)
	}
	// Wrong message, malformed bitmap, empty bitmap.
	if err := c.VerifyCertificate([]byte("other"), makeCert(t, c, sigs, w3, w4), epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("wrong message: %v", err)
	}
	cert = makeCert(t, c, sigs, w3, w4)
	cert.Signers = append(cert.Signers, 0)
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("long bitmap: %v", err)
	}
	cert.Signers = []byte{0}
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdValidity); !errors.Is(err, epoch.ErrNoQuorum) {
		t.Fatalf("empty bitmap: %v", err)
	}
	// A signature for another intent does not verify.
	other := epoch.SignedMessage(epoch.IntentInvalidBlob, net, 5, []byte("blob"))
	if err := c.VerifyCertificate(other, makeCert(t, c, sigs, w3, w4), epoch.ThresholdQuorum); err == nil {
		t.Fatal("certificate replayed under another intent")
	}
}

func TestCertBuilder(t *testing.T) {
	c, keys := epochtest.Committee(2, []int{3, 3, 2, 2}, 3) // n=10, quorum 7
	var net epoch.NetworkID
	msg := epoch.SignedMessage(epoch.IntentStorageConfirmation, net, 2, []byte("b"))
	b := epoch.NewCertBuilder(c, msg, epoch.ThresholdQuorum)
	if _, err := b.Certificate(); !errors.Is(err, epoch.ErrNoQuorum) {
		t.Fatalf("empty builder: %v", err)
	}
	stranger := epochtest.Key(99, 0)
	if _, err := b.Add(epoch.NodeIDOf(stranger.PublicKey()), stranger.Sign(msg)); !errors.Is(err, epoch.ErrNotMember) {
		t.Fatalf("non-member: %v", err)
	}
	if _, err := b.Add(c.Members[0].Node, keys[1].Sign(msg)); err == nil {
		t.Fatal("signature by another member's key accepted")
	}
	if _, err := b.Add(c.Members[0].Node, keys[0].Sign([]byte("x"))); err == nil {
		t.Fatal("signature on another message accepted")
	}
	if b.Weight() != 0 {
		t.Fatalf("rejected signatures counted: weight %d", b.Weight())
	}
	order := []int{0, 1, 2, 3}
	var reachedAt int
	for _, i := range order {
		done, err := b.Add(c.Members[i].Node, keys[i].Sign(msg))
		if err != nil {
			t.Fatal(err)
		}
		if done && reachedAt == 0 {
			reachedAt = b.Weight()
		}
		if _, err := b.Add(c.Members[i].Node, keys[i].Sign(msg)); !errors.Is(err, epoch.ErrDuplicateSigner) {
			t.Fatalf("duplicate: %v", err)
		}
	}
	if reachedAt < 7 || b.Weight() != 10 {
		t.Fatalf("threshold reached at weight %d, final %d", reachedAt, b.Weight())
	}
	cert, err := b.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); err != nil {
		t.Fatalf("built certificate does not verify: %v", err)
	}
	// Validity threshold: a single 3-shard member is enough (3*3 >= 11? no: 9 < 11), two are.
	v := epoch.NewCertBuilder(c, msg, epoch.ThresholdValidity)
	w := 0
	for i := range c.Members {
		done, err := v.Add(c.Members[i].Node, keys[i].Sign(msg))
		if err != nil {
			t.Fatal(err)
		}
		w += c.Members[i].Weight()
		if done != epoch.IsValidity(w, 10) {
			t.Fatalf("done=%v at weight %d", done, w)
		}
		if done {
			break
		}
	}
	vc, err := v.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyCertificate(msg, vc, epoch.ThresholdValidity); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyCertificatePaths: an Indexed committee verifies through its prepared-key cache,
// a hand-built unindexed one through plain keys; both agree, and the cache is safe to share.
func TestVerifyCertificatePaths(t *testing.T) {
	c, keys := epochtest.Committee(5, []int{1, 2, 3, 4}, 11)
	var net epoch.NetworkID
	msg := epoch.SignedMessage(epoch.IntentStorageConfirmation, net, 5, []byte("blob"))
	sigs := signAll(keys, msg)
	good := makeCert(t, c, sigs, 0, 1, 2, 3)
	bad := makeCert(t, c, sigs, 0, 1, 2, 3)
	bad.Signature = sigs[0]
	plain := &epoch.Committee{Epoch: c.Epoch, NShards: c.NShards, Members: c.Members}
	for _, cc := range []*epoch.Committee{c, plain} {
		if err := cc.VerifyCertificate(msg, good, epoch.ThresholdQuorum); err != nil {
			t.Fatal(err)
		}
		if err := cc.VerifyCertificate(msg, bad, epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
			t.Fatalf("bad aggregate: %v", err)
		}
	}
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() { done <- c.VerifyCertificate(msg, good, epoch.ThresholdQuorum) }()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// A member with an invalid key makes certificates naming it fail, not panic.
	broken := &epoch.Committee{Epoch: c.Epoch, NShards: c.NShards}
	for _, m := range c.Members {
		m.Shards = append([]uint16(nil), m.Shards...)
		broken.Members = append(broken.Members, m)
	}
	broken.Members[0].BLSKey = bls.PublicKey{}
	if err := broken.Index(); err != nil {
		t.Fatal(err)
	}
	if err := broken.VerifyCertificate(msg, good, epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("invalid member key: %v", err)
	}
}

// TestKeyCacheFollowsMembers: replacing a member's key after Index (without re-indexing) must
// not let certificates verify against the old key.
func TestKeyCacheFollowsMembers(t *testing.T) {
	c, keys := epochtest.Committee(5, []int{3, 4}, 12)
	var net epoch.NetworkID
	msg := epoch.SignedMessage(epoch.IntentStorageConfirmation, net, 5, []byte("blob"))
	cert := makeCert(t, c, signAll(keys, msg), 0, 1)
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); err != nil {
		t.Fatal(err)
	}
	c.Members[0].BLSKey = epochtest.Key(77, 0).PublicKey()
	if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("certificate verified against a replaced key: %v", err)
	}
}

func TestVerifyMember(t *testing.T) {
	c, keys := epochtest.Committee(1, []int{1, 2}, 13)
	msg := []byte("vote")
	plain := &epoch.Committee{Epoch: c.Epoch, NShards: c.NShards, Members: c.Members}
	for _, cc := range []*epoch.Committee{c, plain} {
		if err := cc.VerifyMember(1, msg, keys[1].Sign(msg)); err != nil {
			t.Fatal(err)
		}
		if err := cc.VerifyMember(0, msg, keys[1].Sign(msg)); err == nil {
			t.Fatal("signature of member 1 accepted for member 0")
		}
		for _, i := range []int{-1, 2} {
			if err := cc.VerifyMember(i, msg, keys[1].Sign(msg)); !errors.Is(err, epoch.ErrNotMember) {
				t.Fatalf("member %d: %v", i, err)
			}
		}
	}
}
