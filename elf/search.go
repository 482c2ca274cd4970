package elf

import (
	delf "debug/elf"
	"path"
	"slices"
	"strings"

	"github.com/smith-build/smith/fstree"
)

// searchDir is one directory of a library search list.
type searchDir struct {
	dir  string
	conf bool // it came from ld.so.conf (ld.so finds it only through ld.so.cache)
}

// elfDeps queues the program interpreter and the DT_NEEDED libraries of the
// ELF object o.
func (c *closure) elfDeps(o object, b []byte) {
	in, err := parse(b)
	if err != nil {
		c.warnf("%s: malformed ELF file: %v", o.path, err)
		return
	}
	if in.interp != "" {
		ch, err := c.resolve(in.interp, true)
		if err != nil || ch.node.Kind != fstree.File {
			c.missing(in.interp)
			c.warnf("%s: program interpreter %s not found", o.path, in.interp)
		} else {
			c.keep(ch, true)
			c.enqueue(object{path: ch.path, origin: path.Dir(ch.entry)})
		}
	}
	if len(in.needed) == 0 {
		return
	}
	// ld.so ignores DT_RPATH when DT_RUNPATH is present. Otherwise it
	// searches the object's DT_RPATH, then its loader's, and so on up to
	// the program; an object with DT_RUNPATH has no DT_RPATH to add to that
	// chain but passes on its loaders'.
	var own []string
	if !in.hasRunpath {
		own = c.expandList(in.rpath, o.origin, in.class)
	}
	inherited := append(slices.Clip(own), o.inherited...)
	if len(inherited) > maxInherited {
		inherited = inherited[:maxInherited]
	}
	var dirs []searchDir
	seen := map[string]bool{}
	addDirs := func(list []string, conf bool) {
		for _, d := range list {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, searchDir{dir: d, conf: conf})
			}
		}
	}
	if !in.hasRunpath {
		addDirs(own, false)
		addDirs(o.inherited, false)
	}
	addDirs(c.expandList(c.opt.LibraryPath, o.origin, in.class), false)
	addDirs(c.expandList(in.runpath, o.origin, in.class), false)
	addDirs(c.ldSoConf(), true)
	addDirs(defaultDirs(in.class), false)

	for _, name := range in.needed {
		ch, conf, ok := c.findLib(name, in, dirs)
		if !ok {
			c.missing(name)
			c.warnf("%s: needed library %s not found", o.path, name)
			continue
		}
		c.keep(ch, true)
		if conf && !slices.Contains(c.confLibs, ch.entry) && !c.isDefaultDir(path.Dir(ch.entry), in.class) {
			c.confLibs = append(c.confLibs, ch.entry)
		}
		c.enqueue(object{path: ch.path, origin: path.Dir(ch.entry), inherited: inherited})
	}
}

// findLib looks for the library name the way ld.so does: a name with a
// slash is a path, any other name is tried in each directory in turn, and
// the first regular file of the right class, byte order and machine wins.
func (c *closure) findLib(name string, in *info, dirs []searchDir) (chain, bool, bool) {
	try := func(p string) (chain, bool) {
		ch, err := c.resolve(p, true)
		if err != nil || ch.node.Kind != fstree.File || !compatible(ch.node.Data, in) {
			return chain{}, false
		}
		return ch, true
	}
	if strings.Contains(name, "/") {
		ch, ok := try(name)
		return ch, false, ok
	}
	for _, d := range dirs {
		// No path.Join: ".." after a directory symlink must climb from
		// the symlink's target, so the path is resolved as written.
		if ch, ok := try(d.dir + "/" + name); ok {
			return ch, d.conf, true
		}
	}
	return chain{}, false, false
}

func defaultDirs(class delf.Class) []string {
	if class == delf.ELFCLASS64 {
		return []string{"/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	}
	return []string{"/lib", "/usr/lib"}
}

// isDefaultDir reports whether the canonical directory dir is one of the
// default directories of class, which ld.so searches without a cache.
func (c *closure) isDefaultDir(dir string, class delf.Class) bool {
	for _, d := range defaultDirs(class) {
		if ch, err := c.resolve(d, true); err == nil && ch.path == dir {
			return true
		}
	}
	return false
}

// expandList expands dynamic string tokens in a search list and drops the
// entries that cannot be searched: relative ones (ld.so would use the
// working directory of the process, unknown here) and those using
// $PLATFORM (unknown until run time).
func (c *closure) expandList(list []string, origin string, class delf.Class) []string {
	var out []string
	for _, e := range list {
		if len(out) == maxPathEntries {
			break
		}
		x, ok := expandDST(e, origin, class)
		if ok && strings.HasPrefix(x, "/") {
			out = append(out, x)
		}
	}
	return out
}

// expandDST substitutes $ORIGIN, $LIB and their ${...} forms as ld.so does:
// a token ends at the first character that cannot be part of a name, other
// `$` sequences stay as they are. It reports false for $PLATFORM.
func expandDST(s, origin string, class delf.Class) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		name, n := dstName(s[i+1:])
		switch name {
		case "ORIGIN":
			b.WriteString(origin)
		case "LIB":
			if class == delf.ELFCLASS64 {
				b.WriteString("lib64")
			} else {
				b.WriteString("lib")
			}
		case "PLATFORM":
			return "", false
		default:
			b.WriteByte('$')
			i++
			continue
		}
		i += 1 + n
	}
	return b.String(), true
}

// dstName returns the token name after a '$' ("NAME" or "{NAME}") and how
// many bytes it spans.
func dstName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		if j := strings.IndexByte(s, '}'); j > 0 {
			return s[1:j], j + 1
		}
		return "", 0
	}
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], n
}

// ldSoConf returns the directories listed in the tree's /etc/ld.so.conf and
// the files it includes, in order. ldconfig turns them into ld.so.cache,
// which ld.so searches after DT_RUNPATH and before the default directories.
func (c *closure) ldSoConf() []string {
	if !c.confDone {
		c.confDone = true
		c.parseConf("/etc/ld.so.conf", map[string]bool{}, 0)
	}
	return c.conf
}

func (c *closure) parseConf(name string, seen map[string]bool, depth int) {
	if depth > maxConfDepth {
		c.warnf("%s: ld.so.conf includes nested more than %d deep", name, maxConfDepth)
		return
	}
	ch, err := c.resolve(name, true)
	if err != nil || ch.node.Kind != fstree.File || seen[ch.path] {
		return
	}
	seen[ch.path] = true
	for _, line := range strings.Split(string(ch.node.Data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "include":
			for _, pat := range fields[1:] {
				if c.includes++; c.includes > maxConfInclude {
					c.warnf("%s: more than %d include patterns in ld.so.conf files; ignoring the rest", name, maxConfInclude)
					return
				}
				if !strings.HasPrefix(pat, "/") {
					// Relative to the directory of the including file.
					pat = path.Dir(name) + "/" + pat
				}
				matches, err := c.glob(pat, false)
				if err != nil {
					c.warnf("%s: include %s: %v", name, pat, err)
					continue
				}
				for _, m := range matches {
					c.parseConf(m, seen, depth+1)
				}
			}
			continue
		case "hwcap":
			continue
		}
		// One directory per line; old files also separate them with
		// commas or colons, and may add "=TYPE" (libc4/libc5/libc6).
		for _, d := range strings.FieldsFunc(line, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == ',' || r == ':'
		}) {
			if i := strings.IndexByte(d, '='); i >= 0 {
				d = d[:i]
			}
			if !strings.HasPrefix(d, "/") {
				continue
			}
			if len(c.conf) == maxConfDirs {
				c.warnf("%s: more than %d directories in ld.so.conf files; ignoring the rest", name, maxConfDirs)
				return
			}
			c.conf = append(c.conf, d)
		}
	}
}
