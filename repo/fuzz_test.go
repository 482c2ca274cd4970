package repo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// addSeeds adds the files matching the patterns under the shared test data
// (when present), decompressed, up to limit bytes each. Keep seeds small:
// the fuzzer minimizes every input that finds new coverage, and on big
// inputs that takes its whole -fuzzminimizetime each time.
func addSeeds(f *testing.F, limit int, patterns ...string) {
	root := filepath.Join("..", "..", "shared", "testdata")
	for _, pat := range patterns {
		files, _ := filepath.Glob(filepath.Join(root, pat))
		for _, p := range files {
			fh, err := os.Open(p)
			if err != nil {
				continue
			}
			dr, err := decompressor(fh, filepath.Base(p), int64(limit))
			if err == nil {
				b, _ := io.ReadAll(io.LimitReader(dr, int64(limit)))
				f.Add(b)
			}
			fh.Close()
		}
	}
}

func FuzzParseRepomd(f *testing.F) {
	addSeeds(f, 8<<10, "distro/repo*/repodata/repomd.xml", "real/repodata/*/repodata/repomd.xml", "real/repodata/createrepo_c-small/*/repodata/repomd.xml")
	f.Add([]byte(`<repomd><data type="primary"><checksum type="sha">00</checksum><location href="../x"/></data></repomd>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := parseRepomd(data, "repomd.xml")
		if err != nil {
			return
		}
		for _, typ := range md.Types {
			fl := md.Files[typ]
			if fl.checkUsable("repomd.xml") == nil {
				if validChecksum(fl.Checksum) != nil {
					t.Fatalf("usable entry with a bad checksum: %+v", fl)
				}
				if fl.Base == "" && safeRelPath(fl.Location) != nil {
					t.Fatalf("usable entry with an escaping location: %+v", fl)
				}
			}
		}
		parseMetalink(data, "metalink")
	})
}

func FuzzParsePrimary(f *testing.F) {
	addSeeds(f, 8<<10, "distro/repo/repodata/*-primary.xml.gz", "real/repodata/osbuild-custom-zstd/repodata/*-primary.xml.zst",
		"real/repodata/createrepo_c-small/repo_02/repodata/*-primary.xml.gz", "real/repodata/bazeldnf-fedora32-el8-subsets/fedora-release-container.xml")
	f.Add([]byte(fixturePrimary))
	f.Add([]byte(fixtureFilelists))
	f.Add([]byte(`<metadata><package><name>&#x41;&lt;</name><![CDATA[x]]><!-- c --><?pi x?></package></metadata>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parsePrimary(bytes.NewReader(data), "primary.xml", "r")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "primary.xml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Arch == "" || validChecksum(p.Checksum) != nil || p.Arch == "src" {
				t.Fatalf("accepted a bad package: %+v", p)
			}
		}
		// The same document read one byte at a time gives the same result.
		again, err := parsePrimary(&oneByteReader{bytes.NewReader(data)}, "primary.xml", "r")
		if err != nil || len(again) != len(pkgs) {
			t.Fatalf("one-byte reads: %d packages vs %d, %v", len(again), len(pkgs), err)
		}
		parseFilelists(bytes.NewReader(data), "filelists.xml", pkgs)
	})
}

func FuzzParseMetalink(f *testing.F) {
	addSeeds(f, 8<<10, "real/repodata/fedora-32-repomd-metalink/metalink.xml")
	f.Add([]byte(`<metalink><files><file name="repomd.xml"><verification><hash type="sha256">` + strings.Repeat("ab", 32) +
		`</hash></verification><resources><url protocol="https" preference="10">https://m/repodata/repomd.xml</url>` +
		`<url preference="99">ftp://x/</url></resources></file></files></metalink>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ml, err := parseMetalink(data, "metalink.xml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "metalink.xml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(ml.BaseURLs) == 0 {
			t.Fatal("a metalink without mirrors was accepted")
		}
		for _, u := range ml.BaseURLs {
			low := strings.ToLower(u)
			if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") || strings.HasSuffix(u, "repodata/repomd.xml") {
				t.Fatalf("mirror %q", u)
			}
		}
		for _, h := range ml.Hashes {
			if validChecksum(h) != nil {
				t.Fatalf("accepted hash %+v", h)
			}
		}
		// Verifying any bytes against it never panics, and with hashes
		// present, never passes for bytes that match none of them.
		if err := ml.verify(data, "repomd.xml", "m"); err == nil && len(ml.Hashes) > 0 {
			matched := false
			for _, h := range ml.Hashes {
				hh, _ := newHash(h.Type)
				hh.Write(data)
				if fmt.Sprintf("%x", hh.Sum(nil)) == strings.ToLower(h.Value) {
					matched = true
				}
			}
			if !matched {
				t.Fatal("verified bytes that match no hash")
			}
		}
	})
}

func FuzzParseFilelists(f *testing.F) {
	addSeeds(f, 8<<10, "distro/repo/repodata/*-filelists.xml.gz", "real/repodata/createrepo_c-small/repo_02/repodata/*-filelists.xml.gz")
	f.Add([]byte(fixtureFilelists))
	f.Add([]byte(`<filelists><package pkgid="x" name="hello" arch="x86_64"><version epoch="0" ver="1" rel="1"/><file>/a</file><file>/a</file></package></filelists>`))
	pkgs, err := parsePrimary(strings.NewReader(fixturePrimary), "primary.xml", "r")
	if err != nil {
		f.Fatal(err)
	}
	known := map[*Package]bool{}
	for _, p := range pkgs {
		known[p] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := parseFilelists(bytes.NewReader(data), "filelists.xml", pkgs)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "filelists.xml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for path, owners := range idx {
			for i, p := range owners {
				if !known[p] {
					t.Fatalf("%s: owner %p is none of the packages", path, p)
				}
				if i > 0 && owners[i-1] == p {
					t.Fatalf("%s: %s listed twice in a row", path, p.NEVRA())
				}
			}
		}
		// The same document read one byte at a time gives the same index.
		again, err := parseFilelists(&oneByteReader{bytes.NewReader(data)}, "filelists.xml", pkgs)
		if err != nil || len(again) != len(idx) {
			t.Fatalf("one-byte reads: %d paths vs %d, %v", len(again), len(idx), err)
		}
	})
}

func FuzzParseRepoFile(f *testing.F) {
	f.Add([]byte("[main]\ngpgcheck=1\n[r]\nname=R $releasever\nbaseurl=http://h/$basearch/\n  file:///x\nenabled=0\nmetadata_expire=1d\n"))
	f.Add([]byte("[r]\nbaseurl=${releasever:-9}/${x:+y}/$\nexclude=a,b c\npriority=5\n"))
	f.Add([]byte("config_opts['dnf.conf'] = '''\n[r]\nbaseurl=x\n''' \"\" + ('a')\ninclude(x)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vars := map[string]string{"releasever": "9", "basearch": "x86_64"}
		srcs, err := ParseRepoFile(bytes.NewReader(data), "f.repo", vars)
		if err == nil {
			seen := map[string]bool{}
			for _, s := range srcs {
				if s.ID == "" || s.ID == "main" || seen[s.ID] || checkRepoID(s.ID) != nil {
					t.Fatalf("bad source %+v", s)
				}
				seen[s.ID] = true
			}
		}
		// The mock parser must not panic either; includes are relative
		// to a directory that does not exist.
		ParseMockConfig(bytes.NewReader(data), filepath.Join(t.TempDir(), "none", "m.cfg"), vars)
	})
}

func FuzzLoadRPM(f *testing.F) {
	root := filepath.Join("..", "..", "shared", "testdata", "real", "rpms")
	for _, pat := range []string{"synthetic/rpm-org/hello-2.0-1.x86_64.rpm", "synthetic/go-rpmutils/*.rpm", "distro/centos/centos-release-3.1-1.i386.rpm"} {
		files, _ := filepath.Glob(filepath.Join(root, pat))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 8<<10 {
				f.Add(b)
			}
		}
	}
	f.Add(buildRPM(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readRPM(bytes.NewReader(data), "f.rpm")
		if err != nil {
			if !strings.Contains(err.Error(), "f.rpm") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if p.Name == "" || p.Version == "" || p.Arch == "" {
			t.Fatalf("accepted a package without identity: %+v", p)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "-1", " 3 ", "soon"} {
		f.Add(s)
	}
	now := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if d < 0 || !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", s, d, ok)
		}
		// Small delta-seconds are read exactly.
		if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil && strings.Trim(strings.TrimSpace(s), "0123456789") == "" {
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v, %v; want %d s", s, d, ok, n)
			}
		}
	})
}
