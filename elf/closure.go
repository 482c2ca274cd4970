// Package elf computes the path closure of a microcontainer: the paths named
// in smith.yaml `paths`, expanded against the installed tree, plus everything
// they need at run time.
//
// Contract of Closure:
//   - Roots are paths or patterns. A pattern component uses path.Match syntax
//     (`*`, `?`, `[...]`, `\` escapes; `*` also matches names starting with a
//     dot), and a component that is exactly `**` matches zero or more
//     directories (it descends real directories only, never directory
//     symlinks). Intermediate directory symlinks are followed while matching.
//     A root that matches nothing (or is empty) is a *NotFoundError; no
//     roots give an empty result.
//   - A root that is (or resolves to) a directory is taken with everything
//     below it. A symlink met inside such a directory is kept together with
//     its target; a directory target is kept as an entry, not copied
//     recursively.
//   - Every symlink crossed while resolving a kept path is kept: final
//     components and intermediate directory links (/lib64 -> usr/lib64)
//     alike. A dangling symlink is kept and reported through Options.Warn.
//   - Every regular file whose content starts with the ELF magic (whatever its
//     mode bits) pulls in its PT_INTERP and its DT_NEEDED libraries, searched
//     the way ld.so does: the DT_RPATH of the object and of the objects that
//     loaded it (only when the object has no DT_RUNPATH), LibraryPath,
//     DT_RUNPATH, the directories of /etc/ld.so.conf (with `include`), then
//     the default directories of the ELF class; candidates of another class,
//     byte order or machine are skipped. $ORIGIN is the canonical directory
//     of a root, and for a library the canonical directory holding the entry
//     it was found under (ld.so's l_origin); $LIB is lib64 or lib by class;
//     entries using $PLATFORM are skipped.
//   - Every regular file starting with "#!" pulls in its interpreter, and for
//     `#!/usr/bin/env NAME` also NAME from Options.Path.
//   - A library found only through an ld.so.conf directory that is not a
//     default directory needs /etc/ld.so.cache at run time: the tree's cache
//     is kept when there is one, otherwise a warning names the libraries.
//   - Separate debug files (program headers pointing into SHT_NOBITS
//     sections) and relocatable objects pull in nothing.
//   - Dependencies are followed recursively; each object is analysed once
//     per $ORIGIN it is reached with. Problems in the inputs (malformed ELF,
//     missing library or interpreter, dangling symlink, symlink loop) are
//     warnings, never errors or panics; per-object limits (1024 DT_NEEDED
//     names, 256 entries per search list) bound the work of hostile files.
//   - The result is every path to copy, each with symlink-free parent
//     directories (fstree RealDir form, the final component possibly a
//     symlink), sorted bytewise, without duplicates and without "/". Parent
//     directories of a result path are not listed unless needed in their
//     own right; fstree.Copier creates them.
//
// Symlinks are resolved with the kernel's rules inside the tree: ".." after a
// directory symlink climbs from the link's target, not from the link.
package elf

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/smith-build/smith/fstree"
)

// Options tunes Closure.
type Options struct {
	// LibraryPath (an OCI source image's LD_LIBRARY_PATH) is searched where
	// ld.so searches LD_LIBRARY_PATH: after DT_RPATH, before DT_RUNPATH.
	// $ORIGIN and $LIB in it expand as in DT_RUNPATH.
	LibraryPath []string
	// Path is searched for the command of `#!/usr/bin/env NAME` scripts (an
	// OCI source image's PATH). Empty means /usr/local/bin /usr/bin /bin
	// /usr/local/sbin /usr/sbin /sbin.
	Path []string
	// Warn receives one-line warnings (an unresolvable DT_NEEDED names the
	// library and the file needing it), each once, control characters
	// escaped as \xNN. Nil discards them.
	Warn func(msg string)
	// Missing, when set, receives every DT_NEEDED name and ELF program
	// interpreter the tree does not resolve, as written in the file (once
	// per object that needs it).
	Missing func(name string)
}

// NotFoundError reports a root that matches nothing in the tree.
type NotFoundError struct {
	Path string // the root as written
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("path %q not found in the installed packages", e.Path)
}

// Unwrap makes errors.Is(err, fs.ErrNotExist) true.
func (e *NotFoundError) Unwrap() error { return fs.ErrNotExist }

// Limits on what one object may ask for. Real objects stay far below them;
// they bound the work a hostile file can cause.
const (
	maxNeeded      = 1024 // distinct DT_NEEDED names per object
	maxPathEntries = 256  // entries per DT_RPATH/DT_RUNPATH/LibraryPath list
	maxInherited   = 256  // inherited DT_RPATH directories
	maxShebang     = 256  // bytes of a "#!" line the kernel looks at
	maxConfDepth   = 16   // nesting of ld.so.conf includes
	maxConfInclude = 1024 // include patterns expanded in all ld.so.conf files
	maxConfDirs    = 1024 // directories taken from all ld.so.conf files
)

// Closure expands roots against tree and returns every path that must be
// copied into the microcontainer. See the package documentation.
func Closure(tree *fstree.Tree, roots []string, opt Options) ([]string, error) {
	if tree == nil {
		return nil, errors.New("elf: closure of a nil tree")
	}
	c := &closure{
		tree:    tree,
		opt:     opt,
		out:     map[string]struct{}{},
		warned:  map[string]struct{}{},
		queued:  map[string]struct{}{},
		walked:  map[string]struct{}{},
		cmdPath: opt.Path,
	}
	if len(c.cmdPath) == 0 {
		c.cmdPath = []string{"/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"}
	}
	// Expand every root before taking any, so that the order of roots
	// cannot change the result and a bad root fails before any work.
	var matches []string
	for _, r := range roots {
		if r == "" {
			return nil, &NotFoundError{Path: r}
		}
		m, err := c.glob(r, true)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", r, err)
		}
		if len(m) == 0 {
			return nil, &NotFoundError{Path: r}
		}
		matches = append(matches, m...)
	}
	sort.Strings(matches)
	for i, m := range matches {
		if i > 0 && m == matches[i-1] {
			continue
		}
		c.root(m)
	}
	for len(c.queue) > 0 {
		o := c.queue[0]
		c.queue = c.queue[1:]
		c.analyze(o)
	}
	c.finish()
	out := make([]string, 0, len(c.out))
	for p := range c.out {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

type closure struct {
	tree    *fstree.Tree
	opt     Options
	cmdPath []string

	out    map[string]struct{} // the result
	warned map[string]struct{} // warnings already given
	queued map[string]struct{} // objects queued, by path and origin
	walked map[string]struct{} // directories taken recursively
	queue  []object

	conf     []string // ld.so.conf directories, loaded lazily
	confDone bool
	includes int      // include patterns expanded so far
	confLibs []string // libraries that only ld.so.cache finds at run time
}

// object is a regular file to analyse for run-time dependencies.
type object struct {
	path      string   // canonical path
	origin    string   // what $ORIGIN expands to
	inherited []string // expanded DT_RPATH directories of the loaders, nearest first
}

// missing reports an unresolved library or interpreter to Options.Missing.
func (c *closure) missing(name string) {
	if c.opt.Missing != nil {
		c.opt.Missing(name)
	}
}

// warnf reports a problem once. Names come from hostile inputs, so control
// characters are escaped: a warning is always one printable line.
func (c *closure) warnf(format string, args ...any) {
	msg := escapeControls(fmt.Sprintf(format, args...))
	if _, ok := c.warned[msg]; ok {
		return
	}
	c.warned[msg] = struct{}{}
	if c.opt.Warn != nil {
		c.opt.Warn(msg)
	}
}

func (c *closure) add(p string) {
	if p != "/" && p != "" {
		c.out[p] = struct{}{}
	}
}

// keep adds what a resolution went through: its symlinks, the result, and
// the directories that symlinks in the middle of the path pointed at unless
// they are parents of something kept anyway (a link whose target a later
// ".." climbed out of would otherwise dangle in the copy).
func (c *closure) keep(ch chain, found bool) {
	kept := ch.links
	if found {
		kept = append(kept[:len(kept):len(kept)], ch.path)
	}
	for _, p := range kept {
		c.add(p)
	}
	for _, d := range ch.dirs {
		implied := false
		for _, p := range kept {
			if p == d || strings.HasPrefix(p, d+"/") || d == "/" {
				implied = true
				break
			}
		}
		if !implied {
			c.add(d)
		}
	}
}

// brokenLink warns about a resolution of p that failed after crossing
// symlinks.
func (c *closure) brokenLink(p string, ch chain, err error) {
	switch {
	case errors.Is(err, fstree.ErrLoop):
		c.warnf("%s: too many levels of symbolic links", p)
	case len(ch.links) > 0:
		last := ch.links[len(ch.links)-1]
		target := ""
		if n, lerr := c.tree.Lookup(last); lerr == nil {
			target = n.Target
		}
		c.warnf("dangling symlink %s -> %s (kept)", last, target)
	default:
		c.warnf("%s: %v", p, err)
	}
}

// root takes one expanded root. It exists (glob checked it without
// following a final symlink).
func (c *closure) root(p string) {
	ch, err := c.resolve(p, true)
	c.keep(ch, err == nil)
	if err != nil {
		c.brokenLink(p, ch, err)
		return
	}
	switch ch.node.Kind {
	case fstree.Dir:
		c.walk(ch.path)
	case fstree.File:
		c.enqueue(object{path: ch.path, origin: path.Dir(ch.path)})
	}
}

// walk takes the canonical directory dir and everything below it.
func (c *closure) walk(dir string) {
	err := c.tree.Walk(dir, func(q string, n *fstree.Inode) error {
		switch n.Kind {
		case fstree.Dir:
			if _, ok := c.walked[q]; ok {
				return fs.SkipDir
			}
			c.walked[q] = struct{}{}
			c.add(q)
		case fstree.File:
			c.add(q)
			c.enqueue(object{path: q, origin: path.Dir(q)})
		case fstree.Symlink:
			ch, err := c.resolve(q, true)
			c.keep(ch, err == nil)
			if err != nil {
				c.brokenLink(q, ch, err)
				return nil
			}
			if ch.node.Kind == fstree.File {
				c.enqueue(object{path: ch.path, origin: path.Dir(ch.path)})
			}
		}
		return nil
	})
	if err != nil {
		c.warnf("%s: %v", dir, err)
	}
}

func (c *closure) enqueue(o object) {
	key := o.path + "\x00" + o.origin
	if _, ok := c.queued[key]; ok {
		return
	}
	c.queued[key] = struct{}{}
	c.queue = append(c.queue, o)
}

// analyze adds the run-time dependencies of one regular file.
func (c *closure) analyze(o object) {
	n, err := c.tree.Lookup(o.path)
	if err != nil || n.Kind != fstree.File {
		return
	}
	switch {
	case isELF(n.Data):
		c.elfDeps(o, n.Data)
	case len(n.Data) >= 2 && n.Data[0] == '#' && n.Data[1] == '!':
		c.scriptDeps(o, n.Data)
	}
}

// finish deals with libraries that only the ld.so cache would find at run
// time: keep the tree's cache when there is one, warn otherwise.
func (c *closure) finish() {
	if len(c.confLibs) == 0 {
		return
	}
	const cache = "/etc/ld.so.cache"
	if ch, err := c.resolve(cache, true); err == nil && ch.node.Kind == fstree.File {
		c.keep(ch, true)
		return
	}
	c.warnf("%s found through /etc/ld.so.conf, but the tree has no %s: the loader will not find them at run time unless LD_LIBRARY_PATH names their directories",
		strings.Join(c.confLibs, ", "), cache)
}

func escapeControls(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
