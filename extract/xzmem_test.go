package extract

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	uxz "github.com/ulikunitz/xz"
	"github.com/xi2/xz"

	"github.com/smith-build/smith/internal/rpmfixture"
)

// xzPayloads returns the xz payloads of the RPMs under dir (the compressed
// bytes after the header), by file name.
func xzPayloads(t testing.TB, dirs ...string) map[string][]byte {
	out := map[string][]byte{}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() || !strings.Contains(de.Name(), ".rpm") {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			br, _, err := readPackageHeaders(bytes.NewReader(data))
			if err != nil {
				return nil
			}
			rest, _ := io.ReadAll(br)
			if bytes.HasPrefix(rest, xzMagic) {
				out[p] = rest
			}
			return nil
		})
	}
	return out
}

func xi2Decode(in []byte) ([]byte, error) {
	r, err := xz.NewReader(bytes.NewReader(in), 0)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// The in-memory decoder gives xi2/xz's bytes on every xz payload of the
// test data (or hands the stream back as errStreaming).
func TestDecodeXZMatchesXi2(t *testing.T) {
	payloads := xzPayloads(t, "../testdata", "../../shared/testdata")
	if len(payloads) == 0 {
		t.Skip("no xz payloads found")
	}
	other := 0
	for p, in := range payloads {
		want, werr := xi2Decode(in)
		got, err := decodeXZ(context.Background(), in, 1<<40, 0, nil)
		switch {
		case errors.Is(err, errStreaming):
			other++
		case werr != nil && err == nil:
			t.Errorf("%s: xi2 fails (%v), decodeXZ does not", p, werr)
		case werr == nil && err != nil:
			t.Errorf("%s: decodeXZ: %v", p, err)
		case werr == nil && !bytes.Equal(got, want):
			t.Errorf("%s: %d bytes, xi2 %d, differ", p, len(got), len(want))
		}
	}
	t.Logf("%d xz payloads, %d left to the streaming decoder", len(payloads), other)
}

func BenchmarkDecodeXZ(b *testing.B) {
	var in []byte
	for p, data := range xzPayloads(b, "../../shared/testdata/distro") {
		if strings.Contains(p, "openssl-libs") {
			in = data
		}
	}
	if in == nil {
		b.Skip("openssl-libs payload not found")
	}
	b.Run("mem", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeXZ(context.Background(), in, 1<<40, 6<<20, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("xi2", func(b *testing.B) {
		for b.Loop() {
			if _, err := xi2Decode(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzDecodeXZ: whatever decodeXZ accepts, xi2/xz decodes to the same
// bytes; whatever xi2/xz decodes, decodeXZ decodes too (or hands back as
// another shape). Never a panic, never more than the limit.
func FuzzDecodeXZ(f *testing.F) {
	for _, data := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte("abcabcabd"), 5000), []byte(strings.Repeat("hello, world\n", 300))} {
		var b bytes.Buffer
		w, err := uxz.NewWriter(&b)
		if err != nil {
			f.Fatal(err)
		}
		w.Write(data)
		w.Close()
		f.Add(b.Bytes())
	}
	for _, c := range []string{"xz"} {
		rpm, err := rpmfixture.Build(rpmfixture.Spec{Name: "x", Version: "1", Release: "1", Compressor: c, Files: []rpmfixture.File{
			{Path: "/a", Data: bytes.Repeat([]byte("0123456789"), 3000)}, {Path: "/b", Data: []byte("b")},
		}})
		if err != nil {
			f.Fatal(err)
		}
		br, _, err := readPackageHeaders(bytes.NewReader(rpm))
		if err != nil {
			f.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		f.Add(rest)
	}
	const limit = 4 << 20
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decodeXZ(context.Background(), in, limit, 0, nil)
		if err == nil && len(got) > limit {
			t.Fatalf("%d bytes past the limit", len(got))
		}
		want, werr := xi2Decode(in)
		switch {
		case errors.Is(err, errStreaming):
		case err == nil && werr != nil:
			t.Fatalf("decodeXZ accepts what xi2 refuses (%v)", werr)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("decodeXZ and xi2 differ")
		case err != nil && werr == nil && len(want) <= limit && !errors.Is(err, ErrTooLarge):
			t.Fatalf("decodeXZ refuses (%v) what xi2 decodes", err)
		}
	})
}

// FuzzDecodeAllZstd: the whole-buffer zstd path never passes its limit and
// agrees with the streaming decoder on what it accepts.
func FuzzDecodeAllZstd(f *testing.F) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, data := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte("abcabcabd"), 5000)} {
		f.Add(enc.EncodeAll(data, nil))
	}
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Decoders
		defer d.Close()
		got, err := d.decodeAllZstd(in, limit, 0, 0)
		if err != nil {
			return
		}
		if len(got) > limit {
			t.Fatalf("%d bytes past the limit", len(got))
		}
		zr, err := newZstd(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		want, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("the streaming decoder gives %d bytes, %v; DecodeAll %d", len(want), err, len(got))
		}
		// Bounded by the buffer's capacity (a package header's bound), on
		// the same decoder: the same bytes when they fit, else handed to
		// the streaming decoder; never more than the capacity.
		for _, capTo := range []int{len(got), len(got) + 1, max(1, len(got)/2)} {
			c, err := d.decodeAllZstd(in, limit, capTo, 0)
			switch {
			case err == errStreaming && capTo < len(got):
			case err != nil:
				t.Fatalf("capacity %d for %d bytes: %v", capTo, len(got), err)
			case len(c) > capTo || !bytes.Equal(c, got):
				t.Fatalf("capacity %d: %d bytes, want the %d of DecodeAll", capTo, len(c), len(got))
			}
		}
		// And the decoder still decodes without a capacity afterwards.
		if again, err := d.decodeAllZstd(in, limit, 0, 0); err != nil || !bytes.Equal(again, got) {
			t.Fatalf("after capped decodes: %d bytes, %v", len(again), err)
		}
	})
}

// A small zstd payload with a window larger than the payload (rpm writes
// 8 MiB windows; libattr's payload is 70 KB) is decoded whole, in memory,
// bounded by what its header allows: that bound must not send it to the
// streaming decoder.
func TestZstdSmallPayloadStaysInMemory(t *testing.T) {
	rpm, err := os.ReadFile("../testdata/repo/Packages/libattr-2.5.1-4.el9.x86_64.rpm")
	if err != nil {
		t.Fatal(err)
	}
	var fh zstd.Header
	if err := fh.Decode(rpm[bytes.Index(rpm, []byte{0x28, 0xb5, 0x2f, 0xfd}):]); err != nil || fh.WindowSize < 1<<20 {
		t.Fatalf("the payload's window is %d bytes (%v): not the case under test", fh.WindowSize, err)
	}
	x := newExtractor(nil, Options{Decoders: &Decoders{}})
	br, h, err := readPackageHeaders(bytes.NewReader(rpm))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.prepare(h); err != nil {
		t.Fatal(err)
	}
	if x.payloadMax >= int64(fh.WindowSize) {
		t.Fatalf("payload bound %d, window %d: not the case under test", x.payloadMax, fh.WindowSize)
	}
	payload, _, err := x.expandInMemory(context.Background(), compZstd, &br, x.files.payloadBound())
	if err != nil || payload == nil {
		t.Fatalf("in-memory zstd: %d bytes, %v (nil: handed to the streaming decoder)", len(payload), err)
	}
}
