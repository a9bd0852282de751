#!/usr/bin/env bash
# Enforces the dependency rules of docs/architecture.md §2:
# - the pure cores (codec, staking, epoch) import no libp2p, actors, p2p or node packages;
# - actors and p2p do not import each other;
# - the light client (node/client), and everything it imports, never reaches the storage
#   engine, the node's stores, the actors or the consensus engine;
# - each protocol package (p2p/protocol/<name>) imports only p2p, internal/ and the pure
#   cores, and no protocol ID is declared outside its package.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
check() { # pkgpattern forbidden-regex
  local deps bad
  # A package that does not build must fail the check, not pass it with nothing listed.
  deps=$(go list -deps "$1") || { echo "check-deps: go list $1 failed"; exit 1; }
  bad=$(echo "$deps" | grep -E "$2" || true)
  if [ -n "$bad" ]; then echo "check-deps: $1 must not import:"; echo "$bad" | sed 's/^/  /'; fail=1; fi
}
for core in codec epoch staking; do
  [ -d "$core" ] || continue
  check "./$core/..." "^(github.com/libp2p/|$mod/(actors|p2p|node|testnet|cmd))"
done
[ -d actors ] && check "./actors/..." "^$mod/(p2p|node|testnet|cmd)(/|$)"
[ -d p2p ] && check "./p2p/..." "^$mod/(actors|node|testnet|cmd)(/|$)"
# The light client: pure cores, protocol packages, p2p and internal/ only.
check "./node/client/..." "^(github.com/cockroachdb/pebble|github.com/ipfs/go-ds-|$mod/(node/(store|blobstore|dataplane|ledger|consensus)|actors|epoch/tendermint|testnet|cmd)(/|$))"
# The HTTP gateway embeds the light client, not a storage node: the same rule.
check "./node/gateway/..." "^(github.com/cockroachdb/pebble|github.com/ipfs/go-ds-|$mod/(node/(store|blobstore|dataplane|ledger|consensus)|actors|epoch/tendermint|testnet|cmd)(/|$))"
# Protocol packages: one home each, imported by client and server alike.
protos=$(go list ./p2p/protocol/...) || { echo "check-deps: go list ./p2p/protocol/... failed"; exit 1; }
for pkg in $protos; do
  imports=$(go list -f '{{join .Imports "\n"}}' "$pkg") || exit 1
  bad=$(echo "$imports" | grep "^$mod/" |
    grep -vE "^$mod/(p2p|internal/[a-z0-9]+|codec|epoch|epoch/bls|staking)$" || true)
  if [ -n "$bad" ]; then echo "check-deps: $pkg may import only p2p, internal/ and the pure cores, not:"; echo "$bad" | sed 's/^/  /'; fail=1; fi
done
ids=$(grep -rnE --include='*.go' --exclude='*_test.go' '"/walrus/[a-z0-9-]+/[0-9]+"' . | grep -v '^\./p2p/protocol/' || true)
if [ -n "$ids" ]; then echo "check-deps: protocol IDs declared outside p2p/protocol/<name>:"; echo "$ids" | sed 's/^/  /'; fail=1; fi
[ $fail -eq 0 ] && echo "check-deps: ok"
exit $fail
