// Package archtest holds the test that keeps smith's package dependencies
// pointing downward, as design.md lays them out.
package archtest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/smith-build/smith/"

// allowed lists, for each package, the project packages it may import.
// Anything not listed here may import nothing of ours.
var allowed = map[string][]string{
	"dep":       nil,
	"fstree":    nil,
	"sig":       nil,
	"repo":      {"dep", "sig", "internal/bytesize", "internal/lockfile", "internal/redact"},
	"solver":    {"dep", "repo"},
	"extract":   {"fstree", "internal/bytesize"},
	"elf":       {"fstree"},
	"image":     {"fstree", "internal/bytesize", "internal/lockfile", "internal/redact"},
	"build":     {"dep", "fstree", "repo", "solver", "extract", "elf", "image", "internal/lockfile", "internal/redact"},
	"cmd/smith": {"build", "dep", "fstree", "repo", "solver", "extract", "elf", "image", "sig", "internal/bytesize", "internal/redact"},
}

func TestDependenciesPointDown(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if strings.HasPrefix(pkg, "internal/") || pkg == "e2e" {
			continue // test helpers may use anything
		}
		ok := map[string]bool{}
		for _, a := range allowed[pkg] {
			ok[a] = true
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if !ok[dep] {
				t.Errorf("%s imports %s: dependencies must point downward (see design.md)", pkg, dep)
			}
		}
	}
}
