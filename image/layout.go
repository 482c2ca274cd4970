package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// Media types and annotations of smith's output file.
const (
	MediaTypeSpec     = "application/vnd.smith.spec+json" // smith.yaml as JSON
	MediaTypePackages = "application/vnd.smith.packages"  // NEVRAs, one per line

	AnnotationRefName = "org.opencontainers.image.ref.name"
	AnnotationCreated = "org.opencontainers.image.created"
	AnnotationVersion = "com.oracle.smith.version"
	AnnotationSHA     = "com.oracle.smith.sha"
	AnnotationBuild   = "com.oracle.smith.build"

	// RefLatest is the ref.name of the image in smith's output.
	RefLatest = "latest"
)

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// Blob is a non-image entry of the layout index: a blob with its media type
// and descriptor annotations.
type Blob struct {
	MediaType   string
	Data        []byte
	Annotations map[string]string
}

// Layout is the content of smith's output file.
type Layout struct {
	Image v1.Image
	// Extras come first in index.json, in this order (smith writes the spec
	// blob, then the package list).
	Extras []Blob
	// Annotations go on the image manifest's descriptor in index.json.
	Annotations map[string]string
	// Platform goes on the image manifest's descriptor; nil means the
	// platform of the image config.
	Platform *v1.Platform
}

// WriteLayoutTarGz writes l as a gzip-compressed tar of an OCI image layout:
// oci-layout, index.json (the extras, then the image manifest) and
// blobs/sha256/ holding the config, layers, manifest and extras. Entries are
// sorted, every entry has mtime modTime (zero: the Unix epoch), owner 0:0 with
// no names and mode 0644 (files) or 0755 (directories). Layer bytes are
// checked against their digests and sizes while they are copied.
func WriteLayoutTarGz(w io.Writer, l Layout, modTime time.Time) error {
	emit, err := layoutFiles(l)
	if err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	zw, err := gzip.NewWriterLevel(w, layoutLevel)
	if err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	tw := tar.NewWriter(zw)
	if err := emit(&tarSink{tw: tw, mtime: fixedTime(modTime)}); err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	return nil
}

// layoutSink receives the files of an OCI image layout: directories before
// their contents, blobs in digest order, then index.json and oci-layout.
type layoutSink interface {
	dir(name string) error
	file(name string, data []byte) error
	// blob streams a layer, checking its size and digest against d.
	blob(name string, d v1.Descriptor, open func() (io.ReadCloser, error)) error
}

// layoutFiles prepares l for writing (everything but the layer bytes is
// computed and checked here) and returns the function that writes its
// files to a sink.
func layoutFiles(l Layout) (func(layoutSink) error, error) {
	if l.Image == nil {
		return nil, errors.New("no image")
	}
	type blob struct {
		desc v1.Descriptor
		data []byte                        // small blobs
		open func() (io.ReadCloser, error) // layers
	}
	blobs := map[v1.Hash]*blob{}
	add := func(b *blob) { blobs[b.desc.Digest] = b }

	var index []v1.Descriptor
	for i, e := range l.Extras {
		if e.MediaType == "" {
			return nil, fmt.Errorf("extra blob %d has no media type", i)
		}
		d := v1.Descriptor{
			MediaType:   types.MediaType(e.MediaType),
			Size:        int64(len(e.Data)),
			Digest:      sha256Hash(e.Data),
			Annotations: e.Annotations,
		}
		add(&blob{desc: d, data: e.Data})
		index = append(index, d)
	}

	img := l.Image
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if got := sha256Hash(rawConfig); got != m.Config.Digest || int64(len(rawConfig)) != m.Config.Size {
		return nil, fmt.Errorf("config is %s (%d bytes), manifest says %s (%d bytes)", got, len(rawConfig), m.Config.Digest, m.Config.Size)
	}
	add(&blob{desc: m.Config, data: rawConfig})
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	if len(layers) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers, %d in the manifest", len(layers), len(m.Layers))
	}
	for i, layer := range layers {
		add(&blob{desc: m.Layers[i], open: layer.Compressed})
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("manifest media type: %w", err)
	}
	platform := l.Platform
	if platform == nil {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}
	}
	md := v1.Descriptor{
		MediaType:   mt,
		Size:        int64(len(rawManifest)),
		Digest:      sha256Hash(rawManifest),
		Annotations: l.Annotations,
		Platform:    platform,
	}
	add(&blob{desc: md, data: rawManifest})
	index = append(index, md)

	rawIndex, err := marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     index,
	})
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}

	hashes := make([]v1.Hash, 0, len(blobs))
	for h := range blobs {
		if h.Algorithm != "sha256" {
			return nil, fmt.Errorf("blob %s: only sha256 digests are written", h)
		}
		hashes = append(hashes, h)
	}
	sort.Slice(hashes, func(i, j int) bool { return hashes[i].Hex < hashes[j].Hex })

	return func(sink layoutSink) error {
		if err := sink.dir("blobs/"); err != nil {
			return err
		}
		if err := sink.dir("blobs/sha256/"); err != nil {
			return err
		}
		for _, h := range hashes {
			b := blobs[h]
			name := "blobs/sha256/" + h.Hex
			var err error
			if b.open == nil {
				err = sink.file(name, b.data)
			} else {
				err = sink.blob(name, b.desc, b.open)
			}
			if err != nil {
				return fmt.Errorf("blob %s (%s): %w", h, b.desc.MediaType, err)
			}
		}
		if err := sink.file("index.json", rawIndex); err != nil {
			return err
		}
		return sink.file("oci-layout", []byte(ociLayoutFile))
	}, nil
}

// tarSink writes a layout into a tar: every entry with one mtime, owner 0:0
// without names, mode 0644 or 0755.
type tarSink struct {
	tw    *tar.Writer
	mtime time.Time
}

func (t *tarSink) header(name string, size int64) error {
	hdr := &tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: t.mtime, Format: tar.FormatPAX}
	if name[len(name)-1] == '/' {
		hdr.Mode, hdr.Typeflag = 0o755, tar.TypeDir
	}
	return t.tw.WriteHeader(hdr)
}

func (t *tarSink) dir(name string) error { return t.header(name, 0) }

func (t *tarSink) file(name string, data []byte) error {
	if err := t.header(name, int64(len(data))); err != nil {
		return err
	}
	_, err := t.tw.Write(data)
	return err
}

func (t *tarSink) blob(name string, d v1.Descriptor, open func() (io.ReadCloser, error)) error {
	return copyBlob(t.tw, t.header, name, d, open)
}

// copyBlob streams a layer into w (after header), checking its size and
// digest.
func copyBlob(w io.Writer, header func(string, int64) error, name string, d v1.Descriptor, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return err
	}
	if err := header(name, d.Size); err != nil {
		return err
	}
	hw := io.MultiWriter(w, h)
	if _, known := rc.(hashedBytes); known {
		hw = w
	}
	n, err := io.Copy(hw, io.LimitReader(rc, d.Size+1))
	if err != nil {
		if errors.Is(err, tar.ErrWriteTooLong) {
			return fmt.Errorf("layer is larger than its descriptor's %d bytes", d.Size)
		}
		return err
	}
	if n != d.Size {
		return fmt.Errorf("layer has %d bytes, its descriptor says %d", n, d.Size)
	}
	if hw == w {
		return nil
	}
	return checkSum(h, d.Digest)
}

func checkSum(h hash.Hash, want v1.Hash) error {
	got := fmt.Sprintf("%x", h.Sum(nil))
	if got != want.Hex {
		return &DigestError{Want: want, Got: v1.Hash{Algorithm: want.Algorithm, Hex: got}}
	}
	return nil
}

// DigestError reports a blob whose content does not match its digest.
type DigestError struct {
	Want, Got v1.Hash
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("digest mismatch: expected %s, content hashes to %s", e.Want, e.Got)
}
