package fstree

import (
	"fmt"
	"path"
)

// Copier copies entries from one tree into another, keeping hardlinks:
// two paths that share an inode in the source share one in the destination.
type Copier struct {
	src, dst *Tree
	inodes   map[*Inode]*Inode
}

// NewCopier returns a Copier from src to dst.
func NewCopier(src, dst *Tree) *Copier {
	return &Copier{src: src, dst: dst, inodes: map[*Inode]*Inode{}}
}

// Copy copies the entry at the canonical path p (its parent directories must
// not be symlinks in the source; use RealDir first) without following a
// final symlink. Missing parent directories are copied from the source with
// their modes and owners. A directory is copied without its contents.
func (c *Copier) Copy(p string) error {
	p = Clean(p)
	n, err := c.src.Lookup(p)
	if err != nil {
		return err
	}
	if err := c.parents(path.Dir(p)); err != nil {
		return err
	}
	if p == "/" {
		return nil
	}
	if n.Kind == Dir {
		if d, err := c.dst.Lookup(p); err == nil && d.Kind == Dir {
			return nil
		}
		return c.dst.Mkdir(p, n.Mode, n.Owner, n.Package)
	}
	if m, ok := c.inodes[n]; ok {
		return c.dst.Link(m, p)
	}
	m := *n
	m.Xattrs = cloneXattrs(n.Xattrs)
	c.inodes[n] = &m
	return c.dst.Put(p, &m)
}

// CopyTree copies p and, when it is a directory, everything below it.
func (c *Copier) CopyTree(p string) error {
	return c.src.Walk(p, func(q string, _ *Inode) error { return c.Copy(q) })
}

func (c *Copier) parents(dir string) error {
	if dir == "/" {
		return nil
	}
	if d, err := c.dst.Lookup(dir); err == nil {
		if d.Kind != Dir {
			return fmt.Errorf("copy: %s is not a directory in the destination", dir)
		}
		return nil
	}
	if err := c.parents(path.Dir(dir)); err != nil {
		return err
	}
	n, err := c.src.Lookup(dir)
	if err != nil {
		return err
	}
	if n.Kind != Dir {
		return fmt.Errorf("copy: %s is not a canonical directory in the source", dir)
	}
	return c.dst.Mkdir(dir, n.Mode, n.Owner, n.Package)
}

func cloneXattrs(x map[string][]byte) map[string][]byte {
	if x == nil {
		return nil
	}
	out := make(map[string][]byte, len(x))
	for k, v := range x {
		out[k] = append([]byte(nil), v...)
	}
	return out
}
