package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/smith-build/smith/fstree"
)

// mkdirIfMissing makes p a directory (0755) unless it already is one, or a
// symlink to one.
func mkdirIfMissing(t *fstree.Tree, p string) error {
	if n, err := t.Follow(p); err == nil {
		if n.Kind == fstree.Dir {
			return nil
		}
		return fmt.Errorf("%s exists and is not a directory", p)
	}
	return t.Mkdir(p, 0o755, fstree.Owner{}, "")
}

// glob expands an absolute pattern against the tree, component by
// component, following symlinks to directories as a shell would. Matches are
// sorted; a pattern without metacharacters returns itself when it exists.
func glob(t *fstree.Tree, pattern string) ([]string, error) {
	pattern = fstree.Clean(pattern)
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
	}
	matches := []string{"/"}
	for _, part := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		if part == "" {
			continue
		}
		var next []string
		for _, m := range matches {
			if !strings.ContainsAny(part, `*?[\`) {
				p := path.Join(m, part)
				if t.Exists(p) {
					next = append(next, p)
				}
				continue
			}
			dir, err := t.Follow(m)
			if err != nil || dir.Kind != fstree.Dir {
				continue
			}
			for _, name := range dir.Children() {
				if ok, _ := path.Match(part, name); ok {
					next = append(next, path.Join(m, name))
				}
			}
		}
		matches = next
	}
	if len(matches) == 1 && matches[0] == "/" && pattern != "/" {
		return nil, nil
	}
	sort.Strings(matches)
	return matches, nil
}

// removeExcludes removes every entry matching the excludes (a directory with
// everything below it). A pattern that matches nothing is not an error, as
// in the original smith.
func removeExcludes(t *fstree.Tree, excludes []string) error {
	for _, ex := range excludes {
		matches, err := glob(t, ex)
		if err != nil {
			return fmt.Errorf("excludes: %w", err)
		}
		for _, m := range matches {
			if m == "/" {
				return fmt.Errorf("excludes: %q would remove everything", ex)
			}
			if err := t.Remove(m); err != nil {
				return fmt.Errorf("excludes: %w", err)
			}
		}
	}
	return nil
}

// nssLibraries returns the name-service and resolver libraries found beside
// libc.so.6, to add to the path closure when nss is on. glibc 2.34+ has files
// and dns built in, but older ones (and libnss_compat users) need them.
func nssLibraries(t *fstree.Tree) []string {
	var out []string
	for _, dir := range []string{"/usr/lib64", "/lib64", "/usr/lib", "/lib"} {
		if n, err := t.Follow(path.Join(dir, "libc.so.6")); err != nil || n.Kind != fstree.File {
			continue
		}
		for _, name := range []string{"libnss_files.so.2", "libnss_dns.so.2", "libnss_compat.so.2", "libresolv.so.2"} {
			p := path.Join(dir, name)
			if n, err := t.Follow(p); err == nil && n.Kind == fstree.File {
				out = append(out, p)
			}
		}
		break
	}
	return out
}

// writeNSS writes /etc/passwd, /etc/group and /etc/nsswitch.conf for the
// run-as user, replacing any from the packages (as the original smith did).
func writeNSS(t *fstree.Tree, r RunAs) error {
	for _, f := range []struct {
		path string
		data []byte
	}{
		{"/etc/passwd", r.passwd()},
		{"/etc/group", r.group()},
		{"/etc/nsswitch.conf", []byte(nsswitchConf)},
	} {
		if err := replaceDir(t, f.path); err != nil {
			return fmt.Errorf("nss: %w", err)
		}
		if _, err := t.WriteFile(f.path, f.data, 0o644, fstree.Owner{}, ""); err != nil {
			return fmt.Errorf("nss: %w", err)
		}
	}
	return nil
}

// replaceDir removes a real directory at p, so that a file or symlink can
// take its place.
func replaceDir(t *fstree.Tree, p string) error {
	if n, err := t.Lookup(p); err == nil && n.Kind == fstree.Dir {
		return t.Remove(p)
	}
	return nil
}

// overlayOwner marks entries that come from rootfs/.
const overlayOwner = "rootfs"

// overlay copies the directory src (rootfs/ beside smith.yaml) over the
// tree: its entries win over package files, symlinks stay symlinks, the
// modes of files and new directories are kept (ownership is normalised
// later), .gitignore files are skipped. A missing src is not an error.
func overlay(t *fstree.Tree, src string) error {
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("rootfs: %s is not a directory", src)
	}
	return filepath.WalkDir(src, func(hostPath string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		rel, err := filepath.Rel(src, hostPath)
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		if rel == "." {
			return nil
		}
		p := "/" + filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		mode := info.Mode()
		switch {
		case mode.IsDir():
			// A directory the packages already have keeps their mode: in
			// rootfs/ it is usually only the way to a file.
			if n, err := t.Follow(p); err == nil && n.Kind == fstree.Dir {
				return nil
			}
			_ = t.Remove(p)
			err = t.Mkdir(p, mode.Perm(), fstree.Owner{}, overlayOwner)
		case mode&fs.ModeSymlink != 0:
			var target string
			if target, err = os.Readlink(hostPath); err != nil {
				break
			}
			if err = replaceDir(t, p); err != nil {
				break
			}
			err = t.Symlink(target, p, fstree.Owner{}, overlayOwner)
		case mode.IsRegular():
			if d.Name() == ".gitignore" {
				return nil
			}
			var data []byte
			if data, err = os.ReadFile(hostPath); err != nil {
				break
			}
			if err = replaceDir(t, p); err != nil {
				break
			}
			_, err = t.WriteFile(p, data, mode.Perm(), fstree.Owner{}, overlayOwner)
		default:
			err = fmt.Errorf("unsupported file type %s", mode.Type())
		}
		if err != nil {
			return fmt.Errorf("rootfs%s: %w", p, err)
		}
		return nil
	})
}

// normalizeOwnership gives every entry the run-as owner (numbers only) and
// clears setuid, setgid and sticky bits and, unless keepCaps, file
// capabilities: a microcontainer has "no user ownership or special
// permissions beyond the executable bit". It returns the paths whose
// capabilities were removed.
func normalizeOwnership(t *fstree.Tree, r RunAs, keepCaps bool) []string {
	owner := fstree.Owner{UID: r.UID, GID: r.GID}
	var stripped []string
	_ = t.Walk("/", func(p string, n *fstree.Inode) error {
		n.Owner = owner
		n.Mode &^= fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
		if _, ok := n.Xattrs[capabilityXattr]; ok && !keepCaps {
			delete(n.Xattrs, capabilityXattr)
			stripped = append(stripped, p)
		}
		if len(n.Xattrs) == 0 {
			n.Xattrs = nil
		}
		return nil
	})
	return stripped
}

// capabilityXattr holds a file's capabilities (vfs_cap_data).
const capabilityXattr = "security.capability"

// buildIDDir is the directory name of the build-id links that rpm packages
// carry (/usr/lib/.build-id/xx/yyyy -> ../../../../usr/bin/foo, and the same
// under /usr/lib/debug for debuginfo).
const buildIDDir = ".build-id"

// buildIDDirs returns the canonical paths of every .build-id directory.
func buildIDDirs(t *fstree.Tree) []string {
	var dirs []string
	_ = t.Walk("/", func(p string, n *fstree.Inode) error {
		if n.Kind == fstree.Dir && path.Base(p) == buildIDDir {
			dirs = append(dirs, p)
			return fs.SkipDir
		}
		return nil
	})
	return dirs
}

// hiddenBuildIDs holds the .build-id directories taken out of a tree while
// the path closure runs, so that a build-id link inside a directory named in
// paths never pulls the file it points to into the image.
type hiddenBuildIDs struct {
	dirs  []string
	nodes []*fstree.Inode
}

// hideBuildIDs removes the .build-id directories from t and returns them.
func hideBuildIDs(t *fstree.Tree) (*hiddenBuildIDs, error) {
	h := &hiddenBuildIDs{}
	for _, d := range buildIDDirs(t) {
		n, err := t.Lookup(d)
		if err != nil {
			return nil, err
		}
		if err := t.Remove(d); err != nil {
			return nil, err
		}
		h.dirs, h.nodes = append(h.dirs, d), append(h.nodes, n)
	}
	return h, nil
}

// restore puts the hidden directories back into t.
func (h *hiddenBuildIDs) restore(t *fstree.Tree) error {
	for i, d := range h.dirs {
		if err := t.Put(d, h.nodes[i]); err != nil {
			return err
		}
	}
	return nil
}

// keepLinks copies from src (with the directories restored) into dst, with
// c, the build-id links of the directories that selected names (the
// closure's result: a directory there is taken whole) and whose file dst
// has. The others are left out: they would dangle, or describe files that
// were not asked for.
func (h *hiddenBuildIDs) keepLinks(src, dst *fstree.Tree, c *fstree.Copier, selected []string) error {
	dirs := map[string]bool{}
	for _, p := range selected {
		if n, err := src.Lookup(p); err == nil && n.Kind == fstree.Dir {
			dirs[p] = true
		}
	}
	for _, d := range h.dirs {
		taken := false
		for a := d; ; a = path.Dir(a) {
			if dirs[a] {
				taken = true
				break
			}
			if a == "/" {
				break
			}
		}
		if !taken {
			continue
		}
		err := src.Walk(d, func(p string, n *fstree.Inode) error {
			if n.Kind != fstree.Symlink {
				return nil
			}
			real, err := src.Realpath(p)
			if err != nil {
				return nil
			}
			if target, err := dst.Lookup(real); err != nil || target.Kind == fstree.Dir {
				return nil
			}
			return c.Copy(p)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

// pruneBuildIDs removes the build-id links that would dangle in the image
// (their file is not in it) and the .build-id directories left empty. It
// returns how many links it removed.
func pruneBuildIDs(t *fstree.Tree) (int, error) {
	removed := 0
	for _, d := range buildIDDirs(t) {
		var dangling, dirs []string
		_ = t.Walk(d, func(p string, n *fstree.Inode) error {
			switch n.Kind {
			case fstree.Symlink:
				if target, err := t.Follow(p); err != nil || target.Kind == fstree.Dir {
					dangling = append(dangling, p)
				}
			case fstree.Dir:
				dirs = append(dirs, p)
			}
			return nil
		})
		for _, p := range dangling {
			if err := t.Remove(p); err != nil {
				return removed, err
			}
			removed++
		}
		if err := removeEmptyDirs(t, dirs); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// removeEmptyDirs removes the directories of dirs (given parents first) that
// are empty, deepest first.
func removeEmptyDirs(t *fstree.Tree, dirs []string) error {
	for i := len(dirs) - 1; i >= 0; i-- {
		n, err := t.Lookup(dirs[i])
		if err != nil || n.Kind != fstree.Dir || len(n.Children()) > 0 {
			continue
		}
		if err := t.Remove(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// dropPackages removes from t what only the packages in drop put there:
// their files and symlinks, then their directories that are left empty.
func dropPackages(t *fstree.Tree, drop map[string]bool) (int, error) {
	var entries, dirs []string
	_ = t.Walk("/", func(p string, n *fstree.Inode) error {
		if p == "/" || !drop[n.Package] {
			return nil
		}
		if n.Kind == fstree.Dir {
			dirs = append(dirs, p)
		} else {
			entries = append(entries, p)
		}
		return nil
	})
	for _, p := range entries {
		if err := t.Remove(p); err != nil {
			return 0, err
		}
	}
	return len(entries), removeEmptyDirs(t, dirs)
}
