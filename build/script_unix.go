//go:build unix

package build

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smith-build/smith/fstree"
)

// unixFS is true where a tree can be materialised with hardlinks, symlinks
// and modes, and /bin/sh may exist.
const unixFS = true

// materialisedTime is the mtime of every materialised file: a script's write
// moves it, so an unchanged size and mtime mean unchanged content.
var materialisedTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// hostKey identifies a host inode.
type hostKey struct{ dev, ino uint64 }

func keyOf(fi fs.FileInfo) (hostKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return hostKey{}, false
	}
	return hostKey{uint64(st.Dev), uint64(st.Ino)}, true
}

// materialised remembers what was written, to tell the script's changes
// from the writer's own choices (modes widened for the owner, symlink
// targets made absolute).
type materialised struct {
	root    string
	modes   map[*fstree.Inode]fs.FileMode // permission bits written
	targets map[string]string             // symlink path -> target written
	inodes  map[hostKey]*fstree.Inode     // host file -> tree file
	files   map[*fstree.Inode]string      // tree file -> first host path
}

// hostPerm is the mode an entry is materialised with: its permission bits,
// plus read and write (and search, for directories) for the owner, so that
// an unprivileged script can change it and smith can read it back.
func hostPerm(n *fstree.Inode) fs.FileMode {
	perm := n.Mode.Perm()
	if n.Kind == fstree.Dir {
		return perm | 0o700
	}
	return perm | 0o600
}

// materialise writes t under root (which must not exist). Each file also
// gets a hardlink in root's sibling "keep", outside the tree: while it
// exists, the inode number cannot be reused for a file the script creates
// after deleting one of ours, so a host inode number always names the same
// file (its attributes must not move to an unrelated file).
func materialise(t *fstree.Tree, root string) (*materialised, error) {
	m := &materialised{
		root:    root,
		modes:   map[*fstree.Inode]fs.FileMode{},
		targets: map[string]string{},
		inodes:  map[hostKey]*fstree.Inode{},
		files:   map[*fstree.Inode]string{},
	}
	if err := os.Mkdir(root, 0o700); err != nil {
		return nil, err
	}
	keep := filepath.Join(filepath.Dir(root), "keep")
	if err := os.Mkdir(keep, 0o700); err != nil {
		return nil, err
	}
	err := t.Walk("/", func(p string, n *fstree.Inode) error {
		if p == "/" {
			return nil
		}
		host := filepath.Join(root, filepath.FromSlash(p))
		switch n.Kind {
		case fstree.Dir:
			if err := os.Mkdir(host, 0o700); err != nil {
				return err
			}
			m.modes[n] = hostPerm(n)
			return os.Chmod(host, hostPerm(n))
		case fstree.Symlink:
			target := m.hostTarget(t, p)
			m.targets[p] = target
			return os.Symlink(target, host)
		case fstree.File:
			if first, ok := m.files[n]; ok {
				return os.Link(first, host)
			}
			if err := os.WriteFile(host, n.Data, 0o600); err != nil {
				return err
			}
			if err := os.Chmod(host, hostPerm(n)); err != nil {
				return err
			}
			if err := os.Chtimes(host, materialisedTime, materialisedTime); err != nil {
				return err
			}
			fi, err := os.Lstat(host)
			if err != nil {
				return err
			}
			key, ok := keyOf(fi)
			if !ok {
				return fmt.Errorf("%s: no inode number", host)
			}
			m.modes[n] = hostPerm(n)
			m.files[n] = host
			m.inodes[key] = n
			return os.Link(host, filepath.Join(keep, strconv.Itoa(len(m.files))))
		}
		return fmt.Errorf("%s: unsupported kind %v", p, n.Kind)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// hostTarget is the target a symlink gets on the host: the absolute host
// path of where it resolves inside the tree, so that nothing reached
// through it is outside root. A link that does not resolve (a loop) points
// at a name that does not exist.
func (m *materialised) hostTarget(t *fstree.Tree, p string) string {
	real, err := t.Realpath(p)
	if err != nil {
		return filepath.Join(m.root, ".smith-unresolvable-link")
	}
	return filepath.Join(m.root, filepath.FromSlash(real))
}

// treeTarget maps a target the script wrote back to a target inside the
// tree: host paths under root lose the root prefix.
func (m *materialised) treeTarget(target string) string {
	if target == m.root {
		return "/"
	}
	if rest, ok := strings.CutPrefix(target, m.root+string(filepath.Separator)); ok {
		return "/" + filepath.ToSlash(rest)
	}
	return target
}

// readBack applies what the script did under root to t. New entries are
// marked as created by pkg; ownership is left to the caller.
func (m *materialised) readBack(t *fstree.Tree, pkg string) (scriptChanges, error) {
	var c scriptChanges
	seen := map[string]bool{"/": true}
	checked := map[*fstree.Inode]bool{}
	err := filepath.WalkDir(m.root, func(host string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(m.root, host)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		p := "/" + filepath.ToSlash(rel)
		seen[p] = true
		fi, err := d.Info()
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		old, _ := t.Lookup(p)
		replace := func() error {
			if old != nil {
				c.changed++
				return t.Remove(p)
			}
			c.added++
			return nil
		}
		switch {
		case fi.IsDir():
			if perm&0o700 != 0o700 {
				// Keep it readable for the walk; the mode read above counts.
				if err := os.Chmod(host, perm|0o700); err != nil {
					return err
				}
			}
			if old != nil && old.Kind == fstree.Dir {
				if perm != m.modes[old] {
					old.Mode = perm
					c.changed++
				}
				return nil
			}
			if err := replace(); err != nil {
				return err
			}
			return t.Mkdir(p, perm, fstree.Owner{}, pkg)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(host)
			if err != nil {
				return err
			}
			if old != nil && old.Kind == fstree.Symlink {
				if written, ok := m.targets[p]; ok && written == target {
					return nil
				}
				old.Target = m.treeTarget(target)
				c.changed++
				return nil
			}
			if err := replace(); err != nil {
				return err
			}
			return t.Symlink(m.treeTarget(target), p, fstree.Owner{}, pkg)
		case fi.Mode().IsRegular():
			key, ok := keyOf(fi)
			if !ok {
				return fmt.Errorf("%s: no inode number", host)
			}
			n := m.inodes[key]
			if n == nil {
				// A file the script created (or replaced, as sed -i does).
				data, err := readHost(host, perm)
				if err != nil {
					return err
				}
				if old != nil {
					if old.Kind == fstree.File && bytes.Equal(old.Data, data) && perm == m.modes[old] {
						// Rewritten with the same content and mode: keep
						// the inode and its attributes.
						m.inodes[key] = old
						checked[old] = true
						return nil
					}
					pkg := old.Package
					if err := replace(); err != nil {
						return err
					}
					n, err = t.WriteFile(p, data, perm, fstree.Owner{}, pkg)
				} else {
					c.added++
					n, err = t.WriteFile(p, data, perm, fstree.Owner{}, pkg)
				}
				if err != nil {
					return err
				}
				m.inodes[key] = n
				m.modes[n] = perm
				checked[n] = true
				return nil
			}
			if old != n {
				// A hardlink the script made, over whatever was there.
				if err := replace(); err != nil {
					return err
				}
				if err := t.Link(n, p); err != nil {
					return err
				}
			}
			if checked[n] {
				return nil
			}
			checked[n] = true
			if perm != m.modes[n] {
				n.Mode = perm
				c.changed++
			}
			if fi.Size() == int64(len(n.Data)) && fi.ModTime().Equal(materialisedTime) {
				return nil
			}
			data, err := readHost(host, perm)
			if err != nil {
				return err
			}
			if !bytes.Equal(data, n.Data) {
				n.Data, n.SHA256 = data, nil
				// As the kernel does on a write: changed content loses
				// its capabilities.
				delete(n.Xattrs, capabilityXattr)
				c.changed++
			}
			return nil
		}
		return fmt.Errorf("%s is a %s: only regular files, directories and symlinks can go into an image", p, fileType(fi.Mode()))
	})
	if err != nil {
		return c, err
	}
	var gone []string
	_ = t.Walk("/", func(p string, _ *fstree.Inode) error {
		if !seen[p] {
			gone = append(gone, p)
		}
		return nil
	})
	for _, p := range gone {
		if parentGone(p, seen) {
			continue // removed with its directory
		}
		if err := t.Remove(p); err != nil {
			return c, err
		}
		c.removed++
	}
	return c, nil
}

// parentGone reports whether a parent directory of p was removed too.
func parentGone(p string, seen map[string]bool) bool {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if !seen[d] {
			return true
		}
	}
	return false
}

// readHost reads a file the script left, even one it made unreadable.
func readHost(host string, perm fs.FileMode) ([]byte, error) {
	if perm&0o400 == 0 {
		if err := os.Chmod(host, perm|0o400); err != nil {
			return nil, err
		}
	}
	return os.ReadFile(host)
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of type " + m.Type().String()
}
