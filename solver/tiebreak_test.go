package solver

import (
	"context"
	"strings"
	"testing"
)

// One case per rule of libsolv's policy_filter_unwanted, in its order, each
// set up so that only that rule decides between two providers of "cap"
// (the rule before it leaves both, the rules after it would pick the other
// one). Priority and cost have their own table (priority_test.go). Every
// case is checked against libsolv's testsolv as well.
var tieBreakCases = []struct {
	rule string
	repo string
	req  Request
	want string
}{
	{
		rule: "prune_to_best_arch: the best arch beats name order",
		repo: `
A 1-1 i686
  req: cap
B 1-1 i586
  prv: cap
C 1-1 i686
  prv: cap`,
		req:  Request{Specs: []string{"A"}, Arch: "i686"},
		want: "A-1-1.i686 C-1-1.i686",
	},
	{
		rule: "prune_to_best_arch: noarch competes with the best arch",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
B 2-1 noarch
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-2-1.noarch",
	},
	{
		rule: "prune_to_best_version: the highest EVR of a name",
		repo: `
A 1-1 x86_64
  req: cap
Z 1-1 x86_64
  prv: cap
Z 1:0.1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 Z-1:0.1-1.x86_64",
	},
	{
		rule: "prune_obsoleted: an obsoleted candidate goes",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
C 1-1 x86_64
  prv: cap
  obs: B`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		rule: "prune_obsoleted: mutual obsoletes keep both, name order decides",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
  obs: C
C 1-1 x86_64
  prv: cap
  obs: B`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-1-1.x86_64",
	},
	{
		// Auto-minimization would revisit the choice too: this pins the
		// outcome, which either rule gives.
		rule: "prune_to_recommended: a recommended candidate",
		repo: `
A 1-1 x86_64
  req: cap
  rec: C
B 1-1 x86_64
  prv: cap
C 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A"}, NoWeak: true},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		rule: "prune_to_recommended: a supplementing candidate",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
C 1-1 x86_64
  prv: cap
  sup: A`,
		req:  Request{Specs: []string{"A"}, NoWeak: true},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		rule: "dislike_old_versions: a candidate with a newer build of its name goes back",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
B 2-1 x86_64
C 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		rule: "sort_by_common_dep: the higher version of a common provide",
		repo: `
A 1-1 x86_64
  req: java
openjdk11 11-1 x86_64
  prv: java = 1:11
openjdk17 17-1 x86_64
  prv: java = 1:17`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 openjdk17-17-1.x86_64",
	},
	{
		rule: "prefer_suggested: a suggested candidate",
		repo: `
A 1-1 x86_64
  req: cap
  sug: C
B 1-1 x86_64
  prv: cap
C 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		rule: "prefer_suggested: a candidate enhancing an installed package",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
C 1-1 x86_64
  prv: cap
  enh: A`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		rule: "last: name order",
		repo: `
A 1-1 x86_64
  req: cap
C 1-1 x86_64
  prv: cap
B 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-1-1.x86_64",
	},
	{
		rule: "before any policy: a provider already installed",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
C 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A", "C"}},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		rule: "job candidates: the same policy picks among the versions a spec matches",
		repo: `
A 1-1 x86_64
A 2-1 i686
A 1.5-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1.5-1.noarch",
	},
}

func TestTieBreaks(t *testing.T) {
	for _, tc := range tieBreakCases {
		t.Run(tc.rule, func(t *testing.T) {
			idx := parseRepo(t, tc.repo)
			req := tc.req
			if req.Arch == "" {
				req.Arch = "x86_64"
			}
			sol, err := Solve(context.Background(), idx, req)
			got := result(sol, err)
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			checkSolution(t, idx, sol)
			for seed := uint64(1); seed <= 8; seed++ {
				sol, err := Solve(context.Background(), idx.shuffled(seed), req)
				if r := result(sol, err); r != got {
					t.Fatalf("shuffled (seed %d): %s", seed, r)
				}
			}
		})
	}
}

func TestTieBreaksLibsolv(t *testing.T) {
	for _, tc := range tieBreakCases {
		t.Run(tc.rule, func(t *testing.T) {
			idx := parseRepo(t, tc.repo)
			req := tc.req
			if req.Arch == "" {
				req.Arch = "x86_64"
			}
			got, ok := testsolv(t, testsolvCase(t, idx.pkgs, idx.filelists, req))
			if !ok {
				t.Fatalf("libsolv finds it unsolvable")
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("libsolv: %s\nwe want: %s", g, tc.want)
			}
		})
	}
}
