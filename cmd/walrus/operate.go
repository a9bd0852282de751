package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/testnet"
)

// Operator commands: run one node, run a local testnet (docs/architecture.md §8).

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one kills the
// process the default way (signal.NotifyContext's stop restores the handlers).
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// runNode is `walrus node --config FILE`: it runs one storage node until SIGINT or SIGTERM,
// then shuts it down cleanly (docs/architecture.md §8: a clean shutdown that loses nothing).
func runNode(g *globals, args []string) error {
	fs := newFlagSet("node")
	cfgPath := fs.String("config", g.config, "the node's configuration `file` (config.yaml)")
	jo := joinFlags(fs) // join.go: --dir, --genesis, --bootstrap, --listen, --api-addr
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	if jo.dir != "" {
		if flagSet(fs, "config") {
			return errors.New("give --config FILE or --dir DIR, not both")
		}
		p, err := prepareNodeDir(g.stdout, jo)
		if err != nil {
			return err
		}
		*cfgPath = p
	} else if jo.genesis != "" || len(jo.bootstrap) > 0 || len(jo.listen) > 0 || jo.apiAddr != "" {
		return errors.New("--genesis, --bootstrap, --listen and --api-addr go with --dir DIR (the node directory to create or reuse)")
	}
	if *cfgPath == "" {
		return errors.New("no node configuration: pass --config FILE, or --dir DIR (with --genesis and --bootstrap to join a network)")
	}
	cfg, err := node.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	n, err := node.New(ctx, cfg)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return errors.Join(err, n.Close())
	}
	fmt.Fprintf(g.stdout, "node %s running (height %d); stop with SIGINT or SIGTERM\n", n.PeerID(), n.Height())
	<-ctx.Done()
	fmt.Fprintln(g.stdout, "stopping node")
	return n.Close()
}

// runTestnet is `walrus testnet up ...`: a local multi-process testnet (testnet.Up) run by
// this very binary until SIGINT or SIGTERM.
func runTestnet(g *globals, args []string) error {
	if len(args) == 0 || args[0] != "up" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs := testnetFlags(new(testnet.UpOptions))
			printCommandUsage(g.stdout, fs)
			return errHelp
		}
		return errors.New("want 'testnet up' (run 'walrus help testnet')")
	}
	var o testnet.UpOptions
	fs := testnetFlags(&o)
	pos, err := parseArgs(g, fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	if o.Dir == "" {
		return errors.New("--dir is required")
	}
	o.Out = g.stdout
	ctx, stop := signalContext()
	defer stop()
	return testnet.Up(ctx, o)
}

func testnetFlags(o *testnet.UpOptions) *flag.FlagSet {
	fs := newFlagSet("testnet")
	fs.StringVar(&o.Dir, "dir", "", "testnet `directory`: generated if empty, reused (nodes restart on their data) if it holds one")
	fs.IntVar(&o.Nodes, "nodes", 0, "number of nodes of a new testnet (default 4)")
	fs.IntVar(&o.Shards, "shards", 0, "number of shards of a new testnet (default 1000, Walrus Mainnet's)")
	fs.DurationVar(&o.EpochDuration, "epoch-duration", 0, "epoch length of a new testnet, e.g. 30s (default 1h)")
	fs.IntVar(&o.BasePort, "base-port", 0, "first TCP port of a new testnet (default: free ports)")
	fs.BoolVar(&o.NoFees, "no-fees", false, "a new testnet charges no transaction fees and no node deposit (default: testnet.DefaultFees)")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", 2*time.Minute, "how long to wait for the first committed checkpoint")
	return fs
}
