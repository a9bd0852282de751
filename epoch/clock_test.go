package epoch_test

import (
	"errors"
	"math"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
)

func TestEpochAt(t *testing.T) {
	const g, d = 1_700_000_000_000, 86_400_000
	cases := []struct {
		t     int64
		epoch uint32
	}{{g, 0}, {g + d - 1, 0}, {g + d, 1}, {g + 10*d + 5, 10}}
	for _, c := range cases {
		et, err := epoch.EpochAt(g, d, c.t)
		if err != nil {
			t.Fatal(err)
		}
		if et.Epoch != c.epoch || et.Start != g+int64(c.epoch)*d || et.End != et.Start+d || et.Mid != et.Start+d/2 {
			t.Fatalf("EpochAt(%d) = %+v", c.t, et)
		}
		if c.t < et.Start || c.t >= et.End {
			t.Fatalf("time %d outside its epoch %+v", c.t, et)
		}
	}
	if _, err := epoch.EpochAt(g, d, g-1); !errors.Is(err, epoch.ErrClock) {
		t.Fatalf("before genesis: %v", err)
	}
	if _, err := epoch.EpochAt(g, 0, g); !errors.Is(err, epoch.ErrClock) {
		t.Fatalf("zero duration: %v", err)
	}
	if _, err := epoch.EpochAt(0, 1, math.MaxInt64); !errors.Is(err, epoch.ErrClock) {
		t.Fatalf("epoch overflow: %v", err)
	}
	if _, err := epoch.EpochAt(math.MinInt64, 1, math.MaxInt64); !errors.Is(err, epoch.ErrClock) {
		t.Fatalf("span overflow: %v", err)
	}
	if _, err := epoch.EpochSchedule(math.MaxInt64-10, 100, 0); !errors.Is(err, epoch.ErrClock) {
		t.Fatalf("end overflow: %v", err)
	}
	if _, err := epoch.EpochSchedule(0, math.MaxInt64/2, 3); !errors.Is(err, epoch.ErrClock) {
		t.Fatalf("multiplication overflow: %v", err)
	}
	et, err := epoch.EpochSchedule(-1000, 7, 2)
	if err != nil || et.Start != -986 || et.Mid != -983 || et.End != -979 {
		t.Fatalf("negative genesis: %+v %v", et, err)
	}
}

func TestCrossed(t *testing.T) {
	const g, d = 0, 100
	cases := []struct {
		prev, cur int64
		want      epoch.Crossing
	}{
		{10, 20, epoch.Crossing{}},
		{49, 50, epoch.Crossing{MidEpoch: true}},
		{50, 60, epoch.Crossing{}},
		{99, 100, epoch.Crossing{EpochEnd: true}},
		{40, 120, epoch.Crossing{MidEpoch: true, EpochEnd: true}},
		{60, 170, epoch.Crossing{MidEpoch: true, EpochEnd: true}},
		{60, 320, epoch.Crossing{MidEpoch: true, EpochEnd: true}},
		{60, 110, epoch.Crossing{EpochEnd: true}},
	}
	for _, c := range cases {
		got, err := epoch.Crossed(g, d, c.prev, c.cur)
		if err != nil || got != c.want {
			t.Fatalf("Crossed(%d,%d) = %+v %v, want %+v", c.prev, c.cur, got, err, c.want)
		}
	}
	if _, err := epoch.Crossed(g, d, 5, 5); !errors.Is(err, epoch.ErrClock) {
		t.Fatalf("non-increasing: %v", err)
	}
}
