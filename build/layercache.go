package build

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smith-build/smith/image"
)

// layerCache keeps compressed layers in CACHE/layers/, one file per
// image.LayerCacheKey: the sha256 (hex) of the gzip bytes, the diffID and
// the bytes' CRC-32C on the first line, then the bytes. A warm build whose
// tree is unchanged then neither compresses nor hashes its layer: the key
// comes from the tar headers and the files' digests, which RPM headers
// provide. The CRC catches a damaged entry (reported, removed, written
// again) for a tenth of the cost of hashing the bytes again.
type layerCache struct {
	b     *builder
	dir   string
	now   time.Time
	sweep sync.Once
}

// layersDir is the cache's subdirectory.
const layersDir = "layers"

// newLayerCache returns nil without a cache directory.
func (b *builder) newLayerCache() image.LayerCache {
	if b.opt.CacheDir == "" {
		return nil
	}
	return &layerCache{b: b, dir: filepath.Join(b.opt.CacheDir, layersDir), now: b.now()}
}

func (c *layerCache) path(key string) string {
	return filepath.Join(c.dir, strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, key))
}

func (c *layerCache) Get(key string) ([]byte, string, string, bool) {
	data, err := os.ReadFile(c.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", "", false
	}
	if err != nil {
		c.bad(key, err)
		return nil, "", "", false
	}
	line, gz, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) != 3 || !isHexDigest(f[0]) || !isHexDigest(f[1]) {
		c.bad(key, errors.New("no digest line"))
		return nil, "", "", false
	}
	crc, err := strconv.ParseUint(f[2], 16, 32)
	if err != nil || crc32.Checksum(gz, crc32.MakeTable(crc32.Castagnoli)) != uint32(crc) {
		c.bad(key, errors.New("CRC-32C mismatch"))
		return nil, "", "", false
	}
	touchCacheEntry(c.path(key), c.now)
	return gz, f[0], f[1], true
}

// isHexDigest reports whether s is a sha256 in hex.
func isHexDigest(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64
}

// bad warns about a damaged entry and removes it.
func (c *layerCache) bad(key string, err error) {
	c.b.warnf("cached layer %s: %v; compressing it again", c.path(key), err)
	os.Remove(c.path(key))
}

// Put writes the entry in the background.
func (c *layerCache) Put(key string, gz []byte, digest, diffID string) {
	c.b.inBackground(func() {
		c.sweep.Do(func() { sweepCacheTemps(c.dir) })
		err := writeCacheFile(c.path(key), func(w io.Writer) error {
			if _, err := fmt.Fprintf(w, "%s %s %08x\n", digest, diffID, crc32.Checksum(gz, crc32.MakeTable(crc32.Castagnoli))); err != nil {
				return err
			}
			_, err := w.Write(gz)
			return err
		})
		if err != nil {
			c.b.warnf("caching the layer: %v", err)
		}
	})
}
