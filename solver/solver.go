// Package solver chooses the packages a fresh install of a request needs,
// with the semantics dnf applies through libsolv on an empty system.
//
// Contract: Solve reads packages only through Index, never mutates them, and
// returns a Solution whose content depends only on the set of packages and
// the Request — not on the order Index.Packages returns them in (nor the
// order of repositories), nor on map iteration. The search is complete
// (conflict-driven clause learning over package literals): a request that
// has a solution is never reported unsolvable. Among solutions it makes
// libsolv's choices, in libsolv's order: a provider already chosen, then
// the repository of best (lowest) priority whatever the versions, the best
// architecture, the highest version (between identical ones, the cheapest
// repository's), obsoleting over obsoleted, one recommended or
// supplementing, and finally name order. Solution.Reasons and
// Solution.Chain say why each package is there. A request without a
// solution yields an *Unsolvable error that explains each independent
// problem in one line, with the rules of its proof and the chains of
// requirements from the request to the packages involved. A Pool keeps the
// preparation of an index (its provides and files indexed) for the next
// request.
//
// Rules it applies: Requires (including rich and file dependencies, the
// latter from primary file lists first and Index.FileProviders only when
// those have no answer; rpmlib() features count as provided by rpm),
// Provides with versions and each package's implicit "name = EVR",
// Conflicts, Obsoletes (matched against package names, as rpm does), one
// version per name and word size (x86_64 and i686 builds may coexist, an
// i686 one only with the x86_64 build of the same version unless the
// request names its arch: libsolv's multilib lock-step), the arch policy of
// dep.CompatibleArches (other arches only when a spec names them, as in
// "glibc.i686"), and weak dependencies like dnf's install_weak_deps=True:
// Recommends of installed packages are installed when installable, and
// packages whose Supplements become true are added. Suggests and Enhances
// only order choices, as in libsolv. Where libsolv versions differ, it
// follows libsolv 0.7.25 and later.
package solver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/repo"
)

// Index is what the solver needs from the loaded repositories. An Index
// that also has the methods WhatProvides(name string, fn func(p
// *repo.Package, k int)) and WhoListsFile(path string, fn func(p
// *repo.Package, k int)), as *repo.Index does, answers lookups by provide
// and primary file list from its own tables, which spares the solver from
// indexing every package for every Pool.
type Index interface {
	Packages() []*repo.Package
	// FileProviders returns packages that own path, consulting the full file
	// lists (loaded lazily by the implementation) — called only when no
	// package's Provides or primary Files satisfy a file dependency.
	FileProviders(ctx context.Context, path string) ([]*repo.Package, error)
}

// Request says what to install.
type Request struct {
	// Specs select packages: a name ("coreutils"), name-version,
	// name-version-release, a NEVRA, name.arch ("glibc.i686"), a relation
	// ("name >= 1.2"), a provide ("libc.so.6()(64bit)"), a path
	// ("/usr/bin/cat") or a name glob ("glibc-*", one job per name).
	Specs []string
	// Install lists packages given explicitly (local .rpm files); each is
	// installed as it is, whatever its arch or the Exclude patterns.
	Install []*repo.Package
	// Arch is the target rpm architecture, e.g. x86_64.
	Arch string
	// NoWeak ignores Recommends and Supplements.
	NoWeak bool
	// Exclude holds package name globs (path.Match syntax) never to install.
	Exclude []string
}

// Solution is the result of a successful Solve.
type Solution struct {
	// Packages is the set to install, sorted by NEVRA (then repository).
	Packages []*repo.Package
	// Order is Packages in install order: a package's requirements come
	// before it, except inside dependency cycles, which are ordered by name.
	Order []*repo.Package
	// Reasons says why each package is in the solution.
	Reasons map[*repo.Package]Reason
}

// ReasonKind classifies why a package is in a solution.
type ReasonKind uint8

const (
	// Requested: a spec selected it, or it was given in Request.Install.
	Requested ReasonKind = iota + 1
	// Required: Reason.By requires it through Reason.Relation.
	Required
	// Recommended: Reason.By recommends it through Reason.Relation.
	Recommended
	// Supplements: its own Supplements relation Reason.Relation became true.
	Supplements
)

// Reason explains one package of a Solution. The chain of By packages leads
// back to a requested one along shortest paths, preferring hard
// requirements over weak ones.
type Reason struct {
	Kind     ReasonKind
	Spec     string        // Requested: the spec ("" for Request.Install)
	By       *repo.Package // Required, Recommended: the package that pulled it in
	Relation dep.Relation  // the relation of By, or the package's own Supplements
}

func (r Reason) String() string {
	switch r.Kind {
	case Requested:
		if r.Spec == "" {
			return "requested"
		}
		return fmt.Sprintf("requested (%s)", r.Spec)
	case Required:
		if r.By == nil {
			return "required"
		}
		return fmt.Sprintf("required by %s (%s)", r.By.NEVRA(), r.Relation)
	case Recommended:
		return fmt.Sprintf("recommended by %s (%s)", r.By.NEVRA(), r.Relation)
	case Supplements:
		return fmt.Sprintf("supplements %s", r.Relation)
	}
	return "unknown"
}

// Chain explains why p is in the solution: the steps from a request to p
// along Reasons, the request first. It is nil when p is not in the
// solution.
func (sol *Solution) Chain(p *repo.Package) []Step {
	var rev []Step
	seen := map[*repo.Package]bool{}
	for q := p; q != nil && !seen[q]; {
		seen[q] = true
		r, ok := sol.Reasons[q]
		if !ok {
			return nil
		}
		next := (*repo.Package)(nil)
		switch r.Kind {
		case Requested:
			rev = append(rev, Step{Spec: r.Spec, Package: q})
		case Required, Recommended:
			if r.By == nil {
				return nil // not reached from a request: cannot happen
			}
			rev = append(rev, Step{By: r.By, Relation: r.Relation, Weak: r.Kind == Recommended, Package: q})
			next = r.By
		case Supplements:
			rev = append(rev, Step{Relation: r.Relation, Weak: true, Package: q})
		}
		q = next
	}
	slices.Reverse(rev)
	return rev
}

// Solve resolves req against idx. It returns *Unsolvable when the request
// cannot be satisfied, and a wrapped error when ctx ends or the index fails.
// To solve several requests against one index, use a Pool.
func Solve(ctx context.Context, idx Index, req Request) (*Solution, error) {
	return NewPool(idx).Solve(ctx, req)
}

// Pool solves requests against one index, keeping what it prepared for a
// request (the candidates indexed by name, provide and file, and every
// lookup made) for the next one with the same Arch, architectures named in
// specs, Exclude and Install: a solve on a big index mostly costs the
// preparation. The index's packages must not change while the Pool is in
// use. A Pool is safe for concurrent use; solves take turns.
type Pool struct {
	idx Index

	mu  sync.Mutex
	all []*repo.Package
	key string
	pl  *pool
}

// NewPool returns a Pool over idx. It reads idx.Packages() once, at the
// first Solve.
func NewPool(idx Index) *Pool { return &Pool{idx: idx} }

// Solve is the package-level Solve, reusing the Pool's preparation.
func (p *Pool) Solve(ctx context.Context, req Request) (*Solution, error) {
	if req.Arch == "" {
		return nil, errors.New("solver: Request.Arch is empty")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.all == nil {
		p.all = p.idx.Packages()
	}
	pl, err := p.prepare(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("solver: %w", err)
	}
	sol, err := solveWith(pl, p.all, req)
	if pl.fileErr != nil {
		// A failed file list lookup is not an answer to keep.
		p.pl, p.key = nil, ""
	}
	return sol, err
}

// prepare returns the pool for req: the kept one when req needs the same.
func (p *Pool) prepare(ctx context.Context, req Request) (*pool, error) {
	arches := explicitArches(p.all, req.Specs)
	var key strings.Builder
	fmt.Fprintf(&key, "%s\x00%q\x00%q\x00", req.Arch, arches, req.Exclude)
	for _, x := range req.Install {
		fmt.Fprintf(&key, "%p ", x)
	}
	if p.pl != nil && p.key == key.String() {
		p.pl.ctx = ctx
		return p.pl, nil
	}
	pl, err := newPool(ctx, p.idx, p.all, req.Install, newArchPolicy(req.Arch, arches), req.Exclude)
	if err != nil {
		return nil, err
	}
	p.pl, p.key = pl, key.String()
	return pl, nil
}

func solveWith(pl *pool, all []*repo.Package, req Request) (*Solution, error) {
	jobs, unknown := pl.makeJobs(req.Specs, req.Install, all)
	if pl.fileErr != nil {
		return nil, fmt.Errorf("solver: %w", pl.fileErr)
	}
	if len(unknown) > 0 {
		return nil, &Unsolvable{Problems: unknown}
	}
	s := newSolver(pl, jobs, req.NoWeak)
	installed, problems, err := s.solve()
	if err != nil {
		return nil, fmt.Errorf("solver: %w", err)
	}
	if len(problems) > 0 {
		return nil, &Unsolvable{Problems: problems}
	}
	return s.solution(installed), nil
}

// solution assembles the result from the installed ids.
func (s *solver) solution(installed []id) *Solution {
	sol := &Solution{Reasons: make(map[*repo.Package]Reason, len(installed))}
	for _, i := range installed {
		sol.Packages = append(sol.Packages, s.pl.pkgs[i])
	}
	slices.SortFunc(sol.Packages, func(a, b *repo.Package) int {
		return cmp.Or(strings.Compare(a.NEVRA(), b.NEVRA()), strings.Compare(a.Repo, b.Repo))
	})
	for i, r := range s.reasons(installed) {
		sol.Reasons[s.pl.pkgs[i]] = r
	}
	for _, i := range s.installOrder(installed) {
		sol.Order = append(sol.Order, s.pl.pkgs[i])
	}
	return sol
}
