package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/smith-build/smith/fstree"
)

// Hostile layers and layouts beyond TestUnpackErrors: names a kernel
// could not create, tar headers Go's reader refuses, decompression bombs.

// allocated runs f and returns the bytes it allocated (cumulative heap
// allocations: a bound on the peak).
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// ustar returns one raw ustar header block (no data), with a valid
// checksum, for headers tar.Writer refuses to write.
func ustar(name string, typeflag byte, size int) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// paxEntry is a raw tar with one PAX extended header carrying records,
// then a regular file "f" of content data.
func paxEntry(records map[string]string, data string) []byte {
	var rec bytes.Buffer
	for k, v := range records {
		line := " " + k + "=" + v + "\n"
		n := len(line)
		n += len(strconv.Itoa(n + len(strconv.Itoa(n))))
		fmt.Fprintf(&rec, "%d%s", n, line)
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }
	out := ustar("PaxHeaders/f", tar.TypeXHeader, rec.Len())
	out = append(out, pad(rec.Bytes())...)
	out = append(out, ustar("f", tar.TypeReg, len(data))...)
	out = append(out, pad([]byte(data))...)
	return append(out, make([]byte, 1024)...)
}

func TestUnpackHostileNames(t *testing.T) {
	long := strings.Repeat("d/", 2100) + "f"
	for _, c := range []struct {
		name  string
		raw   []byte
		entry string // the entry the error names
		is    error
		msg   string
	}{
		{"absolute hardlink target", mktar(t, []entry{fileEntry("a", "a", 0o644, 0), hardlinkEntry("x", "/etc/passwd")}, false), "x", ErrUnsafeName, "hardlink target"},
		{"hardlink target climbing inside", mktar(t, []entry{hardlinkEntry("x", "a/../../etc/passwd")}, false), "x", ErrUnsafeName, "hardlink target"},
		{"overlong name", mktar(t, []entry{fileEntry(long, "x", 0o644, 0)}, false), long, nil, "name of 4201 bytes (PATH_MAX is 4096)"},
		{"overlong component", mktar(t, []entry{fileEntry("d/"+strings.Repeat("n", 300), "x", 0o644, 0)}, false), "d/" + strings.Repeat("n", 300), nil, "name component of 300 bytes (NAME_MAX is 255)"},
		{"overlong hardlink target", mktar(t, []entry{hardlinkEntry("x", long)}, false), "x", nil, "PATH_MAX"},
		{"overlong symlink target", mktar(t, []entry{symlinkEntry("l", strings.Repeat("../", 1400))}, false), "l", nil, "symlink target of 4200 bytes"},
		{"NUL in a PAX path", paxEntry(map[string]string{"path": "a\x00/../../../etc/passwd"}, "x"), "", nil, "reading tar"},
		{"NUL in a PAX linkpath", paxEntry(map[string]string{"linkpath": "/etc\x00x"}, "x"), "", nil, "reading tar"},
		{"PAX size beyond the layer", paxEntry(map[string]string{"size": "99999999999"}, "x"), "f", nil, "size 99999999999 is beyond the limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := rawLayer(t, c.raw)
			tree, err := unpack(t, imageOf(t, l))
			var le *LayerError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LayerError", err)
			}
			d, _ := l.Digest()
			if le.Entry != c.entry || le.Layer != d || !strings.Contains(err.Error(), d.String()) {
				t.Errorf("err = %.300v: want it to name entry %.40q and layer %s", err, c.entry, d)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err = %.300v, want %q in it", err, c.msg)
			}
			if tree.Exists("/etc/passwd") {
				t.Error("/etc/passwd written")
			}
		})
	}
}

// zeroLayer is a gzip layer of files zero-filled files of size bytes each,
// streamed (the uncompressed tar is never held in memory).
func zeroLayer(t testing.TB, files int, size int64) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diff))
	zeros := make([]byte, 1<<20)
	for i := range files {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("z/%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
			t.Fatal(err)
		}
		for left := size; left > 0; left -= int64(len(zeros)) {
			if _, err := tw.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return &memLayer{
		data:      buf.Bytes(),
		digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		diffID:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))},
		mediaType: types.OCILayer,
	}
}

// Layers that expand beyond UnpackOptions' bounds fail with an error naming
// the layer, having allocated about the bound, not the expansion.
func TestUnpackBombs(t *testing.T) {
	for _, c := range []struct {
		name  string
		layer v1.Layer
		opt   UnpackOptions
		entry string
		msg   string
	}{
		{"one file of 256 MiB", zeroLayer(t, 1, 256<<20), UnpackOptions{MaxBytes: 8 << 20}, "z/0", "size 268435456 is beyond the limit of 8388608 bytes"},
		{"many 1 MiB files", zeroLayer(t, 64, 1<<20), UnpackOptions{MaxBytes: 8 << 20}, "z/7", "image larger than 8388608 bytes uncompressed"},
		{"many entries", zeroLayer(t, 20000, 0), UnpackOptions{MaxEntries: 1000}, "", "more than 1000 tar entries in the image"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			mem := allocated(func() {
				err = UnpackWith(context.Background(), imageOf(t, c.layer), fstree.New(), c.opt)
			})
			var le *LayerError
			if !errors.As(err, &le) || le.Entry != c.entry || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err = %v, want %q naming entry %q", err, c.msg, c.entry)
			}
			t.Logf("allocated %d MiB", mem>>20)
			// A few MiB over the bound (read buffers, the gzip window;
			// more under -race): far from what the layer expands to.
			if mem > 64<<20 {
				t.Errorf("allocated %d bytes", mem)
			}
		})
	}
	// Within the bounds, the same kind of layer unpacks.
	if err := UnpackWith(context.Background(), imageOf(t, zeroLayer(t, 4, 1<<20)), fstree.New(), UnpackOptions{MaxBytes: 8 << 20, MaxEntries: 10}); err != nil {
		t.Errorf("a layer within the bounds: %v", err)
	}
}

// A gzip-compressed layout whose outer gzip expands like a bomb (a blob of
// a gigabyte of zeros, a megabyte compressed) is refused after bombFloor
// bytes, not read into memory; an uncompressed layout of legitimately
// compressed blobs is unaffected (TestReadLayoutTarGz).
func TestReadLayoutBomb(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	const size = 1 << 30
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + strings.Repeat("0", 64), Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range size / len(zeros) {
		if _, err := tw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	mem := allocated(func() { _, err = readLayoutTar(bytes.NewReader(buf.Bytes()), nil, "") })
	if err == nil || !strings.Contains(err.Error(), "a decompression bomb?") {
		t.Errorf("err = %v", err)
	}
	t.Logf("allocated %d MiB for a %d-byte layout expanding to 1 GiB", mem>>20, buf.Len())
	// bombFloor read into a growing buffer (about twice that allocated in
	// all; more under -race), not the gigabyte.
	if mem > 512<<20 {
		t.Errorf("allocated %d bytes for a %d-byte layout", mem, buf.Len())
	}
}

// A parent whose config blob is JSON null (FuzzLayoutJSON's first find: a
// panic assigning to the nil map it unmarshals to) is an error, whether it
// comes from a layout or from a registry.
func TestNullConfig(t *testing.T) {
	s := &memStore{blobs: map[v1.Hash][]byte{}}
	cfg := s.put([]byte("null"))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json",%s},"layers":[]}`, cfg)
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",%s}]}`, s.put([]byte(manifest)))
	if _, err := assemble(s, []byte(`{"imageLayoutVersion":"1.0.0"}`), []byte(index), nil, ""); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("layout with a null config: err = %v", err)
	}
	// The same config on an image from elsewhere (a registry): Build
	// refuses it as a parent.
	bad, err := newImage([]byte(manifest), []byte("null"), types.OCIManifestSchema1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(bad, nil, Config{Architecture: "amd64"}); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("Build on a parent with a null config: err = %v", err)
	}
}
