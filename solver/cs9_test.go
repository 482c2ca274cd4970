package solver

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smith-build/smith/repo"
)

// cs9Repos are the CentOS Stream 9 snapshots the libsolv expectations were
// computed on, by the names expected.json uses.
var cs9Repos = map[string]string{
	"baseos":    "real/repodata/centos-stream-9-baseos-20220207",
	"appstream": "real/repodata/centos-stream-9-appstream-202501",
}

type cs9Case struct {
	Name             string
	Repos            []string
	SolverFlags      []string
	Jobs             []string
	ExpectedInstall  []string `json:"expected_install"`
	ExpectedProblems []string `json:"expected_problems"`
	Solvable         bool
}

func cs9Cases(t testing.TB) []cs9Case {
	f, err := os.Open(filepath.Join(shared, "real/vectors/solver-cs9-libsolv/expected.json"))
	if os.IsNotExist(err) {
		t.Skipf("shared test data not present: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var data struct{ Cases []cs9Case }
	if err := json.NewDecoder(f).Decode(&data); err != nil {
		t.Fatal(err)
	}
	return data.Cases
}

func cs9Index(t testing.TB, names []string) *repo.Index {
	ix := &repo.Index{}
	for _, n := range names {
		ix.Repos = append(ix.Repos, loadRepo(t, n, cs9Repos[n]))
	}
	return ix
}

// cs9Request turns testsolv jobs ("install name X") into a Request.
func cs9Request(t testing.TB, c cs9Case) Request {
	req := Request{Arch: "x86_64", NoWeak: slices.Contains(c.SolverFlags, "ignorerecommended")}
	for _, j := range c.Jobs {
		name, ok := strings.CutPrefix(j, "install name ")
		if !ok {
			t.Fatalf("%s: unsupported job %q", c.Name, j)
		}
		req.Specs = append(req.Specs, name)
	}
	return req
}

// TestCS9Libsolv compares with libsolv 0.7.23 on CentOS Stream 9 data.
func TestCS9Libsolv(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 18,774 packages")
	}
	for _, c := range cs9Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			idx := cs9Index(t, c.Repos)
			sol, err := Solve(context.Background(), idx, cs9Request(t, c))
			if !c.Solvable {
				var u *Unsolvable
				if !errors.As(err, &u) {
					t.Fatalf("err = %v, want *Unsolvable (libsolv: %q)", err, c.ExpectedProblems)
				}
				t.Logf("unsolvable as expected:\n%v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range sol.Packages {
				got = append(got, p.NEVRA()+"@"+p.Repo)
			}
			slices.Sort(got)
			want := slices.Clone(c.ExpectedInstall)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				var extra, missing []string
				for _, g := range got {
					if !slices.Contains(want, g) {
						extra = append(extra, g)
					}
				}
				for _, w := range want {
					if !slices.Contains(got, w) {
						missing = append(missing, w)
					}
				}
				t.Errorf("%d packages, libsolv %d\nonly ours:\n  %s\nonly libsolv's:\n  %s",
					len(got), len(want), strings.Join(extra, "\n  "), strings.Join(missing, "\n  "))
			}
		})
	}
}
