package rpmfixture

import (
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func bzip2Inputs() map[string][]byte {
	rng := rand.New(rand.NewSource(7))
	random := make([]byte, 100000)
	rng.Read(random)
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 3000)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	runs := append(bytes.Repeat([]byte{'a'}, 300), bytes.Repeat([]byte{'b'}, 4)...)
	runs = append(runs, bytes.Repeat([]byte{'c'}, 255)...)
	runs = append(runs, bytes.Repeat([]byte{'c'}, 3)...)
	big := make([]byte, 1600000) // three blocks
	for i := range big {
		big[i] = byte(i / 1000 % 7)
	}
	return map[string][]byte{
		"empty": nil, "one": {'x'}, "random": random, "text": text, "all": all,
		"runs": runs, "periodic": bytes.Repeat([]byte("ab"), 5000), "zeros": make([]byte, 70000),
		"big": big,
	}
}

func TestBzip2RoundTrip(t *testing.T) {
	bin, _ := exec.LookPath("bzip2")
	for name, in := range bzip2Inputs() {
		c := bzip2Compress(in)
		out, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(c)))
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: compress/bzip2 read %d bytes (want %d): %v", name, len(out), len(in), err)
		}
		if bin == "" {
			continue
		}
		cmd := exec.Command(bin, "-dc")
		cmd.Stdin = bytes.NewReader(c)
		out, err = cmd.Output()
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: bzip2 -d read %d bytes (want %d): %v", name, len(out), len(in), err)
		}
	}
}

func TestCompressRoundTrip(t *testing.T) {
	in := bytes.Repeat([]byte("payload "), 5000)
	readers := map[string]func(io.Reader) (io.Reader, error){
		"gzip": func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"xz":   func(r io.Reader) (io.Reader, error) { return xz.NewReader(r) },
		"zstd": func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
		"lzma": func(r io.Reader) (io.Reader, error) { return lzma.NewReader(r) },
		"bzip2": func(r io.Reader) (io.Reader, error) {
			return bzip2.NewReader(r), nil
		},
		"none": func(r io.Reader) (io.Reader, error) { return r, nil },
	}
	for comp, open := range readers {
		c, err := Compress(comp, in)
		if err != nil {
			t.Fatal(err)
		}
		r, err := open(bytes.NewReader(c))
		if err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
		out, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: round trip failed: %v", comp, err)
		}
	}
	if _, err := Compress("brotli", in); err == nil {
		t.Error("unknown compressor accepted")
	}
}

func sample() Spec {
	return Spec{
		Name: "sample", Version: "1.2", Release: "3.el9", Epoch: "1",
		Requires:    []string{"libc.so.6()(64bit)", "bash >= 5.0", "(nginx-mimetypes or mailcap)"},
		RequiresPre: []string{"setup"},
		Provides:    []string{"webserver"},
		Conflicts:   []string{"other < 2"},
		Obsoletes:   []string{"old-sample"},
		Recommends:  []string{"logrotate"},
		Files: []File{
			{Path: "/usr/sbin/sample", Mode: 0o4755, Data: []byte("binary"), Caps: "cap_net_bind_service=ep"},
			{Path: "/usr/bin/a", Data: []byte("same"), Hardlink: "g"},
			{Path: "/usr/bin/b", Data: []byte("same"), Hardlink: "g"},
			{Path: "/usr/bin/link", LinkTarget: "../sbin/sample"},
			{Path: "/etc/sample.conf", Data: []byte("x=1\n"), Flags: FlagConfig | FlagNoReplace},
			{Path: "/var/lib/sample", Mode: ModeDir | 0o750, Owner: "sample", Group: "sample"},
			{Path: "/run/sample.pid", Ghost: true},
			{Path: "/usr/share/doc/sample/README", Data: []byte("doc"), Flags: FlagDoc},
		},
	}
}

func rpmQuery(t *testing.T, file, format string) string {
	t.Helper()
	bin, err := exec.LookPath("rpm")
	if err != nil {
		t.Skip("rpm is not installed")
	}
	out, err := exec.Command(bin, "-qp", "--nosignature", "--qf", format, file).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qp %s: %v\n%s", format, err, out)
	}
	return string(out)
}

// rpm itself reads what Build writes: digests, tags and the payload.
func TestBuildReadByRPM(t *testing.T) {
	dir := t.TempDir()
	for _, comp := range []string{"gzip", "xz", "zstd", "lzma", "bzip2", "none"} {
		for _, stripped := range []bool{false, true} {
			s := sample()
			s.Compressor, s.Stripped = comp, stripped
			b, err := Build(s)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, fmt.Sprintf("%s-%v.rpm", comp, stripped))
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if bin, err := exec.LookPath("rpm"); err == nil {
				out, err := exec.Command(bin, "-K", file).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "digests OK") {
					t.Errorf("%s: rpm -K: %v\n%s", file, err, out)
				}
			}
			got := rpmQuery(t, file, "%{NEVRA} %{PAYLOADCOMPRESSOR}\n[%{FILENAMES}|%{FILEMODES:octal}|%{FILEUSERNAME}|%{FILECAPS}|%{FILEFLAGS:fflags}|%{FILELINKTOS}|%{FILENLINKS}\n]")
			wantComp := comp
			if comp == "none" {
				wantComp = "(none)"
			}
			want := "sample-1:1.2-3.el9.x86_64 " + wantComp + `
/etc/sample.conf|100644|root||cn||1
/run/sample.pid|100644|root||g||1
/usr/bin/a|100644|root||||2
/usr/bin/b|100644|root||||2
/usr/bin/link|120777|root|||../sbin/sample|1
/usr/sbin/sample|104755|root|cap_net_bind_service=ep|||1
/usr/share/doc/sample/README|100644|root||d||1
/var/lib/sample|40750|sample||||1
`
			if got != want {
				t.Errorf("%s: rpm -qp:\n%s\nwant:\n%s", file, got, want)
			}
			if stripped {
				if sizes := rpmQuery(t, file, "[%{LONGFILESIZES} ]"); sizes != "4 0 4 4 14 6 3 0 " {
					t.Errorf("LONGFILESIZES = %q", sizes)
				}
			}
		}
	}
	deps := rpmQuery(t, filepath.Join(dir, "gzip-false.rpm"), "[R %{REQUIRENEVRS}\n][P %{PROVIDENEVRS}\n][C %{CONFLICTNEVRS}\n][O %{OBSOLETENEVRS}\n][W %{RECOMMENDNEVRS}\n]")
	for _, want := range []string{
		"R libc.so.6()(64bit)\n", "R bash >= 5.0\n", "R (nginx-mimetypes or mailcap)\n", "R setup\n",
		"R rpmlib(FileCaps) <= 4.6.1-1\n", "P sample = 1:1.2-3.el9\n", "P sample(x86-64) = 1:1.2-3.el9\n",
		"P webserver\n", "C other < 2\n", "O old-sample\n", "W logrotate\n",
	} {
		if !strings.Contains(deps, want) {
			t.Errorf("dependencies lack %q:\n%s", want, deps)
		}
	}
}

func TestBuildDeterministic(t *testing.T) {
	for _, comp := range []string{"gzip", "xz", "zstd", "lzma", "bzip2", "none"} {
		s := sample()
		s.Compressor = comp
		a, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Build(s)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ", comp)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for name, s := range map[string]Spec{
		"no name":            {Version: "1", Release: "1"},
		"bad dependency":     {Name: "x", Version: "1", Release: "1", Requires: []string{"a ~> 1"}},
		"bad epoch":          {Name: "x", Version: "1", Release: "1", Epoch: "one"},
		"unknown compressor": {Name: "x", Version: "1", Release: "1", Compressor: "rar"},
		"hardlinked dir":     {Name: "x", Version: "1", Release: "1", Files: []File{{Path: "/d", Mode: ModeDir, Hardlink: "g"}}},
		"hardlink data":      {Name: "x", Version: "1", Release: "1", Files: []File{{Path: "/a", Data: []byte("1"), Hardlink: "g"}, {Path: "/b", Data: []byte("2"), Hardlink: "g"}}},
	} {
		if _, err := Build(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The payload follows rpm's conventions: "./" names, hardlink data on the
// last member only, no ghosts.
func TestPayloadEntries(t *testing.T) {
	e, err := PayloadEntries(sample())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range e {
		names = append(names, fmt.Sprintf("%s:%d", x.Name, len(x.Data)))
	}
	want := []string{"./etc/sample.conf:4", "./usr/bin/a:0", "./usr/bin/b:4", "./usr/bin/link:14", "./usr/sbin/sample:6", "./usr/share/doc/sample/README:3", "./var/lib/sample:0"}
	if !slices.Equal(names, want) {
		t.Errorf("entries %v, want %v", names, want)
	}
}

type repomd struct {
	Data []struct {
		Type     string `xml:"type,attr"`
		Checksum string `xml:"checksum"`
		Open     string `xml:"open-checksum"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Size     int64 `xml:"size"`
		OpenSize int64 `xml:"open-size"`
	} `xml:"data"`
}

type primaryXML struct {
	Packages []struct {
		Name     string `xml:"name"`
		Checksum string `xml:"checksum"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Format struct {
			Requires []struct {
				Name string `xml:"name,attr"`
				Pre  string `xml:"pre,attr"`
			} `xml:"requires>entry"`
			Files []string `xml:"file"`
		} `xml:"format"`
	} `xml:"package"`
}

type filelistsXML struct {
	Packages []struct {
		PkgID string   `xml:"pkgid,attr"`
		Files []string `xml:"file"`
	} `xml:"package"`
}

func TestWriteRepo(t *testing.T) {
	dir := t.TempDir()
	other := Spec{Name: "other", Version: "2", Release: "1", Arch: "noarch", Files: []File{{Path: "/usr/share/other/data", Data: []byte("d")}}}
	if err := WriteRepo(dir, []Spec{sample(), other}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var md repomd
	if err := xml.Unmarshal(raw, &md); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, d := range md.Data {
		gz, err := os.ReadFile(filepath.Join(dir, d.Location.Href))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(gz)
		if hex.EncodeToString(sum[:]) != d.Checksum || int64(len(gz)) != d.Size || !strings.HasPrefix(filepath.Base(d.Location.Href), d.Checksum+"-") {
			t.Errorf("%s: checksum, size or name wrong", d.Type)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		open := sha256.Sum256(plain)
		if hex.EncodeToString(open[:]) != d.Open || int64(len(plain)) != d.OpenSize {
			t.Errorf("%s: open checksum or size wrong", d.Type)
		}
		files[d.Type] = plain
	}
	var p primaryXML
	if err := xml.Unmarshal(files["primary"], &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Packages) != 2 {
		t.Fatalf("%d packages in primary", len(p.Packages))
	}
	s := p.Packages[0]
	rpm, err := os.ReadFile(filepath.Join(dir, s.Location.Href))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(rpm); hex.EncodeToString(sum[:]) != s.Checksum {
		t.Error("package checksum wrong")
	}
	if want := []string{"/etc/sample.conf", "/usr/bin/a", "/usr/bin/b", "/usr/bin/link", "/usr/sbin/sample"}; !slices.Equal(s.Format.Files, want) {
		t.Errorf("primary files %v, want %v", s.Format.Files, want)
	}
	for _, r := range s.Format.Requires {
		if strings.HasPrefix(r.Name, "rpmlib(") {
			t.Errorf("primary lists %s", r.Name)
		}
		if (r.Pre == "1") != (r.Name == "setup") {
			t.Errorf("requires %s pre=%q", r.Name, r.Pre)
		}
	}
	if len(p.Packages[1].Format.Files) != 0 {
		t.Errorf("other: primary files %v", p.Packages[1].Format.Files)
	}
	var fl filelistsXML
	if err := xml.Unmarshal(files["filelists"], &fl); err != nil {
		t.Fatal(err)
	}
	if len(fl.Packages) != 2 || fl.Packages[0].PkgID != s.Checksum || len(fl.Packages[0].Files) != 8 || fl.Packages[1].Files[0] != "/usr/share/other/data" {
		t.Errorf("filelists %+v", fl)
	}
	// dnf's repository loader, when present, accepts the repository.
	if bin, err := exec.LookPath("dnf"); err == nil {
		root := t.TempDir()
		out, err := exec.Command(bin, "-q", "--installroot", root, "--repofrompath=fx,"+dir, "--repo=fx",
			"--setopt=reposdir=/dev/null", "--releasever=9", "repoquery", "--whatprovides", "webserver").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "sample-1:1.2-3.el9.x86_64") {
			t.Errorf("dnf repoquery: %v\n%s", err, out)
		}
	}
}
