package elf

import (
	"bytes"
	"path"
	"strings"

	"github.com/smith-build/smith/fstree"
)

// scriptDeps queues the interpreter of a "#!" script, and for
// `#!/usr/bin/env NAME` the command NAME found in the search path.
func (c *closure) scriptDeps(o object, b []byte) {
	interp, arg := shebang(b)
	if interp == "" {
		c.warnf("%s: script has no interpreter after #!", o.path)
		return
	}
	if !c.command(interp) {
		c.warnf("%s: script interpreter %s not found", o.path, interp)
		return
	}
	if path.Base(interp) != "env" {
		return
	}
	name := envCommand(arg)
	switch {
	case name == "":
	case strings.Contains(name, "/"):
		if !c.command(name) {
			c.warnf("%s: %s (run by %s) not found", o.path, name, interp)
		}
	default:
		for _, d := range c.cmdPath {
			if c.command(d + "/" + name) {
				return
			}
		}
		c.warnf("%s: %s (run by %s) not found in %s", o.path, name, interp, strings.Join(c.cmdPath, ":"))
	}
}

// command keeps the executable file p (and the links leading to it) and
// queues it for analysis. It reports false, keeping nothing, when p does
// not resolve to a regular file.
func (c *closure) command(p string) bool {
	ch, err := c.resolve(p, true)
	if err != nil || ch.node.Kind != fstree.File {
		return false
	}
	c.keep(ch, true)
	c.enqueue(object{path: ch.path, origin: path.Dir(ch.path)})
	return true
}

// shebang splits a "#!" line the way the kernel does: the interpreter is the
// first word, and the rest of the line (trimmed) is one optional argument.
// Only the first maxShebang bytes count.
func shebang(b []byte) (interp, arg string) {
	b = b[2:]
	if len(b) > maxShebang-2 {
		b = b[:maxShebang-2]
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	line := strings.Trim(string(b), " \t")
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		return line[:i], strings.Trim(line[i+1:], " \t")
	}
	return line, ""
}

// envCommand returns the command that env(1) would run for the shebang
// argument arg: the first word that is neither an option (nor an option's
// value) nor a NAME=VALUE assignment. The kernel passes arg as one word;
// env splits it only with -S, but looking at the words is right either way
// for finding the command.
func envCommand(arg string) string {
	words := strings.Fields(arg)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-u" || w == "-C" || w == "--unset" || w == "--chdir":
			i++ // the option's value
		case strings.HasPrefix(w, "-S") && len(w) > 2:
			return envCommand(w[2:] + " " + strings.Join(words[i+1:], " "))
		case strings.HasPrefix(w, "-"):
		case strings.Contains(w, "="):
		default:
			return w
		}
	}
	return ""
}
