package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecompressorSniffs(t *testing.T) {
	doc := fixturePrimary
	for _, comp := range []string{"plain", "gzip", "xz", "zstd", "bzip2"} {
		data, ext := compressFixture(t, comp, doc)
		// The right extension, a wrong one and none: the bytes decide.
		for _, name := range []string{"primary.xml" + ext, "primary.xml.gz", "primary.xml"} {
			dr, err := decompressor(bytes.NewReader(data), name, 1<<20)
			if err != nil {
				t.Fatalf("%s as %s: %v", comp, name, err)
			}
			got, err := io.ReadAll(dr)
			if err != nil || string(got) != doc {
				t.Fatalf("%s as %s: %v", comp, name, err)
			}
		}
	}
	if _, err := decompressor(strings.NewReader("\x00ZCK1rest"), "primary.xml.zck", 1<<20); err == nil || !strings.Contains(err.Error(), "zchunk") {
		t.Fatalf("zchunk: %v", err)
	}
	dr, _ := decompressor(strings.NewReader(doc), "p.xml", int64(len(doc)))
	if _, err := io.ReadAll(dr); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	dr, _ = decompressor(strings.NewReader(doc), "p.xml", int64(len(doc)-1))
	if _, err := io.ReadAll(dr); err == nil || err.Error() != fmt.Sprintf("exceeds the size limit (--max-size %d): decompresses to more than %d bytes", len(doc)-1, len(doc)-1) {
		t.Fatalf("over the limit: %v", err)
	}
	gz, _ := compressFixture(t, "gzip", doc)
	dr, _ = decompressor(bytes.NewReader(gz[:len(gz)/2]), "p.xml.gz", 1<<20)
	if _, err := io.ReadAll(dr); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated gzip: %v", err)
	}
}

func TestReadAhead(t *testing.T) {
	data := make([]byte, 3*readAheadSize+12345)
	rand.New(rand.NewSource(1)).Read(data)
	ra := newReadAhead(iotest.HalfReader(bytes.NewReader(data)))
	got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(ra, 100)))
	if err != nil || !bytes.Equal(got, data[:100]) {
		t.Fatal("first bytes differ", err)
	}
	rest, err := io.ReadAll(ra)
	if err != nil || !bytes.Equal(append(got, rest...), data) {
		t.Fatal("data differs", err)
	}
	ra.Close()

	// Errors come through after the data before them.
	boom := errors.New("boom")
	ra = newReadAhead(io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(boom)))
	got, err = io.ReadAll(ra)
	if !errors.Is(err, boom) || !bytes.Equal(got, data[:1000]) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	ra.Close()

	// Closing early stops the goroutine even though the reader has more.
	ra = newReadAhead(bytes.NewReader(data))
	ra.Read(make([]byte, 10))
	ra.Close()
	ra.Close()
}
