package rpmfixture

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// fixedTime stands for every timestamp in generated repodata, so a
// repository built twice has the same bytes.
const fixedTime = 1700000000

// WriteRepo writes a hermetic RPM repository to dir: Packages/<file>.rpm for
// each spec, and repodata/ with repomd.xml, primary.xml.gz and
// filelists.xml.gz named "<sha256>-<type>.xml.gz" as createrepo_c does,
// with correct checksums and sizes. Like createrepo_c, primary.xml lists
// only files under /etc/ or with "bin/" in their path (and no rpmlib()
// requirements); filelists.xml lists every file, marking directories and
// %ghost entries.
func WriteRepo(dir string, specs []Spec) error {
	var primary, filelists bytes.Buffer
	fmt.Fprintf(&primary, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%d\">\n", len(specs))
	fmt.Fprintf(&filelists, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"%d\">\n", len(specs))
	if err := os.MkdirAll(filepath.Join(dir, "Packages"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "repodata"), 0o755); err != nil {
		return err
	}
	for _, s := range specs {
		b, err := build(s)
		if err != nil {
			return fmt.Errorf("rpmfixture: %s: %w", s.NEVRA(), err)
		}
		loc := "Packages/" + s.FileName()
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(loc)), b.rpm, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(b.rpm)
		pkgid := hex.EncodeToString(sum[:])
		writePrimary(&primary, s, b, pkgid, loc)
		writeFilelists(&filelists, s, b, pkgid)
	}
	primary.WriteString("</metadata>\n")
	filelists.WriteString("</filelists>\n")

	var repomd bytes.Buffer
	repomd.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n")
	fmt.Fprintf(&repomd, "  <revision>%d</revision>\n", fixedTime)
	for _, md := range []struct {
		typ  string
		data []byte
	}{{"primary", primary.Bytes()}, {"filelists", filelists.Bytes()}} {
		gz, err := gzipBytes(md.data)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(gz)
		open := sha256.Sum256(md.data)
		name := fmt.Sprintf("repodata/%x-%s.xml.gz", sum, md.typ)
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), gz, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&repomd, "  <data type=%q>\n", md.typ)
		fmt.Fprintf(&repomd, "    <checksum type=\"sha256\">%x</checksum>\n", sum)
		fmt.Fprintf(&repomd, "    <open-checksum type=\"sha256\">%x</open-checksum>\n", open)
		fmt.Fprintf(&repomd, "    <location href=%q/>\n", name)
		fmt.Fprintf(&repomd, "    <timestamp>%d</timestamp>\n", fixedTime)
		fmt.Fprintf(&repomd, "    <size>%d</size>\n", len(gz))
		fmt.Fprintf(&repomd, "    <open-size>%d</open-size>\n", len(md.data))
		repomd.WriteString("  </data>\n")
	}
	repomd.WriteString("</repomd>\n")
	return os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), repomd.Bytes(), 0o644)
}

func gzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// splitEVR splits "[E:]V[-R]" as createrepo_c prints it (epoch "0" when
// absent).
func splitEVR(evr string) (e, v, r string) {
	e = "0"
	if i := strings.IndexByte(evr, ':'); i >= 0 {
		e, evr = evr[:i], evr[i+1:]
	}
	v = evr
	if i := strings.LastIndexByte(evr, '-'); i >= 0 {
		v, r = evr[:i], evr[i+1:]
	}
	return e, v, r
}

func flagName(f uint32) string {
	switch f & (senseLess | senseGreater | senseEqual) {
	case senseLess:
		return "LT"
	case senseLess | senseEqual:
		return "LE"
	case senseEqual:
		return "EQ"
	case senseGreater | senseEqual:
		return "GE"
	case senseGreater:
		return "GT"
	}
	return ""
}

func writeDeps(b *bytes.Buffer, elem string, ds []dep) {
	var kept []dep
	for _, d := range ds {
		if !strings.HasPrefix(d.name, "rpmlib(") {
			kept = append(kept, d)
		}
	}
	if len(kept) == 0 {
		return
	}
	fmt.Fprintf(b, "    <rpm:%s>\n", elem)
	for _, d := range kept {
		fmt.Fprintf(b, "      <rpm:entry name=\"%s\"", esc(d.name))
		if fl := flagName(d.flags); fl != "" {
			e, v, r := splitEVR(d.version)
			fmt.Fprintf(b, " flags=%q epoch=%q ver=\"%s\"", fl, e, esc(v))
			if r != "" {
				fmt.Fprintf(b, " rel=\"%s\"", esc(r))
			}
		}
		if d.flags&senseScriptPre != 0 {
			b.WriteString(" pre=\"1\"")
		}
		b.WriteString("/>\n")
	}
	fmt.Fprintf(b, "    </rpm:%s>\n", elem)
}

func (s Spec) epochOrZero() string {
	if s.Epoch == "" {
		return "0"
	}
	return s.Epoch
}

func writePrimary(b *bytes.Buffer, s Spec, p *built, pkgid, loc string) {
	var installed int64
	for _, f := range p.files {
		if f.mode&modeType == ModeReg && !f.Ghost {
			installed += f.size
		}
	}
	summary := s.Summary
	if summary == "" {
		summary = s.Name + " test package"
	}
	fmt.Fprintf(b, "<package type=\"rpm\">\n  <name>%s</name>\n  <arch>%s</arch>\n", esc(s.Name), esc(s.arch()))
	fmt.Fprintf(b, "  <version epoch=%q ver=\"%s\" rel=\"%s\"/>\n", s.epochOrZero(), esc(s.Version), esc(s.Release))
	fmt.Fprintf(b, "  <checksum type=\"sha256\" pkgid=\"YES\">%s</checksum>\n", pkgid)
	fmt.Fprintf(b, "  <summary>%s</summary>\n  <description>%s.</description>\n  <packager></packager>\n  <url></url>\n", esc(summary), esc(summary))
	fmt.Fprintf(b, "  <time file=\"%d\" build=\"%d\"/>\n", fixedTime, fixedTime)
	fmt.Fprintf(b, "  <size package=\"%d\" installed=\"%d\" archive=\"%d\"/>\n", len(p.rpm), installed, p.archiveSize)
	fmt.Fprintf(b, "  <location href=\"%s\"/>\n  <format>\n", esc(loc))
	license := s.License
	if license == "" {
		license = "MIT"
	}
	srpm := s.SourceRPM
	if srpm == "" {
		srpm = fmt.Sprintf("%s-%s-%s.src.rpm", s.Name, s.Version, s.Release)
	}
	fmt.Fprintf(b, "    <rpm:license>%s</rpm:license>\n    <rpm:vendor></rpm:vendor>\n    <rpm:group>Unspecified</rpm:group>\n", esc(license))
	fmt.Fprintf(b, "    <rpm:buildhost>rpmfixture.invalid</rpm:buildhost>\n    <rpm:sourcerpm>%s</rpm:sourcerpm>\n", esc(srpm))
	fmt.Fprintf(b, "    <rpm:header-range start=\"%d\" end=\"%d\"/>\n", p.hdrStart, p.hdrEnd)
	writeDeps(b, "provides", p.rel.provides)
	writeDeps(b, "requires", p.rel.requires)
	writeDeps(b, "conflicts", p.rel.conflicts)
	writeDeps(b, "obsoletes", p.rel.obsoletes)
	writeDeps(b, "suggests", p.rel.suggests)
	writeDeps(b, "recommends", p.rel.recommends)
	writeDeps(b, "supplements", p.rel.supplements)
	writeDeps(b, "enhances", p.rel.enhances)
	for _, f := range p.files {
		if strings.HasPrefix(f.Path, "/etc/") || strings.Contains(f.Path, "bin/") {
			writeFile(b, f)
		}
	}
	b.WriteString("  </format>\n</package>\n")
}

func writeFile(b *bytes.Buffer, f *file) {
	if k := f.kind(); k != "" {
		fmt.Fprintf(b, "    <file type=%q>%s</file>\n", k, esc(f.Path))
		return
	}
	fmt.Fprintf(b, "    <file>%s</file>\n", esc(f.Path))
}

func writeFilelists(b *bytes.Buffer, s Spec, p *built, pkgid string) {
	fmt.Fprintf(b, "<package pkgid=%q name=\"%s\" arch=\"%s\">\n", pkgid, esc(s.Name), esc(s.arch()))
	fmt.Fprintf(b, "  <version epoch=%q ver=\"%s\" rel=\"%s\"/>\n", s.epochOrZero(), esc(s.Version), esc(s.Release))
	for _, f := range p.files {
		writeFile(b, f)
	}
	b.WriteString("</package>\n")
}
