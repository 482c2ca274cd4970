package dep

import (
	"fmt"
	"strings"
)

// ParseFlag reads a sense as repodata writes it ("EQ", "LT", "GT", "LE",
// "GE") or as a spec file or rich dependency writes it ("=", "==", "<",
// "<=", "=<", ">", ">=", "=>", and "<>" for "anything but equal"). The empty
// string is Any.
func ParseFlag(s string) (Flag, error) {
	switch s {
	case "":
		return Any, nil
	case "EQ", "=", "==":
		return EQ, nil
	case "LT", "<":
		return LT, nil
	case "GT", ">":
		return GT, nil
	case "LE", "<=", "=<":
		return LE, nil
	case "GE", ">=", "=>":
		return GE, nil
	case "<>", "!=":
		return LT | GT, nil
	}
	return Any, fmt.Errorf("unknown dependency flag %q", s)
}

// String returns the operator rpm prints for the flag ("" for Any).
func (f Flag) String() string {
	var b strings.Builder
	if f&LT != 0 {
		b.WriteByte('<')
	}
	if f&GT != 0 {
		b.WriteByte('>')
	}
	if f&EQ != 0 {
		b.WriteByte('=')
	}
	return b.String()
}

// String formats the relation like rpm and dnf print it: "name", or
// "name >= 1:2-3". A zero epoch is left out ("name = 2-3"), as repodata
// spells every missing epoch "0".
func (r Relation) String() string {
	if r.Flags == Any || r.EVR.IsZero() {
		return r.Name
	}
	evr := r.EVR
	if evr.Version != "" && !strings.Contains(evr.Version, ":") && strings.TrimLeft(evr.Epoch, "0") == "" {
		evr.Epoch = ""
	}
	return r.Name + " " + r.Flags.String() + " " + evr.String()
}

// IsRich reports whether the relation is a rich (boolean) dependency, whose
// Name is the whole expression; parse it with ParseRich.
func (r Relation) IsRich() bool { return strings.HasPrefix(r.Name, "(") }

// ParseRelation reads "name", or "name OP [epoch:]version[-release]" with
// OP one of the symbolic operators ParseFlag accepts ("=", "<", ">=", ...),
// separated by white space.
func ParseRelation(s string) (Relation, error) {
	f := strings.Fields(s)
	switch len(f) {
	case 1:
		return Relation{Name: f[0]}, nil
	case 3:
		flag, err := ParseFlag(f[1])
		if err != nil || flag == Any || !isOperator(f[1]) {
			return Relation{}, fmt.Errorf("relation %s: bad operator %s", quoteClipped(s), quoteClipped(f[1]))
		}
		return Relation{Name: f[0], Flags: flag, EVR: ParseEVR(f[2])}, nil
	}
	return Relation{}, fmt.Errorf("relation %s: want \"name\" or \"name OP version\"", quoteClipped(s))
}

// Matches reports whether the provide satisfies the requirement r: the names
// are equal and the version ranges overlap (see Overlap).
func (r Relation) Matches(provide Relation) bool { return Overlap(r, provide) }

// MatchesEVR reports whether a package at evr satisfies r's version range,
// ignoring names; this is how a package's implicit "name = EVR" provide and
// obsoletes (which rpm matches against the package itself) are checked.
func (r Relation) MatchesEVR(evr EVR) bool {
	return rangesOverlap(r.Flags, r.EVR, EQ, evr)
}

// Overlap reports whether two relations can be satisfied by one thing, as
// rpm's rpmdsCompare decides a provide/require match: different names never
// overlap; an unversioned relation on either side overlaps everything of the
// same name; otherwise the two ranges [epoch:]version[-release] must
// intersect, where a missing epoch is 0 and a release missing on one side is
// not compared (so "= 2.14" overlaps "= 2.14-5").
func Overlap(a, b Relation) bool {
	if a.Name != b.Name {
		return false
	}
	return rangesOverlap(a.Flags, a.EVR, b.Flags, b.EVR)
}

func rangesOverlap(f1 Flag, v1 EVR, f2 Flag, v2 EVR) bool {
	if f1&(LT|GT|EQ) == 0 || f2&(LT|GT|EQ) == 0 || v1.IsZero() || v2.IsZero() {
		return true
	}
	sense := 0
	switch {
	case v1.Epoch != "" && v2.Epoch != "":
		sense = compareEpoch(v1.Epoch, v2.Epoch)
	case strings.TrimLeft(v1.Epoch, "0") != "":
		sense = 1
	case strings.TrimLeft(v2.Epoch, "0") != "":
		sense = -1
	}
	if sense == 0 {
		sense = Vercmp(v1.Version, v2.Version)
		if sense == 0 {
			if v1.Release != "" && v2.Release != "" {
				sense = Vercmp(v1.Release, v2.Release)
			} else if (v1.Release != "" && f2&EQ != 0) || (v2.Release != "" && f1&EQ != 0) {
				// The side without a release stands for every release of
				// that version, so an equal-including range there matches.
				return true
			}
		}
	}
	switch {
	case sense < 0:
		return f1&GT != 0 || f2&LT != 0
	case sense > 0:
		return f1&LT != 0 || f2&GT != 0
	}
	return f1&f2&(EQ|LT|GT) != 0
}
