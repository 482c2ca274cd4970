package fstree

import (
	"errors"
	"strings"
	"testing"
)

// FuzzOps drives a tree with a random script of writes, links and lookups:
// nothing may panic or hang, and strict writes must never land outside
// what resolution inside the tree allows.
func FuzzOps(f *testing.F) {
	f.Add("d /usr/lib64\ns usr/lib64 /lib64\nf /lib64/libc.so.6\nr /lib64/libc.so.6")
	f.Add("s ../../.. /up\nf /up/etc/passwd\ns /a /b\ns /b /a\nr /a/x")
	f.Add("s . /self\nf /self/self/self/x\nl /self/x /y\nm /self")
	f.Fuzz(func(t *testing.T, script string) {
		tr := New()
		for _, line := range strings.Split(script, "\n") {
			op, arg, _ := strings.Cut(line, " ")
			a, b, _ := strings.Cut(arg, " ")
			switch op {
			case "d":
				_ = tr.Mkdir(a, 0o755, Owner{}, "")
			case "f":
				// Where the write lands is decided before it happens: the
				// write may replace a symlink that was part of its own path.
				rp, rerr := tr.RealDir(a)
				n, err := tr.WriteFile(a, []byte(a), 0o644, Owner{}, "")
				if err == nil && rerr == nil {
					if got, err := tr.Lookup(rp); err != nil || got != n {
						t.Fatalf("file written to %q not found at %q: %v", a, rp, err)
					}
				}
			case "s":
				_ = tr.Symlink(a, b, Owner{}, "")
			case "l":
				if n, err := tr.Follow(a); err == nil {
					_ = tr.Link(n, b)
				}
			case "m":
				_ = tr.Remove(a)
			case "r":
				if p, err := tr.Realpath(a); err == nil && !strings.HasPrefix(p, "/") {
					t.Fatalf("Realpath(%q) = %q is not rooted", a, p)
				}
			}
		}
		err := tr.Walk("/", func(p string, n *Inode) error {
			if !strings.HasPrefix(p, "/") || strings.Contains(p, "/../") {
				return errors.New("bad walk path " + p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = tr.Dump()
	})
}
