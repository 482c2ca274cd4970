package image

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/gzip"

	"github.com/smith-build/smith/fstree"
	urlredact "github.com/smith-build/smith/internal/redact"
)

// dirContents reads every file under dir, by slash path.
func dirContents(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteOutput(t *testing.T) {
	img, want := sampleImageLayout(t)
	l := sampleLayout(t, img)
	dir := t.TempDir()

	// oci-archive (and the default) is WriteLayoutTarGz.
	for _, f := range []string{"", FormatOCIArchive} {
		p := filepath.Join(dir, "out"+f+".tar.gz")
		if err := WriteOutput(p, f, l, epoch); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, want) {
			t.Errorf("format %q: not the layout tar.gz", f)
		}
	}

	// oci-dir holds the files of the tar, with the same bytes.
	ociDir := filepath.Join(dir, "oci")
	if err := WriteOutput(ociDir, FormatOCIDir, l, epoch); err != nil {
		t.Fatal(err)
	}
	got := dirContents(t, ociDir)
	files := 0
	for _, e := range untar(t, want) {
		if strings.HasSuffix(e.name, "/") {
			continue
		}
		files++
		if !bytes.Equal(got[e.name], e.data) {
			t.Errorf("oci-dir %s differs from the archive", e.name)
		}
	}
	if len(got) != files {
		t.Errorf("oci-dir has %d files, the archive %d", len(got), files)
	}
	fi, _ := os.Stat(filepath.Join(ociDir, "index.json"))
	if fi.Mode().Perm() != 0o644 || !fi.ModTime().Equal(epoch) {
		t.Errorf("index.json: mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
	rl, err := ReadLayoutDir(ociDir)
	if err != nil || rl.Descriptor.Digest != must(img.Digest()) {
		t.Fatalf("read back: %v", err)
	}
	// Replacing an oci-dir: the new content, no leftovers.
	other := mustBuild(t, nil, []v1.Layer{mustLayer(t, sampleTree(t, true), epoch.Add(time.Hour))}, sampleConfig())
	if err := WriteOutput(ociDir, FormatOCIDir, Layout{Image: other}, epoch); err != nil {
		t.Fatal(err)
	}
	if rl, err := ReadLayoutDir(ociDir); err != nil || rl.Descriptor.Digest != must(other.Digest()) {
		t.Errorf("replaced oci-dir: %v", err)
	}
	for _, e := range must(os.ReadDir(dir)) {
		if strings.Contains(e.Name(), tempInfix) {
			t.Errorf("leftover %s", e.Name())
		}
	}
	// A directory that is not a layout is not replaced.
	precious := filepath.Join(dir, "home")
	os.MkdirAll(precious, 0o755)
	os.WriteFile(filepath.Join(precious, "notes"), []byte("keep"), 0o644)
	if err := WriteOutput(precious, FormatOCIDir, l, epoch); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("replacing a non-layout directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(precious, "notes")); string(b) != "keep" {
		t.Error("a non-layout directory was touched")
	}

	// docker-archive: a docker save tarball that go-containerregistry reads
	// back to the same image.
	da := filepath.Join(dir, "docker.tar")
	if err := WriteOutput(da, FormatDockerArchive, l, epoch); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(DefaultDockerName)
	back, err := tarball.ImageFromPath(da, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Error(err)
	}
	if must(back.ConfigName()) != must(img.ConfigName()) || must(back.Manifest()).Layers[0].Digest != must(img.Manifest()).Layers[0].Digest {
		t.Error("docker-archive: config or layer changed")
	}
	var manifest []struct{ RepoTags []string }
	for _, e := range untar(t, must(os.ReadFile(da))) {
		if e.name == "manifest.json" {
			if err := json.Unmarshal(e.data, &manifest); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(manifest) != 1 || len(manifest[0].RepoTags) != 1 || manifest[0].RepoTags[0] != "index.docker.io/library/smith:latest" && manifest[0].RepoTags[0] != "smith:latest" {
		t.Errorf("docker-archive manifest.json: %+v", manifest)
	}
	named := l
	named.Annotations = map[string]string{AnnotationImageName: "example.com/cat:1.0"}
	if err := WriteOutput(da, FormatDockerArchive, named, epoch); err != nil {
		t.Fatal(err)
	}
	tag, _ = name.NewTag("example.com/cat:1.0")
	if _, err := tarball.ImageFromPath(da, &tag); err != nil {
		t.Errorf("named docker-archive: %v", err)
	}

	if err := WriteOutput(filepath.Join(dir, "x"), "tarball", l, epoch); err == nil || !strings.Contains(err.Error(), "oci-archive, oci-dir, docker-archive") {
		t.Errorf("unknown format: %v", err)
	}
}

// TestWriteOutputReproducible writes every format twice from separately
// built images.
func TestWriteOutputReproducible(t *testing.T) {
	for _, f := range Formats() {
		var outs [][]byte
		var dirs []map[string][]byte
		for i := 0; i < 2; i++ {
			img := mustBuild(t, nil, []v1.Layer{mustLayer(t, sampleTree(t, i == 1), epoch)}, sampleConfig())
			p := filepath.Join(t.TempDir(), "out")
			if err := WriteOutput(p, f, sampleLayout(t, img), epoch); err != nil {
				t.Fatal(err)
			}
			if f == FormatOCIDir {
				dirs = append(dirs, dirContents(t, p))
				continue
			}
			outs = append(outs, must(os.ReadFile(p)))
		}
		if f == FormatOCIDir {
			if len(dirs[0]) != len(dirs[1]) {
				t.Errorf("%s: differs", f)
			}
			for k, v := range dirs[0] {
				if !bytes.Equal(dirs[1][k], v) {
					t.Errorf("%s: %s differs", f, k)
				}
			}
			continue
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s: two writes differ", f)
		}
	}
}

// TestWriteOutputFailure: a layer that does not match its digest fails the
// write and leaves the previous output.
func TestWriteOutputFailure(t *testing.T) {
	img, _ := sampleImageLayout(t)
	layers, _ := img.Layers()
	ml := layers[0].(*memLayer)
	bad := &memLayer{data: append([]byte(nil), ml.data...), digest: ml.digest, diffID: ml.diffID, mediaType: ml.mediaType}
	bad.data[len(bad.data)/2] ^= 1
	// As a layer read from elsewhere: a memLayer's bytes are hashed where
	// they are made, and not again when written.
	broken, err := newImage(must(img.RawManifest()), must(img.RawConfigFile()), must(img.MediaType()), []v1.Layer{foreignLayer{bad}}, []v1.Hash{ml.diffID})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats() {
		dir := t.TempDir()
		p := filepath.Join(dir, "out")
		if err := WriteOutput(p, f, Layout{Image: img}, epoch); err != nil {
			t.Fatal(err)
		}
		err := WriteOutput(p, f, Layout{Image: broken}, epoch)
		if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
			t.Errorf("%s: err = %v", f, err)
		}
		if es, _ := os.ReadDir(dir); len(es) != 1 {
			t.Errorf("%s: leftovers %v", f, es)
		}
		var still *ReadLayout
		if f == FormatOCIDir {
			still, err = ReadLayoutDir(p)
		} else if f == FormatOCIArchive {
			still, err = ReadLayoutTarGz(p)
		} else {
			continue
		}
		if err != nil || still.Descriptor.Digest != must(img.Digest()) {
			t.Errorf("%s: the previous output is gone: %v", f, err)
		}
	}
}

// TestOutputsWithTools: skopeo accepts every format, umoci unpacks the
// oci-dir, podman loads the docker-archive.
func TestOutputsWithTools(t *testing.T) {
	skopeo(t)
	img, _ := sampleImageLayout(t)
	l := sampleLayout(t, img)
	dir := t.TempDir()
	paths := map[string]string{}
	for _, f := range Formats() {
		paths[f] = filepath.Join(dir, "out-"+f)
		if err := WriteOutput(paths[f], f, l, epoch); err != nil {
			t.Fatal(err)
		}
	}
	for f, src := range map[string]string{
		FormatOCIArchive:    "oci-archive:" + paths[FormatOCIArchive] + ":latest",
		FormatOCIDir:        "oci:" + paths[FormatOCIDir] + ":latest",
		FormatDockerArchive: "docker-archive:" + paths[FormatDockerArchive],
	} {
		dst := filepath.Join(dir, "copy-"+f)
		run(t, "skopeo", "copy", "--quiet", src, "oci:"+dst+":latest")
		rl, err := ReadLayoutDir(dst)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m, _ := rl.Image.Manifest()
		if f == FormatDockerArchive {
			// skopeo recompresses docker-archive layers: the content
			// (DiffID) is what stays.
			if must(rl.Image.ConfigFile()).RootFS.DiffIDs[0] != must(img.ConfigFile()).RootFS.DiffIDs[0] {
				t.Errorf("skopeo copy %s: layer content changed", src)
			}
		} else if m.Layers[0].Digest != must(img.Manifest()).Layers[0].Digest || must(rl.Image.ConfigName()) != must(img.ConfigName()) {
			t.Errorf("skopeo copy %s: layer %s", src, m.Layers[0].Digest)
		}
		tree := fstree.New()
		if err := Unpack(context.Background(), rl.Image, tree); err != nil {
			t.Fatal(err)
		}
		if tree.Dump() != sampleTree(t, false).Dump() {
			t.Errorf("skopeo copy %s: content changed:\n%s", src, tree.Dump())
		}
	}
	if _, err := exec.LookPath("umoci"); err == nil {
		bundle := filepath.Join(dir, "bundle")
		run(t, "umoci", "unpack", "--rootless", "--image", paths[FormatOCIDir]+":latest", bundle)
		if b, err := os.ReadFile(filepath.Join(bundle, "rootfs/etc/passwd")); err != nil || string(b) != "root:x:0:0::/:/bin/sh\n" {
			t.Errorf("umoci: %q %v", b, err)
		}
	} else {
		t.Log("umoci not installed: oci-dir not unpacked with umoci")
	}
	if _, err := exec.LookPath("podman"); err == nil {
		// podman's own storage in the test's temporary directory.
		root := filepath.Join(dir, "podman")
		args := []string{"--root", root + "/root", "--runroot", root + "/run", "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
		out := run(t, "podman", append(args, "load", "-i", paths[FormatDockerArchive])...)
		if !strings.Contains(string(out), "smith:latest") {
			t.Errorf("podman load: %s", out)
		}
		run(t, "podman", append(args, "rmi", "-a", "-f")...)
	} else {
		t.Log("podman not installed (apt-get install podman): docker-archive not loaded with podman")
	}
}

func TestOpenLocal(t *testing.T) {
	ctx := context.Background()
	img, out := sampleImageLayout(t)
	l := sampleLayout(t, img)
	dir := t.TempDir()
	wantDump := sampleTree(t, false).Dump()

	gzLayout := filepath.Join(dir, "image.tar.gz")
	os.WriteFile(gzLayout, out, 0o644)
	plainLayout := filepath.Join(dir, "image.tar")
	zr, _ := gzip.NewReader(bytes.NewReader(out))
	var plain bytes.Buffer
	plain.ReadFrom(zr)
	os.WriteFile(plainLayout, plain.Bytes(), 0o644)
	layoutDir := filepath.Join(dir, "layout")
	if err := WriteOutput(layoutDir, FormatOCIDir, l, epoch); err != nil {
		t.Fatal(err)
	}
	dockerTar := filepath.Join(dir, "docker.tar")
	if err := WriteOutput(dockerTar, FormatDockerArchive, l, epoch); err != nil {
		t.Fatal(err)
	}
	dockerGz := filepath.Join(dir, "docker.tar.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(must(os.ReadFile(dockerTar)))
	zw.Close()
	os.WriteFile(dockerGz, gz.Bytes(), 0o644)

	for _, src := range []string{gzLayout, plainLayout, layoutDir, dockerTar, dockerGz} {
		got, err := Open(ctx, src, RemoteOptions{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("%s: %v", src, err)
		}
		if must(got.Manifest()).Layers[0].Digest != must(img.Manifest()).Layers[0].Digest {
			t.Errorf("%s: layer digest changed", src)
		}
		tree := fstree.New()
		if err := Unpack(ctx, got, tree); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if tree.Dump() != wantDump {
			t.Errorf("%s: unpacked\n%s", src, tree.Dump())
		}
		// As a parent, its layer stays.
		child := mustBuild(t, got, []v1.Layer{mustLayer(t, fstree.New(), epoch)}, Config{})
		if must(child.Manifest()).Layers[0].Digest != must(img.Manifest()).Layers[0].Digest {
			t.Errorf("%s: parent layer changed", src)
		}
	}

	for _, c := range []struct{ src, want string }{
		{filepath.Join(dir, "missing.tar.gz"), "a registry image needs an https:// or http:// URL"},
		{filepath.Join(dir, "notes.txt"), "not a tar archive"},
		{filepath.Join(dir, "empty.tar"), "neither an OCI image layout"},
	} {
		if strings.HasSuffix(c.src, ".txt") {
			os.WriteFile(c.src, bytes.Repeat([]byte("hello "), 200), 0o644)
		}
		if strings.HasSuffix(c.src, "empty.tar") {
			os.WriteFile(c.src, mktar(t, []entry{fileEntry("README", "x", 0o644, 0)}, false), 0o644)
		}
		if _, err := Open(ctx, c.src, RemoteOptions{}); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.src) {
			t.Errorf("Open(%s) = %v, want %q", c.src, err, c.want)
		}
	}
}

func TestParseRemote(t *testing.T) {
	for _, c := range []struct {
		in, ref, user, pass string
		insecure, hub       bool
	}{
		{in: "https://registry.example.com/team/app", ref: "registry.example.com/team/app:latest"},
		{in: "https://registry.example.com:5000/app:1.2", ref: "registry.example.com:5000/app:1.2"},
		{in: "http://127.0.0.1:5000/x/y:t", ref: "127.0.0.1:5000/x/y:t", insecure: true},
		{in: "docker://quay.io/org/img@sha256:" + strings.Repeat("a", 64), ref: "quay.io/org/img@sha256:" + strings.Repeat("a", 64)},
		{in: "https://u:p@r.example.com/a:1", ref: "r.example.com/a:1", user: "u", pass: "p"},
		{in: "https://u:p%40ss%2Fx@r.example.com/a", ref: "r.example.com/a:latest", user: "u", pass: "p@ss/x"},
		{in: "https://u:p@ss/x:y@r.example.com/a@sha256:" + strings.Repeat("b", 64), ref: "r.example.com/a@sha256:" + strings.Repeat("b", 64), user: "u", pass: "p@ss/x:y"},
		{in: "https://registry-1.docker.io/fedora", ref: "index.docker.io/library/fedora:latest", hub: true},
		{in: "https://docker.io/library/fedora:40", ref: "index.docker.io/library/fedora:40", hub: true},
		{in: "https://index.docker.io/me/app/", ref: "index.docker.io/me/app:latest", hub: true},
		{in: "127.0.0.1:5000/x", ref: "127.0.0.1:5000/x:latest"},
	} {
		r, err := parseRemote(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if r.ref.Name() != c.ref || isDockerHub(r.ref) != c.hub || (r.ref.Context().Scheme() == "http") != (c.insecure || strings.HasPrefix(c.ref, "127.")) {
			t.Errorf("%s: ref %s (hub %v, scheme %s)", c.in, r.ref.Name(), isDockerHub(r.ref), r.ref.Context().Scheme())
		}
		if c.user == "" && r.auth != nil || c.user != "" && (r.auth == nil || r.auth.Username != c.user || r.auth.Password != c.pass) {
			t.Errorf("%s: auth %+v", c.in, r.auth)
		}
	}
	for _, in := range []string{"https://host", "https://u:secret@host", "https://u:secret@host/UPPER", "https:///x"} {
		_, err := parseRemote(in)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: err = %v", in, err)
		}
	}
	for in, want := range map[string]string{
		"https://u:secret@host/repo:1":                   "https://REDACTED@host/repo:1",
		"https://u:se@cr/et@host/repo@sha256:abc":        "https://REDACTED@host/repo@sha256:abc",
		"https://host/repo:1":                            "https://host/repo:1",
		"https://u@host/repo":                            "https://REDACTED@host/repo",
		"image.tar.gz":                                   "image.tar.gz",
		"http://tb:pw@127.0.0.1:5000/x@sha256:" + "ab12": "http://REDACTED@127.0.0.1:5000/x@sha256:ab12",
	} {
		if got := urlredact.URL(in); got != want {
			t.Errorf("urlredact.URL(%s) = %s, want %s", in, got, want)
		}
	}
	if !IsRemote("HTTPS://x/y") || !IsRemote("docker://x/y") || IsRemote("./image.tar.gz") || IsRemote("/abs/dir") {
		t.Error("IsRemote")
	}
}

func TestMatchPlatform(t *testing.T) {
	d := func(os, arch, variant string) v1.Descriptor {
		return v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Platform: &v1.Platform{OS: os, Architecture: arch, Variant: variant}}
	}
	idx := []v1.Descriptor{d("linux", "amd64", ""), d("linux", "arm", "v6"), d("linux", "arm", "v7"), d("linux", "arm64", "v8"), d("unknown", "unknown", ""), d("windows", "amd64", "")}
	for _, c := range []struct {
		want v1.Platform
		pos  int
		err  string
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, 0, ""},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, 3, ""},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, 3, ""},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, 2, ""},
		{v1.Platform{OS: "linux", Architecture: "arm"}, 0, "2 images match platform linux/arm (linux/arm/v6, linux/arm/v7): give the variant"},
		{v1.Platform{OS: "windows", Architecture: "amd64"}, 5, ""},
		{v1.Platform{OS: "linux", Architecture: "s390x"}, 0, "no image for platform linux/s390x; the index has linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8, windows/amd64"},
	} {
		pos, err := matchPlatform(idx, c.want)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: err = %v", platformString(c.want), err)
			}
			continue
		}
		if err != nil || pos != c.pos {
			t.Errorf("%s: %d %v, want %d", platformString(c.want), pos, err, c.pos)
		}
	}
	single := []v1.Descriptor{{MediaType: "application/vnd.oci.image.manifest.v1+json"}}
	if pos, err := matchPlatform(single, v1.Platform{OS: "linux", Architecture: "amd64"}); pos != 0 || err != nil {
		t.Errorf("single image without platform: %d %v", pos, err)
	}
}

// foreignLayer hides that its layer is a memLayer.
type foreignLayer struct{ *memLayer }

func (l foreignLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.data)), nil
}
