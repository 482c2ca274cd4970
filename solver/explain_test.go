package solver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func chainText(chain []Step) string {
	var lines []string
	for _, st := range chain {
		lines = append(lines, st.String())
	}
	return strings.Join(lines, "\n")
}

// TestProblemChains: a problem names the rule that explains it best and the
// chains of requirements that lead from the request to its packages.
func TestProblemChains(t *testing.T) {
	for _, tc := range []struct {
		name, repo string
		specs      []string
		problem    string
		chain      string
		other      string
	}{
		{
			name: "nothing provides, three requirements down",
			repo: `
top 1-1 x86_64
  req: mid
mid 1-1 x86_64
  req: libbar.so.1()(64bit)
bar 1-1 x86_64
  prv: libbar.so.1()(64bit)
  req: libfoo.so.1()(64bit)`,
			specs:   []string{"top"},
			problem: "nothing provides libfoo.so.1()(64bit) needed by bar-1-1.x86_64 (from repo test)",
			chain: `"top" selects top-1-1.x86_64
top-1-1.x86_64 requires mid, provided by mid-1-1.x86_64
mid-1-1.x86_64 requires libbar.so.1()(64bit), provided by bar-1-1.x86_64`,
		},
		{
			name: "conflict between two dependencies",
			repo: `
A 1-1 x86_64
  req: B
B 1-1 x86_64
  con: D
C 1-1 x86_64
  req: D
D 1-1 x86_64`,
			specs:   []string{"A", "C"},
			problem: "B-1-1.x86_64 conflicts with D-1-1.x86_64",
			chain: `"A" selects A-1-1.x86_64
A-1-1.x86_64 requires B, provided by B-1-1.x86_64`,
			other: `"C" selects C-1-1.x86_64
C-1-1.x86_64 requires D, provided by D-1-1.x86_64`,
		},
		{
			name: "a requirement reached two ways",
			repo: `
A 1-1 x86_64
  req: B
  req: C
B 1-1 x86_64
  req: libx
C 1-1 x86_64
  req: E
E 1-1 x86_64
  req: B`,
			specs:   []string{"A"},
			problem: "nothing provides libx needed by B-1-1.x86_64 (from repo test)",
			chain: `"A" selects A-1-1.x86_64
A-1-1.x86_64 requires B, provided by B-1-1.x86_64`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Solve(context.Background(), parseRepo(t, tc.repo), Request{Specs: tc.specs, Arch: "x86_64"})
			var u *Unsolvable
			if !errors.As(err, &u) || len(u.Problems) != 1 {
				t.Fatalf("err = %v", err)
			}
			p := u.Problems[0]
			if p.String() != tc.problem {
				t.Errorf("problem %q, want %q", p, tc.problem)
			}
			if got := chainText(p.Chain); got != tc.chain {
				t.Errorf("chain:\n%s\nwant:\n%s", got, tc.chain)
			}
			if got := chainText(p.OtherChain); got != tc.other {
				t.Errorf("other chain:\n%s\nwant:\n%s", got, tc.other)
			}
		})
	}
}

// TestSolutionChain: Solution.Chain follows the reasons from the request.
func TestSolutionChain(t *testing.T) {
	idx := testbed(t)
	sol := solveSpecs(t, idx, Request{Specs: []string{"coreutils"}})
	byName := func(n string) []Step {
		for _, p := range sol.Packages {
			if p.Name == n {
				return sol.Chain(p)
			}
		}
		t.Fatalf("%s not in the solution", n)
		return nil
	}
	if got, want := chainText(byName("coreutils")), `"coreutils" selects coreutils-9.1-12.el9.x86_64`; got != want {
		t.Errorf("coreutils: %s", got)
	}
	want := `"coreutils" selects coreutils-9.1-12.el9.x86_64
coreutils-9.1-12.el9.x86_64 requires coreutils-common = 9.1-12.el9, provided by coreutils-common-9.1-12.el9.x86_64`
	if got := chainText(byName("coreutils-common")); got != want {
		t.Errorf("coreutils-common:\n%s\nwant:\n%s", got, want)
	}
	if got := chainText(byName("bash-completion")); got != "bash-completion-1:2.11-5.el9.noarch supplements (bash and coreutils), which the other packages satisfy" {
		t.Errorf("bash-completion: %s", got)
	}
	// Every chain starts at a request or a supplement and is connected.
	for _, p := range sol.Packages {
		c := sol.Chain(p)
		if len(c) == 0 || c[len(c)-1].Package != p {
			t.Fatalf("%s: chain %v", p.NEVRA(), c)
		}
		for k := 1; k < len(c); k++ {
			if c[k].By != c[k-1].Package {
				t.Errorf("%s: broken chain\n%s", p.NEVRA(), chainText(c))
			}
		}
	}
	if sol.Chain(idx.Packages()[0]) != nil && !containsPkg(sol, idx.Packages()[0].NEVRA()) {
		t.Error("a chain for a package outside the solution")
	}
}

func containsPkg(sol *Solution, nevra string) bool {
	for _, p := range sol.Packages {
		if p.NEVRA() == nevra {
			return true
		}
	}
	return false
}

// TestPoolReuse: a Pool answers every request exactly as a fresh Solve
// does, whatever came before, also from several goroutines.
func TestPoolReuse(t *testing.T) {
	idx := testbed(t)
	reqs := []Request{
		{Specs: []string{"coreutils"}},
		{Specs: []string{"nginx"}, NoWeak: true},
		{Specs: []string{"coreutils", "coreutils-single"}},
		{Specs: []string{"glibc.i686"}},
		{Specs: []string{"/usr/bin/cat"}},
		{Specs: []string{"coreutils"}, Exclude: []string{"bash-completion"}},
		{Specs: []string{"webapp-demo"}},
		{Specs: []string{"nosuch"}},
		{Specs: []string{"coreutils"}},
	}
	want := make([]string, len(reqs))
	for i := range reqs {
		reqs[i].Arch = "x86_64"
		sol, err := Solve(context.Background(), idx, reqs[i])
		want[i] = result(sol, err)
	}
	pool := NewPool(idx)
	for round := range 3 {
		for i, req := range reqs {
			sol, err := pool.Solve(context.Background(), req)
			if got := result(sol, err); got != want[i] {
				t.Errorf("round %d, %q: pool gives\n%s\nfresh:\n%s", round, req.Specs, got, want[i])
			}
		}
	}
	done := make(chan string, 4*len(reqs))
	for g := range 4 {
		go func() {
			for k := range reqs {
				i := (k + g) % len(reqs)
				sol, err := pool.Solve(context.Background(), reqs[i])
				if got := result(sol, err); got != want[i] {
					done <- fmt.Sprintf("concurrent %q: %s", reqs[i].Specs, got)
					continue
				}
				done <- ""
			}
		}()
	}
	for range 4 * len(reqs) {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
