package client

import (
	"context"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
)

// ReadCommittee is the committee to read a certified blob from (docs/protocol.md §7): while
// an epoch change is in progress (the ledger still reports the previous committee), a blob
// certified before the change is read from the previous committee, which keeps every
// sliver until the change completes; otherwise, and for blobs certified since, the current
// one.
func (l *Ledger) ReadCommittee(ctx context.Context, st *query.BlobAnswer) (*epoch.Committee, error) {
	in, err := l.Info(ctx)
	if err != nil {
		return nil, err
	}
	if in.Previous == nil {
		return in.Committee, nil
	}
	for _, o := range st.Objects {
		if o.Certified && o.CertEpoch < in.Epoch {
			return in.Previous, nil
		}
	}
	return in.Committee, nil
}
