package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/smith-build/smith/fstree"
)

// The compression levels are part of the output format: changing them (or
// the compressor, klauspost/compress as pinned in go.mod) changes every
// digest smith produces.
//
// layerLevel: on the cat layer (2.2 MB of ELF), klauspost's level 4 takes
// 25 ms where 6 takes 34 ms, for 2.6% more bytes; compressing the layer was
// a third of a whole build's CPU.
const layerLevel = 4

// layoutLevel compresses the layout tar.gz around the blobs. Its bulk is
// the already compressed layer, so a higher level only costs time.
const layoutLevel = 1

// LayerOptions are the parameters of a layer that do not come from the tree.
type LayerOptions struct {
	// ModTime is the mtime of every entry (SOURCE_DATE_EPOCH); the zero
	// value means the Unix epoch. It is truncated to whole seconds.
	ModTime time.Time
}

// Layer writes the whole tree (except the root directory itself) as one
// gzip-compressed PAX tar layer and returns it with its digest and diffID
// computed. The compressed bytes are kept in memory.
func Layer(tree *fstree.Tree, opt LayerOptions) (v1.Layer, error) {
	mtime := fixedTime(opt.ModTime)
	var compressed bytes.Buffer
	zw, err := gzip.NewWriterLevel(&compressed, layerLevel)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diff))

	first := map[*fstree.Inode]string{} // hardlink groups: inode -> first name
	err = tree.Walk("/", func(p string, n *fstree.Inode) error {
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
		default:
			return fmt.Errorf("%s: unsupported inode kind %v", p, n.Kind)
		}
		if hdr.Typeflag != tar.TypeLink && len(n.Xattrs) > 0 {
			hdr.PAXRecords = make(map[string]string, len(n.Xattrs))
			// archive/tar writes PAX records sorted by key.
			for _, k := range sortedKeys(n.Xattrs) {
				hdr.PAXRecords["SCHILY.xattr."+k] = string(n.Xattrs[k])
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("writing layer: %w", err)
	}
	b := compressed.Bytes()
	sum := sha256.Sum256(b)
	return &memLayer{
		data:      b,
		digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		diffID:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))},
		mediaType: types.OCILayer,
	}, nil
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
	return io.NopCloser(bytes.NewReader(l.data)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.data))
}
