package sim

import (
	"fmt"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// trace describes one event for Options.Trace.
func (s *simulator) trace(e *event) {
	nd := s.nodes[e.to]
	head := fmt.Sprintf("t=%d node=%d h=%d r=%d", s.now, e.to, nd.height, nd.m.Round())
	switch e.kind {
	case evDeliver:
		switch m := e.msg.(type) {
		case *tendermint.Proposal:
			s.o.Trace(fmt.Sprintf("%s <- %d proposal h=%d r=%d vr=%d v=%x", head, e.from, m.Height, m.Round, m.ValidRound, hashPrefix(m.Value)))
		case *tendermint.Vote:
			s.o.Trace(fmt.Sprintf("%s <- %d %s h=%d r=%d v=%x", head, e.from, m.Type, m.Height, m.Round, m.Value[:4]))
		case *tendermint.Decision:
			s.o.Trace(fmt.Sprintf("%s <- %d decision h=%d", head, e.from, m.Height))
		}
	case evTimeout:
		s.o.Trace(fmt.Sprintf("%s timeout %d h=%d r=%d", head, e.tmo.Kind, e.tmo.Height, e.tmo.Round))
	case evCrash:
		s.o.Trace(fmt.Sprintf("%s crash", head))
	case evRestart:
		s.o.Trace(fmt.Sprintf("%s restart", head))
	}
}

func hashPrefix(v []byte) []byte {
	h := tendermint.HashValue(v)
	return h[:4]
}
