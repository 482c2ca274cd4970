package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
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
