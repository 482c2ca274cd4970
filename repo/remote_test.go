package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smith-build/smith/internal/pgptest"
	"github.com/smith-build/smith/sig"
)

// fault is what faultServer does to one request.
type fault int

const (
	ok        fault = iota
	status500       // 500 Internal Server Error
	status401       // 401 whatever the credentials
	reset           // headers with the full Content-Length, half the body, connection dropped
	truncate        // no Content-Length, half the body, clean end
	corrupt         // the right length, other bytes
	stall           // nothing at all until the client gives up
	stallBody       // headers and half the body, then nothing
)

// faultServer serves a directory, counts requests per path, tracks how
// many run at once, and applies queued faults per path (one per request).
type faultServer struct {
	*httptest.Server
	dir string

	mu          sync.Mutex
	counts      map[string]int
	faults      map[string][]fault
	always      map[string]fault
	replace     map[string][]byte
	inflight    int
	maxInflight int
	delay       time.Duration // added to every package request
	user, pass  string        // basic auth, when set
}

func newFaultServer(t *testing.T, dir string) *faultServer {
	fs := &faultServer{dir: dir, counts: map[string]int{}, faults: map[string][]fault{},
		always: map[string]fault{}, replace: map[string][]byte{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.Close)
	return fs
}

func (s *faultServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := r.URL.Path
	s.counts[p]++
	f, ok := s.always[p]
	if q := s.faults[p]; len(q) > 0 {
		f, s.faults[p] = q[0], q[1:]
	} else if !ok {
		f = 0
	}
	repl, lie := s.replace[p]
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	delay := s.delay
	user, pass := s.user, s.pass
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if u, pw, _ := r.BasicAuth(); user != "" && (u != user || pw != pass) || f == status401 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if delay > 0 && strings.HasSuffix(p, ".rpm") {
		time.Sleep(delay)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(strings.TrimPrefix(p, "/"))))
	if lie {
		data, err = repl, nil
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	half := data[:len(data)/2]
	switch f {
	case status500:
		http.Error(w, "boom", http.StatusInternalServerError)
	case reset:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(half)
		w.(http.Flusher).Flush()
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	case truncate:
		w.WriteHeader(http.StatusOK)
		w.Write(half)
	case corrupt:
		bad := bytes.Clone(data)
		for i := range bad {
			bad[i] ^= 0x55
		}
		w.Write(bad)
	case stall:
		<-r.Context().Done()
	case stallBody:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(half)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		w.Write(data)
	}
}

func (s *faultServer) count(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[p]
}

func (s *faultServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

func (s *faultServer) queue(p string, fs ...fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[p] = append(s.faults[p], fs...)
}

func (s *faultServer) set(f func(s *faultServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// fastOptions are Options for fault tests: short backoff and timeout.
func fastOptions(t *testing.T, cache string) (Options, *warnings) {
	w := &warnings{}
	return Options{
		CacheDir:   cache,
		retryDelay: time.Millisecond,
		Timeout:    5 * time.Second,
		Warn:       w.add,
	}, w
}

type warnings struct {
	mu sync.Mutex
	l  []string
}

func (w *warnings) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.l = append(w.l, s)
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.l, "\n")
}

// checkCache fails if any cache blob does not match the checksum it is
// named after, or if a temporary file was left.
func checkCache(t *testing.T, cache string) {
	t.Helper()
	filepath.WalkDir(filepath.Join(cache, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left in the cache: %s", p)
			return nil
		}
		typ := filepath.Base(filepath.Dir(p))
		h, err := newHash(typ)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		b, _ := os.ReadFile(p)
		h.Write(b)
		if got := hex.EncodeToString(h.Sum(nil)); got != d.Name() {
			t.Errorf("the cache keeps a bad file: %s has %s:%s", p, typ, got)
		}
		return nil
	})
}

// TestFaults injects transport failures into a package download: each
// either succeeds after a retry or fails with a clear error, and the cache
// never keeps a bad file.
func TestFaults(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	const pkgPath = "/Packages/h/hello-2.0-1.el9.x86_64.rpm"
	for _, tc := range []struct {
		name     string
		faults   []fault
		always   fault
		requests int    // requests for the package, when it succeeds
		err      string // regexp-free substring, when it fails
	}{
		{name: "500 then success", faults: []fault{status500}, requests: 2},
		{name: "500 twice then success", faults: []fault{status500, status500}, requests: 3},
		{name: "500 always", always: status500, err: "500 Internal Server Error (gave up after 3 attempts)"},
		{name: "reset mid-file then success", faults: []fault{reset}, requests: 2},
		{name: "truncated body then success", faults: []fault{truncate}, requests: 2},
		{name: "truncated body always", always: truncate, err: "the body ended after 10 of 20 bytes"},
		{name: "wrong checksum", always: corrupt, err: "checksum mismatch for hello-2.0-1.el9.x86_64"},
		{name: "slow server then success", faults: []fault{stall}, requests: 2},
		{name: "stalled body then success", faults: []fault{stallBody}, requests: 2},
		{name: "slow server always", always: stall, err: "no data for 300ms (timeout"},
		{name: "401", always: status401, err: "401 Unauthorized (check the repository's credentials)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newFaultServer(t, dir)
			cache := t.TempDir()
			opt, _ := fastOptions(t, cache)
			opt.Timeout = 300 * time.Millisecond
			if tc.always != stall && !slices.Contains(tc.faults, stall) && !slices.Contains(tc.faults, stallBody) {
				opt.Timeout = 10 * time.Second // no spurious timeouts on a loaded machine
			}
			r, err := Load(context.Background(), Source{ID: "web", BaseURLs: []string{ts.URL}}, opt)
			if err != nil {
				t.Fatal(err)
			}
			ts.queue(pkgPath, tc.faults...)
			if tc.always != ok {
				ts.set(func(s *faultServer) { s.always[pkgPath] = tc.always })
			}
			p := r.Packages[0]
			rc, err := (&Index{Repos: []*Repo{r}}).Open(context.Background(), p)
			checkCache(t, cache)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if !strings.Contains(err.Error(), "repo web") {
					t.Errorf("the error does not name the repository: %v", err)
				}
				if _, err := os.Stat(filepath.Join(cache, "blobs", p.Checksum.Type, p.Checksum.Value)); err == nil {
					t.Error("the failed file is in the cache")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != fixturePackages[p.Location] {
				t.Errorf("got %q", b)
			}
			if n := ts.count(pkgPath); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

// TestMirrorFailover: a dead first mirror, and one that serves garbage,
// give way to a good one, for metadata and packages.
func TestMirrorFailover(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	good := newFaultServer(t, dir)
	bad := newFaultServer(t, dir)
	bad.set(func(s *faultServer) {
		for loc := range fixturePackages {
			s.always["/"+loc] = corrupt
		}
	})
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connections to it are refused
	opt, _ := fastOptions(t, t.TempDir())
	r, err := Load(context.Background(), Source{ID: "m", BaseURLs: []string{deadURL, good.URL}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	// Packages: the bad mirror first, then the good one.
	r.bases = []base{mustBase(t, deadURL), mustBase(t, bad.URL), mustBase(t, good.URL)}
	ix := &Index{Repos: []*Repo{r}}
	for _, p := range r.Packages {
		rc, err := ix.Open(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	checkCache(t, opt.CacheDir)
	if n := good.count("/Packages/h/hello-2.0-1.el9.x86_64.rpm"); n != 1 {
		t.Errorf("good mirror: %d requests", n)
	}
	// Every mirror failing names each.
	r.bases = []base{mustBase(t, deadURL), mustBase(t, bad.URL)}
	opt.CacheDir = ""
	r2, err := Load(context.Background(), Source{ID: "m", BaseURLs: []string{good.URL}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	r2.bases = r.bases
	_, err = (&Index{Repos: []*Repo{r2}}).Open(context.Background(), r2.Packages[0])
	if err == nil || !strings.Contains(err.Error(), "every mirror failed") || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("got %v", err)
	}
}

func mustBase(t *testing.T, u string) base {
	t.Helper()
	b, err := parseBase(u)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCredentials: 401 without credentials is a clear error that names no
// password; with them (in the URL or as username/password) it works.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	ts := newFaultServer(t, dir)
	ts.set(func(s *faultServer) { s.user, s.pass = "u", "p4ss-w0rd" })
	opt, warns := fastOptions(t, t.TempDir())
	_, err := Load(context.Background(), Source{ID: "a", BaseURLs: []string{ts.URL}}, opt)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("got %v", err)
	}
	withAuth := strings.Replace(ts.URL, "http://", "http://u:p4ss-w0rd@", 1)
	_, err = Load(context.Background(), Source{ID: "a", BaseURLs: []string{strings.Replace(withAuth, "p4ss-w0rd", "wrong", 1)}}, opt)
	if err == nil || strings.Contains(err.Error(), "wrong") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("got %v", err)
	}
	for _, src := range []Source{
		{ID: "a", BaseURLs: []string{withAuth}},
		{ID: "b", BaseURLs: []string{ts.URL}, Username: "u", Password: "p4ss-w0rd"},
	} {
		r, err := Load(context.Background(), src, opt)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := (&Index{Repos: []*Repo{r}}).Open(context.Background(), r.Packages[0])
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if strings.Contains(warns.String(), "p4ss") {
		t.Errorf("a warning shows the password: %s", warns)
	}
}

// TestOffline: nothing in the cache names the missing file; after an online
// load, the cache alone serves metadata and the packages fetched before,
// and a package never fetched is named.
func TestOffline(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	ts := newFaultServer(t, dir)
	cache := t.TempDir()
	opt, _ := fastOptions(t, cache)
	src := Source{ID: "o", BaseURLs: []string{ts.URL}, MetadataExpire: time.Second}
	off := opt
	off.Offline = true
	_, err := Load(context.Background(), src, off)
	var oe *OfflineError
	if !errors.As(err, &oe) || oe.What != "repodata/repomd.xml" || !strings.Contains(err.Error(), cache) {
		t.Fatalf("got %v", err)
	}
	r, err := Load(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	ix := &Index{Repos: []*Repo{r}}
	rc, err := ix.Open(context.Background(), r.Packages[0])
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if files, size := ix.Pending(r.Packages); files != 2 || size != 21 {
		t.Errorf("Pending: %d files, %d bytes; want 2, 21", files, size)
	}
	requests := ts.total()
	// Past metadata_expire, offline still takes the cached metadata.
	later := time.Now().Add(time.Hour)
	off.Now = func() time.Time { return later }
	r, err = Load(context.Background(), src, off)
	if err != nil {
		t.Fatal(err)
	}
	ix = &Index{Repos: []*Repo{r}}
	if rc, err = ix.Open(context.Background(), r.Packages[0]); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	_, err = ix.Open(context.Background(), r.Packages[1])
	if !errors.As(err, &oe) || oe.What != r.Packages[1].NEVRA() || !strings.Contains(err.Error(), "--offline") {
		t.Fatalf("got %v", err)
	}
	if n := ts.total(); n != requests {
		t.Errorf("offline made %d requests", n-requests)
	}
}

// TestConcurrentCache: loads and downloads racing on one cache directory
// download each file once and all get the right bytes. (flock locks are
// per open file, so goroutines exclude each other as processes do.)
func TestConcurrentCache(t *testing.T) {
	dir := sharedTestdata(t, "distro", "repo")
	ts := newFaultServer(t, dir)
	ts.set(func(s *faultServer) { s.delay = 20 * time.Millisecond })
	cache := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt, _ := fastOptions(t, cache)
			r, err := Load(context.Background(), Source{ID: "tb", BaseURLs: []string{ts.URL}}, opt)
			if err != nil {
				errs[i] = err
				return
			}
			ix := &Index{Repos: []*Repo{r}}
			for _, p := range r.Packages[:8] {
				rc, err := ix.Open(context.Background(), p)
				if err != nil {
					errs[i] = err
					return
				}
				n, _ := io.Copy(io.Discard, rc)
				rc.Close()
				if n != p.Size {
					errs[i] = fmt.Errorf("%s: %d bytes", p.NEVRA(), n)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for p, n := range ts.counts {
		if n != 1 {
			t.Errorf("%s requested %d times, want once", p, n)
		}
	}
	checkCache(t, cache)
}

// TestHostLimit: parallel opens never run more than MaxPerHost requests
// at once against one host.
func TestHostLimit(t *testing.T) {
	dir := sharedTestdata(t, "distro", "repo")
	ts := newFaultServer(t, dir)
	ts.set(func(s *faultServer) { s.delay = 30 * time.Millisecond })
	opt, _ := fastOptions(t, t.TempDir())
	opt.MaxPerHost = 2
	r, err := Load(context.Background(), Source{ID: "tb", BaseURLs: []string{ts.URL}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	ix := &Index{Repos: []*Repo{r}}
	var wg sync.WaitGroup
	for _, p := range r.Packages[:10] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := ix.Open(context.Background(), p)
			if err != nil {
				t.Error(err)
				return
			}
			rc.Close()
		}()
	}
	wg.Wait()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.maxInflight != 2 {
		t.Errorf("%d requests at once, want 2", ts.maxInflight)
	}
}

type recordedTransfer struct {
	name       string
	size, got  int64
	err        error
	done, rest bool
}

type recorder struct {
	mu sync.Mutex
	ts []*recordedTransfer
}

func (r *recorder) Start(name string, size int64) Transfer {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &recordedTransfer{name: name, size: size}
	r.ts = append(r.ts, t)
	return &recTransfer{r, t}
}

type recTransfer struct {
	r *recorder
	t *recordedTransfer
}

func (t *recTransfer) Add(n int) {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	t.t.got += int64(n)
}

func (t *recTransfer) Done(err error) {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	if t.t.done {
		t.t.rest = true // Done twice
	}
	t.t.done, t.t.err = true, err
}

// TestProgress: every download is reported with its size and bytes, a
// failed attempt ends with its error, and cache hits report nothing.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	ts := newFaultServer(t, dir)
	opt, _ := fastOptions(t, t.TempDir())
	rec := &recorder{}
	opt.Progress = rec
	r, err := Load(context.Background(), Source{ID: "p", BaseURLs: []string{ts.URL}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	ts.queue("/Packages/h/hello-2.0-1.el9.x86_64.rpm", truncate)
	ix := &Index{Repos: []*Repo{r}}
	for round := 0; round < 2; round++ {
		for _, p := range r.Packages {
			rc, err := ix.Open(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
		}
	}
	var got []string
	for _, tr := range rec.ts {
		if !tr.done || tr.rest {
			t.Errorf("%s: done %v, twice %v", tr.name, tr.done, tr.rest)
		}
		got = append(got, fmt.Sprintf("%s %d/%d %v", tr.name, tr.got, tr.size, tr.err != nil))
	}
	sort.Strings(got)
	want := []string{
		"empty-1-0.noarch 0/0 false",
		"hello-2.0-1.el9.x86_64 10/20 true",
		"hello-2.0-1.el9.x86_64 20/20 false",
		fmt.Sprintf("%s %d/%d false", primaryLocation(t, dir), fileSize(t, dir, primaryLocation(t, dir)), fileSize(t, dir, primaryLocation(t, dir))),
		"tzdata-1:2024a-1.noarch 21/21 false",
	}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("transfers:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func primaryLocation(t *testing.T, dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-primary.xml.gz"))
	if len(m) != 1 {
		t.Fatal(m)
	}
	return "repodata/" + filepath.Base(m[0])
}

func fileSize(t *testing.T, dir, rel string) int64 {
	st, err := os.Stat(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestGPGCheck: with gpgcheck, every signed package of the test bed opens,
// from a local directory and over HTTP (download and cache hit), and the
// unsigned one fails naming the package, the repository and the key; with
// a key that did not sign them, the signing key is named.
func TestGPGCheck(t *testing.T) {
	distro := sharedTestdata(t, "distro")
	repoDir := filepath.Join(distro, "repo")
	key := filepath.Join(distro, "RPM-GPG-KEY-testbed")
	ts := newFaultServer(t, distro)
	opt, _ := fastOptions(t, t.TempDir())
	for _, src := range []Source{
		{ID: "local", BaseURLs: []string{repoDir}, GPGCheck: true, GPGKeys: []string{key}},
		{ID: "http", BaseURLs: []string{ts.URL + "/repo/"}, GPGCheck: true, GPGKeys: []string{ts.URL + "/RPM-GPG-KEY-testbed"}},
		{ID: "file-url", BaseURLs: []string{"file://" + mustAbs(t, repoDir)}, GPGCheck: true, GPGKeys: []string{"file://" + mustAbs(t, key)}},
	} {
		t.Run(src.ID, func(t *testing.T) {
			r, err := Load(context.Background(), src, opt)
			if err != nil {
				t.Fatal(err)
			}
			ix := &Index{Repos: []*Repo{r}}
			for round := 0; round < 2; round++ {
				bad := 0
				for _, p := range r.Packages {
					rc, err := ix.Open(context.Background(), p)
					if p.Name != "webapp-demo" {
						if err != nil {
							t.Fatal(err)
						}
						rc.Close()
						continue
					}
					bad++
					var se *SignatureError
					var un *sig.UnsignedError
					if !errors.As(err, &se) || !errors.As(err, &un) {
						t.Fatalf("want *SignatureError wrapping *sig.UnsignedError, got %v", err)
					}
					for _, s := range []string{p.NEVRA(), "repository " + src.ID, "not signed", "5de6817caf487ead"} {
						if !strings.Contains(err.Error(), s) {
							t.Errorf("%q does not say %q", err, s)
						}
					}
				}
				if bad != 1 {
					t.Fatalf("%d webapp-demo packages", bad)
				}
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		other := sharedTestdata(t, "real", "rpms", "synthetic", "rpm-org", "keys", "rpm.org-rsa-2048-test.pub")
		r, err := Load(context.Background(), Source{ID: "w", BaseURLs: []string{repoDir}, GPGCheck: true, GPGKeys: []string{other}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&Index{Repos: []*Repo{r}}).Open(context.Background(), r.Packages[0])
		var uk *sig.UnknownKeyError
		if !errors.As(err, &uk) || !strings.Contains(err.Error(), "5de6817caf487ead") || !strings.Contains(err.Error(), r.Packages[0].NEVRA()) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		_, err := Load(context.Background(), Source{ID: "n", BaseURLs: []string{repoDir}, GPGCheck: true}, opt)
		if err == nil || !strings.Contains(err.Error(), "no gpgkey") {
			t.Fatalf("got %v", err)
		}
		_, err = Load(context.Background(), Source{ID: "n", BaseURLs: []string{repoDir}, GPGCheck: true, GPGKeys: []string{"/nonexistent/key"}}, opt)
		if err == nil || !strings.Contains(err.Error(), "gpgkey /nonexistent/key") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestGPGCheckTamperedPayload: a package whose signed header is intact but
// whose payload was changed (and whose checksum in primary.xml was made to
// match) fails the signature check, before any caller reads it.
func TestGPGCheckTamperedPayload(t *testing.T) {
	distro := sharedTestdata(t, "distro")
	orig, err := LoadRPMFile(filepath.Join(distro, "repo", "Packages", "h", "hello-sh-1.0-1.el9.noarch.rpm"))
	if err != nil {
		t.Skip(err)
	}
	data, err := os.ReadFile(orig.Location)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-10] ^= 0xff // in the payload
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hello-sh.rpm"), data)
	sum := sha256.Sum256(data)
	p := *orig
	p.Repo, p.Location, p.Checksum = "t", "hello-sh.rpm", Checksum{"sha256", hex.EncodeToString(sum[:])}
	opt, _ := fastOptions(t, "")
	r, err := Load(context.Background(), Source{ID: "t", BaseURLs: []string{filepath.Join(distro, "repo")}, GPGCheck: true,
		GPGKeys: []string{filepath.Join(distro, "RPM-GPG-KEY-testbed")}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	r.bases = []base{mustBase(t, dir)}
	r.Packages = []*Package{&p}
	_, err = (&Index{Repos: []*Repo{r}}).Open(context.Background(), &p)
	var bs *sig.BadSignatureError
	if !errors.As(err, &bs) || !strings.Contains(err.Error(), "payload") {
		t.Fatalf("got %v", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// signedCopy makes a copy of a repository's repodata (packages linked)
// with repomd.xml signed by s.
func signedCopy(t *testing.T, src string, s *pgptest.Key) string {
	dir := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "repodata" {
			if err := os.Symlink(mustAbs(t, filepath.Join(src, e.Name())), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	md, _ := os.ReadDir(filepath.Join(src, "repodata"))
	for _, e := range md {
		b, err := os.ReadFile(filepath.Join(src, "repodata", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "repodata", e.Name()), b)
	}
	repomd, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	writeFile(t, filepath.Join(dir, "repodata", "repomd.xml.asc"), s.Sign(t, repomd))
	writeFile(t, filepath.Join(dir, "key.asc"), s.Public)
	return dir
}

// TestRepoGPGCheck: repomd.xml is trusted only with a good signature by a
// gpgkey: a missing, wrong or foreign signature, or a changed repomd.xml,
// fails with a *SignatureError before anything is parsed; a cached
// repomd.xml whose signature the server has replaced is refetched.
func TestRepoGPGCheck(t *testing.T) {
	s := pgptest.NewKey(t)
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	signed := signedCopy(t, dir, s)
	key := filepath.Join(signed, "key.asc")
	opt, _ := fastOptions(t, t.TempDir())
	src := Source{ID: "s", BaseURLs: []string{signed}, RepoGPGCheck: true, GPGKeys: []string{key}}
	if r, err := Load(context.Background(), src, opt); err != nil || len(r.Packages) != 3 {
		t.Fatalf("signed: %v", err)
	}

	// Over HTTP, through the cache, with the key over HTTP too.
	ts := newFaultServer(t, signed)
	hsrc := Source{ID: "h", BaseURLs: []string{ts.URL}, RepoGPGCheck: true, GPGKeys: []string{ts.URL + "/key.asc"}}
	for i := 0; i < 2; i++ {
		if _, err := Load(context.Background(), hsrc, opt); err != nil {
			t.Fatalf("http load %d: %v", i, err)
		}
	}
	if n := ts.count("/repodata/repomd.xml.asc"); n != 1 {
		t.Errorf("repomd.xml.asc requested %d times, want 1 (cached)", n)
	}

	// The publisher re-signs with a new key, which the user installs: the
	// cached signature (within metadata_expire) no longer verifies, so it
	// is fetched again rather than the repository refused.
	s2 := pgptest.NewKey(t)
	repomd, _ := os.ReadFile(filepath.Join(signed, "repodata", "repomd.xml"))
	ts.set(func(fs *faultServer) { fs.replace["/repodata/repomd.xml.asc"] = s2.Sign(t, repomd) })
	newKey := filepath.Join(t.TempDir(), "new.asc")
	writeFile(t, newKey, s2.Public)
	hsrc.GPGKeys = []string{newKey}
	if _, err := Load(context.Background(), hsrc, opt); err != nil {
		t.Fatalf("re-signed: %v", err)
	}
	if n := ts.count("/repodata/repomd.xml.asc"); n != 2 {
		t.Errorf("repomd.xml.asc requested %d times, want 2", n)
	}

	bad := func(name string, mutate func(dir string), want any) {
		t.Run(name, func(t *testing.T) {
			d := signedCopy(t, dir, s)
			mutate(d)
			_, err := Load(context.Background(), Source{ID: "x", BaseURLs: []string{d}, RepoGPGCheck: true, GPGKeys: []string{filepath.Join(d, "key.asc")}}, opt)
			var se *SignatureError
			if !errors.As(err, &se) || se.File != "repodata/repomd.xml" || se.Repo != "x" {
				t.Fatalf("want *SignatureError for repomd.xml, got %v", err)
			}
			if want != nil && !errors.As(err, want) {
				t.Errorf("want %T in %v", want, err)
			}
		})
	}
	bad("missing .asc", func(d string) { os.Remove(filepath.Join(d, "repodata", "repomd.xml.asc")) }, nil)
	bad("changed repomd.xml", func(d string) {
		p := filepath.Join(d, "repodata", "repomd.xml")
		b, _ := os.ReadFile(p)
		writeFile(t, p, append(b, '\n'))
	}, new(*sig.BadSignatureError))
	bad("foreign signature", func(d string) {
		b, _ := os.ReadFile(filepath.Join(d, "repodata", "repomd.xml"))
		writeFile(t, filepath.Join(d, "repodata", "repomd.xml.asc"), pgptest.NewKey(t).Sign(t, b))
	}, new(*sig.UnknownKeyError))
	t.Run("no key", func(t *testing.T) {
		_, err := Load(context.Background(), Source{ID: "x", BaseURLs: []string{signed}, RepoGPGCheck: true}, opt)
		if err == nil || !strings.Contains(err.Error(), "repo_gpgcheck is on but no gpgkey") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestRepoGPGCheckLibdnf uses libdnf's signed repomd.xml. Its good .asc
// is a SHA-1 signature, which the default policy refuses as current
// Fedora and EL do; the wrong one names its unknown key.
func TestRepoGPGCheckLibdnf(t *testing.T) {
	src := sharedTestdata(t, "real", "repodata", "libdnf-gpg-signed-repomd")
	opt, _ := fastOptions(t, "")
	key := filepath.Join(src, "signing_key.pub")
	_, err := Load(context.Background(), Source{ID: "l", BaseURLs: []string{src}, RepoGPGCheck: true, GPGKeys: []string{key}}, opt)
	var se *SignatureError
	var us *sig.UnsupportedError
	if !errors.As(err, &se) || !errors.As(err, &us) || !strings.Contains(err.Error(), "SHA1") ||
		!strings.Contains(err.Error(), filepath.Join(src, "repodata", "repomd.xml")) {
		t.Fatalf("SHA-1 signature: got %v", err)
	}
	dir := t.TempDir()
	for _, n := range []string{"repomd.xml", "primary.sqlite.bz2"} {
		b, _ := os.ReadFile(filepath.Join(src, "repodata", n))
		writeFile(t, filepath.Join(dir, "repodata", n), b)
	}
	b, _ := os.ReadFile(filepath.Join(src, "wrong-asc", "repomd.xml.asc"))
	writeFile(t, filepath.Join(dir, "repodata", "repomd.xml.asc"), b)
	_, err = Load(context.Background(), Source{ID: "l", BaseURLs: []string{dir}, RepoGPGCheck: true, GPGKeys: []string{key}}, opt)
	if !errors.As(err, &se) {
		t.Fatalf("wrong signature: got %v", err)
	}
	t.Log(err)
}

func TestSetopt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Setopt
		err  string
	}{
		{in: "fedora.gpgcheck=0", want: Setopt{Repo: "fedora", Key: "gpgcheck", Value: "0"}},
		{in: "epel.next.enabled=1", want: Setopt{Repo: "epel.next", Key: "enabled", Value: "1"}},
		{in: "*.PRIORITY = 5", want: Setopt{Repo: "*", Key: "priority", Value: "5"}},
		{in: "gpgcheck=1", want: Setopt{Key: "gpgcheck", Value: "1"}},
		{in: "fedora.gpgchek=0", err: `unknown repository option "gpgchek"`},
		{in: "enabled=0", err: "enabled is a repository option: write REPOID.enabled=0"},
		{in: "fedora.priority=high", err: "invalid number"},
		{in: "nothing", err: "want [REPOID.]KEY=VALUE"},
		{in: "[.gpgcheck=0", err: "bad repository pattern"},
	} {
		got, err := ParseSetopt(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v", tc.in, got, err)
		}
	}

	// In a .repo file: a main setopt is a default that the section's own
	// setting overrides; a repository setopt overrides the section.
	file := "[main]\ngpgcheck=1\n\n[a]\nbaseurl=http://a/$releasever/\ngpgcheck=1\n\n[b]\nbaseurl=http://b/\nenabled=0\n\n[c.x]\nbaseurl=http://c/\n"
	var opts []Setopt
	for _, s := range []string{"gpgcheck=0", "sslverify=0", "b.enabled=1", "c.*.priority=7", "a.baseurl=http://mirror/$releasever/"} {
		o, err := ParseSetopt(s)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, o)
	}
	srcs, err := ParseRepoFile(strings.NewReader(file), "t.repo", map[string]string{"releasever": "9"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range srcs {
		got[s.ID] = fmt.Sprintf("%v %v %v %d %v", s.Enabled, s.GPGCheck, s.InsecureSkipVerify, s.Priority, s.BaseURLs)
	}
	want := map[string]string{
		"a":   "true true true 0 [http://mirror/9/]",
		"b":   "true false true 0 [http://b/]",
		"c.x": "true false true 7 [http://c/]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	src := Source{ID: "cli", GPGCheck: true}
	if err := ApplySetopts(&src, opts, nil); err != nil || src.GPGCheck || !src.InsecureSkipVerify {
		t.Errorf("ApplySetopts: %+v %v", src, err)
	}
}

func TestVars(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "stream"), []byte("9-stream\nignored\n"))
	writeFile(t, filepath.Join(dir, "contentdir"), []byte("centos"))
	writeFile(t, filepath.Join(dir, "bad-name"), []byte("x\n"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	vars, err := ReadVarsDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"stream": "9-stream", "contentdir": "centos"}; !reflect.DeepEqual(vars, want) {
		t.Errorf("got %v", vars)
	}
	if v, err := ReadVarsDir(filepath.Join(dir, "nosuch")); err != nil || len(v) != 0 {
		t.Errorf("missing dir: %v %v", v, err)
	}
	vars["releasever"] = "9.4"
	if got := ExpandVars("http://m/$contentdir/$stream/${releasever_major}/$basearch/", vars); got != "http://m/centos/9-stream/9/$basearch/" {
		t.Errorf("got %s", got)
	}
	_, err = Load(context.Background(), Source{ID: "v", BaseURLs: []string{"http://m/$releasever/os/"}}, Options{})
	if err == nil || !strings.HasSuffix(err.Error(), `baseurl "http://m/$releasever/os/" uses $releasever, which is not set: pass --releasever VER (smith takes it from the host's /etc/os-release only on Fedora, RHEL-like and openSUSE hosts)`) {
		t.Errorf("got %v", err)
	}
	_, err = Load(context.Background(), Source{ID: "v", Metalink: "https://m/metalink?repo=${stream}"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "DNF_VAR_stream") {
		t.Errorf("got %v", err)
	}
}

// TestPriority: packages carry their repository's priority and cost.
func TestPriority(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	repos, err := LoadAll(context.Background(), []Source{
		{ID: "hi", BaseURLs: []string{dir}, Enabled: true, Priority: 10, Cost: 5},
		{ID: "default", BaseURLs: []string{dir}, Enabled: true},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range repos {
		for _, p := range r.Packages {
			want := [2]int{10, 5}
			if r.Source.ID == "default" {
				want = [2]int{DefaultPriority, DefaultCost}
			}
			if got := [2]int{p.Priority, p.Cost}; got != want {
				t.Errorf("%s from %s: priority, cost %v, want %v", p.NEVRA(), r.Source.ID, got, want)
			}
		}
	}
}
