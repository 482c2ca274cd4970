package repo

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// staleTempAge is how old an unlocked-or-unlockable temporary file of the
// cache must be before it is removed on a file system without flock(2).
const staleTempAge = time.Hour

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
			if lockFile(l) == nil && stillNamed(f) {
				return f, func() { l.Close() }, nil
			}
			l.Close()
		}
		f.Close()
	}
	f, err = os.CreateTemp(dir, prefix+"*")
	return f, func() {}, err
}

// stillNamed reports whether f's name still leads to f.
func stillNamed(f *os.File) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(f.Name())
	return err == nil && os.SameFile(a, b)
}

var cleanedCaches sync.Map // cache directory → struct{}

// cleanCacheTemps removes, once per process and cache directory, the
// temporary files that killed smith processes left in the cache: those no
// live writer holds locked (or, without flock, older than staleTempAge).
// Errors are ignored: a leftover costs disk space, not correctness.
func cleanCacheTemps(cacheDir string) {
	if cacheDir == "" {
		return
	}
	if _, done := cleanedCaches.LoadOrStore(cacheDir, struct{}{}); done {
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
		if err := removeIfStale(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}

func removeIfOld(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if time.Since(fi.ModTime()) < staleTempAge {
		return nil
	}
	return os.Remove(p)
}
