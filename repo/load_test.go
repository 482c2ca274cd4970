package repo

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/smith-build/smith/dep"
)

// sharedTestdata returns ../../shared/testdata (the work tree's sibling), or
// skips the test when it is absent.
func sharedTestdata(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "shared", "testdata"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data not available: %v", err)
	}
	return p
}

func testOptions(t testing.TB) Options {
	return Options{Warn: func(m string) { t.Log("warning:", m) }}
}

func TestFixtureBzip2(t *testing.T) {
	b, _ := compressFixture(t, "bzip2", fixturePrimary)
	got, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != fixturePrimary {
		t.Fatalf("fixturePrimaryBzip2 is stale; regenerate it from:\n%s", fixturePrimary)
	}
}

func wantFixturePackages() []Package {
	return []Package{{
		Name: "hello", EVR: dep.EVR{Epoch: "0", Version: "2.0", Release: "1.el9"}, Arch: "x86_64",
		Provides: []dep.Relation{
			{Name: "hello", Flags: dep.EQ, EVR: dep.EVR{Epoch: "0", Version: "2.0", Release: "1.el9"}},
			{Name: "greeter"},
		},
		Requires: []dep.Relation{
			{Name: "/bin/sh", Pre: true},
			{Name: "libc.so.6(GLIBC_2.34)(64bit)"},
			{Name: "(coreutils >= 9 or busybox)"},
			{Name: "tzdata", Flags: dep.GE, EVR: dep.EVR{Epoch: "1", Version: "2024a", Release: "1"}},
		},
		Conflicts:   []dep.Relation{{Name: "hello-legacy", Flags: dep.LT, EVR: dep.EVR{Epoch: "0", Version: "2"}}},
		Obsoletes:   []dep.Relation{{Name: "hello-old", Flags: dep.LE, EVR: dep.EVR{Epoch: "0", Version: "1.9"}}},
		Recommends:  []dep.Relation{{Name: "hello-doc"}},
		Suggests:    []dep.Relation{{Name: "hello-fr"}},
		Supplements: []dep.Relation{{Name: "(hello-base and lang)"}},
		Enhances:    []dep.Relation{{Name: "shell", Flags: dep.GT, EVR: dep.EVR{Epoch: "0", Version: "1"}}},
		Files:       []string{"/usr/bin/hello", "/etc/hello"},
		Location:    "Packages/h/hello-2.0-1.el9.x86_64.rpm",
		Checksum:    Checksum{"sha256", "296ed7a0eb402f2ead1e61164b004148a25c52c1df4d5dcfec8419307fcdebbc"},
		Size:        20,
		Repo:        "fx",
		Priority:    DefaultPriority,
		Cost:        DefaultCost,
	}, {
		Name: "tzdata", EVR: dep.EVR{Epoch: "1", Version: "2024a", Release: "1"}, Arch: "noarch",
		Provides: []dep.Relation{{Name: "tzdata", Flags: dep.EQ, EVR: dep.EVR{Epoch: "1", Version: "2024a", Release: "1"}}},
		Location: "Packages/t/tzdata-2024a-1.noarch.rpm",
		Checksum: Checksum{"sha1", "99c94427072578215c4c9c948989e2d838e2eec3"},
		Size:     21,
		Repo:     "fx",
		Priority: DefaultPriority,
		Cost:     DefaultCost,
	}, {
		Name: "empty", EVR: dep.EVR{Version: "1", Release: "0"}, Arch: "noarch",
		Location: "Packages/e/empty-1-0.noarch.rpm",
		Checksum: Checksum{"sha512", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
		Repo:     "fx",
		Priority: DefaultPriority,
		Cost:     DefaultCost,
	}}
}

func derefAll(ps []*Package) []Package {
	out := make([]Package, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

func nevras(ps []*Package) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.NEVRA())
	}
	return out
}

func TestLoadFixtureAllCompressions(t *testing.T) {
	for _, comp := range []string{"plain", "gzip", "xz", "zstd", "bzip2"} {
		t.Run(comp, func(t *testing.T) {
			dir := t.TempDir()
			writeFixtureRepo(t, dir, comp)
			src := Source{ID: "fx", BaseURLs: []string{dir}, Enabled: true}
			r, err := Load(context.Background(), src, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			if r.Revision != "42" || r.BaseURL != dir {
				t.Errorf("revision %q base %q", r.Revision, r.BaseURL)
			}
			if got, want := derefAll(r.Packages), wantFixturePackages(); !reflect.DeepEqual(got, want) {
				t.Fatalf("packages:\n got %+v\nwant %+v", got, want)
			}
			ctx := context.Background()
			for path, want := range map[string][]string{
				"/usr/share/hello/greeting.txt": {"hello-2.0-1.el9.x86_64"}, // only in filelists
				"/etc/hello":                    {"hello-2.0-1.el9.x86_64", "tzdata-1:2024a-1.noarch"},
				"/usr/share/zoneinfo/UTC":       {"tzdata-1:2024a-1.noarch"}, // matched by NEVRA
				"hello.spec":                    nil,                         // src package
				"/nonexistent":                  nil,
			} {
				got, err := r.FileProviders(ctx, path)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(nevras(got), want) {
					t.Errorf("FileProviders(%s) = %v, want %v", path, nevras(got), want)
				}
			}
			// Every package opens and reads back as the fixture bytes.
			ix := &Index{Repos: []*Repo{r}}
			for _, p := range ix.Packages() {
				rc, err := ix.Open(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if string(b) != fixturePackages[p.Location] {
					t.Errorf("%s: read %q", p.NEVRA(), b)
				}
			}
		})
	}
}

func TestLoadFixtureErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("missing repomd", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{dir}}, testOptions(t))
		var nf *NotFoundError
		if !errors.As(err, &nf) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("want *NotFoundError wrapping ErrNotExist, got %v", err)
		}
		if !strings.Contains(err.Error(), "repo x:") || !strings.Contains(err.Error(), "createrepo_c") {
			t.Errorf("message lacks context or advice: %v", err)
		}
	})
	t.Run("wrong primary checksum", func(t *testing.T) {
		dir := t.TempDir()
		writeFixtureRepo(t, dir, "gzip")
		prim, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-primary.xml.gz"))
		b, _ := os.ReadFile(prim[0])
		b[len(b)-5] ^= 0xff
		writeFile(t, prim[0], b)
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{dir}}, testOptions(t))
		var ce *ChecksumError
		if !errors.As(err, &ce) {
			t.Fatalf("want *ChecksumError, got %v", err)
		}
		if ce.Expected.Type != "sha256" || ce.Expected.Value == ce.Actual.Value || !strings.Contains(ce.File, "primary.xml.gz") {
			t.Errorf("bad error fields: %+v", ce)
		}
	})
	t.Run("truncated gzip", func(t *testing.T) {
		// A correct checksum over a truncated file: the generator's bug,
		// not the transport's. It must fail cleanly at decompression.
		dir := t.TempDir()
		writeFixtureRepo(t, dir, "gzip")
		prim, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-primary.xml.gz"))
		b, _ := os.ReadFile(prim[0])
		b = b[:len(b)/2]
		os.Remove(prim[0])
		repomd, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
		old := filepath.Base(prim[0])
		oldSum := strings.TrimSuffix(old, "-primary.xml.gz")
		newName := sha256hex(b) + "-primary.xml.gz"
		writeFile(t, filepath.Join(dir, "repodata", newName), b)
		s := strings.ReplaceAll(string(repomd), old, newName)
		s = strings.Replace(s, oldSum, sha256hex(b), 1)
		s = strings.Replace(s, "<size>", "<size>0", 1) // size is informational for local files
		writeFile(t, filepath.Join(dir, "repodata", "repomd.xml"), []byte(s))
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{dir}}, testOptions(t))
		if err == nil || !strings.Contains(err.Error(), "unexpected EOF") || !strings.Contains(err.Error(), "primary.xml.gz") {
			t.Fatalf("want an unexpected EOF naming the file, got %v", err)
		}
	})
	t.Run("wrong package checksum", func(t *testing.T) {
		dir := t.TempDir()
		writeFixtureRepo(t, dir, "plain")
		r, err := Load(ctx, Source{ID: "x", BaseURLs: []string{dir}}, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, r.Packages[0].Location), []byte("tampered"))
		ix := &Index{Repos: []*Repo{r}}
		_, err = ix.Open(ctx, r.Packages[0])
		var ce *ChecksumError
		if !errors.As(err, &ce) || ce.File != "hello-2.0-1.el9.x86_64" {
			t.Fatalf("want *ChecksumError naming the package, got %v", err)
		}
	})
	t.Run("missing package", func(t *testing.T) {
		dir := t.TempDir()
		writeFixtureRepo(t, dir, "plain")
		r, err := Load(ctx, Source{ID: "x", BaseURLs: []string{dir}}, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, r.Packages[0].Location))
		_, err = (&Index{Repos: []*Repo{r}}).Open(ctx, r.Packages[0])
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("want *NotFoundError, got %v", err)
		}
	})
	t.Run("metadata size limit", func(t *testing.T) {
		dir := t.TempDir()
		writeFixtureRepo(t, dir, "zstd")
		opt := testOptions(t)
		opt.MaxMetadataSize = 1000
		_, err := Load(ctx, Source{ID: "x", BaseURLs: []string{dir}}, opt)
		if err == nil || !strings.Contains(err.Error(), "more than 1000 bytes") {
			t.Fatalf("want a size-limit error, got %v", err)
		}
	})
	t.Run("second base URL", func(t *testing.T) {
		dir := t.TempDir()
		writeFixtureRepo(t, dir, "xz")
		r, err := Load(ctx, Source{ID: "x", BaseURLs: []string{filepath.Join(dir, "nope"), "file://" + dir}}, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Packages) != 3 {
			t.Fatalf("%d packages", len(r.Packages))
		}
	})
}

func TestExcludeInclude(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "plain")
	for _, tc := range []struct {
		exclude, include []string
		want             []string
	}{
		{exclude: []string{"hello"}, want: []string{"tzdata-1:2024a-1.noarch", "empty-1-0.noarch"}},
		{exclude: []string{"*.noarch"}, want: []string{"hello-2.0-1.el9.x86_64"}},
		{include: []string{"tz*", "empty-1-0"}, want: []string{"tzdata-1:2024a-1.noarch", "empty-1-0.noarch"}},
		{exclude: []string{"tzdata"}, include: []string{"tz*", "hello"}, want: []string{"hello-2.0-1.el9.x86_64"}},
	} {
		r, err := Load(context.Background(), Source{ID: "x", BaseURLs: []string{dir}, ExcludePkgs: tc.exclude, IncludePkgs: tc.include}, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := nevras(r.Packages); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("exclude %v include %v: got %v, want %v", tc.exclude, tc.include, got, tc.want)
		}
	}
}

func TestFileProvidersConcurrent(t *testing.T) {
	dir := t.TempDir()
	writeFixtureRepo(t, dir, "gzip")
	r, err := Load(context.Background(), Source{ID: "x", BaseURLs: []string{dir}}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ix := &Index{Repos: []*Repo{r}}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps, err := ix.FileProviders(context.Background(), "/usr/share/zoneinfo/UTC")
			if err != nil || len(ps) != 1 {
				t.Errorf("got %v, %v", nevras(ps), err)
			}
		}()
	}
	wg.Wait()
	// A cancelled first caller must not poison later ones.
	r2, _ := Load(context.Background(), Source{ID: "x", BaseURLs: []string{dir}}, testOptions(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r2.FileProviders(ctx, "/etc/hello")
	if ps, err := r2.FileProviders(context.Background(), "/etc/hello"); err != nil || len(ps) != 2 {
		t.Errorf("after a cancelled call: %v, %v", nevras(ps), err)
	}
}

// TestDistroCompressionsAgree loads the test bed repository in its gz, xz
// and zstd forms: the package lists must be identical.
func TestDistroCompressionsAgree(t *testing.T) {
	var first []Package
	for _, d := range []string{"repo", "repo-xz", "repo-zstd"} {
		dir := sharedTestdata(t, "distro", d)
		r, err := Load(context.Background(), Source{ID: "tb", BaseURLs: []string{dir}}, testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Packages) != 42 {
			t.Fatalf("%s: %d packages, want 42", d, len(r.Packages))
		}
		got := derefAll(r.Packages)
		if first == nil {
			first = got
			continue
		}
		if !reflect.DeepEqual(first, got) {
			t.Errorf("%s differs from repo", d)
		}
	}
}

func TestDistroContent(t *testing.T) {
	dir := sharedTestdata(t, "distro", "repo")
	r, err := Load(context.Background(), Source{ID: "tb", BaseURLs: []string{dir}}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	byNEVRA := map[string]*Package{}
	for _, p := range r.Packages {
		byNEVRA[p.NEVRA()] = p
	}
	for _, n := range []string{"bash-5.2.15-2.el9.x86_64", "bash-5.2.15-3.el9.x86_64", "glibc-2.36-9.el9.i686", "nginx-1:1.22.1-9.el9.x86_64"} {
		if byNEVRA[n] == nil {
			t.Errorf("%s missing; have %v", n, nevras(r.Packages))
		}
	}
	base := byNEVRA["basesystem-11-13.el9.noarch"]
	if base == nil || len(base.Requires) != 2 || !base.Requires[0].Pre || base.Requires[0].Name != "filesystem" {
		t.Errorf("basesystem requires(pre): %+v", base)
	}
	// /usr/share/nginx/html is only in filelists.xml.
	ps, err := r.FileProviders(context.Background(), "/usr/share/nginx/html")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) == 0 {
		t.Fatal("no provider of /usr/share/nginx/html")
	}
	for _, p := range ps {
		if contains(p.Files, "/usr/share/nginx/html") {
			t.Errorf("%s lists /usr/share/nginx/html in primary: the test lost its point", p.NEVRA())
		}
	}
	var rich bool
	for _, p := range r.Packages {
		for _, rel := range p.Requires {
			if strings.HasPrefix(rel.Name, "(") && strings.Contains(rel.Name, " or ") {
				rich = true
			}
		}
	}
	if !rich {
		t.Error("no rich OR requirement found")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRealRepodata loads every real repository snapshot; the counts were
// checked with `zgrep -c '<package type="rpm">'` minus source packages.
func TestRealRepodata(t *testing.T) {
	for _, tc := range []struct {
		dir      string
		packages int
		err      string // substring of the expected error
	}{
		{dir: "centos-stream-9-baseos-20220207", packages: 1125},
		{dir: "centos-stream-9-appstream-202501", packages: 17649},
		{dir: "opensuse-10.2-updates-subset", packages: 19},
		{dir: "opensuse-11.0-update", packages: 2266},
		{dir: "opensuse-obs-virtualbox-11.1", packages: 68},
		{dir: "opensuse-obs-zypp-svn-11.1", packages: 30},
		{dir: "libzypp-delta-clearsigned", packages: 134},
		{dir: "osbuild-custom-zstd", packages: 1},
		{dir: "createrepo_c-small/repo_02", packages: 2},
		{dir: "createrepo_c-small/repo_03", packages: 0},
		{dir: "createrepo_c-small/repo_04", packages: 2},
		{dir: "createrepo_c-small/repo_with_additional_metadata", packages: 1},
		// The gzip file was recompressed after repomd.xml was written: its
		// open-checksum still matches, its checksum does not. dnf refuses
		// it too.
		{dir: "createrepo_c-small/repo_01", err: "checksum mismatch"},
		// Only sqlite metadata.
		{dir: "libdnf-gpg-signed-repomd", err: "no primary metadata"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := sharedTestdata(t, "real", "repodata", tc.dir)
			r, err := Load(context.Background(), NewSource(dir, nil), testOptions(t))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Packages) != tc.packages {
				t.Errorf("%d packages, want %d", len(r.Packages), tc.packages)
			}
			for _, p := range r.Packages {
				if p.Arch == "src" || p.Arch == "nosrc" {
					t.Errorf("source package %s kept", p.NEVRA())
				}
			}
		})
	}
}

func TestRealFilelists(t *testing.T) {
	dir := sharedTestdata(t, "real", "repodata", "centos-stream-9-baseos-20220207")
	r, err := Load(context.Background(), NewSource(dir, nil), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/usr/bin/bash":                   "bash",
		"/lib64/libc.so.6":                "glibc", // CentOS 9 of early 2022 was not usr-merged yet
		"/usr/share/licenses/zlib/README": "zlib",
	} {
		ps, err := r.FileProviders(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 || ps[0].Name != want {
			t.Errorf("FileProviders(%s) = %v, want %s", path, nevras(ps), want)
		}
	}
}
