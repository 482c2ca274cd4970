package extract_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
)

// BenchmarkExtract measures Package on real packages read from memory:
// dovecot (xz, 420 files), coreutils (zstd and gzip builds) and the lzma
// and bzip2 packages of the test bed. SetBytes is the .rpm size.
func BenchmarkExtract(b *testing.B) {
	for _, p := range []string{
		shared + "/real/rpms/distro/fedora/dovecot-2.2.9-1.fc20.x86_64.rpm",
		shared + "/distro/repo/Packages/c/coreutils-9.1-12.el9.x86_64.rpm",
		shared + "/distro/repo/Packages/c/coreutils-9.1-6.el9.x86_64.rpm",
		shared + "/distro/repo/Packages/o/openssl-libs-3.0.19-2.el9.x86_64.rpm",
		shared + "/distro/repo/Packages/l/libcrypt-2.17-317.el9.x86_64.rpm",
		shared + "/real/rpms/distro/opensuse/mc-4.8.15-10.3.1.x86_64.rpm",
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Skipf("test data not available: %v", err)
		}
		b.Run(filepath.Base(p), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := extract.Package(context.Background(), fstree.New(), bytes.NewReader(data), extract.Options{Name: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
