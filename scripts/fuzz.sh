#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module for FUZZTIME each (default
# 30s), minimizing a failing input for at most FUZZMINTIME (default 3s).
# Targets are discovered with `go test -list '^Fuzz'`, so new ones are
# picked up without editing this script. Go can fuzz only one target per
# invocation, hence the loop. PKGS limits the packages (default ./...).
#
# A failing input is written by `go test` to the package's
# testdata/fuzz/<Target>/: commit it with the fix, and it runs as a
# regression test in every ordinary `go test`. All targets run even when
# one fails; the summary lists the time and result of each.
set -uo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZMINTIME=${FUZZMINTIME:-3s}
PKGS=${PKGS:-./...}
export CGO_ENABLED=0
cd "$(dirname "$0")/.."

summary=()
failed=0
n=0
for pkg in $("$GO" list $PKGS); do
	for target in $("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($FUZZTIME)"
		start=$(date +%s)
		if "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINTIME" "$pkg"; then
			result=ok
		else
			result=FAILED
			failed=$((failed + 1))
		fi
		summary+=("$(printf '%-6s %4ss  %s %s' "$result" "$(($(date +%s) - start))" "${pkg#github.com/smith-build/smith/}" "$target")")
		n=$((n + 1))
	done
done
echo
echo "fuzz summary ($FUZZTIME per target):"
printf '  %s\n' "${summary[@]}"
if [ "$failed" -gt 0 ]; then
	echo "fuzz: $failed of $n targets failed; the failing inputs are in testdata/fuzz/ of their packages"
	exit 1
fi
echo "fuzz: $n targets, $FUZZTIME each, no failures"
