package staking

import (
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// IntentProofOfPossession is the intent of a proof of possession, 0 as in Walrus
// (IntentType::PROOF_OF_POSSESSION_MSG); epoch/ names the others.
const IntentProofOfPossession epoch.Intent = 0

// PossessionMessage is what a node's BLS key signs (with the ordinary signature scheme) to
// prove possession in `register node`: intent 0, epoch 0, body = the sender's account
// address (32) || the BLS public key (48). Like Walrus's ProofOfPossessionMsg it binds the
// sender, so a registration cannot be copied into another account's transaction.
func PossessionMessage(network epoch.NetworkID, sender Address, key bls.PublicKey) []byte {
	body := make([]byte, 0, 32+len(key))
	body = append(body, sender[:]...)
	body = append(body, key[:]...)
	return epoch.SignedMessage(IntentProofOfPossession, network, 0, body)
}

// ProvePossession is the proof of possession `register node` from sender needs: k's
// signature on PossessionMessage.
func ProvePossession(network epoch.NetworkID, sender Address, k *bls.SecretKey) bls.Signature {
	return k.Sign(PossessionMessage(network, sender, k.PublicKey()))
}

// ConfirmationBody is Walrus's StorageConfirmation body in BCS (docs/protocol.md §5):
// blob_id (32 bytes) || persistence, where persistence is 0 for a permanent blob and
// 1 || object ID (32 bytes) for a deletable one.
func ConfirmationBody(blobID codec.BlobID, deletable bool, object ObjectID) []byte {
	out := make([]byte, 0, 65)
	out = append(out, blobID[:]...)
	if !deletable {
		return append(out, 0)
	}
	out = append(out, 1)
	return append(out, object[:]...)
}

// ConfirmationMessage is the byte string a node signs to confirm storage of a blob in
// epoch ep and that a CertifyBlob certificate must cover. Nodes must sign exactly this.
func ConfirmationMessage(network epoch.NetworkID, ep uint32, blobID codec.BlobID, deletable bool, object ObjectID) []byte {
	return epoch.SignedMessage(epoch.IntentStorageConfirmation, network, ep, ConfirmationBody(blobID, deletable, object))
}

// InvalidBlobMessage is the byte string a node signs to attest that blobID is
// inconsistently encoded (docs/protocol.md §4): the body is the blob ID.
func InvalidBlobMessage(network epoch.NetworkID, ep uint32, blobID codec.BlobID) []byte {
	return epoch.SignedMessage(epoch.IntentInvalidBlob, network, ep, blobID[:])
}

// SyncDoneMessage is what a node signs to announce it holds all its shards of epoch ep
// (docs/protocol.md §7): the body is its node ID.
func SyncDoneMessage(network epoch.NetworkID, ep uint32, node epoch.NodeID) []byte {
	return epoch.SignedMessage(epoch.IntentSyncDone, network, ep, node[:])
}

// ChallengeMessage is what an attester signs over its challenge results for epoch ep: the
// body is the canonical encoding of the result list (u32 count, then node ID || pass byte).
func ChallengeMessage(network epoch.NetworkID, ep uint32, results []ChallengeResult) []byte {
	e := &encoder{}
	encodeResults(e, results)
	return epoch.SignedMessage(epoch.IntentChallengeResult, network, ep, e.b)
}
