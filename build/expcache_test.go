package build

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// expandedEntries lists the expanded-package cache's entries.
func expandedEntries(t *testing.T, cacheDir string) []string {
	return cacheEntries(t, filepath.Join(cacheDir, expandedDir))
}

// cacheEntries lists the entries of a derived cache directory (not its
// temporary files or prune mark).
func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".") {
			out = append(out, filepath.Join(dir, de.Name()))
		}
	}
	return out
}

// TestExpandedCache: the first build fills the cache with one entry per
// package, the second uses it (the packages are not read: they can be
// gone) and writes the same bytes; a damaged entry is a warning, is
// replaced, and changes nothing; a killed build's temporary file goes.
func TestExpandedCache(t *testing.T) {
	t.Parallel()
	dir := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	// A copy of the repository, so that its packages can be removed.
	repoDir := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(repoDir, os.DirFS(testRepo(t))); err != nil {
		t.Fatal(err)
	}
	o := opts(t, dir, repoDir)
	res, _ := runBuild(t, o)
	first := fileSHA(t, o.Image)
	entries := expandedEntries(t, o.CacheDir)
	if len(entries) != len(res.Packages) {
		t.Fatalf("%d cache entries for %d packages", len(entries), len(res.Packages))
	}

	// The second build reads no package: remove them all.
	rpms, _ := filepath.Glob(filepath.Join(repoDir, "*", "*.rpm"))
	more, _ := filepath.Glob(filepath.Join(repoDir, "*.rpm"))
	if rpms = append(rpms, more...); len(rpms) == 0 {
		t.Fatal("no packages found in the copied repository")
	}
	for _, p := range rpms {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, w := runBuild(t, o); w != "warning: repository repo has no gpgkey; packages are not signature-checked\n" {
		t.Errorf("warnings: %q", w)
	}
	if fileSHA(t, o.Image) != first {
		t.Error("the build from the cache differs")
	}

	// A damaged entry, with its package back in place.
	os.RemoveAll(repoDir)
	if err := os.CopyFS(repoDir, os.DirFS(testRepo(t))); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(entries[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(o.CacheDir, expandedDir, ".x"+cacheTempInfix+"123")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, w := runBuild(t, o)
	if !strings.Contains(w, "CRC-32C mismatch; extracting the package again") {
		t.Errorf("warnings: %q", w)
	}
	if fileSHA(t, o.Image) != first {
		t.Error("the build with a damaged entry differs")
	}
	if _, w := runBuild(t, o); strings.Contains(w, "extracting the package again") {
		t.Errorf("the damaged entry was not replaced: %q", w)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a killed build's temporary file was left")
	}
}

// TestExpandedCacheTrust: an entry made without a signature check does
// not serve a build that asks for one, even when someone planted it.
func TestExpandedCacheTrust(t *testing.T) {
	t.Parallel()
	distro := filepath.Join(sharedTestdataDir(), "distro")
	if _, err := os.Stat(filepath.Join(distro, "repo", "repodata", "repomd.xml")); err != nil {
		t.Skipf("shared test data absent (%v): skipping", err)
	}
	base := catYAML + "arch: x86_64\nrepos:\n- name: tb\n  baseurl: " + filepath.Join(distro, "repo") + "\n"
	unsigned := project(t, base, map[string]string{})
	signed := project(t, base+"  gpgkey: file://"+filepath.Join(distro, "RPM-GPG-KEY-testbed")+"\n", map[string]string{})
	cache := t.TempDir()

	o := opts(t, unsigned)
	o.CacheDir = cache
	runBuild(t, o)
	plain := expandedEntries(t, cache)
	if len(plain) == 0 {
		t.Fatal("no cache entries")
	}
	// Plant: every unsigned-build entry replaced by the same broken one
	// (were it used, the build would fail or differ).
	for _, e := range plain {
		if err := os.WriteFile(e, []byte("planted"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := opts(t, signed)
	s.CacheDir = cache
	var warn bytes.Buffer
	s.Warn = &warn
	if _, err := Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if warn.Len() != 0 {
		t.Errorf("the signed build looked at the unsigned build's entries: %s", warn.String())
	}
	if got := expandedEntries(t, cache); len(got) != 2*len(plain) {
		t.Errorf("%d entries after the signed build, want %d", len(got), 2*len(plain))
	}
}

// TestLayerCache: a rebuild takes the compressed layer from the cache;
// a damaged entry is a warning, is replaced, and changes nothing.
func TestLayerCache(t *testing.T) {
	t.Parallel()
	dir := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	o := opts(t, dir, testRepo(t))
	runBuild(t, o)
	first := fileSHA(t, o.Image)
	entries := cacheEntries(t, filepath.Join(o.CacheDir, layersDir))
	if len(entries) != 1 {
		t.Fatalf("layer cache entries %v", entries)
	}
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { b[len(b)-10] ^= 1; return b },      // the gzip bytes
		func(b []byte) []byte { return append([]byte("x"), b...) }, // the digest line
		func(b []byte) []byte { return b[:len(b)/2] },              // torn
	} {
		data, err := os.ReadFile(entries[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(entries[0], damage(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, w := runBuild(t, o); !strings.Contains(w, "compressing it again") {
			t.Errorf("warnings: %q", w)
		}
		if fileSHA(t, o.Image) != first {
			t.Error("the build with a damaged layer entry differs")
		}
		if _, w := runBuild(t, o); strings.Contains(w, "compressing it again") {
			t.Errorf("the damaged entry was not replaced: %q", w)
		}
	}
}

// Entries unused for cacheUnusedFor go, at most once a day, at the end of
// a build; a build that uses an entry keeps it.
func TestCachePrune(t *testing.T) {
	t.Parallel()
	dir := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	o := opts(t, dir, testRepo(t))
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	o.Repo.Now = func() time.Time { return now }
	runBuild(t, o)
	expanded := expandedEntries(t, o.CacheDir)
	layers := cacheEntries(t, filepath.Join(o.CacheDir, layersDir))
	if len(expanded) == 0 || len(layers) != 1 {
		t.Fatalf("%d expanded, %d layer entries", len(expanded), len(layers))
	}
	// A stale entry of another build, and one used again later.
	stale := filepath.Join(o.CacheDir, expandedDir, "stale")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-cacheUnusedFor - time.Hour)
	for _, p := range append(append([]string{stale}, expanded...), layers...) {
		os.Chtimes(p, old, old)
	}
	// 40 days on, a warm build uses its entries (marking them), then
	// prunes.
	now = now.Add(40 * 24 * time.Hour)
	runBuild(t, o)
	if _, err := os.Stat(stale); err == nil {
		t.Error("an entry unused for 40 days was kept")
	}
	for _, p := range append(expanded, layers...) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("an entry used by the last build was removed: %v", err)
		}
	}
	// Within a day, no second prune: an old entry survives.
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(stale, old, old)
	now = now.Add(time.Hour)
	os.RemoveAll(filepath.Join(o.CacheDir, layersDir))
	runBuild(t, o)
	if _, err := os.Stat(stale); err != nil {
		t.Error("pruned twice within a day")
	}
}

// A post-build script that rewrites a package's file (same size, so that
// only the content differs) must not get the layer of the tree before it:
// the file's known SHA256 is dropped with its old data.
func TestLayerCacheScriptChangesContent(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	cache := t.TempDir()
	plain := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	o := opts(t, plain, testRepo(t))
	o.CacheDir = cache
	runBuild(t, o)
	first := fileSHA(t, o.Image)

	script := catYAML + "mock:\n  post-build: |\n    set -e\n    n=$(wc -c < \"$1/usr/bin/cat\")\n    head -c \"$n\" /dev/zero > \"$1/usr/bin/cat\"\n"
	changed := project(t, script, map[string]string{"rootfs/read/data": "Hello World!\n"})
	c := opts(t, changed, testRepo(t))
	c.CacheDir = cache
	runBuild(t, c)
	if fileSHA(t, c.Image) == first {
		t.Fatal("the script's change was lost: the cached layer of the unchanged tree was used")
	}
	fresh := opts(t, changed, testRepo(t))
	fresh.Image = filepath.Join(t.TempDir(), "fresh.tar.gz")
	runBuild(t, fresh)
	if fileSHA(t, fresh.Image) != fileSHA(t, c.Image) {
		t.Error("the build with the shared cache differs from one with a fresh cache")
	}
}
