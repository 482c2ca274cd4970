package solver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/repo"
)

// testsolvCase writes a libsolv testcase (the format of libsolv's
// test/testcases, run by testsolv from libsolv-tools) for a repository and
// request: a fresh install with dnf's pool flags.
func testsolvCase(t *testing.T, pkgs []*repo.Package, filelists map[string][]*repo.Package, req Request) string {
	var b strings.Builder
	b.WriteString("repo system 0 empty\n")
	files := map[*repo.Package][]string{}
	for f, owners := range filelists {
		for _, p := range owners {
			files[p] = append(files[p], f)
		}
	}
	// One testcase repo per repository, in name order (smith's tie-break
	// between identical packages), with dnf's priority and cost turned into
	// libsolv's priority and subpriority.
	var repos []string
	byRepo := map[string][]*repo.Package{}
	for _, p := range pkgs {
		if byRepo[p.Repo] == nil {
			repos = append(repos, p.Repo)
		}
		byRepo[p.Repo] = append(byRepo[p.Repo], p)
	}
	slices.Sort(repos)
	for _, r := range repos {
		fmt.Fprintf(&b, "repo %s %d.%d testtags <inline>\n", r, -priority(byRepo[r][0]), -cost(byRepo[r][0]))
		writeTestsolvPackages(t, &b, byRepo[r], files)
	}
	fmt.Fprintf(&b, "system %s rpm system\npoolflags implicitobsoleteusescolors\n", req.Arch)
	if req.NoWeak {
		b.WriteString("solverflags ignorerecommended\n")
	}
	for _, s := range req.Specs {
		if strings.ContainsAny(s, " \t") {
			fmt.Fprintf(&b, "job install name %s\n", s)
		} else {
			fmt.Fprintf(&b, "job install selection %s name,provides,canon,dotarch,rel,filelist\n", s)
		}
	}
	b.WriteString("result transaction,problems <inline>\n")
	return b.String()
}

// writeTestsolvPackages writes packages in testtags syntax.
func writeTestsolvPackages(t *testing.T, b *strings.Builder, pkgs []*repo.Package, files map[*repo.Package][]string) {
	for _, p := range pkgs {
		fmt.Fprintf(b, "#>=Pkg: %s %s %s %s\n", p.Name, strings.TrimPrefix(p.EVR.Epoch+":"+p.Version, ":"), p.Release, p.Arch)
		for _, d := range []struct {
			tag  string
			rels []dep.Relation
		}{{"Req", p.Requires}, {"Prv", p.Provides}, {"Con", p.Conflicts}, {"Obs", p.Obsoletes},
			{"Rec", p.Recommends}, {"Sug", p.Suggests}, {"Sup", p.Supplements}, {"Enh", p.Enhances}} {
			for _, r := range d.rels {
				tag := d.tag
				if r.Pre {
					tag = "Prq"
				}
				fmt.Fprintf(b, "#>=%s: %s\n", tag, testtagsDep(t, r))
			}
		}
		fs := files[p]
		slices.Sort(fs)
		for _, f := range fs {
			fmt.Fprintf(b, "#>=Fls: %s\n", f)
		}
	}
}

// testtagsDep renders a relation in testcase syntax, where rich operators
// are & | + - <IF> <UNLESS> <ELSE>.
func testtagsDep(t *testing.T, r dep.Relation) string {
	if !r.IsRich() {
		return r.String()
	}
	e, err := dep.ParseRich(r.Name)
	if err != nil {
		t.Skipf("libsolv testcases cannot express the malformed %q", r.Name)
	}
	var render func(e dep.Expr) string
	render = func(e dep.Expr) string {
		if e.Op == dep.OpAtom {
			if e.Atom.Flags == dep.Any {
				return e.Atom.Name
			}
			return "(" + e.Atom.String() + ")"
		}
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = render(a)
			if a.Op != dep.OpAtom {
				args[i] = "(" + args[i] + ")"
			}
		}
		switch e.Op {
		case dep.OpIf, dep.OpUnless:
			op := map[dep.Op]string{dep.OpIf: " <IF> ", dep.OpUnless: " <UNLESS> "}[e.Op]
			if len(args) == 3 {
				return args[0] + op + "(" + args[1] + " <ELSE> " + args[2] + ")"
			}
			return args[0] + op + args[1]
		}
		op := map[dep.Op]string{dep.OpAnd: " & ", dep.OpOr: " | ", dep.OpWith: " + ", dep.OpWithout: " - "}[e.Op]
		// Right-nested, as libsolv chains binary operators.
		s := args[len(args)-1]
		for i := len(args) - 2; i >= 0; i-- {
			if i < len(args)-2 {
				s = "(" + s + ")"
			}
			s = args[i] + op + s
		}
		return s
	}
	return render(e)
}

// testsolv runs a testcase and returns the installed NEVRAs, or ok=false
// when libsolv reports a problem.
func testsolv(t *testing.T, tc string) (installed []string, ok bool) {
	t.Helper()
	installed, ok = testsolvRepos(t, tc)
	for i, n := range installed {
		installed[i], _, _ = strings.Cut(n, "@")
	}
	slices.Sort(installed)
	return installed, ok
}

// testsolvRepos is testsolv with each package as NEVRA@repo.
func testsolvRepos(t *testing.T, tc string) (installed []string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("testsolv")
	if err != nil {
		t.Skip("testsolv (libsolv-tools) not installed")
	}
	f := filepath.Join(t.TempDir(), "case.t")
	if err := os.WriteFile(f, []byte(tc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, f).CombinedOutput() // exits 1 when results differ, always here
	ok = true
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "+install "):
			installed = append(installed, strings.TrimSpace(strings.TrimPrefix(line, "+install ")))
		case strings.HasPrefix(line, "+problem"):
			ok = false
		case strings.Contains(line, "error"), strings.Contains(line, "unknown"):
			t.Fatalf("testsolv: %s\n%s", line, tc)
		}
	}
	slices.Sort(installed)
	return installed, ok
}

// TestSolverRulesLibsolv runs the rule table through libsolv's testsolv and
// checks that libsolv agrees with every expectation (except where smith
// deliberately differs).
func TestSolverRulesLibsolv(t *testing.T) {
	for _, tc := range solverCases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req.Arch == "" {
				req.Arch = "x86_64"
			}
			if len(req.Exclude) > 0 || len(req.Install) > 0 {
				t.Skip("no testsolv equivalent")
			}
			for _, s := range req.Specs {
				if strings.ContainsAny(s, "*?[") {
					t.Skip("libsolv makes one job of a glob, dnf one per name")
				}
			}
			if tc.differs != "" {
				t.Skip(tc.differs)
			}
			if strings.HasPrefix(tc.err, "no package provides") {
				t.Skip("testsolv ignores an empty selection")
			}
			idx := parseRepo(t, tc.repo)
			got, ok := testsolv(t, testsolvCase(t, idx.pkgs, idx.filelists, req))
			if tc.err != "" {
				if ok {
					t.Errorf("libsolv solves it: %s", strings.Join(got, " "))
				}
				return
			}
			if !ok {
				t.Fatalf("libsolv finds it unsolvable, we expect %s", tc.want)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("libsolv: %s\nwe:      %s", g, tc.want)
			}
		})
	}
}
