// Package fstree is smith's in-memory file tree: the staging root that RPM
// payloads and OCI layers are unpacked into, that the path closure selects
// from, and that image layers are written from.
//
// Contract:
//   - Paths are slash-separated and rooted at the tree ("/usr/bin/cat" and
//     "usr/bin/cat" name the same entry). ".." is resolved physically, as the
//     kernel does: after a symlink it climbs from the link's target, and it
//     never climbs above the root.
//   - Symlinks are resolved inside the tree only, like a chroot: an absolute
//     target is relative to the tree root. Resolution stops after 40 hops.
//     Writers may ask for strict resolution, which fails with ErrEscape when a
//     symlink's target would climb above the root.
//   - A regular file is an *Inode; a hardlink is a second directory entry
//     pointing at the same *Inode.
//   - Walk visits entries in a deterministic order (depth first, names sorted
//     bytewise), so output built from a walk is reproducible.
//   - Tree implements io/fs.FS, fs.ReadDirFS, fs.StatFS and fs.ReadLinkFS.
//
// A Tree is not safe for concurrent mutation.
package fstree

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Kind is the type of an inode.
type Kind uint8

const (
	Dir Kind = iota
	File
	Symlink
)

func (k Kind) String() string {
	switch k {
	case Dir:
		return "dir"
	case File:
		return "file"
	case Symlink:
		return "symlink"
	}
	return "unknown"
}

// Owner is the ownership of an entry: numeric ids and, when known, names
// (RPM headers carry names only; the numbers are resolved later).
type Owner struct {
	UID, GID    int
	User, Group string
}

// Inode is one file system object. Directory entries point at inodes; two
// entries pointing at the same file inode are hardlinks.
type Inode struct {
	Kind Kind
	// Mode holds the permission bits plus fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky; the type bits are implied by Kind.
	Mode  fs.FileMode
	Owner Owner
	// Data is the content of a regular file.
	Data []byte
	// SHA256, when not nil, is the sha256 of Data, known without hashing
	// it (an RPM header's file digest, checked when the file was
	// extracted). Whoever changes Data must set it to nil (or to the new
	// digest): image uses it to name a layer without reading the data.
	SHA256 []byte
	// Target is the link target of a symlink, verbatim.
	Target string
	// Xattrs holds extended attributes, e.g. "security.capability".
	Xattrs map[string][]byte
	// Package names the package (NEVRA) or layer that created the entry.
	Package string

	children map[string]*Inode // directories only
}

// Errors callers branch on. Functions return them wrapped in *fs.PathError.
var (
	// ErrEscape reports a path whose resolution would leave the tree.
	ErrEscape = errors.New("path escapes the tree")
	// ErrLoop reports too many levels of symbolic links.
	ErrLoop = errors.New("too many levels of symbolic links")
	// ErrNotDir reports a path component that is not a directory.
	ErrNotDir = errors.New("not a directory")
)

const maxHops = 40

// Tree is an in-memory directory tree.
type Tree struct {
	root   *Inode
	ghosts map[string]string
}

// New returns an empty tree whose root directory has mode 0755, owned by root.
func New() *Tree {
	return &Tree{root: &Inode{Kind: Dir, Mode: 0o755, children: map[string]*Inode{}}}
}

// Clean returns the canonical rooted form of p ("/a/b").
func Clean(p string) string {
	return path.Clean("/" + p)
}

// split breaks p into components without cleaning it textually: ".." must
// be resolved physically, after the symlinks before it (the kernel's
// /lib64/../x is /usr/x when /lib64 -> usr/lib64).
func split(p string) []string {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			parts = append(parts, s)
		}
	}
	return parts
}

// Root returns the root directory inode.
func (t *Tree) Root() *Inode { return t.root }

// resolve walks the components of p from the root. When follow is true the
// final component is followed if it is a symlink. It returns the canonical
// path of the parent directory, the parent inode, the final name and the
// final inode (nil when absent). strict makes climbing above the root an
// error instead of stopping at the root.
func (t *Tree) resolve(p string, follow, strict bool) (dirPath string, dir *Inode, name string, node *Inode, err error) {
	hops := 0
	var walk func(cur string, curNode *Inode, parts []string, followLast bool) (string, *Inode, string, *Inode, error)
	walk = func(cur string, curNode *Inode, parts []string, followLast bool) (string, *Inode, string, *Inode, error) {
		for i := 0; i < len(parts); i++ {
			part := parts[i]
			last := i == len(parts)-1
			switch part {
			case "", ".":
				if last {
					return parentOf(t, cur, curNode)
				}
				continue
			case "..":
				if cur == "/" {
					if strict {
						return "", nil, "", nil, ErrEscape
					}
				} else {
					cur = path.Dir(cur)
					n, err := t.lookupDir(cur)
					if err != nil {
						return "", nil, "", nil, err
					}
					curNode = n
				}
				if last {
					return parentOf(t, cur, curNode)
				}
				continue
			}
			if curNode.Kind != Dir {
				return "", nil, "", nil, ErrNotDir
			}
			child := curNode.children[part]
			if last && (child == nil || child.Kind != Symlink || !followLast) {
				return cur, curNode, part, child, nil
			}
			if child == nil {
				// Report where the missing directory is, so mkdirAll can
				// create exactly that one.
				return cur, curNode, part, nil, fs.ErrNotExist
			}
			if child.Kind == Symlink {
				hops++
				if hops > maxHops {
					return "", nil, "", nil, ErrLoop
				}
				base, baseNode := cur, curNode
				if strings.HasPrefix(child.Target, "/") {
					base, baseNode = "/", t.root
				}
				rest := append(strings.Split(child.Target, "/"), parts[i+1:]...)
				return walk(base, baseNode, rest, followLast)
			}
			if child.Kind != Dir {
				return "", nil, "", nil, ErrNotDir
			}
			cur = path.Join(cur, part)
			curNode = child
		}
		return parentOf(t, cur, curNode)
	}
	return walk("/", t.root, split(p), follow)
}

// parentOf expresses a directory reached as a whole path (cur) as its parent
// plus name, the shape resolve returns. The root is its own parent with an
// empty name.
func parentOf(t *Tree, cur string, node *Inode) (string, *Inode, string, *Inode, error) {
	if cur == "/" {
		return "/", t.root, "", t.root, nil
	}
	parent, err := t.lookupDir(path.Dir(cur))
	if err != nil {
		return "", nil, "", nil, err
	}
	return path.Dir(cur), parent, path.Base(cur), node, nil
}

// lookupDir finds a canonical (symlink-free) directory path.
func (t *Tree) lookupDir(p string) (*Inode, error) {
	n := t.root
	for _, part := range split(p) {
		c := n.children[part]
		if c == nil {
			return nil, fs.ErrNotExist
		}
		if c.Kind != Dir {
			return nil, ErrNotDir
		}
		n = c
	}
	return n, nil
}

func pathErr(op, p string, err error) error {
	return &fs.PathError{Op: op, Path: Clean(p), Err: err}
}

// Lookup returns the inode at p without following a final symlink.
func (t *Tree) Lookup(p string) (*Inode, error) {
	_, _, _, n, err := t.resolve(p, false, false)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, pathErr("lstat", p, err)
	}
	return n, nil
}

// Follow returns the inode at p, following symlinks.
func (t *Tree) Follow(p string) (*Inode, error) {
	_, _, _, n, err := t.resolve(p, true, false)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, pathErr("stat", p, err)
	}
	return n, nil
}

// Realpath returns the canonical path of p with every symlink resolved,
// including the final component. The target need not exist, but its parent
// directory must.
func (t *Tree) Realpath(p string) (string, error) {
	dir, _, name, _, err := t.resolve(p, true, false)
	if err != nil {
		return "", pathErr("realpath", p, err)
	}
	return path.Join(dir, name), nil
}

// RealDir returns the canonical path of p with the symlinks of its parent
// directories resolved but not a final symlink.
func (t *Tree) RealDir(p string) (string, error) {
	dir, _, name, _, err := t.resolve(p, false, false)
	if err != nil {
		return "", pathErr("realpath", p, err)
	}
	return path.Join(dir, name), nil
}

// Exists reports whether p names an entry (a dangling symlink counts).
func (t *Tree) Exists(p string) bool {
	_, err := t.Lookup(p)
	return err == nil
}

// parentForWrite resolves the parent directory of p strictly (a symlink that
// climbs out of the tree is an error), creating missing directories when
// mkParents is set.
func (t *Tree) parentForWrite(op, p string, mkParents bool, owner Owner) (*Inode, string, error) {
	parts := split(p)
	if len(parts) == 0 {
		return nil, "", pathErr(op, p, fs.ErrExist)
	}
	name := parts[len(parts)-1]
	if name == ".." {
		return nil, "", pathErr(op, p, fs.ErrInvalid)
	}
	dirPath := "/" + strings.Join(parts[:len(parts)-1], "/")
	if mkParents {
		if err := t.mkdirAll(dirPath, 0o755, owner, ""); err != nil {
			return nil, "", pathErr(op, p, err)
		}
	}
	_, _, _, dir, err := t.resolve(dirPath, true, true)
	if err == nil && dir == nil {
		err = fs.ErrNotExist
	}
	if err == nil && dir.Kind != Dir {
		err = ErrNotDir
	}
	if err != nil {
		return nil, "", pathErr(op, p, err)
	}
	return dir, name, nil
}

func (t *Tree) mkdirAll(p string, mode fs.FileMode, owner Owner, pkg string) error {
	_, dir, name, n, err := t.resolve(p, true, true)
	switch {
	case err == nil && n != nil:
		if n.Kind != Dir {
			return ErrNotDir
		}
		return nil
	case err == nil:
		// The final component is missing (or is a dangling symlink, which
		// resolve followed to its missing target): create it there.
		dir.children[name] = &Inode{Kind: Dir, Mode: permBits(mode), Owner: owner, Package: pkg, children: map[string]*Inode{}}
		return nil
	case errors.Is(err, fs.ErrNotExist) && dir != nil:
		// An intermediate directory is missing: resolve said which one.
		// Create it and retry; each round creates one directory.
		dir.children[name] = &Inode{Kind: Dir, Mode: 0o755, Owner: owner, Package: pkg, children: map[string]*Inode{}}
		return t.mkdirAll(p, mode, owner, pkg)
	default:
		return err
	}
}

// Mkdir creates the directory p and its missing parents (parents get 0755
// and the same owner). An existing directory at p gets mode, owner and pkg
// updated, as rpm does when a later package lists the same directory.
func (t *Tree) Mkdir(p string, mode fs.FileMode, owner Owner, pkg string) error {
	if len(split(p)) == 0 {
		return nil // the root always exists (cpio payloads list it as ".")
	}
	dir, name, err := t.parentForWrite("mkdir", p, true, owner)
	if err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	if old := dir.children[name]; old != nil {
		if old.Kind == Symlink {
			// rpm keeps an existing symlink to a directory (e.g. /lib64 ->
			// usr/lib64) when a package lists the path as a directory.
			if n, err := t.Follow(p); err == nil && n.Kind == Dir {
				return nil
			}
		}
		if old.Kind != Dir {
			return pathErr("mkdir", p, fs.ErrExist)
		}
		old.Mode, old.Owner, old.Package = permBits(mode), owner, pkg
		return nil
	}
	dir.children[name] = &Inode{Kind: Dir, Mode: permBits(mode), Owner: owner, Package: pkg, children: map[string]*Inode{}}
	return nil
}

func permBits(m fs.FileMode) fs.FileMode {
	return m.Perm() | m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
}

// put places n at p, creating parent directories, replacing a non-directory
// entry that is already there (later packages and overlays win).
func (t *Tree) put(op, p string, n *Inode) error {
	dir, name, err := t.parentForWrite(op, p, true, n.Owner)
	if err != nil {
		return err
	}
	if old := dir.children[name]; old != nil && old.Kind == Dir {
		if n.Kind == Dir {
			dir.children[name] = n
			n.children = old.children
			return nil
		}
		if len(old.children) > 0 {
			return pathErr(op, p, errors.New("a non-empty directory is in the way"))
		}
	}
	dir.children[name] = n
	return nil
}

// WriteFile creates or replaces the regular file p and returns its inode.
func (t *Tree) WriteFile(p string, data []byte, mode fs.FileMode, owner Owner, pkg string) (*Inode, error) {
	n := &Inode{Kind: File, Mode: permBits(mode), Owner: owner, Data: data, Package: pkg}
	if err := t.put("write", p, n); err != nil {
		return nil, err
	}
	return n, nil
}

// Symlink creates or replaces p as a symlink to target.
func (t *Tree) Symlink(target, p string, owner Owner, pkg string) error {
	if target == "" {
		return pathErr("symlink", p, errors.New("empty symlink target"))
	}
	return t.put("symlink", p, &Inode{Kind: Symlink, Mode: 0o777, Owner: owner, Target: target, Package: pkg})
}

// Link makes p a hardlink to the regular file inode n.
func (t *Tree) Link(n *Inode, p string) error {
	if n == nil || n.Kind != File {
		return pathErr("link", p, errors.New("hardlink target is not a regular file"))
	}
	return t.put("link", p, n)
}

// Put places an existing inode at p (used to copy between trees). Directory
// inodes must come without children: use Mkdir semantics for those.
func (t *Tree) Put(p string, n *Inode) error {
	if n.Kind == Dir && n.children == nil {
		n.children = map[string]*Inode{}
	}
	return t.put("put", p, n)
}

// Remove deletes the entry p (without following a final symlink), and for a
// directory everything below it. A missing entry is not an error.
func (t *Tree) Remove(p string) error {
	_, dir, name, n, err := t.resolve(p, false, false)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && n == nil) {
		return nil
	}
	if err != nil {
		return pathErr("remove", p, err)
	}
	if name == "" {
		t.root.children = map[string]*Inode{}
		return nil
	}
	delete(dir.children, name)
	return nil
}

// AddGhost records that pkg owns p as a %ghost file: rpm does not create it,
// but it belongs to the package.
func (t *Tree) AddGhost(p, pkg string) {
	if t.ghosts == nil {
		t.ghosts = map[string]string{}
	}
	t.ghosts[Clean(p)] = pkg
}

// Ghosts returns the %ghost paths and their packages.
func (t *Tree) Ghosts() map[string]string { return t.ghosts }

// Children returns the sorted names in directory n.
func (n *Inode) Children() []string {
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Child returns the entry name in directory n, or nil.
func (n *Inode) Child(name string) *Inode { return n.children[name] }

// WalkFunc is called for each entry; returning fs.SkipDir on a directory
// skips its contents.
type WalkFunc func(p string, n *Inode) error

// Walk visits p (not following it if it is a symlink) and everything below
// it, parents before children, names in bytewise order. The root is visited
// as "/".
func (t *Tree) Walk(p string, fn WalkFunc) error {
	n, err := t.Lookup(p)
	if err != nil {
		return err
	}
	real, err := t.RealDir(p)
	if err != nil {
		return err
	}
	err = walk(real, n, fn)
	if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

func walk(p string, n *Inode, fn WalkFunc) error {
	if err := fn(p, n); err != nil {
		if errors.Is(err, fs.SkipDir) && n.Kind == Dir {
			return nil
		}
		return err
	}
	if n.Kind != Dir {
		return nil
	}
	for _, name := range n.Children() {
		if err := walk(path.Join(p, name), n.children[name], fn); err != nil {
			return err
		}
	}
	return nil
}
