package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func parseFixture(t testing.TB) []*Package {
	t.Helper()
	pkgs, err := parsePrimary(strings.NewReader(fixturePrimary), "primary.xml", "fx")
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func TestIndexRoundTrip(t *testing.T) {
	check := func(t *testing.T, pkgs []*Package) {
		data := encodeIndex(pkgs)
		got, _, err := decodeIndex(data, pkgs[0].Repo)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, pkgs) {
			for i := range pkgs {
				if i < len(got) && !reflect.DeepEqual(got[i], pkgs[i]) {
					t.Fatalf("package %d:\n got %+v\nwant %+v", i, *got[i], *pkgs[i])
				}
			}
			t.Fatalf("%d packages decoded, %d encoded", len(got), len(pkgs))
		}
		// A decoded relation list is capped: appending to it must not
		// overwrite the next package's.
		for _, p := range got {
			if cap(p.Requires) != len(p.Requires) || cap(p.Files) != len(p.Files) {
				t.Fatalf("%s: slices not capped", p.NEVRA())
			}
		}
	}
	t.Run("fixture", func(t *testing.T) { check(t, parseFixture(t)) })
	for _, d := range []string{"centos-stream-9-baseos-20220207", "centos-stream-9-appstream-202501"} {
		t.Run(d, func(t *testing.T) {
			if testing.Short() && strings.Contains(d, "appstream") {
				t.Skip("17,649 packages")
			}
			r, err := Load(context.Background(), Source{ID: d, BaseURLs: []string{sharedTestdata(t, "real", "repodata", d)}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Packages {
				p.Priority, p.Cost = 0, 0 // not part of the index
			}
			check(t, r.Packages)
		})
	}
}

// loadFixtureCached loads the fixture repository in dir with the cache.
func loadFixtureCached(t *testing.T, dir, cache string, src Source) (*Repo, []string) {
	t.Helper()
	var warnings []string
	src.ID, src.BaseURLs = "fx", []string{dir}
	r, err := Load(context.Background(), src, Options{CacheDir: cache, Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	return r, warnings
}

func indexFiles(t *testing.T, cache string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(cache, "index", "*.idx"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func comparable(pkgs []*Package) []Package {
	out := make([]Package, len(pkgs))
	for i, p := range pkgs {
		out[i] = *p
	}
	return out
}

func TestLoadUsesIndexCache(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	cold, warnings := loadFixtureCached(t, dir, cache, Source{})
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	files := indexFiles(t, cache)
	if len(files) != 1 || !strings.Contains(files[0], "sha256-") {
		t.Fatalf("index files: %q", files)
	}
	// The warm load must not need primary.xml at all: remove it.
	prims, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-primary.xml.gz"))
	if len(prims) != 1 {
		t.Fatalf("primary files: %q", prims)
	}
	if err := os.Remove(prims[0]); err != nil {
		t.Fatal(err)
	}
	warm, _ := loadFixtureCached(t, dir, cache, Source{})
	if !reflect.DeepEqual(comparable(warm.Packages), comparable(cold.Packages)) {
		t.Fatalf("warm load differs:\n%+v\n%+v", comparable(warm.Packages), comparable(cold.Packages))
	}
	// Priority, cost and excludepkgs belong to the source, not the index.
	src := Source{Priority: 7, Cost: 3, ExcludePkgs: []string{"hello"}}
	warm, _ = loadFixtureCached(t, dir, cache, src)
	for _, p := range warm.Packages {
		if p.Name == "hello" || p.Priority != 7 || p.Cost != 3 || p.Repo != "fx" {
			t.Errorf("warm load with source settings: %+v", *p)
		}
	}
	if len(warm.Packages) != len(cold.Packages)-1 {
		t.Errorf("excludepkgs: %d packages, want %d", len(warm.Packages), len(cold.Packages)-1)
	}
	// File lists still come from filelists.xml.
	ps, err := warm.FileProviders(context.Background(), "/usr/share/zoneinfo/UTC")
	if err != nil || len(ps) != 1 {
		t.Errorf("file providers: %v, %v", nevras(ps), err)
	}
}

// TestIndexCacheDamaged: a damaged, truncated or foreign index is ignored
// and rebuilt from primary.xml; damage is reported, another format version
// is not.
func TestIndexCacheDamaged(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	writeFixtureRepo(t, dir, "xz")
	cold, _ := loadFixtureCached(t, dir, cache, Source{})
	idx := indexFiles(t, cache)[0]
	good, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x40
	version := bytes.Clone(good)
	binary.LittleEndian.PutUint32(version[len(indexMagic):], indexFormat+1)
	for _, tc := range []struct {
		name string
		data []byte
		warn bool
	}{
		{"flipped bit", flip, true},
		{"truncated", good[:len(good)/3], true},
		{"empty", nil, true},
		{"not an index", []byte("<metadata/>"), true},
		{"other version", version, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(idx, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, warnings := loadFixtureCached(t, dir, cache, Source{})
			if !reflect.DeepEqual(comparable(r.Packages), comparable(cold.Packages)) {
				t.Fatalf("packages differ after a damaged index")
			}
			if got := len(warnings) == 1 && strings.Contains(warnings[0], "ignoring the cached package index"); got != tc.warn {
				t.Errorf("warnings %q (want a warning: %v)", warnings, tc.warn)
			}
			again, err := os.ReadFile(idx)
			if err != nil || !bytes.Equal(again, good) {
				t.Errorf("index not rebuilt (%v)", err)
			}
		})
	}
}

func TestIndexCacheUnwritable(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir, cache := t.TempDir(), t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	if err := os.Chmod(cache, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(cache, 0o755)
	r, warnings := loadFixtureCached(t, dir, cache, Source{})
	if len(r.Packages) == 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "caching the package index") {
		t.Errorf("%d packages, warnings %q", len(r.Packages), warnings)
	}
}

// FuzzDecodeIndex: the decoder is fed untrusted bytes. It must not panic,
// and whatever it accepts must encode back to an index that decodes to the
// same packages. Each input is tried as it is and with its CRC fixed, so
// that the fuzzer gets past the checksum into the decoder.
func FuzzDecodeIndex(f *testing.F) {
	f.Add(encodeIndex(parseFixture(f)))
	f.Add(encodeIndex(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		fixed := bytes.Clone(data)
		if len(fixed) >= 4 {
			binary.LittleEndian.PutUint32(fixed[len(fixed)-4:], crc32.Checksum(fixed[:len(fixed)-4], crc32c))
		}
		for _, d := range [][]byte{data, fixed} {
			pkgs, ts, err := decodeIndex(d, "f")
			if err != nil {
				continue
			}
			// Lookups in whatever tables it accepted must not panic.
			ts.provides.lookup(pkgs, "hello", provideKey, func(*Package, int) {})
			ts.files.lookup(pkgs, "/usr/bin/hello", fileKey, func(*Package, int) {})
			again, _, err := decodeIndex(encodeIndex(pkgs), "f")
			if err != nil || !reflect.DeepEqual(again, pkgs) {
				t.Fatalf("accepted index does not round-trip: %v", err)
			}
		}
	})
}
