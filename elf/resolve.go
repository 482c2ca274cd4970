package elf

import (
	"io/fs"
	"path"
	"strings"

	"github.com/smith-build/smith/fstree"
)

const maxHops = 40 // like the kernel and fstree

// chain is what resolving one path went through.
type chain struct {
	links []string      // symlinks crossed, in RealDir form, in order
	dirs  []string      // canonical directories that non-final symlinks led to
	entry string        // the path itself in RealDir form (final symlink not followed)
	path  string        // canonical path of the result (when resolution succeeded)
	node  *fstree.Inode // the result (when resolution succeeded)
}

type resolver struct {
	tree *fstree.Tree
	hops int
	ch   chain
}

// resolve resolves p inside the tree with the kernel's rules: components
// are taken one at a time, a symlink's target is resolved from the link's
// directory (or the tree root when absolute), and ".." climbs from where
// resolution actually is. p is not cleaned lexically first. follow says
// whether a final symlink is followed. On error the chain holds what was
// crossed before the failure.
func (c *closure) resolve(p string, follow bool) (chain, error) {
	r := &resolver{tree: c.tree}
	cur, node, err := r.walk("/", c.tree.Root(), strings.Split(p, "/"), follow, true)
	if err != nil {
		return r.ch, err
	}
	r.ch.path, r.ch.node = cur, node
	if r.ch.entry == "" {
		r.ch.entry = cur
	}
	return r.ch, nil
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func (r *resolver) walk(cur string, node *fstree.Inode, parts []string, follow, top bool) (string, *fstree.Inode, error) {
	for i, part := range parts {
		last := i == len(parts)-1
		switch part {
		case "":
			continue
		case ".", "..":
			if node.Kind != fstree.Dir {
				return "", nil, fstree.ErrNotDir
			}
			if part == ".." && cur != "/" {
				cur = path.Dir(cur)
				n, err := r.tree.Lookup(cur)
				if err != nil {
					return "", nil, err
				}
				node = n
			}
			if top && last {
				r.ch.entry = cur
			}
			continue
		}
		if node.Kind != fstree.Dir {
			return "", nil, fstree.ErrNotDir
		}
		next := join(cur, part)
		if top && last {
			r.ch.entry = next
		}
		child := node.Child(part)
		if child == nil {
			return "", nil, fs.ErrNotExist
		}
		if child.Kind == fstree.Symlink && (!last || follow) {
			r.hops++
			if r.hops > maxHops {
				return "", nil, fstree.ErrLoop
			}
			r.ch.links = append(r.ch.links, next)
			base, baseNode := cur, node
			if strings.HasPrefix(child.Target, "/") {
				base, baseNode = "/", r.tree.Root()
			}
			tcur, tnode, err := r.walk(base, baseNode, strings.Split(child.Target, "/"), true, false)
			if err != nil {
				return "", nil, err
			}
			if !last && tnode.Kind == fstree.Dir {
				r.ch.dirs = append(r.ch.dirs, tcur)
			}
			cur, node = tcur, tnode
			continue
		}
		cur, node = next, child
	}
	return cur, node, nil
}
