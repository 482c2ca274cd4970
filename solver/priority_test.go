package solver

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/smith-build/smith/repo"
)

// Repository priority and cost, as dnf hands them to libsolv: a candidate
// from a repository of better (lower) priority wins whatever its version,
// and between identical packages the cheapest repository's is taken. Each
// case is checked against libsolv's testsolv too, with dnf's priority and
// cost as libsolv's priority and subpriority. want lists NEVRA@repo.
var priorityCases = []struct {
	name string
	repo string
	req  Request
	want string
}{
	{
		name: "priority beats version for a request",
		repo: `
bash 5.2-3 x86_64 os
bash 5.2-2 x86_64 pinned
  prio: 10`,
		req:  Request{Specs: []string{"bash"}},
		want: "bash-5.2-2.x86_64@pinned",
	},
	{
		name: "without priorities the newest version",
		repo: `
bash 5.2-3 x86_64 os
bash 5.2-2 x86_64 pinned`,
		req:  Request{Specs: []string{"bash"}},
		want: "bash-5.2-3.x86_64@os",
	},
	{
		name: "priority beats name order between providers",
		repo: `
A 1-1 x86_64 os
  req: cap
B 1-1 x86_64 os
  prv: cap
C 1-1 x86_64 extra
  prio: 50
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@os C-1-1.x86_64@extra",
	},
	{
		name: "priority beats arch",
		repo: `
A 1-1 x86_64 os
  req: cap
B 1-1 x86_64 os
  prv: cap
C 1-1 noarch extra
  prio: 50
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@os C-1-1.noarch@extra",
	},
	{
		name: "a versioned requirement only sees the versions it allows",
		repo: `
A 1-1 x86_64 os
  req: B >= 2
B 1-1 x86_64 pinned
  prio: 10
B 2-1 x86_64 os`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@os B-2-1.x86_64@os",
	},
	{
		name: "priority falls back when the preferred one cannot be installed",
		repo: `
A 1-1 x86_64 os
  req: B
B 1-1 x86_64 pinned
  prio: 10
  req: nothing
B 2-1 x86_64 os`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@os B-2-1.x86_64@os",
	},
	{
		name: "cost chooses between identical packages",
		repo: `
A 1-1 x86_64 a
  cost: 2000
A 1-1 x86_64 b
  cost: 500`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@b",
	},
	{
		name: "cost does not beat a newer version",
		repo: `
A 1-1 x86_64 a
  cost: 10
A 2-1 x86_64 b`,
		req:  Request{Specs: []string{"A"}},
		want: "A-2-1.x86_64@b",
	},
	{
		name: "equal cost: the first repository by name",
		repo: `
A 1-1 x86_64 b
A 1-1 x86_64 a`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@a",
	},
	{
		// libsolv's dislike_old_versions: B-1 has a build of its name in a
		// repository of better priority, which makes it "old", so C wins
		// the tie that name order would give to B.
		name: "a package shadowed by a better priority build is disliked",
		repo: `
A 1-1 x86_64 r1
  prio: 50
  req: cap
B 1-1 x86_64 r1
  prio: 50
  prv: cap
C 1-1 x86_64 r1
  prio: 50
  prv: cap
B 0.5-1 x86_64 r2
  prio: 10`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@r1 C-1-1.x86_64@r1",
	},
	{
		name: "recommendations prefer the better priority",
		repo: `
A 1-1 x86_64 os
  rec: cap
B 2-1 x86_64 os
  prv: cap
C 1-1 x86_64 extra
  prio: 50
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@os C-1-1.x86_64@extra",
	},
	{
		name: "priority of a dependency chosen among versions of one name",
		repo: `
A 1-1 x86_64 os
  req: lib
lib 3-1 x86_64 os
lib 2-1 x86_64 pinned
  prio: 98`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64@os lib-2-1.x86_64@pinned",
	},
}

func solutionRepos(sol *Solution, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var s []string
	for _, p := range sol.Packages {
		s = append(s, p.NEVRA()+"@"+p.Repo)
	}
	return strings.Join(s, " ")
}

func TestPriorityCost(t *testing.T) {
	for _, tc := range priorityCases {
		t.Run(tc.name, func(t *testing.T) {
			idx := parseRepo(t, tc.repo)
			req := tc.req
			req.Arch = "x86_64"
			sol, err := Solve(context.Background(), idx, req)
			got := solutionRepos(sol, err)
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			checkSolution(t, idx, sol)
			for seed := uint64(1); seed <= 8; seed++ {
				sol, err := Solve(context.Background(), idx.shuffled(seed), req)
				if r := solutionRepos(sol, err); r != got {
					t.Fatalf("shuffled (seed %d): %s\nunshuffled: %s", seed, r, got)
				}
			}
		})
	}
}

func TestPriorityCostLibsolv(t *testing.T) {
	for _, tc := range priorityCases {
		t.Run(tc.name, func(t *testing.T) {
			idx := parseRepo(t, tc.repo)
			req := tc.req
			req.Arch = "x86_64"
			got, ok := testsolvRepos(t, testsolvCase(t, idx.pkgs, idx.filelists, req))
			if !ok {
				t.Fatalf("libsolv finds it unsolvable, we expect %s", tc.want)
			}
			slices.Sort(got)
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("libsolv: %s\nwe:      %s", g, tc.want)
			}
		})
	}
}

// TestPriorityDefaults: a package from no repository (a local .rpm, 0)
// has dnf's default priority and cost, so it competes as an equal of
// repositories that set none.
func TestPriorityDefaults(t *testing.T) {
	local := &repo.Package{}
	if priority(local) != repo.DefaultPriority || cost(local) != repo.DefaultCost {
		t.Errorf("local package: priority %d cost %d", priority(local), cost(local))
	}
	p := &repo.Package{Priority: 5, Cost: 7}
	if priority(p) != 5 || cost(p) != 7 {
		t.Errorf("priority %d cost %d", priority(p), cost(p))
	}
}
