// Package dep is the RPM dependency vocabulary shared by repo and solver: EVR
// values and their comparison (rpmvercmp, with ~ and ^), versioned relations
// (name, sense flags, EVR) and their range matching (rpmdsCompare), rich
// (boolean) dependency expressions, and the architecture names and
// compatibility rules of rpm.
//
// It is a leaf package: pure functions and value types, no I/O.
package dep

// EVR is an epoch:version-release triple as rpm stores it. An empty Epoch
// means "not given" and compares as 0; an empty Release means "not given",
// which matters for range matching (a requirement "foo = 1.0" matches
// "foo = 1.0-5").
type EVR struct {
	Epoch   string
	Version string
	Release string
}

// Flag is the sense of a relation: which side of the EVR it accepts.
// The zero value Any means unversioned.
type Flag uint8

const (
	Any Flag = 0
	LT  Flag = 1 << 0
	GT  Flag = 1 << 1
	EQ  Flag = 1 << 2
	LE       = LT | EQ
	GE       = GT | EQ
)

// Relation is one entry of a Requires/Provides/Conflicts/Obsoletes/... list.
// When Name starts with "(" it is a rich dependency; parse it with ParseRich.
type Relation struct {
	Name  string
	Flags Flag
	EVR   EVR
	// Pre marks Requires(pre)/(post) style install-time requirements.
	Pre bool
}
