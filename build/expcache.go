package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/repo"
)

// expandedCache keeps the packages that builds extracted, decompressed
// (extract.Expanded), in CACHE/expanded/: a warm build applies them
// without decompressing again, which was most of its time (xz payloads
// decode at ~50 MB/s). An entry is named by the package's checksum and by
// what vouched for the package's bytes (repo.Index.PackageTrust), so one
// made without a signature check never serves a build that asks for one.
// Entries carry a CRC-32C; a damaged one is reported, removed and made
// again from the package. Local .rpm files are not cached.
type expandedCache struct {
	dir   string
	idx   *repo.Index
	now   time.Time
	sweep sync.Once
}

// expandedDir is the cache's subdirectory.
const expandedDir = "expanded"

// newExpandedCache returns nil without a cache directory.
func (b *builder) newExpandedCache(idx *repo.Index) *expandedCache {
	if b.opt.CacheDir == "" {
		return nil
	}
	return &expandedCache{dir: filepath.Join(b.opt.CacheDir, expandedDir), idx: idx, now: b.now()}
}

// path is the entry of p; ok is false for packages that are not cached.
func (c *expandedCache) path(p *repo.Package) (string, bool) {
	if c == nil {
		return "", false
	}
	trust, ok := c.idx.PackageTrust(p)
	if !ok {
		return "", false
	}
	h := sha256.New()
	for _, s := range []string{p.Checksum.Type, p.Checksum.Value, trust} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return filepath.Join(c.dir, hex.EncodeToString(h.Sum(nil))), true
}

// has reports whether p has an entry (not whether it is intact).
func (c *expandedCache) has(p *repo.Package) bool {
	file, ok := c.path(p)
	if !ok {
		return false
	}
	_, err := os.Stat(file)
	return err == nil
}

// load reads the entry at file: (nil, nil) when there is none.
func (c *expandedCache) load(file string) (*extract.Expanded, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e, err := extract.ParseExpanded(data)
	if err == nil {
		touchCacheEntry(file, c.now)
	}
	return e, err
}

// store writes e as the entry at file. The first store of a build also
// removes what killed builds left half-written.
func (c *expandedCache) store(file string, e *extract.Expanded) error {
	c.sweep.Do(func() { sweepCacheTemps(c.dir) })
	return writeCacheFile(file, func(w io.Writer) error {
		_, err := e.WriteTo(w)
		return err
	})
}
