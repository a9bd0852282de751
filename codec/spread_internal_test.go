package codec

import "testing"

// TestSpreadTakesThePlannedWindows: a spread emission in runs re-encodes no more windows
// than the rows need (runs that did not tile a window once made one window two, a second
// re-encode of the blob): runs are evened out so that strides of them fit, and shortened
// little.
func TestSpreadTakesThePlannedWindows(t *testing.T) {
	p := MustParams(1000)
	R, n := p.R, p.N
	all := func(int) bool { return true }
	for _, c := range []struct{ window, run, want int }{
		{n - R, 27, 1}, {n - R, 110, 1}, {n - R, 1, 1},
		{(n - R + 1) / 2, 27, 2}, {(n - R + 1) / 2, 1, 2}, {(n - R + 1) / 2, 8, 2},
		{100, 27, 7}, {48, 6, 14},
	} {
		first := firstWindow(R, n, c.window, true, c.run)
		if len(first) > c.window {
			t.Errorf("window %d run %d: the first window holds %d rows", c.window, c.run, len(first))
		}
		groups := emissionGroups(R, n, first, c.window, true, c.run, all)
		for g, grp := range groups {
			if len(grp.rec) > c.window {
				t.Errorf("window %d run %d: window %d holds %d rows", c.window, c.run, g, len(grp.rec))
			}
		}
		if len(groups) > c.want {
			t.Errorf("window %d run %d: %d windows, the rows need %d", c.window, c.run, len(groups), c.want)
		}
		for _, r := range recoveryRuns(R, n, runLen(c.run, c.window), c.window) {
			if k := min(c.run, c.window); len(r) > k || len(r) < k*2/3 {
				t.Errorf("window %d run %d: a run of %d rows", c.window, c.run, len(r))
			}
		}
	}
}
