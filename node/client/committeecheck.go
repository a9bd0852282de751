package client

import (
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
)

// CheckCommittee reports whether com can be used with this client's geometry: present,
// indexed, with exactly the client's shard count. A committee from a verifying Ledger
// always passes (it is proven with the genesis's shard count); one from anywhere else must
// be checked before Read, ReadRange, ReadTo or Metadata index shards with it.
func (c *Client) CheckCommittee(com *epoch.Committee) error {
	if com == nil || len(com.Members) == 0 {
		return fmt.Errorf("client: no committee")
	}
	if com.NShards != c.cfg.Params.N {
		return fmt.Errorf("client: committee of %d shards, the network has %d", com.NShards, c.cfg.Params.N)
	}
	if !com.Indexed() {
		return fmt.Errorf("client: committee not indexed")
	}
	for s := 0; s < com.NShards; s++ {
		if o := com.Owner(s); o < 0 || o >= len(com.Members) {
			return fmt.Errorf("client: committee without an owner for shard %d", s)
		}
	}
	return nil
}
