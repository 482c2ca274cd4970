package solver

import (
	"fmt"
	"strings"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/repo"
)

// Unsolvable is returned when no set of packages satisfies the request.
type Unsolvable struct {
	Problems []Problem
}

// Error gives one line per problem.
func (u *Unsolvable) Error() string {
	lines := make([]string, len(u.Problems))
	for i, p := range u.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ProblemKind classifies a Problem by the rule that explains it best.
type ProblemKind uint8

const (
	// UnknownSpec: no package matches a spec (Detail names packages of that
	// name the arch policy or Request.Exclude ruled out).
	UnknownSpec ProblemKind = iota + 1
	// NothingProvides: nothing installable provides Relation, which
	// Package requires.
	NothingProvides
	// Conflict: Package conflicts (through Relation) with Other, or, for a
	// rich conflict (Other nil), with the packages that satisfy Relation.
	Conflict
	// Obsoletes: Package obsoletes (through Relation) Other, so they
	// cannot both be installed.
	Obsoletes
	// SameName: Package and Other are two versions of one name.
	SameName
	// BadDependency: Package has a rich dependency the solver cannot use
	// (Relation; Detail says why), so it cannot be installed.
	BadDependency
	// NotInstallable: Package requires Relation, but none of its providers
	// can be installed.
	NotInstallable
	// InferiorArch: Package is of an inferior architecture (i686 on
	// x86_64) and cannot be installed without the same version of the best
	// one; name the architecture in the request to allow it.
	InferiorArch
	// ConflictingRequests: the specs cannot all be satisfied together.
	ConflictingRequests
)

// Problem is one reason a request is unsolvable. Specs lists the requests it
// involves; Details lists every rule of the proof, one per line, for a
// reader who wants the whole story. Chain and OtherChain lead from a
// request to Package and Other along requirements (the proof's first, a
// shortest one), so that a reader sees why the package is wanted at all.
type Problem struct {
	Kind       ProblemKind
	Package    *repo.Package
	Other      *repo.Package
	Relation   dep.Relation
	Specs      []string
	Detail     string
	Details    []string
	Chain      []Step
	OtherChain []Step
}

// Step is one link of a chain of requirements from a request to a package.
// The first step of a chain has Spec set: the request selected Package (""
// for a package given in Request.Install). Every later step has By set: By
// requires Relation (recommends, when Weak), which Package provides. A
// package that supplements the solution has a one-step chain with Weak set,
// Relation its own Supplements and no By or Spec.
type Step struct {
	Spec     string
	By       *repo.Package
	Relation dep.Relation
	Weak     bool
	Package  *repo.Package
}

// String renders a step as a line of an explanation.
func (st Step) String() string {
	switch {
	case st.By != nil && st.Weak:
		return fmt.Sprintf("%s recommends %s, provided by %s", st.By.NEVRA(), st.Relation, st.Package.NEVRA())
	case st.By != nil:
		return fmt.Sprintf("%s requires %s, provided by %s", st.By.NEVRA(), st.Relation, st.Package.NEVRA())
	case st.Weak:
		return fmt.Sprintf("%s supplements %s, which the other packages satisfy", st.Package.NEVRA(), st.Relation)
	case st.Spec == "":
		return fmt.Sprintf("%s is given explicitly", st.Package.NEVRA())
	}
	return fmt.Sprintf("%q selects %s", st.Spec, st.Package.NEVRA())
}

// String is the one-line explanation.
func (p Problem) String() string {
	switch p.Kind {
	case UnknownSpec:
		if p.Detail != "" {
			return fmt.Sprintf("no package provides %q (%s)", p.Specs[0], p.Detail)
		}
		return fmt.Sprintf("no package provides %q", p.Specs[0])
	case NothingProvides:
		return fmt.Sprintf("nothing provides %s needed by %s", p.Relation, describe(p.Package))
	case Conflict:
		if p.Other == nil {
			return fmt.Sprintf("%s conflicts with %s", p.Package.NEVRA(), p.Relation)
		}
		return fmt.Sprintf("%s conflicts with %s", p.Package.NEVRA(), p.Other.NEVRA())
	case Obsoletes:
		return fmt.Sprintf("%s obsoletes %s", p.Package.NEVRA(), p.Other.NEVRA())
	case SameName:
		return fmt.Sprintf("cannot install both %s and %s", p.Package.NEVRA(), p.Other.NEVRA())
	case BadDependency:
		return fmt.Sprintf("%s cannot be installed: %s: %s", describe(p.Package), p.Relation, p.Detail)
	case NotInstallable:
		return fmt.Sprintf("%s requires %s, but none of the providers can be installed", p.Package.NEVRA(), p.Relation)
	case InferiorArch:
		return fmt.Sprintf("%s has an inferior architecture", p.Package.NEVRA())
	case ConflictingRequests:
		return fmt.Sprintf("conflicting requests: %s", strings.Join(p.Specs, ", "))
	}
	return "unknown problem"
}

// describe names a package and where it comes from.
func describe(p *repo.Package) string {
	if p.Repo == "" {
		return p.NEVRA()
	}
	return fmt.Sprintf("%s (from repo %s)", p.NEVRA(), p.Repo)
}
