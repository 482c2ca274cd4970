package extract_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/rpmfixture"
)

var compressors = []string{"gzip", "xz", "zstd", "lzma", "bzip2", "none"}

func mustBuild(t testing.TB, s rpmfixture.Spec) []byte {
	t.Helper()
	b, err := rpmfixture.Build(s)
	if err != nil {
		t.Fatalf("rpmfixture.Build: %v", err)
	}
	return b
}

func extractBytes(b []byte, opt extract.Options) (*fstree.Tree, *extract.Info, error) {
	tree := fstree.New()
	info, err := extract.Package(context.Background(), tree, bytes.NewReader(b), opt)
	return checked(b, opt, tree, info, err)
}

// demo is a package with one of everything.
func demo() rpmfixture.Spec {
	return rpmfixture.Spec{
		Name: "demo", Version: "1.0", Release: "1", Epoch: "2",
		Requires: []string{"libc.so.6()(64bit)", "foo >= 1.0"},
		Files: []rpmfixture.File{
			{Path: "/usr/bin/demo", Mode: 0o4755, Data: []byte("#!/bin/sh\necho demo\n"), Caps: "cap_net_bind_service=ep"},
			{Path: "/usr/bin/zstd", Mode: 0o755, Data: []byte("zstd binary"), Hardlink: "z"},
			{Path: "/usr/bin/unzstd", Mode: 0o755, Data: []byte("zstd binary"), Hardlink: "z"},
			{Path: "/usr/bin/zstdcat", Mode: 0o755, Data: []byte("zstd binary"), Hardlink: "z"},
			{Path: "/usr/bin/sh", LinkTarget: "demo"},
			{Path: "/var/lib/demo", Mode: rpmfixture.ModeDir | 0o750, Owner: "demo", Group: "demo"},
			{Path: "/var/lib/demo/tmp", Mode: rpmfixture.ModeDir | 0o1770, Owner: "demo", Group: "adm"},
			{Path: "/etc/demo.conf", Mode: 0o640, Data: []byte("key=value\n"), Flags: rpmfixture.FlagConfig | rpmfixture.FlagNoReplace, Group: "demo"},
			{Path: "/etc/empty", Data: nil},
			{Path: "/run/demo.pid", Ghost: true},
			{Path: "/var/cache/demo", Mode: rpmfixture.ModeDir | 0o755, Ghost: true},
			{Path: "/dev/null", Mode: rpmfixture.ModeChar | 0o666},
			{Path: "/run/demo.fifo", Mode: rpmfixture.ModeFifo | 0o600},
			{Path: "/usr/bin/sgid", Mode: 0o2711, Data: []byte("g")},
		},
	}
}

const demoDump = `/: dir 0755 0:0
/etc: dir 0755 0:0
/etc/demo.conf: file 0640 0:0 d5c5f09b
/etc/empty: file 0644 0:0 e3b0c442
/usr: dir 0755 0:0
/usr/bin: dir 0755 0:0
/usr/bin/demo: file 4755 0:0 a5a301c6 xattr=security.capability
/usr/bin/sgid: file 2711 0:0 cd0aa985
/usr/bin/sh: symlink demo
/usr/bin/unzstd: file 0755 0:0 479363a3 <1>
/usr/bin/zstd: file 0755 0:0 479363a3 <1>
/usr/bin/zstdcat: file 0755 0:0 479363a3 <1>
/var: dir 0755 0:0
/var/lib: dir 0755 0:0
/var/lib/demo: dir 0750 0:0
/var/lib/demo/tmp: dir 1770 0:0
`

func TestPackageFileTypes(t *testing.T) {
	for _, comp := range compressors {
		for _, stripped := range []bool{false, true} {
			name := comp
			if stripped {
				name += "/stripped"
			}
			t.Run(name, func(t *testing.T) {
				s := demo()
				s.Compressor, s.Stripped = comp, stripped
				tree, info, err := extractBytes(mustBuild(t, s), extract.Options{Name: "demo-2:1.0-1.x86_64"})
				if err != nil {
					t.Fatal(err)
				}
				if got := tree.Dump(); got != demoDump {
					t.Errorf("dump:\n%s\nwant:\n%s", got, demoDump)
				}
				want := extract.Info{
					Name: "demo", Epoch: "2", Version: "1.0", Release: "1", Arch: "x86_64",
					SourceRPM: "demo-1.0-1.src.rpm", Format: 4, Payload: comp, PayloadBytes: info.PayloadBytes,
					Files: 14, Regular: 7, Hardlinks: 2, Dirs: 2, Symlinks: 1, Ghosts: 2, Skipped: 2, Caps: 1,
				}
				if *info != want {
					t.Errorf("info = %+v\nwant %+v", *info, want)
				}
				checkDemo(t, tree)
			})
		}
	}
}

// checkDemo checks what the dump does not show: shared inodes, owner names,
// package labels, xattr bytes and ghosts.
func checkDemo(t *testing.T, tree *fstree.Tree) {
	t.Helper()
	z, _ := tree.Lookup("/usr/bin/zstd")
	u, _ := tree.Lookup("/usr/bin/unzstd")
	c, _ := tree.Lookup("/usr/bin/zstdcat")
	if z == nil || z != u || z != c {
		t.Error("the hardlink set is not one inode")
	}
	for p, want := range map[string]fstree.Owner{
		"/var/lib/demo":     {User: "demo", Group: "demo"},
		"/var/lib/demo/tmp": {User: "demo", Group: "adm"},
		"/etc/demo.conf":    {User: "root", Group: "demo"},
		"/usr/bin/demo":     {User: "root", Group: "root"},
		"/var/lib":          {User: "root", Group: "root"}, // implicit parent
	} {
		n, err := tree.Lookup(p)
		if err != nil {
			t.Fatal(err)
		}
		if n.Owner != want {
			t.Errorf("%s: owner %+v, want %+v", p, n.Owner, want)
		}
	}
	for p, want := range map[string]string{"/usr/bin/demo": "demo-2:1.0-1.x86_64", "/usr/bin/sh": "demo-2:1.0-1.x86_64", "/var/lib/demo": "demo-2:1.0-1.x86_64", "/var/lib": ""} {
		if n, _ := tree.Lookup(p); n.Package != want {
			t.Errorf("%s: package %q, want %q", p, n.Package, want)
		}
	}
	d, _ := tree.Lookup("/usr/bin/demo")
	if got := hex.EncodeToString(d.Xattrs["security.capability"]); got != "0100000200040000000000000000000000000000" {
		t.Errorf("security.capability = %s", got)
	}
	ghosts := tree.Ghosts()
	if len(ghosts) != 2 || ghosts["/run/demo.pid"] != "demo-2:1.0-1.x86_64" || ghosts["/var/cache/demo"] == "" {
		t.Errorf("ghosts = %v", ghosts)
	}
	if tree.Exists("/run") || tree.Exists("/var/cache") || tree.Exists("/dev") {
		t.Error("a ghost, device or fifo (or its directory) was created")
	}
}

// The magic bytes decide the decompressor; a missing or wrong tag does not
// matter (lzma, which has no magic, is recognised by its header).
func TestPackageCompressorSniff(t *testing.T) {
	for _, tc := range []struct{ comp, tag string }{
		{"none", "-"}, {"xz", "-"}, {"zstd", "gzip"}, {"gzip", "xz"}, {"bzip2", "zstd"},
		{"lzma", "-"}, {"lzma", "lzma"}, {"none", "xz"},
	} {
		s := demo()
		s.Compressor, s.CompressorTag = tc.comp, tc.tag
		tree, info, err := extractBytes(mustBuild(t, s), extract.Options{Name: "demo"})
		if err != nil {
			t.Errorf("%s with tag %q: %v", tc.comp, tc.tag, err)
			continue
		}
		if info.Payload != tc.comp {
			t.Errorf("%s with tag %q: Payload = %q", tc.comp, tc.tag, info.Payload)
		}
		if !strings.Contains(tree.Dump(), "/usr/bin/demo: file 4755") {
			t.Errorf("%s with tag %q: demo not extracted", tc.comp, tc.tag)
		}
	}
}

// Without Options.Name the header's NEVRA labels entries and errors.
func TestPackageDefaultName(t *testing.T) {
	tree, _, err := extractBytes(mustBuild(t, demo()), extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := tree.Lookup("/usr/bin/demo"); n.Package != "demo-2:1.0-1.x86_64" {
		t.Errorf("Package = %q", n.Package)
	}
	s := demo()
	s.Files[0].Digest = strings.Repeat("0", 64)
	_, _, err = extractBytes(mustBuild(t, s), extract.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "extract demo-2:1.0-1.x86_64: ") {
		t.Errorf("error = %v", err)
	}
}

// A later package writing the same directory takes it over, as rpm does.
func TestPackageTwoPackagesShareDirs(t *testing.T) {
	tree := fstree.New()
	a := rpmfixture.Spec{Name: "a", Version: "1", Release: "1", Files: []rpmfixture.File{
		{Path: "/usr/lib64", Mode: rpmfixture.ModeDir | 0o755},
		{Path: "/lib64", LinkTarget: "usr/lib64"},
	}}
	b := rpmfixture.Spec{Name: "b", Version: "1", Release: "1", Files: []rpmfixture.File{
		{Path: "/lib64", Mode: rpmfixture.ModeDir | 0o755},
		{Path: "/lib64/ld.so", Data: []byte("ld")},
	}}
	for _, s := range []rpmfixture.Spec{a, b} {
		if _, err := extract.Package(context.Background(), tree, bytes.NewReader(mustBuild(t, s)), extract.Options{Name: s.Name}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := tree.Lookup("/usr/lib64/ld.so"); err != nil || n.Package != "b" {
		t.Fatalf("file not written through the /lib64 symlink: %v", err)
	}
	if n, _ := tree.Lookup("/lib64"); n.Kind != fstree.Symlink {
		t.Error("the /lib64 symlink was replaced by a directory")
	}
}

func hostile(mutate func(s *rpmfixture.Spec)) rpmfixture.Spec {
	s := rpmfixture.Spec{Name: "evil", Version: "1", Release: "1", Compressor: "none", Files: []rpmfixture.File{
		{Path: "/x", Data: []byte("hello")},
	}}
	mutate(&s)
	return s
}

func entries(t *testing.T, s rpmfixture.Spec) []rpmfixture.Entry {
	t.Helper()
	e, err := rpmfixture.PayloadEntries(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPackageHostile(t *testing.T) {
	reg := uint32(rpmfixture.ModeReg | 0o644)
	for _, tc := range []struct {
		name   string
		spec   rpmfixture.Spec
		want   string // the whole error text
		target error  // errors.Is target, when there is one
	}{
		{
			name: "dotdot",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./../x", reg, []byte("hello"))}
			}),
			want:   `extract evil.rpm: entry "./../x": unsafe path: ".." component`,
			target: extract.ErrUnsafePath,
		},
		{
			name: "dotdot inside",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./usr/../../x", reg, []byte("hello"))}
			}),
			want:   `extract evil.rpm: entry "./usr/../../x": unsafe path: ".." component`,
			target: extract.ErrUnsafePath,
		},
		{
			name: "absolute name not in the header",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("/etc/passwd", reg, []byte("root::0:0"))}
			}),
			want: "extract evil.rpm: entry /etc/passwd is not in the package header",
		},
		{
			name: "NUL in name",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./x\x00/../../etc/passwd", reg, []byte("hello"))}
			}),
			want:   `extract evil.rpm: entry "./x\x00/../../etc/passwd": unsafe path: NUL in name`,
			target: extract.ErrUnsafePath,
		},
		{
			name: "overlong name",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./"+strings.Repeat("a", 5000), reg, nil)}
			}),
			want: "extract evil.rpm: payload corrupt at its start: cpio name of 5002 bytes (limit 4096)",
		},
		{
			name: "header path with dotdot",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files[0].Path = "/../../etc/cron.d/x"
			}),
			want:   `extract evil.rpm: header file "/../../etc/cron.d/x": unsafe path: ".." component`,
			target: extract.ErrUnsafePath,
		},
		{
			name: "symlink out of the tree, then a file through it",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/tmp", LinkTarget: "../../../../tmp"},
					{Path: "/tmp/evil", Data: []byte("pwned")},
				}
			}),
			want:   "extract evil.rpm: entry ./tmp/evil: write /tmp/evil: path escapes the tree",
			target: fstree.ErrEscape,
		},
		{
			name: "absolute symlink climbing out, then a directory through it",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/up", LinkTarget: "/../.."},
					{Path: "/up/etc", Mode: rpmfixture.ModeDir | 0o755},
				}
			}),
			want:   "extract evil.rpm: entry ./up/etc: mkdir /up/etc: path escapes the tree",
			target: fstree.ErrEscape,
		},
		{
			name: "hardlink set without data",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/a", Data: []byte("data"), Hardlink: "g"},
					{Path: "/b", Data: []byte("data"), Hardlink: "g"},
				}
				e := entries(t, *s)
				e[1].Data = nil
				s.Entries = e
			}),
			want: "extract evil.rpm: entry ./b: hardlink set {/a, /b} has no member carrying its 4 bytes",
		},
		{
			name: "hardlink set cut short",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/a", Data: []byte("data"), Hardlink: "g"},
					{Path: "/b", Data: []byte("data"), Hardlink: "g"},
				}
				s.Entries = entries(t, *s)[:1]
			}),
			want: "extract evil.rpm: hardlink set {/a, /b}: the payload ends before the member carrying its data",
		},
		{
			name: "hardlink data twice",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/a", Data: []byte("data"), Hardlink: "g"},
					{Path: "/b", Data: []byte("data"), Hardlink: "g"},
				}
				e := entries(t, *s)
				e[0].Data = []byte("data")
				s.Entries = e
			}),
			want: "extract evil.rpm: entry ./b: hardlink set {/a, /b} carries data twice",
		},
		{
			name: "entry not in the header",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = append(entries(t, *s), rpmfixture.NewEntry("./y", reg, nil))
			}),
			want: "extract evil.rpm: entry ./y is not in the package header",
		},
		{
			name: "entry twice",
			spec: hostile(func(s *rpmfixture.Spec) {
				e := entries(t, *s)
				s.Entries = append(e, e[0])
			}),
			want: "extract evil.rpm: entry ./x appears twice in the payload",
		},
		{
			name: "file missing from the payload",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = append(s.Files, rpmfixture.File{Path: "/y", Data: []byte("y")})
				s.Entries = entries(t, *s)[:1]
			}),
			want: "extract evil.rpm: /y is in the header but missing from the payload",
		},
		{
			name: "size differs from the header",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./x", reg, []byte("hel"))}
			}),
			want: "extract evil.rpm: entry ./x: 3 bytes in the payload, 5 in the header",
		},
		{
			name: "digest mismatch",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./x", reg, []byte("HELLO"))}
			}),
			want:   "extract evil.rpm: entry ./x: file digest mismatch: header 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, payload 3733cd977ff8eb18b987357e22ced99f46097f31ecb239e878ae63760e83e4d5",
			target: extract.ErrDigestMismatch,
		},
		{
			name: "md5 digest mismatch",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.DigestAlgo = 1
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./x", reg, []byte("HELLO"))}
			}),
			want:   "extract evil.rpm: entry ./x: file digest mismatch: header 5d41402abc4b2a76b9719d911017c592, payload eb61eead90e3b899c6bcbe27ac581660",
			target: extract.ErrDigestMismatch,
		},
		{
			name: "type differs from the header",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./x", rpmfixture.ModeSymlink|0o777, []byte("/etc/shadow"))}
			}),
			want: "extract evil.rpm: entry ./x: payload type 120000, header type 100000",
		},
		{
			name: "symlink target differs from the header",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{{Path: "/l", LinkTarget: "ok"}}
				s.Entries = []rpmfixture.Entry{rpmfixture.NewEntry("./l", rpmfixture.ModeSymlink|0o777, []byte("../../etc"))}
			}),
			want: `extract evil.rpm: entry ./l: symlink target "../../etc" in the payload, "ok" in the header`,
		},
		{
			name: "crc checksum mismatch",
			spec: hostile(func(s *rpmfixture.Spec) {
				e := rpmfixture.NewEntry("./x", reg, []byte("hello"))
				e.Magic, e.Check = "070702", 1
				s.Entries = []rpmfixture.Entry{e}
			}),
			want: "extract evil.rpm: payload corrupt at entry ./x: cpio checksum mismatch: header 00000001, data 00000214",
		},
		{
			name: "no trailer",
			spec: hostile(func(s *rpmfixture.Spec) { s.NoTrailer = true }),
			want: "extract evil.rpm: payload truncated after entry ./x: payload ends without a cpio trailer: unexpected EOF",
		},
		{
			name: "bad cpio magic",
			spec: hostile(func(s *rpmfixture.Spec) {
				e := rpmfixture.NewEntry("./x", reg, []byte("hello"))
				e.Magic = "070707"
				s.Entries = []rpmfixture.Entry{e}
			}),
			want: `extract evil.rpm: payload corrupt at its start: bad cpio magic "070707" at payload offset 0`,
		},
		{
			name: "stripped index out of range",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Stripped = true
				e := entries(t, *s)
				e[0].Index = 7
				s.Entries = e
			}),
			want: "extract evil.rpm: payload corrupt at its start: stripped cpio entry refers to file #7 of 1",
		},
		{
			name: "bad capability text",
			spec: hostile(func(s *rpmfixture.Spec) { s.Files[0].Caps = "cap_root=ep" }),
			want: `extract evil.rpm: entry ./x: capability clause "cap_root=ep": unknown capability "cap_root"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, info, err := extractBytes(mustBuild(t, tc.spec), extract.Options{Name: "evil.rpm"})
			if err == nil {
				t.Fatalf("no error; info %+v, tree:\n%s", info, tree.Dump())
			}
			if info != nil {
				t.Error("info returned with an error")
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tc.want)
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("error does not wrap %v", tc.target)
			}
			if tree.Exists("/etc/passwd") || tree.Exists("/etc/cron.d/x") {
				t.Error("a hostile path was written")
			}
		})
	}
}

// An absolute member name (nfpm writes them) only selects the header entry
// of the same path, which is written inside the tree, as rpm does.
func TestPackageAbsoluteNames(t *testing.T) {
	s := hostile(func(s *rpmfixture.Spec) {
		e := entries(t, *s)
		e[0].Name = "/x"
		s.Entries = e
	})
	tree, _, err := extractBytes(mustBuild(t, s), extract.Options{Name: "abs"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tree.Lookup("/x"); err != nil || string(n.Data) != "hello" {
		t.Fatalf("/x not extracted: %v", err)
	}
}

func TestPackageTruncated(t *testing.T) {
	s := rpmfixture.Spec{Name: "hello", Version: "2.0", Release: "1", Compressor: "none", Files: []rpmfixture.File{
		{Path: "/usr/bin/hello", Mode: 0o755, Data: bytes.Repeat([]byte("hello "), 1000)},
	}}
	full := mustBuild(t, s)
	hdrEnd := bytes.Index(full, []byte("070701"))
	sigLen := 16 + 16*int(binary.BigEndian.Uint32(full[104:])) + int(binary.BigEndian.Uint32(full[108:]))
	for _, tc := range []struct {
		cut  int
		want string
	}{
		{0, "extract hello-2.0-1.x86_64.rpm: reading lead: unexpected EOF"},
		{50, "extract hello-2.0-1.x86_64.rpm: reading lead: unexpected EOF"},
		{100, "extract hello-2.0-1.x86_64.rpm: reading signature: unexpected EOF"},
		{96 + 20, "extract hello-2.0-1.x86_64.rpm: reading signature index: unexpected EOF"},
		{96 + sigLen - 4, "extract hello-2.0-1.x86_64.rpm: reading signature store: unexpected EOF"},
		{hdrEnd - 10, "extract hello-2.0-1.x86_64.rpm: reading header store: unexpected EOF"},
		{hdrEnd, "extract hello-2.0-1.x86_64.rpm: payload missing (the file ends after the header): unexpected EOF"},
		{hdrEnd + 50, "extract hello-2.0-1.x86_64.rpm: payload truncated at its start: unexpected EOF"},
		{hdrEnd + 200, "extract hello-2.0-1.x86_64.rpm: payload truncated at entry ./usr/bin/hello: unexpected EOF"},
		{len(full) - 60, "extract hello-2.0-1.x86_64.rpm: payload truncated after entry ./usr/bin/hello: unexpected EOF"},
	} {
		_, info, err := extractBytes(full[:tc.cut], extract.Options{Name: "hello-2.0-1.x86_64.rpm"})
		if err == nil || err.Error() != tc.want {
			t.Errorf("cut at %d: error %v\nwant %s", tc.cut, err, tc.want)
		}
		if info != nil {
			t.Errorf("cut at %d: info returned with an error", tc.cut)
		}
	}
	// Compressed payloads cut anywhere fail too, whatever the decompressor
	// reports.
	for _, comp := range compressors {
		s.Compressor = comp
		full := mustBuild(t, s)
		for cut := len(full) - 1; cut > len(full)-200 && cut > 0; cut -= 7 {
			if _, _, err := extractBytes(full[:cut], extract.Options{Name: "x"}); err == nil {
				t.Errorf("%s cut at %d of %d: no error", comp, cut, len(full))
			} else if strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: multi-line error %q", comp, err)
			}
		}
	}
}

// Flipping any payload byte either fails (the decompressor's checksum, the
// cpio structure, the file digests) or changes nothing that is extracted
// (cpio fields rpm ignores: inode, mtime, uid, padding): never a silently
// different tree.
func TestPackageCorruptPayload(t *testing.T) {
	s := demo()
	for _, comp := range compressors {
		s.Compressor = comp
		full := mustBuild(t, s)
		goodTree, goodInfo, err := extractBytes(full, extract.Options{Name: "x"})
		if err != nil {
			t.Fatal(err)
		}
		hdrEnd := len(full) - payloadLen(t, full)
		failed := 0
		for i := hdrEnd; i < len(full); i += max(1, (len(full)-hdrEnd)/300) {
			bad := bytes.Clone(full)
			bad[i] ^= 0x55
			tree, info, err := extractBytes(bad, extract.Options{Name: "x"})
			if err != nil {
				failed++
				continue
			}
			if tree.Dump() != goodTree.Dump() || info.Files != goodInfo.Files || info.Caps != goodInfo.Caps {
				t.Errorf("%s: byte %d of the payload flipped: a different tree and no error", comp, i-hdrEnd)
			}
		}
		if failed == 0 {
			t.Errorf("%s: no flipped byte was detected", comp)
		}
	}
}

// payloadLen finds the payload size from the fixture's signature SIZE tag.
func payloadLen(t *testing.T, rpm []byte) int {
	t.Helper()
	n := int(binary.BigEndian.Uint32(rpm[104:]))
	store := 96 + 16 + 16*n
	dl := int(binary.BigEndian.Uint32(rpm[108:]))
	hdrStart := store + dl + (8-dl%8)%8
	for i := 0; i < n; i++ {
		e := rpm[96+16+16*i:]
		if binary.BigEndian.Uint32(e) == 1000 {
			size := int(binary.BigEndian.Uint32(rpm[store+int(binary.BigEndian.Uint32(e[8:])):]))
			hn := int(binary.BigEndian.Uint32(rpm[hdrStart+8:]))
			hdl := int(binary.BigEndian.Uint32(rpm[hdrStart+12:]))
			return size - (16 + 16*hn + hdl)
		}
	}
	t.Fatal("no SIZE tag")
	return 0
}

// patchTag rewrites the count of a main header tag in place.
func patchTag(t *testing.T, rpm []byte, tag, count uint32) []byte {
	t.Helper()
	rpm = bytes.Clone(rpm)
	n := int(binary.BigEndian.Uint32(rpm[104:]))
	dl := int(binary.BigEndian.Uint32(rpm[108:]))
	h := 96 + 16 + 16*n + dl + (8-dl%8)%8
	hn := int(binary.BigEndian.Uint32(rpm[h+8:]))
	for i := 0; i < hn; i++ {
		e := rpm[h+16+16*i:]
		if binary.BigEndian.Uint32(e) == tag {
			binary.BigEndian.PutUint32(e[12:], count)
			return rpm
		}
	}
	t.Fatalf("tag %d not found", tag)
	return nil
}

func TestPackageHostileHeader(t *testing.T) {
	good := mustBuild(t, demo())
	lead := good[:96]
	intro := func(nindex, dsize uint32) []byte {
		b := append([]byte{}, lead...)
		b = append(b, 0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0)
		b = binary.BigEndian.AppendUint32(b, nindex)
		return binary.BigEndian.AppendUint32(b, dsize)
	}
	for _, tc := range []struct {
		name string
		rpm  []byte
		want string
	}{
		{"not an rpm", append([]byte("PK\x03\x04"), make([]byte, 200)...), "extract x: not an RPM package (bad lead magic 504b0304)"},
		{"billions of index entries", intro(0xffffffff, 100), "extract x: signature: 4294967295 index entries (must be 1..65535)"},
		{"4 GB store", intro(1, 0xfffffff0), "extract x: signature: data store of 4294967280 bytes exceeds the limit of 268435456"},
		{"200 MB store, 100 bytes sent", append(intro(1, 200<<20), make([]byte, 116)...), "extract x: reading signature store: unexpected EOF"},
		{"billions of basenames", patchTag(t, good, 1117, 0x7fffffff), "extract x: header tag 1117: 2147483647 strings in "},
		{"a million basenames", patchTag(t, good, 1117, 1<<20+1), "extract x: header tag 1117: 1048577 strings in "},
		{"short modes", patchTag(t, good, 1030, 3), "extract x: header tag 1030 has 3 values for 14 files"},
		{"modes overrun the store", patchTag(t, good, 1030, 1<<30), "extract x: header tag 1030: 1073741824 values, at most 14 expected"},
		{"sizes overrun the store", patchTag(t, good, 1028, 14<<20), "extract x: header tag 1028: 14680064 values, at most 14 expected"},
		{"dirindexes short", patchTag(t, good, 1116, 2), "extract x: header tag 1116 has 2 values for 14 files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := extractBytes(tc.rpm, extract.Options{Name: "x"})
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 8<<20 {
				t.Errorf("allocated %d bytes for a hostile header", d)
			}
		})
	}
}

// A tiny zstd payload that expands past MaxBytes fails with ErrTooLarge,
// both when a member declares its size and when many small members add up.
func TestPackageBomb(t *testing.T) {
	big := rpmfixture.Spec{Name: "bomb", Version: "1", Release: "1", Compressor: "zstd", Files: []rpmfixture.File{
		{Path: "/zeros", Data: make([]byte, 64<<20)},
	}}
	rpm := mustBuild(t, big)
	if len(rpm) > 64<<10 {
		t.Fatalf("bomb is %d bytes, not tiny", len(rpm))
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := extract.Package(context.Background(), fstree.New(), bytes.NewReader(rpm), extract.Options{Name: "bomb", MaxBytes: 1 << 20})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if !errors.Is(err, extract.ErrTooLarge) || err.Error() != "extract bomb: entry ./zeros: payload exceeds the size limit (--max-size 1M): it claims 67108864 bytes" {
		t.Errorf("error = %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Errorf("allocated %d bytes", d)
	}

	many := rpmfixture.Spec{Name: "bomb", Version: "1", Release: "1", Compressor: "zstd"}
	for i := 0; i < 64; i++ {
		many.Files = append(many.Files, rpmfixture.File{Path: "/z/" + strings.Repeat("f", i+1), Data: make([]byte, 64<<10)})
	}
	_, _, err = extractBytes(mustBuild(t, many), extract.Options{Name: "bomb", MaxBytes: 1 << 20})
	if !errors.Is(err, extract.ErrTooLarge) {
		t.Errorf("many members: error = %v", err)
	}
	// The same package fits a limit just above its size.
	_, info, err := extractBytes(mustBuild(t, many), extract.Options{Name: "bomb", MaxBytes: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := extractBytes(mustBuild(t, many), extract.Options{Name: "bomb", MaxBytes: info.PayloadBytes}); err != nil {
		t.Errorf("payload of exactly MaxBytes: %v", err)
	}
	if _, _, err := extractBytes(mustBuild(t, many), extract.Options{Name: "bomb", MaxBytes: info.PayloadBytes - 1}); !errors.Is(err, extract.ErrTooLarge) {
		t.Errorf("payload of MaxBytes+1: %v", err)
	}
}

// A member whose size (agreed by the header) is far beyond what the stream
// holds costs memory only as its data arrives.
func TestPackageLyingSize(t *testing.T) {
	s := hostile(func(s *rpmfixture.Spec) {
		s.Files[0].Size = 3 << 30
		e := rpmfixture.NewEntry("./x", rpmfixture.ModeReg|0o644, []byte("hello"))
		e.Size = 3 << 30
		s.Entries = []rpmfixture.Entry{e}
	})
	var before, after runtime.MemStats
	rpm := mustBuild(t, s)
	runtime.ReadMemStats(&before)
	_, err := extract.Package(context.Background(), fstree.New(), bytes.NewReader(rpm), extract.Options{Name: "evil.rpm"})
	runtime.ReadMemStats(&after)
	if err == nil || err.Error() != "extract evil.rpm: payload truncated at entry ./x: unexpected EOF" {
		t.Errorf("error = %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("allocated %d bytes", d)
	}
	// Expand, which buffers the payload, does not believe the header either.
	runtime.ReadMemStats(&before)
	_, err = extract.Expand(context.Background(), bytes.NewReader(rpm), extract.Options{Name: "evil.rpm"})
	runtime.ReadMemStats(&after)
	if err == nil || err.Error() != "extract evil.rpm: payload truncated at entry ./x: unexpected EOF" {
		t.Errorf("Expand: %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 20<<20 {
		t.Errorf("Expand allocated %d bytes", d)
	}
	if _, _, err := extractBytes(rpm, extract.Options{Name: "evil.rpm"}); err == nil {
		t.Error("Expand+Apply path: no error")
	}
}

// A payload far larger than its header's file list allows stops at that
// bound (plus slack), whatever --max-size allows: a bomb by the package's
// own account, said so, at a small cost, for every compressor and path.
// (The bomb hides after the cpio trailer: a member larger than its header
// says is refused as soon as its cpio header is read.)
func TestPackageBombBeyondHeader(t *testing.T) {
	for _, comp := range []string{"zstd", "xz", "gzip"} {
		s := hostile(func(s *rpmfixture.Spec) {
			s.Compressor = comp
			s.Entries = []rpmfixture.Entry{
				rpmfixture.NewEntry("./x", rpmfixture.ModeReg|0o644, []byte("hello")),
				rpmfixture.NewEntry("TRAILER!!!", 0, nil),
				rpmfixture.NewEntry("./y", rpmfixture.ModeReg|0o644, make([]byte, 48<<20)),
			}
		})
		rpm := mustBuild(t, s)
		for name, run := range map[string]func() error{
			"Package": func() error {
				_, err := extract.Package(context.Background(), fstree.New(), bytes.NewReader(rpm), extract.Options{Name: "evil.rpm"})
				return err
			},
			"Expand": func() error {
				_, err := extract.Expand(context.Background(), bytes.NewReader(rpm), extract.Options{Name: "evil.rpm"})
				return err
			},
		} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := run()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, extract.ErrTooLarge) || !strings.Contains(err.Error(), "its header's file list allows (a decompression bomb?)") {
				t.Errorf("%s %s: %v", comp, name, err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 24<<20 {
				t.Errorf("%s %s: allocated %d MiB for a 48 MiB bomb", comp, name, d>>20)
			}
		}
	}
}

func TestPackageCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := extract.Package(ctx, fstree.New(), bytes.NewReader(mustBuild(t, demo())), extract.Options{Name: "demo"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v", err)
	}
}

// Package reads exactly its input and no further than the payload.
func TestPackageStreams(t *testing.T) {
	rpm := mustBuild(t, demo())
	r := &countingReader{r: bytes.NewReader(rpm)}
	if _, err := extract.Package(context.Background(), fstree.New(), io.Reader(r), extract.Options{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	if r.n != int64(len(rpm)) {
		t.Errorf("read %d of %d bytes", r.n, len(rpm))
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
