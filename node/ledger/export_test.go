package ledger

// PendingHints is how many catch-up hints wait in n's queue (tests).
func (n *Net) PendingHints() int { return len(n.hints) }
