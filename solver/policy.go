package solver

import (
	"slices"
	"strings"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/repo"
)

// policyMode selects the pruning steps of policyFilter, as libsolv's
// POLICY_MODE_* do.
type policyMode uint8

const (
	modeChoose          policyMode = iota // everything, then reorder
	modeChooseNoReorder                   // everything but the reordering
	modeRecommend                         // no prune-to-recommended
	modeSupplement                        // reorder only
)

// policyFilter narrows and orders candidates for a choice, best first, like
// libsolv's policy_filter_unwanted: best repository priority (every mode
// but supplement; libsolv's per-name variant serves only its suggestion
// lists, which smith does not compute), best architecture, best version per
// name (dropping packages obsoleted by other candidates), then recommended
// or supplementing ones, then a reordering that puts packages without a
// newer version, with newer common provides and suggested ones first.
// Candidates that survive in the end are in name order, so ties go to the
// first name.
func (s *solver) policyFilter(list []id, mode policyMode) []id {
	list = slices.Clone(list)
	if mode == modeSupplement {
		list = s.dislikeOldVersions(list)
		s.sortByCommonDep(list)
		return s.preferSuggested(list)
	}
	if len(list) > 1 {
		list = s.pruneToBestPriority(list)
	}
	if len(list) > 1 {
		list = s.pruneToBestArch(list)
	}
	if len(list) > 1 {
		list = s.pruneToBestVersion(list)
	}
	if len(list) > 1 && (mode == modeChoose || mode == modeChooseNoReorder) {
		list = s.pruneToRecommended(list)
		if len(list) > 1 && mode == modeChoose {
			list = s.dislikeOldVersions(list)
			s.sortByCommonDep(list)
			list = s.preferSuggested(list)
		}
	}
	return list
}

// priority is the dnf priority of a package's repository, lower is better;
// a package from no repository (0) has dnf's default.
func priority(p *repo.Package) int {
	if p.Priority == 0 {
		return repo.DefaultPriority
	}
	return p.Priority
}

// cost is the dnf cost of a package's repository, lower is better; 0 (no
// repository) is dnf's default.
func cost(p *repo.Package) int {
	if p.Cost == 0 {
		return repo.DefaultCost
	}
	return p.Cost
}

// pruneToBestPriority keeps the candidates from the repositories of the best
// priority, whatever their versions (libsolv's prune_to_highest_prio, with
// dnf's priority negated into libsolv's).
func (s *solver) pruneToBestPriority(list []id) []id {
	best := priority(s.pl.pkgs[list[0]])
	for _, i := range list[1:] {
		best = min(best, priority(s.pl.pkgs[i]))
	}
	return slices.DeleteFunc(list, func(i id) bool { return priority(s.pl.pkgs[i]) != best })
}

// pruneToBestArch keeps the candidates of the best architecture and noarch.
func (s *solver) pruneToBestArch(list []id) []id {
	best := -1
	for _, i := range list {
		if r := s.pl.archRank[i]; r != noarchRank && (best < 0 || r < best) {
			best = r
		}
	}
	if best < 0 {
		return list
	}
	return slices.DeleteFunc(list, func(i id) bool {
		r := s.pl.archRank[i]
		return r != noarchRank && r != best
	})
}

// pruneToBestVersion keeps the highest EVR of each name, in name order, and
// then drops candidates another candidate obsoletes. Between equal EVRs the
// first in libsolv's order wins: best arch, then the cheapest repository
// (dnf passes -cost as libsolv's subpriority), then canonical order.
func (s *solver) pruneToBestVersion(list []id) []id {
	pl := s.pl
	slices.SortFunc(list, func(a, b id) int {
		if c := strings.Compare(pl.pkgs[a].Name, pl.pkgs[b].Name); c != 0 {
			return c
		}
		if ra, rb := pl.archRank[a], pl.archRank[b]; ra != rb {
			return ra - rb
		}
		if ca, cb := cost(pl.pkgs[a]), cost(pl.pkgs[b]); ca != cb {
			return ca - cb
		}
		return int(a - b)
	})
	out := list[:0]
	for _, i := range list {
		if n := len(out); n > 0 && pl.pkgs[out[n-1]].Name == pl.pkgs[i].Name {
			if dep.CompareEVR(pl.pkgs[out[n-1]].EVR, pl.pkgs[i].EVR) < 0 {
				out[n-1] = i
			}
			continue
		}
		out = append(out, i)
	}
	if len(out) > 1 {
		out = s.pruneObsoleted(out)
	}
	return out
}

// obsoletes reports whether a obsoletes b by name (and not itself by its
// own name, which rpm treats as an upgrade, not an obsolete).
func (s *solver) obsoletes(a, b id) bool {
	pa, pb := s.pl.pkgs[a], s.pl.pkgs[b]
	if pa.Name == pb.Name {
		return false
	}
	for _, r := range pa.Obsoletes {
		if r.Name == pb.Name && r.MatchesEVR(pb.EVR) {
			return true
		}
	}
	return false
}

// pruneObsoleted drops candidates obsoleted by a candidate they do not
// obsolete back, directly or through others (libsolv's prune_obsoleted,
// which keeps mutually obsoleting groups).
func (s *solver) pruneObsoleted(list []id) []id {
	n := len(list)
	edges := make([][]int, n)
	found := false
	for i := range list {
		if len(s.pl.pkgs[list[i]].Obsoletes) == 0 {
			continue
		}
		for j := range list {
			if i != j && s.obsoletes(list[i], list[j]) {
				edges[i] = append(edges[i], j)
				found = true
			}
		}
	}
	if !found {
		return list
	}
	reach := make([][]bool, n)
	for i := range list {
		reach[i] = make([]bool, n)
		stack := []int{i}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, y := range edges[x] {
				if !reach[i][y] {
					reach[i][y] = true
					stack = append(stack, y)
				}
			}
		}
	}
	var out []id
	for j := range list {
		removed := false
		for i := range list {
			if i != j && reach[i][j] && !reach[j][i] {
				removed = true
				break
			}
		}
		if !removed {
			out = append(out, list[j])
		}
	}
	return out
}

// pruneToRecommended keeps candidates recommended by an installed package
// or supplementing the installed ones, if there are any.
func (s *solver) pruneToRecommended(list []id) []id {
	s.updateMaps()
	var out []id
	for _, i := range list {
		if s.recMap[i] || s.isSupplementing(i) {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return list
	}
	return out
}

// dislikeOldVersions moves candidates that have a newer version of the same
// name and arch in the pool, or one from a repository of better priority,
// to the back (a worse priority repository's package counts as old whatever
// its version, as in libsolv).
func (s *solver) dislikeOldVersions(list []id) []id {
	pl := s.pl
	var good, bad []id
	for _, i := range list {
		p, old := pl.pkgs[i], false
		for _, q := range pl.byName[p.Name] {
			if q == i || pl.pkgs[q].Arch != p.Arch {
				continue
			}
			if pp, pq := priority(p), priority(pl.pkgs[q]); pp != pq {
				if pq < pp {
					old = true
					break
				}
				continue
			}
			if dep.CompareEVR(pl.pkgs[q].EVR, p.EVR) > 0 {
				old = true
				break
			}
		}
		if old {
			bad = append(bad, i)
		} else {
			good = append(good, i)
		}
	}
	return append(good, bad...)
}

// sortByCommonDep orders candidates that provide the same capability at
// different versions ("java = 1:17" vs "java = 1:11"): those providing the
// higher version first (libsolv's sort_by_common_dep).
func (s *solver) sortByCommonDep(list []id) {
	type entry struct {
		cand int
		name string
		evr  dep.EVR
		lt   bool
	}
	var ents []entry
	for k, i := range list {
		for _, r := range s.pl.pkgs[i].Provides {
			if r.EVR.IsZero() || (r.Flags != dep.EQ && r.Flags != dep.LE && r.Flags != dep.LT) {
				continue
			}
			if r.Flags == dep.EQ && isHash(r.EVR.String()) {
				continue
			}
			ents = append(ents, entry{k, r.Name, r.EVR, r.Flags == dep.LT})
		}
	}
	if len(ents) < 2 {
		return
	}
	cmpEnt := func(a, b entry) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if a.evr == b.evr && a.lt == b.lt {
			return 0
		}
		r := evrcmpMatchRelease(b.evr, a.evr)
		if r == 0 && a.lt != b.lt {
			if !b.lt {
				return 1
			}
			return -1
		}
		return r
	}
	slices.SortStableFunc(ents, cmpEnt)
	badness := make([]int, len(list))
	have := false
	bad := 0
	for k := range ents {
		if k > 0 && ents[k].name == ents[k-1].name {
			if ents[k].cand != ents[k-1].cand && cmpEnt(ents[k-1], ents[k]) == -1 {
				bad++
				have = true
			}
		} else {
			bad = 0
		}
		badness[ents[k].cand] += bad
	}
	if !have {
		return
	}
	order := make([]int, len(list))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return badness[a] - badness[b] })
	sorted := make([]id, len(list))
	for k, o := range order {
		sorted[k] = list[o]
	}
	copy(list, sorted)
}

// isHash reports an EVR that looks like a hex hash, which libsolv ignores
// when comparing common provides.
func isHash(s string) bool {
	if len(s) < 4 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// evrcmpMatchRelease compares like libsolv's EVRCMP_MATCH_RELEASE: when the
// versions are equal and only one side has a release it returns ±2.
func evrcmpMatchRelease(a, b dep.EVR) int {
	if c := dep.CompareEVR(dep.EVR{Epoch: a.Epoch, Version: a.Version}, dep.EVR{Epoch: b.Epoch, Version: b.Version}); c != 0 {
		return c
	}
	switch {
	case a.Release == "" && b.Release != "":
		return -2
	case a.Release != "" && b.Release == "":
		return 2
	}
	return dep.Vercmp(a.Release, b.Release)
}

// preferSuggested moves candidates that no installed package suggests and
// that enhance nothing installed to the back.
func (s *solver) preferSuggested(list []id) []id {
	s.updateMaps()
	var good, bad []id
	for _, i := range list {
		if s.sugMap[i] || s.isEnhancing(i) {
			good = append(good, i)
		} else {
			bad = append(bad, i)
		}
	}
	return append(good, bad...)
}

// updateMaps recomputes which packages installed ones recommend and suggest
// (libsolv's recommendsmap and suggestsmap). For a rich dependency, a clause
// of its CNF counts once all its negated packages are installed.
func (s *solver) updateMaps() {
	if s.mapsAt == len(s.trail)+s.revisions<<32 {
		return
	}
	s.mapsAt = len(s.trail) + s.revisions<<32
	clear(s.recMap)
	clear(s.sugMap)
	for _, l := range s.trail {
		if l <= 0 {
			continue
		}
		p := s.pl.pkgs[l]
		s.markWeak(p.Recommends, s.recMap)
		s.markWeak(p.Suggests, s.sugMap)
	}
}

func (s *solver) markWeak(rels []dep.Relation, m []bool) {
	for _, r := range rels {
		if !r.IsRich() {
			ids, _ := s.pl.whatProvides(r)
			for _, i := range ids {
				m[i] = true
			}
			continue
		}
		rd := s.pl.parseRich(r.Name)
		if rd.err != nil {
			continue
		}
		nf, err := s.pl.cnf(rd.expr)
		if err != nil || nf.truth != 0 {
			continue
		}
	blocks:
		for _, b := range nf.blocks {
			for _, l := range b {
				if l < 0 && s.val[-l] <= 0 {
					continue blocks
				}
			}
			for _, l := range b {
				if l > 0 {
					m[l] = true
				}
			}
		}
	}
}

// fulfilled evaluates a dependency against the current assignment
// (libsolv's solver_dep_fulfilled): "A if B" is true when B is not.
func (s *solver) fulfilled(r dep.Relation) bool {
	if !r.IsRich() {
		ids, _ := s.pl.whatProvides(r)
		return s.anyInstalled(ids)
	}
	rd := s.pl.parseRich(r.Name)
	return rd.err == nil && s.eval(rd.expr)
}

func (s *solver) anyInstalled(ids []id) bool {
	for _, i := range ids {
		if s.val[i] > 0 {
			return true
		}
	}
	return false
}

func (s *solver) eval(e dep.Expr) bool {
	switch e.Op {
	case dep.OpAnd:
		for _, a := range e.Args {
			if !s.eval(a) {
				return false
			}
		}
		return true
	case dep.OpOr:
		for _, a := range e.Args {
			if s.eval(a) {
				return true
			}
		}
		return false
	case dep.OpIf:
		if len(e.Args) == 3 {
			if s.eval(e.Args[1]) {
				return s.eval(e.Args[0])
			}
			return s.eval(e.Args[2])
		}
		return s.eval(e.Args[0]) || !s.eval(e.Args[1])
	case dep.OpUnless:
		if len(e.Args) == 3 {
			if !s.eval(e.Args[1]) {
				return s.eval(e.Args[0])
			}
			return s.eval(e.Args[2])
		}
		return s.eval(e.Args[0]) && !s.eval(e.Args[1])
	}
	return s.anyInstalled(s.pl.exprProviders(e))
}

// evalNew is eval for supplements of not yet installed packages: 2 when
// true thanks to an installed package, 1 when only vacuously true ("A if B"
// with B absent), 0 when false (libsolv's
// solver_dep_fulfilled_alreadyinstalled on an empty system).
func (s *solver) evalNew(e dep.Expr) int {
	switch e.Op {
	case dep.OpAnd:
		r := 1
		for _, a := range e.Args {
			x := s.evalNew(a)
			if x == 0 {
				return 0
			}
			r = max(r, x)
		}
		return r
	case dep.OpOr:
		r := 0
		for _, a := range e.Args {
			r = max(r, s.evalNew(a))
		}
		return r
	case dep.OpIf, dep.OpUnless:
		if len(e.Args) == 3 {
			c := s.evalNew(e.Args[1])
			then, els := e.Args[0], e.Args[2]
			if e.Op == dep.OpUnless {
				then, els = els, then
			}
			if c != 0 {
				r := s.evalNew(then)
				if r != 0 && c == 2 {
					return 2
				}
				return r
			}
			return s.evalNew(els)
		}
		a := s.evalNew(e.Args[0])
		notB := s.evalNew(e.Args[1]) == 0
		if e.Op == dep.OpIf {
			if a == 0 && !notB {
				return 0
			}
		} else if a == 0 || !notB {
			return 0
		}
		if a == 2 {
			return 2
		}
		return 1
	}
	if s.anyInstalled(s.pl.exprProviders(e)) {
		return 2
	}
	return 0
}

func (s *solver) isSupplementing(i id) bool {
	for _, r := range s.pl.pkgs[i].Supplements {
		if s.fulfilled(r) {
			return true
		}
	}
	return false
}

// supplementsNew reports whether some Supplements of i is true because of
// an installed package, the test dnf applies before adding it.
func (s *solver) supplementsNew(i id) bool {
	for _, r := range s.pl.pkgs[i].Supplements {
		if !r.IsRich() {
			if s.fulfilled(r) {
				return true
			}
			continue
		}
		if rd := s.pl.parseRich(r.Name); rd.err == nil && s.evalNew(rd.expr) == 2 {
			return true
		}
	}
	return false
}

func (s *solver) isEnhancing(i id) bool {
	for _, r := range s.pl.pkgs[i].Enhances {
		if s.fulfilled(r) {
			return true
		}
	}
	return false
}
