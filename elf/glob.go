package elf

import (
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/smith-build/smith/fstree"
)

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// glob expands pattern against the tree and returns the matching paths that
// exist (a dangling symlink exists), sorted. A pattern without
// metacharacters is returned as it is when it exists. Matches keep the
// spelling of the pattern's literal components, so that resolving them later
// crosses (and keeps) the same symlinks. Without doubleStar, `**` is an
// ordinary pattern (like `*`), as in glob(3).
func (c *closure) glob(pattern string, doubleStar bool) ([]string, error) {
	if !hasMeta(pattern) {
		if _, err := c.resolve(pattern, false); err != nil {
			return nil, nil
		}
		return []string{pattern}, nil
	}
	parts := strings.Split(pattern, "/")
	cur := []string{""} // "" is the root
	for i, part := range parts {
		if part == "" {
			continue
		}
		last := true
		for _, rest := range parts[i+1:] {
			if rest != "" {
				last = false
				break
			}
		}
		var next []string
		switch {
		case part == "**" && doubleStar:
			for _, prefix := range cur {
				next = append(next, prefix)
				c.descend(prefix, last, &next)
			}
		case hasMeta(part):
			if _, err := path.Match(part, ""); err != nil {
				return nil, err
			}
			for _, prefix := range cur {
				dir := c.dirNode(prefix)
				if dir == nil {
					continue
				}
				for _, name := range dir.Children() {
					if ok, _ := path.Match(part, name); ok {
						next = append(next, prefix+"/"+name)
					}
				}
			}
		default:
			for _, prefix := range cur {
				next = append(next, prefix+"/"+part)
			}
		}
		cur = dedupe(next)
		if len(cur) == 0 {
			return nil, nil
		}
	}
	var out []string
	for _, p := range cur {
		if p == "" {
			p = "/"
		}
		if _, err := c.resolve(p, false); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// dirNode returns the directory that prefix resolves to, or nil.
func (c *closure) dirNode(prefix string) *fstree.Inode {
	ch, err := c.resolve(prefix+"/", true)
	if err != nil || ch.node.Kind != fstree.Dir {
		return nil
	}
	return ch.node
}

// descend appends what `**` matches below prefix: every real directory, and
// when `**` is the last component every entry. Directory symlinks are not
// descended, so the expansion is finite.
func (c *closure) descend(prefix string, all bool, out *[]string) {
	dir := c.dirNode(prefix)
	if dir == nil {
		return
	}
	var rec func(p string, n *fstree.Inode)
	rec = func(p string, n *fstree.Inode) {
		for _, name := range n.Children() {
			child := n.Child(name)
			q := p + "/" + name
			if child.Kind == fstree.Dir {
				*out = append(*out, q)
				rec(q, child)
			} else if all {
				*out = append(*out, q)
			}
		}
	}
	rec(prefix, dir)
}

func dedupe(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}
