package epoch

// MaxFaulty is f = (n-1)/3 for n shards.
func MaxFaulty(n int) int { return (n - 1) / 3 }

// IsQuorum reports whether weight w of n shards reaches n-f: 3w >= 2n+1 (docs/protocol.md §5).
func IsQuorum(w, n int) bool { return 3*w >= 2*n+1 }

// IsValidity reports whether weight w of n shards reaches f+1: 3w >= n+1 (docs/protocol.md §4),
// enough that at least one honest shard is among them.
func IsValidity(w, n int) bool { return 3*w >= n+1 }
