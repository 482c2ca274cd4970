package repo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseMockConfig reads the repositories of a mock .cfg file without running
// Python: it finds config_opts['dnf.conf'] (or 'yum.conf') assignments whose
// value is made of string literals ('...', "...", ”'...”', """...""",
// concatenated with + or by juxtaposition, += appends), then parses that
// text as a .repo file with ParseRepoFile.
//
// Other simple assignments of string literals (config_opts['releasever'] =
// '9', config_opts['target_arch'] = 'x86_64') are collected too: they fill
// {{ name }} references of mock's Jinja templates and supply releasever,
// basearch and arch when vars lacks them. include('file') with one string
// literal is followed (relative paths from the directory of filename, as
// mock resolves them from its config directory); any other include form is
// ignored without error, as is every other Python statement. setopts are
// applied as ParseRepoFile applies them.
func ParseMockConfig(r io.Reader, filename string, vars map[string]string, setopts ...Setopt) ([]Source, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", filename, maxConfigSize)
	}
	m := &mockParser{
		opts:    map[string]string{},
		baseDir: filepath.Dir(filename),
		seen:    map[string]bool{},
	}
	if abs, err := filepath.Abs(filename); err == nil {
		m.seen[abs] = true
	}
	if err := m.run(string(data), filename, 0); err != nil {
		return nil, err
	}
	key := "dnf.conf"
	conf, ok := m.opts[key]
	if !ok {
		key = "yum.conf"
		if conf, ok = m.opts[key]; !ok {
			return nil, fmt.Errorf("%s: no config_opts['dnf.conf'] or config_opts['yum.conf'] string in the file", filename)
		}
	}
	vars = withDerivedVars(m.vars(vars))
	conf = expandJinja(conf, m.opts)
	srcs, err := ParseRepoFile(strings.NewReader(conf), fmt.Sprintf("%s (config_opts['%s'])", filename, key), vars, setopts...)
	if err != nil {
		return nil, err
	}
	return srcs, nil
}

// maxIncludeDepth bounds nested include() calls.
const maxIncludeDepth = 10

type mockParser struct {
	opts    map[string]string // config_opts string values
	baseDir string
	seen    map[string]bool // included files (cycle detection)
}

// vars returns the dnf variables: the caller's, completed from the
// config's own releasever and target_arch.
func (m *mockParser) vars(in map[string]string) map[string]string {
	out := make(map[string]string, len(in)+3)
	for k, v := range in {
		out[k] = v
	}
	if _, ok := out["releasever"]; !ok {
		if v, ok := m.opts["releasever"]; ok {
			out["releasever"] = v
		}
	}
	if ta, ok := m.opts["target_arch"]; ok {
		if _, ok := out["arch"]; !ok {
			out["arch"] = ta
		}
		if _, ok := out["basearch"]; !ok {
			out["basearch"] = baseArch(ta)
		}
	}
	return out
}

// baseArch maps an architecture to dnf's basearch for the few cases where
// they differ.
func baseArch(a string) string {
	switch a {
	case "i386", "i486", "i586", "i686", "athlon", "geode":
		return "i386"
	case "armv7hl", "armv7hnl", "armv7l", "armv6hl":
		return "armhfp"
	}
	return a
}

// expandJinja replaces {{ name }} with the string config option of that
// name; anything else between braces is left alone.
func expandJinja(s string, opts map[string]string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		b.WriteString(s[:i])
		if v, ok := opts[name]; ok && isVarName(name) {
			b.WriteString(v)
		} else if name == "repo_arch" {
			if ta, ok := opts["target_arch"]; ok {
				b.WriteString(baseArch(ta))
			} else {
				b.WriteString(s[i : i+j+2])
			}
		} else {
			b.WriteString(s[i : i+j+2])
		}
		s = s[i+j+2:]
	}
}

// run interprets the statements of one file.
func (m *mockParser) run(src, filename string, depth int) error {
	toks, err := pyLex(src, filename)
	if err != nil {
		return err
	}
	for _, stmt := range splitStatements(toks) {
		if err := m.statement(stmt, filename, depth); err != nil {
			return err
		}
	}
	return nil
}

func (m *mockParser) statement(t []pyTok, filename string, depth int) error {
	// include('path')
	if len(t) == 4 && t[0].is(pyName, "include") && t[1].is(pyOp, "(") && t[2].kind == pyString && t[3].is(pyOp, ")") {
		if t[2].fstring {
			return nil
		}
		return m.include(t[2].val, filename, t[0].line, depth)
	}
	// config_opts['key'] = / += literal...
	if len(t) < 5 || !t[0].is(pyName, "config_opts") || !t[1].is(pyOp, "[") || t[2].kind != pyString || !t[3].is(pyOp, "]") {
		return nil
	}
	key := t[2].val
	op := t[4]
	if !op.is(pyOp, "=") && !op.is(pyOp, "+=") {
		return nil
	}
	val, ok := literalConcat(t[5:])
	if !ok {
		if key == "dnf.conf" || key == "yum.conf" {
			return fmt.Errorf("%s:%d: config_opts['%s'] is not made of plain string literals; smith cannot evaluate it (write the repositories as a literal string or a .repo file)", filename, t[0].line, key)
		}
		return nil
	}
	if op.val == "+=" {
		val = m.opts[key] + val
	}
	m.opts[key] = val
	return nil
}

func (m *mockParser) include(p, from string, line, depth int) error {
	if depth >= maxIncludeDepth {
		return fmt.Errorf("%s:%d: include() nested more than %d deep", from, line, maxIncludeDepth)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(m.baseDir, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return fmt.Errorf("%s:%d: include(%q): %w", from, line, p, err)
	}
	if m.seen[abs] {
		return fmt.Errorf("%s:%d: include(%q) includes itself", from, line, p)
	}
	m.seen[abs] = true
	defer delete(m.seen, abs)
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("%s:%d: include: %w", from, line, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return fmt.Errorf("%s:%d: include: %w", from, line, err)
	}
	if len(data) > maxConfigSize {
		return fmt.Errorf("%s: larger than %d bytes", p, maxConfigSize)
	}
	return m.run(string(data), p, depth+1)
}

// literalConcat evaluates a sequence of string literals joined by '+' or
// juxtaposed, with any balanced parentheses (grouping cannot change the
// value of a pure concatenation). ok is false for anything else.
func literalConcat(t []pyTok) (string, bool) {
	var b strings.Builder
	wantString := true
	depth := 0
	for _, tok := range t {
		switch {
		case tok.is(pyOp, "("):
			depth++
		case tok.is(pyOp, ")"):
			if depth--; depth < 0 {
				return "", false
			}
		case tok.kind == pyString && !tok.fstring:
			b.WriteString(tok.val)
			wantString = false
		case tok.is(pyOp, "+") && !wantString:
			wantString = true
		default:
			return "", false
		}
	}
	if wantString || depth != 0 {
		return "", false
	}
	return b.String(), true
}

type pyKind uint8

const (
	pyName pyKind = iota + 1
	pyString
	pyOp
	pyOther
	pyNewline
)

type pyTok struct {
	kind    pyKind
	val     string
	line    int
	fstring bool // an f-string: not a literal we can evaluate
}

func (t pyTok) is(k pyKind, v string) bool { return t.kind == k && t.val == v }

// splitStatements cuts the token stream at logical newlines.
func splitStatements(toks []pyTok) [][]pyTok {
	var out [][]pyTok
	start := 0
	for i, t := range toks {
		if t.kind == pyNewline {
			if i > start {
				out = append(out, toks[start:i])
			}
			start = i + 1
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:])
	}
	return out
}

// pyLex tokenizes enough Python to find assignments of string literals:
// names, string literals (decoded), operators, and logical newlines (not
// inside brackets, not after a backslash continuation). Numbers and other
// characters become pyOther.
func pyLex(src, filename string) ([]pyTok, error) {
	var toks []pyTok
	line, nest := 1, 0
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			if nest == 0 {
				toks = append(toks, pyTok{kind: pyNewline, line: line})
			}
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\\' && i+1 < len(src) && (src[i+1] == '\n' || src[i+1] == '\r'):
			i++
			if src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n' {
				i++
			}
			i++
			line++
		case c == ';':
			if nest == 0 {
				toks = append(toks, pyTok{kind: pyNewline, line: line})
			}
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9' || src[j] >= 0x80) {
				j++
			}
			word := src[i:j]
			if j < len(src) && (src[j] == '\'' || src[j] == '"') && isStringPrefix(word) {
				tok, n, nl, err := lexString(src[j:], strings.ContainsAny(word, "rR"), filename, line)
				if err != nil {
					return nil, err
				}
				tok.fstring = strings.ContainsAny(word, "fF")
				toks = append(toks, tok)
				line += nl
				i = j + n
				continue
			}
			toks = append(toks, pyTok{kind: pyName, val: word, line: line})
			i = j
		case c == '\'' || c == '"':
			tok, n, nl, err := lexString(src[i:], false, filename, line)
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok)
			line += nl
			i += n
		case c == '(' || c == '[' || c == '{':
			nest++
			toks = append(toks, pyTok{kind: pyOp, val: string(c), line: line})
			i++
		case c == ')' || c == ']' || c == '}':
			if nest > 0 {
				nest--
			}
			toks = append(toks, pyTok{kind: pyOp, val: string(c), line: line})
			i++
		case c == '+' && i+1 < len(src) && src[i+1] == '=':
			toks = append(toks, pyTok{kind: pyOp, val: "+=", line: line})
			i += 2
		case c == '=' && i+1 < len(src) && src[i+1] == '=':
			toks = append(toks, pyTok{kind: pyOther, val: "==", line: line})
			i += 2
		case c == '=' || c == '+' || c == ',':
			toks = append(toks, pyTok{kind: pyOp, val: string(c), line: line})
			i++
		default:
			toks = append(toks, pyTok{kind: pyOther, val: string(c), line: line})
			i++
		}
	}
	return toks, nil
}

func isStringPrefix(w string) bool {
	if len(w) > 2 {
		return false
	}
	for _, c := range strings.ToLower(w) {
		if !strings.ContainsRune("rubf", c) {
			return false
		}
	}
	return true
}

// lexString decodes the Python string literal at the start of s. It
// returns the token, the bytes consumed and the newlines crossed.
func lexString(s string, raw bool, filename string, line int) (pyTok, int, int, error) {
	q := s[:1]
	if strings.HasPrefix(s, q+q+q) {
		q = q + q + q
	}
	var b strings.Builder
	nl := 0
	for i := len(q); i < len(s); {
		if strings.HasPrefix(s[i:], q) {
			return pyTok{kind: pyString, val: b.String(), line: line}, i + len(q), nl, nil
		}
		c := s[i]
		if c == '\n' {
			if len(q) == 1 {
				break
			}
			nl++
		}
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		e := s[i+1]
		if raw {
			// Raw strings keep the backslash, but it still protects the
			// quote from ending the literal.
			b.WriteByte('\\')
			b.WriteByte(e)
			if e == '\n' {
				nl++
			}
			i += 2
			continue
		}
		i += 2
		switch e {
		case '\n':
			nl++
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case 'x', 'u', 'U':
			n := 2
			if e == 'u' {
				n = 4
			} else if e == 'U' {
				n = 8
			}
			if i+n > len(s) {
				return pyTok{}, 0, 0, fmt.Errorf("%s:%d: truncated \\%c escape", filename, line+nl, e)
			}
			v, err := strconv.ParseUint(s[i:i+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return pyTok{}, 0, 0, fmt.Errorf("%s:%d: invalid \\%c escape", filename, line+nl, e)
			}
			b.WriteRune(rune(v))
			i += n
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i - 1
			for j < len(s) && j < i+2 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i-1:j], 8, 32)
			b.WriteRune(rune(v))
			i = j
		default:
			// Python keeps unknown escapes as written.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return pyTok{}, 0, 0, fmt.Errorf("%s:%d: unterminated string literal", filename, line)
}
