package extract_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/rpmfixture"
)

// Containment tests beyond TestPackageHostile: links, loops and names that
// try to leave the tree or exhaust the machine. Each error names the package
// and the entry.

func TestPackageContainment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   rpmfixture.Spec
		want   string // the whole error text
		target error
	}{
		{
			name: "hardlink member through a symlink out of the tree",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/a", Data: []byte("pwned"), Hardlink: "h"},
					{Path: "/tmp", LinkTarget: "../../../../tmp"},
					{Path: "/tmp/b", Data: []byte("pwned"), Hardlink: "h"},
				}
			}),
			want:   "extract evil.rpm: entry ./tmp/b: write /tmp/b: path escapes the tree",
			target: fstree.ErrEscape,
		},
		{
			name: "hardlink member through a symlink out of the tree, data first",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/tmp", LinkTarget: "/.."},
					{Path: "/tmp/a", Data: []byte("pwned"), Hardlink: "h"},
					{Path: "/z", Data: []byte("pwned"), Hardlink: "h"},
				}
			}),
			want:   "extract evil.rpm: entry /tmp/a: link /tmp/a: path escapes the tree",
			target: fstree.ErrEscape,
		},
		{
			name: "symlink loop, then a file through it",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/a", LinkTarget: "b"},
					{Path: "/b", LinkTarget: "a"},
					{Path: "/b/x", Data: []byte("x")},
				}
			}),
			want:   "extract evil.rpm: entry ./b/x: write /b/x: too many levels of symbolic links",
			target: fstree.ErrLoop,
		},
		{
			name: "symlink chain climbing out one step at a time",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{
					{Path: "/d1/up", LinkTarget: ".."},
					{Path: "/d1/up2", LinkTarget: "up/.."},
					{Path: "/d1/up2/etc/passwd", Data: []byte("root::0:0")},
				}
			}),
			want:   "extract evil.rpm: entry ./d1/up2/etc/passwd: mkdir /d1/up2/etc: path escapes the tree",
			target: fstree.ErrEscape,
		},
		{
			name: "overlong header path",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files[0].Path = "/" + strings.Repeat("a/", 2500)
			}),
			want:   "unsafe path: name of 5001 bytes (limit 4096)",
			target: extract.ErrUnsafePath,
		},
		{
			// The header's strings end at the NUL; the payload's copy of
			// the target must then differ from it.
			name: "NUL in a symlink target",
			spec: hostile(func(s *rpmfixture.Spec) {
				s.Files = []rpmfixture.File{{Path: "/l", LinkTarget: "a\x00/../../etc"}}
			}),
			want: `extract evil.rpm: entry ./l: symlink target "a\x00/../../etc" in the payload, "a" in the header`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, info, err := extractBytes(mustBuild(t, tc.spec), extract.Options{Name: "evil.rpm"})
			if err == nil {
				t.Fatalf("no error; info %+v, tree:\n%s", info, tree.Dump())
			}
			if err.Error() != tc.want && !(strings.HasPrefix(err.Error(), "extract evil.rpm: ") && strings.HasSuffix(err.Error(), tc.want)) {
				t.Errorf("error:\n%q\nwant:\n%q", err, tc.want)
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("error does not wrap %v", tc.target)
			}
			if tree.Exists("/etc/passwd") || tree.Exists("/b/x") {
				t.Errorf("a hostile path was written:\n%s", tree.Dump())
			}
		})
	}
}

// A later package writing a regular file where an earlier one put a
// symlink (to an absolute path, or out of the tree) replaces the symlink,
// as rpm does: it never writes through it.
func TestPackageReplacesSymlinkNotThrough(t *testing.T) {
	tree := fstree.New()
	for _, target := range []string{"/etc/shadow", "../../../../etc/shadow"} {
		first := rpmfixture.Spec{Name: "first", Version: "1", Release: "1", Compressor: "none", Files: []rpmfixture.File{
			{Path: "/etc/shadow", Data: []byte("root:!::")},
			{Path: "/usr/bin/tool", LinkTarget: target},
		}}
		second := rpmfixture.Spec{Name: "second", Version: "1", Release: "1", Compressor: "none", Files: []rpmfixture.File{
			{Path: "/usr/bin/tool", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		}}
		for _, s := range []rpmfixture.Spec{first, second} {
			if _, err := extractInto(tree, mustBuild(t, s), s.Name); err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
		}
		if n, err := tree.Lookup("/usr/bin/tool"); err != nil || n.Kind != fstree.File || n.Package != "second" {
			t.Errorf("target %s: /usr/bin/tool is not second's file: %+v %v", target, n, err)
		}
		if n, err := tree.Lookup("/etc/shadow"); err != nil || string(n.Data) != "root:!::" {
			t.Errorf("target %s: /etc/shadow was written through the symlink: %q %v", target, n.Data, err)
		}
	}
}

func extractInto(tree *fstree.Tree, rpm []byte, name string) (*extract.Info, error) {
	return extract.Package(context.Background(), tree, bytes.NewReader(rpm), extract.Options{Name: name})
}

// allocated runs f and returns the bytes it allocated (the cumulative
// heap allocations, a bound on the peak).
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Every compressor: a payload that expands past MaxBytes fails with
// ErrTooLarge naming the package, having allocated little more than the
// limit, whether one member claims too much or many small ones add up.
func TestPackageBombEveryCompressor(t *testing.T) {
	const limit = 1 << 20
	one := rpmfixture.Spec{Name: "bomb", Version: "1", Release: "1", Files: []rpmfixture.File{
		{Path: "/zeros", Data: make([]byte, 16<<20)},
	}}
	many := rpmfixture.Spec{Name: "bomb", Version: "1", Release: "1"}
	for i := range 256 {
		many.Files = append(many.Files, rpmfixture.File{Path: "/z/" + strings.Repeat("f", i+1), Data: make([]byte, 16<<10)})
	}
	for _, comp := range compressors {
		for _, s := range []rpmfixture.Spec{one, many} {
			s.Compressor = comp
			if comp == "bzip2" && len(s.Files) == 1 {
				s.Files = []rpmfixture.File{{Path: "/zeros", Data: make([]byte, 4<<20)}} // the fixture's bzip2 encoder is slow
			}
			rpm := mustBuild(t, s)
			var err error
			mem := allocated(func() {
				_, _, err = extractBytes(rpm, extract.Options{Name: "bomb-1-1.x86_64", MaxBytes: limit})
			})
			if !errors.Is(err, extract.ErrTooLarge) || !strings.HasPrefix(err.Error(), "extract bomb-1-1.x86_64: ") {
				t.Errorf("%s, %d files (%d bytes): error = %v", comp, len(s.Files), len(rpm), err)
			}
			// The limit, the 64 KiB read buffers and a decoder's window
			// (zstd's is the largest here).
			if mem > 24<<20 {
				t.Errorf("%s, %d files: allocated %d bytes with a limit of %d", comp, len(s.Files), mem, limit)
			}
		}
	}
}

// Compressed streams that declare huge dictionaries or windows (4 GiB)
// cost bounded memory: xz's is rewritten to what the header's sizes need,
// lzma's and zstd's are refused above rpm's largest settings.
func TestPackageHugeDictionaries(t *testing.T) {
	s := rpmfixture.Spec{Name: "dict", Version: "1", Release: "1", Files: []rpmfixture.File{
		{Path: "/usr/bin/a", Data: bytes.Repeat([]byte("data "), 1000)},
	}}
	for _, tc := range []struct {
		comp  string
		patch func(t *testing.T, payload []byte) []byte
		want  string // "" means extraction succeeds
	}{
		{"xz", patchXZDict, ""},
		{"lzma", func(t *testing.T, p []byte) []byte {
			p = bytes.Clone(p)
			binary.LittleEndian.PutUint32(p[1:], 0xffffffff)
			return p
		}, "extract dict: lzma payload: lzma: header dictionary size 4294967295 exceeds configured dictionary capacity 67108864"},
		{"zstd", func(t *testing.T, p []byte) []byte { return zstdHugeWindow(t) }, "window size exceeded"},
	} {
		t.Run(tc.comp, func(t *testing.T) {
			s.Compressor = tc.comp
			full := mustBuild(t, s)
			hdrEnd := len(full) - payloadLen(t, full)
			rpm := append(bytes.Clone(full[:hdrEnd]), tc.patch(t, full[hdrEnd:])...)
			var err error
			mem := allocated(func() { _, _, err = extractBytes(rpm, extract.Options{Name: "dict"}) })
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error = %v, want %q in it", err, tc.want)
			}
			if mem > 16<<20 {
				t.Errorf("allocated %d bytes", mem)
			}
		})
	}
}

// patchXZDict makes the first block of an xz stream declare a 4 GiB LZMA2
// dictionary (properties byte 40), with a valid header CRC.
func patchXZDict(t *testing.T, p []byte) []byte {
	t.Helper()
	p = bytes.Clone(p)
	const streamHeader = 12
	size := (int(p[streamHeader]) + 1) * 4
	hdr := p[streamHeader : streamHeader+size]
	// flags, then (no sizes in our fixtures) filter id 0x21, props size 1, props.
	if hdr[1]&0x03 != 0 || hdr[1]&0xc0 != 0 || hdr[2] != 0x21 || hdr[3] != 1 {
		t.Fatalf("unexpected xz block header %x", hdr)
	}
	hdr[4] = 40
	binary.LittleEndian.PutUint32(hdr[size-4:], crc32.ChecksumIEEE(hdr[:size-4]))
	return p
}

// zstdHugeWindow is a zstd frame (no content size, not single-segment)
// declaring a 2 GiB window, holding one raw block of a valid cpio archive.
func zstdHugeWindow(t *testing.T) []byte {
	t.Helper()
	cpio := rpmfixture.WriteCpio([]rpmfixture.Entry{
		rpmfixture.NewEntry("./usr/bin/a", uint32(rpmfixture.ModeReg|0o644), bytes.Repeat([]byte("data "), 1000)),
	}, false)
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3} // magic, FHD, window 2^31
	n := len(cpio)
	b = append(b, byte(n<<3|1), byte(n>>5), byte(n>>13)) // last block, raw
	return append(b, cpio...)
}
