package staking_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt scripts")

// TestScripts runs every testdata/*.txt script and compares its output with the checked-in
// testdata/*.golden (regenerate with `go test ./staking -run TestScripts -rewrite`). Every
// transaction goes through a real checkpoint; the harness checks after each one that FROST
// is conserved, that a transaction not admitted left the state root unchanged, and that an
// admitted one whose operation was refused only paid its fee and used its nonce.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := runScript(t, string(src))
			golden := strings.TrimSuffix(f, ".txt") + ".golden"
			if *rewrite {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -rewrite to accept):\n%s", golden, diff(string(want), got))
			}
		})
	}
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, a, b)
		}
	}
	return "(equal)"
}

type args map[string]string

func (a args) str(k string) string { return a[k] }

func (a args) u64(t testing.TB, k string, def uint64) uint64 {
	v, ok := a[k]
	if !ok {
		return def
	}
	x, err := strconv.ParseUint(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", k, v, err)
	}
	return x
}

func (a args) list(k string) []string {
	if a[k] == "" {
		return nil
	}
	return strings.Split(a[k], ",")
}

func runScript(t testing.TB, src string) (string, *tnet) {
	var out bytes.Buffer
	var n *tnet
	for lineNo, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			if strings.HasPrefix(line, "#") {
				fmt.Fprintln(&out, line)
			}
			continue
		}
		fields := strings.Fields(line)
		cmd, a := fields[0], args{}
		for _, f := range fields[1:] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("line %d: argument %q is not key=value", lineNo+1, f)
			}
			a[k] = v
		}
		fmt.Fprintf(&out, "> %s\n", line)
		if cmd != "genesis" && n == nil {
			t.Fatalf("line %d: %s before genesis", lineNo+1, cmd)
		}
		res := runCmd(t, n, cmd, a)
		if cmd == "genesis" {
			n = res.n
		}
		for _, l := range res.lines {
			fmt.Fprintf(&out, "  %s\n", l)
		}
	}
	return out.String(), n
}

type cmdResult struct {
	n     *tnet
	lines []string
}

func receipt(r staking.Receipt) cmdResult { return cmdResult{lines: []string{receiptLine(r)}} }

// receiptLine prints a receipt, with the fee it paid when there was one.
func receiptLine(r staking.Receipt) string {
	if r.Fee > 0 {
		return fmt.Sprintf("%v (fee %d)", r, r.Fee)
	}
	return r.String()
}

func runCmd(t testing.TB, n *tnet, cmd string, a args) cmdResult {
	who := a.str("who")
	// Every transaction command takes expiry=H (last height) and fee=F (offered fee).
	submit := func(op staking.Op) (staking.Receipt, uint64) {
		return n.submitTx(who, staking.Tx{Expiry: a.u64(t, "expiry", 0), Fee: a.u64(t, "fee", 0), Op: op})
	}
	switch cmd {
	case "genesis":
		// genesis shards=10 duration=1000 nodes=n1:100,n2:50 accounts=alice:1000 faucet=N
		//   storage-price=P write-price=W capacity=C
		n = newTnet(t, a.u64(t, "seed", 1))
		var names []string
		var stakes []uint64
		for _, p := range a.list("nodes") {
			nm, st, _ := strings.Cut(p, ":")
			v, _ := strconv.ParseUint(st, 10, 64)
			names = append(names, nm)
			stakes = append(stakes, v)
		}
		accs := map[string]uint64{}
		for _, p := range a.list("accounts") {
			nm, b, _ := strings.Cut(p, ":")
			v, _ := strconv.ParseUint(b, 10, 64)
			accs[nm] = v
		}
		n.genesis(int(a.u64(t, "shards", 10)), int64(a.u64(t, "duration", 1000)), names, stakes, accs, a.u64(t, "faucet", 0),
			staking.Prices{Storage: a.u64(t, "storage-price", 1), Write: a.u64(t, "write-price", 1), Capacity: a.u64(t, "capacity", 1<<40),
				Fees: scriptFees(t, a)})
		return cmdResult{n: n, lines: committeeLines(n)}
	case "transfer":
		r, _ := submit(&staking.Transfer{To: n.addr(a.str("to")), Amount: a.u64(t, "amount", 0)})
		return receipt(r)
	case "reserve":
		ep := n.s.Epoch()
		start := uint32(a.u64(t, "start", uint64(ep)))
		r, nonce := submit(&staking.ReserveStorage{Size: a.u64(t, "size", 0), Start: start, End: start + uint32(a.u64(t, "epochs", 1))})
		if r.OK() {
			n.name(staking.DeriveObjectID(n.addr(who), nonce, 0), a.str("as"))
		}
		return receipt(r)
	case "split-epoch":
		r, nonce := submit(&staking.SplitStorageEpoch{Storage: n.obj(a.str("storage")), At: uint32(a.u64(t, "at", 0))})
		if r.OK() {
			n.name(staking.DeriveObjectID(n.addr(who), nonce, 0), a.str("as"))
		}
		return receipt(r)
	case "split-size":
		r, nonce := submit(&staking.SplitStorageSize{Storage: n.obj(a.str("storage")), Take: a.u64(t, "take", 0)})
		if r.OK() {
			n.name(staking.DeriveObjectID(n.addr(who), nonce, 0), a.str("as"))
		}
		return receipt(r)
	case "register-blob":
		// register-blob who=alice storage=r1 data=x length=N [deletable=true] [bad-id=true] as=b1
		length := a.u64(t, "length", 1000)
		id, root := blobFromSeed(a.str("data"), length)
		if a.str("bad-id") == "true" {
			id[0] ^= 1
		}
		r, nonce := submit(&staking.RegisterBlob{Storage: n.obj(a.str("storage")), BlobID: id, Root: root,
			Length: length, Encoding: codec.EncodingTypeRS2, Deletable: a.str("deletable") == "true"})
		if r.OK() {
			n.name(staking.DeriveObjectID(n.addr(who), nonce, 0), a.str("as"))
			n.blobs[a.str("as")] = id
		}
		return receipt(r)
	case "certify":
		// certify who=bob blob=b1 signers=all|n1,n2 [epoch=E] [data=x]
		oid := n.obj(a.str("blob"))
		b, _ := n.s.Blob(oid)
		ep := uint32(a.u64(t, "epoch", uint64(n.s.Epoch())))
		msg := staking.ConfirmationMessage(n.s.Network(), ep, b.BlobID, b.Deletable, oid)
		cert := n.cert(n.s.Committee(), ep, msg, a.list("signers"))
		r, _ := submit(&staking.CertifyBlob{Blob: oid, BlobID: b.BlobID, Deletable: b.Deletable, Cert: cert})
		return receipt(r)
	case "invalidate":
		// invalidate who=bob blob=b1 signers=n1
		id := n.blobs[a.str("blob")]
		ep := n.s.Epoch()
		cert := n.cert(n.s.Committee(), ep, staking.InvalidBlobMessage(n.s.Network(), ep, id), a.list("signers"))
		r, _ := submit(&staking.InvalidateBlob{BlobID: id, Cert: cert})
		return receipt(r)
	case "delete":
		r, nonce := submit(&staking.DeleteBlob{Blob: n.obj(a.str("blob"))})
		if r.OK() {
			n.name(staking.DeriveObjectID(n.addr(who), nonce, 0), a.str("as"))
		}
		return receipt(r)
	case "extend":
		r, _ := submit(&staking.ExtendBlob{Blob: n.obj(a.str("blob")), End: uint32(a.u64(t, "end", 0))})
		return receipt(r)
	case "set-attr":
		r, _ := submit(&staking.SetAttribute{Blob: n.obj(a.str("blob")), Key: a.str("key"), Value: a.str("value")})
		return receipt(r)
	case "rm-attr":
		r, _ := submit(&staking.RemoveAttribute{Blob: n.obj(a.str("blob")), Key: a.str("key")})
		return receipt(r)
	case "register-node", "update-node":
		// register-node who=carol node=n5 commission=500 storage-price=2 write-price=1 capacity=N
		k := n.nodeKey(a.str("node"))
		info := staking.NodeInfo{PeerID: "peer-" + a.str("node"), Addrs: []string{"/dns/" + a.str("node") + "/tcp/1"},
			Commission: uint16(a.u64(t, "commission", 1000)), StoragePrice: a.u64(t, "storage-price", 1),
			WritePrice: a.u64(t, "write-price", 1), Capacity: a.u64(t, "capacity", 1<<40), Fees: scriptFees(t, a)}
		if cmd == "update-node" {
			r, _ := submit(&staking.UpdateNode{Node: n.nodeID(a.str("node")), Info: info})
			return receipt(r)
		}
		// The proof of possession binds the sender; pop-for=X makes one bound to account X
		// (a front-run copies a registration into another account's transaction).
		popFor := who
		if a.str("pop-for") != "" {
			popFor = a.str("pop-for")
		}
		pop := staking.ProvePossession(n.s.Network(), n.addr(popFor), k)
		if a.str("bad-pop") == "true" {
			pop = staking.ProvePossession(n.s.Network(), n.addr(popFor), n.nodeKey("other-"+a.str("node")))
		}
		r, _ := submit(&staking.RegisterNode{BLSKey: k.PublicKey(), PoP: pop, Info: info})
		return receipt(r)
	case "stake":
		r, nonce := submit(&staking.StakeOp{Node: n.nodeID(a.str("node")), Amount: a.u64(t, "amount", 0)})
		if r.OK() {
			id := staking.DeriveObjectID(n.addr(who), nonce, 0)
			n.name(id, a.str("as"))
			st, _ := n.s.Stake(id)
			return cmdResult{lines: []string{receiptLine(r), fmt.Sprintf("activation epoch %d", st.Activation)}}
		}
		return receipt(r)
	case "request-withdraw":
		r, _ := submit(&staking.RequestWithdraw{Stake: n.obj(a.str("stake"))})
		if r.OK() {
			st, _ := n.s.Stake(n.obj(a.str("stake")))
			return cmdResult{lines: []string{receiptLine(r), fmt.Sprintf("withdrawable from epoch %d", st.WithdrawAt)}}
		}
		return receipt(r)
	case "withdraw":
		r, _ := submit(&staking.Withdraw{Stake: n.obj(a.str("stake"))})
		return receipt(r)
	case "sync-done":
		// sync-done who=x node=n1 [epoch=E]
		ep := uint32(a.u64(t, "epoch", uint64(n.s.Epoch())))
		id := n.nodeID(a.str("node"))
		sig := n.nodeKey(a.str("node")).Sign(staking.SyncDoneMessage(n.s.Network(), ep, id))
		r, _ := submit(&staking.SyncDone{Node: id, Epoch: ep, Sig: sig})
		return cmdResult{lines: []string{receiptLine(r), fmt.Sprintf("epoch change complete: %v", n.s.SyncDone())}}
	case "challenge":
		// challenge who=x attester=n1 fail=n2 pass=n3
		var rs []staking.ChallengeResult
		for _, nm := range a.list("fail") {
			rs = append(rs, staking.ChallengeResult{Node: n.nodeID(nm)})
		}
		for _, nm := range a.list("pass") {
			rs = append(rs, staking.ChallengeResult{Node: n.nodeID(nm), Pass: true})
		}
		sort.Slice(rs, func(i, j int) bool { return string(rs[i].Node[:]) < string(rs[j].Node[:]) })
		ep := n.s.Epoch()
		att := n.nodeID(a.str("attester"))
		sig := n.nodeKey(a.str("attester")).Sign(staking.ChallengeMessage(n.s.Network(), ep, rs))
		r, _ := submit(&staking.ChallengeResults{Attester: att, Epoch: ep, Results: rs, Sig: sig})
		return receipt(r)
	case "expire":
		// expire blob=b1: advance epoch by epoch until the blob object's end epoch starts.
		b, ok := n.s.Blob(n.obj(a.str("blob")))
		if !ok {
			return cmdResult{lines: []string{"no blob object"}}
		}
		var lines []string
		for n.s.Epoch() < b.Storage.End {
			lines = append(lines, runCmd(t, n, "advance", args{"to": "end"}).lines...)
		}
		return cmdResult{lines: lines}
	case "advance", "advance-time":
		// advance to=mid|end|<ms offset within the epoch>
		cfg := n.s.Config()
		ep := n.s.Epoch()
		var now int64
		switch a.str("to") {
		case "mid":
			now = cfg.MidEpoch(ep)
		case "end":
			now = cfg.EpochStart(ep + 1)
		default:
			now = cfg.EpochStart(ep) + int64(a.u64(t, "to", 0))
		}
		if now <= n.s.Time() {
			now = n.s.Time() + 1
		}
		res := n.checkpoint(now, nil)
		var lines []string
		for _, ev := range res.Events {
			switch ev.Kind {
			case staking.EventCommitteeSelected:
				lines = append(lines, fmt.Sprintf("selected committee for epoch %d", ev.Epoch))
			case staking.EventEpochEnd:
				lines = append(lines, fmt.Sprintf("epoch %d ended: income %d burned %d distributed %d carried %d",
					ev.Epoch, ev.Income, ev.Burned, ev.Distributed, ev.Carried))
			}
		}
		return cmdResult{lines: append(lines, fmt.Sprintf("now epoch %d", n.s.Epoch()))}
	case "committee":
		return cmdResult{lines: committeeLines(n)}
	case "status":
		st := n.s.BlobStatus(n.blobs[a.str("blob")])
		return cmdResult{lines: []string{fmt.Sprintf("%s end=%d objects=%d deletable=%v", st.Kind, st.EndEpoch, st.Objects, st.Deletable)}}
	case "attrs":
		b, ok := n.s.Blob(n.obj(a.str("blob")))
		if !ok {
			return cmdResult{lines: []string{"no blob object"}}
		}
		var lines []string
		for _, at := range b.Attributes {
			lines = append(lines, at.Key+"="+at.Value)
		}
		return cmdResult{lines: append(lines, fmt.Sprintf("(%d attributes)", len(b.Attributes)))}
	case "storage":
		st, ok := n.s.Storage(n.obj(a.str("id")))
		if !ok {
			return cmdResult{lines: []string{"no storage"}}
		}
		return cmdResult{lines: []string{fmt.Sprintf("[%d,%d) size=%d", st.Start, st.End, st.Size)}}
	case "balances":
		var lines []string
		var names []string
		for nm := range n.accts {
			names = append(names, nm)
		}
		sort.Strings(names)
		for _, nm := range names {
			acc := n.s.Account(n.addr(nm))
			lines = append(lines, fmt.Sprintf("%s: %d (nonce %d)", nm, acc.Balance, acc.Nonce))
		}
		return cmdResult{lines: append(lines, fmt.Sprintf("burned: %d", n.s.Burned()))}
	case "stakes":
		var lines []string
		for _, id := range n.s.Stakes() {
			st, _ := n.s.Stake(id)
			name := n.objName[id]
			if name == "" {
				name = id.String()[:8]
			}
			w := ""
			if st.Withdrawing {
				w = fmt.Sprintf(" withdraw-at=%d", st.WithdrawAt)
			}
			lines = append(lines, fmt.Sprintf("%s: node=%s amount=%d activation=%d%s", name, n.nodeName(st.Node), st.Amount, st.Activation, w))
		}
		return cmdResult{lines: lines}
	case "node":
		nd, ok := n.s.Node(n.nodeID(a.str("node")))
		if !ok {
			return cmdResult{lines: []string{"no node"}}
		}
		line := fmt.Sprintf("commission=%d next=%d@%d storage-price=%d write-price=%d capacity=%d",
			nd.Commission, nd.NextCommission, nd.NextCommissionEpoch, nd.StoragePrice, nd.WritePrice, nd.Capacity)
		if nd.FeeVote != (staking.Fees{}) || nd.Deposit != 0 {
			line += fmt.Sprintf(" fee-vote=%+v deposit=%d", nd.FeeVote, nd.Deposit)
		}
		if nd.IdleSince != 0 {
			line += fmt.Sprintf(" idle-since=%d", nd.IdleSince)
		}
		return cmdResult{lines: []string{line}}
	case "supply":
		return cmdResult{lines: []string{fmt.Sprintf("supply %d burned %d (genesis %d)", n.s.TotalSupply(), n.s.Burned(), n.supply)}}
	case "entries":
		// entries [kinds=blobs,blob-ids,...]: the state's entry counts by kind (receipts,
		// params and committees left out unless named).
		counts := n.s.EntryKinds()
		kinds := a.list("kinds")
		if kinds == nil {
			kinds = []string{"accounts", "storage", "storage-expiry", "blobs", "blob-index", "blob-expiry", "blob-ids", "nodes", "stakes", "stake-index"}
		}
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
		}
		return cmdResult{lines: []string{strings.Join(parts, " ")}}
	}
	t.Fatalf("unknown command %q", cmd)
	return cmdResult{}
}

func committeeLines(n *tnet) []string {
	var lines []string
	print := func(label string, c *epoch.Committee) {
		var ms []string
		for _, m := range c.Members {
			ms = append(ms, fmt.Sprintf("%s[%s]", n.nodeName(m.Node), fmtShards(m.Shards)))
		}
		sort.Strings(ms)
		lines = append(lines, fmt.Sprintf("%s epoch %d: %s", label, c.Epoch, strings.Join(ms, " ")))
	}
	print("committee", n.s.Committee())
	if nc := n.s.NextCommittee(); nc != nil {
		print("next", nc)
	}
	p := n.s.Prices()
	lines = append(lines, fmt.Sprintf("prices: storage=%d write=%d capacity=%d", p.Storage, p.Write, p.Capacity))
	if p.Fees != (staking.Fees{}) {
		lines = append(lines, fmt.Sprintf("fees: base=%d per-byte=%d per-verify=%d deposit=%d", p.Fees.Base, p.Fees.PerByte, p.Fees.PerVerify, p.Fees.Deposit))
	}
	return lines
}

// scriptFees reads base-fee=, byte-fee=, verify-fee= and deposit= (genesis fees, or a
// node's vote).
func scriptFees(t testing.TB, a args) staking.Fees {
	return staking.Fees{Base: a.u64(t, "base-fee", 0), PerByte: a.u64(t, "byte-fee", 0),
		PerVerify: a.u64(t, "verify-fee", 0), Deposit: a.u64(t, "deposit", 0)}
}
