package image

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/smith-build/smith/internal/lockfile"
)

// Output formats (--format).
const (
	// FormatOCIArchive is smith's output file and the default: a
	// gzip-compressed tar of an OCI image layout (skopeo: oci-archive:).
	FormatOCIArchive = "oci-archive"
	// FormatOCIDir is an OCI image layout directory (skopeo: oci:).
	FormatOCIDir = "oci-dir"
	// FormatDockerArchive is a docker save tarball, for docker load and
	// podman load (skopeo: docker-archive:).
	FormatDockerArchive = "docker-archive"
)

// Formats lists the output formats, the default first.
func Formats() []string { return []string{FormatOCIArchive, FormatOCIDir, FormatDockerArchive} }

// AnnotationImageName, on a Layout, names the image in a docker-archive
// (repository[:tag]); it is containerd's annotation for the same purpose.
const AnnotationImageName = "io.containerd.image.name"

// DefaultDockerName is the name of the image in a docker-archive when the
// Layout has no AnnotationImageName.
const DefaultDockerName = "smith:latest"

// WriteOutput writes l to path in format ("" is FormatOCIArchive),
// replacing what is there atomically: a failed write leaves it as it was.
// The bytes depend only on l and modTime:
//   - oci-archive: WriteLayoutTarGz;
//   - oci-dir: the same files in a directory (mtimes set to modTime); an
//     existing path must be an OCI layout directory (or empty) to be
//     replaced;
//   - docker-archive: a docker save tarball (go-containerregistry's
//     tarball.Write: manifest.json, the config, the layers as they are)
//     naming the image l.Annotations[AnnotationImageName] or
//     DefaultDockerName. Extras are not part of it.
func WriteOutput(path, format string, l Layout, modTime time.Time) error {
	var err error
	switch format {
	case "", FormatOCIArchive:
		err = WriteFileAtomic(path, func(w io.Writer) error { return WriteLayoutTarGz(w, l, modTime) })
	case FormatOCIDir:
		err = writeLayoutDir(path, l, modTime)
	case FormatDockerArchive:
		tag := l.Annotations[AnnotationImageName]
		if tag == "" {
			tag = DefaultDockerName
		}
		err = WriteFileAtomic(path, func(w io.Writer) error { return WriteDockerArchive(w, l.Image, tag) })
	default:
		return fmt.Errorf("output format %q: want one of %s", format, strings.Join(Formats(), ", "))
	}
	if err != nil {
		return fmt.Errorf("write %s (%s): %w", path, formatName(format), err)
	}
	return nil
}

func formatName(f string) string {
	if f == "" {
		return FormatOCIArchive
	}
	return f
}

// WriteDockerArchive writes img as a docker save tarball naming it tag
// ("repo[:tag]", the tag defaults to latest). Layer bytes are checked
// against their digests and sizes while they are copied.
func WriteDockerArchive(w io.Writer, img v1.Image, tag string) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("docker archive: image name: %w", err)
	}
	checked, err := verifiedImage(img)
	if err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	if err := tarball.Write(ref, checked, w); err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	return nil
}

// verifiedImage is img whose layers' Compressed streams fail at the end when
// the bytes do not match the manifest.
func verifiedImage(img v1.Image) (v1.Image, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if err := checkBlob(m.Config, rawConfig); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers, %d in the manifest", len(layers), len(m.Layers))
	}
	diffIDs := make([]v1.Hash, len(layers))
	checked := make([]v1.Layer, len(layers))
	for i, l := range layers {
		if diffIDs[i], err = l.DiffID(); err != nil {
			return nil, err
		}
		checked[i] = &checkedLayer{Layer: l, desc: m.Layers[i]}
	}
	return newImage(rawManifest, rawConfig, mt, checked, diffIDs)
}

type checkedLayer struct {
	v1.Layer
	desc v1.Descriptor
}

func (l *checkedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	h, err := v1.Hasher(l.desc.Digest.Algorithm)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &verifyReader{f: rc, d: l.desc, h: h, left: l.desc.Size}, nil
}

// writeLayoutDir writes l as an OCI layout directory at dir: into a
// temporary directory beside it, renamed into place when complete.
func writeLayoutDir(dir string, l Layout, modTime time.Time) error {
	emit, err := layoutFiles(l)
	if err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if fi, err := os.Lstat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", dir)
		}
		if !replaceableDir(dir) {
			return fmt.Errorf("%s exists and is not an OCI image layout: not replacing it", dir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, lock, err := createLockedTempDir(parent, base)
	if err != nil {
		return err
	}
	defer lock.Close()
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	mtime := fixedTime(modTime)
	sink := &dirSink{root: tmp, mtime: mtime}
	if err := emit(sink); err != nil {
		return err
	}
	// Directories last, once their contents are written.
	for i := len(sink.dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(sink.dirs[i], mtime, mtime); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}

	// A directory cannot be renamed over a non-empty one: move the old one
	// aside, put the new one in place, then delete the old one.
	var old string
	if _, err := os.Lstat(dir); err == nil {
		// Lock the previous layout before it gets a temporary name, so
		// that a concurrent CleanStaleTemps leaves it to us.
		if d, err := os.Open(dir); err == nil {
			_ = lockfile.Lock(d)
			defer d.Close()
		}
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return err
	}
	done = true
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing the previous layout: %w", err)
		}
	}
	_ = syncDir(parent)
	return nil
}

// replaceableDir reports whether dir is empty or an OCI image layout.
func replaceableDir(dir string) bool {
	es, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	if len(es) == 0 {
		return true
	}
	fi, err := os.Lstat(filepath.Join(dir, "oci-layout"))
	return err == nil && fi.Mode().IsRegular()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not every system syncs directories
	return nil
}

// dirSink writes a layout's files under root, each synced, mode 0644 (0755
// for directories) and mtime mtime.
type dirSink struct {
	root  string
	mtime time.Time
	dirs  []string
}

func (s *dirSink) path(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(strings.TrimSuffix(name, "/")))
}

func (s *dirSink) dir(name string) error {
	p := s.path(name)
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	s.dirs = append(s.dirs, p)
	return nil
}

func (s *dirSink) file(name string, data []byte) error {
	return s.write(name, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

func (s *dirSink) blob(name string, d v1.Descriptor, open func() (io.ReadCloser, error)) error {
	return s.write(name, func(f *os.File) error {
		return copyBlob(f, func(string, int64) error { return nil }, name, d, open)
	})
}

func (s *dirSink) write(name string, fill func(*os.File) error) error {
	p := s.path(name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil { // whatever the umask
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chtimes(p, s.mtime, s.mtime)
}
