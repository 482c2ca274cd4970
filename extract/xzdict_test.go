package extract

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/xi2/xz"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/rpmfixture"
)

// TestShrinkXZDict: a payload compressed with a 64 MiB dictionary decodes
// to the same bytes through the shrunk header, and the shrunk header asks
// for a dictionary no larger than needed.
func TestShrinkXZDict(t *testing.T) {
	data := bytes.Repeat([]byte("smith microcontainer "), 3000)
	comp, err := rpmfixture.Compress("xz", data)
	if err != nil {
		t.Fatal(err)
	}
	declared := func(stream []byte) uint64 {
		hdr := stream[xzStreamHeaderLen:]
		size := (int(hdr[0]) + 1) * 4
		// The LZMA2 properties byte is the last non-zero byte before the
		// padding and CRC (one filter, no optional sizes here).
		for i := size - 5; i > 1; i-- {
			if hdr[i] != 0 {
				return xzDictSize(hdr[i])
			}
		}
		return 0
	}
	orig := declared(comp)
	for _, max := range []int64{int64(len(data)), 1 << 40} {
		got, err := io.ReadAll(shrinkXZDict(bufio.NewReader(bytes.NewReader(comp)), max))
		if err != nil {
			t.Fatal(err)
		}
		d := declared(got)
		if max > int64(orig) {
			if !bytes.Equal(got, comp) {
				t.Errorf("max %d: stream changed although the declared %d fits", max, orig)
			}
		} else if d >= orig || d < uint64(max) || d > 2*uint64(max) {
			t.Errorf("max %d: declared dictionary %d, was %d", max, d, orig)
		}
		xr, err := xz.NewReader(bytes.NewReader(got), 0)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(xr)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("max %d: decoded %d bytes, err %v", max, len(out), err)
		}
	}
	// A bound below the real size: decoding fails (the window is too small
	// for some match) or still succeeds exactly; never wrong bytes.
	r := shrinkXZDict(bufio.NewReader(bytes.NewReader(comp)), 100)
	xr, err := xz.NewReader(r, 0)
	if err == nil {
		out, err := io.ReadAll(xr)
		if err == nil && !bytes.Equal(out, data) {
			t.Fatal("a lying bound produced wrong bytes without an error")
		}
	}
}

// TestDecodersReuse: packages extracted one after another through one
// Decoders give the same trees as with fresh decoders, whatever the
// compressor sequence.
func TestDecodersReuse(t *testing.T) {
	var rpms [][]byte
	for _, comp := range []string{"zstd", "gzip", "zstd", "xz", "zstd"} {
		b, err := rpmfixture.Build(rpmfixture.Spec{
			Name: "p-" + comp, Version: "1", Release: "1", Arch: "x86_64", Compressor: comp,
			Files: []rpmfixture.File{{Path: "/usr/share/" + comp, Mode: rpmfixture.ModeReg | 0o644, Data: bytes.Repeat([]byte(comp), 5000)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		rpms = append(rpms, b)
	}
	decs := &Decoders{}
	defer decs.Close()
	for i, b := range rpms {
		fresh, reused := fstree.New(), fstree.New()
		if _, err := Package(context.Background(), fresh, bytes.NewReader(b), Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := Package(context.Background(), reused, bytes.NewReader(b), Options{Decoders: decs}); err != nil {
			t.Fatalf("package %d with reused decoders: %v", i, err)
		}
		if fresh.Dump() != reused.Dump() {
			t.Errorf("package %d: reused decoders gave\n%s\nwant\n%s", i, reused.Dump(), fresh.Dump())
		}
	}
	// A corrupt stream through the shared decoder fails, and the next good
	// one still extracts.
	bad := append([]byte(nil), rpms[0]...)
	bad[len(bad)-20] ^= 0xff
	if _, err := Package(context.Background(), fstree.New(), bytes.NewReader(bad), Options{Decoders: decs}); err == nil {
		t.Fatal("corrupt zstd payload extracted")
	}
	if _, err := Package(context.Background(), fstree.New(), bytes.NewReader(rpms[2]), Options{Decoders: decs}); err != nil {
		t.Fatalf("after a corrupt stream: %v", err)
	}
}
