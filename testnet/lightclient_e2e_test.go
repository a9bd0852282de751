package testnet_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/testnet"
)

// upProcess runs `walrus testnet up` in dir as a process until the test ends and returns
// the layout once it is ready.
func upProcess(t *testing.T, bin, dir string, args ...string) *testnet.Layout {
	t.Helper()
	up := exec.Command(bin, append([]string{"testnet", "up", "--dir", dir}, args...)...)
	out := newLines()
	up.Stdout, up.Stderr = out, out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	upDone := make(chan error, 1)
	go func() { upDone <- up.Wait() }()
	t.Cleanup(func() {
		select {
		case <-upDone:
		default:
			_ = up.Process.Signal(syscall.SIGINT)
			select {
			case <-upDone:
			case <-time.After(30 * time.Second):
				_ = up.Process.Kill()
				<-upDone
			}
		}
	})
	out.await(t, "ready")
	l, err := testnet.LoadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type provenJSON struct {
	Height uint64 `json:"height"`
	Epoch  uint32 `json:"epoch"`
}

type blobStatusJSON struct {
	Status   string      `json:"status"`
	ProvenAt *provenJSON `json:"provenAt"`
}

type infoJSON struct {
	Network   string      `json:"network"`
	NetworkID string      `json:"networkId"`
	Height    uint64      `json:"height"`
	Epoch     uint32      `json:"epoch"`
	ProvenAt  *provenJSON `json:"provenAt"`
	Committee []struct {
		Shards int `json:"shards"`
	} `json:"committee"`
}

// TestE2ETwoNetworksOneName: two local testnets with the same network name. A blob stored
// on B; a client configured with A's genesis but pointed at B's nodes refuses every answer
// (one error line naming a node) instead of printing B's network ID or calling B's blob
// certified; with A's and B's nodes it answers from A's alone; and A's own client says at
// which height and epoch its facts are proven.
func TestE2ETwoNetworksOneName(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the walrus binary and runs two 4-process testnets")
	}
	tmp := t.TempDir()
	bin := buildWalrus(t, tmp)
	args := []string{"--nodes", "4", "--shards", "12", "--epoch-duration", "10m"}
	la := upProcess(t, bin, filepath.Join(tmp, "a"), args...)
	lb := upProcess(t, bin, filepath.Join(tmp, "b"), args...)
	if la.Genesis.Network != lb.Genesis.Network || la.Genesis.NetworkID() == lb.Genesis.NetworkID() {
		t.Fatalf("want one name, two genesis: %q %q", la.Genesis.Network, lb.Genesis.Network)
	}
	wa := &walrusCLI{t: t, bin: bin, config: la.ClientConfigFile}
	wb := &walrusCLI{t: t, bin: bin, config: lb.ClientConfigFile}

	f := filepath.Join(tmp, "only-on-b")
	if err := os.WriteFile(f, []byte("a blob stored on network B only"), 0o644); err != nil {
		t.Fatal(err)
	}
	z := jsonOf[storeJSON](t, wb.ok("store", f, "--epochs", "2", "--json")).BlobID
	if st := jsonOf[blobStatusJSON](t, wb.ok("blob-status", z, "--json")); st.Status != "certified" || st.ProvenAt == nil {
		t.Fatalf("on B: %+v", st)
	}

	// A's genesis, B's nodes.
	ca, err := client.LoadFileConfig(la.ClientConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := client.LoadFileConfig(lb.ClientConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if ca.GenesisID == "" {
		t.Fatal("testnet up wrote no genesis_id")
	}
	mixed := *ca
	mixed.Bootstrap = cb.Bootstrap
	mixed.TrustFile = ""
	mixedPath := filepath.Join(tmp, "a-genesis-b-nodes.yaml")
	writeYAML(t, mixedPath, &mixed)
	wm := &walrusCLI{t: t, bin: bin, config: mixedPath}
	wm.fails("refused its answer", "info", "--json")
	wm.fails("refused its answer", "blob-status", z, "--json")
	if r := wm.run("info", "--json"); strings.Contains(r.stdout, lb.Genesis.Network) || r.code == 0 {
		t.Fatalf("B's answer printed: %+v", r)
	}

	// A's genesis, B's nodes then A's: only A's answers count.
	both := *ca
	both.Bootstrap = append(append([]string(nil), cb.Bootstrap...), ca.Bootstrap...)
	bothPath := filepath.Join(tmp, "a-genesis-all-nodes.yaml")
	writeYAML(t, bothPath, &both)
	wab := &walrusCLI{t: t, bin: bin, config: bothPath}
	idA := la.Genesis.NetworkID()
	for _, w := range []*walrusCLI{wa, wab} {
		in := jsonOf[infoJSON](t, w.ok("info", "--json"))
		if in.NetworkID != hexOf(idA[:]) || in.ProvenAt == nil || in.ProvenAt.Height != in.Height || len(in.Committee) != 4 {
			t.Fatalf("info: %+v", in)
		}
		st := jsonOf[blobStatusJSON](t, w.ok("blob-status", z, "--json"))
		if st.Status != "nonexistent" || st.ProvenAt == nil || st.ProvenAt.Height == 0 {
			t.Fatalf("B's blob through A's genesis: %+v", st)
		}
	}
	// The trust cache beside A's configuration holds committees after genesis's (none yet
	// in epoch 0: the genesis is the trust).
	if in := jsonOf[infoJSON](t, wa.ok("info", "--json")); in.Epoch > 0 {
		if _, err := os.Stat(la.ClientConfigFile + ".trust"); err != nil {
			t.Errorf("no trust cache in epoch %d: %v", in.Epoch, err)
		}
	}

	// A pinned genesis that is not the file's: refused before any network use.
	pinned := *ca
	pinned.GenesisFile = cb.GenesisFile
	pinnedPath := filepath.Join(tmp, "pinned.yaml")
	writeYAML(t, pinnedPath, &pinned)
	(&walrusCLI{t: t, bin: bin, config: pinnedPath}).fails("pins", "info")
}

func writeYAML(t *testing.T, path string, c *client.FileConfig) {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
