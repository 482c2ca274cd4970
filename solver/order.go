package solver

import (
	"slices"
	"strings"

	"github.com/smith-build/smith/dep"
)

// installedProviders returns the installed packages that satisfy r (for a
// rich dependency, those satisfying any of its atoms), in id order.
func (s *solver) installedProviders(r dep.Relation) []id {
	var ids []id
	if r.IsRich() {
		if rd := s.pl.parseRich(r.Name); rd.err == nil {
			rd.expr.Atoms(func(a dep.Relation) {
				more, _ := s.pl.whatProvides(a)
				ids = append(ids, more...)
			})
			ids = sortUnique(ids)
		}
	} else {
		ids, _ = s.pl.whatProvides(r)
	}
	var out []id
	for _, i := range ids {
		if s.val[i] > 0 {
			out = append(out, i)
		}
	}
	return out
}

// reasons explains every installed package by a breadth-first walk from the
// requested ones: requirements first, then recommendations, then
// supplements, so each package gets the shortest and hardest chain.
func (s *solver) reasons(installed []id) map[id]Reason {
	out := make(map[id]Reason, len(installed))
	var queue []id
	add := func(i id, r Reason) {
		if _, ok := out[i]; !ok {
			out[i] = r
			queue = append(queue, i)
		}
	}
	for ri := s.jobStart; ri < s.jobEnd; ri++ {
		r := &s.rules[ri]
		for _, c := range r.lits {
			if s.val[c] > 0 {
				add(c, Reason{Kind: Requested, Spec: s.jobs[r.job].spec})
			}
		}
	}
	pkgs := s.pl.pkgs
	for head := 0; ; {
		for ; head < len(queue); head++ {
			q := queue[head]
			for _, r := range pkgs[q].Requires {
				for _, p := range s.installedProviders(r) {
					add(p, Reason{Kind: Required, By: pkgs[q], Relation: r})
				}
			}
		}
		n := len(queue)
		for _, q := range queue[:n] {
			for _, r := range pkgs[q].Recommends {
				for _, p := range s.installedProviders(r) {
					add(p, Reason{Kind: Recommended, By: pkgs[q], Relation: r})
				}
			}
		}
		if len(queue) > n {
			continue
		}
		for _, i := range installed {
			for _, r := range pkgs[i].Supplements {
				if s.fulfilled(r) {
					add(i, Reason{Kind: Supplements, Relation: r})
					break
				}
			}
		}
		if len(queue) == n {
			break
		}
	}
	for _, i := range installed {
		if _, ok := out[i]; !ok {
			out[i] = Reason{Kind: Required}
		}
	}
	return out
}

// installOrder sorts the installed packages so that requirements come
// first: a topological order of the strongly connected components of the
// requires graph, ties and cycle members ordered by NEVRA.
func (s *solver) installOrder(installed []id) []id {
	pkgs := s.pl.pkgs
	nodes := slices.Clone(installed)
	slices.SortFunc(nodes, func(a, b id) int { return strings.Compare(pkgs[a].NEVRA(), pkgs[b].NEVRA()) })
	index := make(map[id]int, len(nodes))
	for k, i := range nodes {
		index[i] = k
	}
	// deps[k]: nodes that node k requires.
	deps := make([][]int, len(nodes))
	for k, q := range nodes {
		for _, r := range pkgs[q].Requires {
			for _, p := range s.installedProviders(r) {
				if p != q {
					deps[k] = append(deps[k], index[p])
				}
			}
		}
		deps[k] = sortUnique(deps[k])
	}
	comp := tarjan(deps)
	ncomp := 0
	for _, c := range comp {
		ncomp = max(ncomp, c+1)
	}
	members := make([][]int, ncomp)
	for k, c := range comp {
		members[c] = append(members[c], k) // in NEVRA order
	}
	// Tarjan numbers components so that a component's requirements have
	// smaller numbers; emitting in number order is a valid install order,
	// but to break ties by name use Kahn's algorithm over the condensation.
	indeg := make([]int, ncomp)
	users := make([][]int, ncomp)
	for k := range nodes {
		for _, d := range deps[k] {
			if comp[d] != comp[k] {
				users[comp[d]] = append(users[comp[d]], comp[k])
				indeg[comp[k]]++
			}
		}
	}
	var ready []int
	for c := range members {
		if indeg[c] == 0 {
			ready = append(ready, c)
		}
	}
	out := make([]id, 0, len(nodes))
	for len(ready) > 0 {
		slices.SortFunc(ready, func(a, b int) int { return members[a][0] - members[b][0] })
		c := ready[0]
		ready = ready[1:]
		for _, k := range members[c] {
			out = append(out, nodes[k])
		}
		for _, u := range users[c] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	return out
}

// tarjan returns the strongly connected component of every node; an edge
// k→d means k requires d, and components are numbered dependencies first.
func tarjan(edges [][]int) []int {
	n := len(edges)
	var (
		index   = make([]int, n)
		low     = make([]int, n)
		onStack = make([]bool, n)
		comp    = make([]int, n)
		stack   []int
		next    = 1
		ncomp   int
	)
	for i := range comp {
		comp[i] = -1
	}
	type frame struct{ v, e int }
	for root := range n {
		if index[root] != 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.e < len(edges[f.v]) {
				w := edges[f.v][f.e]
				f.e++
				if index[w] == 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
		}
	}
	return comp
}
