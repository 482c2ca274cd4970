package build

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// Entries of the derived caches (expanded/, layers/) that no build has
// used for cacheUnusedFor are removed, at most once per cacheSweepEvery,
// at the end of a build: a cache directory shared by CI runs would
// otherwise grow without end. A build that uses an entry
// marks it (its mtime) at most once per cacheTouchEvery, so that warm
// builds cost no extra write.
const (
	cacheUnusedFor  = 30 * 24 * time.Hour
	cacheSweepEvery = 24 * time.Hour
	cacheTouchEvery = 24 * time.Hour
	// cacheSweptMarker is the file whose mtime says when dir was last
	// pruned.
	cacheSweptMarker = ".pruned"
)

// now is the build's clock (RepoOptions.Now), time.Now by default.
func (b *builder) now() time.Time {
	if b.opt.Repo.Now != nil {
		return b.opt.Repo.Now()
	}
	return time.Now()
}

// touchCacheEntry marks the entry at file as used now.
func touchCacheEntry(file string, now time.Time) {
	if fi, err := os.Stat(file); err == nil && now.Sub(fi.ModTime()) > cacheTouchEvery {
		os.Chtimes(file, now, now)
	}
}

// pruneCache removes the entries of dir unused for cacheUnusedFor, unless
// dir was pruned within cacheSweepEvery. Errors are ignored: a leftover
// costs disk space, not correctness.
func pruneCache(dir string, now time.Time) {
	marker := filepath.Join(dir, cacheSweptMarker)
	if fi, err := os.Stat(marker); err == nil && now.Sub(fi.ModTime()) < cacheSweepEvery {
		return
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return
	}
	os.Chtimes(marker, now, now)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > cacheUnusedFor {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// pruneCaches prunes the derived caches, in the background.
func (b *builder) pruneCaches() {
	if b.opt.CacheDir == "" {
		return
	}
	now := b.now()
	b.inBackground(func() {
		for _, d := range []string{expandedDir, layersDir} {
			pruneCache(filepath.Join(b.opt.CacheDir, d), now)
		}
	})
}
