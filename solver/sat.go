package solver

// The search engine: conflict-driven clause learning over package literals,
// shaped like libsolv's solver.c so that the same decisions come out in the
// same order. Level 0 holds assertions and what they imply; every choice
// opens a new level; a conflict is analysed to its first unique implication
// point, the learnt rule is added, and the search jumps back.

// branch records a choice between several candidates so that the
// minimisation step can revisit it (libsolv's solv->branches).
type branch struct {
	alts  []lit // candidates; negative once tried (the first is the choice made)
	level int32 // the level the choice was made at (decided at level+1)
}

type solver struct {
	pl       *pool
	jobs     []job
	noWeak   bool
	rules    []rule
	jobStart int // rules[jobStart:jobEnd] are job rules
	jobEnd   int
	inRules  []bool // per id: the package has rules (was reachable)

	watches  [][]int32 // per literal (see litIndex): rules watching it
	val      []int8    // per id: 1 installed, -1 not, 0 undecided
	lvl      []int32   // per id: decision level of val
	why      []int32   // per id: rule that implied val, -1 for a decision
	trail    []lit     // assignments in order
	propIdx  int       // trail[:propIdx] has been propagated
	level    int32     // current decision level
	branches []branch

	conflict      int32 // the rule that failed at level 0, when unsolvable
	minimizeSteps int   // branches taken by minimize in this run

	// weak-dependency maps, recomputed when the assignment changed
	mapsAt    int // trail length they were computed for, -1 invalid
	recMap    []bool
	sugMap    []bool
	seen      []bool // scratch for analyze
	revisions int
}

func newSolver(pl *pool, jobs []job, noWeak bool) *solver {
	n := pl.n() + 1
	return &solver{
		pl:     pl,
		jobs:   jobs,
		noWeak: noWeak,
		val:    make([]int8, n),
		lvl:    make([]int32, n),
		why:    make([]int32, n),
		seen:   make([]bool, n),
		recMap: make([]bool, n),
		sugMap: make([]bool, n),
		mapsAt: -1,
	}
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func litIndex(l lit) int {
	if l < 0 {
		return int(-l)*2 + 1
	}
	return int(l) * 2
}

// litVal is 1 when l is true, -1 when false, 0 when undecided.
func (s *solver) litVal(l lit) int8 {
	if l < 0 {
		return -s.val[-l]
	}
	return s.val[l]
}

func (s *solver) installed(i id) bool { return s.val[i] > 0 }

// reset clears the assignment, learnt rules and watches, keeping the rules
// (and which job rules are disabled).
func (s *solver) reset() {
	n := 0
	for i := range s.rules {
		if s.rules[i].kind != ruleLearnt {
			s.rules[n] = s.rules[i]
			n++
		}
	}
	s.rules = s.rules[:n]
	clear(s.val)
	clear(s.lvl)
	clear(s.why)
	s.trail = s.trail[:0]
	s.propIdx = 0
	s.level = 0
	s.branches = nil
	s.conflict = 0
	s.minimizeSteps = 0
	s.mapsAt = -1
	s.watches = make([][]int32, 2*(s.pl.n()+1))
	for ri := range s.rules {
		s.rules[ri].w = [2]int32{0, 1}
		s.watch(int32(ri))
	}
}

// watch sets up the two watched literals of a rule of two or more literals.
func (s *solver) watch(ri int32) {
	r := &s.rules[ri]
	if len(r.lits) < 2 || r.disabled {
		return
	}
	s.watches[litIndex(r.lits[r.w[0]])] = append(s.watches[litIndex(r.lits[r.w[0]])], ri)
	s.watches[litIndex(r.lits[r.w[1]])] = append(s.watches[litIndex(r.lits[r.w[1]])], ri)
}

func (s *solver) assign(l lit, why int32) {
	v := abs32(l)
	if l > 0 {
		s.val[v] = 1
	} else {
		s.val[v] = -1
	}
	s.lvl[v] = s.level
	s.why[v] = why
	s.trail = append(s.trail, l)
}

// propagate performs unit propagation and returns a violated rule, or -1.
func (s *solver) propagate() int32 {
	for s.propIdx < len(s.trail) {
		f := -s.trail[s.propIdx] // the literal that just became false
		s.propIdx++
		fi := litIndex(f)
		ws := s.watches[fi]
		j := 0
		for i := 0; i < len(ws); i++ {
			ri := ws[i]
			r := &s.rules[ri]
			if r.disabled {
				continue // dropped from this watch list for good
			}
			me := 0
			if r.lits[r.w[1]] == f {
				me = 1
			}
			other := r.lits[r.w[1-me]]
			if s.litVal(other) > 0 {
				ws[j] = ri
				j++
				continue
			}
			moved := false
			for k, x := range r.lits {
				if int32(k) != r.w[0] && int32(k) != r.w[1] && s.litVal(x) >= 0 {
					r.w[me] = int32(k)
					xi := litIndex(x)
					s.watches[xi] = append(s.watches[xi], ri)
					moved = true
					break
				}
			}
			if moved {
				continue
			}
			ws[j] = ri
			j++
			if s.litVal(other) < 0 {
				j += copy(ws[j:], ws[i+1:])
				s.watches[fi] = ws[:j]
				return ri
			}
			s.assign(other, ri)
		}
		s.watches[fi] = ws[:j]
	}
	return -1
}

// revert undoes every assignment above level and the branches made there.
func (s *solver) revert(level int32) {
	for len(s.trail) > 0 {
		l := s.trail[len(s.trail)-1]
		v := abs32(l)
		if s.lvl[v] <= level {
			break
		}
		s.val[v] = 0
		s.trail = s.trail[:len(s.trail)-1]
	}
	s.propIdx = len(s.trail)
	for len(s.branches) > 0 && s.branches[len(s.branches)-1].level >= level {
		s.branches = s.branches[:len(s.branches)-1]
	}
	s.level = level
	s.revisions++
}

// decide makes a choice at a new level and propagates it, learning from
// conflicts (libsolv's setpropagatelearn). It returns the resulting level,
// or -1 when a conflict reached level 0 (s.conflict holds its rule).
func (s *solver) decide(level int32, l lit) int32 {
	if l != 0 {
		level++
		s.level = level
		s.assign(l, -1)
	}
	return s.propagateLearn(level)
}

func (s *solver) propagateLearn(level int32) int32 {
	for {
		c := s.propagate()
		if c < 0 {
			return level
		}
		if level == 0 {
			s.conflict = c
			return -1
		}
		learnt, from, back := s.analyze(c)
		if back < 0 {
			// The conflict involves no literal of this level (possible
			// after rules were added); retry from the highest one involved.
			s.revert(-back - 1)
			level = s.level
			s.propIdx = 0 // re-examine everything at the lower level
			s.rebuildWatches()
			continue
		}
		s.revert(back)
		level = back
		ri := int32(len(s.rules))
		r := rule{lits: learnt, kind: ruleLearnt, from: from}
		if len(learnt) > 1 {
			// Watch the asserted literal and the one decided last.
			hi := 1
			for k := 2; k < len(learnt); k++ {
				if s.lvl[abs32(learnt[k])] > s.lvl[abs32(learnt[hi])] {
					hi = k
				}
			}
			r.w = [2]int32{0, int32(hi)}
		}
		s.rules = append(s.rules, r)
		s.watch(ri)
		s.assign(learnt[0], ri)
	}
}

// rebuildWatches recreates all watch lists; used on the rare path where the
// watch invariant may have been broken.
func (s *solver) rebuildWatches() {
	for i := range s.watches {
		s.watches[i] = s.watches[i][:0]
	}
	for ri := range s.rules {
		r := &s.rules[ri]
		if len(r.lits) < 2 || r.disabled {
			continue
		}
		// Prefer non-false literals as watches.
		k := 0
		for p := range r.lits {
			if k < 2 && s.litVal(r.lits[p]) >= 0 {
				r.w[k] = int32(p)
				k++
			}
		}
		for p := 0; k < 2; p++ {
			if int32(p) != r.w[0] {
				r.w[k] = int32(p)
				k++
			}
		}
		s.watch(int32(ri))
	}
}

// analyze derives the first-UIP clause from conflict rule c. It returns the
// learnt literals (asserting literal first), the rules used, and the level
// to jump back to; a negative level -(L+1) means no literal of the current
// level is involved and the search must first revert to level L.
func (s *solver) analyze(c int32) ([]lit, []int32, int32) {
	var (
		learnt  = []lit{0}
		from    []int32
		counter int
		idx     = len(s.trail) - 1
		p       lit
		maxLvl  int32
		touched []id
	)
	defer func() {
		for _, v := range touched {
			s.seen[v] = false
		}
	}()
	for {
		from = append(from, c)
		for _, q := range s.rules[c].lits {
			v := abs32(q)
			if (p != 0 && v == abs32(p)) || s.seen[v] || s.lvl[v] == 0 {
				continue
			}
			s.seen[v] = true
			touched = append(touched, v)
			if s.lvl[v] == s.level {
				counter++
			} else {
				learnt = append(learnt, q)
				maxLvl = max(maxLvl, s.lvl[v])
			}
		}
		if counter == 0 {
			if p == 0 {
				return nil, nil, -(maxLvl + 1)
			}
			break
		}
		for !s.seen[abs32(s.trail[idx])] || s.lvl[abs32(s.trail[idx])] != s.level {
			idx--
		}
		p = s.trail[idx]
		idx--
		s.seen[abs32(p)] = false
		counter--
		if counter == 0 {
			break
		}
		c = s.why[abs32(p)]
	}
	learnt[0] = -p
	back := int32(0)
	for _, q := range learnt[1:] {
		back = max(back, s.lvl[abs32(q)])
	}
	return learnt, from, back
}

// proof returns the original rules that together force the level-0
// conflict, expanding learnt rules and the reasons of every assignment.
func (s *solver) proof(c int32) []int32 {
	done := make(map[int32]bool)
	var out []int32
	stack := []int32{c}
	for len(stack) > 0 {
		ri := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if ri < 0 || done[ri] {
			continue
		}
		done[ri] = true
		r := &s.rules[ri]
		if r.kind == ruleLearnt {
			stack = append(stack, r.from...)
		} else {
			out = append(out, ri)
		}
		// Literals of higher levels in a learnt rule's sources were
		// resolved away; only level-0 facts were used implicitly.
		for _, l := range r.lits {
			if v := abs32(l); s.val[v] != 0 && s.lvl[v] == 0 {
				stack = append(stack, s.why[v])
			}
		}
	}
	return out
}
