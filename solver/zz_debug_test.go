package solver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/smith-build/smith/repo"
)

func TestZZDebug(t *testing.T) {
	seed := uint64(1419)
	r := rand.New(rand.NewPCG(seed, 42))
	target, arches := "x86_64", []string{"x86_64", "noarch"}
	if seed%2 == 1 {
		target, arches = "i686", []string{"i686", "noarch", "i586"}
	}
	pkgs := randomRepo(r, arches)
	idx := &memIndex{pkgs: pkgs, filelists: map[string][]*repo.Package{}}
	var specs []string
	for range 1 + r.IntN(2) {
		specs = append(specs, pkgs[r.IntN(len(pkgs))].Name)
	}
	pl, _ := newPool(context.Background(), idx, idx.pkgs, nil, newArchPolicy(target, nil), nil)
	jobs, _ := pl.makeJobs(specs, nil)
	s := newSolver(pl, jobs, false)
	inst, probs, err := s.solve()
	fmt.Println(inst, probs, err, "missed:", s.missed())
	for i := 1; i <= pl.n(); i++ {
		fmt.Println(i, pl.pkgs[i].NEVRA(), s.val[i], s.lvl[i], s.why[i], s.inRules[i])
	}
	for i, r := range s.rules {
		fmt.Println(i, r.kind, r.lits)
	}
}

func (s *solver) missed() []int {
	var out []int
	for ri, r := range s.rules {
		if r.disabled {
			continue
		}
		undec, tru := 0, 0
		for _, l := range r.lits {
			switch s.litVal(l) {
			case 0:
				undec++
			case 1:
				tru++
			}
		}
		if tru == 0 && undec <= 1 {
			out = append(out, ri)
		}
	}
	return out
}

func init() {
	debugHook = func(s *solver, where string) {
		if m := s.missed(); len(m) > 0 {
			fmt.Println("MISSED at", where, "level", s.level, m, "trail", s.trail)
			for _, ri := range m {
				r := s.rules[ri]
				fmt.Println("  rule", ri, r.lits, "w", r.w, "vals", func() []int8 { var v []int8; for _, l := range r.lits { v = append(v, s.litVal(l)) }; return v }())
			}
			panic("missed")
		}
	}
}
