package dep

import "strings"

// Vercmp compares two version (or release) strings the way rpm's rpmvercmp
// does and returns -1, 0 or 1.
//
// The strings are split into maximal runs of ASCII digits or ASCII letters;
// everything else separates runs. Numeric runs compare as numbers (leading
// zeros ignored) and beat alphabetic runs. '~' sorts before anything, even
// the end of the string (1.0~rc1 < 1.0); '^' sorts after the end of the
// string but before anything else (1.0 < 1.0^git1 < 1.0.1). Bytes outside
// ASCII are separators, exactly as in rpm, which is why 1.1.α equals 1.1.β.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}

		// Tilde: a pre-release marker, older than everything else.
		ta, tb := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			i++
			j++
			continue
		}

		// Caret: a post-release marker, newer than the end of the string
		// (the base version) but older than any further segment.
		ca, cb := i < len(a) && a[i] == '^', j < len(b) && b[j] == '^'
		if ca || cb {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ca {
				return 1
			}
			if !cb {
				return -1
			}
			i++
			j++
			continue
		}

		if i >= len(a) || j >= len(b) {
			break
		}

		// Take one all-digit or all-letter segment from each side, of the
		// kind a's segment is.
		si, sj := i, j
		isNum := isDigit(a[i])
		if isNum {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		sa, sb := a[si:i], b[sj:j]
		if sb == "" {
			// Different kinds: a numeric segment is newer than an alpha one.
			if isNum {
				return 1
			}
			return -1
		}
		if isNum {
			sa = strings.TrimLeft(sa, "0")
			sb = strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	// All segments compared equal. Trailing separators were skipped above, so
	// "1.0." == "1.0"; whichever side still has a segment left is newer.
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	default:
		return 1
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// CompareEVR orders two EVRs as rpm and libsolv order package versions: epoch
// first (a missing epoch is 0), then version, then release. A missing release
// sorts before any present one; range matching, where a missing release is a
// wildcard, is Relation.Matches.
func CompareEVR(a, b EVR) int {
	if c := compareEpoch(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	switch {
	case a.Release == b.Release:
		return 0
	case a.Release == "":
		return -1
	case b.Release == "":
		return 1
	}
	return Vercmp(a.Release, b.Release)
}

// compareEpoch compares epochs numerically, "" being 0. Epochs are digit
// strings in practice; Vercmp on the zero-trimmed strings is a numeric
// comparison of any length and still total on garbage input.
func compareEpoch(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if a == b {
		return 0
	}
	return Vercmp(a, b)
}

// ParseEVR splits "[epoch:]version[-release]" as rpm does: the epoch is the
// part before the first ':' when it is all digits, the release is the part
// after the last '-'. Fields that are absent stay empty.
func ParseEVR(s string) EVR {
	var e EVR
	if k := strings.IndexByte(s, ':'); k >= 0 && allDigits(s[:k]) {
		e.Epoch, s = s[:k], s[k+1:]
		if e.Epoch == "" {
			e.Epoch = "0" // rpm reads ":1.0" as epoch 0
		}
	}
	if k := strings.LastIndexByte(s, '-'); k >= 0 {
		e.Version, e.Release = s[:k], s[k+1:]
	} else {
		e.Version = s
	}
	return e
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// String formats the EVR as "[epoch:]version[-release]", printing only the
// parts that are set, so ParseEVR(e.String()) == e for well-formed values.
func (e EVR) String() string {
	s := e.Version
	if e.Epoch != "" {
		s = e.Epoch + ":" + s
	}
	if e.Release != "" {
		s += "-" + e.Release
	}
	return s
}

// IsZero reports whether no part of the EVR is set (an unversioned relation).
func (e EVR) IsZero() bool { return e.Epoch == "" && e.Version == "" && e.Release == "" }
