package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testUser     = "builder"
	testPassword = "s3cret-pw"
)

// testServer serves a directory over HTTP with basic auth, counts requests
// per path, and can be told to fail or lie for given paths.
type testServer struct {
	*httptest.Server
	mu      sync.Mutex
	counts  map[string]int
	fail    map[string]int    // path -> number of 503s still to send
	replace map[string][]byte // path -> bytes to serve instead
	down    bool
}

func newTestServer(t *testing.T, dir string) *testServer {
	ts := &testServer{counts: map[string]int{}, fail: map[string]int{}, replace: map[string][]byte{}}
	files := http.FileServer(http.Dir(dir))
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.counts[r.URL.Path]++
		fail := ts.fail[r.URL.Path] > 0
		if fail {
			ts.fail[r.URL.Path]--
		}
		repl, lie := ts.replace[r.URL.Path]
		down := ts.down
		ts.mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch {
		case down:
			// Simulate an unreachable server: drop the connection.
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		case fail:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case lie:
			w.Write(repl)
		default:
			files.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) count(path string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.counts[path]
}

func (ts *testServer) set(f func(ts *testServer)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f(ts)
}

// authURL is the server URL with credentials, as a user would write it.
func (ts *testServer) authURL(path string) string {
	return strings.Replace(ts.URL, "http://", "http://"+testUser+":"+testPassword+"@", 1) + path
}

// collectWarnings returns Options whose warnings are recorded and checked
// for leaked credentials.
func httpOptions(t *testing.T, cache string) (Options, *[]string) {
	var mu sync.Mutex
	var warns []string
	opt := Options{
		CacheDir:   cache,
		Client:     &http.Client{Timeout: 10 * time.Second},
		retryDelay: time.Millisecond,
		Warn: func(m string) {
			mu.Lock()
			defer mu.Unlock()
			if strings.Contains(m, testPassword) {
				t.Errorf("warning leaks the password: %s", m)
			}
			warns = append(warns, m)
		},
	}
	return opt, &warns
}

func noLeak(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testPassword) {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestHTTPLoadOpenCache(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "zstd")
	ts := newTestServer(t, dir)
	cache := t.TempDir()
	opt, warns := httpOptions(t, cache)
	ctx := context.Background()
	src := Source{ID: "web", BaseURLs: []string{ts.authURL("/")}}

	r, err := Load(ctx, src, opt)
	noLeak(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := derefAll(r.Packages), wantFixturePackages(); !reflect.DeepEqual(got, relabel(want, "web")) {
		t.Fatalf("packages differ from the local load:\n%+v", got)
	}
	if strings.Contains(r.BaseURL, testPassword) {
		t.Errorf("BaseURL shows the password: %s", r.BaseURL)
	}
	ps, err := r.FileProviders(ctx, "/usr/share/hello/greeting.txt")
	if err != nil || len(ps) != 1 {
		t.Fatalf("FileProviders: %v %v", nevras(ps), err)
	}
	ix := &Index{Repos: []*Repo{r}}
	for round := 0; round < 2; round++ {
		for _, p := range r.Packages {
			rc, err := ix.Open(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != fixturePackages[p.Location] {
				t.Fatalf("%s: got %q", p.NEVRA(), b)
			}
		}
	}
	for _, p := range r.Packages {
		if n := ts.count("/" + p.Location); n != 1 {
			t.Errorf("%s downloaded %d times, want once (cache)", p.Location, n)
		}
		if _, err := os.Stat(filepath.Join(cache, "blobs", p.Checksum.Type, p.Checksum.Value)); err != nil {
			t.Errorf("not in the cache: %v", err)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(cache, "blobs", "*", ".download-*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// A second load revalidates repomd.xml and takes primary from the cache.
	primPath := ""
	for p := range ts.counts {
		if strings.Contains(p, "primary") {
			primPath = p
		}
	}
	// Within metadata_expire (dnf's default 48 hours) a second load asks
	// the server nothing.
	if _, err := Load(ctx, src, opt); err != nil {
		t.Fatal(err)
	}
	if n := ts.count("/repodata/repomd.xml"); n != 1 {
		t.Errorf("repomd.xml requested %d times within metadata_expire, want 1", n)
	}
	// After it, repomd.xml is revalidated and primary comes from the
	// cache; so it is with Refresh (dnf --refresh).
	later := time.Now().Add(DefaultMetadataExpire + time.Hour)
	opt.Now = func() time.Time { return later }
	if _, err := Load(ctx, src, opt); err != nil {
		t.Fatal(err)
	}
	if n := ts.count("/repodata/repomd.xml"); n != 2 {
		t.Errorf("repomd.xml requested %d times after metadata_expire, want 2", n)
	}
	if _, err := Load(ctx, src, opt); err != nil {
		t.Fatal(err)
	}
	if n := ts.count("/repodata/repomd.xml"); n != 2 {
		t.Errorf("repomd.xml requested %d times, want 2 (revalidated just before)", n)
	}
	ropt := opt
	ropt.Refresh = true
	if _, err := Load(ctx, src, ropt); err != nil {
		t.Fatal(err)
	}
	if n := ts.count("/repodata/repomd.xml"); n != 3 {
		t.Errorf("repomd.xml requested %d times with Refresh, want 3", n)
	}
	if n := ts.count(primPath); n != 1 {
		t.Errorf("primary downloaded %d times, want once", n)
	}

	// With the server unreachable, expired cached metadata still loads,
	// with a warning.
	later = later.Add(DefaultMetadataExpire + time.Hour)
	ts.set(func(ts *testServer) { ts.down = true })
	r3, err := Load(ctx, src, opt)
	noLeak(t, err)
	if err != nil {
		t.Fatalf("offline load: %v", err)
	}
	if len(r3.Packages) != 3 || len(*warns) == 0 || !strings.Contains((*warns)[len(*warns)-1], "cached repomd.xml") {
		t.Errorf("offline load: %d packages, warnings %q", len(r3.Packages), *warns)
	}
}

// relabel sets the Repo of fixture packages.
func relabel(ps []Package, id string) []Package {
	for i := range ps {
		ps[i].Repo = id
	}
	return ps
}

func TestHTTPFailures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")

	t.Run("bad credentials", func(t *testing.T) {
		ts := newTestServer(t, dir)
		opt, _ := httpOptions(t, "")
		url := strings.Replace(ts.authURL("/"), testPassword, "wrong-"+testPassword, 1)
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{url}}, opt)
		noLeak(t, err)
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "credentials") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("username option", func(t *testing.T) {
		ts := newTestServer(t, dir)
		opt, _ := httpOptions(t, "")
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.URL}, Username: testUser, Password: testPassword}, opt)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("retry 503", func(t *testing.T) {
		ts := newTestServer(t, dir)
		ts.set(func(ts *testServer) { ts.fail["/repodata/repomd.xml"] = 2 })
		opt, _ := httpOptions(t, t.TempDir())
		if _, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/")}}, opt); err != nil {
			t.Fatal(err)
		}
		if n := ts.count("/repodata/repomd.xml"); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("give up after retries", func(t *testing.T) {
		ts := newTestServer(t, dir)
		ts.set(func(ts *testServer) { ts.fail["/repodata/repomd.xml"] = 100 })
		opt, _ := httpOptions(t, "")
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/")}}, opt)
		noLeak(t, err)
		if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "3 attempts") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("404 repomd", func(t *testing.T) {
		ts := newTestServer(t, dir)
		opt, _ := httpOptions(t, "")
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/nothing/here/")}}, opt)
		noLeak(t, err)
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("want *NotFoundError, got %v", err)
		}
	})
	t.Run("mirror fallback", func(t *testing.T) {
		ts := newTestServer(t, dir)
		ts.set(func(ts *testServer) { ts.fail["/broken/repodata/repomd.xml"] = 100 })
		opt, _ := httpOptions(t, "")
		r, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/broken/"), ts.authURL("/")}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Packages) != 3 {
			t.Fatal(len(r.Packages))
		}
	})
	t.Run("lying package server", func(t *testing.T) {
		ts := newTestServer(t, dir)
		cache := t.TempDir()
		opt, _ := httpOptions(t, cache)
		r, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/")}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		p := r.Packages[0]
		// As long as the real file, so that only the checksum can tell.
		ts.set(func(ts *testServer) { ts.replace["/"+p.Location] = []byte(strings.Repeat("!", int(p.Size))) })
		_, err = (&Index{Repos: []*Repo{r}}).Open(ctx, p)
		noLeak(t, err)
		var ce *ChecksumError
		if !errors.As(err, &ce) {
			t.Fatalf("want *ChecksumError, got %v", err)
		}
		if ce.File != p.NEVRA() || !strings.Contains(ce.URL, p.Location) || ce.Expected != p.Checksum {
			t.Errorf("%+v", ce)
		}
		if _, err := os.Stat(filepath.Join(cache, "blobs", p.Checksum.Type, p.Checksum.Value)); !os.IsNotExist(err) {
			t.Errorf("bad bytes reached the cache: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(cache, "blobs", "*", ".download-*")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("damaged cache entry", func(t *testing.T) {
		ts := newTestServer(t, dir)
		cache := t.TempDir()
		opt, warns := httpOptions(t, cache)
		r, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/")}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		p := r.Packages[1]
		ix := &Index{Repos: []*Repo{r}}
		rc, err := ix.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		os.WriteFile(filepath.Join(cache, "blobs", p.Checksum.Type, p.Checksum.Value), []byte("rot"), 0o644)
		rc, err = ix.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != fixturePackages[p.Location] || ts.count("/"+p.Location) != 2 || len(*warns) == 0 {
			t.Errorf("got %q after %d downloads, warnings %q", b, ts.count("/"+p.Location), *warns)
		}
	})
	t.Run("no cache", func(t *testing.T) {
		ts := newTestServer(t, dir)
		opt, _ := httpOptions(t, "")
		r, err := Load(ctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/")}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := (&Index{Repos: []*Repo{r}}).Open(ctx, r.Packages[0])
		if err != nil {
			t.Fatal(err)
		}
		name := rc.(*removeOnClose).Name()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != fixturePackages[r.Packages[0].Location] {
			t.Errorf("got %q", b)
		}
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Errorf("temporary file %s left behind", name)
		}
	})
	t.Run("metalink", func(t *testing.T) {
		ts := newTestServer(t, dir)
		repomd, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
		sum := sha256.Sum256(repomd)
		ml := func(hash string) string {
			return fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files><file name="repomd.xml">
  <verification><hash type="md5">0123</hash><hash type="sha256">%s</hash></verification>
  <resources>
   <url protocol="rsync" preference="100">rsync://nowhere/repodata/repomd.xml</url>
   <url protocol="http" preference="90">%s</url>
  </resources>
 </file></files>
</metalink>`, hash, ts.authURL("/repodata/repomd.xml"))
		}
		mlDir := t.TempDir()
		writeFile(t, filepath.Join(mlDir, "good.xml"), []byte(ml(hex.EncodeToString(sum[:]))))
		writeFile(t, filepath.Join(mlDir, "bad.xml"), []byte(ml(strings.Repeat("0", 64))))
		opt, _ := httpOptions(t, "")
		r, err := Load(ctx, Source{ID: "x", Metalink: filepath.Join(mlDir, "good.xml")}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Packages) != 3 {
			t.Fatal(len(r.Packages))
		}
		// Over HTTP, with a query string as mirrormanager URLs have.
		writeFile(t, filepath.Join(dir, "metalink"), []byte(ml(hex.EncodeToString(sum[:]))))
		defer os.Remove(filepath.Join(dir, "metalink"))
		if _, err := Load(ctx, Source{ID: "x", Metalink: ts.authURL("/metalink?repo=fedora-40&arch=x86_64")}, opt); err != nil {
			t.Fatal(err)
		}
		_, err = Load(ctx, Source{ID: "x", Metalink: "file://" + filepath.Join(mlDir, "bad.xml")}, opt)
		noLeak(t, err)
		var ce *ChecksumError
		if !errors.As(err, &ce) {
			t.Fatalf("want *ChecksumError, got %v", err)
		}
	})
	t.Run("mirrorlist", func(t *testing.T) {
		ts := newTestServer(t, dir)
		mlDir := t.TempDir()
		writeFile(t, filepath.Join(mlDir, "mirrors"), []byte("# mirrors\n\n"+ts.authURL("/")+"\n"))
		opt, _ := httpOptions(t, "")
		r, err := Load(ctx, Source{ID: "x", Mirrorlist: filepath.Join(mlDir, "mirrors")}, opt)
		if err != nil || len(r.Packages) != 3 {
			t.Fatal(err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ts := newTestServer(t, dir)
		ts.set(func(ts *testServer) { ts.fail["/repodata/repomd.xml"] = 100 })
		opt, _ := httpOptions(t, "")
		opt.retryDelay = time.Hour
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := Load(cctx, Source{ID: "x", BaseURLs: []string{ts.authURL("/")}}, opt)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestLoadAll(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	opt, warns := httpOptions(t, "")
	srcs := []Source{
		{ID: "a", BaseURLs: []string{dir}, Enabled: true},
		{ID: "off", BaseURLs: []string{"/nonexistent"}, Enabled: false},
		{ID: "gone", BaseURLs: []string{"/nonexistent"}, Enabled: true, SkipIfUnavailable: true},
		{ID: "b", BaseURLs: []string{dir}, Enabled: true},
	}
	repos, err := LoadAll(context.Background(), srcs, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 2 || repos[0].Source.ID != "a" || repos[1].Source.ID != "b" || len(*warns) != 1 {
		t.Fatalf("repos %d, warnings %q", len(repos), *warns)
	}
	srcs[2].SkipIfUnavailable = false
	if _, err := LoadAll(context.Background(), srcs, opt); err == nil || !strings.Contains(err.Error(), "repo gone") {
		t.Fatalf("got %v", err)
	}
}

// TestHTTPDistro serves the test bed repository over HTTP: the result must
// equal the local load, and a package must download and verify.
func TestHTTPDistro(t *testing.T) {
	dir := sharedTestdata(t, "distro", "repo")
	ctx := context.Background()
	local, err := Load(ctx, Source{ID: "tb", BaseURLs: []string{dir}}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, dir)
	opt, _ := httpOptions(t, t.TempDir())
	remote, err := Load(ctx, Source{ID: "tb", BaseURLs: []string{ts.authURL("/")}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(derefAll(local.Packages), derefAll(remote.Packages)) {
		t.Fatal("remote load differs from local load")
	}
	ix := &Index{Repos: []*Repo{remote}}
	for _, p := range remote.Packages[:3] {
		rc, err := ix.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		if n != p.Size {
			t.Errorf("%s: %d bytes, want %d", p.NEVRA(), n, p.Size)
		}
	}
}
