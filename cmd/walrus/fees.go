package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
)

// Fees in the CLI (docs/protocol.md §11 "Fees and deposits"): `info` shows the schedule,
// and every command that sends transactions takes --dry-run, which prints what the command
// would cost — its transactions' fees plus what it moves (amount, stake, storage, deposit)
// — and the balance after, and sends nothing. The arithmetic is node/client's (TxFee,
// PlanCost), the ledger's own formula.

// dryRunUsage is the help of --dry-run on a transaction command.
const dryRunUsage = "only print what the command would cost (transaction fees, plus the amount it moves) and the balance after; send nothing"

// addDryRun adds --dry-run to a transaction command's flags.
func addDryRun(fs *flag.FlagSet) *bool { return fs.Bool("dry-run", false, dryRunUsage) }

// costJSON is a dry run's JSON object: {"dryRun":true,"command",...client.Cost}.
type costJSON struct {
	DryRun  bool   `json:"dryRun"`
	Command string `json:"command"`
	*client.Cost
}

// printDryRun prints what command (a line like "transfer of 1 WAL to …") would cost.
func printDryRun(g *globals, command, what string, c *client.Cost, asJSON bool) error {
	if asJSON {
		return printJSON(g.stdout, costJSON{DryRun: true, Command: command, Cost: c})
	}
	fmt.Fprintf(g.stdout, "Dry run: %s; nothing sent.\n", what)
	printCost(g.stdout, c)
	return nil
}

// printCost prints a cost's lines: fee, amount, total, balance before and after.
func printCost(w io.Writer, c *client.Cost) {
	tx := "transaction"
	if c.Transactions != 1 {
		tx += "s"
	}
	fmt.Fprintf(w, "Fee: %s (%d FROST, %d %s)\n", client.FormatWAL(c.Fee), c.Fee, c.Transactions, tx)
	if c.Amount > 0 {
		fmt.Fprintf(w, "Amount: %s (%d FROST)\n", client.FormatWAL(c.Amount), c.Amount)
	}
	fmt.Fprintf(w, "Total: %s (%d FROST)\n", client.FormatWAL(c.Total), c.Total)
	if c.Returned > 0 {
		fmt.Fprintf(w, "Returned to the wallet: %s\n", client.FormatWAL(c.Returned))
	}
	if c.Shortfall > 0 {
		fmt.Fprintf(w, "Balance: %s: %s short, the command would fail\n", client.FormatWAL(c.Balance), client.FormatWAL(c.Shortfall))
		return
	}
	fmt.Fprintf(w, "Balance: %s -> %s\n", client.FormatWAL(c.Balance), client.FormatWAL(c.BalanceAfter))
}

// frostWAL prints an amount as "0.000001 WAL (1000 FROST)".
func frostWAL(v uint64) string { return fmt.Sprintf("%s (%d FROST)", client.FormatWAL(v), v) }

// feesJSON is the fee schedule in `info --json`, with a transfer's fee as an example.
type feesJSON struct {
	Base        uint64 `json:"base"`      // FROST per transaction
	PerByte     uint64 `json:"perByte"`   // FROST per byte of the signed transaction
	PerVerify   uint64 `json:"perVerify"` // FROST per BLS check the transaction costs
	Deposit     uint64 `json:"deposit"`   // FROST held by register-node
	TransferFee uint64 `json:"transferFee"`
}

func feesOf(f staking.Fees) feesJSON {
	t, _ := client.TxFee(f, &staking.Transfer{})
	return feesJSON{Base: f.Base, PerByte: f.PerByte, PerVerify: f.PerVerify, Deposit: f.Deposit, TransferFee: t}
}

// printFees prints the fee schedule for `info`.
func printFees(w io.Writer, f staking.Fees) {
	if f == (staking.Fees{}) {
		fmt.Fprintln(w, "Transaction fees: none (the network charges no fees)")
		return
	}
	fj := feesOf(f)
	fmt.Fprintf(w, "Transaction fee: base %s + %s per byte + %s per BLS check (a transfer: %s)\nNode registration deposit: %s\n",
		frostWAL(f.Base), frostWAL(f.PerByte), frostWAL(f.PerVerify), frostWAL(fj.TransferFee), frostWAL(f.Deposit))
}
