package image

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/registrytest"
)

// BenchmarkRegistryRoundTrip uploads and downloads a 3-layer image (24 MB of
// incompressible data) through the loopback registry, and does the same
// with skopeo copy when it is installed; it reports both times per
// round trip and their ratio (smith/skopeo: below 1 is faster).
func BenchmarkRegistryRoundTrip(b *testing.B) {
	reg := registrytest.Start(b, registrytest.Options{})
	rng := rand.New(rand.NewSource(1))
	var layers []v1.Layer
	for i := 0; i < 3; i++ {
		tree := fstree.New()
		data := make([]byte, 8<<20)
		rng.Read(data)
		if _, err := tree.WriteFile(fmt.Sprintf("/layer%d/blob", i), data, 0o644, fstree.Owner{}, ""); err != nil {
			b.Fatal(err)
		}
		l, err := Layer(tree, LayerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := Build(nil, layers, Config{Architecture: "amd64"})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "image.tar.gz")
	if err := WriteOutput(file, FormatOCIArchive, Layout{Image: img, Annotations: map[string]string{AnnotationRefName: RefLatest}}, time.Time{}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opt := testOpts()
	_, skopeoErr := exec.LookPath("skopeo")

	var smith, sk time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ref := fmt.Sprintf("%s/bench/smith%d:1", reg.URL, i)
		if err := UploadFile(ctx, file, ref, PushOptions{RemoteOptions: opt}); err != nil {
			b.Fatal(err)
		}
		if err := DownloadFile(ctx, ref, filepath.Join(dir, "down.tar.gz"), opt); err != nil {
			b.Fatal(err)
		}
		smith += time.Since(start)
		if skopeoErr != nil {
			continue
		}
		start = time.Now()
		dst := fmt.Sprintf("docker://%s/bench/skopeo%d:1", reg.Host, i)
		if out, err := exec.Command("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "oci-archive:"+file+":latest", dst).CombinedOutput(); err != nil {
			b.Fatalf("skopeo: %v\n%s", err, out)
		}
		if out, err := exec.Command("skopeo", "copy", "--quiet", "--src-tls-verify=false", dst, "oci-archive:"+filepath.Join(dir, fmt.Sprintf("sk%d.tar", i))+":latest").CombinedOutput(); err != nil {
			b.Fatalf("skopeo: %v\n%s", err, out)
		}
		sk += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(smith.Seconds()/float64(b.N), "smith-s/op")
	if skopeoErr == nil {
		b.ReportMetric(sk.Seconds()/float64(b.N), "skopeo-s/op")
		b.ReportMetric(smith.Seconds()/sk.Seconds(), "smith/skopeo")
	}
}

// benchTree is a tree of size bytes of tar-like content (tarLike) in
// files of up to 256 KiB.
func benchTree(b *testing.B, size int) *fstree.Tree {
	tree := fstree.New()
	data := tarLike(size, 1)
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), 256<<10)
		if _, err := tree.WriteFile(fmt.Sprintf("/usr/lib/f%03d", i), data[:n], 0o755, fstree.Owner{}, ""); err != nil {
			b.Fatal(err)
		}
		data = data[n:]
	}
	return tree
}

// BenchmarkLayerTarLike builds a layer from a 10 MB tree of tar-like
// content: tar, diffID and parallel gzip (BenchmarkLayerGzip isolates
// the compressor).
func BenchmarkLayerTarLike(b *testing.B) {
	tree := benchTree(b, 10<<20)
	b.SetBytes(10 << 20)
	for i := 0; i < b.N; i++ {
		if _, err := Layer(tree, LayerOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteOutput writes an oci-archive of an image whose one layer
// is 4.5 MB compressed: "file" is WriteOutput (temp file, fsync, rename),
// "stream" the same tar.gz into io.Discard, so their difference is the
// file system's share.
func BenchmarkWriteOutput(b *testing.B) {
	l, err := Layer(benchTree(b, 17<<19), LayerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	size, _ := l.Size()
	img, err := Build(nil, []v1.Layer{l}, Config{Architecture: "amd64"})
	if err != nil {
		b.Fatal(err)
	}
	lay := Layout{Image: img, Annotations: map[string]string{AnnotationRefName: RefLatest}}
	path := filepath.Join(b.TempDir(), "image.tar.gz")
	b.Run("file", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			if err := WriteOutput(path, FormatOCIArchive, lay, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			if err := WriteLayoutTarGz(io.Discard, lay, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
