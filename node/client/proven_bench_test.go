package client_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// BenchmarkBlobStatusVerified: `blob-status` of a certified blob through 4 in-process nodes
// over loopback libp2p, unverified (the old kind, highest claimed height) beside verified
// (proven kind: certificate, links, proofs), each warm (one client asking again) and cold
// (a new host and client per answer, as one `walrus blob-status` process: dial, the trust
// cache beside its configuration read, one BLS check). Reports the proven answer's bytes beside the unverified one's.
func BenchmarkBlobStatusVerified(b *testing.B) {
	a := newLCNet(b, "bench", 1<<50)
	a.commit(0)
	a.nextEpoch() // one epoch link to follow from genesis
	id, obj := a.register(1)
	a.certifyBlob(id, obj)
	a.commit(0)
	var nodes []host.Host
	for range 4 {
		nodes = append(nodes, serve(b, a.l))
	}
	ctx := lcCtx(b)
	probe := newConnected(b, nodes[0])
	plain, _ := p2p.Call(ctx, probe, nodes[0].ID(), query.Spec, (&query.Query{Kind: query.QueryBlobStatus, BlobID: id}).Encode())
	proven, _ := p2p.Call(ctx, probe, nodes[0].ID(), query.Spec, (&query.Query{Kind: query.QueryProvenBlobStatus, BlobID: id}).Encode())

	trustFile := filepath.Join(b.TempDir(), "client.yaml.trust") // as beside a CLI's config
	newClient := func(b *testing.B, verified bool) *client.Ledger {
		var boot []peer.AddrInfo
		for _, n := range nodes {
			boot = append(boot, peer.AddrInfo{ID: n.ID(), Addrs: n.Addrs()})
		}
		cfg := client.LedgerConfig{Host: newLCHost(b), Network: a.genesis.NetworkID(), Bootstrap: boot, NoWalletLock: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if verified {
			cfg.Genesis, cfg.TrustFile = a.genesis, trustFile
		}
		l, err := client.NewLedger(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	ask := func(b *testing.B, l *client.Ledger) {
		st, err := l.BlobStatus(ctx, id)
		if err != nil || st.Status.Kind != staking.StatusCertified {
			b.Fatalf("%+v, %v", st, err)
		}
	}
	for _, verified := range []bool{false, true} {
		name := "unverified"
		if verified {
			name = "verified"
		}
		b.Run(name+"/warm", func(b *testing.B) {
			l := newClient(b, verified)
			ask(b, l)
			b.ResetTimer()
			for range b.N {
				ask(b, l)
			}
			b.ReportMetric(float64(answerBytes(verified, plain, proven)), "answer-bytes")
		})
		b.Run(name+"/cold", func(b *testing.B) {
			for range b.N {
				l := newClient(b, verified)
				ask(b, l)
				b.StopTimer()
				l.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(answerBytes(verified, plain, proven)), "answer-bytes")
		})
	}
}

func answerBytes(verified bool, plain, proven []byte) int {
	if verified {
		return len(proven)
	}
	return len(plain)
}

// BenchmarkVerifyAnswer: the client's verification of one proven answer, cold (the
// commit certificate's pairing included) and with its checkpoint already verified (only
// the proofs), with the answer's and the proofs' sizes.
func BenchmarkVerifyAnswer(b *testing.B) {
	a := newLCNet(b, "bench", 1<<50)
	a.commit(0)
	id, obj := a.register(1)
	a.certifyBlob(id, obj)
	v := a.l.View()
	st := v.State()
	d := v.Commit()
	at := query.Certified{Checkpoint: d.Value, Round: d.Commit.Round, Cert: d.Commit.Cert}
	_, bp := st.ProveBlobStatus(id)
	raw := query.EncodeProvenBlobAnswer(&query.ProvenBlobAnswer{Height: v.Height(), At: at, Proof: *bp})
	proofBytes := len(bp.Record.Proof.Encode())
	for _, o := range bp.Objects {
		proofBytes += len(o.Proof.Encode())
	}
	com := v.SigningCommittee()
	nw := a.genesis.NetworkID()
	verify := func(b *testing.B, cp *staking.Checkpoint) {
		ans, err := query.DecodeProvenBlobAnswer(raw)
		if err != nil {
			b.Fatal(err)
		}
		if cp == nil {
			if cp, err = query.VerifyCertified(nw, com, &ans.At); err != nil {
				b.Fatal(err)
			}
		}
		if s, _, err := query.VerifyBlob(cp, codec.BlobID(id), &ans.Proof); err != nil || s.Kind != staking.StatusCertified {
			b.Fatal(s, err)
		}
	}
	b.Run("blob-status/cold", func(b *testing.B) {
		for range b.N {
			verify(b, nil)
		}
		b.ReportMetric(float64(len(raw)), "answer-bytes")
		b.ReportMetric(float64(proofBytes), "proof-bytes")
	})
	cp, err := query.VerifyCertified(nw, com, &at)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("blob-status/proofs-only", func(b *testing.B) {
		for range b.N {
			verify(b, cp)
		}
		b.ReportMetric(float64(len(raw)), "answer-bytes")
		b.ReportMetric(float64(proofBytes), "proof-bytes")
	})
}
