package dep

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestParseRichHostile: rich dependencies from a hostile repository (a
// million nested parentheses, a million-operand chain, a megabyte name)
// fail or parse in bounded time and memory (MaxRichDepth, MaxRichOperands),
// and their errors stay one short line.
func TestParseRichHostile(t *testing.T) {
	const n = 1 << 20
	chain := "(" + strings.Repeat("a and ", n) + "a)"
	for _, tc := range []struct {
		name   string
		in     string
		ok     bool
		maxMem uint64
	}{
		{"a million nested parentheses", strings.Repeat("(", n) + "a" + strings.Repeat(")", n), false, 1 << 20},
		{"a million unclosed parentheses", strings.Repeat("(", n), false, 1 << 20},
		{"nested just past the limit", strings.Repeat("(", MaxRichDepth+1) + "a" + strings.Repeat(")", MaxRichDepth+1), false, 1 << 20},
		{"a million-operand chain", chain, false, 8 << 20},
		{"the longest chain accepted", "(" + strings.Repeat("a and ", MaxRichOperands-1) + "a)", true, 8 << 20},
		{"a megabyte name", "(" + strings.Repeat("x", n) + " >= 1 or b)", true, 8 << 20},
		{"a megabyte version", "(a >= " + strings.Repeat("1.", n/2) + ")", true, 8 << 20},
		{"a megabyte bad operator", "(a " + strings.Repeat("X", n) + " b)", false, 8 << 20},
		{"a megabyte of trailing text", "(a)" + strings.Repeat("x", n), false, 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			start := time.Now()
			mem := allocated(func() { _, err = ParseRich(tc.in) })
			took := time.Since(start)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %.200v", err)
			}
			if err != nil {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Errorf("error of type %T", err)
				}
				if msg := err.Error(); len(msg) > 400 || strings.Contains(msg, "\n") {
					t.Errorf("error of %d bytes: %.300s", len(msg), msg)
				}
			}
			if mem > tc.maxMem {
				t.Errorf("allocated %d bytes for %d bytes of input (limit %d)", mem, len(tc.in), tc.maxMem)
			}
			// Not a timing assertion: a generous bound against a
			// quadratic parse, which would take minutes.
			if took > 20*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
	// A relation of a megabyte gives a short error too.
	if _, err := ParseRelation("a " + strings.Repeat("?", n) + " 1"); err == nil || len(err.Error()) > 400 {
		t.Errorf("ParseRelation error: %.300v", err)
	}
}
