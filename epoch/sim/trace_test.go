package sim_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/walrus-go/walrus-go/epoch/sim"
)

// TestTrace prints the event trace of one scenario run: WALRUS_TRACE=<seed> and
// WALRUS_TRACE_SCENARIO=<scenario name as in TestSimulation>. A debugging aid that does
// nothing unless asked.
func TestTrace(t *testing.T) {
	s := os.Getenv("WALRUS_TRACE")
	if s == "" {
		t.Skip("set WALRUS_TRACE=<seed> and WALRUS_TRACE_SCENARIO=<name> to trace one run")
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	name := os.Getenv("WALRUS_TRACE_SCENARIO")
	for _, sc := range scenarios {
		if sc.name != name {
			continue
		}
		o := sc.build(seed, rand.New(rand.NewPCG(seed, 1)))
		o.Trace = func(l string) { t.Log(l) }
		t.Logf("options: %+v", o)
		if _, err := sim.Run(o); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no scenario %q", name)
}
