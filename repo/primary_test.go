package repo

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smith-build/smith/dep"
)

// refPrimary decodes primary.xml with encoding/xml: slow but independent of
// our scanner, so the two can be compared on real data.
func refPrimary(t testing.TB, r io.Reader, repoID string) []Package {
	t.Helper()
	type entry struct {
		Name  string `xml:"name,attr"`
		Flags string `xml:"flags,attr"`
		Epoch string `xml:"epoch,attr"`
		Ver   string `xml:"ver,attr"`
		Rel   string `xml:"rel,attr"`
		Pre   string `xml:"pre,attr"`
	}
	type pkg struct {
		Type    string `xml:"type,attr"`
		Name    string `xml:"name"`
		Arch    string `xml:"arch"`
		Version struct {
			Epoch string `xml:"epoch,attr"`
			Ver   string `xml:"ver,attr"`
			Rel   string `xml:"rel,attr"`
		} `xml:"version"`
		Checksum struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"checksum"`
		Size struct {
			Package int64 `xml:"package,attr"`
		} `xml:"size"`
		Location struct {
			Href string `xml:"href,attr"`
			Base string `xml:"http://www.w3.org/XML/1998/namespace base,attr"`
		} `xml:"location"`
		Format struct {
			Provides    []entry  `xml:"provides>entry"`
			Requires    []entry  `xml:"requires>entry"`
			Conflicts   []entry  `xml:"conflicts>entry"`
			Obsoletes   []entry  `xml:"obsoletes>entry"`
			Recommends  []entry  `xml:"recommends>entry"`
			Suggests    []entry  `xml:"suggests>entry"`
			Supplements []entry  `xml:"supplements>entry"`
			Enhances    []entry  `xml:"enhances>entry"`
			Files       []string `xml:"file"`
		} `xml:"format"`
	}
	rels := func(es []entry) []dep.Relation {
		var out []dep.Relation
		for _, e := range es {
			f, ok := parseFlag([]byte(e.Flags))
			if !ok {
				t.Fatalf("bad flags %q", e.Flags)
			}
			out = append(out, dep.Relation{Name: e.Name, Flags: f, EVR: dep.EVR{Epoch: e.Epoch, Version: e.Ver, Release: e.Rel}, Pre: e.Pre == "1"})
		}
		return out
	}
	d := xml.NewDecoder(r)
	var out []Package
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		var x pkg
		if err := d.DecodeElement(&x, &se); err != nil {
			t.Fatal(err)
		}
		if x.Arch == "src" || x.Arch == "nosrc" || (x.Type != "" && x.Type != "rpm") {
			continue
		}
		loc := x.Location.Href
		if x.Location.Base != "" {
			loc = joinBase(x.Location.Base, loc)
		}
		out = append(out, Package{
			Name: x.Name, Arch: x.Arch,
			EVR:         dep.EVR{Epoch: x.Version.Epoch, Version: x.Version.Ver, Release: x.Version.Rel},
			Provides:    rels(x.Format.Provides),
			Requires:    rels(x.Format.Requires),
			Conflicts:   rels(x.Format.Conflicts),
			Obsoletes:   rels(x.Format.Obsoletes),
			Recommends:  rels(x.Format.Recommends),
			Suggests:    rels(x.Format.Suggests),
			Supplements: rels(x.Format.Supplements),
			Enhances:    rels(x.Format.Enhances),
			Files:       x.Format.Files,
			Location:    loc,
			Checksum:    makeChecksum(x.Checksum.Type, x.Checksum.Value),
			Size:        x.Size.Package,
			Repo:        repoID,
		})
	}
}

// primaryFiles lists the primary.xml documents of the shared test data:
// the repositories' (compressed) and the bazeldnf subsets (plain, no
// prefixes, xmlns="").
func primaryFiles(t testing.TB) []string {
	root := sharedTestdata(t)
	var files []string
	for _, pat := range []string{
		"distro/repo*/repodata/*primary.xml*",
		"real/repodata/*/repodata/*primary.xml*",
		"real/repodata/createrepo_c-small/*/repodata/*primary.xml*",
		"real/repodata/bazeldnf-fedora32-el8-subsets/*.xml",
	} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		for _, f := range m {
			if !strings.HasSuffix(f, ".zck") {
				files = append(files, f)
			}
		}
	}
	return files
}

func openPrimary(t testing.TB, path string) io.ReadCloser {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := decompressor(f, filepath.Base(path), DefaultMaxMetadataSize)
	if err != nil {
		t.Fatal(err)
	}
	return struct {
		io.Reader
		io.Closer
	}{dr, f}
}

// TestPrimaryMatchesEncodingXML compares the scanner with encoding/xml on
// every real primary.xml.
func TestPrimaryMatchesEncodingXML(t *testing.T) {
	for _, path := range primaryFiles(t) {
		if testing.Short() && strings.Contains(path, "appstream") {
			continue
		}
		t.Run(strings.TrimPrefix(path, sharedTestdata(t)), func(t *testing.T) {
			if strings.Contains(path, "bazeldnf") && strings.HasSuffix(path, "expected-resolutions.json") {
				t.Skip()
			}
			rc := openPrimary(t, path)
			got, err := parsePrimary(rc, filepath.Base(path), "r")
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			rc = openPrimary(t, path)
			want := refPrimary(t, rc, "r")
			rc.Close()
			if len(got) != len(want) {
				t.Fatalf("%d packages, encoding/xml finds %d", len(got), len(want))
			}
			if len(got) == 0 && !strings.Contains(path, "repo_03") {
				t.Fatal("no packages")
			}
			for i := range want {
				g := *got[i]
				if !reflect.DeepEqual(g, want[i]) {
					t.Fatalf("package %d differs:\n got %+v\nwant %+v", i, g, want[i])
				}
			}
		})
	}
}

// TestBazeldnfSubsets checks the prefix-less re-serialisation in detail.
func TestBazeldnfSubsets(t *testing.T) {
	path := filepath.Join(sharedTestdata(t, "real", "repodata", "bazeldnf-fedora32-el8-subsets"), "bash-fc32.xml")
	rc := openPrimary(t, path)
	defer rc.Close()
	pkgs, err := parsePrimary(rc, "bash-fc32.xml", "f32")
	if err != nil {
		t.Fatal(err)
	}
	var bash *Package
	for _, p := range pkgs {
		if p.Name == "bash" {
			bash = p
		}
	}
	if bash == nil {
		t.Fatalf("no bash among %v", nevras(pkgs))
	}
	if bash.Arch != "x86_64" || bash.Checksum.Type != "sha256" || len(bash.Checksum.Value) != 64 || len(bash.Provides) == 0 || len(bash.Requires) == 0 {
		t.Errorf("bash parsed badly: %+v", *bash)
	}
	if !contains(bash.Files, "/usr/bin/bash") {
		t.Errorf("bash files: %v", bash.Files)
	}
}

func TestParsePrimaryDetails(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		check     func(t *testing.T, ps []*Package)
		err       string
	}{{
		name: "xml:base and entities",
		doc: `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
<package type="rpm"><name>a&amp;b</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>
<checksum type="SHA256">` + strings.Repeat("AB", 32) + `</checksum>
<location xml:base="https://mirror.example/base" href="/P/a.rpm"/>
<format><rpm:requires><rpm:entry name="(x &gt;= 1 if y)" /><rpm:entry name='q' flags="GE" ver="2&#x2e;0"/></rpm:requires>
<file><![CDATA[/usr/bin/<odd>]]></file></format></package></metadata>`,
		check: func(t *testing.T, ps []*Package) {
			p := ps[0]
			if p.Name != "a&b" || p.Location != "https://mirror.example/base/P/a.rpm" || p.Checksum.Value != strings.Repeat("ab", 32) {
				t.Errorf("%+v", *p)
			}
			if p.Requires[0].Name != "(x >= 1 if y)" || p.Requires[1].EVR.Version != "2.0" || p.Files[0] != "/usr/bin/<odd>" {
				t.Errorf("%+v", p.Requires)
			}
		},
	}, {
		name: "byte order mark and declaration",
		doc:  "\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?>\n<metadata/>",
		check: func(t *testing.T, ps []*Package) {
			if len(ps) != 0 {
				t.Errorf("%v", nevras(ps))
			}
		},
	}, {
		name: "latin-1 refused",
		doc:  `<?xml version="1.0" encoding="ISO-8859-1"?><metadata/>`,
		err:  "unsupported XML encoding",
	}, {
		name: "non-rpm package types are skipped",
		doc:  `<metadata><package type="pattern"><name>x</name></package></metadata>`,
		check: func(t *testing.T, ps []*Package) {
			if len(ps) != 0 {
				t.Errorf("%v", nevras(ps))
			}
		},
	}, {
		name: "wrong root",
		doc:  `<filelists/>`,
		err:  "not a primary.xml",
	}, {
		name: "truncated",
		doc:  `<metadata><package type="rpm"><name>x</name>`,
		err:  "truncated file",
	}, {
		name: "mismatched tags",
		doc:  `<metadata><package></metadata></package>`,
		err:  "does not match",
	}, {
		name: "unknown entity",
		doc:  `<metadata><package><name>&foo;</name></package></metadata>`,
		err:  "unknown entity",
	}, {
		name: "missing checksum",
		doc:  `<metadata><package><name>x</name><arch>noarch</arch><version ver="1"/><location href="x.rpm"/></package></metadata>`,
		err:  "unsupported checksum type",
	}, {
		name: "md5 refused",
		doc:  `<metadata><package><name>x</name><arch>noarch</arch><version ver="1"/><location href="x.rpm"/><checksum type="md5">d41d8cd98f00b204e9800998ecf8427e</checksum></package></metadata>`,
		err:  `unsupported checksum type "md5"`,
	}, {
		name: "bad flags",
		doc:  `<metadata><package><format><provides><entry name="a" flags="XX"/></provides></format></package></metadata>`,
		err:  "unknown relation flags",
	}, {
		name: "too deep",
		doc:  `<metadata>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</metadata>`,
		err:  "nested deeper",
	}, {
		name: "second root",
		doc:  `<metadata/><metadata/>`,
		err:  "second root element",
	}, {
		name: "text outside root",
		doc:  `<metadata/>junk`,
		err:  "text outside the root",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := parsePrimary(strings.NewReader(tc.doc), "primary.xml", "r")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				if !strings.Contains(err.Error(), "primary.xml") {
					t.Errorf("error does not name the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, ps)
		})
	}
}

// TestScannerSplitReads feeds the scanner one byte per Read, so every token
// crosses a buffer refill, and checks the result does not change.
func TestScannerSplitReads(t *testing.T) {
	want, err := parsePrimary(strings.NewReader(fixturePrimary), "p", "r")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parsePrimary(&oneByteReader{strings.NewReader(fixturePrimary)}, "p", "r")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(derefAll(got), derefAll(want)) {
		t.Fatal("one-byte reads change the result")
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestScannerLongText checks text longer than the buffer is handed out in
// pieces, entities intact.
func TestScannerLongText(t *testing.T) {
	long := strings.Repeat("x&amp;", 400000) // 2.4 MB, past textChunk
	doc := `<metadata><package><name>n</name><arch>a</arch><version ver="1"/><description>` + long +
		`</description><checksum type="sha1">` + strings.Repeat("0", 40) + `</checksum><location href="l"/></package></metadata>`
	ps, err := parsePrimary(strings.NewReader(doc), "p", "r")
	if err != nil || len(ps) != 1 {
		t.Fatal(err)
	}
	s := newXMLScanner(strings.NewReader(`<a>`+long+`</a>`), "p")
	if err := s.next(); err != nil {
		t.Fatal(err)
	}
	v, err := s.readText(len(long), false)
	if err != nil {
		t.Fatal(err)
	}
	if v != strings.Repeat("x&", 400000) {
		t.Fatal("long text garbled")
	}
}

func TestScannerTokenLimit(t *testing.T) {
	doc := `<metadata><package><name attr="` + strings.Repeat("a", defaultMaxToken) + `"/></package></metadata>`
	_, err := parsePrimary(strings.NewReader(doc), "p", "r")
	if err == nil || !strings.Contains(err.Error(), "XML token larger") {
		t.Fatalf("got %v", err)
	}
}
