package build

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/repo"
	"github.com/smith-build/smith/solver"
)

// Debuginfo (mock.debuginfo, mock.debugdeps, mock.debugpaths).
//
// The original smith looked, for every ELF file it had copied into the image,
// for the debuginfo package of its source package, installed those (plus
// mock.debugdeps) with mock, and copied the .debug files, their .build-id
// links and mock.debugpaths into the image. smith does the same from the
// package metadata instead of rpm -qf in a chroot:
//
//   - the kept packages are those that own a file or symlink in the image
//     (after paths, their closure and excludes);
//   - for each kept package that is not noarch, NAME-debuginfo of the same
//     version, release and architecture is looked up in the repositories (a
//     warning says when there is none, as the original's did);
//   - those and mock.debugdeps (names or local .rpm files) are solved and the
//     packages not installed yet are extracted into the build tree;
//   - every file, symlink and directory those packages bring is kept, and so
//     is what mock.debugpaths selects (globs and directories, as paths);
//   - excludes apply to them too, and build-id links whose file is not in the
//     image are dropped like all others.

// debuginfoSuffix names a package's debuginfo package.
const debuginfoSuffix = "-debuginfo"

// keptPackages returns the NEVRAs owning a non-directory entry of t.
func keptPackages(t *fstree.Tree) map[string]bool {
	kept := map[string]bool{}
	_ = t.Walk("/", func(_ string, n *fstree.Inode) error {
		if n.Kind != fstree.Dir && n.Package != "" {
			kept[n.Package] = true
		}
		return nil
	})
	return kept
}

// debuginfoFor finds the debuginfo package of p in idx: NAME-debuginfo with
// p's epoch, version, release and architecture.
func debuginfoFor(idx *repo.Index, p *repo.Package) *repo.Package {
	want := p.Name + debuginfoSuffix + strings.TrimPrefix(p.NEVRA(), p.Name)
	for _, q := range idx.Packages() {
		if q.Name == p.Name+debuginfoSuffix && q.NEVRA() == want {
			return q
		}
	}
	return nil
}

// installDebuginfo installs into staging the debuginfo packages of the
// packages kept in final, and mock.debugdeps. It returns the packages it
// installed, in install order (none already installed).
func (b *builder) installDebuginfo(ctx context.Context, inst *installed, staging, final *fstree.Tree) ([]*repo.Package, error) {
	kept := keptPackages(final)
	have := map[string]bool{}
	for _, p := range inst.pkgs {
		have[p.NEVRA()] = true
	}
	var specs []string
	var missing []string
	for _, p := range inst.pkgs {
		if !kept[p.NEVRA()] || p.Arch == "noarch" || strings.HasSuffix(p.Name, debuginfoSuffix) ||
			strings.HasSuffix(p.Name, "-debugsource") {
			continue
		}
		d := debuginfoFor(inst.idx, p)
		if d == nil {
			missing = append(missing, p.NEVRA())
			continue
		}
		if !have[d.NEVRA()] {
			specs = append(specs, d.NEVRA())
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		b.warnf("mock.debuginfo: no debuginfo package for %s", m)
	}
	var local []*repo.Package
	for _, d := range b.cfg.Mock.DebugDeps {
		if strings.HasSuffix(d, ".rpm") {
			pkg, err := repo.LoadRPMFile(b.path(d))
			if err != nil {
				return nil, mention(err, "mock.debugdeps "+d, b.path(d))
			}
			local = append(local, pkg)
			continue
		}
		specs = append(specs, d)
	}
	if len(specs)+len(local) == 0 {
		b.logf("mock.debuginfo: no debuginfo package to install")
		return nil, nil
	}
	inst.idx.Local = append(inst.idx.Local, local...)
	sol, err := solver.Solve(ctx, inst.idx, solver.Request{
		Specs:   specs,
		Install: local,
		Arch:    b.arch,
		NoWeak:  true,
		Exclude: b.cfg.ExcludePackages,
	})
	if err != nil {
		return nil, fmt.Errorf("mock.debuginfo: %w", err)
	}
	order := sol.Order
	if len(order) != len(sol.Packages) {
		order = append([]*repo.Package(nil), sol.Packages...)
		sort.SliceStable(order, func(i, j int) bool { return order[i].NEVRA() < order[j].NEVRA() })
	}
	var add []*repo.Package
	for _, p := range order {
		if !have[p.NEVRA()] {
			add = append(add, p)
		}
	}
	b.logf("mock.debuginfo: installing %d packages", len(add))
	if err := b.extractAll(ctx, inst.idx, b.newExpandedCache(inst.idx), add, staging); err != nil {
		return nil, err
	}
	return add, nil
}

// copyPackages copies into dst, with c, every entry of src that one of pkgs
// (NEVRAs) created.
func copyPackages(src *fstree.Tree, c *fstree.Copier, pkgs map[string]bool) error {
	return src.Walk("/", func(p string, n *fstree.Inode) error {
		if p == "/" || !pkgs[n.Package] {
			return nil
		}
		return c.Copy(p)
	})
}
