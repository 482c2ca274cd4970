package repo

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/smith-build/smith/internal/lockfile"
)

// Prefixes of the cache's temporary files.
const (
	tempDownload = ".download-"
	tempWrite    = ".tmp-"
)

// createLockedTemp creates a temporary file in dir named prefix+random and
// locks it: the lock is held on a second descriptor, until unlock is
// called (after the rename) or the process ends, by any signal, so that
// cleanStaleTemps can tell a live writer's file from a killed one's while
// the writer closes the file itself before renaming it. Between creating
// and locking, a concurrent cleanStaleTemps may remove the file; then
// another name is tried.
func createLockedTemp(dir, prefix string) (f *os.File, unlock func(), err error) {
	for range 16 {
		f, err := os.CreateTemp(dir, prefix+"*")
		if err != nil {
			return nil, nil, err
		}
		if l, err := os.Open(f.Name()); err == nil {
			if lockfile.Lock(l) == nil && lockfile.StillNamed(f) {
				return f, func() { l.Close() }, nil
			}
			l.Close()
		}
		f.Close()
	}
	f, err = os.CreateTemp(dir, prefix+"*")
	return f, func() {}, err
}

// tempSweeper removes, once, the temporary files that killed smith
// processes left in a cache: those no live writer holds locked (or,
// without flock, older than lockfile.StaleAge). One belongs to a build
// (a LoadAll call, or a lone Load) and is shared by its repositories'
// fetchers, so a build sweeps its cache once however many repositories it
// loads, and the next build in the same process sweeps again.
type tempSweeper struct {
	done atomic.Bool
}

// sweep cleans cacheDir the first time it is called; the repositories
// loaded concurrently do not wait for it. Errors are ignored: a leftover
// costs disk space, not correctness.
func (s *tempSweeper) sweep(cacheDir string) {
	if cacheDir == "" || s.done.Swap(true) {
		return
	}
	dirs := []string{filepath.Join(cacheDir, "meta"), filepath.Join(cacheDir, "index")}
	if types, err := os.ReadDir(filepath.Join(cacheDir, "blobs")); err == nil {
		for _, t := range types {
			if t.IsDir() {
				dirs = append(dirs, filepath.Join(cacheDir, "blobs", t.Name()))
			}
		}
	}
	for _, d := range dirs {
		cleanStaleTemps(d)
	}
}

// cleanStaleTemps removes the stale temporary files directly in dir.
func cleanStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !(strings.HasPrefix(n, tempDownload) || strings.HasPrefix(n, tempWrite)) {
			continue
		}
		if err := lockfile.RemoveIfStale(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}
