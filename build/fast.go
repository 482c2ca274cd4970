package build

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/repo"
)

// Fast rebuilds (-f) keep the extracted packages of the last -f build of a
// smith.yaml in the cache directory, as an uncompressed tar of the staging
// tree, named by the smith.yaml's path and the checksums of the solved
// packages. The repositories are still read and the request still solved,
// so a changed package set is never served from a stale entry; what -f
// saves is fetching and extracting. The tree round-trips exactly (modes
// including setuid/setgid/sticky, owner names, xattrs, hardlinks, owning
// package), so a fast build writes the same bytes as a full one.

// fastFormat versions the cache entry format; bump it when the tree or the
// extraction changes meaning.
const fastFormat = "smith-fast-1"

// maxFastEntry bounds what is read back from a cache entry.
const maxFastEntry = 16 << 30

// fastKey names the package set: the checksums of the solved packages in
// install order, and the smith that extracted them.
func (b *builder) fastKey(pkgs []*repo.Package) string {
	h := sha256.New()
	fmt.Fprintln(h, fastFormat, b.opt.Version, b.opt.SHA)
	for _, p := range pkgs {
		fmt.Fprintln(h, p.NEVRA(), p.Checksum.Type, p.Checksum.Value)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// fastPaths returns the cache entry for this smith.yaml and package set,
// and the glob of every entry for this smith.yaml.
func (b *builder) fastPaths(key string) (entry, all string, ok bool) {
	if b.opt.CacheDir == "" {
		return "", "", false
	}
	conf, err := filepath.Abs(b.path(b.opt.ConfigFile))
	if err != nil {
		return "", "", false
	}
	sum := sha256.Sum256([]byte(conf))
	prefix := filepath.Join(b.opt.CacheDir, "fast", hex.EncodeToString(sum[:])[:32])
	return prefix + "-" + key + ".tar", prefix + "-*.tar", true
}

// loadFast returns the cached staging tree for key, or nil.
func (b *builder) loadFast(key string) *fstree.Tree {
	entry, _, ok := b.fastPaths(key)
	if !ok {
		return nil
	}
	f, err := os.Open(entry)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			b.warnf("-f: %v; doing a full install", err)
		}
		return nil
	}
	defer f.Close()
	t, err := readTree(io.LimitReader(f, maxFastEntry))
	if err != nil {
		b.warnf("-f: cache entry %s: %v; doing a full install", entry, err)
		return nil
	}
	return t
}

// saveFast stores t as the entry for key and removes this smith.yaml's
// older entries. Failures only warn: the build itself succeeded.
func (b *builder) saveFast(key string, t *fstree.Tree) {
	entry, all, ok := b.fastPaths(key)
	if !ok {
		b.warnf("-f: no cache directory; the next build cannot be fast")
		return
	}
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		b.warnf("-f: %v", err)
		return
	}
	if err := image.WriteFileAtomic(entry, func(w io.Writer) error { return writeTree(w, t) }); err != nil {
		b.warnf("-f: writing %s: %v", entry, err)
		return
	}
	old, _ := filepath.Glob(all)
	for _, p := range old {
		if p != entry {
			os.Remove(p)
		}
	}
	// Temporary files of -f builds that were killed mid-write, for any
	// key: ".<entry>.smith-tmp-<random>" (live writers hold them locked).
	dir := filepath.Dir(entry)
	temps, _ := filepath.Glob(filepath.Join(dir, ".*.tar.smith-tmp-*"))
	seen := map[string]bool{}
	for _, p := range temps {
		base, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(p), "."), ".smith-tmp-")
		if !seen[base] {
			seen[base] = true
			if err := image.CleanStaleTemps(dir, base); err != nil {
				b.warnf("-f: cleaning stale temporary files in %s: %v", dir, err)
			}
		}
	}
	b.logf("-f: saved the installed packages in %s", entry)
}

// paxPackage holds Inode.Package in the cache tar.
const paxPackage = "SMITH.package"

// writeTree writes every entry of t, root included, as a PAX tar in walk
// order; a hardlink points to the first path of its inode.
func writeTree(w io.Writer, t *fstree.Tree) error {
	tw := tar.NewWriter(w)
	first := map[*fstree.Inode]string{}
	err := t.Walk("/", func(p string, n *fstree.Inode) error {
		name := strings.TrimPrefix(p, "/")
		if name == "" {
			name = "."
		}
		h := &tar.Header{
			Name: name, Mode: int64(fstree.UnixMode(n.Mode)),
			Uid: n.Owner.UID, Gid: n.Owner.GID, Uname: n.Owner.User, Gname: n.Owner.Group,
			Format: tar.FormatPAX, PAXRecords: map[string]string{},
		}
		if n.Package != "" {
			h.PAXRecords[paxPackage] = n.Package
		}
		keys := make([]string, 0, len(n.Xattrs))
		for k := range n.Xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h.PAXRecords["SCHILY.xattr."+k] = string(n.Xattrs[k])
		}
		switch n.Kind {
		case fstree.Dir:
			h.Typeflag = tar.TypeDir
		case fstree.Symlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, n.Target
		case fstree.File:
			if f, ok := first[n]; ok {
				h.Typeflag, h.Linkname = tar.TypeLink, f
			} else {
				first[n] = name
				h.Typeflag, h.Size = tar.TypeReg, int64(len(n.Data))
			}
		default:
			return fmt.Errorf("%s: unknown kind %v", p, n.Kind)
		}
		if len(h.PAXRecords) == 0 {
			h.PAXRecords = nil
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write(n.Data)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// readTree reads what writeTree wrote.
func readTree(r io.Reader) (*fstree.Tree, error) {
	t := fstree.New()
	files := map[string]*fstree.Inode{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		p := "/" + h.Name
		owner := fstree.Owner{UID: h.Uid, GID: h.Gid, User: h.Uname, Group: h.Gname}
		mode := fstree.GoMode(uint32(h.Mode))
		pkg := h.PAXRecords[paxPackage]
		var n *fstree.Inode
		switch h.Typeflag {
		case tar.TypeDir:
			if h.Name == "." {
				n = t.Root()
				n.Mode, n.Owner, n.Package = mode, owner, pkg
			} else {
				if err = t.Mkdir(p, mode, owner, pkg); err == nil {
					n, err = t.Lookup(p)
				}
			}
		case tar.TypeSymlink:
			if err = t.Symlink(h.Linkname, p, owner, pkg); err == nil {
				n, err = t.Lookup(p)
			}
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				n, err = t.WriteFile(p, data, mode, owner, pkg)
				files[h.Name] = n
			}
		case tar.TypeLink:
			target := files[h.Linkname]
			if target == nil {
				return nil, fmt.Errorf("%s: hardlink to unknown %s", h.Name, h.Linkname)
			}
			if err := t.Link(target, p); err != nil {
				return nil, err
			}
			continue // the inode's attributes came with its first path
		default:
			return nil, fmt.Errorf("%s: unexpected entry type %q", h.Name, h.Typeflag)
		}
		if err != nil {
			return nil, err
		}
		for k, v := range h.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if n.Xattrs == nil {
					n.Xattrs = map[string][]byte{}
				}
				n.Xattrs[name] = []byte(v)
			}
		}
	}
}
