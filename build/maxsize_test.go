package build

import (
	"context"
	"regexp"
	"testing"
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
