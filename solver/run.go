package solver

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/smith-build/smith/dep"
)

// solve runs the search until it finds a solution, disabling the job rules
// of each proven problem and searching again so that every independent
// problem is reported (as libsolv does). It returns the installed ids.
func (s *solver) solve() ([]id, []Problem, error) {
	s.rules, s.jobStart, s.jobEnd, s.inRules = buildRules(s.pl, s.jobs)
	if s.pl.fileErr != nil {
		return nil, nil, s.pl.fileErr
	}
	var problems []Problem
	for {
		s.reset()
		ok, err := s.run()
		if err != nil {
			return nil, nil, err
		}
		if ok {
			break
		}
		proof := s.proof(s.conflict)
		problems = append(problems, s.explain(proof))
		disabled := false
		for _, ri := range proof {
			if r := &s.rules[ri]; r.kind == ruleJob && !r.disabled {
				r.disabled = true
				disabled = true
			}
		}
		if !disabled {
			// Cannot happen: without job rules, installing nothing
			// satisfies every package rule.
			return nil, nil, fmt.Errorf("internal error: conflict without a request")
		}
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	var installed []id
	for i := id(1); int(i) <= s.pl.n(); i++ {
		if s.val[i] > 0 {
			installed = append(installed, i)
		}
	}
	return installed, nil, nil
}

// run is libsolv's solver_run_sat: decide assertions, then the jobs, then
// every open dependency, then weak dependencies, then minimise; whenever a
// step backtracks below where the next one started, start over. It returns
// false when the rules are contradictory at level 0.
func (s *solver) run() (bool, error) {
	if !s.assertions() {
		return false, nil
	}
	level := int32(0)
	systemLevel := int32(1)
	for {
		if err := s.pl.ctx.Err(); err != nil {
			return false, err
		}
		if s.pl.fileErr != nil {
			return false, s.pl.fileErr
		}
		if level < systemLevel {
			old := level
			level = s.resolveJobs(level)
			if level < 0 {
				return false, nil
			}
			if level < old {
				continue
			}
			systemLevel = level + 1
		}
		if level < systemLevel {
			systemLevel = level
		}
		old := level
		level = s.resolveDependencies(level)
		if level < 0 {
			return false, nil
		}
		if level < old {
			continue
		}
		if !s.noWeak {
			var rerun bool
			level, rerun = s.resolveWeak(level)
			if level < 0 {
				return false, nil
			}
			if rerun {
				continue
			}
		}
		// libsolv bounds nothing here; a cap costs nothing in practice and
		// guarantees termination on adversarial input.
		if s.minimizeSteps < maxMinimizeSteps {
			s.minimizeSteps++
		} else {
			return true, nil
		}
		if next, took := s.minimize(); took {
			if next < 0 {
				return false, nil
			}
			level = next
			continue
		}
		return true, nil
	}
}

// maxMinimizeSteps bounds how many earlier choices minimize may revisit.
const maxMinimizeSteps = 10000

// assertions decides the one-literal rules at level 0.
func (s *solver) assertions() bool {
	for ri := range s.rules {
		r := &s.rules[ri]
		if len(r.lits) != 1 || r.disabled {
			continue
		}
		switch s.litVal(r.lits[0]) {
		case 0:
			s.assign(r.lits[0], int32(ri))
		case -1:
			s.conflict = int32(ri)
			return false
		}
	}
	return s.propagateLearn(0) >= 0
}

// selectAndInstall installs the best of several candidates at a new level,
// remembering the others as a branch.
func (s *solver) selectAndInstall(level int32, cands []id) int32 {
	if len(cands) > 1 {
		cands = s.policyFilter(cands, modeChoose)
	}
	if len(cands) > 1 {
		s.addBranch(level, cands)
	}
	return s.decide(level, cands[0])
}

func (s *solver) addBranch(level int32, cands []id) {
	alts := slices.Clone(cands)
	alts[0] = -alts[0]
	s.branches = append(s.branches, branch{alts: alts, level: level})
}

// openCandidates returns the undecided positive literals of a rule that is
// not yet satisfied, and whether the rule needs a decision: all its negative
// literals are false and no positive literal is true.
func (s *solver) openCandidates(r *rule) ([]id, bool) {
	var dq []id
	for _, l := range r.lits {
		if l < 0 {
			if s.val[-l] <= 0 {
				return nil, false
			}
			continue
		}
		switch s.val[l] {
		case 1:
			return nil, false
		case 0:
			dq = append(dq, l)
		}
	}
	return dq, len(dq) > 0
}

// resolveJobs installs a candidate of every job not yet satisfied, in job
// order.
func (s *solver) resolveJobs(level int32) int32 {
	start := level
	for ri := s.jobStart; ri < s.jobEnd; ri++ {
		r := &s.rules[ri]
		if r.disabled {
			continue
		}
		dq, open := s.openCandidates(r)
		if !open {
			continue
		}
		old := level
		level = s.selectAndInstall(level, dq)
		if level < 0 {
			return level
		}
		if level <= old {
			if level == old {
				ri-- // learnt something, try this job again
				continue
			}
			if level < start {
				return level
			}
			ri = s.jobStart - 1 // redo from the first job
		}
	}
	return level
}

// resolveDependencies decides open rules in rule order. In a first pass it
// only takes rules the policy reduces to one candidate, postponing real
// choices until nothing else is left (libsolv's resolve_dependencies).
func (s *solver) resolveDependencies(level int32) int32 {
	origLevel := level
	postponed := 0 // index+1 of the first postponed rule; -1: no more postponing
	i := 0
	for n := 0; ; i, n = i+1, n+1 {
		if n >= len(s.rules) {
			if postponed <= 0 {
				break
			}
			i, postponed, n = postponed-1, -1, 0
		}
		if i >= len(s.rules) {
			i = 0
		}
		r := &s.rules[i]
		if r.disabled || len(r.lits) < 2 {
			continue
		}
		dq, open := s.openCandidates(r)
		if !open || len(dq) < 2 {
			continue
		}
		if postponed >= 0 {
			dq = s.policyFilter(dq, modeChooseNoReorder)
			if len(dq) > 1 {
				if postponed == 0 {
					postponed = i + 1
				}
				continue
			}
		}
		level = s.selectAndInstall(level, dq)
		if level < origLevel {
			break
		}
		n = -1 // something changed: look at every rule again
	}
	return level
}

// resolveWeak installs supplementing and recommended packages (libsolv's
// resolve_weak). rerun says whether it decided anything, after which the
// caller starts over.
func (s *solver) resolveWeak(level int32) (int32, bool) {
	var dq, dqs []id
	inDq := map[id]bool{}
	push := func(i id) {
		if !inDq[i] {
			inDq[i] = true
			dq = append(dq, i)
		}
	}
	for i := id(1); int(i) <= s.pl.n(); i++ {
		switch s.val[i] {
		case 1:
			for _, r := range s.pl.pkgs[i].Recommends {
				for _, c := range s.recommendCandidates(r, nil) {
					push(c)
				}
			}
		case 0:
			if !s.inRules[i] || len(s.pl.pkgs[i].Supplements) == 0 || !s.supplementsNew(i) || s.otherColorInstalled(i) {
				continue
			}
			dqs = append(dqs, i)
		}
	}
	for _, i := range dqs {
		push(i)
	}
	if len(dq) == 0 {
		return level, false
	}
	if len(dq) == 1 {
		return s.decide(level, dq[0]), true
	}
	best := map[id]bool{}
	for _, i := range s.policyFilter(dq, modeRecommend) {
		best[i] = true
	}
	dqs = slices.DeleteFunc(dqs, func(i id) bool { return !best[i] })
	if len(dqs) > 1 {
		dqs = s.policyFilter(dqs, modeSupplement)
	}
	decided := len(s.trail)
	for _, i := range dqs {
		if s.val[i] != 0 {
			continue
		}
		old := level
		level = s.decide(level, i)
		if level <= old {
			return level, true
		}
	}
	if len(s.trail) < decided {
		return level, true
	}
	for t := 0; t < decided; t++ {
		l := s.trail[t]
		if l <= 0 {
			continue
		}
		for _, r := range s.pl.pkgs[l].Recommends {
			dq := s.recommendCandidates(r, best)
			if len(dq) == 0 {
				continue
			}
			if len(dq) > 1 {
				dq = s.policyFilter(dq, modeChoose)
			}
			if len(dq) > 1 {
				s.addBranch(level, dq)
			}
			old := level
			level = s.decide(level, dq[0])
			if level <= old || len(s.trail) < decided {
				return level, true
			}
		}
	}
	return level, true
}

// recommendCandidates returns the undecided providers of a recommendation
// that is not yet satisfied, restricted to allowed when it is non-nil.
func (s *solver) recommendCandidates(r dep.Relation, allowed map[id]bool) []id {
	ok := func(i id) bool { return s.val[i] == 0 && s.inRules[i] && (allowed == nil || allowed[i]) }
	if !r.IsRich() {
		ids, _ := s.pl.whatProvides(r)
		if s.anyInstalled(ids) {
			return nil
		}
		var out []id
		for _, i := range ids {
			if ok(i) {
				out = append(out, i)
			}
		}
		return out
	}
	rd := s.pl.parseRich(r.Name)
	if rd.err != nil {
		return nil
	}
	nf, err := s.pl.cnf(rd.expr)
	if err != nil || nf.truth != 0 {
		return nil
	}
	var out []id
blocks:
	for _, b := range nf.blocks {
		var cand []id
		for _, l := range b {
			if l < 0 {
				if s.val[-l] <= 0 {
					continue blocks // the condition does not hold
				}
				continue
			}
			if s.val[l] > 0 {
				continue blocks // already satisfied
			}
			if ok(l) {
				cand = append(cand, l)
			}
		}
		for _, c := range cand {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// otherColorInstalled reports whether a package of the same name but another
// arch is installed; supplements do not pull in a second multilib build.
func (s *solver) otherColorInstalled(i id) bool {
	p := s.pl.pkgs[i]
	for _, o := range s.pl.byName[p.Name] {
		if s.val[o] > 0 && s.pl.pkgs[o].Arch != p.Arch {
			return true
		}
	}
	return false
}

// minimize revisits earlier choices (libsolv's auto-minimization): if an
// alternative got installed later anyway, or is recommended while the choice
// made is not, take it instead. It reports whether it took a branch.
func (s *solver) minimize() (int32, bool) {
	if len(s.branches) == 0 {
		return 0, false
	}
	s.updateMaps()
	recommended := func(i id) bool { return s.recMap[i] || s.isSupplementing(i) }
	lastB, lastK := -1, -1
	for b := len(s.branches) - 1; b >= 0; b-- {
		br := &s.branches[b]
		l := br.level
		lastsi := -1
		found := false
		for k, p := range br.alts {
			if p <= 0 {
				continue
			}
			if s.val[p] > 0 && s.lvl[p] > l {
				lastB, lastK, lastsi, found = b, k, -1, true
				break
			}
			if lastsi < 0 && recommended(p) {
				lastsi = k
			}
		}
		if found || lastsi < 0 {
			continue
		}
		for _, p := range br.alts {
			if p >= 0 || s.val[-p] <= 0 || s.lvl[-p] != l+1 {
				continue
			}
			if !recommended(-p) {
				lastB, lastK = b, lastsi
				break
			}
		}
	}
	if lastB < 0 {
		return 0, false
	}
	return s.takeBranch(lastB, lastK), true
}

// takeBranch reverts to a branch's level and installs its k-th alternative.
func (s *solver) takeBranch(b, k int) int32 {
	br := s.branches[b]
	p := br.alts[k]
	br.alts[k] = -p
	// Keep this branch (and those before it) while reverting.
	s.branches = s.branches[:b+1]
	saved := s.branches
	s.branches = nil
	s.revert(br.level)
	s.branches = saved
	return s.decide(br.level, p)
}

// explain turns a proof of unsolvability into a Problem, choosing the rule
// that tells the user most: a missing provider, then a conflict, an
// obsoletes, two versions of one name, and last a requirement.
func (s *solver) explain(proof []int32) Problem {
	pl := s.pl
	var (
		specs   []string
		details []string
		best    = -1
	)
	rank := func(k ruleKind) int {
		switch k {
		case ruleNothingProvides, ruleBadDep:
			return 0
		case ruleConflicts:
			return 1
		case ruleObsoletes:
			return 2
		case ruleSameName:
			return 3
		case ruleRequires:
			return 4
		case ruleInfArch:
			return 5
		}
		return 6
	}
	// newest reports whether a rule's packages are the newest of their
	// names, so that the line names what the user would get.
	newest := func(r *rule) int {
		score := 0
		for _, i := range []id{r.pkg, r.other} {
			if i == 0 {
				continue
			}
			for _, o := range pl.byName[pl.pkgs[i].Name] {
				if dep.CompareEVR(pl.pkgs[o].EVR, pl.pkgs[i].EVR) > 0 {
					score++
					break
				}
			}
		}
		return score
	}
	slices.Sort(proof)
	for _, ri := range proof {
		r := &s.rules[ri]
		if r.kind == ruleJob {
			specs = append(specs, s.jobs[r.job].spec)
			continue
		}
		details = append(details, s.describeRule(r))
		if best < 0 {
			best = int(ri)
			continue
		}
		b := &s.rules[best]
		if c := cmp.Or(rank(r.kind)-rank(b.kind), newest(r)-newest(b),
			strings.Compare(s.describeRule(r), s.describeRule(b))); c < 0 {
			best = int(ri)
		}
	}
	slices.Sort(details)
	details = slices.Compact(details)
	specs = sortUnique(specs)
	p := Problem{Kind: ConflictingRequests, Specs: specs, Details: details}
	if best < 0 {
		return p
	}
	r := &s.rules[best]
	p.Package = pl.pkgs[r.pkg]
	p.Relation = r.dep
	if r.other != 0 {
		p.Other = pl.pkgs[r.other]
	}
	switch r.kind {
	case ruleNothingProvides:
		p.Kind = NothingProvides
	case ruleBadDep:
		p.Kind, p.Detail = BadDependency, r.err.Error()
	case ruleConflicts:
		p.Kind = Conflict
	case ruleObsoletes:
		p.Kind = Obsoletes
	case ruleSameName:
		p.Kind = SameName
	case ruleRequires:
		p.Kind = NotInstallable
	case ruleInfArch:
		p.Kind = InferiorArch
	}
	p.Chain = s.chain(proof, r.pkg)
	if r.other != 0 {
		p.OtherChain = s.chain(proof, r.other)
	}
	return p
}

// chain finds how a request leads to package target: a shortest path from a
// job's candidate along requires rules, through the proof's rules if they
// connect them (the story of this problem), else through any, else from any
// job.
func (s *solver) chain(proof []int32, target id) []Step {
	if target == 0 {
		return nil
	}
	inProof := make(map[int32]bool, len(proof))
	var jobs []int32
	for _, ri := range proof {
		inProof[ri] = true
		if s.rules[ri].kind == ruleJob {
			jobs = append(jobs, ri)
		}
	}
	var allJobs []int32
	for ri := s.jobStart; ri < s.jobEnd; ri++ {
		allJobs = append(allJobs, int32(ri))
	}
	for _, try := range []struct {
		jobs      []int32
		proofOnly bool
	}{{jobs, true}, {jobs, false}, {allJobs, false}} {
		if c := s.chainFrom(try.jobs, target, func(ri int32) bool { return !try.proofOnly || inProof[ri] }); c != nil {
			return c
		}
	}
	return nil
}

// preferred orders the positive literals of a rule as a user would expect a
// chain to go: the best architecture and the newest version of a name
// first (what the policy would install), then id order.
func (s *solver) preferred(lits []lit) []id {
	var out []id
	for _, l := range lits {
		if l > 0 {
			out = append(out, l)
		}
	}
	pl := s.pl
	slices.SortStableFunc(out, func(a, b id) int {
		pa, pb := pl.pkgs[a], pl.pkgs[b]
		if pa.Name != pb.Name {
			return strings.Compare(pa.Name, pb.Name)
		}
		return cmp.Or(pl.archRank[a]-pl.archRank[b], dep.CompareEVR(pb.EVR, pa.EVR), int(a-b))
	})
	return out
}

// chainFrom is a breadth-first search from the candidates of jobs to
// target over the requires rules use accepts.
func (s *solver) chainFrom(jobs []int32, target id, use func(int32) bool) []Step {
	pkgs := s.pl.pkgs
	type edge struct {
		from id    // 0: selected by a job
		rule int32 // the requires or job rule
	}
	parent := map[id]edge{}
	var queue []id
	for _, ri := range jobs {
		for _, c := range s.preferred(s.rules[ri].lits) {
			if _, ok := parent[c]; !ok && c > 0 {
				parent[c] = edge{rule: ri}
				queue = append(queue, c)
			}
		}
	}
	var requires map[id][]int32
	for head := 0; head < len(queue); head++ {
		u := queue[head]
		if u == target {
			break
		}
		if requires == nil {
			requires = map[id][]int32{}
			for ri := range s.rules {
				if r := &s.rules[ri]; r.kind == ruleRequires && use(int32(ri)) {
					requires[r.pkg] = append(requires[r.pkg], int32(ri))
				}
			}
		}
		for _, ri := range requires[u] {
			for _, v := range s.preferred(s.rules[ri].lits) {
				if _, ok := parent[v]; !ok && v > 0 && v != u {
					parent[v] = edge{from: u, rule: ri}
					queue = append(queue, v)
				}
			}
		}
	}
	if _, ok := parent[target]; !ok {
		return nil
	}
	var rev []Step
	for v := target; ; {
		e := parent[v]
		r := &s.rules[e.rule]
		if e.from == 0 {
			rev = append(rev, Step{Spec: s.jobs[r.job].spec, Package: pkgs[v]})
			break
		}
		rev = append(rev, Step{By: pkgs[e.from], Relation: r.dep, Package: pkgs[v]})
		v = e.from
	}
	slices.Reverse(rev)
	return rev
}

// describeRule renders a rule for Problem.Details.
func (s *solver) describeRule(r *rule) string {
	pl := s.pl
	name := func(i id) string { return pl.pkgs[i].NEVRA() }
	switch r.kind {
	case ruleRequires:
		return fmt.Sprintf("%s requires %s", name(r.pkg), r.dep)
	case ruleNothingProvides:
		return fmt.Sprintf("nothing provides %s needed by %s", r.dep, describe(pl.pkgs[r.pkg]))
	case ruleBadDep:
		return fmt.Sprintf("%s has an unusable dependency %s: %v", name(r.pkg), r.dep, r.err)
	case ruleConflicts:
		if r.other == 0 {
			return fmt.Sprintf("%s conflicts with %s", name(r.pkg), r.dep)
		}
		return fmt.Sprintf("%s conflicts with %s provided by %s", name(r.pkg), r.dep, name(r.other))
	case ruleObsoletes:
		return fmt.Sprintf("%s obsoletes %s provided by %s", name(r.pkg), r.dep, name(r.other))
	case ruleSameName:
		return fmt.Sprintf("cannot install both %s and %s", name(r.pkg), name(r.other))
	case ruleJob:
		return fmt.Sprintf("request %q", s.jobs[r.job].spec)
	case ruleInfArch:
		return fmt.Sprintf("%s has an inferior architecture and no best-architecture build of its version", name(r.pkg))
	}
	return "learnt rule"
}
