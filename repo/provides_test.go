package repo

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/smith-build/smith/dep"
)

func collect(f func(string, func(*Package, int)), name string) []string {
	var out []string
	f(name, func(p *Package, k int) { out = append(out, fmt.Sprintf("%s@%s#%d", p.NEVRA(), p.Repo, k)) })
	slices.Sort(out)
	return out
}

// brute is a lookup by a walk over every package of the index.
func brute(ix *Index, each func(*Package, func(string, int)), name string) []string {
	var out []string
	for _, p := range ix.Packages() {
		each(p, func(n string, k int) {
			if n == name {
				out = append(out, fmt.Sprintf("%s@%s#%d", p.NEVRA(), p.Repo, k))
			}
		})
	}
	slices.Sort(out)
	return out
}

// TestNameTables: WhatProvides and WhoListsFile answer as a walk over the
// packages does, with tables built on first use, read from the package
// index, or rebuilt after excludepkgs; local packages included.
func TestNameTables(t *testing.T) {
	dir := sharedTestdata(t, "real", "repodata", "centos-stream-9-baseos-20220207")
	cache := t.TempDir()
	load := func(src Source) *Repo {
		src.ID, src.BaseURLs = "baseos", []string{dir}
		r, err := Load(context.Background(), src, Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cold := load(Source{})
	if cold.tables != nil {
		t.Fatal("a cold load has tables before the first lookup")
	}
	warm := load(Source{})
	if warm.tables == nil || warm.tables.provides == nil || warm.tables.files == nil {
		t.Fatal("a warm load did not read the tables from the index")
	}
	filtered := load(Source{ExcludePkgs: []string{"bash", "glibc*"}})
	local := &Package{Name: "mine", EVR: dep.EVR{Version: "1", Release: "1"}, Arch: "x86_64", Repo: CommandLineRepo,
		Provides: []dep.Relation{{Name: "/bin/sh"}, {Name: "libc.so.6()(64bit)"}}, Files: []string{"/usr/bin/bash"}}
	names := []string{"bash", "glibc", "/bin/sh", "libc.so.6()(64bit)", "config(bash)", "rtld(GNU_HASH)", "nothing-at-all", "", "mine"}
	for _, p := range cold.Packages[:200] {
		names = append(names, p.Name)
		for _, r := range p.Provides {
			names = append(names, r.Name)
		}
	}
	files := []string{"/usr/bin/bash", "/etc/passwd", "/usr/sbin/ldconfig", "/nope", ""}
	for _, p := range cold.Packages[:200] {
		files = append(files, p.Files...)
	}
	for _, tc := range []struct {
		name string
		ix   *Index
	}{
		{"built on first use", &Index{Repos: []*Repo{cold}}},
		{"from the index", &Index{Repos: []*Repo{warm}}},
		{"excludepkgs", &Index{Repos: []*Repo{filtered}}},
		{"two repositories and a local package", &Index{Repos: []*Repo{warm, cold}, Local: []*Package{local}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range names {
				if got, want := collect(tc.ix.WhatProvides, n), brute(tc.ix, eachProvide, n); !slices.Equal(got, want) {
					t.Fatalf("WhatProvides(%q) = %q, want %q", n, got, want)
				}
			}
			for _, f := range files {
				if got, want := collect(tc.ix.WhoListsFile, f), brute(tc.ix, eachFile, f); !slices.Equal(got, want) {
					t.Fatalf("WhoListsFile(%q) = %q, want %q", f, got, want)
				}
			}
		})
	}
	if got := collect((&Index{Repos: []*Repo{filtered}}).WhatProvides, "bash"); len(got) != 0 {
		t.Errorf("an excluded package is found: %q", got)
	}
	// Replacing Packages makes new tables.
	r := load(Source{})
	ix := &Index{Repos: []*Repo{r}}
	if len(collect(ix.WhatProvides, "bash")) == 0 {
		t.Fatal("no bash")
	}
	r.Packages = slices.DeleteFunc(slices.Clone(r.Packages), func(p *Package) bool { return p.Name == "bash" })
	if got := collect(ix.WhatProvides, "bash"); len(got) != 0 {
		t.Errorf("a removed package is found: %q", got)
	}
}
