package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/smith-build/smith/fstree"
)

// The compression levels are part of the output format: changing them (or
// the compressor, klauspost/compress as pinned in go.mod, or the layer's
// gzipBlockSize) changes every digest smith produces.
//
// layerLevel: on the cat layer (2.2 MB of ELF), klauspost's level 4 takes
// 25 ms where 6 takes 34 ms, for 2.6% more bytes; compressing the layer was
// a third of a whole build's CPU.
const layerLevel = 4

// layoutLevel compresses the layout tar.gz around the blobs. Its bulk is
// the already compressed layer, so a higher level only costs time.
const layoutLevel = 1

// layerCompressor names the compressor and its version in LayerCacheKey:
// a new klauspost/compress may compress the same tar to other bytes, and a
// warm build must give the bytes a cold one would. A test checks it
// against go.mod.
const layerCompressor = "klauspost-compress-v1.20.5"

// LayerOptions are the parameters of a layer that do not come from the tree.
type LayerOptions struct {
	// ModTime is the mtime of every entry (SOURCE_DATE_EPOCH); the zero
	// value means the Unix epoch. It is truncated to whole seconds.
	ModTime time.Time
	// Cache, when set, keeps compressed layers between builds: Layer looks
	// up the key of the uncompressed tar (LayerCacheKey of its diffID) and
	// reuses the gzip bytes found there instead of compressing again; it
	// Puts what it compressed otherwise. nil means no cache.
	Cache LayerCache
	// Prepared, when set, holds blocks of files compressed ahead of time
	// (by content): Layer uses them instead of compressing those files.
	// The layer's bytes are the same with or without it.
	Prepared *Prepared
}

// LayerCache stores compressed layers by LayerCacheKey, with the sha256
// (hex) of the compressed bytes and the diffID recorded beside them. Get
// returns exactly what Put stored under key, or ok false: the cache checks
// its entries' integrity itself (a checksum is cheaper than hashing the
// layer again, a warm build's largest cost) and drops damaged ones. The
// layer keeps the slices passed to and returned by the cache: neither side
// may modify them afterwards.
type LayerCache interface {
	Get(key string) (gz []byte, digestHex, diffIDHex string, ok bool)
	Put(key string, gz []byte, digestHex, diffIDHex string)
}

// LayerCacheKey names the compressed layer of a tree by the tree's
// content key (hex): the sha256 of the layer tar with every file's data
// replaced by its sha256 (fstree.Inode.SHA256 when known, so that the key
// costs no pass over data that RPM headers already digest). Everything
// else that decides the compressed bytes (compressor and its version,
// level, block size, file segment size) is part of the name.
func LayerCacheKey(contentKeyHex string) string {
	return fmt.Sprintf("%s-gzip%d-b%d-s%d-%s", contentKeyHex, layerLevel, gzipBlockSize, gzipSegmentMin, layerCompressor)
}

// Layer writes the whole tree (except the root directory itself) as one
// gzip-compressed PAX tar layer and returns it with its digest and diffID
// computed. The compressed bytes are kept in memory. The gzip stream is
// compressed in parallel blocks (parallelGzip); its bytes do not depend on
// the number of CPUs.
func Layer(tree *fstree.Tree, opt LayerOptions) (v1.Layer, error) {
	mtime := fixedTime(opt.ModTime)
	var key, digest, diffID string
	var gz []byte
	if opt.Cache != nil {
		kh := sha256.New()
		if err := writeLayerTar(tree, mtime, kh, true); err != nil {
			return nil, fmt.Errorf("writing layer: %w", err)
		}
		key = LayerCacheKey(hex.EncodeToString(kh.Sum(nil)))
		gz, digest, diffID, _ = opt.Cache.Get(key)
	}
	if gz == nil {
		diff := sha256.New()
		var err error
		if gz, err = compressLayer(tree, mtime, diff, opt.Prepared); err != nil {
			return nil, err
		}
		diffID = hex.EncodeToString(diff.Sum(nil))
		sum := sha256.Sum256(gz)
		digest = hex.EncodeToString(sum[:])
		if opt.Cache != nil {
			opt.Cache.Put(key, gz, digest, diffID)
		}
	}
	return &memLayer{
		data:      gz,
		digest:    v1.Hash{Algorithm: "sha256", Hex: digest},
		diffID:    v1.Hash{Algorithm: "sha256", Hex: diffID},
		mediaType: types.OCILayer,
	}, nil
}

// compressLayer writes the layer tar through gzip (and into diff, when not
// nil) and returns the compressed bytes.
func compressLayer(tree *fstree.Tree, mtime time.Time, diff io.Writer, prepared *Prepared) ([]byte, error) {
	var compressed bytes.Buffer
	zw := newParallelGzip(&compressed, layerLevel, gzipBlockSize, gzipSegmentMin, prepared)
	var w io.Writer = zw
	if diff != nil {
		w = io.MultiWriter(zw, diff)
	}
	err := writeLayerTar(tree, mtime, layerSink{w, zw}, false)
	// Closed even after an error: it waits for the blocks in flight.
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing layer: %w", err)
	}
	return compressed.Bytes(), nil
}

// layerSink is the layer tar's way into gzip (and the diffID hash), with
// gzip told where file data starts.
type layerSink struct {
	io.Writer
	z *parallelGzip
}

// File tells gzip that a file's data comes next (parallelGzip.File).
func (s layerSink) File(data, sum []byte) { s.z.File(data, sum) }

// fileAnnouncer is a writer that wants to know where file data starts:
// writeLayerTar calls File right before writing a file's data.
type fileAnnouncer interface {
	File(data, sum []byte)
}

// writeLayerTar writes the whole tree (except the root directory itself)
// as a PAX tar to w. With contentKey, each file's data is replaced by its
// sha256 (and its size recorded in a PAX record, SMITH.size): the same
// headers, built by the same code, so that the content key covers every
// attribute of the layer.
func writeLayerTar(tree *fstree.Tree, mtime time.Time, w io.Writer, contentKey bool) error {
	tw := tar.NewWriter(w)
	first := map[*fstree.Inode]string{} // hardlink groups: inode -> first name
	err := tree.Walk("/", func(p string, n *fstree.Inode) error {
		if p == "/" {
			return nil
		}
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    int64(fstree.UnixMode(n.Mode)),
			Uid:     n.Owner.UID,
			Gid:     n.Owner.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		var data []byte
		switch n.Kind {
		case fstree.Dir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case fstree.Symlink:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = n.Target
		case fstree.File:
			if target, ok := first[n]; ok {
				// A later path of a hardlink group: the inode (content and
				// xattrs) was written with the first path.
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = target
				break
			}
			first[n] = hdr.Name
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(n.Data))
			data = n.Data
			if contentKey {
				data = n.SHA256
				if len(data) != sha256.Size {
					sum := sha256.Sum256(n.Data)
					data = sum[:]
				}
				hdr.Size = int64(len(data))
				hdr.PAXRecords = map[string]string{"SMITH.size": strconv.Itoa(len(n.Data))}
			}
		default:
			return fmt.Errorf("%s: unsupported inode kind %v", p, n.Kind)
		}
		if hdr.Typeflag != tar.TypeLink && len(n.Xattrs) > 0 {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = make(map[string]string, len(n.Xattrs))
			}
			// archive/tar writes PAX records sorted by key.
			for _, k := range sortedKeys(n.Xattrs) {
				hdr.PAXRecords["SCHILY.xattr."+k] = string(n.Xattrs[k])
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if fa, ok := w.(fileAnnouncer); ok && len(data) > 0 && !contentKey {
			// archive/tar writes a file's data straight through, after
			// its header and before any padding.
			fa.File(data, n.SHA256)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// fixedTime is the one mtime smith writes: t in whole seconds, the Unix
// epoch for the zero time.
func fixedTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.Truncate(time.Second).UTC()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// memLayer is a compressed layer held in memory with its hashes computed.
type memLayer struct {
	data           []byte
	digest, diffID v1.Hash
	mediaType      types.MediaType
}

func (l *memLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)                { return int64(len(l.data)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return hashedBytes{bytes.NewReader(l.data)}, nil
}

// hashedBytes reads bytes whose digest this process computed from them
// (a memLayer's): copyBlob need not hash them again.
type hashedBytes struct{ *bytes.Reader }

func (hashedBytes) Close() error { return nil }
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.data))
}
