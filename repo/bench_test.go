package repo

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func benchLoad(b *testing.B, dir string, want int) {
	src := Source{ID: "bench", BaseURLs: []string{dir}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, err := Load(context.Background(), src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Packages) != want {
			b.Fatalf("%d packages, want %d", len(r.Packages), want)
		}
	}
}

// BenchmarkLoadCS9AppStream: repomd.xml, checksum, gunzip and parse of the
// CentOS Stream 9 AppStream primary.xml.gz (3.6 MB → 52 MB, 17,649
// packages).
func BenchmarkLoadCS9AppStream(b *testing.B) {
	benchLoad(b, sharedTestdata(b, "real", "repodata", "centos-stream-9-appstream-202501"), 17649)
}

func BenchmarkLoadCS9BaseOS(b *testing.B) {
	benchLoad(b, sharedTestdata(b, "real", "repodata", "centos-stream-9-baseos-20220207"), 1125)
}

func BenchmarkLoadDistro(b *testing.B) {
	benchLoad(b, sharedTestdata(b, "distro", "repo"), 42)
}

func BenchmarkLoadDistroZstd(b *testing.B) {
	benchLoad(b, sharedTestdata(b, "distro", "repo-zstd"), 42)
}

// BenchmarkParsePrimaryCS9AppStream is the parser alone, on the
// decompressed document in memory.
func BenchmarkParsePrimaryCS9AppStream(b *testing.B) {
	dir := sharedTestdata(b, "real", "repodata", "centos-stream-9-appstream-202501", "repodata")
	files, _ := filepath.Glob(filepath.Join(dir, "*-primary.xml.gz"))
	f, err := os.Open(files[0])
	if err != nil {
		b.Fatal(err)
	}
	dr, _ := decompressor(f, "primary.xml.gz", DefaultMaxMetadataSize)
	data, err := io.ReadAll(dr)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := parsePrimary(bytes.NewReader(data), "primary.xml", "r"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileProvidersCS9BaseOS loads the repository and answers the
// first file query, which reads filelists.xml (612 KB gz).
func BenchmarkFileProvidersCS9BaseOS(b *testing.B) {
	dir := sharedTestdata(b, "real", "repodata", "centos-stream-9-baseos-20220207")
	r, err := Load(context.Background(), Source{ID: "bench", BaseURLs: []string{dir}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.files, r.filesErr = nil, nil
		ps, err := r.FileProviders(context.Background(), "/usr/bin/bash")
		if err != nil || len(ps) != 1 {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadRPMFile(b *testing.B) {
	path := filepath.Join(sharedTestdata(b, "real", "rpms", "distro", "fedora"), "dovecot-2.2.9-1.fc20.x86_64.rpm")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := LoadRPMFile(path); err != nil {
			b.Fatal(err)
		}
	}
}
