package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/repo"
	"github.com/smith-build/smith/solver"
)

// prefetch is how many packages are fetched and verified ahead of the one
// being extracted.
const prefetch = 4

// installed is what install leaves for the rest of the build.
type installed struct {
	tree *fstree.Tree
	// pkgs are the installed packages in install order.
	pkgs []*repo.Package
	// idx is what they were chosen from (debuginfo is looked up there).
	idx *repo.Index
	// depsOnly holds the NEVRAs that only mock.deps brought in, when paths
	// is empty (they are installed for the build and not kept).
	depsOnly map[string]bool
}

// install resolves the packages of smith.yaml (package: and mock.deps),
// fetches them and extracts them into a new tree (or, with -f, takes the
// tree of the last -f build when the package set is the same).
func (b *builder) install(ctx context.Context) (*installed, error) {
	var specs, depSpecs []string
	var local, depLocal []*repo.Package
	for i, p := range append(append([]string(nil), b.cfg.Packages...), b.cfg.Mock.Deps...) {
		isDep := i >= len(b.cfg.Packages)
		if strings.HasSuffix(p, ".rpm") {
			pkg, err := repo.LoadRPMFile(b.path(p))
			if err != nil {
				return nil, mention(err, "package "+p, b.path(p))
			}
			if isDep {
				depLocal = append(depLocal, pkg)
			} else {
				local = append(local, pkg)
			}
			continue
		}
		if isDep {
			depSpecs = append(depSpecs, p)
		} else {
			specs = append(specs, p)
		}
	}

	idx := &repo.Index{Local: append(append([]*repo.Package(nil), local...), depLocal...)}
	srcs, origin, err := b.sources()
	switch {
	case errors.Is(err, ErrNoRepositories) && len(specs)+len(depSpecs) == 0:
		// Local .rpm files only: they may need nothing else.
		b.logf("no repositories: installing the local packages alone")
	case err != nil:
		return nil, err
	default:
		b.logf("repositories from %s", origin)
		b.trustWarnings(srcs)
		if idx.Repos, err = b.loadRepos(ctx, srcs); err != nil {
			return nil, err
		}
	}

	req := solver.Request{
		Specs:   append(append([]string(nil), specs...), depSpecs...),
		Install: idx.Local,
		Arch:    b.arch,
		NoWeak:  b.opt.NoWeak || !b.cfg.Weak,
		Exclude: b.cfg.ExcludePackages,
	}
	sol, err := solver.Solve(ctx, idx, req)
	if err != nil {
		return nil, err
	}
	// Extraction order decides which package wins a file both ship and
	// whether /lib64 -> usr/lib64 style links exist before packages write
	// through them: use rpm's install order (requirements first), which the
	// solver computes from the package set alone, so that it does not
	// depend on repository order. NEVRA order is the fallback.
	pkgs := sol.Order
	if len(pkgs) != len(sol.Packages) {
		pkgs = append([]*repo.Package(nil), sol.Packages...)
		sort.SliceStable(pkgs, func(i, j int) bool { return pkgs[i].NEVRA() < pkgs[j].NEVRA() })
	}
	res := &installed{pkgs: pkgs, idx: idx}
	if len(b.cfg.Paths) == 0 && len(depSpecs)+len(depLocal) > 0 {
		res.depsOnly = b.depsOnly(ctx, idx, req, specs, local, pkgs)
	}

	var key string
	if b.opt.Fast {
		key = b.fastKey(pkgs)
		if t := b.loadFast(key); t != nil {
			b.logf("-f: reusing the installed packages of the last -f build (%d packages)", len(pkgs))
			res.tree = t
			return res, nil
		}
		b.logf("-f: no saved install of this package set yet; installing")
	}
	b.logf("installing %d packages", len(pkgs))
	b.expectDownloads(idx, pkgs)
	t := fstree.New()
	if err := b.extractAll(ctx, idx, pkgs, t); err != nil {
		return nil, err
	}
	if b.opt.Fast {
		b.saveFast(key, t)
	}
	res.tree = t
	return res, nil
}

// depsOnly returns the NEVRAs of pkgs that package: alone does not need:
// what mock.deps brought in. package: is solved again without mock.deps; if
// that fails, everything is kept (with a warning).
func (b *builder) depsOnly(ctx context.Context, idx *repo.Index, req solver.Request, specs []string, local, pkgs []*repo.Package) map[string]bool {
	req.Specs, req.Install = specs, local
	need := map[string]bool{}
	if len(specs)+len(local) > 0 {
		sol, err := solver.Solve(ctx, idx, req)
		if err != nil {
			b.warnf("mock.deps: cannot tell which packages only mock.deps needs (%v); keeping them all", joinLines(err.Error()))
			return nil
		}
		for _, p := range sol.Packages {
			need[p.NEVRA()] = true
		}
	}
	drop := map[string]bool{}
	for _, p := range pkgs {
		if !need[p.NEVRA()] {
			drop[p.NEVRA()] = true
		}
	}
	return drop
}

// joinLines joins the lines of a multi-line message.
func joinLines(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

type opened struct {
	rc   io.ReadCloser
	err  error
	slot bool // holds a prefetch slot
}

// extractAll fetches (and verifies) up to prefetch packages ahead, in
// parallel, and extracts them into t one by one in the order of pkgs.
func (b *builder) extractAll(ctx context.Context, idx *repo.Index, pkgs []*repo.Package, t *fstree.Tree) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan opened, len(pkgs))
	for i := range results {
		results[i] = make(chan opened, 1)
	}
	slots := make(chan struct{}, prefetch)
	var wg sync.WaitGroup
	// One dispatcher starts the fetches in order, so that a slot is never
	// held by a package extracted after one still waiting for a slot.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, p := range pkgs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for _, ch := range results[i:] {
					ch <- opened{err: ctx.Err()}
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc, err := idx.Open(ctx, p)
				results[i] <- opened{rc, err, true}
			}()
		}
	}()
	decs := &extract.Decoders{}
	defer decs.Close()
	var firstErr error
	for i, p := range pkgs {
		r := <-results[i]
		if firstErr == nil {
			firstErr = r.err
			if firstErr == nil {
				b.logf("extracting %s", p.NEVRA())
				// extract's errors already read "extract NEVRA: ...".
				_, firstErr = extract.Package(ctx, t, r.rc, extract.Options{Name: p.NEVRA(), Decoders: decs})
			} else {
				firstErr = mention(firstErr, "fetch "+p.NEVRA(), p.NEVRA())
			}
			if firstErr != nil {
				cancel()
			}
		}
		if r.rc != nil {
			r.rc.Close()
		}
		if r.slot {
			<-slots
		}
	}
	wg.Wait()
	return firstErr
}

// mention wraps err with context unless its message already names subject
// (the packages below name what they read; saying it twice is noise).
func mention(err error, context, subject string) error {
	if strings.Contains(err.Error(), subject) {
		return err
	}
	return fmt.Errorf("%s: %w", context, err)
}
