//go:build linux

package hugemem

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestBytesZeroedAndSized(t *testing.T) {
	for _, n := range []int{0, 1, MinSize - 1, MinSize, MinSize + 12345, 5 * Page} {
		b := Bytes(n)
		if len(b) != n || cap(b) < n {
			t.Fatalf("Bytes(%d): len %d cap %d", n, len(b), cap(b))
		}
		if i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 }); i >= 0 {
			t.Fatalf("Bytes(%d): byte %d not zero", n, i)
		}
	}
}

// vmaFlags returns the VmFlags of the mapping in /proc/self/smaps that contains addr.
func vmaFlags(t *testing.T, addr uintptr) []string {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			lo, hi, _ := strings.Cut(fields[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= l && uint64(addr) < h
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

// TestBytesAdvisesHugePages checks with the kernel itself that the whole 2 MiB pages of a
// large buffer are advised (VmFlags "hg", MADV_HUGEPAGE) and that a plain make is not.
func TestBytesAdvisesHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		t.Skipf("kernel without transparent huge pages: %v", err)
	}
	has := func(flags []string) bool {
		for _, f := range flags {
			if f == "hg" {
				return true
			}
		}
		return false
	}
	b := Bytes(8 * Page)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	mid := (start + Page - 1) &^ (Page - 1) // inside the advised range
	if !has(vmaFlags(t, mid)) {
		t.Fatalf("THP mode %q: the buffer's huge-page range is not advised", strings.TrimSpace(string(mode)))
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(plainEarly)))
	if has(vmaFlags(t, (p+Page-1)&^(Page-1))) {
		t.Fatal("a plain make([]byte) is advised too: the check above proves nothing")
	}
	runtime.KeepAlive(plainEarly)
	runtime.KeepAlive(b)
}

// plainEarly is allocated before any test calls Bytes: memory Bytes advised and the heap
// later reused keeps its advice, so a plain buffer allocated after would prove nothing.
var plainEarly = make([]byte, 8*Page)
