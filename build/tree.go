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
// clears setuid, setgid and sticky bits and file capabilities: a
// microcontainer has "no user ownership or special permissions beyond the
// executable bit". It returns the paths whose capabilities were removed.
func normalizeOwnership(t *fstree.Tree, r RunAs) []string {
	owner := fstree.Owner{UID: r.UID, GID: r.GID}
	var stripped []string
	_ = t.Walk("/", func(p string, n *fstree.Inode) error {
		n.Owner = owner
		n.Mode &^= fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
		if _, ok := n.Xattrs["security.capability"]; ok {
			delete(n.Xattrs, "security.capability")
			stripped = append(stripped, p)
		}
		if len(n.Xattrs) == 0 {
			n.Xattrs = nil
		}
		return nil
	})
	return stripped
}
