package solver

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/smith-build/smith/repo"
)

// shared is the test bed next to the repository (see ../shared/tools).
const shared = "../../shared/testdata"

var (
	loadMu sync.Mutex
	loaded = map[string]*repo.Repo{}
)

// loadRepo loads a repository directory under shared once per test binary,
// skipping the test when the shared test data is absent.
func loadRepo(t testing.TB, id, dir string) *repo.Repo {
	t.Helper()
	dir = filepath.Join(shared, dir)
	if _, err := os.Stat(filepath.Join(dir, "repodata", "repomd.xml")); err != nil {
		t.Skipf("shared test data not present: %v", err)
	}
	loadMu.Lock()
	defer loadMu.Unlock()
	if r, ok := loaded[id+"\x00"+dir]; ok {
		return r
	}
	r, err := repo.Load(context.Background(), repo.Source{ID: id, BaseURLs: []string{dir}, Enabled: true}, repo.Options{})
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	loaded[id+"\x00"+dir] = r
	return r
}

func testbed(t testing.TB) *repo.Index {
	return &repo.Index{Repos: []*repo.Repo{loadRepo(t, "tb", "distro/repo")}}
}

func nevras(sol *Solution) []string {
	var out []string
	for _, p := range sol.Packages {
		out = append(out, p.NEVRA())
	}
	return out
}

func solveSpecs(t *testing.T, idx Index, req Request) *Solution {
	t.Helper()
	if req.Arch == "" {
		req.Arch = "x86_64"
	}
	sol, err := Solve(context.Background(), idx, req)
	if err != nil {
		t.Fatalf("Solve(%q): %v", req.Specs, err)
	}
	return sol
}

// dnf's answers on the test bed (README of ../shared/tools).
var testbedCases = []struct {
	specs []string
	want  []string
}{
	{[]string{"coreutils"}, []string{
		"basesystem-11-13.el9.noarch", "bash-5.2.15-3.el9.x86_64", "bash-completion-1:2.11-5.el9.noarch",
		"coreutils-9.1-12.el9.x86_64", "coreutils-common-9.1-12.el9.x86_64", "filesystem-3.16-2.el9.x86_64",
		"glibc-2.36-9.el9.x86_64", "glibc-common-2.36-9.el9.x86_64", "glibc-langpack-en-2.36-9.el9.x86_64",
		"gmp-1:6.2.1-2.el9.x86_64", "libacl-2.3.1-3.el9.x86_64", "libattr-2.5.1-4.el9.x86_64",
		"libselinux-3.4-1.el9.x86_64", "ncurses-base-6.4-4.el9.noarch", "ncurses-libs-6.4-4.el9.x86_64",
		"pcre2-10.42-1.el9.x86_64", "setup-2.13.7-9.el9.noarch",
	}},
	{[]string{"nginx"}, []string{
		"basesystem-11-13.el9.noarch", "bash-5.2.15-3.el9.x86_64", "filesystem-3.16-2.el9.x86_64",
		"glibc-2.36-9.el9.x86_64", "glibc-common-2.36-9.el9.x86_64", "glibc-langpack-en-2.36-9.el9.x86_64",
		"libxcrypt-4.4.33-2.el9.x86_64", "mailcap-2.1.53-5.el9.noarch", "ncurses-base-6.4-4.el9.noarch",
		"ncurses-libs-6.4-4.el9.x86_64", "nginx-1:1.22.1-9.el9.x86_64", "nginx-filesystem-1:1.22.1-9.el9.noarch",
		"openssl-libs-1:3.0.19-2.el9.x86_64", "pcre2-10.42-1.el9.x86_64", "setup-2.13.7-9.el9.noarch",
		"zlib-1.2.13-3.el9.x86_64",
	}},
	{[]string{"webserver"}, []string{
		"basesystem-11-13.el9.noarch", "bash-5.2.15-3.el9.x86_64", "busybox-1:1.35.0-4.el9.x86_64",
		"filesystem-3.16-2.el9.x86_64", "glibc-2.36-9.el9.x86_64", "glibc-common-2.36-9.el9.x86_64",
		"glibc-langpack-en-2.36-9.el9.x86_64", "ncurses-base-6.4-4.el9.noarch", "ncurses-libs-6.4-4.el9.x86_64",
		"setup-2.13.7-9.el9.noarch",
	}},
	{[]string{"webapp-demo"}, []string{
		"basesystem-11-13.el9.noarch", "bash-5.2.15-3.el9.x86_64", "busybox-1:1.35.0-4.el9.x86_64",
		"filesystem-3.16-2.el9.x86_64", "glibc-2.36-9.el9.x86_64", "glibc-common-2.36-9.el9.x86_64",
		"glibc-langpack-en-2.36-9.el9.x86_64", "ncurses-base-6.4-4.el9.noarch", "ncurses-libs-6.4-4.el9.x86_64",
		"nginx-filesystem-1:1.22.1-9.el9.noarch", "setup-2.13.7-9.el9.noarch", "webapp-demo-1.0-1.el9.noarch",
	}},
}

func TestTestbedDNF(t *testing.T) {
	idx := testbed(t)
	for _, tc := range testbedCases {
		t.Run(strings.Join(tc.specs, "+"), func(t *testing.T) {
			got := nevras(solveSpecs(t, idx, Request{Specs: tc.specs}))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %d packages:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(tc.want), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestTestbedConflict(t *testing.T) {
	idx := testbed(t)
	_, err := Solve(context.Background(), idx, Request{Specs: []string{"coreutils", "coreutils-single"}, Arch: "x86_64"})
	var u *Unsolvable
	if !errors.As(err, &u) {
		t.Fatalf("err = %v, want *Unsolvable", err)
	}
	const want = "coreutils-9.1-12.el9.x86_64 conflicts with coreutils-single-9.1-12.el9.x86_64"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if len(u.Problems) != 1 || !slices.Equal(u.Problems[0].Specs, []string{"coreutils", "coreutils-single"}) {
		t.Errorf("problems = %+v", u.Problems)
	}
	t.Logf("details:\n%s", strings.Join(u.Problems[0].Details, "\n"))
}

func TestTestbedUnknownSpec(t *testing.T) {
	_, err := Solve(context.Background(), testbed(t), Request{Specs: []string{"nosuch"}, Arch: "x86_64"})
	if err == nil || err.Error() != `no package provides "nosuch"` {
		t.Errorf("err = %v", err)
	}
}

// refsolve runs libsolv through ../shared/tools/refsolve.py.
func refsolve(t *testing.T, args ...string) ([]string, error) {
	t.Helper()
	const py = "/usr/bin/python3"
	script := filepath.Join(shared, "..", "tools", "refsolve.py")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("refsolve.py not present: %v", err)
	}
	if err := exec.Command(py, "-c", "import solv").Run(); err != nil {
		t.Skipf("python3-solv not installed: %v", err)
	}
	out, err := exec.Command(py, append([]string{script}, args...)...).Output()
	return strings.Fields(string(out)), err
}

// TestTestbedLibsolv compares many requests with libsolv's answers.
func TestTestbedLibsolv(t *testing.T) {
	idx := testbed(t)
	repoDir := filepath.Join(shared, "distro", "repo")
	var names []string
	for _, p := range idx.Packages() {
		names = append(names, p.Name)
	}
	names = sortUnique(names)
	cases := [][]string{{"webserver"}, {"/usr/bin/cat"}, {"libc.so.6()(64bit)"}, {"glibc.i686"},
		{"coreutils < 9.1-12.el9"}, {"coreutils-9.1-6.el9"}, {"bash-5.2.15-2.el9.x86_64"}, {"libcrypt", "libxcrypt"},
		{"nginx", "busybox"}, {"hello-sh", "dash"}}
	for _, n := range names {
		cases = append(cases, []string{n})
	}
	for _, weak := range []bool{true, false} {
		for _, specs := range cases {
			name := strings.Join(specs, "+")
			args := []string{repoDir, "--"}
			if !weak {
				name += "/noweak"
				args = []string{"--no-weak", repoDir, "--"}
			}
			t.Run(name, func(t *testing.T) {
				want, refErr := refsolve(t, append(args, specs...)...)
				sol, err := Solve(context.Background(), idx, Request{Specs: specs, Arch: "x86_64", NoWeak: !weak})
				if refErr != nil {
					if err == nil {
						t.Errorf("libsolv fails (%v) but we solved: %v", refErr, nevras(sol))
					}
					return
				}
				if err != nil {
					t.Fatalf("libsolv solves %v, we fail: %v", want, err)
				}
				if got := nevras(sol); !slices.Equal(got, want) {
					t.Errorf("got:\n%s\nlibsolv:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// shuffledIndex presents an Index's packages in a shuffled order.
type shuffledIndex struct {
	Index
	pkgs []*repo.Package
}

func (s shuffledIndex) Packages() []*repo.Package { return s.pkgs }

// TestTestbedPermutation: the order of Index.Packages must not change any
// answer, error text included.
func TestTestbedPermutation(t *testing.T) {
	idx := testbed(t)
	requests := [][]string{{"coreutils"}, {"nginx"}, {"webapp-demo"}, {"webserver"}, {"glibc.i686"},
		{"coreutils", "coreutils-single"}, {"/usr/bin/cat"}, {"bash", "dash", "zstd", "bubblewrap"}}
	for _, specs := range requests {
		for _, noWeak := range []bool{false, true} {
			req := Request{Specs: specs, Arch: "x86_64", NoWeak: noWeak}
			sol, err := Solve(context.Background(), idx, req)
			want := result(sol, err)
			if err == nil {
				checkSolution(t, idx, sol)
			}
			for seed := uint64(0); seed < 10; seed++ {
				pkgs := slices.Clone(idx.Packages())
				rand.New(rand.NewPCG(seed, 7)).Shuffle(len(pkgs), func(i, j int) { pkgs[i], pkgs[j] = pkgs[j], pkgs[i] })
				sol, err := Solve(context.Background(), shuffledIndex{idx, pkgs}, req)
				if got := result(sol, err); got != want {
					t.Errorf("%q noWeak=%v seed %d:\n%s\nunshuffled:\n%s", specs, noWeak, seed, got, want)
				}
			}
		}
	}
}

// TestTestbedReasonsAndOrder checks why each package of "coreutils" is there
// and that the install order puts requirements first.
func TestTestbedReasonsAndOrder(t *testing.T) {
	idx := testbed(t)
	sol := solveSpecs(t, idx, Request{Specs: []string{"coreutils"}})
	checkSolution(t, idx, sol)
	got := describeReasons(sol)
	for _, want := range []string{
		"coreutils-9.1-12.el9.x86_64: requested (coreutils)\n",
		"coreutils-common-9.1-12.el9.x86_64: required by coreutils-9.1-12.el9.x86_64 (coreutils-common = 9.1-12.el9)\n",
		"bash-completion-1:2.11-5.el9.noarch: supplements (bash and coreutils)\n",
		"glibc-langpack-en-2.36-9.el9.x86_64: required by glibc-common-2.36-9.el9.x86_64 ((glibc-minimal-langpack = 2.36-9.el9 or glibc-langpack-en = 2.36-9.el9))\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("reasons lack %q:\n%s", want, got)
		}
	}
	pos := map[string]int{}
	for i, p := range sol.Order {
		pos[p.Name] = i
	}
	for _, pair := range [][2]string{{"glibc", "coreutils"}, {"setup", "basesystem"}, {"filesystem", "bash"}, {"coreutils-common", "coreutils"}} {
		if pos[pair[0]] > pos[pair[1]] {
			t.Errorf("%s installed after %s: %v", pair[0], pair[1], nevras(&Solution{Packages: sol.Order}))
		}
	}
}
