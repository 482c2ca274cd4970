package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The solver through the CLI: smith resolve and smith why against libsolv
// (../shared/tools/refsolve.py, python3-solv) on the same repositories.

// refsolve returns the command line prefix of refsolve.py, skipping (or
// failing in CI) when python3-solv is missing.
func refsolve(t testing.TB) []string {
	t.Helper()
	script := filepath.Join(needShared(t), "tools", "refsolve.py")
	if _, err := os.Stat(script); err != nil {
		skipOrFail(t, "refsolve.py not found: %v", err)
	}
	// Debian's python3-solv is for the system python, not a pyenv shim.
	if err := exec.Command("/usr/bin/python3", "-c", "import solv").Run(); err != nil {
		skipOrFail(t, "python3-solv not installed (Debian: apt-get install python3-solv): %v", err)
	}
	return []string{"/usr/bin/python3", script}
}

// resolveCmd is "smith resolve" with a private cache and an explicit arch.
func resolveCmd(cache string, args ...string) []string {
	return append([]string{"resolve", "-q", "--arch", "x86_64", "--cache-dir", cache}, args...)
}

func lines(s string) []string { return strings.Fields(s) }

// distroCases are ../shared/tools/README.md section 3: what dnf installs on
// the test bed (weak dependencies on), by count and a telling member.
var distroCases = []struct {
	specs []string
	count int
	has   string
}{
	{[]string{"coreutils"}, 17, "coreutils-common-9.1-12.el9.x86_64"},
	{[]string{"nginx"}, 16, "openssl-libs-1:3.0.19-2.el9.x86_64"},
	{[]string{"webserver"}, 10, "busybox-1:1.35.0-4.el9.x86_64"},
	{[]string{"webapp-demo"}, 12, "webapp-demo-1.0-1.el9.noarch"},
}

// TestResolveDistroRefsolve: smith resolve prints exactly what refsolve.py
// prints, with and without weak dependencies, and refuses the conflict.
func TestResolveDistroRefsolve(t *testing.T) {
	ref := refsolve(t)
	repo := distroRepo(t)
	cache := scratch(t)
	for _, weak := range []bool{true, false} {
		for _, tc := range distroCases {
			name := strings.Join(tc.specs, "+")
			var flags []string
			if !weak {
				name += "/no-weak"
				flags = []string{"--no-weak"}
			}
			t.Run(name, func(t *testing.T) {
				r := mustSmith(t, runOpts{}, resolveCmd(cache, slices.Concat(flags, []string{"--repo", repo}, tc.specs)...)...)
				want := run(t, runOpts{env: os.Environ()}, slices.Concat(ref, flags, []string{repo, "--"}, tc.specs)...)
				if want.code != 0 {
					t.Fatalf("refsolve.py: %s", want)
				}
				if r.stdout != want.stdout {
					t.Errorf("smith resolve:\n%slibsolv:\n%s", r.stdout, want.stdout)
				}
				got := lines(r.stdout)
				if !slices.IsSorted(got) {
					t.Errorf("output not sorted: %q", got)
				}
				if weak && (len(got) != tc.count || !slices.Contains(got, tc.has)) {
					t.Errorf("%d packages (dnf: %d, with %s): %q", len(got), tc.count, tc.has, got)
				}
			})
		}
		t.Run(fmt.Sprintf("conflict/weak=%v", weak), func(t *testing.T) {
			specs := []string{"coreutils", "coreutils-single"}
			r := smith(t, runOpts{}, resolveCmd(cache, slices.Concat(flags(weak), []string{"--repo", repo}, specs)...)...)
			want := run(t, runOpts{env: os.Environ()}, slices.Concat(ref, flags(weak), []string{repo, "--"}, specs)...)
			if want.code != 1 || r.code != 1 {
				t.Fatalf("exit codes: smith %d, refsolve.py %d\n%s", r.code, want.code, r)
			}
			const problem = "Problem: coreutils-9.1-12.el9.x86_64 conflicts with coreutils-single-9.1-12.el9.x86_64\n" +
				"  - \"coreutils\" selects coreutils-9.1-12.el9.x86_64\n" +
				"  - \"coreutils-single\" selects coreutils-single-9.1-12.el9.x86_64\n"
			if r.stdout != problem {
				t.Errorf("stdout:\n%swant:\n%s", r.stdout, problem)
			}
			if msg := stderrError(t, r); !strings.Contains(msg, "conflicts with") {
				t.Errorf("stderr: %s", msg)
			}
		})
	}
}

func flags(weak bool) []string {
	if weak {
		return nil
	}
	return []string{"--no-weak"}
}

// resolveJSON is smith resolve --format json.
type resolveJSON struct {
	Arch     string
	Weak     bool
	Specs    []string
	Packages []struct {
		NEVRA  string
		Name   string
		Repo   string
		Reason struct {
			Kind, Spec, By, Relation string
			Weak                     bool
		}
	}
}

func TestResolveJSON(t *testing.T) {
	repo := distroRepo(t)
	cache := scratch(t)
	for _, weak := range []bool{true, false} {
		r := mustSmith(t, runOpts{}, resolveCmd(cache, slices.Concat(flags(weak), []string{"--format", "json", "--repo", repo, "coreutils"})...)...)
		var out resolveJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if out.Arch != "x86_64" || out.Weak != weak || !slices.Equal(out.Specs, []string{"coreutils"}) {
			t.Errorf("header: %+v", out)
		}
		text := mustSmith(t, runOpts{}, resolveCmd(cache, slices.Concat(flags(weak), []string{"--repo", repo, "coreutils"})...)...)
		var nevras []string
		reasons := map[string]string{}
		for _, p := range out.Packages {
			nevras = append(nevras, p.NEVRA)
			if p.Repo != "repo" {
				t.Errorf("%s: repo %q", p.NEVRA, p.Repo)
			}
			rs := p.Reason
			reasons[p.Name] = fmt.Sprintf("%s|%s|%s|%s|%v", rs.Kind, rs.Spec, rs.By, rs.Relation, rs.Weak)
			if rs.Kind != "requested" && rs.Kind != "supplements" && rs.By == "" {
				t.Errorf("%s: reason without a package: %+v", p.NEVRA, rs)
			}
		}
		if !slices.Equal(nevras, lines(text.stdout)) {
			t.Errorf("JSON packages %q, text %q", nevras, lines(text.stdout))
		}
		want := map[string]string{
			"coreutils":        "requested|coreutils|||false",
			"coreutils-common": "required||coreutils-9.1-12.el9.x86_64|coreutils-common = 9.1-12.el9|false",
		}
		if weak {
			want["bash-completion"] = "supplements|||(bash and coreutils)|true"
		} else if _, ok := reasons["bash-completion"]; ok {
			t.Error("bash-completion installed without weak dependencies")
		}
		for n, w := range want {
			if reasons[n] != w {
				t.Errorf("weak=%v: reason of %s: %q, want %q", weak, n, reasons[n], w)
			}
		}
	}
}

// TestResolveProblems: an unsolvable request exits 1, prints dnf-like
// problems with the chain from the request on stdout (or JSON), and one
// error line on stderr.
func TestResolveProblems(t *testing.T) {
	repo := distroRepo(t)
	cache := scratch(t)
	args := resolveCmd(cache, "--repo", repo, "--exclude", "glibc-common", "coreutils")
	r := smith(t, runOpts{}, args...)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r)
	}
	const want = "Problem: nothing provides glibc-common = 2.36-9.el9 needed by glibc-2.36-9.el9.x86_64 (from repo repo)\n" +
		"  - \"coreutils\" selects coreutils-9.1-12.el9.x86_64\n" +
		"  - coreutils-9.1-12.el9.x86_64 requires"
	if !strings.HasPrefix(r.stdout, want) || !strings.HasSuffix(r.stdout, ", provided by glibc-2.36-9.el9.x86_64\n") {
		t.Errorf("stdout:\n%swant it to start with:\n%s", r.stdout, want)
	}
	if msg := stderrError(t, r); !strings.Contains(msg, "nothing provides glibc-common") {
		t.Errorf("stderr: %s", msg)
	}

	r = smith(t, runOpts{}, append(args[:len(args)-1], "--format", "json", "coreutils")...)
	var out struct {
		Specs    []string
		Problems []struct {
			Kind, Message, Package, Repo, Relation string
			Chain                                  []struct {
				Spec         *string
				By, Relation string
				Package      string
				Weak         bool
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || len(out.Problems) != 1 {
		t.Fatalf("exit %d, %v\n%s", r.code, err, r)
	}
	p := out.Problems[0]
	if p.Kind != "nothing-provides" || p.Package != "glibc-2.36-9.el9.x86_64" || p.Repo != "repo" || p.Relation != "glibc-common = 2.36-9.el9" {
		t.Errorf("problem: %+v", p)
	}
	if len(p.Chain) < 2 || p.Chain[0].Spec == nil || *p.Chain[0].Spec != "coreutils" || p.Chain[len(p.Chain)-1].Package != p.Package {
		t.Errorf("chain: %+v", p.Chain)
	}

	// A spec nothing matches.
	r = smith(t, runOpts{}, resolveCmd(cache, "--repo", repo, "no-such-package")...)
	if r.code != 1 || r.stdout != "Problem: no package provides \"no-such-package\"\n" {
		t.Errorf("unknown spec:\n%s", r)
	}
}

// TestWhy: the chain of requirements from the request to a package, with
// the request given or taken from smith.yaml.
func TestWhy(t *testing.T) {
	repo := distroRepo(t)
	cache := scratch(t)
	const want = `glibc-langpack-en-2.36-9.el9.x86_64 is installed because:
  "coreutils" selects coreutils-9.1-12.el9.x86_64
  coreutils-9.1-12.el9.x86_64 requires rtld(GNU_HASH), provided by glibc-2.36-9.el9.x86_64
  glibc-2.36-9.el9.x86_64 requires glibc-common = 2.36-9.el9, provided by glibc-common-2.36-9.el9.x86_64
  glibc-common-2.36-9.el9.x86_64 requires (glibc-minimal-langpack = 2.36-9.el9 or glibc-langpack-en = 2.36-9.el9), provided by glibc-langpack-en-2.36-9.el9.x86_64
`
	why := func(o runOpts, args ...string) result {
		return smith(t, o, append([]string{"why", "-q", "--arch", "x86_64", "--cache-dir", cache}, args...)...)
	}
	r := why(runOpts{}, "--repo", repo, "glibc-langpack-en", "coreutils")
	if r.code != 0 || r.stdout != want {
		t.Errorf("%s\nwant:\n%s", r, want)
	}
	// smith.yaml's package: and repos: by default.
	dir := scratch(t)
	writeFile(t, filepath.Join(dir, "smith.yaml"), "package: coreutils\nrepos: ["+repo+"]\n", 0o644)
	r = why(runOpts{dir: dir}, "glibc-langpack-en.x86_64")
	if r.code != 0 || r.stdout != want {
		t.Errorf("from smith.yaml: %s", r)
	}
	r = why(runOpts{}, "-d", dir, "bash-completion")
	if r.code != 0 || !strings.Contains(r.stdout, "supplements (bash and coreutils)") {
		t.Errorf("weak: %s", r)
	}
	r = why(runOpts{}, "-d", dir, "--format", "json", "coreutils-common")
	var out []struct {
		Package string
		Chain   []struct{ By, Relation, Package string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 || len(out[0].Chain) != 2 ||
		out[0].Chain[1].By != "coreutils-9.1-12.el9.x86_64" || out[0].Chain[1].Relation != "coreutils-common = 9.1-12.el9" {
		t.Errorf("json: %v\n%s", err, r)
	}
	r = why(runOpts{}, "-d", dir, "nginx")
	if msg := stderrError(t, r); r.code != 1 || !strings.Contains(msg, "nginx is not among the 17 packages") {
		t.Errorf("not in the solution: %s", r)
	}
	r = why(runOpts{}, "-d", scratch(t), "nginx")
	if msg := stderrError(t, r); r.code != 1 || !strings.Contains(msg, "smith.yaml") {
		t.Errorf("no smith.yaml: %s", r)
	}
}

// cs9Repofile writes a .repo file naming the CentOS Stream 9 snapshots as
// expected.json does (baseos, appstream), in the order given.
func cs9Repofile(t testing.TB, ids ...string) string {
	t.Helper()
	dirs := map[string]string{"baseos": "centos-stream-9-baseos-20220207", "appstream": "centos-stream-9-appstream-202501"}
	var b strings.Builder
	for _, id := range ids {
		d := filepath.Join(needShared(t), "testdata", "real", "repodata", dirs[id])
		if _, err := os.Stat(filepath.Join(d, "repodata", "repomd.xml")); err != nil {
			skipOrFail(t, "CentOS Stream 9 repodata not found: %v", err)
		}
		fmt.Fprintf(&b, "[%s]\nname=%s\nbaseurl=file://%s\ngpgcheck=0\n\n", id, id, d)
	}
	f := filepath.Join(scratch(t), "cs9.repo")
	writeFile(t, f, b.String(), 0o644)
	return f
}

// TestResolveCS9Expected runs every case of
// ../shared/testdata/real/vectors/solver-cs9-libsolv/expected.json (libsolv
// 0.7.23 on CentOS Stream 9) through the CLI: the exact set, repository
// included. One cache serves all: the first load of a repository parses
// its XML and writes the binary index, the others read the index, and a
// case solved both ways must give the same answer.
func TestResolveCS9Expected(t *testing.T) {
	f, err := os.ReadFile(filepath.Join(needShared(t), "testdata", "real", "vectors", "solver-cs9-libsolv", "expected.json"))
	if err != nil {
		skipOrFail(t, "expected.json: %v", err)
	}
	var data struct {
		Cases []struct {
			Name            string
			Repos           []string
			SolverFlags     []string
			Jobs            []string
			ExpectedInstall []string `json:"expected_install"`
			Solvable        bool
		}
	}
	if err := json.Unmarshal(f, &data); err != nil {
		t.Fatal(err)
	}
	cache := scratch(t)
	cold := map[string]string{}
	for _, c := range data.Cases {
		t.Run(c.Name, func(t *testing.T) {
			args := []string{"--format", "json", "--repofile", cs9Repofile(t, c.Repos...)}
			if slices.Contains(c.SolverFlags, "ignorerecommended") {
				args = append(args, "--no-weak")
			}
			for _, j := range c.Jobs {
				name, ok := strings.CutPrefix(j, "install name ")
				if !ok {
					t.Fatalf("job %q", j)
				}
				args = append(args, name)
			}
			key := strings.Join(c.Repos, ",")
			first := cold[key] == ""
			r := smith(t, runOpts{}, resolveCmd(cache, args...)...)
			if !c.Solvable {
				if r.code != 1 || !strings.Contains(r.stdout, `"problems"`) {
					t.Errorf("want unsolvable: %s", r)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("%s", r)
			}
			var out resolveJSON
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range out.Packages {
				got = append(got, p.NEVRA+"@"+p.Repo)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.ExpectedInstall))
			if !slices.Equal(got, want) {
				t.Errorf("%d packages, libsolv %d\nonly smith: %q\nonly libsolv: %q", len(got), len(want), minus(got, want), minus(want, got))
			}
			if first {
				cold[key] = r.stdout
				// The same request again, from the index written just now.
				w := smith(t, runOpts{}, resolveCmd(cache, args...)...)
				if w.stdout != r.stdout {
					t.Errorf("warm (cached index) answer differs from the cold one:\n%s", w.stdout)
				}
			}
		})
	}
	idx, _ := filepath.Glob(filepath.Join(cache, "index", "*.idx"))
	if len(idx) != 2 {
		t.Errorf("cached indexes: %q", idx)
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestResolveRepoOrder: the order of the repositories on the command line
// does not change the answer (nor does a package's position in them: the
// solver sorts; see the permutation tests in package solver).
func TestResolveRepoOrder(t *testing.T) {
	cache := scratch(t)
	fwd, rev := cs9Repofile(t, "baseos", "appstream"), cs9Repofile(t, "appstream", "baseos")
	for _, specs := range [][]string{{"httpd"}, {"coreutils", "python3"}, {"--no-weak", "httpd", "nginx"}} {
		a := mustSmith(t, runOpts{}, resolveCmd(cache, append([]string{"--repofile", fwd}, specs...)...)...)
		b := mustSmith(t, runOpts{}, resolveCmd(cache, append([]string{"--repofile", rev}, specs...)...)...)
		if a.stdout != b.stdout || a.stdout == "" {
			t.Errorf("%q: baseos,appstream:\n%s\nappstream,baseos:\n%s", specs, a.stdout, b.stdout)
		}
	}
}

// bazeldnfRepo turns one of the bazeldnf primary.xml subsets into a
// repository both smith and libsolv read. The subsets were re-serialised
// by Go's encoding/xml: namespace prefixes dropped (<requires> for
// <rpm:requires>) and absent attributes written empty (flags="" ver=""),
// which no createrepo writes. smith reads them as they are, but libsolv
// ignores un-prefixed dependency lists and reads ver="" as a version, so
// both get the canonical form.
func bazeldnfRepo(t *testing.T, xmlFile string) string {
	t.Helper()
	data, err := os.ReadFile(xmlFile)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), `<metadata xmlns="" rpm="" packages="">`,
		`<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm">`, 1)
	tags := regexp.MustCompile(`<(/?)(provides|requires|conflicts|obsoletes|recommends|suggests|enhances|supplements|entry|license|vendor|group|buildhost|sourcerpm|header-range)([ >])`)
	s = tags.ReplaceAllString(s, "<${1}rpm:${2}${3}")
	s = regexp.MustCompile(` (flags|epoch|ver|rel)=""`).ReplaceAllString(s, "")
	dir := scratch(t)
	writeFile(t, filepath.Join(dir, "repodata", "primary.xml"), s, 0o644)
	sum := sha256.Sum256([]byte(s))
	writeFile(t, filepath.Join(dir, "repodata", "repomd.xml"), fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <data type="primary">
    <checksum type="sha256">%s</checksum>
    <location href="repodata/primary.xml"/>
    <size>%d</size>
  </data>
</repomd>
`, hex.EncodeToString(sum[:]), len(s)), 0o644)
	return dir
}

// TestResolveBazeldnf checks the expected resolutions of bazeldnf's SAT
// tests (../shared/testdata/real/repodata/bazeldnf-fedora32-el8-subsets)
// against smith and libsolv. On the eight subsets present bazeldnf, libsolv
// and smith agree exactly, with and without weak dependencies (bazeldnf
// installs none; these subsets hold no weak dependency that matters), so
// no case documents a bazeldnf error. The case "libguestfs without
// specifying platform-python" names libguestfs-el8.xml, which the test data
// does not include: it is skipped.
func TestResolveBazeldnf(t *testing.T) {
	ref := refsolve(t)
	dir := filepath.Join(needShared(t), "testdata", "real", "repodata", "bazeldnf-fedora32-el8-subsets")
	f, err := os.ReadFile(filepath.Join(dir, "expected-resolutions.json"))
	if err != nil {
		skipOrFail(t, "bazeldnf subsets: %v", err)
	}
	var data struct {
		Cases []struct {
			Name             string
			Repofile         string
			Requires         []string
			ExpectedInstalls []string `json:"expected_installs"`
			Nobest           bool
		}
	}
	if err := json.Unmarshal(f, &data); err != nil {
		t.Fatal(err)
	}
	cache := scratch(t)
	checked := 0
	for _, c := range data.Cases {
		t.Run(c.Name, func(t *testing.T) {
			xmlFile := filepath.Join(dir, c.Repofile)
			if _, err := os.Stat(xmlFile); err != nil {
				t.Skipf("%s is not in the test data", c.Repofile)
			}
			if c.Nobest {
				t.Skip("nobest: not libsolv's default")
			}
			repo := bazeldnfRepo(t, xmlFile)
			// bazeldnf writes name-epoch:version-release.arch, epoch 0 too.
			var want []string
			for _, n := range c.ExpectedInstalls {
				want = append(want, strings.Replace(n, "-0:", "-", 1))
			}
			slices.Sort(want)
			for _, weak := range []bool{false, true} {
				r := mustSmith(t, runOpts{}, resolveCmd(cache, slices.Concat(flags(weak), []string{"--repo", repo}, c.Requires)...)...)
				lib := run(t, runOpts{env: os.Environ()}, slices.Concat(ref, flags(weak), []string{repo, "--"}, c.Requires)...)
				if lib.code != 0 || r.stdout != lib.stdout {
					t.Errorf("weak=%v: smith:\n%slibsolv (exit %d):\n%s%s", weak, r.stdout, lib.code, lib.stdout, lib.stderr)
				}
				if got := lines(r.stdout); !slices.Equal(got, want) {
					t.Errorf("weak=%v: bazeldnf expects %d packages, smith %d\nonly smith: %q\nonly bazeldnf: %q",
						weak, len(want), len(got), minus(got, want), minus(want, got))
				}
			}
			checked++
		})
	}
	if checked != 8 {
		t.Errorf("%d bazeldnf cases checked, want the 8 whose subsets are present", checked)
	}
}

// BenchmarkResolveHTTPD is the solver's part of make bench: load CentOS
// Stream 9 BaseOS + AppStream (18,774 packages) and resolve httpd, as
// separate processes timed from outside: smith resolve cold (a fresh
// --cache-dir: the XML is parsed and the binary index written), smith
// resolve warm (the index read back), and refsolve.py (libsolv through
// python3-solv, loading primary.xml and filelists.xml as dnf does; its own
// "load" and "solve" times are printed too). SMITH_BENCH_N (default 5)
// alternating runs of each; medians, ratios and peak RSS are printed.
//
// Targets (issue 3): cold <= 1.0x libsolv's wall time, warm <= 0.1x, peak
// RSS <= 300 MiB. A report, not a pass/fail test.
//
// Run it with: go test -run '^$' -bench ResolveHTTPD -benchtime 1x ./e2e
func BenchmarkResolveHTTPD(b *testing.B) {
	ref := refsolve(b)
	repofile := cs9Repofile(b, "baseos", "appstream")
	var dirs []string
	for _, d := range []string{"centos-stream-9-baseos-20220207", "centos-stream-9-appstream-202501"} {
		dirs = append(dirs, filepath.Join(needShared(b), "testdata", "real", "repodata", d))
	}
	n := benchN()
	warmCache := scratch(b)
	mustSmith(b, runOpts{}, resolveCmd(warmCache, "--repofile", repofile, "httpd")...) // prime
	libTimes := regexp.MustCompile(`# load ([0-9.]+)s solve ([0-9.]+)s`)
	for range b.N {
		var cold, warm, lib []result
		var libLoad, libSolve []time.Duration
		var want string
		for i := range n {
			runs := []func(){
				func() {
					r := mustSmith(b, runOpts{}, resolveCmd(scratch(b), "--repofile", repofile, "httpd")...)
					cold = append(cold, r)
					want = r.stdout
				},
				func() {
					warm = append(warm, mustSmith(b, runOpts{}, resolveCmd(warmCache, "--repofile", repofile, "httpd")...))
				},
				func() {
					r := run(b, runOpts{env: os.Environ()}, slices.Concat(ref, []string{"--time"}, dirs, []string{"--", "httpd"})...)
					if r.code != 0 {
						b.Fatalf("refsolve.py: %s", r)
					}
					lib = append(lib, r)
					if m := libTimes.FindStringSubmatch(r.stderr); m != nil {
						l, _ := time.ParseDuration(m[1] + "s")
						s, _ := time.ParseDuration(m[2] + "s")
						libLoad, libSolve = append(libLoad, l), append(libSolve, s)
					}
				},
			}
			// Rotate which goes first, so that none always meets the page
			// cache or the CPU frequency another left.
			for k := range runs {
				runs[(i+k)%len(runs)]()
			}
		}
		if warm[0].stdout != want || want != lib[0].stdout {
			b.Errorf("answers differ:\ncold:\n%swarm:\n%slibsolv:\n%s", want, warm[0].stdout, lib[0].stdout)
		}
		cm, wm, lm := median(cold), median(warm), median(lib)
		fmt.Printf("resolve httpd on CS9 BaseOS+AppStream (18,774 packages), %d runs each, medians:\n", n)
		line := func(what string, rs []result) {
			fmt.Printf("  %-38s %6v wall (best %v), %6v CPU, peak RSS %s", what, median(rs).Round(time.Millisecond),
				fastest(rs).Round(time.Millisecond), medianCPU(rs).Round(time.Millisecond), mib(peak(rs)))
		}
		line("smith cold (parse XML, write index):", cold)
		fmt.Println()
		line("smith warm (cached binary index):", warm)
		fmt.Println()
		line("libsolv (refsolve.py, with filelists):", lib)
		if len(libLoad) > 0 {
			fmt.Printf(" (its own timing: load %v, solve %v)", medianDur(libLoad).Round(time.Millisecond), medianDur(libSolve).Round(time.Millisecond))
		}
		fmt.Println()
		fmt.Printf("  ratio cold/libsolv wall: %.3f (target <= 1.0: %s)\n", cm.Seconds()/lm.Seconds(), verdict(cm <= lm))
		fmt.Printf("  ratio warm/libsolv wall: %.3f (target <= 0.1: %s)\n", wm.Seconds()/lm.Seconds(), verdict(wm.Seconds() <= 0.1*lm.Seconds()))
		fmt.Printf("  ratio CPU time cold/libsolv: %.3f, warm/libsolv: %.3f (steadier on a loaded machine)\n",
			medianCPU(cold).Seconds()/medianCPU(lib).Seconds(), medianCPU(warm).Seconds()/medianCPU(lib).Seconds())
		fmt.Printf("  peak RSS smith: %s (target <= 300 MiB: %s)\n", mib(max(peak(cold), peak(warm))), verdict(max(peak(cold), peak(warm)) <= 300<<20))
		if load, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Printf("  load average during the run: %s", load)
		}
		b.ReportMetric(cm.Seconds(), "cold-s")
		b.ReportMetric(wm.Seconds(), "warm-s")
		b.ReportMetric(lm.Seconds(), "libsolv-s")
		b.ReportMetric(float64(max(peak(cold), peak(warm)))/(1<<20), "smith-MiB")
	}
}

func benchN() int {
	n := 5
	if s := os.Getenv("SMITH_BENCH_N"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			n = 5
		}
	}
	return n
}

func fastest(rs []result) time.Duration {
	m := rs[0].wall
	for _, r := range rs {
		m = min(m, r.wall)
	}
	return m
}

func medianDur(ds []time.Duration) time.Duration {
	ds = slices.Sorted(slices.Values(ds))
	if len(ds)%2 == 1 {
		return ds[len(ds)/2]
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
}
