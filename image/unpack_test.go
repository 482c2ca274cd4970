package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/smith-build/smith/fstree"
)

// rawLayer makes a gzip-compressed layer of the uncompressed tar bytes
// raw, with its digest and DiffID computed (as a registry would serve it).
func rawLayer(t testing.TB, raw []byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	diff := sha256.Sum256(raw)
	sum := sha256.Sum256(buf.Bytes())
	return &memLayer{
		data:      buf.Bytes(),
		digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		diffID:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff[:])},
		mediaType: types.OCILayer,
	}
}

// tarLayer is a layer of the given tar entries (see mktar: an entry
// without a type flag is a 0644 file).
func tarLayer(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	return rawLayer(t, mktar(t, entries, false))
}

func dirEntry(name string, mode int64, uid int) entry {
	return entry{name: name, hdr: tar.Header{Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: uid}}
}

func fileEntry(name, data string, mode int64, uid int) entry {
	return entry{name: name, data: []byte(data), hdr: tar.Header{Typeflag: tar.TypeReg, Mode: mode, Uid: uid, Gid: uid}}
}

func symlinkEntry(name, target string) entry {
	return entry{name: name, hdr: tar.Header{Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

func hardlinkEntry(name, target string) entry {
	return entry{name: name, hdr: tar.Header{Typeflag: tar.TypeLink, Linkname: target}}
}

func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := Build(nil, layers, Config{Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func unpack(t testing.TB, img v1.Image) (*fstree.Tree, error) {
	t.Helper()
	tree := fstree.New()
	err := Unpack(context.Background(), img, tree)
	return tree, err
}

func TestUnpackLayers(t *testing.T) {
	capEntry := fileEntry("usr/bin/tool", "\x7fELF tool", 0o4755, 0)
	capEntry.hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(capXattr)}
	base := tarLayer(t,
		dirEntry("./", 0o755, 0),
		dirEntry("./etc/", 0o755, 0),
		fileEntry("./etc/passwd", "root:x:0:0::/:/bin/sh\n", 0o644, 0),
		fileEntry("./etc/keep", "gone in layer 2", 0o644, 0),
		dirEntry("usr/", 0o755, 0),
		dirEntry("usr/bin/", 0o755, 0),
		capEntry,
		hardlinkEntry("usr/bin/tool2", "usr/bin/tool"),
		dirEntry("usr/lib/", 0o755, 0),
		fileEntry("usr/lib/a", "a", 0o644, 0),
		fileEntry("usr/lib/b", "b", 0o644, 0),
		fileEntry("usr/lib/sub/c", "c", 0o600, 7), // parent created implicitly
		symlinkEntry("lib", "usr/lib"),
		fileEntry("opt/x", "x", 0o644, 0),
		dirEntry("var/", 0o700, 10),
		fileEntry("srv", "a file, a directory in layer 2", 0o644, 0),
		dirEntry("data/", 0o755, 0),
		fileEntry("data/old", "old", 0o644, 0),
		entry{name: "dev/null", hdr: tar.Header{Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}},
	)
	top := tarLayer(t,
		fileEntry("etc/.wh.keep", "", 0o644, 0),
		fileEntry("etc/.wh.never-existed", "", 0o644, 0),
		fileEntry("usr/lib/new", "new", 0o644, 0), // before the opaque marker: still kept
		fileEntry("usr/lib/.wh..wh..opq", "", 0o644, 0),
		fileEntry("lib/via-link", "written through lib -> usr/lib", 0o644, 0),
		symlinkEntry("opt/x", "/etc/passwd"),
		dirEntry("srv/", 0o750, 0),
		fileEntry("srv/data", "data", 0o644, 0),
		hardlinkEntry("etc/passwd-", "etc/passwd"), // to a lower layer's file
		dirEntry("var/", 0o755, 20),                // a directory over a directory: metadata only
		fileEntry("data", "a file over a non-empty directory", 0o644, 0),
		fileEntry(".wh..wh.plnk", "", 0o644, 0), // AUFS bookkeeping: ignored
	)
	img := imageOf(t, base, top)
	tree, err := unpack(t, img)
	if err != nil {
		t.Fatal(err)
	}
	want := `/: dir 0755 0:0
/data: file 0644 0:0 0c009108
/etc: dir 0755 0:0
/etc/passwd: file 0644 0:0 880a0678 <1>
/etc/passwd-: file 0644 0:0 880a0678 <1>
/lib: symlink usr/lib
/opt: dir 0755 0:0
/opt/x: symlink /etc/passwd
/srv: dir 0750 0:0
/srv/data: file 0644 0:0 3a6eb079
/usr: dir 0755 0:0
/usr/bin: dir 0755 0:0
/usr/bin/tool: file 4755 0:0 e40cbbf5 <2> xattr=security.capability
/usr/bin/tool2: file 4755 0:0 e40cbbf5 <2> xattr=security.capability
/usr/lib: dir 0755 0:0
/usr/lib/new: file 0644 0:0 11507a0e
/usr/lib/via-link: file 0644 0:0 1a7bcfce
/var: dir 0755 20:20
`
	if got := tree.Dump(); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	n, err := tree.Lookup("/usr/bin/tool2")
	if err != nil || !bytes.Equal(n.Xattrs["security.capability"], capXattr) {
		t.Errorf("xattr value lost: %v", err)
	}
	layers, _ := img.Layers()
	d1, _ := layers[1].Digest()
	if n, _ := tree.Lookup("/srv/data"); n.Package != d1.String() {
		t.Errorf("entry owned by %q, want the layer digest", n.Package)
	}

	// The unpacked tree, written again as one layer, unpacks to itself.
	again, err := unpack(t, imageOf(t, mustLayer(t, tree, epoch)))
	if err != nil {
		t.Fatal(err)
	}
	if again.Dump() != want {
		t.Errorf("round trip:\n%s", again.Dump())
	}
}

func TestUnpackSampleTree(t *testing.T) {
	tree := sampleTree(t, false)
	got, err := unpack(t, imageOf(t, mustLayer(t, tree, epoch)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Dump() != tree.Dump() {
		t.Errorf("unpacked:\n%s\nwant:\n%s", got.Dump(), tree.Dump())
	}
}

func TestUnpackErrors(t *testing.T) {
	evil := symlinkEntry("evil", "../../..")
	for _, c := range []struct {
		name   string
		layers [][]entry
		entry  string // the entry the error names
		is     error
		msg    string
	}{
		{"dotdot entry", [][]entry{{fileEntry("../etc/passwd", "x", 0o644, 0)}}, "../etc/passwd", ErrUnsafeName, ""},
		{"inner dotdot", [][]entry{{fileEntry("a/../../b", "x", 0o644, 0)}}, "a/../../b", ErrUnsafeName, ""},
		{"absolute", [][]entry{{fileEntry("/etc/passwd", "x", 0o644, 0)}}, "/etc/passwd", ErrUnsafeName, ""},
		{"hardlink out", [][]entry{{hardlinkEntry("x", "../../etc/shadow")}}, "x", ErrUnsafeName, "hardlink target"},
		{"write through escaping symlink", [][]entry{{evil, fileEntry("evil/etc/cron", "x", 0o644, 0)}}, "evil/etc/cron", fstree.ErrEscape, ""},
		{"escape in a later layer", [][]entry{{evil}, {fileEntry("evil/x", "x", 0o644, 0)}}, "evil/x", fstree.ErrEscape, "layer 2"},
		{"whiteout through escaping symlink", [][]entry{{evil}, {fileEntry("evil/.wh.x", "", 0o644, 0)}}, "evil/.wh.x", fstree.ErrEscape, ""},
		{"hardlink through escaping symlink", [][]entry{{evil, hardlinkEntry("x", "evil/etc/passwd")}}, "x", fstree.ErrEscape, ""},
		{"hardlink to nothing", [][]entry{{hardlinkEntry("x", "missing")}}, "x", fs.ErrNotExist, ""},
		{"hardlink to a directory", [][]entry{{dirEntry("d/", 0o755, 0), hardlinkEntry("x", "d")}}, "x", nil, "is a directory"},
		{"file as a directory", [][]entry{{fileEntry("f", "x", 0o644, 0), fileEntry("f/g", "x", 0o644, 0)}}, "f/g", fstree.ErrNotDir, ""},
		{"symlink loop", [][]entry{{symlinkEntry("a", "b"), symlinkEntry("b", "a"), fileEntry("a/x", "x", 0o644, 0)}}, "a/x", fstree.ErrLoop, ""},
		{"bad whiteout", [][]entry{{fileEntry("d/.wh...", "", 0o644, 0)}}, "d/.wh...", nil, "invalid whiteout"},
		{"negative owner", [][]entry{{fileEntry("f", "x", 0o644, -5)}}, "f", nil, "negative owner"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, es := range c.layers {
				layers = append(layers, tarLayer(t, es...))
			}
			img := imageOf(t, layers...)
			_, err := unpack(t, img)
			var le *LayerError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LayerError", err)
			}
			bad, _ := layers[le.Index].Digest()
			if le.Entry != c.entry || le.Layer != bad || !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), c.entry) {
				t.Errorf("err = %v: want it to name entry %q and layer %s", err, c.entry, bad)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err = %v, want %q in it", err, c.msg)
			}
		})
	}
}

func TestUnpackChecksDiffID(t *testing.T) {
	l := tarLayer(t, fileEntry("a", "a", 0o644, 0)).(*memLayer)
	l.diffID.Hex = strings.Repeat("0", 64)
	_, err := unpack(t, imageOf(t, l))
	var de *DigestError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), l.digest.String()) {
		t.Errorf("err = %v, want a digest mismatch naming the layer", err)
	}
}

func TestUnpackGarbage(t *testing.T) {
	_, err := unpack(t, imageOf(t, rawLayer(t, bytes.Repeat([]byte("not a tar "), 100))))
	if err == nil || !strings.Contains(err.Error(), "reading tar") {
		t.Errorf("err = %v", err)
	}
}

func TestUnpackCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Unpack(ctx, imageOf(t, tarLayer(t, fileEntry("a", "a", 0o644, 0))), fstree.New()); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestInherit(t *testing.T) {
	from := &v1.ConfigFile{Config: v1.Config{
		WorkingDir:   "/srv",
		Entrypoint:   []string{"/bin/app"},
		Cmd:          []string{"--serve"},
		Env:          []string{"PATH=/bin", "LD_LIBRARY_PATH=/opt/lib"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
		Labels:       map[string]string{"a": "1"},
		User:         "nobody", // not inherited: smith sets its own user
	}}
	got := Inherit(Config{}, from)
	if got.WorkingDir != "/srv" || len(got.Entrypoint) != 1 || len(got.Cmd) != 1 || len(got.Env) != 2 ||
		len(got.ExposedPorts) != 1 || got.Labels["a"] != "1" || got.User != "" {
		t.Errorf("inherited %+v", got)
	}
	got = Inherit(Config{Entrypoint: []string{"/bin/other"}, Env: []string{"A=1"}, Labels: map[string]string{"b": "2"}}, from)
	if len(got.Cmd) != 0 || len(got.Env) != 1 || len(got.Labels) != 1 || got.WorkingDir != "/srv" {
		t.Errorf("an Entrypoint of our own keeps the image's Cmd out; set fields win: %+v", got)
	}
	got = Inherit(Config{Cmd: []string{"--other"}}, from)
	if len(got.Entrypoint) != 1 || got.Cmd[0] != "--other" {
		t.Errorf("a Cmd of our own keeps the image's Entrypoint: %+v", got)
	}
	from.Config.Labels["a"] = "changed"
	if got.Labels["a"] != "1" {
		t.Error("Inherit shares maps with the image config")
	}
	img := imageOf(t, tarLayer(t, fileEntry("a", "a", 0o644, 0)))
	if cf, err := ConfigOf(img); err != nil || cf.Architecture != "amd64" {
		t.Errorf("ConfigOf: %v %v", cf, err)
	}
}

func FuzzUnpack(f *testing.F) {
	seeds := [][]entry{
		{dirEntry("d/", 0o755, 0), fileEntry("d/f", "x", 0o644, 0), hardlinkEntry("d/g", "d/f")},
		{symlinkEntry("l", "../.."), fileEntry("l/x", "x", 0o644, 0)},
		{fileEntry("d/.wh..wh..opq", "", 0o644, 0), fileEntry("d/.wh.x", "", 0o644, 0), fileEntry("d/x", "x", 0o644, 0)},
		{symlinkEntry("a", "/b"), dirEntry("b/", 0o700, 5), fileEntry("a/c", "c", 0o4755, 3)},
	}
	for _, s := range seeds {
		f.Add(mktar(f, s, false))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		img := imageOf(t, rawLayer(t, raw))
		tree, err := unpack(t, img)
		if err != nil {
			return
		}
		// Whatever was accepted is a tree smith can write, and writing it
		// and reading it back is the identity.
		l, err := Layer(tree, LayerOptions{})
		if err != nil {
			t.Fatalf("writing the unpacked tree: %v", err)
		}
		again, err := unpack(t, imageOf(t, l))
		if err != nil {
			t.Fatalf("unpacking the rewritten tree: %v", err)
		}
		if again.Dump() != tree.Dump() {
			t.Fatalf("round trip:\n%s\nwant:\n%s", again.Dump(), tree.Dump())
		}
	})
}
