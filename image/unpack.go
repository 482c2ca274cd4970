package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/smith-build/smith/fstree"

	"github.com/smith-build/smith/internal/bytesize"
)

// Bounds on what Unpack reads.
const (
	// maxUnpackBytes bounds the uncompressed bytes of all layers of one
	// image (the tree is in memory).
	maxUnpackBytes = 8 << 30
	// maxUnpackEntries bounds the tar entries of all layers of one image.
	maxUnpackEntries = 4 << 20
)

// Whiteout markers (OCI image spec, "Representing Changes").
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
	// Other names with this prefix are AUFS bookkeeping: ignored.
	whiteoutMeta = ".wh..wh."
)

// LayerError reports a layer that cannot be applied. Entry is the tar entry
// at fault, empty when the layer as a whole is.
type LayerError struct {
	Layer v1.Hash // the layer's digest
	Index int     // 0-based position in the image
	Entry string
	Err   error
}

func (e *LayerError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("layer %d (%s): %v", e.Index+1, e.Layer, e.Err)
	}
	return fmt.Sprintf("layer %d (%s): entry %q: %v", e.Index+1, e.Layer, e.Entry, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// ErrUnsafeName reports a tar entry (or hardlink target) named with an
// absolute path or a ".." component.
var ErrUnsafeName = errors.New("unsafe name: absolute or with a .. component")

// Unpack applies the layers of img, in order, to tree, as a container
// runtime would:
//   - in each layer, the whiteouts (".wh.NAME" deletes NAME, ".wh..wh..opq"
//     empties its directory) apply to the lower layers first, then the
//     entries are added in tar order; an entry replaces what is at its path
//     unless both are directories (then the mode, owner and xattrs change);
//   - hardlinks ("TypeLink") become fstree hardlinks to the earlier inode;
//     symlinks are kept verbatim, and resolved inside the tree only: writing
//     through a symlink that leads out of the tree fails (fstree.ErrEscape);
//   - names that are absolute or have a ".." component fail with
//     ErrUnsafeName; modes (with setuid/setgid/sticky), numeric owners and
//     xattrs (PAX SCHILY.xattr.*) are kept; device nodes and FIFOs, which an
//     unprivileged tree cannot hold, are skipped;
//   - each layer's uncompressed content is checked against its DiffID, and
//     the total size is bounded.
//
// Errors are *LayerError values naming the layer's digest and the entry.
// On error the tree holds the layers applied so far.
func Unpack(ctx context.Context, img v1.Image, tree *fstree.Tree) error {
	return UnpackWith(ctx, img, tree, UnpackOptions{})
}

// UnpackOptions bound what UnpackWith reads from an image; zero fields
// take the defaults. A layer is a compressed stream from outside: a few
// kilobytes can expand to gigabytes (a decompression bomb), and the tree
// holds all of it in memory.
type UnpackOptions struct {
	// MaxBytes bounds the uncompressed tar bytes of all layers together,
	// file data included (default 8 GiB).
	MaxBytes int64
	// MaxEntries bounds the tar entries of all layers together (default
	// 4 Mi).
	MaxEntries int64
}

// UnpackWith is Unpack with explicit bounds.
func UnpackWith(ctx context.Context, img v1.Image, tree *fstree.Tree, opt UnpackOptions) error {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = maxUnpackBytes
	}
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = maxUnpackEntries
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	b := &budget{bytes: opt.MaxBytes, data: opt.MaxBytes, entries: opt.MaxEntries, maxBytes: opt.MaxBytes, maxEntries: opt.MaxEntries}
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := unpackLayer(ctx, l, i, tree, b); err != nil {
			return err
		}
	}
	return nil
}

// budget is what is left for the rest of the image: bytes of tar streams,
// bytes of file data (sparse files expand), entries.
type budget struct {
	bytes, data, entries int64
	maxBytes, maxEntries int64 // the limits, for errors
}

// layerEntry is one tar entry, kept until the layer's whiteouts are done.
type layerEntry struct {
	hdr  *tar.Header
	name string // cleaned, rooted
	link string // hardlink target, cleaned, rooted
	data []byte
}

func unpackLayer(ctx context.Context, l v1.Layer, index int, tree *fstree.Tree, b *budget) error {
	digest, err := l.Digest()
	if err != nil {
		return fmt.Errorf("unpack: layer %d: %w", index+1, err)
	}
	fail := func(entry string, err error) error {
		return &LayerError{Layer: digest, Index: index, Entry: entry, Err: err}
	}
	diffID, err := l.DiffID()
	if err != nil {
		return fail("", err)
	}
	h, err := v1.Hasher(diffID.Algorithm)
	if err != nil {
		return fail("", fmt.Errorf("diffID %s: %w", diffID, err))
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return fail("", err)
	}
	defer rc.Close()
	counted := &countingReader{r: io.TeeReader(rc, h), left: b.bytes, limit: b.maxBytes}
	tr := tar.NewReader(counted)

	var whiteouts []layerEntry
	var entries []layerEntry
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail("", fmt.Errorf("reading tar: %w", err))
		}
		if b.entries--; b.entries < 0 {
			return fail("", fmt.Errorf("more than %d tar entries in the image", b.maxEntries))
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return fail(hdr.Name, err)
		}
		if name == "/" {
			continue // the root's own entry: the tree root stays as it is
		}
		base := path.Base(name)
		if strings.HasPrefix(base, whiteoutPrefix) {
			if base != whiteoutOpaque && strings.HasPrefix(base, whiteoutMeta) {
				continue
			}
			target := strings.TrimPrefix(base, whiteoutPrefix)
			if base != whiteoutOpaque && (target == "" || target == "." || target == "..") {
				return fail(hdr.Name, errors.New("invalid whiteout name"))
			}
			whiteouts = append(whiteouts, layerEntry{hdr: hdr, name: name})
			continue
		}
		e := layerEntry{hdr: hdr, name: name}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
			if hdr.Size < 0 || hdr.Size > b.data {
				return fail(hdr.Name, fmt.Errorf("size %d is beyond the limit of %d bytes for an image %s", hdr.Size, b.maxBytes, bytesize.Hint(b.maxBytes)))
			}
			b.data -= hdr.Size
			// Grows with the bytes actually read, not with the size the
			// header claims.
			if e.data, err = io.ReadAll(tr); err != nil {
				return fail(hdr.Name, err)
			}
			if e.data == nil {
				e.data = []byte{}
			}
		case tar.TypeLink:
			if e.link, err = cleanName(hdr.Linkname); err != nil {
				return fail(hdr.Name, fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err))
			}
		case tar.TypeSymlink:
			// Kept verbatim and resolved inside the tree; only what no
			// kernel would store is refused.
			if hdr.Linkname == "" || len(hdr.Linkname) > maxPath || strings.ContainsRune(hdr.Linkname, 0) {
				return fail(hdr.Name, fmt.Errorf("symlink target of %d bytes: empty, longer than PATH_MAX or with a NUL", len(hdr.Linkname)))
			}
		case tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		default:
			return fail(hdr.Name, fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag))
		}
		if hdr.Uid < 0 || hdr.Gid < 0 {
			return fail(hdr.Name, fmt.Errorf("negative owner %d:%d", hdr.Uid, hdr.Gid))
		}
		entries = append(entries, e)
	}
	// The rest of the stream (padding after the end of the archive) is part
	// of the DiffID.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return fail("", fmt.Errorf("reading tar: %w", err))
	}
	b.bytes = counted.left
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != diffID.Hex {
		return fail("", fmt.Errorf("uncompressed content: %w", &DigestError{Want: diffID, Got: v1.Hash{Algorithm: diffID.Algorithm, Hex: got}}))
	}

	pkg := digest.String()
	for _, w := range whiteouts {
		if err := applyWhiteout(tree, w.name); err != nil {
			return fail(w.hdr.Name, err)
		}
	}
	for _, e := range entries {
		if err := applyEntry(tree, e, pkg); err != nil {
			return fail(e.hdr.Name, err)
		}
	}
	return nil
}

// countingReader fails once more than left bytes have been read.
type countingReader struct {
	r     io.Reader
	left  int64
	limit int64 // for the error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("image larger than %d bytes uncompressed %s", c.limit, bytesize.Hint(c.limit))
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// cleanName turns a tar name into a rooted tree path. Leading "./" is
// usual; a leading "/" or any ".." component is refused.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", ErrUnsafeName
	}
	if len(name) > maxPath {
		return "", fmt.Errorf("name of %d bytes (PATH_MAX is %d)", len(name), maxPath)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", ErrUnsafeName
		}
		if len(part) > maxName {
			return "", fmt.Errorf("name component of %d bytes (NAME_MAX is %d)", len(part), maxName)
		}
	}
	return path.Clean("/" + name), nil
}

// Linux's limits on names: longer ones cannot be created by a runtime
// unpacking the image, so they are refused when reading one.
const (
	maxPath = 4096
	maxName = 255
)

// applyWhiteout deletes what a whiteout hides in the lower layers.
func applyWhiteout(tree *fstree.Tree, name string) error {
	dir, base := path.Split(name)
	real, err := confinedDir(tree, dir)
	if err != nil {
		return err
	}
	if base == whiteoutOpaque {
		n, err := tree.Lookup(real)
		if err != nil || n.Kind != fstree.Dir {
			return nil // nothing below to hide
		}
		for _, child := range n.Children() {
			if err := tree.Remove(path.Join(real, child)); err != nil {
				return err
			}
		}
		return nil
	}
	return tree.Remove(path.Join(real, strings.TrimPrefix(base, whiteoutPrefix)))
}

// applyEntry adds one entry of a layer to the tree.
func applyEntry(tree *fstree.Tree, e layerEntry, pkg string) error {
	hdr := e.hdr
	owner := fstree.Owner{UID: hdr.Uid, GID: hdr.Gid}
	mode := fstree.GoMode(uint32(hdr.Mode) & 0o7777)
	xattrs := paxXattrs(hdr)

	switch hdr.Typeflag {
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return nil
	}
	// What is at the path now goes, unless both are directories. The
	// parent is resolved strictly first, so that nothing outside the
	// entry's real place is touched.
	dir, base := path.Split(e.name)
	real, err := confinedDir(tree, dir)
	if err != nil {
		return err
	}
	p := path.Join(real, base)
	if old, err := tree.Lookup(p); err == nil {
		if old.Kind != fstree.Dir || hdr.Typeflag != tar.TypeDir {
			if hdr.Typeflag == tar.TypeLink && e.link == p {
				return nil // a link to itself: nothing to do
			}
			if err := tree.Remove(p); err != nil {
				return err
			}
		}
	}

	var n *fstree.Inode
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := tree.Mkdir(p, mode, owner, pkg); err != nil {
			return err
		}
		if n, err = tree.Lookup(p); err != nil {
			return err
		}
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		if n, err = tree.WriteFile(p, e.data, mode, owner, pkg); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := tree.Symlink(hdr.Linkname, p, owner, pkg); err != nil {
			return err
		}
		if n, err = tree.Lookup(p); err != nil {
			return err
		}
	case tar.TypeLink:
		ldir, lbase := path.Split(e.link)
		lreal, err := confinedDir(tree, ldir)
		if err != nil {
			return fmt.Errorf("hardlink target %s: %w", hdr.Linkname, err)
		}
		target, err := tree.Lookup(path.Join(lreal, lbase))
		if err != nil {
			return fmt.Errorf("hardlink target %s: %w", hdr.Linkname, err)
		}
		switch target.Kind {
		case fstree.File:
			return tree.Link(target, p)
		case fstree.Symlink:
			// fstree links regular files only; a hardlinked symlink is
			// indistinguishable from a copy of it.
			return tree.Symlink(target.Target, p, target.Owner, target.Package)
		}
		return fmt.Errorf("hardlink target %s is a directory", hdr.Linkname)
	}
	n.Xattrs = xattrs
	return nil
}

// paxXattrs returns the SCHILY.xattr.* records of hdr, or nil.
func paxXattrs(hdr *tar.Header) map[string][]byte {
	var x map[string][]byte
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && name != "" {
			if x == nil {
				x = map[string][]byte{}
			}
			x[name] = []byte(v)
		}
	}
	return x
}

// confinedDir resolves the directory p in tree like a chroot would, but
// strictly: a ".." that would climb above the root (through a symlink) is
// fstree.ErrEscape. It returns the canonical, symlink-free path; components
// that do not exist yet are kept as they are (they will be created as
// directories), and a regular file in the middle is fstree.ErrNotDir.
func confinedDir(tree *fstree.Tree, p string) (string, error) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	cur := "/"
	hops := 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if cur == "/" {
				return "", &fs.PathError{Op: "resolve", Path: fstree.Clean(p), Err: fstree.ErrEscape}
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		n, err := tree.Lookup(next)
		if err != nil {
			// Missing: the rest is created below it.
			cur = next
			continue
		}
		switch n.Kind {
		case fstree.Dir:
			cur = next
		case fstree.Symlink:
			if hops++; hops > 40 {
				return "", &fs.PathError{Op: "resolve", Path: fstree.Clean(p), Err: fstree.ErrLoop}
			}
			if strings.HasPrefix(n.Target, "/") {
				cur = "/"
			}
			parts = append(strings.Split(n.Target, "/"), parts...)
		default:
			return "", &fs.PathError{Op: "resolve", Path: fstree.Clean(p), Err: fstree.ErrNotDir}
		}
	}
	return cur, nil
}

// ConfigOf returns the configuration of img (Env, Entrypoint, Cmd,
// WorkingDir, ExposedPorts, Labels, ... in its Config field).
func ConfigOf(img v1.Image) (*v1.ConfigFile, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if cf == nil {
		return nil, errors.New("image config: empty")
	}
	return cf, nil
}

// Inherit fills the fields of cfg that are empty from the configuration of
// an OCI source image, as smith does for `package:` images: WorkingDir,
// Entrypoint, Cmd, Env, ExposedPorts and Labels. (A `parent:` needs no
// Inherit: Build starts from the parent's configuration.)
func Inherit(cfg Config, from *v1.ConfigFile) Config {
	if from == nil {
		return cfg
	}
	c := from.Config
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = c.WorkingDir
	}
	if len(cfg.Entrypoint) == 0 {
		// Cmd alone keeps the image's Entrypoint, as in a Dockerfile; and
		// the image's Cmd, written for its Entrypoint, is kept only when
		// neither is set (Build drops a parent's Cmd the same way).
		cfg.Entrypoint = append([]string(nil), c.Entrypoint...)
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = append([]string(nil), c.Cmd...)
		}
	}
	if len(cfg.Env) == 0 {
		cfg.Env = append([]string(nil), c.Env...)
	}
	if len(cfg.ExposedPorts) == 0 && len(c.ExposedPorts) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for k := range c.ExposedPorts {
			cfg.ExposedPorts[k] = struct{}{}
		}
	}
	if len(cfg.Labels) == 0 && len(c.Labels) > 0 {
		cfg.Labels = map[string]string{}
		for k, v := range c.Labels {
			cfg.Labels[k] = v
		}
	}
	return cfg
}
