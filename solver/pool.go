package solver

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/repo"
)

// id numbers the candidate packages 1..n in canonical order (0 is unused), so
// that nothing the solver does depends on the order Index.Packages returns.
type id = int32

// lit is a literal: +id means "id is installed", -id "id is not installed".
type lit = int32

// pool holds the installable candidates and answers "who provides what".
type pool struct {
	ctx context.Context
	idx Index

	pkgs   []*repo.Package // pkgs[id]; pkgs[0] is nil
	byPtr  map[*repo.Package]id
	byKey  map[string]id // NEVRA@repo, to map FileProviders results; built on first use
	byName map[string][]id
	// provides indexes every provide by name, the implicit "name = EVR"
	// as k = -1; files the file paths primary.xml lists. With ext, they
	// hold only the explicit packages and ext answers for the others.
	provides *nameIndex
	files    *nameIndex
	ext      providerIndex
	archRank []int // per id: 0 best; noarchRank for noarch

	what     map[dep.Relation][]id
	rich     map[string]*richDep
	fileErr  error // first error from Index.FileProviders
	fileSeen map[string]bool
}

// providerIndex is what an Index may offer so that the solver need not
// index every provide and primary file list itself (repo.Index does):
// every package of Packages() with a provide (k indexes Provides, -1 for
// its name) or a primary file (k indexes Files) of that name.
type providerIndex interface {
	WhatProvides(name string, fn func(p *repo.Package, k int))
	WhoListsFile(path string, fn func(p *repo.Package, k int))
}

// relation returns the provide e stands for.
func (pl *pool) relation(e nameEntry) dep.Relation {
	p := pl.pkgs[e.id]
	if e.k < 0 {
		return dep.Relation{Name: p.Name, Flags: dep.EQ, EVR: p.EVR}
	}
	return p.Provides[e.k]
}

func (pl *pool) provideName(e nameEntry) string {
	if e.k < 0 {
		return pl.pkgs[e.id].Name
	}
	return pl.pkgs[e.id].Provides[e.k].Name
}

func (pl *pool) fileName(e nameEntry) string { return pl.pkgs[e.id].Files[e.k] }

// richDep caches a parsed rich dependency.
type richDep struct {
	expr dep.Expr
	err  error
}

// noarchRank marks noarch in archRank: compatible with everything, never
// "the best arch".
const noarchRank = -1

// archPolicy ranks the architectures a solve may use.
type archPolicy struct {
	rank map[string]int
}

// newArchPolicy allows the target's compatible arches and, after them, the
// arches requests name explicitly ("glibc.i686") with their compatible ones.
func newArchPolicy(target string, extra []string) archPolicy {
	ap := archPolicy{rank: map[string]int{}}
	add := func(arches []string) {
		for _, a := range arches {
			if a == dep.Noarch {
				ap.rank[a] = noarchRank
				continue
			}
			if _, ok := ap.rank[a]; !ok {
				ap.rank[a] = len(ap.rank)
			}
		}
	}
	add(dep.CompatibleArches(target))
	for _, a := range extra {
		add(dep.CompatibleArches(a))
	}
	return ap
}

func (ap archPolicy) allows(arch string) bool { _, ok := ap.rank[arch]; return ok }

// comparePackages is the canonical total order of packages: name, EVR, arch,
// repository, location, checksum.
func comparePackages(a, b *repo.Package) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := dep.CompareEVR(a.EVR, b.EVR); c != 0 {
		return c
	}
	return cmp.Or(
		// Equal by rpm's rules but spelled differently ("0:1" and "1").
		strings.Compare(a.Epoch, b.Epoch),
		strings.Compare(a.Version, b.Version),
		strings.Compare(a.Release, b.Release),
		strings.Compare(a.Arch, b.Arch),
		strings.Compare(a.Repo, b.Repo),
		strings.Compare(a.Location, b.Location),
		strings.Compare(a.Checksum.Value, b.Checksum.Value),
	)
}

func pkgKey(p *repo.Package) string { return p.NEVRA() + "@" + p.Repo }

// newPool indexes the packages that may be installed: those of an allowed
// arch whose name no exclude glob matches, plus the explicit ones.
func newPool(ctx context.Context, idx Index, all []*repo.Package, explicit []*repo.Package, ap archPolicy, exclude []string) (*pool, error) {
	for _, g := range exclude {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", g, err)
		}
	}
	seen := map[*repo.Package]bool{}
	var cands []*repo.Package // the explicit ones first
	for _, p := range explicit {
		if p != nil && !seen[p] {
			seen[p] = true
			cands = append(cands, p)
		}
	}
	nExplicit := len(cands)
	for _, p := range all {
		if p == nil || seen[p] || !ap.allows(p.Arch) || excluded(p.Name, exclude) {
			continue
		}
		seen[p] = true
		cands = append(cands, p)
	}
	// Ids follow the canonical order; idOf maps a position in cands (the
	// index's order, which is also roughly the packages' order in memory)
	// to its id, so that the indexes below walk memory in order.
	perm := make([]int32, len(cands))
	for k := range perm {
		perm[k] = int32(k)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		return cmp.Or(comparePackages(cands[a], cands[b]), cmp.Compare(a, b))
	})
	idOf := make([]id, len(cands))
	for k, pos := range perm {
		idOf[pos] = id(k + 1)
	}

	pl := &pool{
		ctx:      ctx,
		idx:      idx,
		pkgs:     make([]*repo.Package, 1, len(cands)+1),
		byPtr:    make(map[*repo.Package]id, len(cands)),
		byName:   make(map[string][]id, len(cands)),
		archRank: make([]int, 1, len(cands)+1),
		what:     map[dep.Relation][]id{},
		rich:     map[string]*richDep{},
		fileSeen: map[string]bool{},
	}
	nprov, nfiles := 0, 0
	for _, pos := range perm {
		p := cands[pos]
		i := id(len(pl.pkgs))
		pl.pkgs = append(pl.pkgs, p)
		pl.byPtr[p] = i
		rank, ok := ap.rank[p.Arch]
		if !ok {
			rank = len(ap.rank) // an explicit package of a foreign arch
		}
		pl.archRank = append(pl.archRank, rank)
		pl.byName[p.Name] = append(pl.byName[p.Name], i)
		nprov += 1 + len(p.Provides)
		nfiles += len(p.Files)
	}
	// An index that keeps its own tables of provides and files (repo.Index
	// reads them with its package index) is asked for its packages; only
	// the explicit ones, which it may lack, are indexed here.
	own := cands
	if ext, ok := idx.(providerIndex); ok {
		pl.ext = ext
		own = cands[:nExplicit]
		nprov, nfiles = 0, 0
		for _, p := range own {
			nprov += 1 + len(p.Provides)
			nfiles += len(p.Files)
		}
	}
	// Both indexes in parallel, the provides in two halves.
	parts := min(runtime.GOMAXPROCS(0), 2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pl.files = buildNameIndex(nfiles, 1, func(_ int, emit func(string, nameEntry)) {
			for pos, p := range own {
				for k, f := range p.Files {
					emit(f, nameEntry{id: idOf[pos], k: int32(k)})
				}
			}
		})
	}()
	pl.provides = buildNameIndex(nprov, parts, func(part int, emit func(string, nameEntry)) {
		lo, hi := len(own)*part/parts, len(own)*(part+1)/parts
		for pos := lo; pos < hi; pos++ {
			p, i := own[pos], idOf[pos]
			// rpm and libsolv give every package an implicit "name = EVR".
			emit(p.Name, nameEntry{id: i, k: -1})
			for k := range p.Provides {
				emit(p.Provides[k].Name, nameEntry{id: i, k: int32(k)})
			}
		}
	})
	wg.Wait()
	return pl, nil
}

func excluded(name string, globs []string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

func (pl *pool) n() int { return len(pl.pkgs) - 1 }

// whatProvides returns the ids providing a plain (non-rich) relation, in id
// order. A nil result with system true means rpm itself provides it.
func (pl *pool) whatProvides(r dep.Relation) (ids []id, system bool) {
	r.Pre = false
	if ids, ok := pl.what[r]; ok {
		return ids, ids == nil && isRPMLib(r.Name)
	}
	pl.provides.lookup(r.Name, pl.provideName, func(e nameEntry) {
		if dep.Overlap(r, pl.relation(e)) {
			ids = append(ids, e.id)
		}
	})
	if pl.ext != nil {
		pl.ext.WhatProvides(r.Name, func(p *repo.Package, k int) {
			i, ok := pl.byPtr[p] // not a candidate: another arch, excluded
			if !ok || k >= len(p.Provides) {
				return
			}
			if dep.Overlap(r, pl.relation(nameEntry{id: i, k: int32(k)})) {
				ids = append(ids, i)
			}
		})
	}
	if strings.HasPrefix(r.Name, "/") {
		pl.files.lookup(r.Name, pl.fileName, func(e nameEntry) { ids = append(ids, e.id) })
		if pl.ext != nil {
			pl.ext.WhoListsFile(r.Name, func(p *repo.Package, _ int) {
				if i, ok := pl.byPtr[p]; ok {
					ids = append(ids, i)
				}
			})
		}
		if len(ids) == 0 {
			ids = pl.fileProviders(r.Name)
		}
	}
	ids = sortUnique(ids)
	if len(ids) == 0 {
		ids = nil
	}
	pl.what[r] = ids
	return ids, ids == nil && isRPMLib(r.Name)
}

// isRPMLib reports the rpmlib(...) features rpm provides itself; like
// libsolv, a requirement on one that no package provides is satisfied.
func isRPMLib(name string) bool { return strings.HasPrefix(name, "rpmlib(") }

// fileProviders asks the index for the full file lists, which it loads
// lazily; this only happens for paths primary.xml does not list.
func (pl *pool) fileProviders(p string) []id {
	if pl.fileSeen[p] || pl.idx == nil {
		return nil
	}
	pl.fileSeen[p] = true
	owners, err := pl.idx.FileProviders(pl.ctx, p)
	if err != nil {
		if pl.fileErr == nil {
			pl.fileErr = fmt.Errorf("file providers of %s: %w", p, err)
		}
		return nil
	}
	var ids []id
	for _, o := range owners {
		if i, ok := pl.byPtr[o]; ok {
			ids = append(ids, i)
		} else if i, ok := pl.keyID(o); ok {
			ids = append(ids, i)
		}
	}
	return ids
}

// keyID finds a package by NEVRA and repository, for an Index whose
// FileProviders returns copies rather than the pointers Packages returned.
func (pl *pool) keyID(p *repo.Package) (id, bool) {
	if pl.byKey == nil {
		pl.byKey = make(map[string]id, len(pl.pkgs))
		for i := len(pl.pkgs) - 1; i > 0; i-- { // the first of duplicates wins
			pl.byKey[pkgKey(pl.pkgs[i])] = id(i)
		}
	}
	i, ok := pl.byKey[pkgKey(p)]
	return i, ok
}

func sortUnique[T cmp.Ordered](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}

// parseRich parses (and caches) a rich dependency string.
func (pl *pool) parseRich(s string) *richDep {
	if rd, ok := pl.rich[s]; ok {
		return rd
	}
	e, err := dep.ParseRich(s)
	rd := &richDep{expr: e, err: err}
	pl.rich[s] = rd
	return rd
}

// exprProviders returns the packages that provide a rich expression used as
// a package set: with intersects, without subtracts; inside them and, or
// and the branches of if/unless unite, as libsolv's whatprovides does.
func (pl *pool) exprProviders(e dep.Expr) []id {
	switch e.Op {
	case dep.OpAtom:
		ids, _ := pl.whatProvides(e.Atom)
		return ids
	case dep.OpWith:
		s := pl.exprProviders(e.Args[0])
		for _, a := range e.Args[1:] {
			s = intersect(s, pl.exprProviders(a))
		}
		return s
	case dep.OpWithout:
		return subtract(pl.exprProviders(e.Args[0]), pl.exprProviders(e.Args[1]))
	case dep.OpIf, dep.OpUnless:
		s := pl.exprProviders(e.Args[0])
		if len(e.Args) == 3 {
			s = sortUnique(append(slices.Clone(s), pl.exprProviders(e.Args[2])...))
		}
		return s
	}
	var s []id
	for _, a := range e.Args {
		s = append(s, pl.exprProviders(a)...)
	}
	return sortUnique(s)
}

func intersect(a, b []id) []id {
	var out []id
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); ok {
			out = append(out, x)
		}
	}
	return out
}

func subtract(a, b []id) []id {
	var out []id
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// isSystem reports whether a rich leaf is an rpmlib() feature nothing in the
// pool provides (always true, like libsolv's SYSTEMSOLVABLE).
func (pl *pool) isSystem(e dep.Expr) bool {
	if e.Op != dep.OpAtom {
		return false
	}
	_, sys := pl.whatProvides(e.Atom)
	return sys
}

// normal is a normal form of a boolean dependency over package literals:
// true (no constraint), false (unsatisfiable), or blocks, each a sorted set of
// literals. In conjunctive form a block is a clause (OR), in disjunctive
// form a term (AND).
type normal struct {
	truth  int8 // +1 true, -1 false, 0 blocks
	blocks [][]lit
}

// maxBlocks bounds the distribution of normal forms: real rich deps expand
// to a handful of blocks; hostile ones must not exhaust memory.
const maxBlocks = 4096

// errTooComplex reports a rich dependency whose normal form exceeds maxBlocks.
type errTooComplex struct{}

func (errTooComplex) Error() string { return "rich dependency too complex to expand" }

// cnf converts e into conjunctive normal form (for requires), dnf into
// disjunctive normal form (for conflicts, negated); both follow libsolv's
// cplxdeps.c: A if B = A or not B; A if B else C = (A or not B) and (C or B);
// A unless B = A and not B; A unless B else C = (A and not B) or (C and B).
func (pl *pool) cnf(e dep.Expr) (normal, error) { return pl.normalize(e, false) }
func (pl *pool) dnf(e dep.Expr) (normal, error) { return pl.normalize(e, true) }

func (pl *pool) normalize(e dep.Expr, dnf bool) (normal, error) {
	switch e.Op {
	case dep.OpAnd, dep.OpOr:
		isAnd := e.Op == dep.OpAnd
		acc, err := pl.normalize(e.Args[0], dnf)
		if err != nil {
			return normal{}, err
		}
		for _, a := range e.Args[1:] {
			b, err := pl.normalize(a, dnf)
			if err != nil {
				return normal{}, err
			}
			if isAnd {
				acc, err = nfAnd(acc, b, dnf)
			} else {
				acc, err = nfOr(acc, b, dnf)
			}
			if err != nil {
				return normal{}, err
			}
		}
		return acc, nil
	case dep.OpIf, dep.OpUnless:
		a, err := pl.normalize(e.Args[0], dnf)
		if err != nil {
			return normal{}, err
		}
		b, err := pl.normalize(e.Args[1], dnf)
		if err != nil {
			return normal{}, err
		}
		notB, err := pl.normalizeNot(e.Args[1], dnf)
		if err != nil {
			return normal{}, err
		}
		if e.Op == dep.OpIf {
			x, err := nfOr(a, notB, dnf)
			if err != nil || len(e.Args) == 2 {
				return x, err
			}
			c, err := pl.normalize(e.Args[2], dnf)
			if err != nil {
				return normal{}, err
			}
			y, err := nfOr(c, b, dnf)
			if err != nil {
				return normal{}, err
			}
			return nfAnd(x, y, dnf)
		}
		x, err := nfAnd(a, notB, dnf)
		if err != nil || len(e.Args) == 2 {
			return x, err
		}
		c, err := pl.normalize(e.Args[2], dnf)
		if err != nil {
			return normal{}, err
		}
		y, err := nfAnd(c, b, dnf)
		if err != nil {
			return normal{}, err
		}
		return nfOr(x, y, dnf)
	}
	// A leaf: a relation, or a with/without package set.
	if pl.isSystem(e) {
		return normal{truth: 1}, nil
	}
	ids := pl.exprProviders(e)
	if len(ids) == 0 {
		return normal{truth: -1}, nil
	}
	if !dnf {
		return normal{blocks: [][]lit{slices.Clone(ids)}}, nil
	}
	blocks := make([][]lit, len(ids))
	for i, x := range ids {
		blocks[i] = []lit{x}
	}
	return normal{blocks: blocks}, nil
}

// normalizeNot returns the normal form of "not e": negating a DNF gives a
// CNF and vice versa.
func (pl *pool) normalizeNot(e dep.Expr, dnf bool) (normal, error) {
	x, err := pl.normalize(e, !dnf)
	if err != nil {
		return normal{}, err
	}
	return nfInvert(x), nil
}

func nfInvert(x normal) normal {
	if x.truth != 0 {
		return normal{truth: -x.truth}
	}
	out := make([][]lit, len(x.blocks))
	for i, b := range x.blocks {
		nb := make([]lit, len(b))
		for j, l := range b {
			nb[j] = -l
		}
		slices.Sort(nb)
		out[i] = nb
	}
	return normal{blocks: out}
}

// nfAnd conjoins two normal forms: concatenation for CNF, distribution for
// DNF. nfOr is its dual.
func nfAnd(a, b normal, dnf bool) (normal, error) {
	switch {
	case a.truth < 0 || b.truth < 0:
		return normal{truth: -1}, nil
	case a.truth > 0:
		return b, nil
	case b.truth > 0:
		return a, nil
	}
	if !dnf {
		return normal{blocks: append(slices.Clone(a.blocks), b.blocks...)}, nil
	}
	return distribute(a, b, normal{truth: -1})
}

func nfOr(a, b normal, dnf bool) (normal, error) {
	switch {
	case a.truth > 0 || b.truth > 0:
		return normal{truth: 1}, nil
	case a.truth < 0:
		return b, nil
	case b.truth < 0:
		return a, nil
	}
	if dnf {
		return normal{blocks: append(slices.Clone(a.blocks), b.blocks...)}, nil
	}
	return distribute(a, b, normal{truth: 1})
}

// distribute merges every block of a with every block of b, dropping merged
// blocks that hold both x and -x (tautological clauses, contradictory
// terms); when all are dropped the result is empty.
func distribute(a, b normal, empty normal) (normal, error) {
	if len(a.blocks)*len(b.blocks) > maxBlocks {
		return normal{}, errTooComplex{}
	}
	var out [][]lit
	for _, x := range a.blocks {
		for _, y := range b.blocks {
			m := sortUnique(append(slices.Clone(x), y...))
			if !hasComplement(m) {
				out = append(out, m)
			}
		}
	}
	if len(out) == 0 {
		return empty, nil
	}
	return normal{blocks: out}, nil
}

// hasComplement reports whether a sorted literal set holds some x and -x.
func hasComplement(s []lit) bool {
	for _, l := range s {
		if l >= 0 {
			break
		}
		if _, ok := slices.BinarySearch(s, -l); ok {
			return true
		}
	}
	return false
}
