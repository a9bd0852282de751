#!/usr/bin/env bash
# Enforces DESIGN.md §2: the pure cores (codec, staking, epoch) import no libp2p, actors, p2p
# or node packages; actors and p2p do not import each other.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
check() { # pkgpattern forbidden-regex
  local bad
  bad=$(go list -deps "$1" 2>/dev/null | grep -E "$2" || true)
  if [ -n "$bad" ]; then echo "check-deps: $1 must not import:"; echo "$bad" | sed 's/^/  /'; fail=1; fi
}
for core in codec epoch staking; do
  [ -d "$core" ] || continue
  check "./$core/..." "^(github.com/libp2p/|$mod/(actors|p2p|node|testnet|cmd))"
done
[ -d actors ] && check "./actors/..." "^$mod/(p2p|node|testnet|cmd)(/|$)"
[ -d p2p ] && check "./p2p/..." "^$mod/(actors|node|testnet|cmd)(/|$)"
[ $fail -eq 0 ] && echo "check-deps: ok"
exit $fail
