package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smith-build/smith/internal/pgptest"
)

// Repositories over HTTP (issue 4): the trust chain, faults, the shared
// cache, dnf variables and priorities, with the smith binary against
// loopback servers serving the shared test bed.

// testbedKeyID is the key that signed the test bed's packages.
const testbedKeyID = "5de6817caf487ead"

// coreutilsRPM is a package of the cat build that the fault tests break.
const coreutilsRPM = "/repo/Packages/c/coreutils-9.1-12.el9.x86_64.rpm"

// distroServer serves the shared distro directory (repo/ and the key) on
// loopback, counts requests per path and applies queued faults.
type distroServer struct {
	*httptest.Server
	root string

	mu      sync.Mutex
	counts  map[string]int
	faults  map[string][]string // per path, one per request
	always  map[string]string
	files   map[string][]byte // extra files by path
	aliases map[string]string // path prefix -> directory
	delay   time.Duration     // before every .rpm
	user    string            // basic auth "user:password", when set
}

func newDistroServer(t testing.TB, root string) *distroServer {
	s := &distroServer{root: root, counts: map[string]int{}, faults: map[string][]string{},
		always: map[string]string{}, files: map[string][]byte{}, aliases: map[string]string{}}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *distroServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	s.mu.Lock()
	s.counts[p]++
	f := s.always[p]
	if q := s.faults[p]; len(q) > 0 {
		f, s.faults[p] = q[0], q[1:]
	}
	extra, isExtra := s.files[p]
	file := filepath.Join(s.root, filepath.FromSlash(p))
	for prefix, dir := range s.aliases {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			file = filepath.Join(dir, filepath.FromSlash(rest))
		}
	}
	delay, user := s.delay, s.user
	s.mu.Unlock()
	if user != "" {
		u, pw, _ := r.BasicAuth()
		if u+":"+pw != user {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if delay > 0 && strings.HasSuffix(p, ".rpm") {
		time.Sleep(delay)
	}
	data := extra
	if !isExtra {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			http.NotFound(w, r)
			return
		}
	}
	half := data[:len(data)/2]
	switch f {
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "reset":
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(half)
		w.(http.Flusher).Flush()
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	case "truncate":
		w.Write(half)
	case "corrupt":
		bad := bytes.Clone(data)
		for i := range bad {
			bad[i] ^= 0x5a
		}
		w.Write(bad)
	case "stall":
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	default:
		if isExtra {
			w.Write(data)
			return
		}
		http.ServeFile(w, r, file)
	}
}

func (s *distroServer) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[p]
}

// rpmRequests sums the requests for packages.
func (s *distroServer) rpmRequests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for p, n := range s.counts {
		if strings.HasSuffix(p, ".rpm") {
			out[p] = n
		}
	}
	return out
}

func (s *distroServer) with(f func(s *distroServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// signedDistroServer serves the distro with repomd.xml signed by a fresh
// key, published at /test-key.asc.
func signedDistroServer(t testing.TB) (*distroServer, string) {
	distro := filepath.Join(needShared(t), "testdata", "distro")
	srv := newDistroServer(t, distro)
	k := pgptest.NewKey(t)
	repomd, err := os.ReadFile(filepath.Join(distro, "repo", "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	srv.files["/repo/repodata/repomd.xml.asc"] = k.Sign(t, repomd)
	srv.files["/test-key.asc"] = k.Public
	return srv, distro
}

// trustedRepo is a .repo file for srv with both checks on.
func trustedRepo(srv *distroServer, distro, extra string) string {
	return fmt.Sprintf(`[tb]
name=test bed $releasever ($basearch)
baseurl=%s/repo/
gpgcheck=1
repo_gpgcheck=1
gpgkey=file://%s
       %s/test-key.asc
%s`, srv.URL, filepath.Join(distro, "RPM-GPG-KEY-testbed"), srv.URL, extra)
}

// checkCacheClean fails if a cached blob does not match its name or a
// temporary file was left behind.
func checkCacheClean(t *testing.T, cache string) {
	t.Helper()
	filepath.WalkDir(filepath.Join(cache, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left in the cache: %s", p)
			return nil
		}
		if filepath.Base(filepath.Dir(p)) == "sha256" && fileSHA(t, p) != d.Name() {
			t.Errorf("the cache keeps a bad file: %s", p)
		}
		return nil
	})
}

// TestHTTPTrustChain builds the cat example over HTTP with gpgcheck and
// repo_gpgcheck on (one key from a file:// URL, one over HTTP), runs it,
// rebuilds it warm from the cache, and refuses the unsigned package and a
// forged repomd.xml signature.
func TestHTTPTrustChain(t *testing.T) {
	srv, distro := signedDistroServer(t)
	dir := scratch(t)
	writeCatDir(t, dir, "")
	writeFile(t, filepath.Join(dir, "tb.repo"), trustedRepo(srv, distro, ""), 0o644)
	home := scratch(t)
	cache := filepath.Join(home, "cache")
	o := runOpts{dir: dir, env: cleanEnv(home)}
	args := append(archArgs(), "--repofile", "tb.repo", "--releasever", "9", "--cache-dir", cache)

	out := filepath.Join(home, "cat.tar.gz")
	r := mustSmith(t, o, append(args, "-i", out)...)
	if strings.Contains(r.stderr, "signature-checked") || strings.Contains(r.stderr, "warning") {
		t.Errorf("warnings with gpgcheck on: %s", r.stderr)
	}
	if !strings.Contains(r.stderr, "downloaded ") {
		t.Errorf("no download summary on a non-terminal stderr: %q", r.stderr)
	}
	im := readImage(t, out)
	if got := im.packages(t); !slices.Equal(got, coreutils17) {
		t.Errorf("packages %q", got)
	}
	checkMicrocontainer(t, im, 0)
	runImage(t, im)
	checkCacheClean(t, cache)

	// Warm: nothing is downloaded again, the image is the same, and
	// within metadata_expire not even repomd.xml is asked for.
	before := srv.rpmRequests()
	out2 := filepath.Join(home, "cat2.tar.gz")
	r = mustSmith(t, o, append(args, "-i", out2, "-q")...)
	if r.stderr != "" {
		t.Errorf("-q warm build printed %q", r.stderr)
	}
	if fileSHA(t, out2) != im.sha {
		t.Error("the warm build differs from the cold one")
	}
	if after := srv.rpmRequests(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the warm build downloaded packages again:\n%v\n%v", before, after)
	}
	if n := srv.count("/repo/repodata/repomd.xml"); n != 1 {
		t.Errorf("repomd.xml requested %d times, want 1", n)
	}

	// smith.yaml repos: with gpgkey paths relative to the build
	// directory; gpgcheck follows from the key, repo_gpgcheck from
	// --setopt.
	ydir := scratch(t)
	writeCatDir(t, ydir, fmt.Sprintf("repos:\n- name: tb\n  baseurl: %s/repo/\n  gpgkey: [keys/testbed.asc, keys/repomd.asc]\n", srv.URL))
	key, _ := os.ReadFile(filepath.Join(distro, "RPM-GPG-KEY-testbed"))
	writeFile(t, filepath.Join(ydir, "keys", "testbed.asc"), string(key), 0o644)
	writeFile(t, filepath.Join(ydir, "keys", "repomd.asc"), string(srv.files["/test-key.asc"]), 0o644)
	r = mustSmith(t, runOpts{dir: ydir, env: cleanEnv(home)}, append(archArgs(), "--cache-dir", cache, "--setopt=tb.repo_gpgcheck=1", "-i", filepath.Join(home, "y.tar.gz"))...)
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("warnings: %s", r.stderr)
	}
	if got := readImage(t, filepath.Join(home, "y.tar.gz")).packages(t); !slices.Equal(got, coreutils17) {
		t.Errorf("smith.yaml repos: build: packages %q", got)
	}

	// The unsigned package.
	wdir := scratch(t)
	writeFile(t, filepath.Join(wdir, "smith.yaml"), "package: webapp-demo\n", 0o644)
	writeFile(t, filepath.Join(wdir, "tb.repo"), trustedRepo(srv, distro, ""), 0o644)
	wout := filepath.Join(home, "webapp.tar.gz")
	r = smith(t, runOpts{dir: wdir, env: cleanEnv(home)}, append(archArgs(), "--repofile", "tb.repo", "--cache-dir", cache, "-i", wout)...)
	if r.code == 0 {
		t.Fatal("webapp-demo (unsigned) installed with gpgcheck on")
	}
	msg := stderrError(t, r)
	for _, want := range []string{"webapp-demo-1.0-1.el9.noarch", "repository tb", "not signed", testbedKeyID} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if _, err := os.Stat(wout); err == nil {
		t.Error("a failed build wrote an image")
	}

	// A forged signature on repomd.xml (--refresh, or the cached one would
	// be used).
	forged := pgptest.NewKey(t)
	repomd, _ := os.ReadFile(filepath.Join(distro, "repo", "repodata", "repomd.xml"))
	srv.with(func(s *distroServer) { s.files["/repo/repodata/repomd.xml.asc"] = forged.Sign(t, repomd) })
	r = smith(t, o, append(args, "--refresh", "-i", filepath.Join(home, "forged.tar.gz"))...)
	if msg := stderrError(t, r); r.code == 0 || !strings.Contains(msg, "repodata/repomd.xml of repository tb") || !strings.Contains(msg, "not in the keyring") {
		t.Errorf("forged repomd.xml signature: %s", r)
	}
}

// TestHTTPFaults injects failures into a package download during a build:
// each ends in a good image after a retry or failover, or in one clear
// error with no image (the previous one untouched) and a clean cache.
func TestHTTPFaults(t *testing.T) {
	distro := filepath.Join(needShared(t), "testdata", "distro")
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		name     string
		faults   []string
		always   string
		auth     string // server credentials
		repo     string // extra .repo lines; {dead} and {url} are replaced
		baseurl  string
		requests int
		err      []string
	}{
		{name: "500 then success", faults: []string{"500"}, requests: 2},
		{name: "connection reset mid-file", faults: []string{"reset"}, requests: 2},
		{name: "truncated body", faults: []string{"truncate"}, requests: 2},
		{name: "wrong checksum", always: "corrupt", err: []string{"checksum mismatch for coreutils-9.1-12.el9.x86_64", "expected sha256:"}},
		{name: "slow server beyond the timeout", faults: []string{"stall"}, repo: "timeout=1\n", requests: 2},
		{name: "slow server always", always: "stall", repo: "timeout=1\n", err: []string{"no data for 1s", "gave up after 3 attempts"}},
		{name: "dead mirror then a good one", baseurl: deadURL + "/repo/ {url}/repo/", requests: 1},
		{name: "401 without credentials", auth: "tb:s3cret", err: []string{"401 Unauthorized", "credentials"}},
		{name: "credentials in the .repo", auth: "tb:s3cret", repo: "username=tb\npassword=s3cret\n", requests: 1},
		{name: "credentials in the URL", auth: "tb:s3cret", baseurl: "{userurl}/repo/", requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newDistroServer(t, distro)
			srv.with(func(s *distroServer) {
				s.faults[coreutilsRPM] = tc.faults
				if tc.always != "" {
					s.always[coreutilsRPM] = tc.always
				}
				s.user = tc.auth
			})
			baseurl := cmpOr(tc.baseurl, "{url}/repo/")
			baseurl = strings.ReplaceAll(baseurl, "{userurl}", strings.Replace(srv.URL, "http://", "http://tb:s3cret@", 1))
			baseurl = strings.ReplaceAll(baseurl, "{url}", srv.URL)
			dir := scratch(t)
			writeCatDir(t, dir, "")
			writeFile(t, filepath.Join(dir, "tb.repo"), fmt.Sprintf("[tb]\nbaseurl=%s\ngpgcheck=1\ngpgkey=file://%s\n%s",
				baseurl, filepath.Join(distro, "RPM-GPG-KEY-testbed"), tc.repo), 0o644)
			home := scratch(t)
			cache := filepath.Join(home, "cache")
			out := filepath.Join(home, "cat.tar.gz")
			writeFile(t, out, "the previous image\n", 0o644)
			r := smith(t, runOpts{dir: dir, env: cleanEnv(home)}, append(archArgs(), "--repofile", "tb.repo", "--cache-dir", cache, "-i", out)...)
			checkCacheClean(t, cache)
			if strings.Contains(r.stderr, "s3cret") {
				t.Errorf("stderr shows the password: %s", r.stderr)
			}
			if tc.err != nil {
				msg := stderrError(t, r)
				for _, want := range tc.err {
					if r.code == 0 || !strings.Contains(msg, want) {
						t.Errorf("want an error saying %q, got %s", want, r)
					}
				}
				if b, _ := os.ReadFile(out); string(b) != "the previous image\n" {
					t.Error("a failed build changed the previous image")
				}
				if left, _ := filepath.Glob(filepath.Join(home, ".*")); len(left) > 0 {
					t.Errorf("temporary files beside the output: %v", left)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("%s", r)
			}
			if got := readImage(t, out).packages(t); !slices.Equal(got, coreutils17) {
				t.Errorf("packages %q", got)
			}
			if n := srv.count(coreutilsRPM); n != tc.requests {
				t.Errorf("%d requests for %s, want %d", n, coreutilsRPM, tc.requests)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestTwoBuildsOneCache runs two smith processes at once on one cache
// directory: both succeed with identical images, and each file is
// downloaded once.
func TestTwoBuildsOneCache(t *testing.T) {
	srv, distro := signedDistroServer(t)
	srv.with(func(s *distroServer) { s.delay = 20 * time.Millisecond })
	home := scratch(t)
	cache := filepath.Join(home, "cache")
	var wg sync.WaitGroup
	results := make([]result, 2)
	outs := make([]string, 2)
	for i := range results {
		dir := scratch(t)
		writeCatDir(t, dir, "")
		writeFile(t, filepath.Join(dir, "tb.repo"), trustedRepo(srv, distro, ""), 0o644)
		outs[i] = filepath.Join(home, fmt.Sprintf("cat%d.tar.gz", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = smith(t, runOpts{dir: dir, env: cleanEnv(scratch(t))}, append(archArgs(), "--repofile", "tb.repo", "--cache-dir", cache, "-i", outs[i])...)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("build %d: %s", i, r)
		}
	}
	if a, b := fileSHA(t, outs[0]), fileSHA(t, outs[1]); a != b {
		t.Errorf("the two builds differ: %s %s", a, b)
	}
	srv.mu.Lock()
	for p, n := range srv.counts {
		if n != 1 {
			t.Errorf("%s requested %d times, want once", p, n)
		}
	}
	srv.mu.Unlock()
	checkCacheClean(t, cache)
}

// TestRepoFileVarsPriority: a .repo file whose base URLs use $contentdir
// (from --varsdir or DNF_VAR_contentdir), $basearch, $releasever and
// ${releasever_major}, with two repositories of different priority; and
// --setopt on the command line.
func TestRepoFileVarsPriority(t *testing.T) {
	createrepoC := needTool(t, "createrepo_c", "createrepo-c")
	distro := filepath.Join(needShared(t), "testdata", "distro")
	// pinned holds only the older bash.
	pinned := scratch(t)
	oldBash := filepath.Join(distro, "repo", "Packages", "b", "bash-5.2.15-2.el9.x86_64.rpm")
	if _, err := os.Stat(oldBash); err != nil {
		t.Skipf("test bed without the older bash: %v", err)
	}
	if err := os.Symlink(oldBash, filepath.Join(pinned, filepath.Base(oldBash))); err != nil {
		t.Fatal(err)
	}
	if r := run(t, runOpts{env: os.Environ()}, createrepoC, pinned); r.code != 0 {
		t.Fatalf("createrepo_c: %s", r)
	}
	srv := newDistroServer(t, distro)
	srv.with(func(s *distroServer) {
		s.aliases["/centos/x86_64/9.4/os/"] = filepath.Join(distro, "repo")
		s.aliases["/centos/x86_64/9/pinned/"] = pinned
	})
	dir := scratch(t)
	writeFile(t, filepath.Join(dir, "smith.yaml"), "package: bash\npaths: [/usr/bin/bash]\n", 0o644)
	writeFile(t, filepath.Join(dir, "vars", "contentdir"), "centos\n", 0o644)
	writeFile(t, filepath.Join(dir, "two.repo"), fmt.Sprintf(`[os]
name=OS $releasever on $basearch
baseurl=%[1]s/$contentdir/$basearch/$releasever/os/

[pinned]
name=Pinned
baseurl=%[1]s/$contentdir/$basearch/${releasever_major}/pinned/
priority=10
`, srv.URL), 0o644)
	home := scratch(t)
	base := append(archArgs(), "--repofile", "two.repo")
	cache := func() []string { return []string{"--cache-dir", filepath.Join(scratch(t), "cache")} }
	o := runOpts{dir: dir, env: cleanEnv(home)}

	r := smith(t, o, slices.Concat(base, cache(), []string{"--varsdir", filepath.Join(dir, "vars"), "-i", filepath.Join(home, "x.tar.gz")})...)
	if msg := stderrError(t, r); r.code == 0 || !strings.Contains(msg, "--releasever") {
		t.Errorf("without --releasever: %s", r)
	}

	// $contentdir from --varsdir, then from DNF_VAR_contentdir.
	out := filepath.Join(home, "bash.tar.gz")
	env := cleanEnv(home, "DNF_VAR_contentdir=centos")
	for _, o := range []runOpts{{dir: dir, env: cleanEnv(home)}, {dir: dir, env: env}} {
		before := srv.count("/centos/x86_64/9/pinned/repodata/repomd.xml")
		varsdir := filepath.Join(dir, "vars")
		if len(o.env) > len(cleanEnv(home)) {
			varsdir = "/nonexistent"
		}
		mustSmith(t, o, slices.Concat(base, cache(), []string{"--releasever", "9.4", "--varsdir", varsdir, "-i", out})...)
		if srv.count("/centos/x86_64/9.4/os/repodata/repomd.xml") == 0 || srv.count("/centos/x86_64/9/pinned/repodata/repomd.xml") != before+1 {
			t.Errorf("variables not expanded as expected: %v", srv.counts)
		}
	}
	bash := ""
	for _, p := range readImage(t, out).packages(t) {
		if strings.HasPrefix(p, "bash-5") {
			bash = p
		}
	}
	base = append(base, "--releasever", "9.4")

	// --setopt disables the pinned repository: the newest bash.
	out3 := filepath.Join(home, "bash3.tar.gz")
	mustSmith(t, runOpts{dir: dir, env: env}, slices.Concat(base, cache(), []string{"--setopt=pinned.enabled=0", "-i", out3})...)
	if !slices.Contains(readImage(t, out3).packages(t), "bash-5.2.15-3.el9.x86_64") {
		t.Errorf("--setopt=pinned.enabled=0: packages %q", readImage(t, out3).packages(t))
	}
	r = smith(t, runOpts{dir: dir, env: env}, slices.Concat(base, cache(), []string{"--setopt=pinned.gpgchek=0", "-i", out3})...)
	if msg := stderrError(t, r); r.code == 0 || !strings.Contains(msg, `unknown repository option "gpgchek"`) {
		t.Errorf("misspelt --setopt: %s", r)
	}

	// dnf takes bash from the repository of the best priority, although
	// the other has a newer one.
	const want = "bash-5.2.15-2.el9.x86_64"
	if _, ok := haveTool("dnf"); ok && os.Getuid() == 0 {
		root := scratch(t)
		// dnf reads varsdir inside the installroot, so the variable comes
		// from the environment; dnf 4.14 has no ${releasever_major}.
		repos := scratch(t)
		b, _ := os.ReadFile(filepath.Join(dir, "two.repo"))
		writeFile(t, filepath.Join(repos, "two.repo"), strings.ReplaceAll(string(b), "${releasever_major}", "9"), 0o644)
		rd := run(t, runOpts{env: append(os.Environ(), "DNF_VAR_contentdir=centos")}, "dnf", "-y", "-q", "--installroot", root,
			"--setopt=reposdir="+repos, "--releasever=9.4", "--nogpgcheck", "install", "bash")
		if rd.code != 0 {
			t.Fatalf("dnf: %s", rd)
		}
		q := run(t, runOpts{env: os.Environ()}, "rpm", "--root", root, "-q", "bash")
		if strings.TrimSpace(q.stdout) != want {
			t.Errorf("dnf installed %q, want %s\n%s", q.stdout, want, rd)
		}
	}
	if !solverHonoursPriority {
		t.Skipf("the solver does not prefer repositories by priority yet (got %s, dnf takes %s): see issue 4's report for the solver change", bash, want)
	}
	if bash != want {
		t.Errorf("smith took %s, dnf takes %s from the priority=10 repository", bash, want)
	}
}

// solverHonoursPriority is turned on with the solver change that prefers
// candidates from repositories of better (lower) priority, as libsolv does.
const solverHonoursPriority = true

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pythonHTTPServer serves dir with `python3 -m http.server` on loopback and
// returns its URL; the server stops with the test (or with stop).
func pythonHTTPServer(t testing.TB, dir string) (url string, stop func()) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = needTool(t, "python3", "python3")
	}
	port := freePort(t)
	cmd := exec.Command(py, "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			return url, stop
		}
		if time.Now().After(deadline) {
			t.Fatal("python3 -m http.server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPythonHTTPServer builds the cat example from `python3 -m
// http.server` with the package key over HTTP, then again --offline from
// the cache alone with the server gone; --offline with an empty cache says
// what is missing.
func TestPythonHTTPServer(t *testing.T) {
	distro := filepath.Join(needShared(t), "testdata", "distro")
	url, stop := pythonHTTPServer(t, distro)
	dir := scratch(t)
	writeCatDir(t, dir, fmt.Sprintf("repos:\n- name: tb\n  baseurl: %s/repo/\n  gpgkey: %s/RPM-GPG-KEY-testbed\n", url, url))
	home := scratch(t)
	cache := filepath.Join(home, "cache")
	o := runOpts{dir: dir, env: cleanEnv(home)}
	out := filepath.Join(home, "cat.tar.gz")
	r := mustSmith(t, o, append(archArgs(), "--cache-dir", cache, "-i", out)...)
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("warnings: %s", r.stderr)
	}
	im := readImage(t, out)
	if got := im.packages(t); !slices.Equal(got, coreutils17) {
		t.Errorf("packages %q", got)
	}
	runImage(t, im)

	stop()
	out2 := filepath.Join(home, "offline.tar.gz")
	mustSmith(t, o, append(archArgs(), "--cache-dir", cache, "--offline", "-i", out2)...)
	if fileSHA(t, out2) != im.sha {
		t.Error("the --offline build differs")
	}
	r = smith(t, o, append(archArgs(), "--cache-dir", filepath.Join(home, "empty"), "--offline", "-i", out2)...)
	msg := stderrError(t, r)
	if r.code == 0 || !strings.Contains(msg, "offline: ") || !strings.Contains(msg, "not in the cache") {
		t.Errorf("--offline with an empty cache: %s", r)
	}
}

// BenchmarkNginxHTTP is the issue 4 benchmark: the nginx example built by
// smith from a loopback HTTP server (python3 -m http.server serving the
// shared distro) against `dnf --installroot install nginx` from the same
// server, cold (empty caches) and warm (caches kept), SMITH_BENCH_N
// (default 5) alternating runs each; it prints the medians and the ratios.
// Targets: smith cold ≤ 0.5 × dnf cold, smith warm ≤ 0.1 × dnf warm. A
// report, not a pass/fail test.
//
// Run it with: go test -run '^$' -bench NginxHTTP -benchtime 1x ./e2e
func BenchmarkNginxHTTP(b *testing.B) {
	distro := filepath.Join(needShared(b), "testdata", "distro")
	url, _ := pythonHTTPServer(b, distro)
	repoURL := url + "/repo/"
	n := 5
	if s := os.Getenv("SMITH_BENCH_N"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	_, haveDnf := haveTool("dnf")
	if haveDnf && os.Getuid() != 0 {
		b.Log("dnf --installroot needs root: timing smith only")
		haveDnf = false
	}
	dir := filepath.Join(scratch(b), "nginx")
	copyTree(b, filepath.Join(moduleRoot, "testdata", "examples", "nginx"), dir)

	smithRun := func(home, cache string) result {
		r := smith(b, runOpts{dir: dir, env: cleanEnv(home)}, append(archArgs(), "--repo", repoURL, "--cache-dir", cache, "-q", "-i", filepath.Join(home, "nginx.tar.gz"))...)
		if r.code != 0 {
			b.Fatalf("smith: %s", r)
		}
		return r
	}
	dnfRun := func(cache string) result {
		root := filepath.Join(scratch(b), "root")
		r := run(b, runOpts{env: os.Environ()}, "dnf", "-y", "-q", "--installroot", root,
			"--repofrompath=tb,"+repoURL, "--repo=tb", "--setopt=reposdir=/dev/null", "--nogpgcheck",
			"--releasever=9", "--setopt=cachedir="+cache, "--setopt=keepcache=1", "install", "nginx")
		if r.code != 0 {
			b.Fatalf("dnf: %s", r)
		}
		return r
	}

	for range b.N {
		var smCold, dnCold, smWarm, dnWarm []result
		warmSmithHome := scratch(b)
		warmSmithCache := filepath.Join(warmSmithHome, "cache")
		smithRun(warmSmithHome, warmSmithCache) // fill the cache
		dnfWarmCache := filepath.Join(scratch(b), "dnfcache")
		if haveDnf {
			dnfRun(dnfWarmCache)
		}
		for i := range n {
			coldSmith := func() {
				home := scratch(b)
				smCold = append(smCold, smithRun(home, filepath.Join(home, "cache")))
			}
			coldDnf := func() {
				if haveDnf {
					dnCold = append(dnCold, dnfRun(filepath.Join(scratch(b), "dnfcache")))
				}
			}
			// Alternate which goes first, so that neither always meets a
			// page cache the other warmed.
			if i%2 == 0 {
				coldSmith()
				coldDnf()
			} else {
				coldDnf()
				coldSmith()
			}
			smWarm = append(smWarm, smithRun(warmSmithHome, warmSmithCache))
			if haveDnf {
				dnWarm = append(dnWarm, dnfRun(dnfWarmCache))
			}
		}
		sc, sw := median(smCold), median(smWarm)
		fmt.Printf("smith nginx over HTTP, cold cache: median %v wall, %v CPU, peak RSS %s (%d runs)\n", sc.Round(time.Millisecond), medianCPU(smCold).Round(time.Millisecond), mib(peak(smCold)), n)
		fmt.Printf("smith nginx over HTTP, warm cache: median %v wall, %v CPU, peak RSS %s\n", sw.Round(time.Millisecond), medianCPU(smWarm).Round(time.Millisecond), mib(peak(smWarm)))
		b.ReportMetric(sc.Seconds(), "smith-cold-s")
		b.ReportMetric(sw.Seconds(), "smith-warm-s")
		if !haveDnf {
			fmt.Println("dnf: not measured (not installed, or not root)")
			continue
		}
		dc, dw := median(dnCold), median(dnWarm)
		fmt.Printf("dnf --installroot install nginx, cold: median %v wall, %v CPU, peak RSS %s\n", dc.Round(time.Millisecond), medianCPU(dnCold).Round(time.Millisecond), mib(peak(dnCold)))
		fmt.Printf("dnf --installroot install nginx, warm (cachedir kept): median %v wall, %v CPU\n", dw.Round(time.Millisecond), medianCPU(dnWarm).Round(time.Millisecond))
		cold, warm := sc.Seconds()/dc.Seconds(), sw.Seconds()/dw.Seconds()
		fmt.Printf("ratio smith/dnf cold: %.3f (target <= 0.5: %s)\n", cold, verdict(cold <= 0.5))
		fmt.Printf("ratio smith/dnf warm: %.3f (target <= 0.1: %s); smith warm / dnf cold: %.3f\n", warm, verdict(warm <= 0.1), sw.Seconds()/dc.Seconds())
		b.ReportMetric(cold, "ratio-cold")
		b.ReportMetric(warm, "ratio-warm")
	}
}
