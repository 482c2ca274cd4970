// Package bytesize reads and writes the byte sizes of smith's --max-size flag
// (512M, 8G, 4096), so that the errors of the packages that enforce a size
// limit can name the flag value that raises it.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the binary units a size may carry, each with the spellings
// people use for it. K is 1024 whether written K, KB or KiB: for a bound
// against decompression bombs nobody needs the decimal kilobyte, and
// refusing "8GB" would only annoy.
var sizeUnits = []struct {
	names []string
	size  int64
}{
	{[]string{"", "B"}, 1},
	{[]string{"K", "KB", "KIB"}, 1 << 10},
	{[]string{"M", "MB", "MIB"}, 1 << 20},
	{[]string{"G", "GB", "GIB"}, 1 << 30},
	{[]string{"T", "TB", "TIB"}, 1 << 40},
}

// Parse reads a size: a whole positive number of bytes, optionally
// followed by a binary unit (512M, 8G, 1T, 4096, 2GiB; case-insensitive).
func Parse(s string) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("size %q: want a whole number of bytes, optionally with K, M, G or T (binary units), e.g. 512M or 8G", s)
	}
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return bad()
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	unit := strings.ToUpper(strings.TrimSpace(t[i:]))
	for _, u := range sizeUnits {
		for _, name := range u.names {
			if unit != name {
				continue
			}
			if n == 0 {
				return 0, fmt.Errorf("size %q: must be more than 0", s)
			}
			if n > math.MaxInt64/u.size {
				return 0, fmt.Errorf("size %q: too large", s)
			}
			return n * u.size, nil
		}
	}
	return bad()
}

// Format writes n as Parse reads it, with the largest unit that
// divides it exactly (8G, 1536M, 4097): for help texts and
// the size-limit errors that say how to raise a limit.
func Format(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// Hint says how to raise a limit of n bytes: "(--max-size 8G)".
func Hint(n int64) string {
	return "(--max-size " + Format(n) + ")"
}
