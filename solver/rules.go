package solver

import (
	"cmp"
	"errors"
	"slices"

	"github.com/smith-build/smith/dep"
)

// ruleKind says where a rule comes from, for explanations.
type ruleKind uint8

const (
	ruleRequires        ruleKind = iota + 1 // -pkg ∨ providers of dep
	ruleNothingProvides                     // -pkg: nothing provides dep
	ruleBadDep                              // -pkg: dep is unusable (err)
	ruleConflicts                           // -pkg ∨ -other (or a rich form)
	ruleObsoletes                           // -pkg ∨ -other
	ruleSameName                            // -pkg ∨ -other: one per name and color
	ruleJob                                 // one of the job's candidates
	ruleInfArch                             // -pkg ∨ same version of the best arch
	ruleLearnt                              // derived by conflict analysis
)

// rule is a clause: at least one literal must be true. lits is sorted
// ascending (the order libsolv sorts its rules by) except for learnt rules.
type rule struct {
	lits     []lit
	w        [2]int32 // positions in lits of the two watched literals
	kind     ruleKind
	pkg      id           // package the rule belongs to (0 for jobs)
	other    id           // conflicts/obsoletes/same name: the other package
	dep      dep.Relation // the relation behind it
	job      int          // ruleJob: index into jobs
	from     []int32      // ruleLearnt: the rules it was derived from
	err      error        // ruleBadDep
	disabled bool         // a job rule switched off after it proved unsolvable
}

// builder creates the package rules for every package reachable from the
// jobs, as libsolv's solver_addpkgrulesforsolvable does: requires,
// conflicts, obsoletes, same-name rules, following requires, recommends and
// suggests to their providers, then adding packages whose supplements could
// become true.
type builder struct {
	pl      *pool
	rules   []rule
	visited []bool
	work    []id
}

func (b *builder) add(r rule) { b.rules = append(b.rules, r) }

// visit adds the rules of n and, transitively, of everything it may pull in.
func (b *builder) visit(n id) {
	b.work = append(b.work[:0], n)
	for len(b.work) > 0 {
		n := b.work[0]
		b.work = b.work[1:]
		if b.visited[n] {
			continue
		}
		b.visited[n] = true
		b.packageRules(n)
	}
}

func (b *builder) push(ids ...id) {
	for _, i := range ids {
		if i > 0 && !b.visited[i] {
			b.work = append(b.work, i)
		}
	}
}

func (b *builder) packageRules(n id) {
	pl := b.pl
	p := pl.pkgs[n]
	for _, r := range p.Requires {
		if r.IsRich() {
			b.richRules(n, r, ruleRequires)
			continue
		}
		ids, system := pl.whatProvides(r)
		switch {
		case system:
		case len(ids) == 0:
			b.add(rule{lits: []lit{-n}, kind: ruleNothingProvides, pkg: n, dep: r})
		case !slices.Contains(ids, n): // a package satisfying itself needs no rule
			b.add(rule{lits: append([]lit{-n}, ids...), kind: ruleRequires, pkg: n, dep: r})
			b.push(ids...)
		}
	}
	for _, r := range p.Conflicts {
		if r.IsRich() {
			b.richRules(n, r, ruleConflicts)
			continue
		}
		ids, _ := pl.whatProvides(r)
		for _, o := range ids {
			if o != n {
				b.add(rule{lits: pair(-n, -o), kind: ruleConflicts, pkg: n, other: o, dep: r})
			}
		}
	}
	// Obsoletes name packages, not provides (rpm's and libsolv's default).
	for _, r := range p.Obsoletes {
		for _, o := range pl.byName[r.Name] {
			if o != n && r.MatchesEVR(pl.pkgs[o].EVR) {
				b.add(rule{lits: pair(-n, -o), kind: ruleObsoletes, pkg: n, other: o, dep: r})
			}
		}
	}
	for _, o := range pl.byName[p.Name] {
		if o != n && pl.colorMatch(n, o) {
			b.add(rule{lits: pair(-n, -o), kind: ruleSameName, pkg: n, other: o})
		}
	}
	// Better-arch builds of the same version come along for the inferior-arch
	// (lock-step) rules.
	if r := pl.archRank[n]; r != noarchRank {
		for _, o := range pl.byName[p.Name] {
			if ro := pl.archRank[o]; ro != noarchRank && ro < r && pl.pkgs[o].EVR == p.EVR {
				b.push(o)
			}
		}
	}
	for _, list := range [][]dep.Relation{p.Recommends, p.Suggests} {
		for _, r := range list {
			if r.IsRich() {
				if rd := pl.parseRich(r.Name); rd.err == nil {
					b.push(pl.positiveLiterals(rd.expr, false)...)
				}
				continue
			}
			ids, _ := pl.whatProvides(r)
			b.push(ids...)
		}
	}
}

func pair(a, b lit) []lit {
	if a > b {
		a, b = b, a
	}
	return []lit{a, b}
}

// richRules adds the clauses of a rich requires (n → E, from E's CNF) or
// conflicts (n → not E, from the negated DNF).
func (b *builder) richRules(n id, r dep.Relation, kind ruleKind) {
	pl := b.pl
	rd := pl.parseRich(r.Name)
	if rd.err != nil {
		if kind == ruleRequires {
			b.add(rule{lits: []lit{-n}, kind: ruleBadDep, pkg: n, dep: r, err: rd.err})
		}
		return // an unparsable conflict cannot hold anything back
	}
	var (
		nf  normal
		err error
	)
	if kind == ruleRequires {
		nf, err = pl.cnf(rd.expr)
	} else {
		nf, err = pl.dnf(rd.expr)
		nf = nfInvert(nf)
	}
	switch {
	case err != nil:
		if kind == ruleRequires || errors.Is(err, errTooComplex{}) {
			b.add(rule{lits: []lit{-n}, kind: ruleBadDep, pkg: n, dep: r, err: err})
		}
		return
	case nf.truth > 0:
		return
	case nf.truth < 0:
		k := ruleNothingProvides
		if kind == ruleConflicts {
			k = ruleConflicts // conflicts with something always there
		}
		b.add(rule{lits: []lit{-n}, kind: k, pkg: n, dep: r})
		return
	}
	for _, blk := range nf.blocks {
		if _, ok := slices.BinarySearch(blk, n); ok {
			continue // satisfied by n itself
		}
		lits := sortUnique(append(slices.Clone(blk), -n))
		if kind == ruleConflicts && len(lits) == 1 {
			continue // n conflicting with itself: rpm ignores that
		}
		b.add(rule{lits: lits, kind: kind, pkg: n, dep: r})
		for _, l := range lits {
			b.push(l)
		}
	}
}

// positiveLiterals returns the providers of the atoms of e that a weak
// dependency could pull in, exactly as libsolv's
// pool_add_pos_literals_complex_dep computes them (the set of visited
// packages decides the inferior-arch rules, so a superset will not do): the
// condition of if/unless counts with flipped polarity; with an else branch
// the condition counts with both polarities and the else branch positively.
func (pl *pool) positiveLiterals(e dep.Expr, neg bool) []id {
	switch e.Op {
	case dep.OpAnd, dep.OpOr:
		var out []id
		for _, a := range e.Args {
			out = append(out, pl.positiveLiterals(a, neg)...)
		}
		return out
	case dep.OpIf, dep.OpUnless:
		out := pl.positiveLiterals(e.Args[0], neg)
		if len(e.Args) == 3 {
			out = append(out, pl.positiveLiterals(e.Args[1], neg)...)
			out = append(out, pl.positiveLiterals(e.Args[2], neg)...)
		}
		return append(out, pl.positiveLiterals(e.Args[1], !neg)...)
	}
	if neg {
		return nil
	}
	return pl.exprProviders(e)
}

// colorMatch reports whether two packages of one name may not coexist:
// same arch, or same word size, or one of them noarch. glibc.x86_64 and
// glibc.i686 have different colors and may both be installed.
func (pl *pool) colorMatch(a, b id) bool {
	pa, pb := pl.pkgs[a], pl.pkgs[b]
	if pa.Arch == pb.Arch || pa.Arch == dep.Noarch || pb.Arch == dep.Noarch {
		return true
	}
	return dep.Is64Bit(pa.Arch) == dep.Is64Bit(pb.Arch)
}

// possible reports whether a supplements dependency could become true with
// the visited packages (libsolv's solver_dep_possible): conditions are
// always possible.
func (b *builder) possible(r dep.Relation) bool {
	if !r.IsRich() {
		ids, _ := b.pl.whatProvides(r)
		return b.anyVisited(ids)
	}
	rd := b.pl.parseRich(r.Name)
	if rd.err != nil {
		return false
	}
	return b.possibleExpr(rd.expr)
}

func (b *builder) possibleExpr(e dep.Expr) bool {
	switch e.Op {
	case dep.OpIf, dep.OpUnless:
		return true
	case dep.OpAnd:
		for _, a := range e.Args {
			if !b.possibleExpr(a) {
				return false
			}
		}
		return true
	case dep.OpOr:
		for _, a := range e.Args {
			if b.possibleExpr(a) {
				return true
			}
		}
		return false
	}
	return b.anyVisited(b.pl.exprProviders(e))
}

func (b *builder) anyVisited(ids []id) bool {
	for _, i := range ids {
		if b.visited[i] {
			return true
		}
	}
	return false
}

// buildRules returns the sorted, de-duplicated package rules, then the job
// rules (rules[jobStart:jobEnd]), then the inferior-arch rules; and which
// packages have rules at all (the others are never decided).
func buildRules(pl *pool, jobs []job) (rules []rule, jobStart, jobEnd int, visited []bool) {
	b := &builder{pl: pl, visited: make([]bool, pl.n()+1)}
	for _, j := range jobs {
		for _, c := range j.cands {
			b.visit(c)
		}
	}
	// Packages whose supplements might come true, until nothing changes.
	for changed := true; changed; {
		changed = false
		for i := id(1); int(i) <= pl.n(); i++ {
			if b.visited[i] || len(pl.pkgs[i].Supplements) == 0 {
				continue
			}
			for _, r := range pl.pkgs[i].Supplements {
				if b.possible(r) {
					b.visit(i)
					changed = true
					break
				}
			}
		}
	}
	rules = b.rules
	// libsolv sorts its package rules (solver_unifyrules) and later decides
	// open rules in that order, so the order is part of the policy.
	slices.SortStableFunc(rules, func(x, y rule) int {
		return cmp.Or(compareLits(x.lits, y.lits), kindRank(x.kind)-kindRank(y.kind))
	})
	rules = slices.CompactFunc(rules, func(x, y rule) bool { return compareLits(x.lits, y.lits) == 0 })
	jobStart = len(rules)
	for k, j := range jobs {
		rules = append(rules, rule{lits: slices.Clone(j.cands), kind: ruleJob, job: k})
	}
	jobEnd = len(rules)
	return append(rules, infArchRules(pl, jobs, b.visited)...), jobStart, jobEnd, b.visited
}

// infArchRules keep packages of an inferior architecture out unless the same
// version of the best architecture comes along (libsolv's infarch rules with
// implicitobsoleteusescolors: multilib packages install in lock-step). Names
// a job selects by architecture are exempt.
func infArchRules(pl *pool, jobs []job, visited []bool) []rule {
	exempt := map[string]bool{}
	for _, j := range jobs {
		if j.setArch {
			for _, c := range j.cands {
				exempt[pl.pkgs[c].Name] = true
			}
		}
	}
	var rules []rule
	done := map[string]bool{}
	for i := id(1); int(i) <= pl.n(); i++ {
		name := pl.pkgs[i].Name
		if !visited[i] || done[name] || exempt[name] {
			continue
		}
		done[name] = true
		best := -1
		for _, o := range pl.byName[name] {
			if r := pl.archRank[o]; visited[o] && r != noarchRank && (best < 0 || r < best) {
				best = r
			}
		}
		for _, o := range pl.byName[name] {
			if r := pl.archRank[o]; !visited[o] || r == noarchRank || r == best {
				continue
			}
			lits := []lit{-o}
			for _, q := range pl.byName[name] {
				if r := pl.archRank[q]; pl.pkgs[q].Arch != pl.pkgs[o].Arch && pl.pkgs[q].EVR == pl.pkgs[o].EVR &&
					(r == noarchRank || r == best) {
					lits = append(lits, q)
				}
			}
			rules = append(rules, rule{lits: sortUnique(lits), kind: ruleInfArch, pkg: o})
		}
	}
	return rules
}

// kindRank orders duplicate rules so that the most telling explanation of a
// binary rule survives de-duplication.
func kindRank(k ruleKind) int {
	switch k {
	case ruleConflicts:
		return 0
	case ruleObsoletes:
		return 1
	}
	return 2
}

// compareLits orders rules like libsolv's unifyrules_sortcmp: by literals,
// a one-literal rule comparing as if its second literal were 0.
func compareLits(a, b []lit) int {
	ka, kb := a, b
	if len(ka) == 1 {
		ka = []lit{a[0], 0}
	}
	if len(kb) == 1 {
		kb = []lit{b[0], 0}
	}
	return slices.Compare(ka, kb)
}
