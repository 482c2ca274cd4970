// Package lockfile tells a live writer's temporary file from one a killed
// process left behind, for the image output and the repository cache.
//
// A writer holds an exclusive flock(2) on its temporary file until it has
// renamed it into place; the kernel drops the lock when the process ends,
// by any signal. A cleaner takes the same lock before removing: it gets it
// only for a dead writer's file. On a file system without flock the lock
// is skipped and cleaners fall back to the file's age (StaleAge).
package lockfile

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// StaleAge is how long an unlockable temporary file must have been left
// untouched before it is removed on a file system without flock(2).
const StaleAge = time.Hour

// Lock takes an exclusive, non-blocking lock on f, held until f is closed
// or the process ends. On a file system without locks it succeeds without
// one.
func Lock(f *os.File) error { return lock(f) }

// RemoveIfStale removes the temporary file or directory p unless its
// writer still holds its lock. The removal happens under the lock, so a
// writer that created p but has not locked it yet notices (StillNamed).
func RemoveIfStale(p string) error { return removeIfStale(p) }

// StillNamed reports whether f's name still leads to f: false when a
// cleaner removed it between its creation and its lock.
func StillNamed(f *os.File) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(f.Name())
	return err == nil && os.SameFile(a, b)
}

// removeIfOld removes p when it has not been modified for StaleAge.
func removeIfOld(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if time.Since(fi.ModTime()) < StaleAge {
		return nil
	}
	return os.RemoveAll(p)
}

// CreateTemp creates a file named prefix+random in dir and locks it.
// Between creating a file and locking it, a concurrent cleaner may take and
// remove it; then the lock fails, or the name no longer leads to the file
// (StillNamed), and another name is tried.
func CreateTemp(dir, prefix string) (*os.File, error) {
	for range 16 {
		f, err := os.CreateTemp(dir, prefix+"*")
		if err != nil {
			return nil, err
		}
		if Lock(f) == nil && StillNamed(f) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("could not lock a temporary file %s* in %s", prefix, filepath.Clean(dir))
}
