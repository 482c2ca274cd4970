package repo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWriteFuzzSeeds writes the committed real-* seeds of the repo fuzz
// targets (testdata/fuzz/<Target>/real-*) from the shared test data: the
// first packages of real primary and filelists documents, closed again,
// and whole small repomd.xml and metalink files. The fuzzers then start
// from real documents on machines without ../shared. It runs only with
// SMITH_WRITE_SEEDS=1 (go test -run TestWriteFuzzSeeds ./repo).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SMITH_WRITE_SEEDS") != "1" {
		t.Skip("writes testdata/fuzz seeds: set SMITH_WRITE_SEEDS=1")
	}
	shared := filepath.Join("..", "..", "shared", "testdata")
	read := func(rel string) []byte {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(shared, rel))
		if len(files) != 1 {
			t.Fatalf("%s: %d matches in %s", rel, len(files), shared)
		}
		fh, err := os.Open(files[0])
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		dr, err := decompressor(fh, filepath.Base(files[0]), 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(dr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// firstPackages keeps the document up to the end of its n-th package
	// and closes the root element.
	firstPackages := func(doc []byte, n int, root string) []byte {
		end := 0
		for range n {
			i := bytes.Index(doc[end:], []byte("</package>"))
			if i < 0 {
				t.Fatalf("fewer than %d packages", n)
			}
			end += i + len("</package>")
		}
		return append(append([]byte(nil), doc[:end]...), "\n</"+root+">\n"...)
	}
	seeds := map[string][]byte{
		"FuzzParsePrimary/real-distro-primary":     firstPackages(read("distro/repo/repodata/*-primary.xml.gz"), 3, "metadata"),
		"FuzzParseFilelists/real-distro-filelists": firstPackages(read("distro/repo/repodata/*-filelists.xml.gz"), 3, "filelists"),
		"FuzzParseRepomd/real-distro-repomd":       read("distro/repo/repodata/repomd.xml"),
		"FuzzParseMetalink/real-fedora32-metalink": read("real/repodata/fedora-32-repomd-metalink/metalink.xml"),
	}
	for name, b := range seeds {
		p := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", p, len(b))
	}
}
