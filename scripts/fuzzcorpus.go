//go:build ignore

// fuzzcorpus writes the committed seed corpora (testdata/fuzz/FuzzX/real-*)
// of the packages issue 7 covers (and repo's), from the shared test bed's real files, so
// that CI's ordinary `go test` replays real inputs without ../shared. Run it
// from the repository root after the test bed changes:
//
//	go run scripts/fuzzcorpus.go [-shared ../shared/testdata]
//
// Every file is small: whole packages of a few KB, or only the headers of
// larger ones. The provenance (origin repository, licence) of each source
// file is in ../shared/testdata/real/SOURCES.md; docs/security.md lists
// what is taken from where.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
)

var shared = flag.String("shared", "../shared/testdata", "the shared test bed's testdata directory")

// value is one argument of a corpus entry.
type value interface{}

func main() {
	flag.Parse()
	log.SetFlags(0)

	// extract: whole small packages (v3, v4, v6; every compressor;
	// corrupted and truncated ones), headers alone, payload streams.
	pkgs := map[string]string{
		"real-hello-2.0-v4":        "real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64.rpm",
		"real-hello-1.0-v3":        "real/rpms/synthetic/rpm-org/hello-1.0-1.x86_64.rpm-v3",
		"real-hardlinks-v6":        "real/rpms/synthetic/rpm-rs/v6/rpm-hardlinks-1.0-1.noarch.rpm",
		"real-payload-lzma":        "real/rpms/synthetic/go-rpmutils/payload-test-0.1-w6.lzdio.x86_64.rpm",
		"real-payload-bzip2":       "real/rpms/synthetic/go-rpmutils/payload-test-0.1-w9.bzdio.x86_64.rpm",
		"real-corrupted":           "real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-corrupted.rpm",
		"real-truncated-broken":    "real/rpms/synthetic/scancode-truncated/broken.rpm",
		"real-truncated-fping-src": "real/rpms/synthetic/scancode-truncated/fping-2.2b1-1.src.rpm",
	}
	for name, p := range pkgs {
		write("extract", "FuzzPackage", name, read(p))
	}
	headers := map[string]string{
		"real-hello-1.0-v3":     "real/rpms/synthetic/rpm-org/hello-1.0-1.x86_64.rpm-v3",
		"real-hello-2.0-v4":     "real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64.rpm",
		"real-hello-2.0-v3-sig": "real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-v3-signed.rpm",
		"real-foo-src":          "real/rpms/synthetic/rpm-org/foo-1.0-1.src.rpm",
		"real-file-attrs-v6":    "real/rpms/synthetic/rpm-rs/v6/rpm-file-attrs-1.0-1.noarch.rpm",
		"real-rich-deps-v6":     "real/rpms/synthetic/rpm-rs/v6/rpm-rich-deps-1.0-1.noarch.rpm",
		"real-nfpm":             "real/rpms/synthetic/go-rpmutils/nfpm-test-1.0.0.x86_64.rpm",
		"real-centos-3.1-i386":  "real/rpms/distro/centos/centos-release-3.1-1.i386.rpm",
	}
	for name, p := range headers {
		b := read(p)
		if n := headerEnd(b); n > 0 {
			b = b[:n]
		}
		write("extract", "FuzzHeader", name, b)
	}
	for _, name := range []string{"real-corrupted", "real-truncated-broken"} {
		write("extract", "FuzzHeader", name, read(pkgs[name]))
	}
	// Payload streams as rpm wrote them; the index is payloadComps in
	// extract/fuzz_test.go (gzip, xz, zstd, bzip2, lzma, none, xz-dict).
	for _, c := range []struct {
		name, file string
		which      uint8
	}{
		{"real-xz", "w6.xzdio", 1},
		{"real-xz-dict", "w6.xzdio", 6},
		{"real-zstd", "w3.zstdio", 2},
		{"real-lzma", "w6.lzdio", 4},
	} {
		b := read("real/rpms/synthetic/go-rpmutils/payload-test-0.1-" + c.file + ".x86_64.rpm")
		write("extract", "FuzzDecompress", c.name, c.which, b[headerEnd(b):])
	}

	// sig: signed packages (v4 RSA, v3 signature, v6 ed25519), a key, a
	// detached repomd signature.
	write("sig", "FuzzVerifyRPM", "real-hello-signed-v4", read("real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-signed.rpm"))
	write("sig", "FuzzVerifyRPM", "real-hello-signed-v3", read("real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-v3-signed.rpm"))
	write("sig", "FuzzVerifyRPM", "real-basic-v6-ed25519", read("real/rpms/synthetic/rpm-rs/v6/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm"))
	write("sig", "FuzzParseKeyring", "real-rpm-org-rsa", read("real/rpms/synthetic/rpm-org/keys/rpm.org-rsa-2048-test.pub"))
	write("sig", "FuzzParseKeyring", "real-rpm-org-v6-ed25519", read("real/rpms/synthetic/rpm-org/keys/rpm.org-v6-ed25519-test.asc"))
	write("sig", "FuzzVerifyDetached", "real-libdnf-repomd-asc", read("real/repodata/libdnf-gpg-signed-repomd/repodata/repomd.xml.asc"))

	// dep: rpm's own rpmvercmp rows, three at a time; real rich deps.
	var vs []string
	for _, line := range strings.Split(string(read("real/vectors/vercmp/rpm-upstream-rpmvercmp.tsv")), "\n") {
		if r := strings.Split(line, "\t"); len(r) > 2 && !strings.HasPrefix(line, "#") {
			vs = append(vs, r[0], r[1])
		}
	}
	for i := 0; i+2 < len(vs) && i < 60; i += 6 {
		write("dep", "FuzzVercmpOrder", fmt.Sprintf("real-rpmvercmp-%02d", i/6), vs[i], vs[i+3], vs[i+5])
	}
	for i, d := range []string{
		"(glibc-langpack-en = 2.34-60.el9 if glibc-common)",
		"((python3.9dist(pysocks) < 1.5.7 or python3.9dist(pysocks) > 1.5.7) with python3.9dist(pysocks) >= 1.5.6)",
		"(kernel-modules-uname-r = 5.14.0-70.el9.x86_64 if kernel-modules)",
		"(sssd-client if sssd-common)",
		"((foo and bar) or (baz unless qux))",
	} {
		write("dep", "FuzzParseRich", fmt.Sprintf("real-rich-%d", i), d)
	}

	// repo: the first packages of the test bed's primary and filelists
	// (closed again), its repomd.xml, and Fedora 32's metalink.
	write("repo", "FuzzParsePrimary", "real-distro-primary", firstPackages(gunzip(glob1("distro/repo/repodata/*-primary.xml.gz")), 3, "metadata"))
	write("repo", "FuzzParseFilelists", "real-distro-filelists", firstPackages(gunzip(glob1("distro/repo/repodata/*-filelists.xml.gz")), 3, "filelists"))
	write("repo", "FuzzParseRepomd", "real-distro-repomd", read("distro/repo/repodata/repomd.xml"))
	write("repo", "FuzzParseMetalink", "real-fedora32-metalink", read("real/repodata/fedora-32-repomd-metalink/metalink.xml"))

	// elf: a real x86-64 executable (rpm's hello test package).
	write("elf", "FuzzClosure", "real-hello-x86_64", fileFromRPM("real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64.rpm", "/usr/local/bin/hello"), "include ld.so.conf.d/*.conf\n")
}

func read(p string) []byte {
	b, err := os.ReadFile(filepath.Join(*shared, p))
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// glob1 is the one file of the test bed matching pattern, read.
func glob1(pattern string) []byte {
	files, _ := filepath.Glob(filepath.Join(*shared, pattern))
	if len(files) != 1 {
		log.Fatalf("%s: %d matches", pattern, len(files))
	}
	return read(strings.TrimPrefix(files[0], *shared+string(filepath.Separator)))
}

func gunzip(b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		log.Fatal(err)
	}
	return out
}

// firstPackages keeps a repodata document up to the end of its n-th
// package and closes its root element again.
func firstPackages(doc []byte, n int, root string) []byte {
	end := 0
	for range n {
		i := bytes.Index(doc[end:], []byte("</package>"))
		if i < 0 {
			log.Fatalf("fewer than %d packages", n)
		}
		end += i + len("</package>")
	}
	return append(append([]byte(nil), doc[:end]...), "\n</"+root+">\n"...)
}

// fileFromRPM returns the content of path in the package, or of its first
// ELF file when path is not there.
func fileFromRPM(rpm, p string) []byte {
	tree := fstree.New()
	if _, err := extract.Package(context.Background(), tree, bytes.NewReader(read(rpm)), extract.Options{Name: rpm}); err != nil {
		log.Fatal(err)
	}
	if n, err := tree.Lookup(p); err == nil {
		return n.Data
	}
	var found []byte
	_ = tree.Walk("/", func(q string, n *fstree.Inode) error {
		if found == nil && n.Kind == fstree.File && bytes.HasPrefix(n.Data, []byte("\x7fELF")) {
			found = n.Data
			return fs.SkipAll
		}
		return nil
	})
	if found == nil {
		log.Fatalf("%s: no ELF file", rpm)
	}
	return found
}

// headerEnd is the offset of the payload: lead, signature (padded to 8
// bytes), main header.
func headerEnd(b []byte) int {
	off := 96
	for i, pad := range []bool{true, false} {
		if len(b) < off+16 {
			return -1
		}
		n := int(binary.BigEndian.Uint32(b[off+8:]))
		d := int(binary.BigEndian.Uint32(b[off+12:]))
		off += 16 + 16*n + d
		if pad && i == 0 {
			off += (8 - d%8) % 8
		}
	}
	if off > len(b) {
		return -1
	}
	return off
}

// write stores one corpus entry in the format of `go test -fuzz`.
func write(pkg, target, name string, args ...value) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case uint8:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			log.Fatalf("unsupported corpus value %T", a)
		}
	}
	dir := filepath.Join(pkg, "testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s/%s (%d bytes)\n", dir, name, b.Len())
}
