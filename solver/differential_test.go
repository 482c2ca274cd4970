package solver

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/smith-build/smith/repo"
)

// differentialExceptions lists the requests of TestCS9Differential on
// which smith may differ from libsolv, one per line:
//
//	NAME weak|noweak: why libsolv's answer is not what dnf users get
//
// Lines starting with # are comments. Expected to stay empty.
const differentialExceptions = "testdata/cs9-differential-exceptions.txt"

func readExceptions(t *testing.T) map[string]string {
	f, err := os.Open(differentialExceptions)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, why, ok := strings.Cut(line, ":")
		f := strings.Fields(key)
		if !ok || len(f) != 2 || (f[1] != "weak" && f[1] != "noweak") || strings.TrimSpace(why) == "" {
			t.Fatalf("%s:%d: want \"NAME weak|noweak: explanation\": %q", differentialExceptions, n, line)
		}
		out[f[0]+" "+f[1]] = strings.TrimSpace(why)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// differentialNames draws n package names (all arches) of CentOS Stream 9
// BaseOS + AppStream with a fixed seed.
func differentialNames(idx Index, n int) []string {
	var names []string
	for _, p := range idx.Packages() {
		names = append(names, p.Name)
	}
	names = sortUnique(names)
	rand.New(rand.NewPCG(20250207, 3)).Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	return slices.Sorted(slices.Values(names[:min(n, len(names))]))
}

// TestCS9Differential installs 300 package names drawn with a fixed seed
// from CentOS Stream 9 BaseOS + AppStream (18,774 packages), each on its
// own, with and without weak dependencies, and requires smith's answer to
// be libsolv's (through python3-solv, the pool refsolve.py sets up: the
// same package set, repositories included, or both unsolvable), unless the
// exceptions file explains why libsolv's answer is not what dnf users get.
func TestCS9Differential(t *testing.T) {
	if testing.Short() {
		t.Skip("600 solves on 18,774 packages")
	}
	exceptions := readExceptions(t)
	repos := []string{"baseos", "appstream"}
	idx := cs9Index(t, repos)
	names := differentialNames(idx, 300)
	var requests [][]string
	for _, n := range names {
		requests = append(requests, []string{n})
	}
	pool := NewPool(idx)
	used := map[string]bool{}
	total, agree, unsolvable := 0, 0, 0
	for _, weak := range []bool{true, false} {
		want := libsolvBatch(t, weak, repos, requests)
		mode := map[bool]string{true: "weak", false: "noweak"}[weak]
		for _, name := range names {
			total++
			w, ok := want[name]
			if !ok {
				t.Fatalf("no libsolv answer for %q", name)
			}
			sol, err := pool.Solve(context.Background(), Request{Specs: []string{name}, Arch: "x86_64", NoWeak: !weak})
			var u *Unsolvable
			if err != nil && !errors.As(err, &u) {
				t.Fatalf("%s: %v", name, err)
			}
			diff := ""
			switch {
			case w.Error != "" && err != nil:
				unsolvable++
			case w.Error != "":
				diff = "libsolv: " + w.Error + "; smith solves it: " + strings.Join(nevras(sol), " ")
			case err != nil:
				diff = "libsolv solves it; smith: " + err.Error()
			default:
				var got []string
				for _, p := range sol.Packages {
					got = append(got, p.NEVRA()+"@"+p.Repo)
				}
				slices.Sort(got)
				slices.Sort(w.Install)
				if !slices.Equal(got, w.Install) {
					diff = "only smith " + strings.Join(minusStrings(got, w.Install), " ") +
						"; only libsolv " + strings.Join(minusStrings(w.Install, got), " ")
				}
			}
			key := name + " " + mode
			if diff == "" {
				agree++
				continue
			}
			if why, ok := exceptions[key]; ok {
				used[key] = true
				t.Logf("%s: differs as listed (%s): %s", key, why, diff)
				continue
			}
			t.Errorf("%s: %s", key, diff)
		}
	}
	for key := range exceptions {
		if !used[key] {
			t.Errorf("%s: listed in %s but smith agrees with libsolv now: remove it", key, differentialExceptions)
		}
	}
	t.Logf("%d of %d requests agree with libsolv (%.1f%%; %d of them unsolvable for both), %d listed exceptions",
		agree, total, 100*float64(agree)/float64(total), unsolvable, len(used))
}

func minusStrings(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestCS9Permutation: neither the order of the repositories nor the order
// of the packages in them changes an answer (error text included), on
// CentOS Stream 9 BaseOS + AppStream.
func TestCS9Permutation(t *testing.T) {
	if testing.Short() {
		t.Skip("18,774 packages")
	}
	idx := cs9Index(t, []string{"baseos", "appstream"})
	requests := []Request{
		{Specs: []string{"httpd"}},
		{Specs: []string{"httpd"}, NoWeak: true},
		{Specs: []string{"coreutils", "python3", "nginx"}},
		{Specs: []string{"coreutils", "coreutils-single"}},
		{Specs: []string{"glibc.i686", "microdnf"}},
		{Specs: []string{"/usr/bin/cat", "libcurl.so.4()(64bit)"}},
	}
	want := make([]string, len(requests))
	pool := NewPool(idx)
	for i := range requests {
		requests[i].Arch = "x86_64"
		sol, err := pool.Solve(context.Background(), requests[i])
		want[i] = solutionRepos(sol, err)
	}
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 11))
		var pkgs []*repo.Package
		repos := slices.Clone(idx.Repos)
		if seed%2 == 0 {
			slices.Reverse(repos)
		}
		for _, rp := range repos {
			ps := slices.Clone(rp.Packages)
			r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
			pkgs = append(pkgs, ps...)
		}
		if seed >= 2 {
			r.Shuffle(len(pkgs), func(i, j int) { pkgs[i], pkgs[j] = pkgs[j], pkgs[i] })
		}
		pool := NewPool(shuffledIndex{idx, pkgs})
		for i, req := range requests {
			sol, err := pool.Solve(context.Background(), req)
			if got := solutionRepos(sol, err); got != want[i] {
				t.Errorf("seed %d, %q:\n%s\nin index order:\n%s", seed, req.Specs, got, want[i])
			}
		}
	}
}
