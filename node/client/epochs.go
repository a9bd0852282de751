package client

import (
	"time"

	"github.com/walrus-go/walrus-go/staking"
)

// MinLifetime is how long a blob stored without an explicit number of epochs lives at least
// (`walrus store` without --epochs, the publisher's PUT without `epochs`; docs/operating.md,
// docs/gateway.md).
const MinLifetime = 24 * time.Hour

// DefaultEpochs is the number of epochs a store buys when none is given, for a network whose
// epochs last epoch: enough that the blob lives at least MinLifetime however late in the
// current epoch it is stored (the current epoch counts as one, possibly almost over), capped
// at what the ledger sells ahead (staking.MaxEpochsAhead; also the answer when the duration
// is unknown, epoch ≤ 0).
func DefaultEpochs(epoch time.Duration) uint32 {
	if epoch <= 0 {
		return staking.MaxEpochsAhead
	}
	n := (MinLifetime+epoch-1)/epoch + 1
	return uint32(min(n, staking.MaxEpochsAhead))
}
