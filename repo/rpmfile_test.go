package repo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/rpmpack"
	"github.com/smith-build/smith/dep"
)

// TestLoadRPMFileMatchesPrimary reads every test bed package header and
// compares it with what createrepo_c wrote into primary.xml.
func TestLoadRPMFileMatchesPrimary(t *testing.T) {
	dir := sharedTestdata(t, "distro", "repo")
	r, err := Load(context.Background(), Source{ID: "tb", BaseURLs: []string{dir}}, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range r.Packages {
		path := filepath.Join(dir, want.Location)
		got, err := LoadRPMFile(path)
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(path)
		if got.Repo != CommandLineRepo || got.Location != abs || got.Checksum != want.Checksum || got.Size != want.Size {
			t.Errorf("%s: repo %q location %q checksum %v size %d", want.NEVRA(), got.Repo, got.Location, got.Checksum, got.Size)
		}
		if got.NEVRA() != want.NEVRA() || got.EVR != want.EVR {
			t.Errorf("NEVRA %s / %+v, want %s / %+v", got.NEVRA(), got.EVR, want.NEVRA(), want.EVR)
		}
		// createrepo_c copies these lists as they are (sorted the same way)...
		for name, pair := range map[string][2][]dep.Relation{
			"provides":    {got.Provides, want.Provides},
			"conflicts":   {got.Conflicts, want.Conflicts},
			"obsoletes":   {got.Obsoletes, want.Obsoletes},
			"recommends":  {got.Recommends, want.Recommends},
			"suggests":    {got.Suggests, want.Suggests},
			"supplements": {got.Supplements, want.Supplements},
			"enhances":    {got.Enhances, want.Enhances},
		} {
			if !sameRelations(pair[0], pair[1]) {
				t.Errorf("%s %s:\n got %+v\nwant %+v", want.NEVRA(), name, pair[0], pair[1])
			}
		}
		// ...but drops requirements from requires (older libc.so.6
		// versions, duplicates), so primary's must be a subset.
		for _, req := range want.Requires {
			if !containsRelation(got.Requires, req) {
				t.Errorf("%s: requirement %+v missing from the header's %+v", want.NEVRA(), req, got.Requires)
			}
		}
		// primary lists a subset of the files.
		for _, f := range want.Files {
			if !contains(got.Files, f) {
				t.Errorf("%s: file %s missing", want.NEVRA(), f)
			}
		}
		// and filelists.xml lists them all.
		for _, f := range got.Files {
			ps, err := r.FileProviders(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if !containsPkg(ps, want) {
				t.Errorf("%s: filelists.xml does not list %s", want.NEVRA(), f)
				break
			}
		}
	}
}

func sameRelations(a, b []dep.Relation) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	sortRel := func(rs []dep.Relation) []dep.Relation {
		c := append([]dep.Relation(nil), rs...)
		sort.Slice(c, func(i, j int) bool { return c[i].Name < c[j].Name })
		return c
	}
	return reflect.DeepEqual(sortRel(a), sortRel(b))
}

func containsRelation(rs []dep.Relation, r dep.Relation) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func containsPkg(ps []*Package, p *Package) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// TestLoadRPMFileReal reads every real RPM: none may panic; the broken ones
// must fail with an error naming the file.
func TestLoadRPMFileReal(t *testing.T) {
	root := sharedTestdata(t, "real", "rpms")
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.Base(p), ".rpm") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 50 {
		t.Fatalf("only %d files found", len(files))
	}
	ok := 0
	for _, f := range files {
		p, err := LoadRPMFile(f)
		base := filepath.Base(f)
		broken := strings.Contains(f, "scancode-truncated") || strings.Contains(base, "corrupted")
		source := strings.Contains(base, ".src.rpm")
		switch {
		case err != nil:
			if !strings.Contains(err.Error(), base) {
				t.Errorf("%s: error does not name the file: %v", base, err)
			}
			if !broken && !source {
				t.Logf("%s: %v", base, err)
			}
		case broken:
			t.Errorf("%s: broken file accepted as %s", base, p.NEVRA())
		case source:
			t.Errorf("%s: source package accepted", base)
		default:
			ok++
			if p.Name == "" || p.Version == "" || p.Arch == "" || len(p.Provides) == 0 {
				t.Errorf("%s: thin package %+v", base, p)
			}
		}
	}
	t.Logf("%d of %d packages read", ok, len(files))
	if ok < 40 {
		t.Errorf("only %d packages read", ok)
	}
}

func TestLoadRPMFileCorrupted(t *testing.T) {
	f := filepath.Join(sharedTestdata(t, "real", "rpms", "synthetic", "rpm-org"), "hello-2.0-1.x86_64-corrupted.rpm")
	_, err := LoadRPMFile(f)
	var ce *ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "payload") || !strings.Contains(err.Error(), "corrupted") {
		t.Fatalf("want a payload *ChecksumError, got %v", err)
	}
}

// buildRPM makes a small real RPM with rpmpack.
func buildRPM(t testing.TB) []byte {
	t.Helper()
	rel := func(s string) *rpmpack.Relation {
		r, err := rpmpack.NewRelation(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{
		Name: "tiny", Version: "1.2", Release: "3", Arch: "x86_64", Epoch: 2,
		BuildTime:  time.Unix(0, 0),
		Compressor: "gzip",
		Provides:   rpmpack.Relations{rel("tiny-api=1.0")},
		Requires:   rpmpack.Relations{rel("libc.so.6()(64bit)"), rel("bash>=5.1-2"), rel("(a or b)")},
		Conflicts:  rpmpack.Relations{rel("tiny-old<1")},
		Recommends: rpmpack.Relations{rel("tiny-doc")},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.AddFile(rpmpack.RPMFile{Name: "/usr/bin/tiny", Body: []byte("#!/bin/sh\necho tiny\n"), Mode: 0o100755})
	r.AddFile(rpmpack.RPMFile{Name: "/etc/tiny.conf", Body: []byte("x=1\n"), Mode: 0o100644})
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadRPMFileHermetic(t *testing.T) {
	data := buildRPM(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.rpm")
	writeFile(t, path, data)
	p, err := LoadRPMFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.NEVRA() != "tiny-2:1.2-3.x86_64" || p.Size != int64(len(data)) || p.Checksum != (Checksum{"sha256", sha256hex(data)}) {
		t.Errorf("%s %d %v", p.NEVRA(), p.Size, p.Checksum)
	}
	if !containsRelation(p.Requires, dep.Relation{Name: "bash", Flags: dep.GE, EVR: dep.EVR{Epoch: "0", Version: "5.1", Release: "2"}}) ||
		!containsRelation(p.Requires, dep.Relation{Name: "(a or b)"}) ||
		!containsRelation(p.Provides, dep.Relation{Name: "tiny-api", Flags: dep.EQ, EVR: dep.EVR{Epoch: "0", Version: "1.0"}}) ||
		!containsRelation(p.Conflicts, dep.Relation{Name: "tiny-old", Flags: dep.LT, EVR: dep.EVR{Epoch: "0", Version: "1"}}) ||
		!containsRelation(p.Recommends, dep.Relation{Name: "tiny-doc"}) {
		t.Errorf("relations: %+v", p)
	}
	for _, r := range p.Requires {
		if strings.HasPrefix(r.Name, "rpmlib(") {
			t.Errorf("rpmlib requirement kept: %v", r)
		}
	}
	sort.Strings(p.Files)
	if !reflect.DeepEqual(p.Files, []string{"/etc/tiny.conf", "/usr/bin/tiny"}) {
		t.Errorf("files %v", p.Files)
	}

	// The Index opens it verified, and notices when it changes.
	ix := &Index{Local: []*Package{p}}
	rc, err := ix.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Error("Open returned other bytes")
	}
	if ps, _ := ix.FileProviders(context.Background(), "/usr/bin/tiny"); len(ps) != 1 {
		t.Errorf("FileProviders: %v", nevras(ps))
	}
	if all := ix.Packages(); len(all) != 1 || all[0] != p {
		t.Errorf("Packages: %v", nevras(all))
	}
	writeFile(t, path, append(data[:len(data):len(data)], 0))
	if _, err := ix.Open(context.Background(), p); !errors.As(err, new(*ChecksumError)) {
		t.Errorf("changed file: want *ChecksumError, got %v", err)
	}

	// Every truncation fails cleanly, naming the file.
	for _, n := range []int{0, 10, 96, 100, 200, len(data) / 2, len(data) - 1} {
		writeFile(t, path, data[:n])
		if _, err := LoadRPMFile(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
}

// TestRPMDirWithoutRepodata loads a directory of .rpm files that has no
// repodata.
func TestRPMDirWithoutRepodata(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "x", "tiny.rpm"), buildRPM(t))
	opt, warns := httpOptions(t, "")
	r, err := Load(context.Background(), Source{ID: "d", BaseURLs: []string{dir}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Packages) != 1 || r.Packages[0].Repo != "d" || r.Packages[0].Location != "x/tiny.rpm" || len(*warns) != 1 {
		t.Fatalf("%+v %q", r.Packages, *warns)
	}
	ix := &Index{Repos: []*Repo{r}}
	if ps, err := ix.FileProviders(context.Background(), "/etc/tiny.conf"); err != nil || len(ps) != 1 {
		t.Fatalf("%v %v", nevras(ps), err)
	}
	rc, err := ix.Open(context.Background(), r.Packages[0])
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}
