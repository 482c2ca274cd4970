package e2e

// Hostile input and faults (issue 7): builds interrupted by SIGINT and
// SIGKILL at random points, concurrent builds sharing a cache and an output
// directory, credentials that must never be printed or stored, and
// repository metadata built to exhaust memory.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/internal/registrytest"
)

// rssWrapperEnv, set in the environment of this test binary, makes it run
// the command in its arguments, write that command's peak RSS (bytes) to
// the file $SMITH_E2E_RSS_FILE and exit with its status. Linux carries a
// vfork parent's RSS high-water mark over exec, so a smith started by the
// test process itself reports at least the test process's own peak (which
// grows as tests build big inputs); started by this small wrapper, it
// reports its own. See peakRSS.
const rssWrapperEnv = "SMITH_E2E_RSS_WRAPPER"

func init() {
	if os.Getenv(rssWrapperEnv) != "1" || len(os.Args) < 2 {
		return
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, rssWrapperEnv+"=") && !strings.HasPrefix(kv, "SMITH_E2E_RSS_FILE=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "rss wrapper:", err)
		os.Exit(125)
	}
	_ = os.WriteFile(os.Getenv("SMITH_E2E_RSS_FILE"), []byte(fmt.Sprint(maxRSS(cmd.ProcessState))), 0o644)
	os.Exit(max(cmd.ProcessState.ExitCode(), 0))
}

// peakRSS runs smith with args like smith() and returns the result with
// maxRSS measured through the wrapper above.
func peakRSS(t testing.TB, o runOpts, args ...string) result {
	t.Helper()
	recordInputs()
	file := filepath.Join(scratch(t), "rss")
	if o.env == nil {
		o.env = cleanEnv(scratch(t))
	}
	o.env = append(slices.Clone(o.env), rssWrapperEnv+"=1", "SMITH_E2E_RSS_FILE="+file)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, o, append([]string{self, smithBin}, args...)...)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the RSS wrapper wrote nothing (%v): %s", err, r)
	}
	fmt.Sscan(string(b), &r.maxRSS)
	return r
}

// serveOpts configure serveDir.
type serveOpts struct {
	// latency is added before each response; rate, when set, limits each
	// response body to about rate bytes per second (so that a build spends
	// measurable time downloading and can be interrupted there).
	latency time.Duration
	rate    int
	// user and password, when set, require HTTP basic auth.
	user, password string
}

// repoServer is a directory served over HTTP by the test process.
type repoServer struct {
	*httptest.Server
	requests  atomic.Int64
	authFails atomic.Int64
}

// serveDir serves dir (an RPM repository) over HTTP until the test ends.
func serveDir(t testing.TB, dir string, o serveOpts) *repoServer {
	t.Helper()
	s := &repoServer{}
	files := http.FileServer(http.Dir(dir))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if o.user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != o.user || p != o.password {
				s.authFails.Add(1)
				w.Header().Set("WWW-Authenticate", `Basic realm="repo"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if o.latency > 0 {
			select {
			case <-time.After(o.latency):
			case <-r.Context().Done():
				return
			}
		}
		if o.rate > 0 {
			w = &slowWriter{ResponseWriter: w, rate: o.rate, done: r.Context().Done()}
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// slowWriter writes in 16 KiB pieces at about rate bytes per second.
type slowWriter struct {
	http.ResponseWriter
	rate int
	done <-chan struct{}
}

func (w *slowWriter) Write(p []byte) (int, error) {
	const piece = 16 << 10
	n := 0
	for len(p) > 0 {
		k := min(piece, len(p))
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[k:]
		select {
		case <-time.After(time.Duration(k) * time.Second / time.Duration(w.rate)):
		case <-w.done:
			return n, http.ErrHandlerTimeout
		}
	}
	return n, nil
}

// started is a smith process running in the background.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

func startSmith(t testing.TB, env []string, args ...string) *started {
	t.Helper()
	recordInputs()
	p := &started{cmd: exec.Command(smithBin, args...), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// wait waits for the process (at most a minute) and returns its result.
func (p *started) wait(t testing.TB) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("smith did not exit within a minute: %s", p.stderr.String())
	}
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String(), code: p.cmd.ProcessState.ExitCode()}
	if r.code < 0 {
		r.code = 128
	}
	return r
}

func (p *started) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor polls until one of the glob patterns matches a file or the
// process exits, and reports whether a file appeared first.
func (p *started) waitFor(patterns ...string) bool {
	for !p.exited() {
		for _, pat := range patterns {
			if m, _ := filepath.Glob(pat); len(m) > 0 {
				return true
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}

// checkCache verifies every package and metadata blob in smith's cache
// against the sha256 its name states (a torn or unverified file would fail
// here), and returns the temporary files left in it.
func checkCache(t testing.TB, cache string) (temps []string) {
	t.Helper()
	err := filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == cache {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if name == ".pruned" {
			return nil // build's mark of the last prune of expanded/ and layers/
		}
		if strings.HasPrefix(name, ".") {
			temps = append(temps, p)
			return nil
		}
		if filepath.Base(filepath.Dir(p)) == "sha256" && len(name) == 64 {
			if got := fileSHA(t, p); got != name {
				t.Errorf("cache blob %s holds content with sha256 %s", p, got)
			}
		}
		if filepath.Base(filepath.Dir(p)) == "expanded" {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, err := extract.ParseExpanded(data); err != nil {
				t.Errorf("expanded-package cache entry %s: %v", p, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return temps
}

// outputEntries lists dir, failing on anything but the image and smith's
// recognisable temporary files; it returns the temporary files.
func outputEntries(t testing.TB, dir, image string) (temps []string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		switch {
		case e.Name() == image:
		case strings.HasPrefix(e.Name(), "."+image+".smith-tmp-"):
			temps = append(temps, e.Name())
		default:
			t.Errorf("unexpected file %s in the output directory", e.Name())
		}
	}
	return temps
}

// TestInterruptedBuilds kills builds over the test bed's distro repository
// (served over HTTP, slowly, so that downloads take a while) with SIGINT
// and SIGKILL, at random times and at the two moments that matter most:
// while a package is being downloaded into the cache and while the image
// is being written. After each kill the previous image is intact or
// absent, never torn; after SIGINT smith has exited within 2 s with one
// error line and left no temporary file; after SIGKILL its temporary image
// file is recognisable by name. Every few runs a complete build must
// succeed with the same digest from the same cache, and remove what the
// killed runs left.
func TestInterruptedBuilds(t *testing.T) {
	repo := distroRepo(t)
	srv := serveDir(t, repo, serveOpts{latency: 5 * time.Millisecond, rate: 8 << 20})
	root := scratch(t)
	dir, outDir, cache := filepath.Join(root, "build"), filepath.Join(root, "out"), filepath.Join(root, "cache")
	writeCatDir(t, dir, "")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "image.tar.gz")
	env := cleanEnv(scratch(t))
	args := append(archArgs(), "-d", dir, "-i", out, "--repo", srv.URL+"/", "--cache-dir", cache)

	build := func(what string) (string, time.Duration) {
		t.Helper()
		start := time.Now()
		r := startSmith(t, env, args...).wait(t)
		took := time.Since(start)
		if r.code != 0 {
			t.Fatalf("%s: %s", what, r)
		}
		if temps := outputEntries(t, outDir, "image.tar.gz"); len(temps) != 0 {
			t.Errorf("%s: temporary files left beside the image: %q", what, temps)
		}
		checkCache(t, cache)
		return fileSHA(t, out), took
	}
	ref, cold := build("cold build")
	refSize := fileSize(t, out)
	if sha, _ := build("warm build"); sha != ref {
		t.Fatalf("warm build: image %s, cold build %s", sha, ref)
	}
	_, warm := build("warm build")
	t.Logf("reference image %s (%d bytes); cold build %v, warm %v", ref[:12], refSize, cold, warm)

	// SMITH_E2E_SEED replays a run's choices (its timing still varies).
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("SMITH_E2E_SEED"), 10, 64); err == nil {
		seed = s
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d (SMITH_E2E_SEED)", seed)
	const runs = 24
	stats := map[string]int{}
	for i := range runs {
		sig, sigName := syscall.Signal(syscall.SIGINT), "SIGINT"
		if i%2 == 1 {
			sig, sigName = syscall.SIGKILL, "SIGKILL"
		}
		// Where to stop it: 0 at a random time, 1 while downloading a
		// package into the cache, 2 while writing the image.
		mode := (i / 2) % 3
		if mode == 1 || rng.IntN(3) == 0 {
			if err := os.RemoveAll(cache); err != nil {
				t.Fatal(err)
			}
		}
		if rng.IntN(4) == 0 {
			if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		_, err := os.Stat(out)
		hadImage := err == nil
		// Leftovers of earlier SIGKILLs, which this run may not get to
		// clean before it is stopped.
		oldTemps := append(outputEntries(t, outDir, "image.tar.gz"), checkCache(t, cache)...)
		label := fmt.Sprintf("run %d (%s, %s)", i, sigName, []string{"random time", "during a download", "while writing the image"}[mode])

		p := startSmith(t, env, args...)
		hit := true
		switch mode {
		case 0:
			time.Sleep(time.Duration(rng.Int64N(int64(cold + cold/4))))
		case 1:
			hit = p.waitFor(filepath.Join(cache, "*", "*", ".download-*"), filepath.Join(cache, "*", ".download-*"), filepath.Join(cache, "*", ".tmp-*"))
		case 2:
			hit = p.waitFor(filepath.Join(outDir, ".image.tar.gz.smith-tmp-*"))
		}
		signalled := time.Now()
		_ = p.cmd.Process.Signal(sig)
		r := p.wait(t)
		exitAfter := time.Since(signalled)
		outcome := "finished before the signal"
		// A signal that lands before main installs its handler (the first
		// milliseconds) gets the default action: killed, silently, having
		// done nothing yet.
		ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		early := sig == syscall.SIGINT && ws.Signaled() && ws.Signal() == syscall.SIGINT
		switch {
		case early:
			outcome = "killed before its handler was installed"
		case r.code != 0:
			outcome = "interrupted"
		}
		stats[sigName+" "+outcome]++
		if !hit {
			stats[label[strings.Index(label, "(")+1:len(label)-1]+": exited before the moment came"]++
		}

		// The image: the previous one or a complete new one, or absent
		// when there was none and the build did not finish.
		switch b, err := os.ReadFile(out); {
		case os.IsNotExist(err):
			if hadImage {
				t.Errorf("%s: the previous image was removed", label)
			}
			if r.code == 0 {
				t.Errorf("%s: smith exited 0 without writing the image", label)
			}
		case err != nil:
			t.Fatal(err)
		case sha256Hex(b) != ref:
			t.Errorf("%s: the image is torn or different: %d bytes (want %d), sha256 %s", label, len(b), refSize, sha256Hex(b))
		}
		notOld := func(p string) bool { return !slices.Contains(oldTemps, p) }
		temps := slices.DeleteFunc(outputEntries(t, outDir, "image.tar.gz"), func(p string) bool { return !notOld(p) })
		cacheTemps := slices.DeleteFunc(checkCache(t, cache), func(p string) bool { return !notOld(p) })
		if sig == syscall.SIGINT {
			if exitAfter > 2*time.Second {
				t.Errorf("%s: exited %v after SIGINT", label, exitAfter)
			}
			if r.code != 0 && !early {
				line := stderrError(t, r)
				if !regexp.MustCompile(`(?i)interrupt|cancel|signal`).MatchString(line) {
					t.Errorf("%s: error line %q does not say the build was interrupted", label, line)
				}
				if stats["SIGINT interrupted"] == 1 {
					t.Logf("%s: exited %v after the signal: %s", label, exitAfter.Round(time.Millisecond), line)
				}
			}
			if len(temps) != 0 {
				t.Errorf("%s: temporary files left after SIGINT: %q", label, temps)
			}
			if len(cacheTemps) != 0 {
				t.Errorf("%s: temporary files left in the cache after SIGINT: %q", label, cacheTemps)
			}
		} else {
			if len(temps) > 0 {
				stats["SIGKILL left a temporary image file"]++
			}
			if len(cacheTemps) > 0 {
				stats["SIGKILL left a temporary file in the cache"]++
			}
		}
		if i%4 == 3 || i == runs-1 {
			if sha, _ := build(fmt.Sprintf("complete build after %s", label)); sha != ref {
				t.Errorf("complete build after %s: image %s, want %s", label, sha, ref)
			}
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range stats {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("%3d × %s", stats[k], k)
	}
	if left := checkCache(t, cache); len(left) > 0 {
		// repo names its downloads ".download-*" and never removes those
		// a killed run left; they are harmless (never read) but pile up.
		t.Logf("note: %d temporary files of killed downloads remain in the cache after a complete build: %q", len(left), left)
	}
	if stats["SIGKILL left a temporary image file"] == 0 {
		t.Log("note: no SIGKILL landed while the image was written; the cleanup of a killed write was not exercised this time")
	}
}

func fileSize(t testing.TB, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestConcurrentBuilds runs 4 builds at once on one cache directory and one
// output directory, first with a cold cache and different output names,
// then again cold with the same output name: every build succeeds, all
// images are byte-identical (so are their digests), the cache holds only
// verified blobs, and nothing is left beside the images.
func TestConcurrentBuilds(t *testing.T) {
	repo := distroRepo(t)
	srv := serveDir(t, repo, serveOpts{latency: 2 * time.Millisecond, rate: 16 << 20})
	root := scratch(t)
	dir, outDir, cache := filepath.Join(root, "build"), filepath.Join(root, "out"), filepath.Join(root, "cache")
	writeCatDir(t, dir, "")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 4
	parallel := func(names []string) []result {
		var wg sync.WaitGroup
		rs := make([]result, n)
		ps := make([]*started, n)
		for i := range n {
			env := cleanEnv(scratch(t))
			ps[i] = startSmith(t, env, append(archArgs(), "-d", dir, "-i", filepath.Join(outDir, names[i]), "--repo", srv.URL+"/", "--cache-dir", cache)...)
		}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs[i] = ps[i].wait(t)
			}()
		}
		wg.Wait()
		return rs
	}
	check := func(phase string, names []string, rs []result) string {
		t.Helper()
		var sha string
		for i, r := range rs {
			if r.code != 0 {
				t.Errorf("%s: build %d: %s", phase, i, r)
				continue
			}
			got := fileSHA(t, filepath.Join(outDir, names[i]))
			if sha == "" {
				sha = got
			} else if got != sha {
				t.Errorf("%s: %s has sha256 %s, %s has %s", phase, names[i], got, names[0], sha)
			}
		}
		if temps := checkCache(t, cache); len(temps) != 0 {
			t.Errorf("%s: temporary files left in the cache: %q", phase, temps)
		}
		es, _ := os.ReadDir(outDir)
		var left []string
		for _, e := range es {
			if !strings.HasSuffix(e.Name(), ".tar.gz") || strings.HasPrefix(e.Name(), ".") {
				left = append(left, e.Name())
			}
		}
		if len(left) != 0 {
			t.Errorf("%s: unexpected files beside the images: %q", phase, left)
		}
		return sha
	}

	names := []string{"a.tar.gz", "b.tar.gz", "c.tar.gz", "d.tar.gz"}
	shaA := check("different names, cold cache", names, parallel(names))
	im := readImage(t, filepath.Join(outDir, "a.tar.gz"))
	checkMicrocontainer(t, im, 0)

	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	same := []string{"image.tar.gz", "image.tar.gz", "image.tar.gz", "image.tar.gz"}
	shaB := check("same name, cold cache", same, parallel(same))
	if shaA != shaB {
		t.Errorf("same name: image %s, different names: %s", shaB, shaA)
	}
	// And once more on the now warm cache, racing to replace the image.
	shaC := check("same name, warm cache", same, parallel(same))
	if shaC != shaA {
		t.Errorf("warm cache: image %s, want %s", shaC, shaA)
	}
	// A sequential build on the shared cache agrees.
	r := smith(t, runOpts{env: cleanEnv(scratch(t))}, append(archArgs(), "-d", dir, "-i", filepath.Join(outDir, "e.tar.gz"), "--repo", srv.URL+"/", "--cache-dir", cache)...)
	if r.code != 0 || fileSHA(t, filepath.Join(outDir, "e.tar.gz")) != shaA {
		t.Errorf("sequential build after the parallel ones: %s", r)
	}
}

// secrets are the forms a credential can take in output: as written, URL
// escaped, and inside a basic Authorization header.
func secretForms(user string, passwords ...string) []string {
	var out []string
	for _, p := range passwords {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p),
			base64.StdEncoding.EncodeToString([]byte(user+":"+p)))
	}
	return out
}

// findSecrets returns where in b (and, recursively, in the gzip streams and
// tar members it holds) any of secrets occurs, as "where: secret".
func findSecrets(b []byte, where string, secrets []string, depth int) []string {
	var found []string
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			found = append(found, where+": "+s)
		}
	}
	if depth > 4 {
		return found
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if plain, err := io.ReadAll(io.LimitReader(zr, 1<<30)); err == nil {
				found = append(found, findSecrets(plain, where+" (gunzipped)", secrets, depth+1)...)
			}
		}
		return found
	}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		for _, s := range secrets {
			if strings.Contains(hdr.Name, s) || strings.Contains(hdr.Linkname, s) {
				found = append(found, where+"/"+hdr.Name+" (name): "+s)
			}
		}
		if data, err := io.ReadAll(tr); err == nil && len(data) > 0 {
			found = append(found, findSecrets(data, where+"/"+hdr.Name, secrets, depth+1)...)
		}
	}
	return found
}

// manifestDigests returns the digests index.json lists in a layout tar.gz.
func manifestDigests(t testing.TB, p string) []string {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var idx ociIndex
	for _, e := range readTarGz(t, raw) {
		if cleanName(e.hdr.Name) == "index.json" {
			if err := json.Unmarshal(e.data, &idx); err != nil {
				t.Fatal(err)
			}
		}
	}
	var out []string
	for _, d := range idx.Manifests {
		out = append(out, d.Digest)
	}
	return out
}

// grepTree returns where secrets occur in the files under root.
func grepTree(t testing.TB, root string, secrets []string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.Contains(d.Name(), s) {
				found = append(found, p+" (name): "+s)
			}
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		found = append(found, findSecrets(b, p, secrets, 0)...)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return found
}

// TestSecretsNeverLeak runs builds, uploads and downloads with credentials
// in URLs (a repository and a registry that both require basic auth; on
// the command line, in smith.yaml, in a .repo file; right, wrong and
// user-only), with and without -v, successful and failing, then greps
// everything smith wrote or printed for the passwords: stdout, stderr, the
// images (config, spec and packages blobs, layers), the cache, the home
// directory. None may appear, in clear, URL-escaped or base64 (an
// Authorization header).
func TestSecretsNeverLeak(t *testing.T) {
	const user = "smith-ci"
	pass := "pw-" + hex.EncodeToString(sha256.New().Sum([]byte(time.Now().String())))[:20] + "@/:x"
	wrong := "wrong-" + pass[3:15]
	token := "tok" + pass[3:15]
	secrets := append(secretForms(user, pass, wrong), token)

	srv := serveDir(t, exampleRepo(), serveOpts{user: user, password: pass})
	host := strings.TrimPrefix(srv.URL, "http://")
	repoURL := func(p string) string { return "http://" + user + ":" + url.QueryEscape(p) + "@" + host + "/" }

	// Inputs (which hold the credentials) under in/, everything smith
	// writes under root/out: the images, the caches, HOME and TMPDIR.
	in, root := scratch(t), scratch(t)
	cache := filepath.Join(root, "cache")
	home := filepath.Join(root, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv(home)
	var outputs []string // everything printed, labelled
	runSmith := func(label string, wantOK bool, args ...string) result {
		t.Helper()
		r := smith(t, runOpts{dir: root, env: env}, args...)
		outputs = append(outputs, fmt.Sprintf("== %s: exit %d\n%s%s", label, r.code, r.stdout, r.stderr))
		if (r.code == 0) != wantOK {
			t.Errorf("%s: want success %v: %s", label, wantOK, r)
		}
		if !wantOK && r.code != 0 {
			t.Logf("%s: %s", label, strings.TrimSpace(r.stderr))
		}
		return r
	}
	build := func(name, extraYAML string, args ...string) string {
		dir := filepath.Join(in, name)
		writeCatDir(t, dir, extraYAML)
		out := filepath.Join(root, name+".tar.gz")
		runSmith(name, true, append([]string{"-d", dir, "-i", out, "--cache-dir", cache}, args...)...)
		return out
	}

	// Builds: --repo, --repo with -v, repos: in smith.yaml, a .repo file.
	img := build("cli", "", "--repo", repoURL(pass))
	build("cli-verbose", "", "-v", "--repo", repoURL(pass))
	build("yaml", "repos:\n- "+repoURL(pass)+"\n")
	build("yaml-name", "repos:\n- name: private\n  baseurl: ["+repoURL(pass)+"]\n")
	repoFile := filepath.Join(in, "private.repo")
	writeFile(t, repoFile, "[private]\nname=private\nbaseurl="+repoURL(pass)+"\ngpgcheck=0\n", 0o644)
	build("repofile", "", "-v", "--repofile", repoFile)

	// Failing builds: a wrong password, a missing path, user-only info.
	fail := func(name string, args ...string) {
		dir := filepath.Join(in, name)
		writeCatDir(t, dir, "")
		runSmith(name, false, append([]string{"-v", "-d", dir, "-i", filepath.Join(root, name+".tar.gz"), "--cache-dir", filepath.Join(root, "cache-"+name)}, args...)...)
	}
	fail("wrong-password", "--repo", repoURL(wrong))
	fail("missing-path", "--repo", strings.TrimSuffix(repoURL(pass), "/")+"/nosuch/")
	fail("token-as-user", "--repo", "http://"+token+"@"+host+"/")
	// A proxy with credentials, from the environment, that refuses the
	// connection (a loopback repository would bypass it).
	proxyEnv := append(slices.Clone(env), "HTTP_PROXY=http://"+user+":"+url.QueryEscape(pass)+"@127.0.0.1:1", "HTTPS_PROXY=http://"+user+":"+url.QueryEscape(pass)+"@127.0.0.1:1")
	func() {
		saved := env
		env = proxyEnv
		defer func() { env = saved }()
		fail("proxy-credentials", "--repo", "http://repo.invalid/el9/")
	}()

	// A registry with basic auth: upload, download, and failures.
	if _, err := exec.LookPath("docker-registry"); err != nil {
		skipOrFail(t, "docker-registry not installed (apt-get install docker-registry)")
	}
	reg := registrytest.Start(t, registrytest.Options{User: user, Password: pass})
	regURL := func(p, ref string) string {
		return "http://" + user + ":" + url.QueryEscape(p) + "@" + reg.Host + "/smith/" + ref
	}
	runSmith("upload", true, "upload", "-i", img, "-r", regURL(pass, "cat:1"))
	runSmith("upload-verbose", true, "-v", "upload", "-i", img, "-r", regURL(pass, "cat:2"))
	runSmith("download", true, "download", "-r", regURL(pass, "cat:1"), "-i", filepath.Join(root, "dl.tar.gz"))
	runSmith("download-verbose", true, "-v", "download", "-r", regURL(pass, "cat:2"), "-i", filepath.Join(root, "dl2.tar.gz"))
	runSmith("upload-wrong-password", false, "-v", "upload", "-i", img, "-r", regURL(wrong, "cat:3"))
	runSmith("download-wrong-password", false, "-v", "download", "-r", regURL(wrong, "cat:1"), "-i", filepath.Join(root, "dl3.tar.gz"))
	runSmith("download-missing-tag", false, "-v", "download", "-r", regURL(pass, "cat:nosuch"), "-i", filepath.Join(root, "dl4.tar.gz"))
	runSmith("upload-token-as-user", false, "-v", "upload", "-i", img, "-r", "http://"+token+"@"+reg.Host+"/smith/cat:4")
	want := readImage(t, img).desc.Digest
	if got := manifestDigests(t, filepath.Join(root, "dl.tar.gz")); !slices.Contains(got, want) {
		t.Errorf("downloaded image holds manifests %q, uploaded %s", got, want)
	}

	// The search reaches into the images: the spec blob of a build from
	// smith.yaml repos: names the repository's host.
	yamlImage, err := os.ReadFile(filepath.Join(root, "yaml.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if hits := findSecrets(yamlImage, "yaml.tar.gz", []string{host}, 0); !slices.ContainsFunc(hits, func(h string) bool {
		return strings.Contains(h, "blobs/sha256/")
	}) {
		t.Errorf("the grep does not see the repository in the spec blob (%q): it would miss a leaked password there", hits)
	}

	var found []string
	for _, o := range outputs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				found = append(found, fmt.Sprintf("output of %s: %s", strings.SplitN(o, "\n", 2)[0], s))
			}
		}
	}
	found = append(found, grepTree(t, root, secrets)...)
	for _, f := range found {
		t.Errorf("secret found: %s", f)
	}
	if len(found) == 0 {
		t.Logf("%d commands, %d secret forms: none in their output or in %s", len(outputs), len(secrets), root)
	}
}

// TestSecretsInQueryString: a token in a repository URL's query string
// (signed URLs, ?token=...) is a credential too: the error names the URL
// of repomd.xml, joined onto the base's path with the query kept, and the
// query's values redacted (issue 7).
func TestSecretsInQueryString(t *testing.T) {
	token := "tok-" + hex.EncodeToString(sha256.New().Sum([]byte(time.Now().String())))[:16]
	srv := serveDir(t, exampleRepo(), serveOpts{})
	dir := filepath.Join(scratch(t), "build")
	writeCatDir(t, dir, "")
	r := smith(t, runOpts{dir: dir}, "--cache-dir", filepath.Join(scratch(t), "cache"), "--repo", srv.URL+"/nosuch/?token="+token)
	if r.code == 0 {
		t.Fatalf("a missing repository built: %s", r)
	}
	line := stderrError(t, r)
	if out := r.stdout + r.stderr; strings.Contains(out, token) {
		t.Errorf("the token is printed: %s", out)
	}
	if !strings.Contains(line, "nosuch/repodata/repomd.xml?token=REDACTED") {
		t.Errorf("error line %q does not show the redacted URL of repomd.xml", line)
	}
}

// hostileRepo writes a repository whose packages are the committed
// example's and whose repodata holds primary (the bytes of the file, named
// primary.xml plus ext) under a repomd.xml that vouches for it with the
// right checksum, so that only the content itself can stop smith. repomd,
// when not empty, replaces the generated repomd.xml.
func hostileRepo(t testing.TB, primary []byte, ext, repomd string) string {
	t.Helper()
	dir := filepath.Join(scratch(t), "repo")
	copyTree(t, filepath.Join(exampleRepo(), "Packages"), filepath.Join(dir, "Packages"))
	sum := sha256.Sum256(primary)
	name := hex.EncodeToString(sum[:]) + "-primary.xml" + ext
	writeFile(t, filepath.Join(dir, "repodata", name), string(primary), 0o644)
	if repomd == "" {
		repomd = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <revision>1</revision>
  <data type="primary">
    <checksum type="sha256">%x</checksum>
    <location href="repodata/%s"/>
    <size>%d</size>
  </data>
</repomd>
`, sum, name, len(primary))
	}
	writeFile(t, filepath.Join(dir, "repodata", "repomd.xml"), repomd, 0o644)
	return dir
}

// billionLaughs is the classic entity bomb: ten levels of ten references,
// a gigabyte of "lol" once expanded, in under a kilobyte.
func billionLaughs(root, use string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>` + "\n<!DOCTYPE " + root + " [\n <!ENTITY lol0 \"lol\">\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, " <!ENTITY lol%d \"%s\">\n", i, strings.Repeat(fmt.Sprintf("&lol%d;", i-1), 10))
	}
	b.WriteString("]>\n")
	return b.String() + strings.ReplaceAll(use, "LOL", "&lol9;")
}

// compressed returns data compressed with gzip or zstd.
func compressed(t testing.TB, kind string, write func(w io.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch kind {
	case "gzip":
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	case "zstd":
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	write(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// repeatWriter writes s n times to w in large pieces.
func repeatTo(w io.Writer, s string, n int) {
	piece := strings.Repeat(s, max(1, (1<<20)/len(s)))
	per := len(piece) / len(s)
	for n > 0 {
		k := min(n, per)
		_, _ = io.WriteString(w, piece[:k*len(s)])
		n -= k
	}
}

// TestHostileMetadata builds from repositories whose metadata is made to
// exhaust the machine: XML entity bombs, documents nested a million deep,
// a single 64 MiB token, metadata that decompresses past the 2 GiB limit
// (repo.DefaultMaxMetadataSize, --max-size on the CLI) or declares
// it, and a local package whose header claims four billion entries. Each
// must fail with one error line naming the file, with a peak RSS far below
// what the input asks for (measured through peakRSS; a normal build of the
// example peaks around 40 MiB).
func TestHostileMetadata(t *testing.T) {
	const metaLimit = 2 << 30 // repo.DefaultMaxMetadataSize
	pkgXML := `<package type="rpm"><name>LOL</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>` +
		`<checksum type="sha256" pkgid="YES">` + strings.Repeat("0", 64) + `</checksum><location href="x.rpm"/></package>`
	cases := []struct {
		name   string
		slow   bool // skipped with -short
		repo   func(t *testing.T) string
		yaml   string // smith.yaml, when not the cat example
		want   string // regexp for the error line
		maxRSS int64
	}{
		{
			name: "billion laughs in repomd.xml",
			repo: func(t *testing.T) string {
				return hostileRepo(t, []byte("<metadata/>"), "", billionLaughs("repomd", `<repomd><revision>LOL</revision></repomd>`))
			},
			want: `repomd\.xml`, maxRSS: 64 << 20,
		},
		{
			name: "repomd.xml nested 2 million deep (16 MiB)",
			repo: func(t *testing.T) string {
				return hostileRepo(t, []byte("<metadata/>"), "", `<?xml version="1.0"?><repomd>`+strings.Repeat("<data>", (16<<20-64)/6))
			},
			// encoding/xml keeps every open element (see TestHostileMetalink).
			want: `repomd\.xml`, maxRSS: 512 << 20,
		},
		{
			name: "billion laughs in primary.xml",
			repo: func(t *testing.T) string {
				return hostileRepo(t, []byte(billionLaughs("metadata", `<metadata packages="1">`+pkgXML+`</metadata>`)), "", "")
			},
			want: `primary\.xml.*(entity|DOCTYPE|DTD)`, maxRSS: 64 << 20,
		},
		{
			name: "primary.xml nested a million deep",
			repo: func(t *testing.T) string {
				return hostileRepo(t, compressed(t, "gzip", func(w io.Writer) {
					io.WriteString(w, `<metadata packages="1">`)
					repeatTo(w, "<a>", 1<<20)
				}), ".gz", "")
			},
			want: `primary\.xml.*nested deeper`, maxRSS: 64 << 20,
		},
		{
			name: "a 64 MiB attribute in primary.xml",
			repo: func(t *testing.T) string {
				return hostileRepo(t, compressed(t, "gzip", func(w io.Writer) {
					io.WriteString(w, `<metadata packages="1"><package type="rpm" x="`)
					repeatTo(w, "x", 64<<20)
				}), ".gz", "")
			},
			want: `primary\.xml.*(token|larger)`, maxRSS: 128 << 20,
		},
		{
			name: "primary.xml.zst of 3 GiB",
			repo: func(t *testing.T) string {
				// One frame whose header states its content size.
				var buf bytes.Buffer
				zw, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
				zw.ResetContentSize(&buf, 3<<30)
				io.WriteString(zw, `<metadata packages="1">`)
				repeatTo(zw, " ", 3<<30-len(`<metadata packages="1">`))
				zw.Close()
				return hostileRepo(t, buf.Bytes(), ".zst", "")
			},
			slow: true,
			want: `primary\.xml.*decompresses to more than 2147483648 bytes`, maxRSS: 128 << 20,
		},
		{
			name: "primary.xml.gz expanding past 2 GiB",
			repo: func(t *testing.T) string {
				return hostileRepo(t, compressed(t, "gzip", func(w io.Writer) {
					io.WriteString(w, `<metadata packages="1">`)
					repeatTo(w, "<!-- -->", metaLimit/8+1)
				}), ".gz", "")
			},
			slow: true,
			want: `primary\.xml.*decompresses to more than 2147483648 bytes`, maxRSS: 128 << 20,
		},
		{
			name: "a local package claiming 4 billion header entries",
			repo: func(t *testing.T) string { return exampleRepo() },
			yaml: "package:\n- ./evil.rpm\npaths:\n- /usr/bin/cat\n",
			want: `evil\.rpm`, maxRSS: 64 << 20,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.slow && testing.Short() {
				t.Skip("slow: writes and reads gigabytes of metadata")
			}
			repo := c.repo(t)
			dir := filepath.Join(scratch(t), "build")
			writeCatDir(t, dir, "")
			if c.yaml != "" {
				writeFile(t, filepath.Join(dir, "smith.yaml"), c.yaml, 0o644)
			}
			lead := make([]byte, 96)
			copy(lead, "\xed\xab\xee\xdb\x03\x00")
			lead[79] = 5
			writeFile(t, filepath.Join(dir, "evil.rpm"), string(lead)+"\x8e\xad\xe8\x01\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x10", 0o644)
			r := peakRSS(t, runOpts{dir: dir}, append(archArgs(), "--repo", repo, "--cache-dir", filepath.Join(scratch(t), "cache"))...)
			if r.code == 0 {
				t.Fatalf("built from hostile metadata: %s", r)
			}
			line := stderrError(t, r)
			if !regexp.MustCompile(c.want).MatchString(line) {
				t.Errorf("error line %q does not match %q", line, c.want)
			}
			if len(line) > 1000 {
				t.Errorf("error line of %d bytes", len(line))
			}
			t.Logf("%s (peak RSS %d MiB, %v)", line, r.maxRSS>>20, r.wall.Round(time.Millisecond))
			if r.maxRSS > c.maxRSS {
				t.Errorf("peak RSS %d MiB, want at most %d MiB", r.maxRSS>>20, c.maxRSS>>20)
			}
		})
	}
}

// TestHostileMetadataXZDictionary: an xz metadata file whose block header
// declares a 4 GiB LZMA2 dictionary. The bytes are few; the decoder must
// not reserve what the header asks. Run under an address-space limit
// (prlimit --as) that a normal build fits in, smith must fail with an error
// line, not be killed by the runtime.
func TestHostileMetadataXZDictionary(t *testing.T) {
	prlimit := needTool(t, "prlimit", "util-linux")
	var buf bytes.Buffer
	xw, err := xz.WriterConfig{DictCap: 1 << 16}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(xw, `<metadata packages="0"></metadata>`)
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Stream header (12 bytes), then the block header: size byte, flags,
	// filter id 0x21, properties size 1, the dictionary byte, padding, CRC32.
	size := (int(b[12]) + 1) * 4
	hdr := b[12 : 12+size]
	if hdr[2] != 0x21 || hdr[3] != 1 {
		t.Fatalf("unexpected xz block header %x", hdr)
	}
	hdr[4] = 40 // 4 GiB - 1
	binary.LittleEndian.PutUint32(hdr[size-4:], crc32.ChecksumIEEE(hdr[:size-4]))
	repo := hostileRepo(t, b, ".xz", "")

	dir := filepath.Join(scratch(t), "build")
	writeCatDir(t, dir, "")
	const as = "1500000000" // bytes of address space; a normal build needs about 1 GB
	args := append([]string{prlimit, "--as=" + as, smithBin}, archArgs()...)
	ok := run(t, runOpts{dir: dir}, append(args, "--repo", exampleRepo(), "--cache-dir", filepath.Join(scratch(t), "cache"))...)
	if ok.code != 0 {
		t.Skipf("a normal build does not fit in --as=%s here: %s", as, ok)
	}
	r := run(t, runOpts{dir: dir}, append(args, "--repo", repo, "--cache-dir", filepath.Join(scratch(t), "cache"))...)
	if r.code == 0 {
		t.Fatalf("built from an empty primary.xml: %s", r)
	}
	if strings.Contains(r.stderr, "fatal error") {
		first := r.stderr[strings.Index(r.stderr, "fatal error"):]
		first, _, _ = strings.Cut(first, "\n")
		t.Fatalf("under prlimit --as=%s smith dies: %s", as, first)
	}
	line := stderrError(t, r)
	if !strings.Contains(line, "primary.xml.xz") {
		t.Errorf("error line %q does not name the file", line)
	}
}

// TestGPGCheckRefuses: with gpgcheck on, a package signed by a key that is
// not the repository's never reaches an image: the build fails naming the
// package and the keys, and writes nothing; with the right key it builds.
func TestGPGCheckRefuses(t *testing.T) {
	shared := needShared(t)
	right := filepath.Join(shared, "testdata", "distro", "RPM-GPG-KEY-testbed")
	wrong := filepath.Join(shared, "testdata", "real", "rpms", "synthetic", "rpm-org", "keys", "rpm.org-rsa-2048-test.pub")
	for _, c := range []struct {
		key  string
		ok   bool
		want string
	}{
		{wrong, false, `coreutils.*signature.*key 5de6817caf487ead`},
		{right, true, ""},
	} {
		dir := filepath.Join(scratch(t), "build")
		writeCatDir(t, dir, "repos:\n- name: r\n  baseurl: ["+exampleRepo()+"]\n  gpgkey: file://"+c.key+"\n  gpgcheck: true\n")
		r := smith(t, runOpts{dir: dir}, "--cache-dir", filepath.Join(scratch(t), "cache"))
		_, statErr := os.Stat(filepath.Join(dir, "image.tar.gz"))
		if c.ok {
			if r.code != 0 || statErr != nil {
				t.Errorf("the signing key: %s", r)
			}
			continue
		}
		if r.code == 0 || statErr == nil {
			t.Fatalf("built with a key that did not sign the packages: %s", r)
		}
		if line := stderrError(t, r); !regexp.MustCompile(c.want).MatchString(line) {
			t.Errorf("error line %q does not match %q", line, c.want)
		}
	}
}

// TestHostileMetalink: a metalink (the mirror list a .repo file's
// metalink= names) that is an XML entity bomb, or nested a million deep,
// fails the build with one line naming it, at a small peak RSS.
func TestHostileMetalink(t *testing.T) {
	for _, c := range []struct{ name, body string }{
		{"billion laughs", billionLaughs("metalink", `<metalink><files><file name="repomd.xml"><size>LOL</size></file></files></metalink>`)},
		{"nested 2 million deep (16 MiB)", `<?xml version="1.0"?><metalink>` + strings.Repeat("<files>", (16<<20-64)/7)},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			dir := filepath.Join(scratch(t), "build")
			writeCatDir(t, dir, "")
			writeFile(t, filepath.Join(dir, "m.repo"), "[m]\nname=m\nmetalink="+srv.URL+"/metalink?repo=x\ngpgcheck=0\n", 0o644)
			r := peakRSS(t, runOpts{dir: dir}, append(archArgs(), "--repofile", "m.repo", "--cache-dir", filepath.Join(scratch(t), "cache"))...)
			if r.code == 0 {
				t.Fatalf("built from a hostile metalink: %s", r)
			}
			line := stderrError(t, r)
			if !strings.Contains(line, "metalink") || len(line) > 1000 {
				t.Errorf("error line %q does not name the metalink", line)
			}
			t.Logf("%s (peak RSS %d MiB)", line, r.maxRSS>>20)
			// repo reads metalinks (at most 16 MiB) with encoding/xml,
			// which keeps every open element: 2 million of them cost
			// about 300 MiB. Bounded by the size limit, if not small.
			if r.maxRSS > 512<<20 {
				t.Errorf("peak RSS %d MiB", r.maxRSS>>20)
			}
		})
	}
}
