package build

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/smith-build/smith/internal/lockfile"
)

// Cache files that smith derives from packages and layers (expanded
// packages, compressed layers) are written like the repository cache's:
// into a locked temporary file beside the entry, renamed into place. They
// are not synced: each entry carries its own checksum, so one torn by a
// crash is detected, dropped and made again.

// cacheTempInfix marks the temporary files of cache entries.
const cacheTempInfix = ".smith-tmp-"

// writeCacheFile replaces path with what write produces, atomically.
func writeCacheFile(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := lockfile.CreateTemp(dir, "."+base+cacheTempInfix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// Unbuffered: entries are written in a few large pieces.
	if err := write(f); err != nil {
		return err
	}
	// Renamed while open, hence locked: a concurrent sweepCacheTemps must
	// not take it for a killed writer's file in between.
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return f.Close()
}

// sweepCacheTemps removes the temporary files in dir that killed smith
// processes left behind (no live writer holds their lock). Errors are
// ignored: a leftover costs disk space, not correctness.
func sweepCacheTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, ".") && strings.Contains(n, cacheTempInfix) {
			lockfile.RemoveIfStale(filepath.Join(dir, n))
		}
	}
}
