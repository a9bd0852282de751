package epoch_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
)

func TestCommitteeRoundTrip(t *testing.T) {
	c, _ := epochtest.Committee(9, []int{5, 1, 7, 3}, 4)
	c.Members[1].Addrs = []string{"/ip4/127.0.0.1/tcp/1", "/ip4/10.0.0.1/udp/2/quic-v1"}
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := epoch.DecodeCommittee(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Epoch != c.Epoch || d.NShards != c.NShards || !reflect.DeepEqual(d.Members, c.Members) {
		t.Fatalf("round trip changed the committee")
	}
	b2, _ := d.MarshalBinary()
	if string(b2) != string(b) {
		t.Fatal("encoding is not canonical")
	}
	d1, _ := c.Digest()
	d2, _ := d.Digest()
	if d1 != d2 {
		t.Fatal("digest differs")
	}
	if _, err := epoch.DecodeCommittee(append(b, 0)); !errors.Is(err, epoch.ErrEncoding) {
		t.Fatalf("trailing byte: %v", err)
	}
	// Every truncation fails cleanly.
	for i := 0; i < len(b); i++ {
		if _, err := epoch.DecodeCommittee(b[:i]); err == nil {
			t.Fatalf("truncation to %d bytes accepted", i)
		}
	}
}

func TestCommitteeDecodeHostile(t *testing.T) {
	// Huge counts with no bytes behind them must fail without allocating.
	hostile := [][]byte{
		{1, 0, 0, 0, 10, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0},
	}
	for i, h := range hostile {
		if _, err := epoch.DecodeCommittee(h); err == nil {
			t.Fatalf("hostile input %d accepted", i)
		}
	}
	// Random mutations never panic and, when accepted, re-encode identically.
	c, _ := epochtest.Committee(1, []int{2, 2, 3}, 5)
	b, _ := c.MarshalBinary()
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 3000; i++ {
		m := append([]byte(nil), b...)
		for k := 0; k < 1+r.IntN(3); k++ {
			m[r.IntN(len(m))] = byte(r.Uint32())
		}
		d, err := epoch.DecodeCommittee(m)
		if err != nil {
			continue
		}
		re, err := d.MarshalBinary()
		if err != nil || string(re) != string(m) {
			t.Fatalf("accepted mutation %d does not re-encode", i)
		}
	}
}

func TestCertificateRoundTrip(t *testing.T) {
	cert := &epoch.Certificate{Epoch: 77, Signers: []byte{0xa5, 0x01}}
	cert.Signature[0] = 0xc0
	cert.Signature[95] = 9
	b, err := cert.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4+4+2+96 {
		t.Fatalf("encoding of %d bytes", len(b))
	}
	d, err := epoch.DecodeCertificate(b)
	if err != nil || !reflect.DeepEqual(d, cert) {
		t.Fatalf("round trip: %v", err)
	}
	rest := append(b[:len(b):len(b)], 1, 2)
	d2, tail, err := epoch.ReadCertificate(rest)
	if err != nil || !reflect.DeepEqual(d2, cert) || string(tail) != "\x01\x02" {
		t.Fatalf("ReadCertificate: %v %x", err, tail)
	}
	if _, err := epoch.DecodeCertificate(rest); !errors.Is(err, epoch.ErrEncoding) {
		t.Fatalf("trailing bytes: %v", err)
	}
	for i := 0; i < len(b); i++ {
		if _, err := epoch.DecodeCertificate(b[:i]); err == nil {
			t.Fatalf("truncation to %d accepted", i)
		}
	}
	huge := []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}
	if _, err := epoch.DecodeCertificate(huge); !errors.Is(err, epoch.ErrEncoding) {
		t.Fatalf("huge bitmap length: %v", err)
	}
}

func FuzzDecodeCommittee(f *testing.F) {
	c, _ := epochtest.Committee(1, []int{1, 2}, 1)
	b, _ := c.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := epoch.DecodeCommittee(data)
		if err != nil {
			return
		}
		re, err := d.MarshalBinary()
		if err != nil || string(re) != string(data) {
			t.Fatal("accepted input does not re-encode identically")
		}
	})
}

func FuzzDecodeCertificate(f *testing.F) {
	f.Add(make([]byte, 4+4+1+96))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := epoch.DecodeCertificate(data)
		if err != nil {
			return
		}
		re, err := d.MarshalBinary()
		if err != nil || string(re) != string(data) {
			t.Fatal("accepted input does not re-encode identically")
		}
	})
}
