package epoch

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"golang.org/x/crypto/blake2b"
)

// Caps on decoded committees. Decoding never allocates more than the input can fill: every
// count is checked against the bytes left before a slice is made (DESIGN.md §5 "every read a
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

// ErrEncoding reports bytes that are not a canonical encoding.
var ErrEncoding = errors.New("epoch: malformed encoding")

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
	r := reader{b: b}
	c := &Committee{Epoch: r.u32()}
	ns := r.u32()
	nm := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	if ns == 0 || ns > 65535 {
		return nil, fmt.Errorf("%w: %d shards", ErrBadCommittee, ns)
	}
	c.NShards = int(ns)
	// A member takes at least 32+48+2+2+4 bytes.
	const minMember = 88
	if nm > MaxMembers || int(nm) > r.left()/minMember {
		return nil, fmt.Errorf("%w: %d members in %d bytes", ErrEncoding, nm, r.left())
	}
	c.Members = make([]Member, nm)
	for i := range c.Members {
		m := &c.Members[i]
		copy(m.Node[:], r.bytes(32))
		copy(m.BLSKey[:], r.bytes(bls.PublicKeySize))
		pl := int(r.u16())
		if pl > MaxPeerIDLen {
			return nil, fmt.Errorf("%w: peer ID of %d bytes", ErrEncoding, pl)
		}
		m.PeerID = string(r.bytes(pl))
		na := int(r.u16())
		if na > MaxAddrs || na > r.left()/2 {
			return nil, fmt.Errorf("%w: %d addresses", ErrEncoding, na)
		}
		if na > 0 {
			m.Addrs = make([]string, na)
			for j := range m.Addrs {
				al := int(r.u16())
				if al > MaxAddrLen {
					return nil, fmt.Errorf("%w: address of %d bytes", ErrEncoding, al)
				}
				m.Addrs[j] = string(r.bytes(al))
			}
		}
		nsh := r.u32()
		if r.err != nil {
			return nil, r.err
		}
		if nsh > ns || int(nsh) > r.left()/2 {
			return nil, fmt.Errorf("%w: %d shards for one member", ErrEncoding, nsh)
		}
		m.Shards = make([]uint16, nsh)
		for j := range m.Shards {
			m.Shards[j] = r.u16()
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if err := r.done(); err != nil {
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
	r := reader{b: b}
	cert, err := readCertificate(&r)
	if err != nil {
		return nil, err
	}
	return cert, r.done()
}

// ReadCertificate parses a certificate from the front of b and returns the rest, for
// messages that embed one.
func ReadCertificate(b []byte) (*Certificate, []byte, error) {
	r := reader{b: b}
	cert, err := readCertificate(&r)
	if err != nil {
		return nil, nil, err
	}
	return cert, r.b[r.off:], nil
}

func readCertificate(r *reader) (*Certificate, error) {
	cert := &Certificate{Epoch: r.u32()}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	if n > (MaxMembers+7)/8 || int(n) > r.left() {
		return nil, fmt.Errorf("%w: bitmap of %d bytes", ErrEncoding, n)
	}
	cert.Signers = append([]byte(nil), r.bytes(int(n))...)
	copy(cert.Signature[:], r.bytes(bls.SignatureSize))
	return cert, r.err
}

// reader is a bounds-checked little-endian cursor; the first short read sets err and every
// later read returns zeros, so decoders check err once per record.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > r.left() {
		if r.err == nil {
			r.err = fmt.Errorf("%w: truncated", ErrEncoding)
		}
		return make([]byte, 0)
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) u16() uint16 {
	b := r.bytes(2)
	if len(b) < 2 {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if len(b) < 4 {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if r.left() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrEncoding, r.left())
	}
	return nil
}
