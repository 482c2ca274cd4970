package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/internal/registrytest"
)

// writeImage makes a one-file smith image file for the registry tests.
func writeImage(t *testing.T, path string) {
	t.Helper()
	tree := fstree.New()
	if _, err := tree.WriteFile("/read/data", []byte("Hello World!\n"), 0o644, fstree.Owner{UID: 10, GID: 10}, ""); err != nil {
		t.Fatal(err)
	}
	layer, err := image.Layer(tree, image.LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.Build(nil, []v1.Layer{layer}, image.Config{Architecture: "amd64", OS: "linux", Cmd: []string{"/bin/true"}})
	if err != nil {
		t.Fatal(err)
	}
	l := image.Layout{Image: img, Annotations: map[string]string{image.AnnotationRefName: image.RefLatest}}
	err = image.WriteFileAtomic(path, func(w io.Writer) error { return image.WriteLayoutTarGz(w, l, time.Time{}) })
	if err != nil {
		t.Fatal(err)
	}
}

// TestUploadDownload pushes a file to a real registry with `smith upload`
// and pulls it back with `smith download`: the manifest digest survives,
// with OCI media types and with -d.
func TestUploadDownload(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{User: "tb", Password: "s3cr:t@x"})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.tar.gz")
	writeImage(t, in)
	src, err := image.ReadLayoutTarGz(in)
	if err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"HOME": dir})
	smith := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, env, &out, &errb)
		return code, errb.String()
	}
	good := "http://tb:s3cr%3At%40x@" + reg.Host + "/smith/cat"
	bad := "http://tb:wrongpass@" + reg.Host + "/smith/cat"

	if code, stderr := smith("upload", "-i", in, "-r", bad+":1"); code == 0 || strings.Contains(stderr, "wrongpass") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("upload with a wrong password: exit %d, stderr %q", code, stderr)
	}
	for _, tc := range []struct {
		tag    string
		docker []string
	}{{"oci", nil}, {"docker", []string{"-d"}}} {
		args := append([]string{"upload", "-i", in, "-r", good + ":" + tc.tag}, tc.docker...)
		if code, stderr := smith(args...); code != 0 {
			t.Fatalf("upload %s: exit %d: %s", tc.tag, code, stderr)
		}
		out := filepath.Join(dir, tc.tag+".tar.gz")
		if code, stderr := smith("download", "-r", good+":"+tc.tag, "-i", out); code != 0 {
			t.Fatalf("download %s: exit %d: %s", tc.tag, code, stderr)
		}
		got, err := image.ReadLayoutTarGz(out)
		if err != nil {
			t.Fatal(err)
		}
		gotMT, _ := got.Image.MediaType()
		if tc.docker == nil {
			if got.Descriptor.Digest != src.Descriptor.Digest {
				t.Errorf("OCI round trip changed the manifest digest: %s -> %s", src.Descriptor.Digest, got.Descriptor.Digest)
			}
			if !strings.Contains(string(gotMT), "oci") {
				t.Errorf("OCI upload came back as %s", gotMT)
			}
		} else if !strings.Contains(string(gotMT), "docker") {
			t.Errorf("upload -d came back as %s", gotMT)
		}
		srcLayers, _ := src.Image.Layers()
		gotLayers, _ := got.Image.Layers()
		if len(gotLayers) != len(srcLayers) {
			t.Fatalf("layers: %d, want %d", len(gotLayers), len(srcLayers))
		}
		for i := range srcLayers {
			a, _ := srcLayers[i].Digest()
			b, _ := gotLayers[i].Digest()
			if a != b {
				t.Errorf("layer %d digest %s, want %s", i, b, a)
			}
		}
	}
	// A missing tag: clear error, no file written.
	out := filepath.Join(dir, "missing.tar.gz")
	if code, stderr := smith("download", "-r", good+":nosuch", "-i", out); code == 0 || strings.Contains(stderr, "s3cr") {
		t.Fatalf("download of a missing tag: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("failed download left %s", out)
	}
}
