package solver

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/repo"
)

// job is one thing to install: one of cands (ids, sorted).
type job struct {
	spec  string // "" for a Request.Install package
	cands []id
	// setArch marks a job that names the architecture (name.arch, a NEVRA,
	// an explicit package): its names are exempt from the inferior-arch
	// rules, as libsolv's SOLVER_SETARCH.
	setArch bool
}

// explicitArches finds the architectures specs name explicitly ("glibc.i686",
// a NEVRA ending in .i686), which the arch policy must then allow. Only
// specs with a dot that are not package names need a look at the packages.
func explicitArches(all []*repo.Package, specs []string) []string {
	var extra []string
	for _, s := range specs {
		s = strings.TrimSpace(s)
		k := strings.LastIndexByte(s, '.')
		if k <= 0 || strings.ContainsAny(s, " \t/*?[") {
			continue
		}
		name, arch := s[:k], s[k+1:]
		var archMatch bool
		isName := false
		for _, p := range all {
			if p == nil {
				continue
			}
			if p.Name == s {
				isName = true
				break
			}
			if p.Arch == arch && (p.Name == name || nevrMatches(p, name)) {
				archMatch = true
			}
		}
		if archMatch && !isName {
			extra = append(extra, arch)
		}
	}
	return sortUnique(extra)
}

// makeJobs turns specs and explicit packages into jobs, reporting the specs
// nothing matches.
// all is every package of the index, to explain specs that only match
// packages the arch policy or Exclude ruled out.
func (pl *pool) makeJobs(specs []string, install, all []*repo.Package) ([]job, []Problem) {
	var (
		jobs     []job
		problems []Problem
	)
	for _, raw := range specs {
		s := strings.TrimSpace(raw)
		js := pl.selectSpec(s)
		if len(js) == 0 {
			problems = append(problems, Problem{Kind: UnknownSpec, Specs: []string{raw}, Detail: unavailable(s, all)})
			continue
		}
		jobs = append(jobs, js...)
	}
	for _, p := range install {
		if i, ok := pl.byPtr[p]; ok {
			jobs = append(jobs, job{cands: []id{i}, setArch: true})
		}
	}
	return jobs, problems
}

// unavailable explains why packages named s are not candidates, or returns
// "" when there are none.
func unavailable(s string, all []*repo.Package) string {
	var arches []string
	for _, p := range all {
		if p != nil && p.Name == s {
			arches = append(arches, p.Arch)
		}
	}
	arches = sortUnique(arches)
	if len(arches) == 0 {
		return ""
	}
	var alts []string
	for _, a := range arches {
		alts = append(alts, s+"."+a)
	}
	return fmt.Sprintf("excluded, or only for other architectures: %s", strings.Join(alts, ", "))
}

// selectSpec resolves one spec the way dnf's selection does: a file path,
// a relation, a name (or glob of names), name.arch, a provide, and finally
// name-[epoch:]version[-release][.arch].
func (pl *pool) selectSpec(s string) []job {
	one := func(ids []id) []job {
		if len(ids) == 0 {
			return nil
		}
		return []job{{spec: s, cands: sortUnique(slices.Clone(ids))}}
	}
	withArch := func(ids []id) []job {
		js := one(ids)
		js[0].setArch = true
		return js
	}
	switch {
	case s == "":
		return nil
	case strings.HasPrefix(s, "/"):
		ids, _ := pl.whatProvides(dep.Relation{Name: s})
		return one(ids)
	case strings.ContainsAny(s, " \t"):
		rel, err := dep.ParseRelation(s)
		if err != nil {
			return nil
		}
		var ids []id
		for _, i := range pl.byName[rel.Name] {
			if rel.MatchesEVR(pl.pkgs[i].EVR) {
				ids = append(ids, i)
			}
		}
		if len(ids) == 0 {
			ids, _ = pl.whatProvides(rel)
		}
		return one(ids)
	case strings.ContainsAny(s, "*?["):
		var names []string
		for name := range pl.byName {
			if ok, _ := path.Match(s, name); ok {
				names = append(names, name)
			}
		}
		slices.Sort(names) // one job per name, in a stable order
		var jobs []job
		for _, name := range names {
			jobs = append(jobs, job{spec: s, cands: slices.Clone(pl.byName[name])})
		}
		return jobs
	}
	if ids := pl.byName[s]; len(ids) > 0 {
		return one(ids)
	}
	if k := strings.LastIndexByte(s, '.'); k > 0 {
		var ids []id
		for _, i := range pl.byName[s[:k]] {
			if pl.pkgs[i].Arch == s[k+1:] {
				ids = append(ids, i)
			}
		}
		if len(ids) > 0 {
			return withArch(ids)
		}
	}
	if ids, _ := pl.whatProvides(dep.Relation{Name: s}); len(ids) > 0 {
		return one(ids)
	}
	// name-version..., split at each '-' from the right.
	for k := strings.LastIndexByte(s, '-'); k > 0; k = strings.LastIndexByte(s[:k], '-') {
		var ids []id
		for _, i := range pl.byName[s[:k]] {
			if nevrMatches(pl.pkgs[i], s) {
				ids = append(ids, i)
			}
		}
		if len(ids) > 0 {
			if strings.HasSuffix(s, "."+pl.pkgs[ids[0]].Arch) {
				return withArch(ids)
			}
			return one(ids)
		}
	}
	return nil
}

// nevrMatches reports whether s names p as name-version, name-version-release
// or name-epoch:version-release, each optionally followed by .arch.
func nevrMatches(p *repo.Package, s string) bool {
	rest, ok := strings.CutPrefix(s, p.Name+"-")
	if !ok {
		return false
	}
	if evrMatches(p, rest) {
		return true
	}
	if v, ok := strings.CutSuffix(rest, "."+p.Arch); ok && p.Arch != "" {
		return evrMatches(p, v)
	}
	return false
}

func evrMatches(p *repo.Package, s string) bool {
	vr := p.Version + "-" + p.Release
	switch s {
	case p.Version, vr:
		return true
	case p.Epoch + ":" + vr:
		return p.Epoch != ""
	case "0:" + vr:
		return p.Epoch == ""
	}
	return false
}
