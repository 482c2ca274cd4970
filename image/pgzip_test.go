package image

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"

	"github.com/smith-build/smith/fstree"
)

// pgzipBytes compresses data with parallelGzip, writing it in chunks of
// at most chunk bytes (0: one Write).
func pgzipBytes(t testing.TB, data []byte, blockSize, chunk int) []byte {
	t.Helper()
	return pgzipFiles(t, data, nil, blockSize, gzipSegmentMin, chunk, nil)
}

// seqGzip is what Layer wrote before parallelGzip: klauspost's gzip writer.
func seqGzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, layerLevel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// checkGunzip decompresses gz with Go's and klauspost's readers; both
// must give want and see exactly one gzip member.
func checkGunzip(t testing.TB, gz, want []byte) {
	t.Helper()
	std := func(r io.Reader) (io.Reader, error) {
		zr, err := stdgzip.NewReader(r)
		if zr != nil {
			zr.Multistream(false)
		}
		return zr, err
	}
	kp := func(r io.Reader) (io.Reader, error) {
		zr, err := gzip.NewReader(r)
		if zr != nil {
			zr.Multistream(false)
		}
		return zr, err
	}
	for name, open := range map[string]func(io.Reader) (io.Reader, error){"compress/gzip": std, "klauspost": kp} {
		r := bytes.NewReader(gz)
		zr, err := open(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes differ from the %d written", name, len(got), len(want))
		}
		if r.Len() != 0 {
			t.Fatalf("%s: %d bytes after the gzip member", name, r.Len())
		}
	}
}

// pgzipInput is n bytes of a kind: random (incompressible), text (a
// small vocabulary, like scripts and docs), zeros, or tar (tarLike).
func pgzipInput(kind string, n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	b := make([]byte, n)
	switch kind {
	case "random":
		rng.Read(b)
	case "text":
		words := strings.Fields("the quick brown fox jumps over a lazy dog while smith builds images from rpm packages\n")
		b = b[:0]
		for len(b) < n {
			b = append(b, words[rng.Intn(len(words))]...)
			b = append(b, ' ')
		}
		b = b[:n]
	case "zeros":
	case "tar":
		b = tarLike(n, seed)
	default:
		panic(kind)
	}
	return b
}

// tarLike is n bytes resembling a layer tar of a small distribution:
// headers, text files, and binaries whose bytes compress about as well as
// ELF code (a skewed mix of opcodes-like runs, offsets and strings).
func tarLike(n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	words := strings.Fields("lib usr bin etc share nginx http server module config error log access ssl proxy cache upstream location")
	for i := 0; buf.Len() < n; i++ {
		var data []byte
		switch rng.Intn(3) {
		case 0: // text
			for len(data) < 2000+rng.Intn(20000) {
				data = append(data, words[rng.Intn(len(words))]...)
				data = append(data, " \n"[rng.Intn(2)])
			}
		default: // binary
			size := 10000 + rng.Intn(200000)
			for len(data) < size {
				switch rng.Intn(4) {
				case 0:
					data = append(data, 0x48, 0x89, byte(rng.Intn(8)), 0xe8)
					data = binary.LittleEndian.AppendUint32(data, uint32(rng.Intn(1<<20)))
				case 1:
					data = append(data, words[rng.Intn(len(words))]...)
					data = append(data, 0)
				case 2:
					data = binary.LittleEndian.AppendUint64(data, uint64(rng.Intn(1<<16)))
				default:
					data = append(data, byte(rng.Intn(256)), byte(rng.Intn(256)), byte(rng.Intn(16)))
				}
			}
		}
		hdr := &tar.Header{Name: fmt.Sprintf("usr/lib/%s/%d", words[i%len(words)], i), Mode: 0o644, Size: int64(len(data)), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(err)
		}
		if _, err := tw.Write(data); err != nil {
			panic(err)
		}
	}
	tw.Close()
	return buf.Bytes()[:n]
}

func TestParallelGzipRoundTrip(t *testing.T) {
	const bs = gzipBlockSize
	for _, kind := range []string{"random", "text", "zeros", "tar"} {
		for _, n := range []int{0, 1, bs - 1, bs, bs + 1, 3*bs + bs/2} {
			t.Run(fmt.Sprintf("%s/%d", kind, n), func(t *testing.T) {
				data := pgzipInput(kind, n, int64(n))
				gz := pgzipBytes(t, data, bs, 0)
				checkGunzip(t, gz, data)
				// How the input is cut into Writes does not show.
				if chunked := pgzipBytes(t, data, bs, 4093); !bytes.Equal(chunked, gz) {
					t.Error("written in 4093-byte chunks: other bytes")
				}
				// Up to one block, the bytes are those of klauspost's gzip
				// writer: small layers keep their digests.
				if n <= bs && !bytes.Equal(gz, seqGzip(t, data)) {
					t.Error("one block: not the bytes of klauspost's gzip writer")
				}
			})
		}
	}
}

// The bytes do not depend on GOMAXPROCS, nor on which worker compresses
// which block: they are those of the same scheme with a new flate writer
// per block.
func TestParallelGzipDeterministic(t *testing.T) {
	data := append(pgzipInput("tar", 3*gzipBlockSize, 1), pgzipInput("random", gzipBlockSize/2, 2)...)
	want := referencePgzip(t, data, gzipBlockSize)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 8} {
		runtime.GOMAXPROCS(procs)
		for run := 0; run < 2; run++ {
			if got := pgzipBytes(t, data, gzipBlockSize, 0); !bytes.Equal(got, want) {
				t.Errorf("GOMAXPROCS %d, run %d: other bytes (%d, want %d)", procs, run, len(got), len(want))
			}
		}
	}
	checkGunzip(t, want, data)
}

// referencePgzip is the output format written the plain way, one block
// after the other, each with a fresh flate writer.
func referencePgzip(t testing.TB, data []byte, blockSize int) []byte {
	t.Helper()
	out := bytes.NewBufferString(gzipHeader)
	for start := 0; ; start += blockSize {
		end := min(start+blockSize, len(data))
		fw, err := flate.NewWriterDict(out, layerLevel, data[max(0, start-gzipDictSize):start])
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data[start:end])
		if end == len(data) {
			fw.Close()
			break
		}
		fw.Flush()
	}
	binary.Write(out, binary.LittleEndian, crc32.ChecksumIEEE(data))
	binary.Write(out, binary.LittleEndian, uint32(len(data)))
	return out.Bytes()
}

// The parallel stream is close to the sequential one in size.
func TestParallelGzipRatio(t *testing.T) {
	data := pgzipInput("tar", 10<<20, 3)
	par, seq := len(pgzipBytes(t, data, gzipBlockSize, 0)), len(seqGzip(t, data))
	t.Logf("parallel %d bytes, sequential %d: %.4f", par, seq, float64(par)/float64(seq))
	if par > seq+seq/100 {
		t.Errorf("parallel %d bytes, sequential %d: more than 1%% larger", par, seq)
	}
}

func TestParallelGzipGzipT(t *testing.T) {
	if _, err := exec.LookPath("gzip"); err != nil {
		t.Skip("gzip is not installed")
	}
	dir := t.TempDir()
	for i, data := range [][]byte{nil, pgzipInput("tar", 3*gzipBlockSize+gzipBlockSize/2, 4)} {
		p := filepath.Join(dir, fmt.Sprintf("%d.gz", i))
		if err := os.WriteFile(p, pgzipBytes(t, data, gzipBlockSize, 0), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("gzip", "-t", p).CombinedOutput(); err != nil {
			t.Errorf("gzip -t on %d bytes: %v\n%s", len(data), err, out)
		}
	}
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct{ n int }

var errSink = errors.New("sink is full")

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errSink
	}
	w.n -= len(p)
	return len(p), nil
}

// An error of the underlying writer is returned, by Write or at the
// latest by Close, and sticks.
func TestParallelGzipWriteError(t *testing.T) {
	data := pgzipInput("random", 20*gzipBlockSize/4, 5)
	for _, n := range []int{0, 5, 100, gzipBlockSize + 7} {
		z := newParallelGzip(&failAfter{n: n}, layerLevel, gzipBlockSize/4, gzipSegmentMin, nil)
		var err error
		for p := data; len(p) > 0 && err == nil; p = p[min(len(p), 65536):] {
			_, err = z.Write(p[:min(len(p), 65536)])
		}
		if cerr := z.Close(); err == nil {
			err = cerr
		}
		if !errors.Is(err, errSink) {
			t.Errorf("failing after %d bytes: %v, want %v", n, err, errSink)
		}
		if err := z.Close(); !errors.Is(err, errSink) {
			t.Errorf("second Close: %v", err)
		}
		if _, err := z.Write([]byte("x")); err == nil {
			t.Error("Write after a failure succeeded")
		}
	}
}

// FuzzParallelGzip round-trips arbitrary input through parallelGzip with
// small blocks (the first byte picks their size, 16 bytes to 32 KiB, but
// at most 64 blocks: each costs a dictionary), so that short inputs cross
// many block boundaries, with dictionaries longer than a block.
func FuzzParallelGzip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00hello, hello, hello"))
	f.Add(append([]byte{3}, pgzipInput("tar", 5000, 6)...))
	f.Add(append([]byte{9}, pgzipInput("random", 3000, 7)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		bs := 1 << 16
		if len(in) > 0 {
			bs = max(16<<(in[0]%12), len(in)/64)
		}
		gz := pgzipBytes(t, in, bs, 0)
		checkGunzip(t, gz, in)
		// The reference allocates a flate writer (most of a megabyte) per
		// block: only for a few blocks, or the fuzzer crawls.
		if len(in) <= 4*bs && !bytes.Equal(gz, referencePgzip(t, in, bs)) {
			t.Fatal("not the bytes of the reference")
		}
	})
}

// BenchmarkLayerGzip compares klauspost's gzip writer (one core) with
// parallelGzip on 10 MB of tar-like data, at layerLevel; it reports MB/s
// of input and the size of the output as a fraction of the input.
func BenchmarkLayerGzip(b *testing.B) {
	data := pgzipInput("tar", 10<<20, 8)
	for _, c := range []struct {
		name string
		gz   func([]byte) []byte
	}{
		{"sequential", func(d []byte) []byte { return seqGzip(b, d) }},
		{"parallel", func(d []byte) []byte { return pgzipBytes(b, d, gzipBlockSize, 32<<10) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out []byte
			for i := 0; i < b.N; i++ {
				out = c.gz(data)
			}
			b.ReportMetric(float64(len(out))/float64(len(data)), "ratio")
		})
	}
}

// region is a file's data in a stream: data[off:off+n].
type region struct{ off, n int }

// pgzipFiles compresses data with parallelGzip announcing the files of
// regions (sorted, not overlapping) with their sha256, in Writes of at
// most chunk bytes (0: as large as possible).
func pgzipFiles(t testing.TB, data []byte, files []region, blockSize, segMin, chunk int, prepared *Prepared) []byte {
	t.Helper()
	var out bytes.Buffer
	z := newParallelGzip(&out, layerLevel, blockSize, segMin, prepared)
	write := func(p []byte) {
		for len(p) > 0 {
			k := len(p)
			if chunk > 0 {
				k = min(k, chunk)
			}
			if n, err := z.Write(p[:k]); err != nil || n != k {
				t.Fatalf("write: %d, %v", n, err)
			}
			p = p[k:]
		}
	}
	pos := 0
	for _, f := range files {
		write(data[pos:f.off])
		file := data[f.off : f.off+f.n]
		sum := sha256.Sum256(file)
		z.File(file, sum[:])
		write(file)
		pos = f.off + f.n
	}
	write(data[pos:])
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// referenceFiles is the output format with files written the plain way:
// the stream cut into runs (each file of at least segMin bytes is one,
// the bytes between them others), each run cut into blocks, each block
// compressed with a fresh flate writer primed with the 32 KiB before it,
// within its file for a file's blocks.
func referenceFiles(t testing.TB, data []byte, files []region, blockSize, segMin int) []byte {
	t.Helper()
	type run struct {
		start, end int
		file       bool
	}
	var runs []run
	pos := 0
	for _, f := range files {
		if f.n < segMin {
			continue
		}
		if f.off > pos {
			runs = append(runs, run{pos, f.off, false})
		}
		runs = append(runs, run{f.off, f.off + f.n, true})
		pos = f.off + f.n
	}
	// The stream always ends with a run of its own, possibly empty.
	runs = append(runs, run{pos, len(data), false})
	out := bytes.NewBufferString(gzipHeader)
	for ri, r := range runs {
		floor := 0
		if r.file {
			floor = r.start
		}
		for start := r.start; ; start += blockSize {
			end := min(start+blockSize, r.end)
			fw, err := flate.NewWriterDict(out, layerLevel, data[max(floor, start-gzipDictSize):start])
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(data[start:end])
			if ri == len(runs)-1 && end == r.end {
				fw.Close()
			} else {
				fw.Flush()
			}
			if end == r.end {
				break
			}
		}
	}
	binary.Write(out, binary.LittleEndian, crc32.ChecksumIEEE(data))
	binary.Write(out, binary.LittleEndian, uint32(len(data)))
	return out.Bytes()
}

// filesInput is a stream of n bytes with files of the given sizes spread
// over it (with gaps of 1 to 3000 bytes before each).
func filesInput(sizes []int, seed int64) ([]byte, []region) {
	rng := rand.New(rand.NewSource(seed))
	var data []byte
	var files []region
	for i, size := range sizes {
		data = append(data, pgzipInput("text", 1+rng.Intn(3000), seed+int64(i))...)
		files = append(files, region{len(data), size})
		data = append(data, pgzipInput("tar", size, seed+100+int64(i))...)
	}
	data = append(data, make([]byte, 1024)...) // a tar's end
	return data, files
}

// Files announced with File are compressed on their own when large
// enough; the bytes are the reference's whatever Prepared holds (nothing,
// some blocks, everything, blocks made from other bytes under the same
// digest), however the input is cut into Writes and whatever GOMAXPROCS.
func TestParallelGzipFiles(t *testing.T) {
	const bs, segMin = 64 << 10, gzipDictSize
	data, files := filesInput([]int{100, segMin - 1, segMin, 3*bs + 17, bs, 5000, 2*bs - 1}, 7)
	want := referenceFiles(t, data, files, bs, segMin)
	checkGunzip(t, want, data)
	file := func(i int) []byte { return data[files[i].off : files[i].off+files[i].n] }
	sumOf := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

	preps := map[string]func() *Prepared{
		"none":  func() *Prepared { return nil },
		"empty": func() *Prepared { return newPrepared(layerLevel, bs, segMin) },
		"all": func() *Prepared {
			p := newPrepared(layerLevel, bs, segMin)
			for i := range files {
				p.Add(context.Background(), sumOf(file(i)), len(file(i)), file(i))
			}
			return p
		},
		"some": func() *Prepared {
			p := newPrepared(layerLevel, bs, segMin)
			p.Add(context.Background(), sumOf(file(3)), len(file(3)), file(3))
			return p
		},
		"lying": func() *Prepared {
			// The digest of file 3 on other bytes of the same length.
			p := newPrepared(layerLevel, bs, segMin)
			other := pgzipInput("random", files[3].n, 99)
			p.Add(context.Background(), sumOf(file(3)), len(other), other)
			return p
		},
		"other level": func() *Prepared {
			p := newPrepared(layerLevel+1, bs, segMin)
			p.Add(context.Background(), sumOf(file(3)), len(file(3)), file(3))
			return p
		},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for name, prep := range preps {
		for _, procs := range []int{1, 2, 8} {
			runtime.GOMAXPROCS(procs)
			for _, chunk := range []int{0, 4093} {
				if got := pgzipFiles(t, data, files, bs, segMin, chunk, prep()); !bytes.Equal(got, want) {
					t.Errorf("prepared %s, GOMAXPROCS %d, chunk %d: other bytes (%d, want %d)", name, procs, chunk, len(got), len(want))
				}
			}
		}
	}
	// Without files announced, the stream is blocked from its start.
	if !bytes.Equal(pgzipFiles(t, data, nil, bs, segMin, 0, nil), referencePgzip(t, data, bs)) {
		t.Error("no files announced: not the plain stream")
	}
}

// A Layer made while Add is still compressing its files waits for the
// blocks in the making and gives the same bytes.
func TestPreparedConcurrentAdd(t *testing.T) {
	tree := fstree.New()
	var files [][]byte
	for i := range 6 {
		data := pgzipInput("tar", gzipBlockSize+i*100000, int64(i))
		files = append(files, data)
		if _, err := tree.WriteFile(fmt.Sprintf("/usr/lib64/lib%d.so", i), data, 0o755, fstree.Owner{}, ""); err != nil {
			t.Fatal(err)
		}
		n, _ := tree.Lookup(fmt.Sprintf("/usr/lib64/lib%d.so", i))
		sum := sha256.Sum256(data)
		n.SHA256 = sum[:]
	}
	plain, err := Layer(tree, LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := plain.Digest()
	// Everything added first: the layer compresses no file.
	all := NewPrepared()
	total := 0
	for _, data := range files {
		sum := sha256.Sum256(data)
		all.Add(context.Background(), sum[:], len(data), data)
		total += len(data)
	}
	if l, err := Layer(tree, LayerOptions{Prepared: all}); err != nil || must(l.Digest()) != want {
		t.Fatalf("all prepared: %v", err)
	}
	if all.Used() != int64(total) {
		t.Errorf("all prepared: %d bytes used, want %d", all.Used(), total)
	}
	for run := range 5 {
		p := NewPrepared()
		var wg sync.WaitGroup
		for _, data := range files[run%2:] {
			wg.Go(func() {
				sum := sha256.Sum256(data)
				// Some in two steps, as files arrive while decoded.
				p.Add(context.Background(), sum[:], len(data), data[:len(data)/2])
				p.Add(context.Background(), sum[:], len(data), data)
			})
		}
		l, err := Layer(tree, LayerOptions{Prepared: p})
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := l.Digest(); got != want {
			t.Fatalf("run %d: digest %s, want %s", run, got, want)
		}
	}
	// A cancelled Add leaves nothing half made.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := NewPrepared()
	sum := sha256.Sum256(files[0])
	p.Add(ctx, sum[:], len(files[0]), files[0])
	if len(p.blocks) != 0 {
		t.Errorf("a cancelled Add made %d blocks", len(p.blocks))
	}
}

// FuzzParallelGzipFiles compares parallelGzip with announced files to the
// reference: the input's first bytes choose the block size, the segment
// size and the files' sizes; half the files are prepared.
func FuzzParallelGzipFiles(f *testing.F) {
	f.Add([]byte{4, 2, 10, 200, 3, 40}, int64(1))
	f.Add([]byte{0, 0, 255, 255, 255}, int64(2))
	f.Fuzz(func(t *testing.T, shape []byte, seed int64) {
		if len(shape) < 2 || len(shape) > 8 {
			return
		}
		bs := 256 << (shape[0] % 6) // 256 B to 8 KiB
		segMin := gzipDictSize + int(shape[1])*64
		var sizes []int
		for _, b := range shape[2:] {
			sizes = append(sizes, int(b)*int(b))
		}
		data, files := filesInput(sizes, seed)
		p := newPrepared(layerLevel, bs, segMin)
		for i, r := range files {
			if i%2 == 0 {
				file := data[r.off : r.off+r.n]
				sum := sha256.Sum256(file)
				p.Add(context.Background(), sum[:], len(file), file[:len(file)*int(shape[0])/255])
				p.Add(context.Background(), sum[:], len(file), file)
			}
		}
		got := pgzipFiles(t, data, files, bs, segMin, 0, p)
		checkGunzip(t, got, data)
		if !bytes.Equal(got, referenceFiles(t, data, files, bs, segMin)) {
			t.Fatal("not the bytes of the reference")
		}
	})
}
