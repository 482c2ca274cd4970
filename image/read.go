package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Bounds on what a layout may make us read.
const (
	// maxLayoutBytes bounds the uncompressed tar stream of a layout file
	// (its blobs are held in memory).
	maxLayoutBytes = 8 << 30
	// maxMetaBytes bounds index.json, oci-layout, manifests, configs and
	// extra blobs.
	maxMetaBytes = 64 << 20
	// maxEntries bounds the number of tar entries.
	maxEntries = 1 << 20
)

// ReadLayout is an image layout read back: the Layout it would be written
// from, plus the image manifest's descriptor as found in index.json.
type ReadLayout struct {
	Layout
	Descriptor v1.Descriptor
}

// ReadLayoutTarGz reads a layout written by WriteLayoutTarGz (or any tar of
// an OCI image layout, gzip-compressed or not). Every blob in the file is
// verified against its name and every blob used against its descriptor's
// size. The image is the manifest annotated with ref.name "latest", or the
// only image in the index; every other index entry is returned in Extras.
// The whole layout is held in memory.
func ReadLayoutTarGz(path string) (*ReadLayout, error) {
	l, err := readLayoutTarFile(path, nil, "")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return l, nil
}

// readLayoutTarFile reads a layout file; a non-nil platform chooses the
// image from a multi-platform layout, a tag the image by name (see
// assemble).
func readLayoutTarFile(path string, platform *v1.Platform, tag string) (*ReadLayout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLayoutTar(f, platform, tag)
}

// ReadLayoutDir reads an OCI image layout directory, as ReadLayoutTarGz
// does. Blobs referenced by the chosen image are verified now; layers stay
// on disk and are verified again as they are read.
func ReadLayoutDir(dir string) (*ReadLayout, error) {
	l, err := readLayoutDir(dir, nil, "")
	if err != nil {
		return nil, fmt.Errorf("reading layout %s: %w", dir, err)
	}
	return l, nil
}

// readLayoutDir is ReadLayoutDir with the choices of readLayoutTarFile. Its
// errors do not name dir: the caller does.
func readLayoutDir(dir string, platform *v1.Platform, tag string) (*ReadLayout, error) {
	s := &dirStore{dir: dir}
	rawLayout, err := s.readFile("oci-layout", maxMetaBytes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	rawIndex, err := s.readFile("index.json", maxMetaBytes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return assemble(s, rawLayout, rawIndex, platform, tag)
}

func readLayoutTar(r io.Reader, platform *v1.Platform, tag string) (*ReadLayout, error) {
	in := &byteCounter{r: r}
	br := bufio.NewReader(in)
	bounded := &boundedReader{r: br, left: maxLayoutBytes}
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		bounded.r, bounded.compressed = zr, in
	}
	tr := tar.NewReader(bounded)
	s := &memStore{blobs: map[v1.Hash][]byte{}}
	var rawLayout, rawIndex []byte
	budget := int64(maxLayoutBytes)
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		if entries >= maxEntries {
			return nil, fmt.Errorf("more than %d tar entries", maxEntries)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		var dst *[]byte
		var h v1.Hash
		switch {
		case name == "oci-layout":
			dst = &rawLayout
		case name == "index.json":
			dst = &rawIndex
		case strings.HasPrefix(name, "blobs/"):
			algo, hex, ok := strings.Cut(strings.TrimPrefix(name, "blobs/"), "/")
			if !ok || strings.Contains(hex, "/") {
				continue
			}
			if h, err = v1.NewHash(algo + ":" + hex); err != nil {
				continue // not a blob any descriptor can name
			}
		default:
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%s: tar entry type %q, want a regular file", name, hdr.Typeflag)
		}
		if dst != nil {
			if *dst != nil {
				return nil, fmt.Errorf("%s: duplicate tar entry", name)
			}
			b, err := readAtMost(tr, maxMetaBytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			*dst = b
			continue
		}
		if _, dup := s.blobs[h]; dup {
			return nil, fmt.Errorf("blob %s: duplicate tar entry", h)
		}
		b, err := readAtMost(tr, budget)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", h, err)
		}
		budget -= int64(len(b))
		hasher, _ := v1.Hasher(h.Algorithm) // NewHash accepted the algorithm
		hasher.Write(b)
		if err := checkSum(hasher, h); err != nil {
			return nil, fmt.Errorf("blob %s: %w", h, err)
		}
		s.blobs[h] = b
	}
	l, err := assemble(s, rawLayout, rawIndex, platform, tag)
	if err != nil {
		return nil, err
	}
	// Only the layers are read later; let the rest go.
	keep := map[v1.Hash]bool{}
	if m, err := l.Image.Manifest(); err == nil {
		for _, d := range m.Layers {
			keep[d.Digest] = true
		}
	}
	for h := range s.blobs {
		if !keep[h] {
			delete(s.blobs, h)
		}
	}
	return l, nil
}

// assemble finds the image in a layout's index and builds it from s. With a
// platform, a layout holding several platforms (at the top or in a nested
// index) yields that platform's image; without one it is an error.
//
// Without a tag the image is the one named "latest", or the only one
// (pickImage). With one, it is the entry whose ref.name the tag selects
// (pickByTag: equal to it, else "NAME:tag"), chosen by platform when
// several carry that name; "latest" in a layout whose images have no
// names at all chooses as no tag does.
func assemble(s blobStore, rawLayout, rawIndex []byte, platform *v1.Platform, tag string) (*ReadLayout, error) {
	if rawLayout == nil {
		return nil, errors.New("not an OCI image layout: no oci-layout file")
	}
	var lf struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(rawLayout, &lf); err != nil {
		return nil, fmt.Errorf("oci-layout: %w", err)
	}
	if !strings.HasPrefix(lf.Version, "1.") {
		return nil, fmt.Errorf("oci-layout: unsupported imageLayoutVersion %q", lf.Version)
	}
	if rawIndex == nil {
		return nil, errors.New("not an OCI image layout: no index.json")
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(rawIndex))
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	pick, err := pickEntry(idx.Manifests, platform, tag)
	if err != nil {
		return nil, err
	}
	desc := idx.Manifests[pick]
	l := &ReadLayout{Descriptor: desc}
	l.Annotations = desc.Annotations
	l.Platform = desc.Platform

	md := desc
	if desc.MediaType.IsIndex() {
		raw, err := s.get(desc, maxMetaBytes)
		if err != nil {
			return nil, err
		}
		inner, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("image index %s: %w", desc.Digest, err)
		}
		if platform != nil {
			var i int
			if i, err = matchPlatform(inner.Manifests, *platform); err == nil {
				md = inner.Manifests[i]
			}
		} else {
			md, err = singleImage(inner.Manifests)
		}
		if err != nil {
			return nil, fmt.Errorf("image index %s: %w", desc.Digest, err)
		}
		if md.Platform != nil {
			l.Platform = md.Platform
		}
	}
	if l.Image, err = readImage(s, md); err != nil {
		return nil, err
	}

	for i, d := range idx.Manifests {
		if i == pick {
			continue
		}
		data, err := s.get(d, maxMetaBytes)
		if err != nil {
			return nil, err
		}
		l.Extras = append(l.Extras, Blob{MediaType: string(d.MediaType), Data: data, Annotations: d.Annotations})
	}
	return l, nil
}

// pickEntry chooses the entry of index.json that is the image (see
// assemble).
func pickEntry(ds []v1.Descriptor, platform *v1.Platform, tag string) (int, error) {
	if names, _ := refNames(ds); tag != "" && !unnamedLatest(tag, names) {
		return pickByTag(ds, tag, platform)
	}
	pick, err := pickImage(ds)
	if err != nil && platform != nil && len(ds) > 1 {
		// Several images and none named latest: a multi-platform layout.
		var images []v1.Descriptor
		var pos []int
		for i, d := range ds {
			if d.MediaType.IsImage() || d.MediaType.IsIndex() {
				images = append(images, d)
				pos = append(pos, i)
			}
		}
		if i, perr := matchPlatform(images, *platform); perr == nil {
			pick, err = pos[i], nil
		} else if hasPlatforms(images) {
			err = perr
		}
	}
	if err != nil {
		return 0, fmt.Errorf("index.json: %w", err)
	}
	return pick, nil
}

// pickImage chooses the image by its ref.name "latest", or the only image
// (or image index) when none has that name. Never by position.
func pickImage(ds []v1.Descriptor) (int, error) {
	var named, images []int
	for i, d := range ds {
		if d.Annotations[AnnotationRefName] == RefLatest {
			named = append(named, i)
		}
		if d.MediaType.IsImage() || d.MediaType.IsIndex() {
			images = append(images, i)
		}
	}
	switch {
	case len(named) == 1:
		if d := ds[named[0]]; !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			return 0, fmt.Errorf("the entry named %q has media type %q, not an image", RefLatest, d.MediaType)
		}
		return named[0], nil
	case len(named) > 1:
		return 0, fmt.Errorf("%d entries are named %q", len(named), RefLatest)
	case len(images) == 1:
		return images[0], nil
	case len(images) == 0:
		return 0, errors.New("no image manifest")
	}
	return 0, fmt.Errorf("%d images and none is named %q", len(images), RefLatest)
}

// singleImage picks the one image of a nested index, ignoring attestation
// manifests (platform unknown/unknown).
func singleImage(ds []v1.Descriptor) (v1.Descriptor, error) {
	var found []v1.Descriptor
	var names []string
	for _, d := range ds {
		if !d.MediaType.IsImage() || (d.Platform != nil && d.Platform.OS == "unknown") {
			continue
		}
		found = append(found, d)
		if d.Platform != nil {
			names = append(names, d.Platform.String())
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return v1.Descriptor{}, errors.New("no image manifest")
	}
	return v1.Descriptor{}, fmt.Errorf("%d platforms (%s): the layout must hold a single platform", len(found), strings.Join(names, ", "))
}

func readImage(s blobStore, d v1.Descriptor) (v1.Image, error) {
	raw, err := s.get(d, maxMetaBytes)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = d.MediaType
	}
	if !mt.IsImage() {
		return nil, fmt.Errorf("manifest %s: media type %q is not an image manifest", d.Digest, mt)
	}
	if err := checkConfigType(d.Digest, m); err != nil {
		return nil, err
	}
	rawConfig, err := s.get(m.Config, maxMetaBytes)
	if err != nil {
		return nil, err
	}
	diffIDs, err := configDiffIDs(d.Digest, m, rawConfig)
	if err != nil {
		return nil, err
	}
	layers := make([]v1.Layer, len(m.Layers))
	for i, ld := range m.Layers {
		if err := s.verify(ld); err != nil {
			return nil, err
		}
		layers[i] = &blobLayer{store: s, desc: ld, diffID: diffIDs[i]}
	}
	i, err := newImage(raw, rawConfig, mt, layers, diffIDs)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	return i, nil
}

// checkConfigType checks that manifest d names an image config.
func checkConfigType(d v1.Hash, m *v1.Manifest) error {
	if !m.Config.MediaType.IsConfig() {
		return fmt.Errorf("manifest %s: config media type %q is not an image config", d, m.Config.MediaType)
	}
	return nil
}

// configDiffIDs returns the diff_ids of rawConfig, the config of manifest
// d: a JSON object with one per layer of m.
func configDiffIDs(d v1.Hash, m *v1.Manifest, rawConfig []byte) ([]v1.Hash, error) {
	var cf *struct {
		RootFS v1.RootFS `json:"rootfs"`
	}
	if err := json.Unmarshal(rawConfig, &cf); err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if cf == nil {
		return nil, fmt.Errorf("config %s: not a JSON object", m.Config.Digest)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest %s: %d layers but the config has %d diff_ids", d, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	return cf.RootFS.DiffIDs, nil
}

// blobStore is where a layout's blobs are. Every method checks the blob
// against the descriptor (size and digest) and names the blob in its errors.
type blobStore interface {
	// get returns the bytes of a blob of at most limit bytes.
	get(d v1.Descriptor, limit int64) ([]byte, error)
	// verify checks that the blob is present and matches d.
	verify(d v1.Descriptor) error
	// open streams the blob; the stream fails if the content does not match.
	open(d v1.Descriptor) (io.ReadCloser, error)
}

func blobErr(d v1.Descriptor, err error) error {
	return fmt.Errorf("blob %s (%s): %w", d.Digest, d.MediaType, err)
}

type memStore struct {
	blobs map[v1.Hash][]byte // verified against their names when read
}

func (s *memStore) lookup(d v1.Descriptor) ([]byte, error) {
	b, ok := s.blobs[d.Digest]
	if !ok {
		return nil, blobErr(d, errors.New("missing from the layout"))
	}
	if int64(len(b)) != d.Size {
		return nil, blobErr(d, fmt.Errorf("size %d, descriptor says %d", len(b), d.Size))
	}
	return b, nil
}

func (s *memStore) get(d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, blobErr(d, fmt.Errorf("size %d exceeds the limit of %d bytes", d.Size, limit))
	}
	return s.lookup(d)
}

func (s *memStore) verify(d v1.Descriptor) error {
	_, err := s.lookup(d)
	return err
}

func (s *memStore) open(d v1.Descriptor) (io.ReadCloser, error) {
	b, err := s.lookup(d)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// dirStore reads blobs from a layout directory, confined to it (os.Root).
type dirStore struct {
	dir string
}

func (s *dirStore) openFile(name string) (*os.File, error) {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(name)
}

func (s *dirStore) readFile(name string, limit int64) ([]byte, error) {
	f, err := s.openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := readAtMost(f, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

func (s *dirStore) open(d v1.Descriptor) (io.ReadCloser, error) {
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return nil, blobErr(d, err)
	}
	f, err := s.openFile(path.Join("blobs", d.Digest.Algorithm, d.Digest.Hex))
	if err != nil {
		return nil, blobErr(d, err)
	}
	return &verifyReader{f: f, d: d, h: h, left: d.Size}, nil
}

func (s *dirStore) get(d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, blobErr(d, fmt.Errorf("size %d exceeds the limit of %d bytes", d.Size, limit))
	}
	rc, err := s.open(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (s *dirStore) verify(d v1.Descriptor) error {
	rc, err := s.open(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// verifyReader streams a blob and turns EOF into an error when the size or
// digest is wrong.
type verifyReader struct {
	f    io.ReadCloser
	d    v1.Descriptor
	h    hash.Hash
	left int64
}

func (r *verifyReader) Read(p []byte) (int, error) {
	if int64(len(p)) > r.left+1 {
		p = p[:r.left+1]
	}
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	r.left -= int64(n)
	if r.left < 0 {
		return n, blobErr(r.d, fmt.Errorf("larger than the descriptor's %d bytes", r.d.Size))
	}
	if err == io.EOF {
		if r.left > 0 {
			return n, blobErr(r.d, fmt.Errorf("%d bytes, descriptor says %d", r.d.Size-r.left, r.d.Size))
		}
		if got := fmt.Sprintf("%x", r.h.Sum(nil)); got != r.d.Digest.Hex {
			return n, blobErr(r.d, &DigestError{Want: r.d.Digest, Got: v1.Hash{Algorithm: r.d.Digest.Algorithm, Hex: got}})
		}
	}
	return n, err
}

func (r *verifyReader) Close() error { return r.f.Close() }

// blobLayer is a layer of a layout, with the DiffID its config gives.
type blobLayer struct {
	store  blobStore
	desc   v1.Descriptor
	diffID v1.Hash
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.store.open(l.desc) }

// Uncompressed decompresses by the content's magic bytes, as
// go-containerregistry does: media types are often wrong about compression.
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(rc)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, blobErr(l.desc, err)
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			rc.Close()
			return nil, blobErr(l.desc, err)
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, nil
	}
	return &readCloser{Reader: br, close: rc.Close}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// readAtMost reads r to the end, failing beyond limit bytes. Memory grows
// with the data actually read, not with a size a header claims.
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than the limit of %d bytes", limit)
	}
	return b, nil
}

// A gzip-compressed layout holds compressed layers, so its outer gzip
// barely shrinks it (smith's own: 1.0x). Past bombFloor uncompressed bytes,
// one that has expanded more than bombRatio times is refused as a
// decompression bomb before it fills memory with blobs.
const (
	bombFloor = 64 << 20
	bombRatio = 100
)

// boundedReader fails once more than left bytes have been read, or, for a
// compressed stream, once it expands past bombRatio, so that a
// decompression bomb stops early.
type boundedReader struct {
	r          io.Reader
	left       int64
	read       int64
	compressed *byteCounter // the compressed input, nil when not compressed
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("layout larger than %d bytes uncompressed", int64(maxLayoutBytes))
	}
	if b.compressed != nil && b.read > bombFloor && b.read/bombRatio > b.compressed.n {
		return 0, fmt.Errorf("gzip stream expands more than %d times (%d bytes from %d): a decompression bomb? (gunzip a genuine layout first)",
			bombRatio, b.read, b.compressed.n)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.read += int64(n)
	return n, err
}

// byteCounter counts the bytes read through it.
type byteCounter struct {
	r io.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
