#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module for FUZZTIME each (default
# 30s). Targets are discovered with `go test -list '^Fuzz'`, so new ones are
# picked up without editing this script. Go can fuzz only one target per
# invocation, hence the loop.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
export CGO_ENABLED=0
cd "$(dirname "$0")/.."

n=0
for pkg in $("$GO" list ./...); do
	for target in $("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($FUZZTIME)"
		"$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
		n=$((n + 1))
	done
done
echo "fuzz: $n targets, $FUZZTIME each, no failures"
