package epoch

import (
	"encoding/binary"
	"fmt"

	"github.com/walrus-go/walrus-go/internal/wire"
	"golang.org/x/crypto/blake2b"
)

// Caps on decoded committees. Decoding never allocates more than the input can fill: every
// count is checked against the bytes left before a slice is made (docs/architecture.md §5 "every read a
// size cap").
const (
	// MaxMembers bounds a committee's member count.
	MaxMembers = 1 << 16
	// MaxPeerIDLen bounds a member's binary libp2p peer ID.
	MaxPeerIDLen = 128
	// MaxAddrs bounds the multiaddrs a member announces.
	MaxAddrs = 32
	// MaxAddrLen bounds one multiaddr's binary length.
	MaxAddrLen = 256
)

// ErrEncoding reports bytes that are not a canonical encoding. It is a member of
// wire.ErrMalformed's family.
var ErrEncoding = wire.Malformed("epoch: malformed encoding")

// AppendBinary appends the canonical encoding of c: epoch u32, n_shards u32, member count u32,
// then per member node_id[32], bls_key[48], peer_id (u16 length + bytes), addrs (u16 count,
// each u16 length + bytes), shards (u32 count, each u16). Integers are little-endian, as in
// Walrus's BCS encodings.
func (c *Committee) AppendBinary(b []byte) ([]byte, error) {
	if len(c.Members) > MaxMembers {
		return nil, fmt.Errorf("%w: %d members", ErrBadCommittee, len(c.Members))
	}
	b = binary.LittleEndian.AppendUint32(b, c.Epoch)
	b = binary.LittleEndian.AppendUint32(b, uint32(c.NShards))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.Members)))
	for i := range c.Members {
		m := &c.Members[i]
		if len(m.PeerID) > MaxPeerIDLen || len(m.Addrs) > MaxAddrs || len(m.Shards) > 65536 {
			return nil, fmt.Errorf("%w: member %d exceeds encoding caps", ErrBadCommittee, i)
		}
		b = append(b, m.Node[:]...)
		b = append(b, m.BLSKey[:]...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(m.PeerID)))
		b = append(b, m.PeerID...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(m.Addrs)))
		for _, a := range m.Addrs {
			if len(a) > MaxAddrLen {
				return nil, fmt.Errorf("%w: member %d address too long", ErrBadCommittee, i)
			}
			b = binary.LittleEndian.AppendUint16(b, uint16(len(a)))
			b = append(b, a...)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Shards)))
		for _, s := range m.Shards {
			b = binary.LittleEndian.AppendUint16(b, s)
		}
	}
	return b, nil
}

// MarshalBinary returns the canonical encoding of c (see AppendBinary).
func (c *Committee) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// Digest is Blake2b-256 of the canonical encoding; ledger state and checkpoints name a
// committee by it.
func (c *Committee) Digest() ([32]byte, error) {
	b, err := c.MarshalBinary()
	if err != nil {
		return [32]byte{}, err
	}
	return blake2b.Sum256(b), nil
}

// DecodeCommittee parses a canonical committee encoding from untrusted bytes and Indexes it.
// Trailing bytes are an error, so each committee has exactly one encoding.
func DecodeCommittee(b []byte) (*Committee, error) {
	r := wire.NewReader(b, ErrEncoding)
	c := &Committee{Epoch: r.U32()}
	ns := r.U32()
	nm := r.U32()
	if err := r.Err(); err != nil {
		return nil, err
	}
	if ns == 0 || ns > 65535 {
		return nil, fmt.Errorf("%w: %d shards", ErrBadCommittee, ns)
	}
	c.NShards = int(ns)
	// A member takes at least 32+48+2+2+4 bytes.
	const minMember = 88
	if nm > MaxMembers || int(nm) > r.Len()/minMember {
		return nil, fmt.Errorf("%w: %d members in %d bytes", ErrEncoding, nm, r.Len())
	}
	c.Members = make([]Member, nm)
	for i := range c.Members {
		m := &c.Members[i]
		r.Fixed(m.Node[:])
		r.Fixed(m.BLSKey[:])
		pl := int(r.U16())
		if pl > MaxPeerIDLen {
			return nil, fmt.Errorf("%w: peer ID of %d bytes", ErrEncoding, pl)
		}
		m.PeerID = string(r.Take(pl))
		na := int(r.U16())
		if na > MaxAddrs || na > r.Len()/2 {
			return nil, fmt.Errorf("%w: %d addresses", ErrEncoding, na)
		}
		if na > 0 {
			m.Addrs = make([]string, na)
			for j := range m.Addrs {
				al := int(r.U16())
				if al > MaxAddrLen {
					return nil, fmt.Errorf("%w: address of %d bytes", ErrEncoding, al)
				}
				m.Addrs[j] = string(r.Take(al))
			}
		}
		nsh := r.U32()
		if err := r.Err(); err != nil {
			return nil, err
		}
		if nsh > ns || int(nsh) > r.Len()/2 {
			return nil, fmt.Errorf("%w: %d shards for one member", ErrEncoding, nsh)
		}
		m.Shards = make([]uint16, nsh)
		for j := range m.Shards {
			m.Shards[j] = r.U16()
		}
		if err := r.Err(); err != nil {
			return nil, err
		}
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	if err := c.Index(); err != nil {
		return nil, err
	}
	return c, nil
}

// AppendBinary appends the canonical encoding of cert: epoch u32, bitmap (u32 length +
// bytes), signature[96].
func (cert *Certificate) AppendBinary(b []byte) ([]byte, error) {
	if len(cert.Signers) > (MaxMembers+7)/8 {
		return nil, fmt.Errorf("%w: bitmap of %d bytes", ErrBadCertificate, len(cert.Signers))
	}
	b = binary.LittleEndian.AppendUint32(b, cert.Epoch)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cert.Signers)))
	b = append(b, cert.Signers...)
	return append(b, cert.Signature[:]...), nil
}

// MarshalBinary returns the canonical encoding of cert (see AppendBinary).
func (cert *Certificate) MarshalBinary() ([]byte, error) { return cert.AppendBinary(nil) }

// DecodeCertificate parses a certificate from untrusted bytes. It checks shape only;
// Committee.VerifyCertificate checks the bitmap against a committee and the signature.
func DecodeCertificate(b []byte) (*Certificate, error) {
	r := wire.NewReader(b, ErrEncoding)
	cert, err := readCertificate(&r)
	if err != nil {
		return nil, err
	}
	return cert, r.End()
}

// ReadCertificate parses a certificate from the front of b and returns the rest, for
// messages that embed one.
func ReadCertificate(b []byte) (*Certificate, []byte, error) {
	r := wire.NewReader(b, ErrEncoding)
	cert, err := readCertificate(&r)
	if err != nil {
		return nil, nil, err
	}
	return cert, r.Rest(), nil
}

func readCertificate(r *wire.Reader) (*Certificate, error) {
	cert := &Certificate{Epoch: r.U32()}
	n := r.U32()
	if err := r.Err(); err != nil {
		return nil, err
	}
	if n > (MaxMembers+7)/8 || int(n) > r.Len() {
		return nil, fmt.Errorf("%w: bitmap of %d bytes", ErrEncoding, n)
	}
	cert.Signers = append([]byte(nil), r.Take(int(n))...)
	r.Fixed(cert.Signature[:])
	return cert, r.Err()
}
