package build

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/smith-build/smith/image"
)

// Options.MaxSize (--max-size) bounds every decompressed metadata file and
// package payload, and the error says which file and how to raise it.
func TestMaxSize(t *testing.T) {
	t.Parallel()
	repoDir := testRepo(t)
	tests := []struct {
		name string
		max  int64
		err  string // regexp; "" for success
	}{
		{"metadata", 4 << 10,
			`^repo repo: [0-9a-f]{64}-primary\.xml\.gz: exceeds the size limit \(--max-size 4K\): decompresses to more than 4096 bytes$`},
		{"package payload", 1 << 20,
			`^extract [^ ]+\.el9\.x86_64: payload exceeds the size limit \(--max-size 1M\)`},
		{"large enough", 1 << 30, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := project(t, catYAML, map[string]string{})
			o := opts(t, dir, repoDir)
			o.MaxSize = tt.max
			_, err := Run(context.Background(), o)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("build: %v", err)
			case tt.err != "" && (err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error())):
				t.Fatalf("error %v, want %s", err, tt.err)
			}
		})
	}
}

// For a package: image, --max-size bounds its layers together.
func TestMaxSizeOCISource(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src.tar.gz")
	writeSource(t, sourceImage(t, "x86_64", srcEnv), src, image.FormatOCIArchive)
	dir := project(t, "package: "+src+"\n", map[string]string{})
	o := opts(t, dir)
	o.MaxSize = 1 << 10
	_, err := Run(context.Background(), o)
	if err == nil || !regexp.MustCompile(`\(--max-size 1K\)`).MatchString(err.Error()) {
		t.Fatalf("error %v, want the --max-size hint", err)
	}
	if _, err := os.Stat(o.Image); err == nil {
		t.Error("an image was written")
	}
	o.MaxSize = 1 << 30
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}
