package codec

import (
	"fmt"
	"math/bits"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// rsCode is one axis of RedStuff: a systematic Leopard GF(2^16) Reed-Solomon code with k
// source symbols and n-k recovery symbols, in Walrus's symbol order (0..k-1 originals,
// k..n-1 recovery symbols). Shards handed to it are in Leopard's chunk layout.
//
// Rate selection follows docs/protocol.md §1: high-rate codes map directly onto klauspost's
// Leopard GF16 encoder; low-rate codes use the two-step construction (step 1: New(k, K) gives
// recovery symbols 0..K-1; step 2: New(2K, ·) over [originals, zeros, step-1 parity] gives
// recovery symbols K..m-1). Decoding a low-rate code uses the step-1 code only, so only
// Walrus positions 0..k+K-1 can serve as decoding input (see usable).
type rsCode struct {
	k, n, m int
	low     bool
	bigK    int                 // next_pow2(k), low-rate only
	enc1    reedsolomon.Encoder // high-rate: New(k, m); low-rate: New(k, K)
	enc2    reedsolomon.Encoder // low-rate with m > K: New(2K, m2)
	m2      int                 // parity count of enc2 (> K so that its FFT size is 2K)
}

// codeCache holds one rsCode per (k, n); klauspost encoders are safe for concurrent use once
// built, and building one costs far more than a lookup.
//
// Options: klauspost's goroutine options (WithMaxGoroutines, WithAutoGoroutines,
// WithConcurrentStreams) are not read by its Leopard GF16 path in v1.14.2, which never starts
// goroutines (measured: no difference beyond noise); we fan out over rows and column stripes
// ourselves instead (parallel.go). Its work buffers are sized min(L3-derived chunk, shard
// size) × 2·next_pow2(m), which is why the encoder feeds it stripes of ~2 KiB per shard.
var codeCache sync.Map // [2]int{k, n} -> *rsCode

// nextPow2 returns the smallest power of two >= x (x >= 1).
func nextPow2(x int) int { return 1 << bits.Len(uint(x-1)) }

// isLowRate applies Walrus's (reed-solomon-simd's) rate rule for k originals, m recovery.
func isLowRate(k, m int) bool {
	pk, pm := nextPow2(k), nextPow2(m)
	if pk != pm {
		return pk < pm
	}
	return k > m
}

// codeFor returns the cached code with k source symbols out of n.
func codeFor(k, n int) (*rsCode, error) {
	key := [2]int{k, n}
	if c, ok := codeCache.Load(key); ok {
		return c.(*rsCode), nil
	}
	c, err := newRSCode(k, n)
	if err != nil {
		return nil, err
	}
	actual, _ := codeCache.LoadOrStore(key, c)
	return actual.(*rsCode), nil
}

func newRSCode(k, n int) (*rsCode, error) {
	m := n - k
	if k < 1 || m < 1 {
		return nil, fmt.Errorf("%w: code %d of %d", ErrInternal, k, n)
	}
	c := &rsCode{k: k, n: n, m: m, low: isLowRate(k, m)}
	var err error
	if !c.low {
		c.enc1, err = reedsolomon.New(k, m, reedsolomon.WithLeopardGF16(true))
	} else {
		c.bigK = nextPow2(k)
		c.enc1, err = reedsolomon.New(k, c.bigK, reedsolomon.WithLeopardGF16(true))
		if err == nil && m > c.bigK {
			// Any parity count in (K, 2K] gives the same FFT size 2K and hence the same
			// evaluation points; ask for no more than we need beyond that.
			c.m2 = max(m-c.bigK, c.bigK+1)
			c.enc2, err = reedsolomon.New(2*c.bigK, c.m2, reedsolomon.WithLeopardGF16(true))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reedsolomon.New(%d of %d): %v", ErrInternal, k, n, err)
	}
	return c, nil
}

// usable is the number of leading Walrus positions that can serve as decoding input: all n
// for a high-rate code, k+K for a low-rate one (the step-1 code's positions). With at most
// f = (n-1)/3 erasures among n positions at least k of those remain, since K >= k > f.
func (c *rsCode) usable() int {
	if c.low {
		return min(c.n, c.k+c.bigK)
	}
	return c.n
}

// rsScratch holds reusable buffers for one worker's encode calls.
type rsScratch struct {
	shards [][]byte
	spare  [][]byte // parity outputs we must provide but do not need
	zero   []byte
	size   int
}

func (sc *rsScratch) spareBufs(count, size int) [][]byte {
	if sc.size != size {
		sc.spare, sc.zero, sc.size = nil, nil, size
	}
	for len(sc.spare) < count {
		sc.spare = append(sc.spare, make([]byte, size))
	}
	return sc.spare[:count]
}

func (sc *rsScratch) zeros(size int) []byte {
	if sc.size != size {
		sc.spare, sc.zero, sc.size = nil, nil, size
	}
	if sc.zero == nil {
		sc.zero = make([]byte, size)
	}
	return sc.zero
}

// encode fills parity (m shards, Walrus recovery symbols 0..m-1) from data (k shards). All
// shards have the same length, a multiple of 64. data is only read.
func (c *rsCode) encode(data, parity [][]byte, sc *rsScratch) error {
	if len(data) != c.k || len(parity) != c.m {
		return fmt.Errorf("%w: encode with %d+%d shards for a %d-of-%d code", ErrInternal, len(data), len(parity), c.k, c.n)
	}
	size := len(data[0])
	sh := sc.shards[:0]
	sh = append(sh, data...)
	if !c.low {
		sh = append(sh, parity...)
		sc.shards = sh
		return c.wrap(c.enc1.Encode(sh))
	}
	// Step 1: the K parity shards of New(k, K) are recovery symbols 0..K-1.
	first := min(c.m, c.bigK)
	sh = append(sh, parity[:first]...)
	if first < c.bigK {
		sh = append(sh, sc.spareBufs(c.bigK-first, size)...)
	}
	sc.shards = sh
	if err := c.enc1.Encode(sh); err != nil {
		return c.wrap(err)
	}
	if c.m <= c.bigK {
		return nil
	}
	// Step 2: New(2K, m2) over [originals, K-k zero shards, step-1 parity]: its parity shards
	// 0..m-K-1 are recovery symbols K..m-1 (docs/protocol.md §1).
	step1 := sh[c.k : c.k+c.bigK]
	sh2 := make([][]byte, 0, 2*c.bigK+c.m2)
	sh2 = append(sh2, data...)
	z := sc.zeros(size)
	for range c.bigK - c.k {
		sh2 = append(sh2, z)
	}
	sh2 = append(sh2, step1...)
	sh2 = append(sh2, parity[c.bigK:]...)
	if extra := c.m2 - (c.m - c.bigK); extra > 0 {
		sh2 = append(sh2, sc.spareBufs(extra, size)...)
	}
	return c.wrap(c.enc2.Encode(sh2))
}

// reconstructData fills the missing originals shards[0..k-1] from the present ones. shards
// has one entry per usable Walrus position (len == c.usable()); a missing shard has length
// 0 (a capacity of the shard size is used as its output buffer). At least k must be present.
func (c *rsCode) reconstructData(shards [][]byte) error {
	if len(shards) != c.usable() {
		return fmt.Errorf("%w: reconstruct with %d shards, want %d", ErrInternal, len(shards), c.usable())
	}
	if c.low && len(shards) < c.k+c.bigK {
		// Only when m < K: the step-1 code has positions beyond n that never exist.
		padded := make([][]byte, c.k+c.bigK)
		copy(padded, shards)
		if err := c.enc1.ReconstructData(padded); err != nil {
			return c.wrap(err)
		}
		copy(shards, padded[:len(shards)])
		return nil
	}
	return c.wrap(c.enc1.ReconstructData(shards))
}

func (c *rsCode) wrap(err error) error {
	if err != nil {
		return fmt.Errorf("%w: reed-solomon %d of %d: %v", ErrInternal, c.k, c.n, err)
	}
	return nil
}
