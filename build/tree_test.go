package build

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smith-build/smith/fstree"
)

// pkgTree is a small installed tree: usrmerge links, a setuid binary with a
// capability, a hardlink pair, a directory the overlay replaces.
func pkgTree(t *testing.T) *fstree.Tree {
	t.Helper()
	tr := fstree.New()
	root := fstree.Owner{User: "root", Group: "root"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tr.Mkdir("/usr/lib64", 0o555, root, "filesystem"))
	must(tr.Mkdir("/usr/bin", 0o555, root, "filesystem"))
	must(tr.Symlink("usr/lib64", "/lib64", root, "filesystem"))
	must(tr.Symlink("usr/bin", "/bin", root, "filesystem"))
	_, err := tr.WriteFile("/usr/lib64/libc.so.6", []byte("libc"), 0o755, root, "glibc")
	must(err)
	_, err = tr.WriteFile("/usr/lib64/libnss_files.so.2", []byte("nss"), 0o755, root, "glibc")
	must(err)
	_, err = tr.WriteFile("/usr/lib64/libresolv.so.2", []byte("resolv"), 0o755, root, "glibc")
	must(err)
	n, err := tr.WriteFile("/usr/bin/ping", []byte("ping"), 0o4755|fs.ModeSetuid, root, "iputils")
	must(err)
	n.Xattrs = map[string][]byte{"security.capability": {1}}
	z, err := tr.WriteFile("/usr/bin/zstd", []byte("zstd"), 0o755, root, "zstd")
	must(err)
	must(tr.Link(z, "/usr/bin/unzstd"))
	must(tr.Mkdir("/tmp", 0o777|fs.ModeSticky, root, "filesystem"))
	c, err := tr.WriteFile("/usr/sbin/capped", []byte("capped"), 0o2755|fs.ModeSetgid, root, "x")
	must(err)
	c.Xattrs = map[string][]byte{"security.capability": {1}, "user.comment": []byte("kept")}
	_, err = tr.WriteFile("/etc/httpd/conf/httpd.conf", []byte("conf"), 0o644, root, "httpd")
	must(err)
	_, err = tr.WriteFile("/usr/share/doc/a/README", []byte("doc"), 0o644, root, "a")
	must(err)
	_, err = tr.WriteFile("/usr/share/doc/b/README", []byte("doc"), 0o644, root, "b")
	must(err)
	_, err = tr.WriteFile("/read/data", []byte("package data"), 0o644, root, "x")
	must(err)
	return tr
}

func TestOverlayOwnershipExcludes(t *testing.T) {
	tr := pkgTree(t)
	src := filepath.Join(t.TempDir(), "rootfs")
	files := map[string]string{
		"read/data":                 "Hello World!\n",
		"read/.gitignore":           "*\n",
		"etc/httpd/conf":            "->/read/conf",
		"lib64/libextra.so":         "extra",
		"usr/bin/ping":              "my ping",
		"write/.keep":               "",
		"usr/local/bin/tool":        "#!/bin/sh\n",
		"usr/share/doc/b/README.md": "md",
	}
	for name, data := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(data, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "usr/local/bin/tool"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := overlay(tr, src); err != nil {
		t.Fatal(err)
	}
	if err := removeExcludes(tr, []string{"/usr/share/doc/*/README", "/lib64/libresolv*", "/nosuch/*"}); err != nil {
		t.Fatal(err)
	}
	r, _ := ResolveUser("", false, nil)
	stripped := normalizeOwnership(tr, r, false)
	if !reflect.DeepEqual(stripped, []string{"/usr/sbin/capped"}) {
		t.Errorf("stripped capabilities of %v", stripped)
	}
	want := `/: dir 0755 10:10
/bin: symlink usr/bin
/etc: dir 0755 10:10
/etc/httpd: dir 0755 10:10
/etc/httpd/conf: symlink /read/conf
/lib64: symlink usr/lib64
/read: dir 0755 10:10
/read/data: file 0644 10:10 03ba204e
/tmp: dir 0777 10:10
/usr: dir 0755 10:10
/usr/bin: dir 0555 10:10
/usr/bin/ping: file 0644 10:10 4370e749
/usr/bin/unzstd: file 0755 10:10 242daddb <1>
/usr/bin/zstd: file 0755 10:10 242daddb <1>
/usr/lib64: dir 0555 10:10
/usr/lib64/libc.so.6: file 0755 10:10 16c8c6eb
/usr/lib64/libextra.so: file 0644 10:10 c8dee78f
/usr/lib64/libnss_files.so.2: file 0755 10:10 1cb29103
/usr/local: dir 0755 10:10
/usr/local/bin: dir 0755 10:10
/usr/local/bin/tool: file 0750 10:10 a8076d3d
/usr/sbin: dir 0755 10:10
/usr/sbin/capped: file 0755 10:10 5a194219 xattr=user.comment
/usr/share: dir 0755 10:10
/usr/share/doc: dir 0755 10:10
/usr/share/doc/a: dir 0755 10:10
/usr/share/doc/b: dir 0755 10:10
/usr/share/doc/b/README.md: file 0644 10:10 21262a3c
/write: dir 0755 10:10
/write/.keep: file 0644 10:10 e3b0c442
`
	if got := tr.Dump(); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
}

func TestOverlayErrors(t *testing.T) {
	tr := pkgTree(t)
	if err := overlay(tr, filepath.Join(t.TempDir(), "nosuch")); err != nil {
		t.Errorf("a missing rootfs/ is not an error: %v", err)
	}
	f := filepath.Join(t.TempDir(), "rootfs")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := overlay(tr, f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("rootfs file: %v", err)
	}
}

func TestGlob(t *testing.T) {
	tr := pkgTree(t)
	for pattern, want := range map[string][]string{
		"/usr/bin/*":              {"/usr/bin/ping", "/usr/bin/unzstd", "/usr/bin/zstd"},
		"/bin/z*":                 {"/bin/zstd"},
		"/lib64/libnss_*":         {"/lib64/libnss_files.so.2"},
		"/usr/share/doc/*/README": {"/usr/share/doc/a/README", "/usr/share/doc/b/README"},
		"/read/data":              {"/read/data"},
		"read/data":               {"/read/data"},
		"/nosuch":                 nil,
		"/nosuch/*":               nil,
		"/":                       {"/"},
	} {
		got, err := glob(tr, pattern)
		if err != nil {
			t.Errorf("%s: %v", pattern, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("glob(%s) = %v, want %v", pattern, got, want)
		}
	}
	if _, err := glob(tr, "/a/["); err == nil {
		t.Error("bad pattern accepted")
	}
	if err := removeExcludes(tr, []string{"/*"}); err != nil {
		t.Fatal(err)
	}
	if err := removeExcludes(tr, []string{"/"}); err == nil {
		t.Error("excluding / accepted")
	}
}

func TestNSS(t *testing.T) {
	tr := pkgTree(t)
	if got, want := nssLibraries(tr), []string{"/usr/lib64/libnss_files.so.2", "/usr/lib64/libresolv.so.2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nssLibraries = %v, want %v", got, want)
	}
	if got := nssLibraries(fstree.New()); got != nil {
		t.Errorf("nssLibraries of an empty tree = %v", got)
	}
	r, _ := ResolveUser("app", false, []string{"web"})
	if err := mkdirIfMissing(tr, "/etc/passwd"); err != nil {
		t.Fatal(err)
	}
	if err := writeNSS(tr, r); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"/etc/passwd":        "app:x:10:10:app:/write:",
		"/etc/group":         "web:x:11:app",
		"/etc/nsswitch.conf": "hosts:      files dns",
	} {
		n, err := tr.Lookup(p)
		if err != nil || n.Kind != fstree.File || !strings.Contains(string(n.Data), want) {
			t.Errorf("%s: %v %+v", p, err, n)
		}
	}
	if err := mkdirIfMissing(tr, "/etc/passwd"); err == nil {
		t.Error("mkdirIfMissing over a file")
	}
	if err := mkdirIfMissing(tr, "/lib64"); err != nil {
		t.Errorf("mkdirIfMissing over a symlink to a directory: %v", err)
	}
}

// TestTreeRoundTrip checks that the -f cache format keeps everything of a
// tree: kinds, modes with special bits, owners with names, xattrs,
// hardlinks and owning packages.
func TestTreeRoundTrip(t *testing.T) {
	tr := pkgTree(t)
	tr.Root().Mode = 0o555
	var buf strings.Builder
	if err := writeTree(&buf, tr); err != nil {
		t.Fatal(err)
	}
	got, err := readTree(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Dump() != tr.Dump() {
		t.Errorf("dump after a round trip:\n%s\nwant:\n%s", got.Dump(), tr.Dump())
	}
	describe := func(x *fstree.Tree) string {
		var b strings.Builder
		_ = x.Walk("/", func(p string, n *fstree.Inode) error {
			b.WriteString(p + " " + n.Owner.User + ":" + n.Owner.Group + " " + n.Package + " " + n.Mode.String() + "\n")
			return nil
		})
		return b.String()
	}
	if describe(got) != describe(tr) {
		t.Errorf("owners/packages after a round trip:\n%s\nwant:\n%s", describe(got), describe(tr))
	}
	z1, _ := got.Lookup("/usr/bin/zstd")
	z2, _ := got.Lookup("/usr/bin/unzstd")
	if z1 != z2 {
		t.Error("hardlink lost")
	}
	if _, err := readTree(strings.NewReader("not a tar")); err == nil {
		t.Error("garbage read as a tree")
	}
}
