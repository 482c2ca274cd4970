package extract_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
)

// Tests on the shared test bed's real packages. They skip when it is absent.

func needShared(t *testing.T, p string) string {
	t.Helper()
	full := filepath.Join(shared, p)
	if _, err := os.Stat(full); err != nil {
		t.Skipf("test data %s not available (%v)", full, err)
	}
	return full
}

func extractFile(t *testing.T, p string) (*fstree.Tree, *extract.Info) {
	t.Helper()
	tree, info, err := extractFileErr(p)
	if err != nil {
		t.Fatal(err)
	}
	return tree, info
}

func extractFileErr(p string) (*fstree.Tree, *extract.Info, error) {
	rpm, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	tree := fstree.New()
	opt := extract.Options{Name: filepath.Base(p)}
	info, err := extract.Package(context.Background(), tree, bytes.NewReader(rpm), opt)
	return checked(rpm, opt, tree, info, err)
}

func rpmFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".rpm") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// owned lists the paths a package put in the tree plus its ghosts: what
// rpm -qlp lists.
func owned(tree *fstree.Tree, pkg string) []string {
	var out []string
	_ = tree.Walk("/", func(p string, n *fstree.Inode) error {
		if n.Package == pkg {
			out = append(out, p)
		}
		return nil
	})
	for p, g := range tree.Ghosts() {
		if g == pkg {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Every package of the test bed's repository extracts, and what it creates
// is exactly the file list rpm itself reports.
func TestRealDistroRepo(t *testing.T) {
	files := rpmFiles(t, needShared(t, "distro/repo/Packages"))
	if len(files) < 40 {
		t.Fatalf("only %d packages found", len(files))
	}
	rpmBin, _ := exec.LookPath("rpm")
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			tree, info := extractFile(t, p)
			got := owned(tree, filepath.Base(p))
			if len(got) != info.Files-info.Skipped {
				t.Errorf("%d paths owned, Info.Files %d, Skipped %d", len(got), info.Files, info.Skipped)
			}
			if rpmBin == "" {
				return
			}
			out, err := exec.Command(rpmBin, "-qp", "--nosignature", "--qf", "[%{FILENAMES}\n]", p).Output()
			if err != nil {
				t.Fatalf("rpm -qp: %v", err)
			}
			want := strings.Fields(string(out))
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("extracted paths differ from rpm -qlp:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// The same content in every payload compressor gives the same tree.
func TestRealPayloadCompressors(t *testing.T) {
	dir := needShared(t, "real/rpms/synthetic/go-rpmutils")
	want := map[string]string{
		"w.ufdio": "none", "w3.zstdio": "zstd", "w6.lzdio": "lzma",
		"w6.xzdio": "xz", "w9.bzdio": "bzip2", "w9.gzdio": "gzip",
	}
	var first string
	for io, comp := range want {
		tree, info := extractFile(t, filepath.Join(dir, "payload-test-0.1-"+io+".x86_64.rpm"))
		if info.Payload != comp {
			t.Errorf("%s: Payload = %q, want %q", io, info.Payload, comp)
		}
		dump := tree.Dump()
		if first == "" {
			first = dump
		}
		if dump != first || info.Regular == 0 {
			t.Errorf("%s: dump\n%s\ndiffers from\n%s", io, dump, first)
		}
	}
}

func TestRealHardlinks(t *testing.T) {
	tree, info := extractFile(t, needShared(t, "real/rpms/synthetic/rpm-org/hlinktest-1.0-1.noarch.rpm"))
	sets := [][]string{
		{"/foo/hello", "/foo/hello-bar", "/foo/hello-foo", "/foo/hello-world"},
		{"/foo/aaaa", "/foo/zzzz"},
	}
	for _, set := range sets {
		first, err := tree.Lookup(set[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range set[1:] {
			if n, _ := tree.Lookup(p); n != first {
				t.Errorf("%s and %s are not one inode", set[0], p)
			}
		}
	}
	if c, _ := tree.Lookup("/foo/copyllo"); c == nil || c == mustLookup(t, tree, "/foo/hello") {
		t.Error("/foo/copyllo should be a separate file")
	}
	if info.Hardlinks != 4 || info.Regular != 7 {
		t.Errorf("info %+v", info)
	}
	// The v6 hardlink package (stripped payload).
	tree, _ = extractFile(t, needShared(t, "real/rpms/synthetic/rpm-rs/v6/rpm-hardlinks-1.0-1.noarch.rpm"))
	a := mustLookup(t, tree, "/opt/rpm-hardlinks/alpha-1")
	for _, p := range []string{"/opt/rpm-hardlinks/alpha-2", "/opt/rpm-hardlinks/alpha-3"} {
		if mustLookup(t, tree, p) != a {
			t.Errorf("%s is not alpha-1's inode", p)
		}
	}
	if b1, b2 := mustLookup(t, tree, "/opt/rpm-hardlinks/beta-1"), mustLookup(t, tree, "/opt/rpm-hardlinks/beta-2"); b1 != b2 || b1 == a {
		t.Error("beta-1/beta-2 are not their own hardlink set")
	}
	if len(a.Data) != 21 {
		t.Errorf("alpha holds %d bytes, want 21", len(a.Data))
	}
}

func mustLookup(t *testing.T, tree *fstree.Tree, p string) *fstree.Inode {
	t.Helper()
	n, err := tree.Lookup(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRealCaps(t *testing.T) {
	// busybox: cap_net_bind_service=ep, bytes as setcap writes them.
	tree, info := extractFile(t, needShared(t, "distro/repo/Packages/b/busybox-1.35.0-4.el9.x86_64.rpm"))
	bb := mustLookup(t, tree, "/usr/sbin/busybox")
	if got := hex.EncodeToString(bb.Xattrs["security.capability"]); got != "0100000200040000000000000000000000000000" {
		t.Errorf("busybox security.capability = %q", got)
	}
	if info.Caps != 1 {
		t.Errorf("busybox: Caps = %d", info.Caps)
	}
	// capstest: %caps(=) and %caps() are no capabilities: no xattr.
	tree, info = extractFile(t, needShared(t, "real/rpms/synthetic/rpm-org/capstest-1.0-1.noarch.rpm"))
	for _, p := range []string{"/a/emptyCaps1", "/a/emptyCaps2", "/a/noCaps"} {
		if n := mustLookup(t, tree, p); len(n.Xattrs) != 0 || n.Mode != 0o777 {
			t.Errorf("%s: xattrs %v mode %v", p, n.Xattrs, n.Mode)
		}
	}
	if info.Caps != 0 {
		t.Errorf("capstest: Caps = %d", info.Caps)
	}
	// rpm-rs v6: cap_sys_ptrace,cap_sys_admin=ep, and jane/bob owners.
	tree, _ = extractFile(t, needShared(t, "real/rpms/synthetic/rpm-rs/v6/rpm-file-attrs-1.0-1.noarch.rpm"))
	if got := hex.EncodeToString(mustLookup(t, tree, "/opt/rpm-file-attrs/with_caps").Xattrs["security.capability"]); got != "0100000200002800000000000000000000000000" {
		t.Errorf("with_caps security.capability = %q", got)
	}
	if o := mustLookup(t, tree, "/opt/rpm-file-attrs/different-owner-and-group").Owner; o != (fstree.Owner{User: "jane", Group: "bob"}) {
		t.Errorf("owner %+v", o)
	}
}

func TestRealTestbedFeatures(t *testing.T) {
	tree, _ := extractFile(t, needShared(t, "distro/repo/Packages/z/zstd-1.5.4-1.el9.x86_64.rpm"))
	if mustLookup(t, tree, "/usr/bin/zstd") != mustLookup(t, tree, "/usr/bin/unzstd") {
		t.Error("zstd and unzstd are not one inode")
	}
	tree, _ = extractFile(t, needShared(t, "distro/repo/Packages/n/nginx-1.22.1-9.el9.x86_64.rpm"))
	n := mustLookup(t, tree, "/var/lib/nginx/tmp")
	if n.Owner != (fstree.Owner{User: "nginx", Group: "root"}) && n.Owner.User != "nginx" {
		t.Errorf("/var/lib/nginx/tmp owner %+v", n.Owner)
	}
	if n.Mode.Perm() != 0o770 {
		t.Errorf("/var/lib/nginx/tmp mode %v", n.Mode)
	}
	if g := tree.Ghosts()["/run/nginx.pid"]; g == "" {
		t.Error("/run/nginx.pid is not a ghost")
	}
	tree, _ = extractFile(t, needShared(t, "distro/repo/Packages/b/bubblewrap-0.8.0-2.el9.x86_64.rpm"))
	if m := mustLookup(t, tree, "/usr/bin/bwrap").Mode; m != 0o755|fs.ModeSetuid {
		t.Errorf("bwrap mode %v, want setuid 0755", m)
	}
	tree, _ = extractFile(t, needShared(t, "distro/repo/Packages/f/filesystem-3.16-2.el9.x86_64.rpm"))
	if l := mustLookup(t, tree, "/lib64"); l.Kind != fstree.Symlink || l.Target != "usr/lib64" {
		t.Errorf("/lib64 = %+v", l)
	}
}

// rpm v6 packages (rpm 6.0, stripped payloads, 64-bit sizes) extract.
func TestRealV6(t *testing.T) {
	for _, p := range rpmFiles(t, needShared(t, "real/rpms/synthetic/rpm-rs/v6")) {
		tree, info, err := extractFileErr(p)
		if err != nil {
			if !errors.Is(err, extract.ErrUnsupported) {
				t.Errorf("%s: %v", p, err)
			}
			continue
		}
		if info.Format != 6 {
			t.Errorf("%s: Format %d", p, info.Format)
		}
		if got := len(owned(tree, filepath.Base(p))); got != info.Files {
			t.Errorf("%s: %d paths, %d files", p, got, info.Files)
		}
	}
}

// Damaged packages fail with one line naming the package, never a panic or
// a success.
func TestRealBroken(t *testing.T) {
	cases := map[string]string{
		"real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-corrupted.rpm": "extract hello-2.0-1.x86_64-corrupted.rpm: payload missing (the file ends after the header): unexpected EOF",
	}
	for _, p := range rpmFiles(t, needShared(t, "real/rpms/synthetic/scancode-truncated")) {
		cases[strings.TrimPrefix(p, shared+"/")] = ""
	}
	for p, want := range cases {
		_, info, err := extractFileErr(filepath.Join(shared, p))
		switch {
		case err == nil:
			t.Errorf("%s: no error, info %+v", p, info)
		case want != "" && err.Error() != want:
			t.Errorf("%s: error %q, want %q", p, err, want)
		case !strings.HasPrefix(err.Error(), "extract "+filepath.Base(p)+": ") || strings.Contains(err.Error(), "\n"):
			t.Errorf("%s: badly formed error %q", p, err)
		}
	}
}

// A flipped byte in an uncompressed payload's file data is a digest
// mismatch.
func TestRealDigestMismatch(t *testing.T) {
	p := needShared(t, "real/rpms/synthetic/go-rpmutils/payload-test-0.1-w.ufdio.x86_64.rpm")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("Some data\n"))
	if i < 0 {
		t.Fatal("file data not found")
	}
	data[i] ^= 1
	_, _, err = extractBytes(data, extract.Options{Name: "payload-test"})
	if !errors.Is(err, extract.ErrDigestMismatch) {
		t.Errorf("error = %v, want a digest mismatch", err)
	}
}

// Every RPM of the test bed either extracts or fails cleanly; only the known
// damaged ones fail.
func TestRealEveryRPM(t *testing.T) {
	root := needShared(t, ".")
	for _, p := range rpmFiles(t, root) {
		_, _, err := extractFileErr(p)
		broken := strings.Contains(p, "scancode-truncated") || strings.HasSuffix(p, "-corrupted.rpm")
		if err != nil && !broken {
			t.Errorf("%s: %v", p, err)
		}
		if err == nil && broken {
			t.Errorf("%s: damaged package extracted", p)
		}
	}
}

// An rpm v3 package (OLDFILENAMES, no header regions) extracts.
func TestRealV3(t *testing.T) {
	tree, info := extractFile(t, needShared(t, "real/rpms/synthetic/rpm-org/hello-1.0-1.x86_64.rpm-v3"))
	if info.Format != 3 || info.Files != 3 {
		t.Errorf("info %+v", info)
	}
	if m := mustLookup(t, tree, "/usr/local/bin/hello").Mode; m != 0o751 {
		t.Errorf("hello mode %v", m)
	}
	if n := mustLookup(t, tree, "/usr/share/doc/hello"); n.Kind != fstree.Dir || n.Package == "" {
		t.Errorf("doc dir %+v", n)
	}
}
