package gateway

import (
	"errors"
	"strconv"
	"strings"
)

// byteRange is [Off, Off+N) of a blob.
type byteRange struct{ Off, N uint64 }

// errRangeUnsatisfiable: a well-formed byte range that selects nothing of the blob (416).
var errRangeUnsatisfiable = errors.New("range not satisfiable")

// errRangeMalformed: a bytes range-set that does not parse (416 too: RFC 9110 §14.2 lets
// a server reject an invalid ranges-specifier; answering it whole would hide the mistake).
var errRangeMalformed = errors.New("malformed Range header")

// maxRangeHeader bounds the Range header parsed.
const maxRangeHeader = 1024

// parseRange reads a Range header for a blob of size bytes (RFC 9110 §14.1.2): `bytes=`
// followed by one range, `first-last`, `first-` or `-suffix`. It returns ok=false when
// the header is to be ignored and the whole blob served with 200: no header, another
// unit, or several ranges (the gateway does not send multipart/byteranges; RFC 9110 lets
// a server ignore Range). A single range is clipped to the blob; one that starts past its
// end, or any range of an empty blob, is errRangeUnsatisfiable.
func parseRange(h string, size uint64) (r byteRange, ok bool, err error) {
	if h == "" {
		return byteRange{}, false, nil
	}
	if len(h) > maxRangeHeader {
		return byteRange{}, false, errRangeMalformed
	}
	unit, set, found := strings.Cut(h, "=")
	if !found {
		return byteRange{}, false, errRangeMalformed
	}
	if !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return byteRange{}, false, nil
	}
	if strings.Contains(set, ",") {
		// Check every range parses (a malformed one is an error either way), then serve
		// the whole blob.
		for _, spec := range strings.Split(set, ",") {
			if _, err := parseOne(strings.TrimSpace(spec), size); err != nil && !errors.Is(err, errRangeUnsatisfiable) {
				return byteRange{}, false, err
			}
		}
		return byteRange{}, false, nil
	}
	r, err = parseOne(strings.TrimSpace(set), size)
	if err != nil {
		return byteRange{}, false, err
	}
	return r, true, nil
}

// parseOne parses one byte-range-spec or suffix-range-spec against size.
func parseOne(spec string, size uint64) (byteRange, error) {
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return byteRange{}, errRangeMalformed
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		// Suffix: the last n bytes.
		n, err := parseDigits(last)
		if err != nil {
			return byteRange{}, err
		}
		if n == 0 || size == 0 {
			return byteRange{}, errRangeUnsatisfiable
		}
		n = min(n, size)
		return byteRange{Off: size - n, N: n}, nil
	}
	a, err := parseDigits(first)
	if err != nil {
		return byteRange{}, err
	}
	end := size - 1 // inclusive; only used when size > 0
	if last != "" {
		b, err := parseDigits(last)
		if err != nil {
			return byteRange{}, err
		}
		if b < a {
			return byteRange{}, errRangeMalformed
		}
		end = min(b, end)
	}
	if a >= size {
		return byteRange{}, errRangeUnsatisfiable
	}
	return byteRange{Off: a, N: end - a + 1}, nil
}

// parseDigits parses a non-empty run of ASCII digits that fits in 63 bits.
func parseDigits(s string) (uint64, error) {
	if s == "" || len(s) > 18 {
		if len(s) > 18 && strings.Trim(s, "0123456789") == "" {
			// Larger than any blob: clip to the largest value rather than refuse.
			return 1 << 62, nil
		}
		return 0, errRangeMalformed
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errRangeMalformed
		}
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, errRangeMalformed
	}
	return n, nil
}
