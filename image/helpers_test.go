package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/smith-build/smith/fstree"
)

// capXattr is a security.capability value (cap_net_raw+ep) with NULs and a
// newline in it, to prove binary PAX values survive.
var capXattr = []byte("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00")

var longDir = "/usr/share/" + strings.Repeat("very-long-directory-name/", 6)

type op func(t *testing.T, tr *fstree.Tree, links map[string]*fstree.Inode)

// Modes are Unix modes (0o4755 is setuid), converted with fstree.GoMode.

func mkdir(p string, mode uint32, uid int) op {
	return func(t *testing.T, tr *fstree.Tree, _ map[string]*fstree.Inode) {
		t.Helper()
		if err := tr.Mkdir(p, fstree.GoMode(mode), fstree.Owner{UID: uid, GID: uid, User: "u", Group: "g"}, "pkg"); err != nil {
			t.Fatal(err)
		}
	}
}

func file(p, data string, mode uint32, uid int, xattrs map[string][]byte) op {
	return func(t *testing.T, tr *fstree.Tree, _ map[string]*fstree.Inode) {
		t.Helper()
		n, err := tr.WriteFile(p, []byte(data), fstree.GoMode(mode), fstree.Owner{UID: uid, GID: uid}, "pkg")
		if err != nil {
			t.Fatal(err)
		}
		n.Xattrs = xattrs
	}
}

func symlink(target, p string) op {
	return func(t *testing.T, tr *fstree.Tree, _ map[string]*fstree.Inode) {
		t.Helper()
		if err := tr.Symlink(target, p, fstree.Owner{}, "pkg"); err != nil {
			t.Fatal(err)
		}
	}
}

// hardlink adds p to the hardlink group called group, creating the inode on
// the group's first use, whichever path that is.
func hardlink(group, p string) op {
	return func(t *testing.T, tr *fstree.Tree, links map[string]*fstree.Inode) {
		t.Helper()
		if n := links[group]; n != nil {
			if err := tr.Link(n, p); err != nil {
				t.Fatal(err)
			}
			return
		}
		n, err := tr.WriteFile(p, []byte("hardlinked "+group), 0o755, fstree.Owner{UID: 10, GID: 10}, "pkg")
		if err != nil {
			t.Fatal(err)
		}
		links[group] = n
	}
}

func sampleOps() []op {
	return []op{
		mkdir("/etc", 0o755, 0),
		mkdir("/tmp", 0o1777, 0),
		mkdir("/usr", 0o755, 0),
		mkdir("/usr/bin", 0o755, 0),
		mkdir("/usr/lib64", 0o755, 0),
		mkdir("/usr/share", 0o755, 0),
		mkdir("/read", 0o555, 10),
		mkdir(longDir, 0o700, 3000000), // uid beyond ustar's octal field
		file("/etc/passwd", "root:x:0:0::/:/bin/sh\n", 0o644, 0, nil),
		file("/etc/empty", "", 0o600, 10, nil),
		file("/usr/bin/ping", "\x7fELF ping", 0o755, 0, map[string][]byte{"security.capability": capXattr}),
		file("/usr/bin/su", "\x7fELF su", 0o4755, 0, map[string][]byte{"user.b": []byte("2"), "user.a": []byte("1")}),
		file("/usr/lib64/libfoo.so.1.2", "\x7fELF lib", 0o644, 0, nil),
		file(longDir+"file-with-a-long-name.txt", "long", 0o640, 3000000, nil),
		file("/usr/share/ünïcødé", "utf8", 0o644, 0, nil),
		symlink("usr/bin", "/bin"),
		symlink("libfoo.so.1.2", "/usr/lib64/libfoo.so.1"),
		symlink("/nonexistent/dangling", "/usr/share/dangling"),
		hardlink("g1", "/usr/bin/zz"),
		hardlink("g1", "/usr/bin/aa"),
		hardlink("g1", "/usr/bin/mm"),
		hardlink("g2", "/usr/lib64/h2"),
		hardlink("g2", "/etc/h2"),
	}
}

// sampleTree builds the sample tree applying its operations as listed or in
// reverse order (hardlink groups then start from a different path).
func sampleTree(t *testing.T, reverse bool) *fstree.Tree {
	t.Helper()
	ops := sampleOps()
	if reverse {
		for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
			ops[i], ops[j] = ops[j], ops[i]
		}
	}
	tr := fstree.New()
	links := map[string]*fstree.Inode{}
	for _, o := range ops {
		o(t, tr, links)
	}
	return tr
}

// readLayer reads a layer's tar back into a tree, and returns its headers.
func readLayer(t *testing.T, l v1.Layer) (*fstree.Tree, []*tar.Header) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	tree := fstree.New()
	var hdrs []*tar.Header
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, hdr)
		p := "/" + strings.TrimSuffix(hdr.Name, "/")
		owner := fstree.Owner{UID: hdr.Uid, GID: hdr.Gid}
		mode := fstree.GoMode(uint32(hdr.Mode))
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = tree.Mkdir(p, mode, owner, "")
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				_, err = tree.WriteFile(p, data, mode, owner, "")
			}
		case tar.TypeSymlink:
			err = tree.Symlink(hdr.Linkname, p, owner, "")
		case tar.TypeLink:
			var n *fstree.Inode
			if n, err = tree.Lookup("/" + hdr.Linkname); err == nil {
				err = tree.Link(n, p)
			}
		default:
			t.Fatalf("%s: unexpected type %q", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			t.Fatalf("%s: %v", hdr.Name, err)
		}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				n, err := tree.Lookup(p)
				if err != nil {
					t.Fatal(err)
				}
				if n.Xattrs == nil {
					n.Xattrs = map[string][]byte{}
				}
				n.Xattrs[name] = []byte(v)
			}
		}
	}
	return tree, hdrs
}

type entry struct {
	name string
	hdr  tar.Header
	data []byte
}

// untar lists a (possibly gzip-compressed) tar.
func untar(t *testing.T, b []byte) []entry {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	var out []entry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{name: hdr.Name, hdr: *hdr, data: data})
	}
}

// mktar writes entries as a tar (gzip-compressed when gz is set).
func mktar(t testing.TB, entries []entry, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := e.hdr
		hdr.Name = e.name
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
			hdr.Mode = 0o644
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

var (
	created = time.Date(2024, 2, 29, 12, 30, 45, 0, time.UTC)
	epoch   = time.Unix(1700000000, 0)
)

func sampleLayout(t *testing.T, img v1.Image) Layout {
	t.Helper()
	return Layout{
		Image: img,
		Extras: []Blob{
			{MediaType: MediaTypeSpec, Data: []byte(`{"package":["coreutils"],"paths":["/usr/bin/cat"]}`), Annotations: map[string]string{AnnotationBuild: "42"}},
			{MediaType: MediaTypePackages, Data: []byte("coreutils-9.1-1.fc38.x86_64\nglibc-2.37-1.fc38.x86_64\n"), Annotations: map[string]string{AnnotationBuild: "42"}},
		},
		Annotations: map[string]string{
			AnnotationRefName: RefLatest,
			AnnotationCreated: created.UTC().Format(time.RFC3339),
			AnnotationVersion: "1.0.0",
			AnnotationSHA:     "abc123",
			AnnotationBuild:   "42",
		},
		Platform: &v1.Platform{OS: "linux", Architecture: "amd64"},
	}
}

func sampleConfig() Config {
	return Config{
		Entrypoint:   []string{"/usr/bin/ping"},
		Cmd:          []string{"-c", "1 && 2"},
		Env:          []string{"PATH=/usr/bin"},
		WorkingDir:   "/read",
		User:         "10:10",
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		Volumes:      map[string]struct{}{"/write": {}},
		Labels:       map[string]string{"b": "2", "a": "1"},
		Architecture: "amd64",
		OS:           "linux",
		Created:      created,
	}
}

func gzipNewReader(b []byte) (io.Reader, error) { return gzip.NewReader(bytes.NewReader(b)) }
