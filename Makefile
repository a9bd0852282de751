# walrus-go: every target a user or CI needs. `make test` is what .ci/run calls.
GO        ?= go
PKGS      := ./...
BIN       := bin/walrus
ORACLE    := codec/testdata/wasm
QUILT_ORACLE := codec/quilt/testdata/sdk
FUZZTIME  ?= 30s
TESTNET_DIR ?= .testnet

.PHONY: all build test test-long test-many-writers test-churn bench bench-e2e bench-big fuzz lint vet fmt check-deps testnet oracle clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/walrus

# The Walrus reference encoder (npm @mysten/walrus-wasm, pinned in the lock file) is the
# conformance oracle for the codec, and the Walrus TypeScript SDK (npm @mysten/walrus, its
# own lock file) the one for quilts. Installed once, offline afterwards.
oracle: $(ORACLE)/node_modules/.installed $(QUILT_ORACLE)/node_modules/.installed chromium
$(ORACLE)/node_modules/.installed: $(ORACLE)/package.json $(ORACLE)/package-lock.json
	cd $(ORACLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
$(QUILT_ORACLE)/node_modules/.installed: $(QUILT_ORACLE)/package.json $(QUILT_ORACLE)/package-lock.json
	cd $(QUILT_ORACLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
# The browser tests (node/gateway TestBrowser) drive Debian's headless chromium; it is
# installed here when missing (apt-get, as root), and a missing browser fails those tests
# rather than skipping them. WALRUS_CHROMIUM=/path/to/chromium points them at another one.
.PHONY: chromium
chromium:
	@if [ -n "$$WALRUS_CHROMIUM" ] && [ -x "$$WALRUS_CHROMIUM" ]; then exit 0; fi; \
	if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "chromium is missing and apt-get is not available: install Chromium and set WALRUS_CHROMIUM=/path/to/chromium (node/gateway's browser tests need it)" >&2; exit 1; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "chromium is missing: run 'sudo make chromium' (apt-get install chromium) or set WALRUS_CHROMIUM; node/gateway's browser tests need it" >&2; exit 1; fi; \
	echo "installing chromium (apt-get) for node/gateway's browser tests"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || \
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

# go vet, the dependency rules (check-deps), then the whole test suite, including the
# conformance run against the Walrus WASM encoder, fuzz seed corpora and a few hundred
# agreement-simulator seeds; then the codec again with -tags purego, so its portable Blake2b
# path (no AVX-512) passes the same conformance run.
test: oracle
	$(GO) vet $(PKGS)
	./scripts/check-deps.sh
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(GO) test -count=1 -tags purego ./codec/...

# 64 parallel `walrus store` processes on one wallet (make test runs 16).
test-many-writers:
	WALRUS_MANY_WRITERS=64 $(GO) test -count=1 -run TestManyStoreProcessesOneWallet ./testnet/

# Ten epoch changes under a store/read workload, a node leaving midway (~3 minutes).
test-churn:
	WALRUS_CHURN=1 $(GO) test -count=1 -timeout 15m -run TestEpochChurnWorkload -v ./testnet/

# Long runs: many thousand simulator seeds, bigger conformance sweeps.
test-long: oracle
	WALRUS_LONG=1 $(GO) test -count=1 -timeout 60m ./epoch/... ./staking/... ./codec/...

# Every package benchmark except the end-to-end one. Each reports its own baseline measured
# in the same run (klauspost+Blake2b floor and the WASM encoder for the codec, one raw libp2p
# stream for the data plane) so the README can quote ratios, not absolute numbers.
bench: oracle
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -timeout 60m $$($(GO) list ./... | grep -v '/testnet$$')

# End to end on a 4-node loopback testnet (1000 shards; WALRUS_BENCH_SHARDS=n overrides):
# one libp2p stream's throughput as the baseline, then a 64 MiB store (encode, register,
# upload, certify) and read, with MiB/s and the ratios to the targets. One store and read
# in a fresh process by default; E2E_RUNS=3 averages three, the later two in a warm process
# (see README, Performance: the two differ). Then self-healing (testnet/bench_heal_test.go):
# the bytes a node that missed a 64 MiB write receives to recover, read throughput with
# scrub and GC off, at defaults and forced busy (alternating rounds), and a wiped node
# recovering its quarter of 1 GiB of mixed blobs beside the time to store them
# (WALRUS_BENCH_HEAL_BYTES=256M for a shorter run). Then the ledger under a network flood
# (testnet/floodnet_test.go, issue 15): real transfers per second with p50/p99 and blob
# registrations + certifications per second, serial (one sender) and sustained (8 senders ×
# 8 pipelined transfers, 4 concurrent stores), quiet and with a flooder peer publishing over
# GossipSub (fresh keys, bad signatures, bogus BLS, future nonces, huge messages, replays; a new identity
# every WALRUS_FLOODNET_ROTATE, 3 s), WALRUS_FLOODNET_SECONDS (30) each. Each logs its
# runs, cold or warm, and the CPU the host stole.
E2E_RUNS ?= 1
bench-e2e: build
	$(GO) test -run '^$$' -bench 'E2E' -benchtime $(E2E_RUNS)x -benchmem -timeout 60m ./testnet/

# Issue 17: `walrus store` of a 1 GiB file on a 4-process loopback testnet (1000 shards): the
# split encode / register / upload / certify, client peak RSS (anonymous and file-backed) and
# node peak RSS, CPU-seconds of the client, the nodes and the whole machine, and issue 4's
# bound measured in the same run; then `walrus read` of it, and in the last run a read with
# the holder of a systematic sliver killed (a decode). ~4 min per run at 1 GiB; BIG_RUNS=3
# for a cold and two warm runs; BIG_SIZE=4GiB BIG_BUDGET=2GiB for the 4 GiB store (about
# 35 GB of disk); an empty BIG_BUDGET is the CLI's default.
BIG_RUNS ?= 1
BIG_SIZE ?= 1GiB
BIG_BUDGET ?=
bench-big: build
	WALRUS_BIG_SIZE=$(BIG_SIZE) WALRUS_BIG_BUDGET=$(BIG_BUDGET) $(GO) test -run '^$$' -bench 'BigStore' -benchtime $(BIG_RUNS)x -timeout 90m -v ./testnet/

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

lint: vet check-deps
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

# The dependency rules of docs/architecture.md §2: pure cores import no networking, actors or
# node code; the light client (node/client) never reaches the storage engine, the node's
# stores, the actors or the consensus engine; each protocol has one home under p2p/protocol/.
check-deps:
	./scripts/check-deps.sh

testnet: build
	$(BIN) testnet up --dir $(TESTNET_DIR)

clean:
	rm -rf bin $(TESTNET_DIR)
