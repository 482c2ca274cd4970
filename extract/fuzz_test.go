package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/rpmfixture"
)

// fuzzSeeds are small real packages of the test bed (skipped when absent).
var fuzzSeeds = []string{
	"real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64.rpm",
	"real/rpms/synthetic/rpm-org/hlinktest-1.0-1.noarch.rpm",
	"real/rpms/synthetic/rpm-org/capstest-1.0-1.noarch.rpm",
	"real/rpms/synthetic/rpm-org/hello-1.0-1.x86_64.rpm-v3",
	"real/rpms/synthetic/go-rpmutils/payload-test-0.1-w.ufdio.x86_64.rpm",
	"real/rpms/synthetic/go-rpmutils/payload-test-0.1-w9.gzdio.x86_64.rpm",
	"real/rpms/synthetic/rpm-rs/v6/rpm-file-attrs-1.0-1.noarch.rpm",
	"real/rpms/synthetic/rpm-rs/v6/rpm-hardlinks-1.0-1.noarch.rpm",
	"distro/repo/Packages/b/basesystem-11-13.el9.noarch.rpm",
}

func fixtureSeeds(f *testing.F) [][]byte {
	base := rpmfixture.Spec{Name: "seed", Version: "1", Release: "1", Compressor: "none", Files: []rpmfixture.File{
		{Path: "/usr/bin/a", Mode: 0o4755, Data: []byte("aaaa"), Caps: "cap_net_raw=ep"},
		{Path: "/usr/bin/b", Data: []byte("bb"), Hardlink: "h"},
		{Path: "/usr/bin/c", Data: []byte("bb"), Hardlink: "h"},
		{Path: "/usr/bin/l", LinkTarget: "a"},
		{Path: "/var/d", Mode: rpmfixture.ModeDir | 0o700, Owner: "x"},
		{Path: "/run/g", Ghost: true},
		{Path: "/dev/null", Mode: rpmfixture.ModeChar | 0o666},
	}}
	var out [][]byte
	for _, mut := range []func(*rpmfixture.Spec){
		func(*rpmfixture.Spec) {},
		func(s *rpmfixture.Spec) { s.Stripped = true },
		func(s *rpmfixture.Spec) { s.Compressor = "gzip" },
		func(s *rpmfixture.Spec) { s.DigestAlgo = 1 },
	} {
		s := base
		mut(&s)
		b, err := rpmfixture.Build(s)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzPackage(f *testing.F) {
	for _, p := range fuzzSeeds {
		if b, err := os.ReadFile("../../shared/testdata/" + p); err == nil {
			f.Add(b)
		}
	}
	for _, b := range fixtureSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tree := fstree.New()
		info, err := Package(context.Background(), tree, bytes.NewReader(data), Options{Name: "fuzz", MaxBytes: 8 << 20})
		// Expand (digests checked as an xz payload grows, Growing told)
		// then Apply must agree with Package.
		grown := map[string]int{}
		e, xerr := Expand(context.Background(), bytes.NewReader(data), Options{Name: "fuzz", MaxBytes: 8 << 20, Growing: func(_ string, sum []byte, size int, d []byte) {
			if len(d) > size || len(d) < grown[string(sum)] {
				t.Fatalf("Growing: %d bytes of %d after %d", len(d), size, grown[string(sum)])
			}
			grown[string(sum)] = len(d)
		}})
		etree := fstree.New()
		if xerr == nil {
			_, xerr = Apply(context.Background(), etree, e, Options{Name: "fuzz", MaxBytes: 8 << 20})
		}
		if (err == nil) != (xerr == nil) {
			t.Fatalf("Package: %v; Expand and Apply: %v", err, xerr)
		}
		if err == nil && tree.Dump() != etree.Dump() {
			t.Fatal("Package and Expand+Apply made different trees")
		}
		if err != nil {
			if info != nil {
				t.Fatal("info with an error")
			}
			if !strings.HasPrefix(err.Error(), "extract fuzz: ") {
				t.Fatalf("error without the package name: %v", err)
			}
			return
		}
		if info.PayloadBytes > 8<<20 {
			t.Fatalf("payload of %d bytes passed the limit", info.PayloadBytes)
		}
		_ = tree.Walk("/", func(p string, n *fstree.Inode) error {
			if n.Package != "fuzz" && n.Package != "" {
				t.Fatalf("%s: package %q", p, n.Package)
			}
			if strings.Contains(p, "/../") {
				t.Fatalf("path %q", p)
			}
			return nil
		})
		_ = tree.Dump()
	})
}

func FuzzCpio(f *testing.F) {
	reg := uint32(rpmfixture.ModeReg | 0o644)
	f.Add(rpmfixture.WriteCpio([]rpmfixture.Entry{
		rpmfixture.NewEntry("./usr/bin/a", reg, []byte("hello")),
		rpmfixture.NewEntry("./usr/bin/l", rpmfixture.ModeSymlink|0o777, []byte("a")),
		rpmfixture.NewEntry("./usr", rpmfixture.ModeDir|0o755, nil),
	}, false))
	crc := rpmfixture.NewEntry("x", reg, []byte("crc data"))
	crc.Magic = "070702"
	f.Add(rpmfixture.WriteCpio([]rpmfixture.Entry{crc}, false))
	stripped := rpmfixture.NewEntry("", reg, []byte("abc"))
	stripped.Magic, stripped.Index = "07070X", 1
	f.Add(rpmfixture.WriteCpio([]rpmfixture.Entry{stripped}, false))
	f.Add(rpmfixture.WriteCpio([]rpmfixture.Entry{rpmfixture.NewEntry("./../../etc/passwd", reg, nil)}, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Stripped members get a size derived from their index, as the
		// header would give it.
		sizeOf := func(i int) (int64, error) {
			if i > 1000 {
				return 0, errors.New("no such file")
			}
			return int64(i % 17), nil
		}
		cr := newCpioReader(bufio.NewReader(bytes.NewReader(data)), sizeOf)
		var read int64
		for range 10000 {
			e, err := cr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				return
			}
			if e.size < 0 || e.size > int64(^uint32(0)) {
				t.Fatalf("entry size %d", e.size)
			}
			if !e.stripped {
				if len(e.name) > maxPath {
					t.Fatalf("cpio reader returned name %q", e.name)
				}
				if p, err := cpioPath(e.name); err == nil {
					if p != path.Clean(p) || !strings.HasPrefix(p, "/") || strings.Contains(p+"/", "/../") || strings.IndexByte(p, 0) >= 0 {
						t.Fatalf("cpioPath(%q) = %q", e.name, p)
					}
				}
			}
			n, err := io.Copy(io.Discard, io.LimitReader(cr, 1<<20))
			read += n
			if err != nil {
				return
			}
			if read > int64(len(data)) {
				t.Fatalf("read %d data bytes from %d input bytes", read, len(data))
			}
		}
	})
}

// headerEnd returns the offset where the payload of rpm starts (after the
// lead, the signature with its padding and the main header), or -1.
func headerEnd(rpm []byte) int {
	r := bytes.NewReader(rpm)
	br := bufio.NewReader(r)
	if _, err := readLead(br); err != nil {
		return -1
	}
	if _, err := readHeader(br, "signature", true); err != nil {
		return -1
	}
	if _, err := readHeader(br, "header", false); err != nil {
		return -1
	}
	return len(rpm) - r.Len() - br.Buffered()
}

// headerSeeds are real packages cut where their payload starts: v3 (no
// header regions), v4 and v6 headers, a source package, and the test bed's
// truncated and corrupted files as they are.
var headerSeeds = []string{
	"real/rpms/synthetic/rpm-org/hello-1.0-1.x86_64.rpm-v3",
	"real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64.rpm",
	"real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-v3-signed.rpm",
	"real/rpms/synthetic/rpm-org/foo-1.0-1.src.rpm",
	"real/rpms/synthetic/rpm-rs/v6/rpm-file-attrs-1.0-1.noarch.rpm",
	"real/rpms/synthetic/rpm-rs/v6/rpm-rich-deps-1.0-1.noarch.rpm",
	"real/rpms/synthetic/go-rpmutils/nfpm-test-1.0.0.x86_64.rpm",
	"real/rpms/distro/centos/centos-release-3.1-1.i386.rpm",
}

var brokenSeeds = []string{
	"real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-corrupted.rpm",
	"real/rpms/synthetic/scancode-truncated/broken.rpm",
	"real/rpms/synthetic/scancode-truncated/fping-2.4b2-5.i586.rpm",
	"real/rpms/synthetic/scancode-truncated/perl-Net-IP-1.15-1.8.0.i386.rpm",
}

// FuzzHeader parses the lead, the signature header and the main header,
// then everything extraction derives from them (identity, the file table,
// the stripped-cpio sizes, the xz dictionary bound), without a payload.
// Nothing may panic, and an accepted file table keeps its invariants.
func FuzzHeader(f *testing.F) {
	for _, p := range headerSeeds {
		if b, err := os.ReadFile("../../shared/testdata/" + p); err == nil {
			if n := headerEnd(b); n > 0 {
				f.Add(b[:n])
			}
		}
	}
	for _, p := range brokenSeeds {
		if b, err := os.ReadFile("../../shared/testdata/" + p); err == nil {
			f.Add(b)
		}
	}
	for _, b := range fixtureSeeds(f) {
		f.Add(b[:headerEnd(b)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		if _, err := readLead(br); err != nil {
			return
		}
		sig, err := readHeader(br, "signature", true)
		if err != nil {
			return
		}
		// The signature header's tags are read by sig and repo; here
		// only the accessors matter.
		_, _, _ = sig.int(1000)
		_, _ = sig.str(1000)
		h, err := readHeader(br, "header", false)
		if err != nil {
			return
		}
		x := &extractor{info: &Info{}}
		if err := x.readInfo(h); err != nil {
			return
		}
		ft, err := readFiles(h)
		if err != nil {
			return
		}
		if len(ft.byPath) != len(ft.files) {
			t.Fatalf("%d paths for %d files", len(ft.byPath), len(ft.files))
		}
		for i, fi := range ft.files {
			p := fi.path
			if p != path.Clean(p) || !strings.HasPrefix(p, "/") || strings.Contains(p+"/", "/../") || strings.IndexByte(p, 0) >= 0 || len(p) > maxPath+1 {
				t.Fatalf("file %d: unsafe path %q accepted", i, p)
			}
			if fi.size < 0 {
				t.Fatalf("file %d: size %d", i, fi.size)
			}
			if _, err := ft.strippedSize(i); err != nil {
				t.Fatalf("strippedSize(%d): %v", i, err)
			}
			if fi.set >= 0 && !slices.Contains(ft.sets[fi.set].members, i) {
				t.Fatalf("file %d not in its hardlink set", i)
			}
		}
		if _, err := ft.strippedSize(len(ft.files)); err == nil {
			t.Fatal("strippedSize accepts an index past the end")
		}
		if ft.payloadBound() < 512 {
			t.Fatalf("payload bound %d", ft.payloadBound())
		}
	})
}

// payloadComps are the decompressors FuzzDecompress picks from; "xz-dict"
// is xz behind shrinkXZDict, as extraction uses it.
var payloadComps = []string{compGzip, compXZ, compZstd, compBzip2, compLZMA, compNone, "xz-dict"}

// FuzzDecompress feeds each payload decompressor wrapper (and the xz
// dictionary rewriter) arbitrary streams through the size limit. Nothing
// may panic, allocate without bound or yield more than the limit.
func FuzzDecompress(f *testing.F) {
	cpio := rpmfixture.WriteCpio([]rpmfixture.Entry{
		rpmfixture.NewEntry("./usr/bin/a", uint32(rpmfixture.ModeReg|0o644), bytes.Repeat([]byte("hello "), 200)),
	}, false)
	for i, comp := range payloadComps {
		c := comp
		if c == "xz-dict" {
			c = compXZ
		}
		b, err := rpmfixture.Compress(c, cpio)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	// Real payloads: rpm's own gzip, xz, zstd, bzip2 and lzma streams.
	files, _ := filepath.Glob("../../shared/testdata/real/rpms/synthetic/go-rpmutils/payload-test-*.rpm")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n := headerEnd(b)
		if n < 0 {
			continue
		}
		payload := b[n:]
		comp := sniff(payload)
		if comp == "" && looksLZMA(payload) {
			comp = compLZMA
		}
		if i := slices.Index(payloadComps, comp); i >= 0 {
			f.Add(uint8(i), payload)
			if comp == compXZ {
				f.Add(uint8(len(payloadComps)-1), payload)
			}
		}
	}
	const limit = 4 << 20
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		comp := payloadComps[int(which)%len(payloadComps)]
		var src io.Reader = bytes.NewReader(data)
		if comp == "xz-dict" {
			comp = compXZ
			src = shrinkXZDict(bufio.NewReader(src), int64(len(data))*8+512)
		}
		dr, closeDR, err := decompressor(comp, src)
		defer closeDR()
		if err != nil {
			if dr != nil {
				t.Fatal("reader with an error")
			}
			return
		}
		lr := &limitReader{r: dr, limit: limit}
		n, err := io.Copy(io.Discard, lr)
		if n > limit || lr.n > limit {
			t.Fatalf("%s: %d bytes passed the limit of %d", comp, n, limit)
		}
		if err == nil && n == limit {
			return
		}
		if comp == compNone && err == nil && n != int64(len(data)) {
			t.Fatalf("none: %d bytes out of %d", n, len(data))
		}
	})
}
