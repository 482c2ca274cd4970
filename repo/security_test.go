package repo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBaseAtKeepsQuery(t *testing.T) {
	for in, want := range map[string]string{
		"http://h/p/?token=X":  "http://h/p/repodata/repomd.xml?token=X",
		"http://h/p?token=X#f": "http://h/p/repodata/repomd.xml?token=X",
		"http://u:p@h/p":       "http://h/p/repodata/repomd.xml",
	} {
		b, err := parseBase(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.at("repodata/repomd.xml"); got != want {
			t.Errorf("parseBase(%q).at = %q, want %q", in, got, want)
		}
		if strings.Contains(b.shown, "X") || strings.Contains(b.shown, "u:p") {
			t.Errorf("parseBase(%q).shown = %q shows a secret", in, b.shown)
		}
	}
}

func TestSmallXMLDepthBound(t *testing.T) {
	deep := `<?xml version="1.0"?><repomd>` + strings.Repeat("<data>", 100000)
	if _, err := parseRepomd([]byte(deep), "repodata/repomd.xml"); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep repomd.xml: %v", err)
	}
	if _, err := parseMetalink([]byte(`<metalink>`+strings.Repeat("<files>", 100)), "http://h/metalink"); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep metalink: %v", err)
	}
	ok := `<?xml version="1.0"?><repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm"><revision>7</revision>` +
		`<data type="primary"><checksum type="sha256">` + strings.Repeat("a", 64) + `</checksum><location href="repodata/p.xml.gz"/><size>1</size></data></repomd>`
	md, err := parseRepomd([]byte(ok), "repomd.xml")
	if err != nil || md.Revision != "7" || md.Files["primary"].Location != "repodata/p.xml.gz" {
		t.Errorf("parseRepomd = %+v, %v", md, err)
	}
}

func TestCleanCacheTemps(t *testing.T) {
	cache := t.TempDir()
	blobs := filepath.Join(cache, "blobs", "sha256")
	meta := filepath.Join(cache, "meta")
	for _, d := range []string{blobs, meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dead := []string{filepath.Join(blobs, ".download-123"), filepath.Join(meta, ".tmp-456")}
	for _, p := range dead {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(blobs, strings.Repeat("a", 64))
	if err := os.WriteFile(keep, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	live, unlock, err := createLockedTemp(blobs, tempDownload)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	live.Close() // the writer closes before renaming; the lock stays
	sw := new(tempSweeper)
	sw.sweep(cache)
	for _, p := range dead {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("stale %s left", p)
		}
	}
	for _, p := range []string{keep, live.Name()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	// Once per sweeper (per build).
	os.WriteFile(dead[0], nil, 0o644)
	sw.sweep(cache)
	if _, err := os.Stat(dead[0]); err != nil {
		t.Errorf("second clean of the same cache ran: %v", err)
	}
	new(tempSweeper).sweep(cache)
	if _, err := os.Stat(dead[0]); err == nil {
		t.Errorf("a new sweeper (the next build) did not clean %s", dead[0])
	}
}

// TestLoadAllSweepsPerCall: each LoadAll (each build) sweeps the cache
// once, shared by its repositories, also when one process runs several
// builds (a process-wide "already swept" set made the second build skip
// it).
func TestLoadAllSweepsPerCall(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	stale := filepath.Join(cache, "meta", ".tmp-stale")
	srcs := []Source{{ID: "a", BaseURLs: []string{dir}, Enabled: true}, {ID: "b", BaseURLs: []string{dir}, Enabled: true}}
	for i := range 2 {
		if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAll(context.Background(), srcs, Options{CacheDir: cache}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(stale); err == nil {
			t.Errorf("LoadAll %d left the stale %s", i+1, stale)
		}
	}
}
