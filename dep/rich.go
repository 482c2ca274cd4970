package dep

import (
	"fmt"
	"strconv"
	"strings"
)

// Op is the operator of a rich-dependency node.
type Op uint8

const (
	// OpAtom is a leaf: a plain (possibly versioned) relation.
	OpAtom Op = iota
	// OpAnd: all operands (two or more).
	OpAnd
	// OpOr: at least one operand (two or more).
	OpOr
	// OpIf: Args[0] if Args[1], else Args[2] when there are three.
	OpIf
	// OpUnless: Args[0] unless Args[1], else Args[2] when there are three.
	OpUnless
	// OpWith: one package satisfying all operands (two or more).
	OpWith
	// OpWithout: a package satisfying Args[0] but not Args[1].
	OpWithout
)

// String returns the keyword of the operator ("" for OpAtom).
func (o Op) String() string {
	switch o {
	case OpAtom:
		return ""
	case OpAnd:
		return "and"
	case OpOr:
		return "or"
	case OpIf:
		return "if"
	case OpUnless:
		return "unless"
	case OpWith:
		return "with"
	case OpWithout:
		return "without"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Expr is a parsed rich dependency. A leaf (Op == OpAtom) holds Atom; an
// inner node holds its operands in Args, in source order. Chains of the same
// and/or/with operator are one node with more than two operands, as rpm
// parses "(a and b and c)".
type Expr struct {
	Op   Op
	Atom Relation
	Args []Expr
}

// MaxRichDepth bounds the nesting of parentheses ParseRich accepts; deeper
// input is rejected rather than risking unbounded recursion on hostile data.
const MaxRichDepth = 64

// MaxRichOperands bounds the operands (atoms and nested expressions) of one
// rich dependency. Real ones have a handful; a hostile repository could
// otherwise make one dependency cost hundreds of megabytes of nodes.
const MaxRichOperands = 4096

// SyntaxError is the error ParseRich returns for malformed input.
type SyntaxError struct {
	Input  string // the whole dependency string
	Offset int    // byte offset where parsing failed
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("rich dependency %s: %s at offset %d", quoteClipped(e.Input), e.Msg, e.Offset)
}

// maxQuoted bounds what an error message quotes of its input: a hostile
// repository can put megabytes in one dependency, and an error is one line.
const maxQuoted = 120

// quoteClipped quotes s, or its start and its length when it is long.
func quoteClipped(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:maxQuoted-20], len(s))
}

// ParseRich parses a boolean dependency such as
// "((foo >= 1.0 and bar) or baz if qux else quux)" with rpm's grammar: the
// whole expression and every nested one is parenthesised; and, or and with
// may be chained, other operators may not, and else only follows if or
// unless. Atoms are "name" or "name OP evr"; names may contain balanced
// parentheses ("libc.so.6()(64bit)").
func ParseRich(s string) (Expr, error) {
	p := richParser{s: s}
	p.skipSpace()
	e, err := p.expr(1)
	if err != nil {
		return Expr{}, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return Expr{}, p.errorf("trailing text %s", quoteClipped(p.s[p.i:]))
	}
	return e, nil
}

type richParser struct {
	s        string
	i        int
	operands int
}

func (p *richParser) errorf(format string, args ...any) error {
	return &SyntaxError{Input: p.s, Offset: p.i, Msg: fmt.Sprintf(format, args...)}
}

func (p *richParser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// word scans a token up to white space, ',' or an unbalanced ')', keeping
// balanced parentheses inside the token as rpm's SKIPNONWHITEX does.
// Callers reject tokens left with an open '(' (see balanced).
func (p *richParser) word() string {
	start, level := p.i, 0
	for p.i < len(p.s) {
		c := p.s[p.i]
		if isSpace(c) || c == ',' {
			break
		}
		if c == ')' {
			if level == 0 {
				break
			}
			level--
		}
		if c == '(' {
			level++
		}
		p.i++
	}
	return p.s[start:p.i]
}

// expr parses "( operand [op operand]... )" at p.i.
func (p *richParser) expr(depth int) (Expr, error) {
	if depth > MaxRichDepth {
		return Expr{}, p.errorf("nested deeper than %d", MaxRichDepth)
	}
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return Expr{}, p.errorf("expected '('")
	}
	p.i++
	var (
		args  []Expr
		op    = OpAtom // the operator of this node, once seen
		elsed bool     // an else operand was added
	)
	for {
		p.skipSpace()
		a, err := p.operand(depth)
		if err != nil {
			return Expr{}, err
		}
		args = append(args, a)
		p.skipSpace()
		if p.i >= len(p.s) {
			return Expr{}, p.errorf("missing ')'")
		}
		if p.s[p.i] == ')' {
			p.i++
			break
		}
		at := p.i
		w := p.word()
		next, ok := parseOp(w)
		switch {
		case w == "else":
			if (op != OpIf && op != OpUnless) || len(args) != 2 || elsed {
				p.i = at
				return Expr{}, p.errorf("else without if or unless")
			}
			elsed = true
		case !ok:
			p.i = at
			return Expr{}, p.errorf("expected an operator or ')', found %s", quoteClipped(w))
		case op == OpAtom:
			op = next
		case next != op:
			p.i = at
			return Expr{}, p.errorf("cannot chain %q after %q", w, op)
		case op != OpAnd && op != OpOr && op != OpWith:
			p.i = at
			return Expr{}, p.errorf("cannot chain %q", w)
		}
	}
	if op == OpAtom {
		// "(foo)" and "((a or b))": the parentheses only group.
		return args[0], nil
	}
	return Expr{Op: op, Args: args}, nil
}

func parseOp(w string) (Op, bool) {
	for o := OpAnd; o <= OpWithout; o++ {
		if o.String() == w {
			return o, true
		}
	}
	return OpAtom, false
}

// operand parses a nested expression or an atom "name [OP evr]".
func (p *richParser) operand(depth int) (Expr, error) {
	if p.operands++; p.operands > MaxRichOperands {
		return Expr{}, p.errorf("more than %d operands", MaxRichOperands)
	}
	if p.i < len(p.s) && p.s[p.i] == '(' {
		return p.expr(depth + 1)
	}
	at := p.i
	name := p.word()
	if name == "" {
		return Expr{}, p.errorf("missing dependency name")
	}
	if _, isOp := parseOp(name); isOp || name == "else" {
		p.i = at
		return Expr{}, p.errorf("missing dependency name before %s", quoteClipped(name))
	}
	if !balanced(name) {
		p.i = at
		return Expr{}, p.errorf("unbalanced '(' in %s", quoteClipped(name))
	}
	r := Relation{Name: name}
	save := p.i
	p.skipSpace()
	opAt := p.i
	if w := p.word(); w != "" {
		if f, err := ParseFlag(w); err == nil && f != Any && isOperator(w) {
			p.skipSpace()
			v := p.word()
			if v == "" {
				p.i = opAt
				return Expr{}, p.errorf("missing version after %s", quoteClipped(w))
			}
			if !balanced(v) {
				p.i = opAt
				return Expr{}, p.errorf("unbalanced '(' in %s", quoteClipped(v))
			}
			r.Flags, r.EVR = f, ParseEVR(v)
			if r.EVR.IsZero() || ParseEVR(r.EVR.String()) != r.EVR {
				// Empty, or ambiguous like "1--": not a version rpm writes.
				p.i = opAt
				return Expr{}, p.errorf("malformed version %s", quoteClipped(v))
			}
			return Expr{Op: OpAtom, Atom: r}, nil
		}
	}
	p.i = save
	return Expr{Op: OpAtom, Atom: r}, nil
}

// balanced reports whether every '(' in a token is closed. rpm would accept
// "(a( )" as the name "a(", which cannot be written back unambiguously.
func balanced(w string) bool {
	return strings.Count(w, "(") == strings.Count(w, ")")
}

// isOperator rejects the repodata spellings ("GE"), which could be package
// names, inside a rich dependency.
func isOperator(w string) bool { return strings.Trim(w, "<>=!") == "" }

// String formats the expression in rpm's syntax, fully parenthesised, so
// that ParseRich(e.String()) returns an equal expression.
func (e Expr) String() string {
	var b strings.Builder
	e.write(&b, true)
	return b.String()
}

func (e Expr) write(b *strings.Builder, top bool) {
	if e.Op == OpAtom {
		if top {
			b.WriteByte('(')
		}
		b.WriteString(e.Atom.String())
		if top {
			b.WriteByte(')')
		}
		return
	}
	b.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			b.WriteByte(' ')
			if i == 2 && (e.Op == OpIf || e.Op == OpUnless) {
				b.WriteString("else")
			} else {
				b.WriteString(e.Op.String())
			}
			b.WriteByte(' ')
		}
		a.write(b, false)
	}
	b.WriteByte(')')
}

// Equal reports whether two expressions are structurally identical. Epochs
// compare as numbers, so "a >= 0:1" equals "a >= 1" (String drops a zero
// epoch, as rpm does).
func (e Expr) Equal(o Expr) bool {
	if e.Op != o.Op || len(e.Args) != len(o.Args) {
		return false
	}
	if e.Op == OpAtom {
		a, b := e.Atom, o.Atom
		return a.Name == b.Name && a.Flags == b.Flags && compareEpoch(a.EVR.Epoch, b.EVR.Epoch) == 0 &&
			a.EVR.Version == b.EVR.Version && a.EVR.Release == b.EVR.Release
	}
	for i := range e.Args {
		if !e.Args[i].Equal(o.Args[i]) {
			return false
		}
	}
	return true
}

// Atoms calls fn for every leaf relation, left to right.
func (e Expr) Atoms(fn func(Relation)) {
	if e.Op == OpAtom {
		fn(e.Atom)
		return
	}
	for _, a := range e.Args {
		a.Atoms(fn)
	}
}
