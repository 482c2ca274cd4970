package fstree

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

var root = Owner{}

func mustWrite(t *testing.T, tr *Tree, p, data string, mode fs.FileMode) *Inode {
	t.Helper()
	n, err := tr.WriteFile(p, []byte(data), mode, root, "pkg")
	if err != nil {
		t.Fatalf("WriteFile(%s): %v", p, err)
	}
	return n
}

func sample(t *testing.T) *Tree {
	t.Helper()
	tr := New()
	if err := tr.Mkdir("/usr/lib64", 0o755, root, "filesystem"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Symlink("usr/lib64", "/lib64", root, "filesystem"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, tr, "/usr/lib64/libc.so.6", "libc", 0o755)
	mustWrite(t, tr, "/usr/bin/cat", "cat", 0o755)
	n := mustWrite(t, tr, "/usr/bin/zstd", "zstd", 0o755)
	if err := tr.Link(n, "/usr/bin/unzstd"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Symlink("../../lib64/libc.so.6", "/usr/bin/libc-link", root, "x"); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestFSConformance(t *testing.T) {
	tr := sample(t)
	if err := fstest.TestFS(tr, "usr/bin/cat", "usr/lib64/libc.so.6", "lib64", "usr/bin/unzstd"); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	tr := sample(t)
	for _, tc := range []struct{ in, real, dir string }{
		{"/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/usr/lib64/libc.so.6"},
		{"lib64", "/usr/lib64", "/lib64"},
		{"/usr/bin/libc-link", "/usr/lib64/libc.so.6", "/usr/bin/libc-link"},
		{"/../../lib64/./libc.so.6", "/usr/lib64/libc.so.6", "/usr/lib64/libc.so.6"},
		{"/lib64/missing", "/usr/lib64/missing", "/usr/lib64/missing"},
		// ".." climbs from the symlink's target, as in the kernel.
		{"/lib64/../bin/cat", "/usr/bin/cat", "/usr/bin/cat"},
	} {
		got, err := tr.Realpath(tc.in)
		if err != nil || got != tc.real {
			t.Errorf("Realpath(%q) = %q, %v; want %q", tc.in, got, err, tc.real)
		}
		got, err = tr.RealDir(tc.in)
		if err != nil || got != tc.dir {
			t.Errorf("RealDir(%q) = %q, %v; want %q", tc.in, got, err, tc.dir)
		}
	}
	n, err := tr.Follow("/lib64/libc.so.6")
	if err != nil || string(n.Data) != "libc" {
		t.Fatalf("Follow: %v", err)
	}
}

func TestSymlinkLoopAndEscape(t *testing.T) {
	tr := New()
	if err := tr.Symlink("b", "/a", root, ""); err != nil {
		t.Fatal(err)
	}
	if err := tr.Symlink("a", "/b", root, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Follow("/a"); !errors.Is(err, ErrLoop) {
		t.Errorf("loop: got %v, want ErrLoop", err)
	}
	// Reading through an over-climbing link stays in the tree, like a chroot.
	if err := tr.Mkdir("/etc", 0o755, root, ""); err != nil {
		t.Fatal(err)
	}
	if err := tr.Symlink("../../../../etc", "/up", root, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := tr.Realpath("/up/passwd"); err != nil || got != "/etc/passwd" {
		t.Errorf("Realpath through escaping link = %q, %v", got, err)
	}
	// Writing through it is refused.
	if _, err := tr.WriteFile("/up/passwd", nil, 0o644, root, ""); !errors.Is(err, ErrEscape) {
		t.Errorf("write through escaping link: got %v, want ErrEscape", err)
	}
	if tr.Exists("/etc/passwd") || tr.Exists("/up/passwd") {
		t.Error("file written through escaping symlink")
	}
}

func TestWriteThroughDirSymlink(t *testing.T) {
	tr := sample(t)
	mustWrite(t, tr, "/lib64/ld-linux-x86-64.so.2", "ld", 0o755)
	if n, err := tr.Lookup("/usr/lib64/ld-linux-x86-64.so.2"); err != nil || n.Kind != File {
		t.Fatalf("file not written through /lib64 symlink: %v", err)
	}
	// Mkdir on a path that is a symlink to a directory keeps the symlink.
	if err := tr.Mkdir("/lib64", 0o755, root, "glibc"); err != nil {
		t.Fatal(err)
	}
	if n, _ := tr.Lookup("/lib64"); n.Kind != Symlink {
		t.Fatal("Mkdir replaced the /lib64 symlink")
	}
	// A dangling symlink to a directory gets its target created.
	if err := tr.Symlink("/opt/real", "/dangling", root, ""); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, tr, "/dangling/sub/f", "f", 0o644)
	if !tr.Exists("/opt/real/sub/f") {
		t.Fatal("write through dangling dir symlink did not create its target")
	}
}

func TestReplaceAndRemove(t *testing.T) {
	tr := sample(t)
	mustWrite(t, tr, "/usr/bin/cat", "new", 0o700)
	n, _ := tr.Lookup("/usr/bin/cat")
	if string(n.Data) != "new" || n.Mode != 0o700 {
		t.Fatal("later write did not win")
	}
	if _, err := tr.WriteFile("/usr/bin", nil, 0o644, root, ""); err == nil {
		t.Fatal("a file replaced a non-empty directory")
	}
	if err := tr.Remove("/usr/bin"); err != nil {
		t.Fatal(err)
	}
	if tr.Exists("/usr/bin/cat") {
		t.Fatal("Remove left children")
	}
	if err := tr.Remove("/nope/x"); err != nil {
		t.Fatalf("Remove of a missing path: %v", err)
	}
}

func TestDumpAndCopy(t *testing.T) {
	tr := sample(t)
	want := strings.Join([]string{
		"/: dir 0755 0:0",
		"/lib64: symlink usr/lib64",
		"/usr: dir 0755 0:0",
		"/usr/bin: dir 0755 0:0",
		"/usr/bin/cat: file 0755 0:0 77af778b",
		"/usr/bin/libc-link: symlink ../../lib64/libc.so.6",
		"/usr/bin/unzstd: file 0755 0:0 242daddb <1>",
		"/usr/bin/zstd: file 0755 0:0 242daddb <1>",
		"/usr/lib64: dir 0755 0:0",
		"/usr/lib64/libc.so.6: file 0755 0:0 16c8c6eb",
		"",
	}, "\n")
	if got := tr.Dump(); got != want {
		t.Errorf("dump:\n%s\nwant:\n%s", got, want)
	}
	dst := New()
	c := NewCopier(tr, dst)
	for _, p := range []string{"/usr/bin/zstd", "/usr/bin/unzstd", "/lib64"} {
		if err := c.Copy(p); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := dst.Lookup("/usr/bin/zstd")
	b, _ := dst.Lookup("/usr/bin/unzstd")
	if a != b {
		t.Fatal("hardlink not kept by Copier")
	}
	if src, _ := tr.Lookup("/usr/bin/zstd"); src == a {
		t.Fatal("Copier shares inodes with the source")
	}
}
