// Command walrus is the walrus-go binary: one executable for users and operators.
//
// Usage:
//
//	walrus [--config FILE] COMMAND [command flags] [args]
//
// Every command is an entry in the commands table below with a one-line summary, its own
// flag set (stdlib flag) and, where it prints results, a --json flag: blob-id, store, read,
// blob-status, info, health, balance, transfer, address, node and testnet (docs/architecture.md §2, §8); the
// gateway joins the table when node/gateway lands.
//
// Every command that sends transactions takes --dry-run: it prints what the command would
// cost (fees plus the amount it moves) and the balance after, and sends nothing (fees.go).
//
// Errors are one line on stderr and exit status 1; help goes to stdout with status 0.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// command is one subcommand: its name, a one-line summary for `walrus help`, a usage line
// for its own -h, and the function that runs it.
type command struct {
	name    string
	summary string
	usage   string // arguments after the command name, e.g. "[--json] FILE"
	run     func(g *globals, args []string) error
}

// globals carries what every command may need: the global flags and the output streams
// (tests run commands against buffers, main against the process's streams).
type globals struct {
	config string // --config: path to the client/node configuration file
	// timeout (--timeout) bounds a whole network command; 0: no bound. Unset (negative),
	// it is defaultTimeout, or none for the commands that move whole blobs (longCommands),
	// whose every exchange is bounded on its own and which show their progress.
	timeout time.Duration
	stdout  io.Writer
	stderr  io.Writer
}

// errHelp means a command printed its help on request: exit status 0, nothing more to say.
var errHelp = errors.New("help requested")

// commands lists every subcommand in the order `walrus help` shows them. It is filled in
// init because `help` refers back to the table.
var commands []command

func init() {
	commands = []command{
		{name: "blob-id", summary: "print the Walrus blob ID of a file (no network needed)",
			usage: "[--n-shards N] [--json] FILE", run: runBlobID},
		{name: "store", summary: "store files on the network and print their blob IDs and cost; --dry-run: only the cost (needs --config)",
			usage: "[--epochs E] [--deletable] [--parallel N] [--dry-run] [--json] FILE...", run: runStore},
		{name: "read", summary: "read a blob, verified, to stdout or a file (needs --config)",
			usage: "[--out FILE] BLOB_ID", run: runRead},
		{name: "store-quilt", summary: "store many files as one quilt and print its quilt ID and patch IDs (needs --config)",
			usage: "(--paths PATH... | --blobs JSON...) [--epochs E] [--deletable] [--dry-run] [--json]", run: runStoreQuilt},
		{name: "read-quilt", summary: "read patches of a quilt, fetching only their slivers, into a directory (needs --config)",
			usage: "--out DIR (--quilt-id ID [--identifiers ID... | --tag KEY VALUE] | --quilt-patch-ids ID...) [--json]", run: runReadQuilt},
		{name: "site", summary: "publish a directory as a site: one quilt, served by an aggregator under /v1/sites/QUILT_ID/ (needs --config)",
			usage: "publish DIR [--epochs E] [--deletable] [--aggregator URL] [--dry-run] [--json]", run: runSite},
		{name: "list-patches-in-quilt", summary: "list a quilt's patches: identifier, quilt patch ID, tags (needs --config)",
			usage: "[--json] QUILT_ID", run: runListPatches},
		{name: "list-blobs", summary: "list the wallet's blobs: status, size, end epoch, expiry, deletable, object ID",
			usage: "[--include-expired] [--json]", run: runListBlobs},
		{name: "delete", summary: "delete the wallet's deletable blob (its storage comes back); permanent blobs refuse",
			usage: "(--blob-id ID | --file FILE | --object-id ID) [--yes] [--dry-run] [--json]", run: runDelete},
		{name: "extend", summary: "extend the end epoch of the wallet's blob by E epochs, paying for them",
			usage: "(--blob-id ID | --blob-obj-id ID) --epochs E [--dry-run] [--json]", run: runExtend},
		{name: "blob-status", summary: "print a blob's status: nonexistent, registered, certified, invalid or expired",
			usage: "[--json] BLOB_ID", run: runBlobStatus},
		{name: "info", summary: "print the network: epoch, shards, committee, prices, transaction fees, max blob size; 'info committee': every registered node",
			usage: "[committee] [--json]", run: runInfoCmd},
		{name: "health", summary: "ask every committee node for its status; fails naming any node that does not answer",
			usage: "[--json]", run: runHealth},
		{name: "balance", summary: "print the wallet's balance",
			usage: "[--json]", run: runBalance},
		{name: "transfer", summary: "send WAL to an address (AMOUNT in WAL like 1.5, or FROST like 1500frost)",
			usage: "[--dry-run] [--json] ADDRESS AMOUNT", run: runTransfer},
		{name: "address", summary: "print the wallet's account address",
			usage: "", run: runAddress},
		{name: "stake", summary: "stake WAL with a storage node (needs --config)",
			usage: "--node-id ID --amount AMOUNT [--dry-run] [--json]", run: runStake},
		{name: "request-withdraw-stake", summary: "ask to withdraw a stake; it stops counting for committees not selected yet",
			usage: "--stake-id ID [--dry-run] [--json]", run: runRequestWithdrawStake},
		{name: "withdraw-stake", summary: "return a withdrawable stake, with its rewards, to the wallet",
			usage: "--stake-id ID [--dry-run] [--json]", run: runWithdrawStake},
		{name: "list-staked-wal", summary: "list the wallet's stakes: node, amount, state, when withdrawable",
			usage: "[--json]", run: runListStakedWAL},
		{name: "register-node", summary: "register a storage node (keys, peer ID and addresses from its config) as a committee candidate",
			usage: "--node-config FILE [--commission BPS] [--storage-price-vote A] [--write-price-vote A] [--capacity-vote BYTES] [--address MULTIADDR] [--dry-run] [--json]", run: runRegisterNode},
		{name: "node-admin", summary: "operator: set commission, price and capacity votes, update addresses of a registered node",
			usage: "SUBCOMMAND (--node-id ID | --node-config FILE) [--dry-run] [flags]", run: runNodeAdmin},
		{name: "publisher", summary: "serve Walrus's HTTP publisher API (PUT /v1/blobs) until SIGINT or SIGTERM (needs --config)",
			usage: "[--bind-address ADDR] [--max-body-size KIB] [--jwt-decode-secret S] [flags]", run: runPublisher},
		{name: "aggregator", summary: "serve Walrus's HTTP aggregator API (GET /v1/blobs/{id}, ranges) until SIGINT or SIGTERM (needs --config)",
			usage: "[--bind-address ADDR] [flags]", run: runAggregator},
		{name: "daemon", summary: "serve both the publisher and the aggregator HTTP API until SIGINT or SIGTERM (needs --config)",
			usage: "[--bind-address ADDR] [flags]", run: runDaemon},
		{name: "node", summary: "run one storage node until SIGINT or SIGTERM; with --dir, create the node directory first to join a network",
			usage: "--config FILE | --dir DIR [--genesis FILE --bootstrap MULTIADDR ...] [--listen MULTIADDR ...] [--api-addr HOST:PORT]", run: runNode},
		{name: "testnet", summary: "run a local multi-process testnet until interrupted",
			usage: "up --dir DIR [--nodes N] [--shards S] [--epoch-duration D] [--no-fees]", run: runTestnet},
		{name: "help", summary: "list commands, or show one command's flags",
			usage: "[COMMAND]", run: runHelp},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// globalFlags is the flag set that precedes the command name; it binds into g.
func globalFlags(g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet("walrus", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by run as one line
	fs.StringVar(&g.config, "config", os.Getenv("WALRUS_CONFIG"),
		"configuration `file` for commands that talk to a network (default $WALRUS_CONFIG)")
	g.timeout = -1
	fs.Func("timeout", "bound on a whole network command (a `duration` such as 30m; 0: none); default 10m, none for store, read, store-quilt, read-quilt and site, whose progress shows",
		func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("--timeout %q: want a duration such as 30m, or 0 for none", v)
			}
			g.timeout = d
			return nil
		})
	return fs
}

// defaultTimeout bounds a network command that does not move whole blobs.
const defaultTimeout = 10 * time.Minute

// longCommands move whole blobs, for as long as their size takes: no overall bound unless
// --timeout gives one (every exchange with a node has its own deadline; Ctrl-C stops them,
// and an interrupted store resumes).
var longCommands = map[string]bool{"store": true, "read": true, "store-quilt": true, "read-quilt": true, "site": true}

// run parses the global flags, dispatches to a command and maps the outcome to an exit
// status: 0 success or help, 1 any error (reported as one line on stderr).
func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	fs := globalFlags(g)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		return fail(stderr, "walrus", err)
	}
	if fs.NArg() == 0 {
		return fail(stderr, "walrus", errors.New("no command given (run 'walrus help')"))
	}
	name := fs.Arg(0)
	cmd := lookup(name)
	if cmd == nil {
		return fail(stderr, "walrus", fmt.Errorf("unknown command %q (run 'walrus help')", name))
	}
	defer profileOnSignal(name)() // only with $WALRUS_CPU_PROFILE_DIR (cpuprofile.go)
	if g.timeout < 0 {
		g.timeout = defaultTimeout
		if longCommands[name] {
			g.timeout = 0
		}
	}
	if err := cmd.run(g, fs.Args()[1:]); err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		return fail(stderr, "walrus "+name, err)
	}
	return 0
}

// fail prints err as one line (newlines folded) prefixed by who failed, and returns 1.
func fail(stderr io.Writer, who string, err error) int {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(stderr, "%s: %s\n", who, msg)
	return 1
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// printUsage lists the global flags and every command with its one-line summary.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "walrus: a Walrus-compatible decentralized blob store (walrus-go)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: walrus [--config FILE] COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global flags:")
	fs := globalFlags(&globals{})
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'walrus help COMMAND' or 'walrus COMMAND -h' for a command's flags.")
}

// runHelp is `walrus help [COMMAND]`: the command list, or one command's usage and flags.
func runHelp(g *globals, args []string) error {
	switch len(args) {
	case 0:
		printUsage(g.stdout)
		return nil
	case 1:
		cmd := lookup(args[0])
		if cmd == nil {
			return fmt.Errorf("unknown command %q", args[0])
		}
		if cmd.name == "help" {
			printUsage(g.stdout)
			return nil
		}
		// Every command answers -h by printing its usage and flags and returning errHelp.
		return cmd.run(g, []string{"-h"})
	default:
		return errors.New("want at most one COMMAND")
	}
}

// newFlagSet makes a command's flag set. Parse errors come back to run, which prints them
// as one line; flag's own usage printing is silenced because flag also calls it on errors.
// -h is handled by parseArgs.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printCommandUsage prints a command's usage line, summary and flags (its -h).
func printCommandUsage(w io.Writer, fs *flag.FlagSet) {
	c := lookup(fs.Name())
	fmt.Fprintf(w, "Usage: walrus %s %s\n\n%s.\n\nFlags:\n", c.name, c.usage, c.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseNoArgs is parseArgs for a command that takes flags only.
func parseNoArgs(g *globals, fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(g, fs, args)
	if err == nil && len(pos) != 0 {
		err = fmt.Errorf("unexpected arguments %q", pos)
	}
	return err
}

// parseArgs parses flags that may appear before or after positional arguments
// (`walrus blob-id FILE --json` works like `walrus blob-id --json FILE`); "--" ends flags.
// It returns the positional arguments, or errHelp after printing usage to g.stdout for -h.
func parseArgs(g *globals, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandUsage(g.stdout, fs)
				return nil, errHelp
			}
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at the first non-flag, or consumes a "--" just before returning.
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
