package bytesize

import (
	"math"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "4096", want: 4096},
		{in: "1", want: 1},
		{in: "100B", want: 100},
		{in: "4K", want: 4 << 10},
		{in: "512M", want: 512 << 20},
		{in: "512m", want: 512 << 20},
		{in: "8G", want: 8 << 30},
		{in: "8GB", want: 8 << 30},
		{in: "8GiB", want: 8 << 30},
		{in: "8 gib", want: 8 << 30},
		{in: " 16G ", want: 16 << 30},
		{in: "1T", want: 1 << 40},
		{in: "8388607T", want: 8388607 << 40},
		{in: "8388608T", err: `size "8388608T": too large`},
		{in: "99999999999999999999", err: "too large"},
		{in: "0", err: `size "0": must be more than 0`},
		{in: "0G", err: "must be more than 0"},
		{in: "", err: "want a whole number of bytes"},
		{in: "G", err: "want a whole number of bytes"},
		{in: "-1", err: "want a whole number of bytes"},
		{in: "+1", err: "want a whole number of bytes"},
		{in: "1.5G", err: `size "1.5G": want a whole number of bytes, optionally with K, M, G or T (binary units), e.g. 512M or 8G`},
		{in: "8P", err: "want a whole number of bytes"},
		{in: "8GG", err: "want a whole number of bytes"},
		{in: "0x10", err: "want a whole number of bytes"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: got %d, %v; want error %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%q: got %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// What Format writes (help texts, size-limit errors) parses back.
func TestFormatSize(t *testing.T) {
	for _, n := range []int64{1, 1000, 1024, 4097, 1536 << 20, 8 << 30, 2 << 30, 1 << 40, math.MaxInt64} {
		s := Format(n)
		if got, err := Parse(s); err != nil || got != n {
			t.Errorf("%d: %q parses as %d, %v", n, s, got, err)
		}
	}
	if s := Format(8 << 30); s != "8G" {
		t.Errorf("8 GiB: %q", s)
	}
}

func TestHint(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{100, "(--max-size 100)"}, {1 << 10, "(--max-size 1K)"}, {1<<20 + 1, "(--max-size 1048577)"},
		{512 << 20, "(--max-size 512M)"}, {8 << 30, "(--max-size 8G)"}, {1 << 40, "(--max-size 1T)"},
	} {
		if got := Hint(tt.n); got != tt.want {
			t.Errorf("Hint(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
