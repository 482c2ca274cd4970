package fstree

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Dump renders the tree as text, one entry per line, for golden tests and
// debugging:
//
//	/usr/bin/cat: file 0755 10:10 3f2a1b9c <1>
//	/lib64: symlink usr/lib64
//	/usr/bin/ping: file 0755 0:0 9e8f7a6b cap
//
// Files show octal mode (with setuid/setgid/sticky as 4000/2000/1000),
// uid:gid, the first 8 hex digits of the sha256 of their content, "<N>" when
// they belong to hardlink group N (numbered in walk order), and "xattr=NAME"
// for each extended attribute.
func (t *Tree) Dump() string {
	links := map[*Inode]int{}
	count := map[*Inode]int{}
	_ = t.Walk("/", func(_ string, n *Inode) error {
		if n.Kind == File {
			count[n]++
		}
		return nil
	})
	var b strings.Builder
	_ = t.Walk("/", func(p string, n *Inode) error {
		switch n.Kind {
		case Dir:
			fmt.Fprintf(&b, "%s: dir %04o %d:%d", p, octal(n.Mode), n.Owner.UID, n.Owner.GID)
		case Symlink:
			fmt.Fprintf(&b, "%s: symlink %s", p, n.Target)
		case File:
			sum := sha256.Sum256(n.Data)
			fmt.Fprintf(&b, "%s: file %04o %d:%d %x", p, octal(n.Mode), n.Owner.UID, n.Owner.GID, sum[:4])
			if count[n] > 1 {
				if links[n] == 0 {
					links[n] = len(links) + 1
				}
				fmt.Fprintf(&b, " <%d>", links[n])
			}
		}
		keys := make([]string, 0, len(n.Xattrs))
		for k := range n.Xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " xattr=%s", k)
		}
		b.WriteByte('\n')
		return nil
	})
	return b.String()
}

// octal renders a mode the Unix way: setuid 04000, setgid 02000, sticky 01000.
func octal(m fs.FileMode) uint32 {
	o := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		o |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		o |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		o |= 0o1000
	}
	return o
}

// UnixMode converts a Go file mode to the Unix permission bits (including
// setuid, setgid and sticky), without the type bits.
func UnixMode(m fs.FileMode) uint32 { return octal(m) }

// GoMode converts Unix permission bits (including 04000, 02000, 01000) to a
// Go file mode without type bits.
func GoMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
