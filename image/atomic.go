package image

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/smith-build/smith/internal/lockfile"
)

// tempInfix marks smith's temporary files: ".<base>.smith-tmp-<random>".
const tempInfix = ".smith-tmp-"

func tempPrefix(base string) string { return "." + base + tempInfix }

// WriteFileAtomic replaces path with what write produces. The data goes to a
// temporary file beside path, named ".<base>.smith-tmp-<random>", which is
// synced and then renamed over path. If write fails or panics, or anything
// else fails, the temporary file is removed and path is left as it was. The
// new file keeps the permissions of the file it replaces, or gets 0644.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("write %s: not a file name", path)
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("write %s: not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	f, err := createLockedTemp(dir, base)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			// Runs on errors and while a panic unwinds.
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	// Rename while the file is still open, hence locked: a concurrent
	// CleanStaleTemps must not take it for a stale one in between.
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done = true
	if err := f.Close(); err != nil {
		return err
	}
	// Make the rename durable; not all systems can sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// CleanStaleTemps removes the temporary files that WriteFileAtomic (and
// the temporary directories that WriteOutput's oci-dir) left beside
// dir/base when a run was killed. It is safe while other processes write
// the same target: a writer holds an exclusive flock(2) on its temporary
// file (or directory) from creation until it is renamed into place, the
// kernel releases it when the writer dies, even by SIGKILL, and only
// unlocked ones are removed, under the lock. (Where flock is not
// available, only those untouched for an hour are removed.)
func CleanStaleTemps(dir, base string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !(e.Type().IsRegular() || e.IsDir()) || !strings.HasPrefix(e.Name(), tempPrefix(base)) {
			continue
		}
		if err := lockfile.RemoveIfStale(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// createLockedTemp creates and locks a temporary file beside dir/base,
// named ".<base>.smith-tmp-<random>".
func createLockedTemp(dir, base string) (*os.File, error) {
	f, err := lockfile.CreateTemp(dir, tempPrefix(base))
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", filepath.Join(dir, base), err)
	}
	return f, nil
}

// createLockedTempDir is createLockedTemp for a directory: it returns its
// path and the open, locked directory, to close once it is renamed.
func createLockedTempDir(dir, base string) (string, *os.File, error) {
	for range 16 {
		p, err := os.MkdirTemp(dir, tempPrefix(base)+"*")
		if err != nil {
			return "", nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			continue // removed by a concurrent CleanStaleTemps
		}
		if lockfile.Lock(f) == nil && lockfile.StillNamed(f) {
			return p, f, nil
		}
		f.Close()
	}
	return "", nil, fmt.Errorf("write %s: could not lock a temporary directory beside it", filepath.Join(dir, base))
}
