package dep

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func atom(name string) Expr { return Expr{Op: OpAtom, Atom: Relation{Name: name}} }

func TestParseRichInline(t *testing.T) {
	ge := func(name, v string) Expr {
		return Expr{Op: OpAtom, Atom: Relation{Name: name, Flags: GE, EVR: ParseEVR(v)}}
	}
	tests := []struct {
		in   string
		want Expr
		str  string // canonical String(); "" means same as in
	}{
		{in: "(foo)", want: atom("foo")},
		{in: "(foo >= 1.0 or bar)", want: Expr{Op: OpOr, Args: []Expr{ge("foo", "1.0"), atom("bar")}}},
		{in: "(a and b and c)", want: Expr{Op: OpAnd, Args: []Expr{atom("a"), atom("b"), atom("c")}}},
		{in: "(a with b with c)", want: Expr{Op: OpWith, Args: []Expr{atom("a"), atom("b"), atom("c")}}},
		{in: "(a without b)", want: Expr{Op: OpWithout, Args: []Expr{atom("a"), atom("b")}}},
		{in: "(a if b)", want: Expr{Op: OpIf, Args: []Expr{atom("a"), atom("b")}}},
		{in: "(a if b else c)", want: Expr{Op: OpIf, Args: []Expr{atom("a"), atom("b"), atom("c")}}},
		{in: "(a unless b)", want: Expr{Op: OpUnless, Args: []Expr{atom("a"), atom("b")}}},
		{in: "(a unless b else c)", want: Expr{Op: OpUnless, Args: []Expr{atom("a"), atom("b"), atom("c")}}},
		{
			in:   "((pam >= 1.3.1-15) if openssh)",
			want: Expr{Op: OpIf, Args: []Expr{ge("pam", "1.3.1-15"), atom("openssh")}},
			str:  "(pam >= 1.3.1-15 if openssh)",
		},
		{
			in: "((a or b) and (c if d else e))",
			want: Expr{Op: OpAnd, Args: []Expr{
				{Op: OpOr, Args: []Expr{atom("a"), atom("b")}},
				{Op: OpIf, Args: []Expr{atom("c"), atom("d"), atom("e")}},
			}},
		},
		{
			in:   "(  libc.so.6()(64bit)   and\tpython3.9dist(pysocks) >= 1:1.5.6-2  )",
			want: Expr{Op: OpAnd, Args: []Expr{atom("libc.so.6()(64bit)"), ge("python3.9dist(pysocks)", "1:1.5.6-2")}},
			str:  "(libc.so.6()(64bit) and python3.9dist(pysocks) >= 1:1.5.6-2)",
		},
		{in: "(a = 1 or b < 2 or c <= 3 or d > 4)", want: Expr{Op: OpOr, Args: []Expr{
			{Atom: Relation{Name: "a", Flags: EQ, EVR: EVR{Version: "1"}}},
			{Atom: Relation{Name: "b", Flags: LT, EVR: EVR{Version: "2"}}},
			{Atom: Relation{Name: "c", Flags: LE, EVR: EVR{Version: "3"}}},
			{Atom: Relation{Name: "d", Flags: GT, EVR: EVR{Version: "4"}}},
		}}},
	}
	for _, tt := range tests {
		got, err := ParseRich(tt.in)
		if err != nil {
			t.Errorf("ParseRich(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseRich(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("ParseRich(%q).String() = %q, want %q", tt.in, got.String(), str)
		}
	}
}

func TestParseRichErrors(t *testing.T) {
	for _, in := range []string{
		"", "foo", "(", "()", "(a", "(a and)", "(and b)", "(a b)", "(a and b or c)",
		"(a if b if c)", "(a if b else c else d)", "(a else b)", "(a and b else c)",
		"(a without b without c)", "(a unless b unless c)", "(a >=)", "(a >= 1) x",
		"(a GE 1)", "(a >= -)", "((a)", "(a))",
		strings.Repeat("(", 65) + "a" + strings.Repeat(")", 65),
	} {
		_, err := ParseRich(in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseRich(%q) error = %v, want a *SyntaxError", in, err)
		}
	}
	deep := strings.Repeat("(", 64) + "a" + strings.Repeat(")", 64)
	if _, err := ParseRich(deep); err != nil {
		t.Errorf("depth 64 must parse: %v", err)
	}
	_, err := ParseRich(strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100))
	if err == nil || !strings.Contains(err.Error(), "nested deeper than 64") {
		t.Errorf("depth error = %v", err)
	}
}

// TestParseRichCS9 parses every distinct rich dependency found in CentOS
// Stream 9 BaseOS and AppStream and checks that String() reparses equal.
func TestParseRichCS9(t *testing.T) {
	var data struct {
		Count int
		Deps  []struct{ Dep, Kind string }
	}
	if err := json.NewDecoder(openVector(t, "rich-deps-from-cs9-repodata.json")).Decode(&data); err != nil {
		t.Fatal(err)
	}
	if len(data.Deps) != 660 || data.Count != 660 {
		t.Errorf("read %d deps (count %d), want 660", len(data.Deps), data.Count)
	}
	for _, d := range data.Deps {
		e, err := ParseRich(d.Dep)
		if err != nil {
			t.Errorf("%s %q: %v", d.Kind, d.Dep, err)
			continue
		}
		e2, err := ParseRich(e.String())
		if err != nil || !e2.Equal(e) {
			t.Errorf("%q: String() = %q reparses to %v, %v", d.Dep, e.String(), e2, err)
		}
	}
}

func FuzzParseRich(f *testing.F) {
	for _, s := range []string{
		"(foo >= 1.0 or bar)", "(a if b else c)", "(a unless (b and c) else d)",
		"((python3.9dist(pysocks) < 1.5.7 or python3.9dist(pysocks) > 1.5.7) with python3.9dist(pysocks) >= 1.5.6)",
		"(glibc-langpack-en = 2.36-9.el9 if coreutils)", "(a without b)", "(a and (b or (c with d)))",
		"(x >= 1:2-3)", "((a))", "(a and", "(((", "(a >= ~)", "(a\tor\nb)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseRich(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseRich(%q): error of type %T", s, err)
			}
			return
		}
		out := e.String()
		e2, err := ParseRich(out)
		if err != nil {
			t.Fatalf("ParseRich(%q).String() = %q does not reparse: %v", s, out, err)
		}
		if !e2.Equal(e) {
			t.Fatalf("ParseRich(%q) = %#v; reparsed %q = %#v", s, e, out, e2)
		}
		if out2 := e2.String(); out2 != out {
			t.Fatalf("String not stable: %q then %q", out, out2)
		}
	})
}
