package gateway

import (
	"errors"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 100
	for _, tc := range []struct {
		h       string
		size    uint64
		want    byteRange
		partial bool
		err     error
	}{
		{h: "", size: size},
		{h: "items=0-1", size: size}, // another unit: ignored
		{h: "bytes=0-0", size: size, want: byteRange{0, 1}, partial: true},
		{h: "bytes=99-99", size: size, want: byteRange{99, 1}, partial: true},
		{h: "bytes=99-", size: size, want: byteRange{99, 1}, partial: true},
		{h: "bytes=0-", size: size, want: byteRange{0, 100}, partial: true},
		{h: "bytes=10-1000", size: size, want: byteRange{10, 90}, partial: true}, // clipped
		{h: "bytes=-1", size: size, want: byteRange{99, 1}, partial: true},
		{h: "bytes=-1000", size: size, want: byteRange{0, 100}, partial: true},
		{h: " Bytes = 5 - 6 ", size: size, want: byteRange{5, 2}, partial: true},
		{h: "bytes=100-", size: size, err: errRangeUnsatisfiable},
		{h: "bytes=100-200", size: size, err: errRangeUnsatisfiable},
		{h: "bytes=-0", size: size, err: errRangeUnsatisfiable},
		{h: "bytes=0-0", size: 0, err: errRangeUnsatisfiable},
		{h: "bytes=-5", size: 0, err: errRangeUnsatisfiable},
		{h: "bytes=0-1,5-6", size: size}, // several ranges: whole blob
		{h: "bytes=0-1,x", size: size, err: errRangeMalformed},
		{h: "bytes=5-4", size: size, err: errRangeMalformed},
		{h: "bytes=a-b", size: size, err: errRangeMalformed},
		{h: "bytes=-", size: size, err: errRangeMalformed},
		{h: "bytes=+1-2", size: size, err: errRangeMalformed},
		{h: "bytes", size: size, err: errRangeMalformed},
		{h: "bytes=99999999999999999999999-", size: size, err: errRangeUnsatisfiable},
		{h: "bytes=0-99999999999999999999999", size: size, want: byteRange{0, 100}, partial: true},
	} {
		got, partial, err := parseRange(tc.h, tc.size)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("parseRange(%q, %d): err %v, want %v", tc.h, tc.size, err, tc.err)
			continue
		}
		if err == nil && (got != tc.want || partial != tc.partial) {
			t.Errorf("parseRange(%q, %d) = %+v partial %v, want %+v partial %v", tc.h, tc.size, got, partial, tc.want, tc.partial)
		}
	}
}
