package epoch

import "encoding/binary"

// Intent is the first byte of every signed message, so that a signature made for one role can
// never be replayed in another (docs/architecture.md §3). Values 1..6 are Walrus's (docs/protocol.md §5); the
// ledger's own start at 16.
type Intent uint8

// Walrus intents and walrus-go ledger intents.
const (
	IntentStorageConfirmation Intent = 1
	IntentInvalidBlob         Intent = 2
	IntentShardSync           Intent = 3
	IntentDenyListUpdate      Intent = 4
	IntentDenyListDelete      Intent = 5
	IntentProtocolVersion     Intent = 6

	IntentProposal        Intent = 16
	IntentPrevote         Intent = 17
	IntentPrecommit       Intent = 18
	IntentChallengeResult Intent = 19
	IntentSyncDone        Intent = 20
)

// IntentVersion and AppStorage are Walrus's fixed intent header bytes.
const (
	IntentVersion byte = 0
	AppStorage    byte = 3
)

// NetworkID is the hash of the genesis file; every signed message binds it so a signature is
// valid on one network only.
type NetworkID [32]byte

// SignedMessage is the byte string a node signs: intent, version, app, epoch (u32 LE), the
// network ID, then the canonical body.
func SignedMessage(intent Intent, network NetworkID, epoch uint32, body []byte) []byte {
	out := make([]byte, 0, 3+4+32+len(body))
	out = append(out, byte(intent), IntentVersion, AppStorage)
	out = binary.LittleEndian.AppendUint32(out, epoch)
	out = append(out, network[:]...)
	return append(out, body...)
}
