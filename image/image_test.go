package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/smith-build/smith/fstree"
)

func mustLayer(t *testing.T, tree *fstree.Tree, mtime time.Time) v1.Layer {
	t.Helper()
	l, err := Layer(tree, LayerOptions{ModTime: mtime})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustBuild(t *testing.T, parent v1.Image, layers []v1.Layer, cfg Config) v1.Image {
	t.Helper()
	img, err := Build(parent, layers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	return img
}

func layoutBytes(t *testing.T, l Layout, mtime time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteLayoutTarGz(&buf, l, mtime); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLayerRoundTrip(t *testing.T) {
	tree := sampleTree(t, false)
	mtime := time.Unix(1700000000, 999999999) // sub-second part is dropped
	l := mustLayer(t, tree, mtime)

	got, hdrs := readLayer(t, l)
	if want := tree.Dump(); got.Dump() != want {
		t.Errorf("layer read back:\n%s\nwant (tree dump):\n%s", got.Dump(), want)
	}
	// The dump shows xattr names only: compare the values too.
	for _, p := range []string{"/usr/bin/ping", "/usr/bin/su"} {
		a, _ := tree.Lookup(p)
		b, _ := got.Lookup(p)
		for k, v := range a.Xattrs {
			if !bytes.Equal(b.Xattrs[k], v) {
				t.Errorf("%s xattr %s = %q, want %q", p, k, b.Xattrs[k], v)
			}
		}
	}

	var names []string
	for _, h := range hdrs {
		names = append(names, h.Name)
		if strings.HasPrefix(h.Name, "/") || h.Name == "./" || h.Name == "" {
			t.Errorf("bad name %q", h.Name)
		}
		if (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
			t.Errorf("%s: type %q, trailing slash must mark exactly the directories", h.Name, h.Typeflag)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: uname/gname %q/%q, want none", h.Name, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(time.Unix(1700000000, 0)) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: times %v %v %v", h.Name, h.ModTime, h.AccessTime, h.ChangeTime)
		}
		if h.Format == tar.FormatGNU {
			t.Errorf("%s: GNU format, want PAX/USTAR", h.Name)
		}
		for k := range h.PAXRecords {
			switch {
			case k == "path", k == "uid", k == "gid", strings.HasPrefix(k, "SCHILY.xattr."):
			default:
				t.Errorf("%s: unexpected PAX record %q", h.Name, k)
			}
		}
	}
	// Walk order: parents first, names sorted bytewise, root not included.
	wantOrder := []string{"bin", "etc/", "etc/empty", "etc/h2", "etc/passwd", "read/", "tmp/", "usr/", "usr/bin/",
		"usr/bin/aa", "usr/bin/mm", "usr/bin/ping", "usr/bin/su", "usr/bin/zz", "usr/lib64/", "usr/lib64/h2"}
	if len(names) < len(wantOrder) || !slices.Equal(names[:len(wantOrder)], wantOrder) {
		t.Errorf("entry order\n%q\nwant prefix\n%q", names, wantOrder)
	}
	byName := map[string]*tar.Header{}
	for _, h := range hdrs {
		byName[h.Name] = h
	}
	entryNamed := func(name string) *tar.Header {
		t.Helper()
		h := byName[name]
		if h == nil {
			t.Fatalf("no entry %q", name)
		}
		return h
	}
	for name, want := range map[string]string{"usr/bin/mm": "usr/bin/aa", "usr/bin/zz": "usr/bin/aa", "usr/lib64/h2": "etc/h2"} {
		if h := entryNamed(name); h.Typeflag != tar.TypeLink || h.Linkname != want || h.Size != 0 {
			t.Errorf("%s: type %q -> %q size %d, want hardlink to %s", name, h.Typeflag, h.Linkname, h.Size, want)
		}
	}
	if h := entryNamed("usr/bin/aa"); h.Typeflag != tar.TypeReg || h.Size == 0 {
		t.Errorf("usr/bin/aa: type %q size %d, want the regular file of its group", h.Typeflag, h.Size)
	}
	if h := entryNamed("usr/bin/ping"); h.PAXRecords["SCHILY.xattr.security.capability"] != string(capXattr) {
		t.Errorf("usr/bin/ping PAX records %q", h.PAXRecords)
	}
	if h := entryNamed("usr/bin/su"); h.Mode != 0o4755 {
		t.Errorf("usr/bin/su mode %o, want what the tree says (4755)", h.Mode)
	}
	if h := entryNamed("tmp/"); h.Mode != 0o1777 {
		t.Errorf("tmp mode %o", h.Mode)
	}
	if h := entryNamed("bin"); h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin" {
		t.Errorf("bin: %q -> %q", h.Typeflag, h.Linkname)
	}
	if h := entryNamed(strings.TrimPrefix(longDir, "/") + "file-with-a-long-name.txt"); h.Uid != 3000000 {
		t.Errorf("long name entry: %+v", h)
	}

	// The gzip header carries no name and no mtime.
	rc, _ := l.Compressed()
	gz, _ := io.ReadAll(rc)
	if gz[3] != 0 || !bytes.Equal(gz[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header flags %x mtime %x, want 0 and 0", gz[3], gz[4:8])
	}
	if mt, _ := l.MediaType(); mt != types.OCILayer {
		t.Errorf("media type %s", mt)
	}
	size, _ := l.Size()
	if size != int64(len(gz)) {
		t.Errorf("Size %d, compressed %d bytes", size, len(gz))
	}
}

func TestLayerDeterministic(t *testing.T) {
	a := mustLayer(t, sampleTree(t, false), epoch)
	b := mustLayer(t, sampleTree(t, true), epoch)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("insertion order changed the layer: %s vs %s", da, db)
	}
	c := mustLayer(t, sampleTree(t, false), epoch.Add(time.Second))
	if dc, _ := c.Digest(); dc == da {
		t.Error("mtime does not reach the layer")
	}
	// The zero ModTime is the Unix epoch.
	z := mustLayer(t, sampleTree(t, false), time.Time{})
	u := mustLayer(t, sampleTree(t, false), time.Unix(0, 0))
	dz, _ := z.Digest()
	du, _ := u.Digest()
	if dz != du {
		t.Error("zero ModTime is not the epoch")
	}
}

// TestLayerGolden pins the layer bytes of a small tree: a change here
// changes every digest smith produces (compressor, level, tar format).
func TestLayerGolden(t *testing.T) {
	tree := fstree.New()
	if _, err := tree.WriteFile("/etc/hostname", []byte("smith\n"), 0o644, fstree.Owner{UID: 10, GID: 10}, ""); err != nil {
		t.Fatal(err)
	}
	if err := tree.Symlink("etc/hostname", "/name", fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	l := mustLayer(t, tree, time.Time{})
	d, _ := l.Digest()
	diff, _ := l.DiffID()
	t.Logf("digest %s diffID %s", d, diff)
	const wantDiff = "sha256:ffdd84c3b0f2a6ed74fd6b15b3d43115ddad89ffea1a221ed034ac4340a2a94e"
	const wantDigest = "sha256:34862f65f088606680dd80b29853dfc54f4254906426fe315fdf22b4a9034e92"
	if diff.String() != wantDiff {
		t.Errorf("diffID %s, want %s (tar format changed)", diff, wantDiff)
	}
	if d.String() != wantDigest {
		t.Errorf("digest %s, want %s (compressor or level changed)", d, wantDigest)
	}
}

func TestBuild(t *testing.T) {
	l := mustLayer(t, sampleTree(t, false), epoch)
	img := mustBuild(t, nil, []v1.Layer{l}, sampleConfig())

	mt, _ := img.MediaType()
	m, _ := img.Manifest()
	if mt != types.OCIManifestSchema1 || m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types: image %s manifest %s config %s", mt, m.MediaType, m.Config.MediaType)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("layers %+v", m.Layers)
	}
	raw, _ := img.RawConfigFile()
	diff, _ := l.DiffID()
	want := `{"architecture":"amd64","config":{"Cmd":["-c","1 && 2"],"Entrypoint":["/usr/bin/ping"],"Env":["PATH=/usr/bin"],` +
		`"ExposedPorts":{"80/tcp":{}},"Labels":{"a":"1","b":"2"},"User":"10:10","Volumes":{"/write":{}},"WorkingDir":"/read"},` +
		`"created":"2024-02-29T12:30:45Z","history":[{"created":"2024-02-29T12:30:45Z","created_by":"smith"}],"os":"linux",` +
		`"rootfs":{"type":"layers","diff_ids":["` + diff.String() + `"]}}`
	if string(raw) != want {
		t.Errorf("config\n%s\nwant\n%s", raw, want)
	}

	// No Created: no "created" anywhere; no arm64 variant lost.
	cfg := Config{Architecture: "arm64", Variant: "v8"}
	img = mustBuild(t, nil, []v1.Layer{l}, cfg)
	raw, _ = img.RawConfigFile()
	if bytes.Contains(raw, []byte("created\":")) {
		t.Errorf("zero Created must leave created out: %s", raw)
	}
	want = `{"architecture":"arm64","history":[{"created_by":"smith"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["` + diff.String() + `"]},"variant":"v8"}`
	if string(raw) != want {
		t.Errorf("config\n%s\nwant\n%s", raw, want)
	}

	// No layers at all is a valid (empty) image.
	img = mustBuild(t, nil, nil, Config{Architecture: "amd64"})
	if raw, _ := img.RawManifest(); !bytes.Contains(raw, []byte(`"layers":[]`)) {
		t.Errorf("manifest %s", raw)
	}

	if _, err := Build(nil, nil, Config{}); err == nil || !strings.Contains(err.Error(), "architecture") {
		t.Errorf("no architecture: err = %v", err)
	}
}

func TestBuildParent(t *testing.T) {
	base := fstree.New()
	if _, err := base.WriteFile("/etc/os-release", []byte("ID=test\n"), 0o644, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	baseLayer := mustLayer(t, base, epoch)
	a := mustBuild(t, nil, []v1.Layer{baseLayer}, Config{
		Cmd:          []string{"/bin/sh"},
		Env:          []string{"PATH=/bin", "LANG=C"},
		User:         "0:0",
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"22/tcp": {}},
		Labels:       map[string]string{"vendor": "A", "keep": "yes"},
		Architecture: "amd64",
		Created:      created.Add(-time.Hour),
	})
	// Go through the file format, as smith does with parent: URLs and files.
	path := filepath.Join(t.TempDir(), "a.tar.gz")
	if err := os.WriteFile(path, layoutBytes(t, sampleLayout(t, a), epoch), 0o644); err != nil {
		t.Fatal(err)
	}
	rl, err := ReadLayoutTarGz(path)
	if err != nil {
		t.Fatal(err)
	}
	parent := rl.Image

	top := mustLayer(t, sampleTree(t, false), epoch)
	b := mustBuild(t, parent, []v1.Layer{top}, Config{
		Entrypoint: []string{"/usr/bin/ping"},
		Env:        []string{"LANG=C.UTF-8", "FOO=bar"},
		Labels:     map[string]string{"vendor": "B"},
		Volumes:    map[string]struct{}{"/write": {}},
		Created:    created,
	})
	am, _ := a.Manifest()
	bm, _ := b.Manifest()
	if len(bm.Layers) != len(am.Layers)+1 {
		t.Fatalf("B has %d layers, A %d", len(bm.Layers), len(am.Layers))
	}
	for i, d := range am.Layers {
		if bm.Layers[i].Digest != d.Digest || bm.Layers[i].Size != d.Size {
			t.Errorf("parent layer %d changed: %v -> %v", i, d, bm.Layers[i])
		}
	}
	topDigest, _ := top.Digest()
	if bm.Layers[1].Digest != topDigest {
		t.Errorf("top layer %s, want %s", bm.Layers[1].Digest, topDigest)
	}
	// Parent layer bytes are the same bytes.
	bl, _ := b.Layers()
	rc, _ := bl[0].Compressed()
	got, _ := io.ReadAll(rc)
	rc, _ = baseLayer.Compressed()
	want, _ := io.ReadAll(rc)
	if !bytes.Equal(got, want) {
		t.Error("parent layer bytes changed")
	}

	cf, _ := b.ConfigFile()
	c := cf.Config
	if !slices.Equal(c.Env, []string{"PATH=/bin", "LANG=C.UTF-8", "FOO=bar"}) {
		t.Errorf("Env %q", c.Env)
	}
	if c.User != "0:0" || c.WorkingDir != "/" {
		t.Errorf("User %q WorkingDir %q not inherited", c.User, c.WorkingDir)
	}
	if len(c.Cmd) != 0 || !slices.Equal(c.Entrypoint, []string{"/usr/bin/ping"}) {
		t.Errorf("Entrypoint %q Cmd %q: a new entrypoint drops the parent's Cmd", c.Entrypoint, c.Cmd)
	}
	if c.Labels["vendor"] != "B" || c.Labels["keep"] != "yes" {
		t.Errorf("Labels %v", c.Labels)
	}
	if _, ok := c.ExposedPorts["22/tcp"]; !ok {
		t.Errorf("ExposedPorts %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/write"]; !ok {
		t.Errorf("Volumes %v", c.Volumes)
	}
	if cf.Architecture != "amd64" || cf.OS != "linux" || !cf.Created.Time.Equal(created) {
		t.Errorf("arch %s os %s created %v", cf.Architecture, cf.OS, cf.Created)
	}
	if len(cf.History) != 2 || len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("history %+v diff_ids %v", cf.History, cf.RootFS.DiffIDs)
	}

	// A layer the parent already has is not added again.
	same := mustBuild(t, parent, []v1.Layer{baseLayer}, Config{})
	if sm, _ := same.Manifest(); len(sm.Layers) != 1 {
		t.Errorf("duplicate layer added: %d layers", len(sm.Layers))
	}
	var sameCfg map[string]json.RawMessage
	if err := json.Unmarshal(must(same.RawConfigFile()), &sameCfg); err != nil {
		t.Fatal(err)
	}
	if c, ok := sameCfg["created"]; ok {
		t.Errorf("the parent's created date %s leaked into an image without Created", c)
	}

	// The parent's architecture must match ours.
	if _, err := Build(parent, []v1.Layer{top}, Config{Architecture: "arm64", Variant: "v8"}); err == nil {
		t.Error("arm64 on an amd64 parent: no error")
	}
}

// TestBuildDockerParent: a parent with Docker media types keeps its layer
// bytes; the descriptors become OCI ones.
func TestBuildDockerParent(t *testing.T) {
	base := fstree.New()
	if _, err := base.WriteFile("/hello", []byte("hi"), 0o644, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	bl := mustLayer(t, base, epoch)
	docker, err := mutate.Append(empty.Image, mutate.Addendum{Layer: bl, MediaType: types.DockerLayer})
	if err != nil {
		t.Fatal(err)
	}
	docker, err = mutate.ConfigFile(docker, &v1.ConfigFile{Architecture: "amd64", OS: "linux",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{must(bl.DiffID())}},
		Config: v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := docker.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("test parent is %s", mt)
	}
	img := mustBuild(t, docker, []v1.Layer{mustLayer(t, sampleTree(t, false), epoch)}, Config{Architecture: "amd64"})
	m, _ := img.Manifest()
	if m.Layers[0].MediaType != types.OCILayer || m.Layers[0].Digest != must(bl.Digest()) {
		t.Errorf("parent layer descriptor %+v", m.Layers[0])
	}
	cf, _ := img.ConfigFile()
	if cf.Config.Healthcheck == nil {
		t.Error("a parent config field smith does not set was dropped")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLayoutFile(t *testing.T) {
	img := mustBuild(t, nil, []v1.Layer{mustLayer(t, sampleTree(t, false), epoch)}, sampleConfig())
	lay := sampleLayout(t, img)
	out := layoutBytes(t, lay, epoch)
	entries := untar(t, out)

	rawManifest, _ := img.RawManifest()
	rawConfig, _ := img.RawConfigFile()
	m, _ := img.Manifest()
	blobs := []string{
		must(img.Digest()).Hex, m.Config.Digest.Hex, m.Layers[0].Digest.Hex,
		sha256Hash(lay.Extras[0].Data).Hex, sha256Hash(lay.Extras[1].Data).Hex,
	}
	slices.Sort(blobs)
	want := []string{"blobs/", "blobs/sha256/"}
	for _, b := range blobs {
		want = append(want, "blobs/sha256/"+b)
	}
	want = append(want, "index.json", "oci-layout")
	var names []string
	files := map[string][]byte{}
	for _, e := range entries {
		names = append(names, e.name)
		files[e.name] = e.data
		h := e.hdr
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir {
			wantMode = 0o755
		}
		if h.Mode != wantMode || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: mode %o owner %d:%d %q:%q mtime %v", e.name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		if hex, ok := strings.CutPrefix(e.name, "blobs/sha256/"); ok && hex != "" && sha256Hash(e.data).Hex != hex {
			t.Errorf("%s: content hashes to %s", e.name, sha256Hash(e.data))
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("entries\n%q\nwant\n%q", names, want)
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %s", files["oci-layout"])
	}
	if !bytes.Equal(files["blobs/sha256/"+must(img.Digest()).Hex], rawManifest) || !bytes.Equal(files["blobs/sha256/"+m.Config.Digest.Hex], rawConfig) {
		t.Error("manifest or config blob differs from the image's")
	}

	var idx v1.IndexManifest
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != types.OCIImageIndex || len(idx.Manifests) != 3 {
		t.Fatalf("index.json %s", files["index.json"])
	}
	if idx.Manifests[0].MediaType != MediaTypeSpec || idx.Manifests[1].MediaType != MediaTypePackages {
		t.Errorf("extras order: %s, %s", idx.Manifests[0].MediaType, idx.Manifests[1].MediaType)
	}
	for _, d := range idx.Manifests[:2] {
		if d.Annotations[AnnotationBuild] != "42" {
			t.Errorf("extra %s annotations %v", d.MediaType, d.Annotations)
		}
	}
	md := idx.Manifests[2]
	if md.MediaType != types.OCIManifestSchema1 || md.Digest != must(img.Digest()) || md.Size != int64(len(rawManifest)) {
		t.Errorf("image descriptor %+v", md)
	}
	for k, v := range lay.Annotations {
		if md.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, md.Annotations[k], v)
		}
	}
	if md.Platform == nil || md.Platform.Architecture != "amd64" || md.Platform.OS != "linux" {
		t.Errorf("platform %+v", md.Platform)
	}

	// Without an explicit platform, the config's is used.
	lay.Platform = nil
	entries = untar(t, layoutBytes(t, lay, epoch))
	for _, e := range entries {
		if e.name == "index.json" && !bytes.Contains(e.data, []byte(`"platform":{"architecture":"amd64","os":"linux"}`)) {
			t.Errorf("index.json without Layout.Platform: %s", e.data)
		}
	}
}

func TestLayoutReproducible(t *testing.T) {
	build := func(reverse bool) []byte {
		l := mustLayer(t, sampleTree(t, reverse), epoch)
		img := mustBuild(t, nil, []v1.Layer{l}, sampleConfig())
		return layoutBytes(t, sampleLayout(t, img), epoch)
	}
	a := build(false)
	if b := build(false); !bytes.Equal(a, b) {
		t.Error("two builds differ")
	}
	if b := build(true); !bytes.Equal(a, b) {
		t.Error("tree insertion order changed the output")
	}

	t.Run("TZ", func(t *testing.T) {
		t.Setenv("TZ", "Asia/Kolkata")
		old := time.Local
		time.Local = time.FixedZone("IST", 5*3600+1800)
		defer func() { time.Local = old }()
		l := mustLayer(t, sampleTree(t, false), time.Unix(epoch.Unix(), 0)) // in time.Local
		cfg := sampleConfig()
		cfg.Created = created.In(time.Local)
		img := mustBuild(t, nil, []v1.Layer{l}, cfg)
		if b := layoutBytes(t, sampleLayout(t, img), time.Unix(epoch.Unix(), 0)); !bytes.Equal(a, b) {
			t.Error("time zone changed the output")
		}
	})
}

func TestReadLayoutTarGz(t *testing.T) {
	img := mustBuild(t, nil, []v1.Layer{mustLayer(t, sampleTree(t, false), epoch)}, sampleConfig())
	lay := sampleLayout(t, img)
	out := layoutBytes(t, lay, epoch)
	dir := t.TempDir()
	path := filepath.Join(dir, "image.tar.gz")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	rl, err := ReadLayoutTarGz(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rl.Image); err != nil {
		t.Fatalf("validate.Image on the read image: %v", err)
	}
	if must(rl.Image.Digest()) != must(img.Digest()) {
		t.Error("read image digest differs")
	}
	if len(rl.Extras) != 2 || rl.Extras[0].MediaType != MediaTypeSpec || !bytes.Equal(rl.Extras[1].Data, lay.Extras[1].Data) ||
		rl.Extras[1].Annotations[AnnotationBuild] != "42" {
		t.Errorf("extras %+v", rl.Extras)
	}
	if rl.Annotations[AnnotationSHA] != "abc123" || rl.Platform.Architecture != "amd64" || rl.Descriptor.Digest != must(img.Digest()) {
		t.Errorf("annotations %v platform %v descriptor %v", rl.Annotations, rl.Platform, rl.Descriptor)
	}
	// What is read writes back to the same bytes (smith download/upload).
	if again := layoutBytes(t, rl.Layout, epoch); !bytes.Equal(again, out) {
		t.Error("read + write is not the identity")
	}

	// A plain (uncompressed) tar is accepted too.
	plain := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(plain, mktar(t, untar(t, out), false), 0o644); err != nil {
		t.Fatal(err)
	}
	if rl2, err := ReadLayoutTarGz(plain); err != nil {
		t.Fatal(err)
	} else if must(rl2.Image.Digest()) != must(img.Digest()) {
		t.Error("plain tar: another image")
	}
}

// layoutVariant rewrites a layout: edit may change entries in place.
func layoutVariant(t *testing.T, out []byte, edit func(es []entry) []entry) string {
	t.Helper()
	es := edit(untar(t, out))
	path := filepath.Join(t.TempDir(), "v.tar.gz")
	if err := os.WriteFile(path, mktar(t, es, true), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func editIndex(t *testing.T, es []entry, f func(*v1.IndexManifest)) []entry {
	t.Helper()
	for i, e := range es {
		if e.name == "index.json" {
			var idx v1.IndexManifest
			if err := json.Unmarshal(e.data, &idx); err != nil {
				t.Fatal(err)
			}
			f(&idx)
			es[i].data, _ = json.Marshal(idx)
		}
	}
	return es
}

func TestReadLayoutErrors(t *testing.T) {
	img := mustBuild(t, nil, []v1.Layer{mustLayer(t, sampleTree(t, false), epoch)}, sampleConfig())
	out := layoutBytes(t, sampleLayout(t, img), epoch)
	m, _ := img.Manifest()
	layerHex := m.Layers[0].Digest.Hex
	configHex := m.Config.Digest.Hex

	corrupt := func(hex string) func([]entry) []entry {
		return func(es []entry) []entry {
			for i := range es {
				if es[i].name == "blobs/sha256/"+hex {
					es[i].data = bytes.Clone(es[i].data)
					es[i].data[len(es[i].data)/2] ^= 1
				}
			}
			return es
		}
	}
	drop := func(name string) func([]entry) []entry {
		return func(es []entry) []entry {
			return slices.DeleteFunc(es, func(e entry) bool { return e.name == name })
		}
	}
	tests := []struct {
		name string
		edit func([]entry) []entry
		want string
	}{
		{"corrupt layer", corrupt(layerHex), "blob sha256:" + layerHex + ": digest mismatch"},
		{"corrupt config", corrupt(configHex), "blob sha256:" + configHex + ": digest mismatch"},
		{"missing layer", drop("blobs/sha256/" + layerHex), "blob sha256:" + layerHex + " (application/vnd.oci.image.layer.v1.tar+gzip): missing"},
		{"missing index", drop("index.json"), "no index.json"},
		{"missing oci-layout", drop("oci-layout"), "no oci-layout"},
		{"wrong size", func(es []entry) []entry {
			return editIndex(t, es, func(idx *v1.IndexManifest) { idx.Manifests[0].Size++ })
		}, "blob sha256:" + sha256Hash([]byte(`{"package":["coreutils"],"paths":["/usr/bin/cat"]}`)).Hex + " (application/vnd.smith.spec+json): size"},
		{"two images, none named", func(es []entry) []entry {
			return editIndex(t, es, func(idx *v1.IndexManifest) {
				d := idx.Manifests[2]
				d.Annotations = nil
				idx.Manifests = []v1.Descriptor{d, d}
			})
		}, "2 images and none is named"},
		{"duplicate blob", func(es []entry) []entry {
			return append(es, es[2])
		}, "duplicate tar entry"},
		{"symlinked blob", func(es []entry) []entry {
			es[2].hdr.Typeflag = tar.TypeSymlink
			es[2].hdr.Linkname = "/etc/passwd"
			es[2].data = nil
			return es
		}, "want a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadLayoutTarGz(layoutVariant(t, out, tt.edit))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			var de *DigestError
			if strings.Contains(tt.want, "digest mismatch") && !errors.As(err, &de) {
				t.Errorf("err = %v is not a *DigestError", err)
			}
		})
	}
}

func TestReadLayoutPicksByName(t *testing.T) {
	img := mustBuild(t, nil, []v1.Layer{mustLayer(t, sampleTree(t, false), epoch)}, sampleConfig())
	out := layoutBytes(t, sampleLayout(t, img), epoch)
	other := mustBuild(t, nil, nil, Config{Architecture: "s390x"})
	otherOut := untar(t, layoutBytes(t, Layout{Image: other}, epoch))

	// The image first, a second image after it, extras last: position
	// means nothing, the name does.
	path := layoutVariant(t, out, func(es []entry) []entry {
		for _, e := range otherOut {
			if strings.HasPrefix(e.name, "blobs/sha256/") && len(e.name) > len("blobs/sha256/") {
				es = append(es, e)
			}
		}
		return editIndex(t, es, func(idx *v1.IndexManifest) {
			od := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: must(other.Size()), Digest: must(other.Digest()),
				Annotations: map[string]string{AnnotationRefName: "other"}}
			idx.Manifests = []v1.Descriptor{od, idx.Manifests[2], idx.Manifests[0], idx.Manifests[1]}
		})
	})
	rl, err := ReadLayoutTarGz(path)
	if err != nil {
		t.Fatal(err)
	}
	if must(rl.Image.Digest()) != must(img.Digest()) {
		t.Error("picked the wrong image")
	}
	if len(rl.Extras) != 3 || rl.Extras[0].MediaType != string(types.OCIManifestSchema1) || rl.Extras[1].MediaType != MediaTypeSpec {
		t.Errorf("extras %v", rl.Extras)
	}

	// A single image without a name is found too.
	path = layoutVariant(t, out, func(es []entry) []entry {
		return editIndex(t, es, func(idx *v1.IndexManifest) { idx.Manifests[2].Annotations = nil })
	})
	if rl, err := ReadLayoutTarGz(path); err != nil || must(rl.Image.Digest()) != must(img.Digest()) {
		t.Errorf("single unnamed image: %v", err)
	}
}

func TestArchToOCI(t *testing.T) {
	for _, tt := range []struct{ rpm, arch, variant string }{
		{"x86_64", "amd64", ""},
		{"aarch64", "arm64", "v8"},
		{"i686", "386", ""},
		{"i586", "386", ""},
		{"i386", "386", ""},
		{"ppc64le", "ppc64le", ""},
		{"s390x", "s390x", ""},
		{"noarch", "", ""},
		{"", "", ""},
		{"vax", "", ""},
	} {
		if a, v := ArchToOCI(tt.rpm); a != tt.arch || v != tt.variant {
			t.Errorf("ArchToOCI(%q) = %q, %q; want %q, %q", tt.rpm, a, v, tt.arch, tt.variant)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "image.tar.gz")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	noTemps := func() {
		t.Helper()
		es, _ := os.ReadDir(dir)
		if len(es) != 1 {
			var names []string
			for _, e := range es {
				names = append(names, e.Name())
			}
			t.Errorf("directory holds %q, want only image.tar.gz", names)
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("old content replaced by %q", b)
		}
	}

	err := WriteFileAtomic(path, func(w io.Writer) error {
		fmt.Fprint(w, strings.Repeat("partial", 1<<20)) // beyond the buffer: reaches the temp file
		return fmt.Errorf("build failed")
	})
	if err == nil || err.Error() != "build failed" {
		t.Errorf("err = %v", err)
	}
	noTemps()

	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic to propagate", r)
			}
		}()
		_ = WriteFileAtomic(path, func(w io.Writer) error {
			fmt.Fprint(w, "partial")
			panic("boom")
		})
	}()
	noTemps()

	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("content %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the replaced file's 0600", fi.Mode())
	}
	fresh := filepath.Join(dir, "fresh")
	if err := WriteFileAtomic(fresh, func(w io.Writer) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v", fi.Mode())
	}

	// Leftovers of a killed run are recognisable and cleaned; nothing else is.
	stale := filepath.Join(dir, ".image.tar.gz.smith-tmp-12345")
	other := filepath.Join(dir, ".other.smith-tmp-1")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := CleanStaleTemps(dir, "image.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temp file not removed")
	}
	for _, p := range []string{path, fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}

func FuzzReadLayout(f *testing.F) {
	tree := fstree.New()
	if _, err := tree.WriteFile("/a", []byte("a"), 0o644, fstree.Owner{}, ""); err != nil {
		f.Fatal(err)
	}
	l, err := Layer(tree, LayerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	img, err := Build(nil, []v1.Layer{l}, Config{Architecture: "amd64"})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteLayoutTarGz(&buf, Layout{Image: img, Extras: []Blob{{MediaType: MediaTypeSpec, Data: []byte("{}")}},
		Annotations: map[string]string{AnnotationRefName: RefLatest}}, time.Time{}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	var plain bytes.Buffer
	zr, _ := gzipNewReader(buf.Bytes())
	_, _ = io.Copy(&plain, zr)
	f.Add(plain.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		rl, err := readLayoutTar(bytes.NewReader(data), nil, "")
		if err != nil {
			return
		}
		// Whatever was accepted must be usable without panicking.
		_, _ = rl.Image.ConfigFile()
		layers, _ := rl.Image.Layers()
		for _, l := range layers {
			if rc, err := l.Uncompressed(); err == nil {
				_, _ = io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
		_ = WriteLayoutTarGz(io.Discard, rl.Layout, time.Time{})
	})
}

// BenchmarkLayer measures Layer on 64 MiB of binary-like content in 1024
// files, about what a small microcontainer holds.
func BenchmarkLayer(b *testing.B) {
	tree := fstree.New()
	var total int64
	for i := range 1024 {
		data := make([]byte, 64<<10)
		for j := range data {
			data[j] = byte((i*31 + j*7) ^ (j >> 5)) // compressible, not trivially
		}
		if _, err := tree.WriteFile(fmt.Sprintf("/usr/lib64/f%04d", i), data, 0o755, fstree.Owner{}, ""); err != nil {
			b.Fatal(err)
		}
		total += int64(len(data))
	}
	b.SetBytes(total)
	for b.Loop() {
		if _, err := Layer(tree, LayerOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
