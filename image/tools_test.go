package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// extractLayout unpacks a layout file into a directory, as a user would with
// tar xzf.
func extractLayout(t *testing.T, out []byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range untar(t, out) {
		p := filepath.Join(dir, filepath.FromSlash(e.name))
		if strings.HasSuffix(e.name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, e.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func sampleImageLayout(t *testing.T) (v1.Image, []byte) {
	img := mustBuild(t, nil, []v1.Layer{mustLayer(t, sampleTree(t, false), epoch)}, sampleConfig())
	return img, layoutBytes(t, sampleLayout(t, img), epoch)
}

func TestReadLayoutDir(t *testing.T) {
	img, out := sampleImageLayout(t)
	dir := extractLayout(t, out)
	rl, err := ReadLayoutDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rl.Image); err != nil {
		t.Fatal(err)
	}
	if must(rl.Image.Digest()) != must(img.Digest()) || len(rl.Extras) != 2 {
		t.Errorf("read another image, or extras %v", rl.Extras)
	}
	if again := layoutBytes(t, rl.Layout, epoch); !bytes.Equal(again, out) {
		t.Error("directory read + write is not the identity")
	}

	// A blob changed on disk after reading fails when it is streamed.
	m, _ := img.Manifest()
	layerPath := filepath.Join(dir, "blobs", "sha256", m.Layers[0].Digest.Hex)
	b, _ := os.ReadFile(layerPath)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(layerPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayoutTarGz(new(bytes.Buffer), rl.Layout, epoch); err == nil || !strings.Contains(err.Error(), m.Layers[0].Digest.String()) {
		t.Errorf("writing a layout whose layer changed on disk: err = %v", err)
	}
	// And reading the directory again fails naming the blob.
	if _, err := ReadLayoutDir(dir); err == nil || !strings.Contains(err.Error(), "blob "+m.Layers[0].Digest.String()) {
		t.Errorf("corrupt layer: err = %v", err)
	}
	// Blobs cannot be symlinks out of the layout.
	if err := os.Remove(layerPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", layerPath); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLayoutDir(dir); err == nil {
		t.Error("a blob symlinked out of the layout was read")
	}
}

func TestLayoutWithSkopeo(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	img, out := sampleImageLayout(t)
	dir := extractLayout(t, out)
	raw := run(t, "skopeo", "inspect", "--raw", "oci:"+dir+":latest")
	if want := must(img.RawManifest()); !bytes.Equal(raw, want) {
		t.Errorf("skopeo manifest\n%s\nwant\n%s", raw, want)
	}
	cfg := run(t, "skopeo", "inspect", "--config", "--raw", "oci:"+dir+":latest")
	if want := must(img.RawConfigFile()); !bytes.Equal(cfg, want) {
		t.Errorf("skopeo config\n%s\nwant\n%s", cfg, want)
	}

	// A layout written by another tool reads back, layer bytes unchanged.
	dir2 := filepath.Join(t.TempDir(), "copy")
	run(t, "skopeo", "copy", "--quiet", "oci:"+dir+":latest", "oci:"+dir2+":latest")
	rl, err := ReadLayoutDir(dir2)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rl.Image); err != nil {
		t.Fatal(err)
	}
	got, _ := rl.Image.Manifest()
	want, _ := img.Manifest()
	if got.Layers[0].Digest != want.Layers[0].Digest {
		t.Errorf("skopeo copy: layer %s, want %s", got.Layers[0].Digest, want.Layers[0].Digest)
	}
	// And is a valid parent.
	mustBuild(t, rl.Image, []v1.Layer{mustLayer(t, sampleTree(t, true), epoch.Add(1e9))}, Config{})
}

func TestLayoutWithUmoci(t *testing.T) {
	if _, err := exec.LookPath("umoci"); err != nil {
		t.Skip("umoci not installed")
	}
	_, out := sampleImageLayout(t)
	dir := extractLayout(t, out)
	bundle := filepath.Join(t.TempDir(), "bundle")
	run(t, "umoci", "unpack", "--rootless", "--image", dir+":latest", bundle)
	rootfs := filepath.Join(bundle, "rootfs")

	if b, err := os.ReadFile(filepath.Join(rootfs, "etc/passwd")); err != nil || string(b) != "root:x:0:0::/:/bin/sh\n" {
		t.Errorf("etc/passwd: %q %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(rootfs, "bin")); err != nil || target != "usr/bin" {
		t.Errorf("bin -> %q %v", target, err)
	}
	var inos []uint64
	for _, p := range []string{"usr/bin/aa", "usr/bin/mm", "usr/bin/zz"} {
		fi, err := os.Stat(filepath.Join(rootfs, p))
		if err != nil {
			t.Fatal(err)
		}
		inos = append(inos, fi.Sys().(*syscall.Stat_t).Ino)
	}
	if inos[0] != inos[1] || inos[0] != inos[2] {
		t.Errorf("hardlinks unpacked as separate files: inodes %v", inos)
	}
	if fi, err := os.Stat(filepath.Join(rootfs, longDir, "file-with-a-long-name.txt")); err != nil || fi.Size() != 4 {
		t.Errorf("long name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "usr/share/ünïcødé")); err != nil {
		t.Errorf("unicode name: %v", err)
	}
}
