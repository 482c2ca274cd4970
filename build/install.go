package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/repo"
	"github.com/smith-build/smith/solver"
)

// workers is how many packages are fetched, verified and decompressed at
// once (the repository code bounds the connections per host on its own).
const workers = 4

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
	cache := b.newExpandedCache(idx)
	b.expectDownloads(idx, notExpanded(cache, pkgs))
	t := fstree.New()
	if err := b.extractAll(ctx, idx, cache, pkgs, t); err != nil {
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

// expanded is a package ready to apply, or why it is not.
type expanded struct {
	exp *extract.Expanded
	err error
}

// extractAll expands the packages on `workers` goroutines (fetched,
// verified and decompressed, or read from cache, which may be nil),
// largest first, and applies them to t one by one in the order of pkgs as
// they become ready. Largest first because one big xz payload can take
// longer than all the others together: started last, it would keep the
// build waiting alone. Holding expanded packages until their turn costs
// little memory: applying them adds no copy (the tree keeps slices of the
// payloads), so they would be held by the tree anyway.
func (b *builder) extractAll(ctx context.Context, idx *repo.Index, cache *expandedCache, pkgs []*repo.Package, t *fstree.Tree) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan expanded, len(pkgs))
	for i := range results {
		results[i] = make(chan expanded, 1)
	}
	order := make([]int, len(pkgs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return pkgs[order[i]].Size > pkgs[order[j]].Size })
	jobs := make(chan int, len(pkgs))
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	// Decompression is CPU-bound (fetching is not): one decoder set per
	// CPU, shared by the workers; each holds a zstd window (8 MiB at rpm's
	// level 19) and they are reused from one package to the next.
	decs := make(chan *extract.Decoders, runtime.GOMAXPROCS(0))
	for range cap(decs) {
		decs <- &extract.Decoders{}
	}
	prep := b.newPreparer(pkgs)
	var wg sync.WaitGroup
	for range min(workers, len(pkgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := ctx.Err(); err != nil {
					results[i] <- expanded{err: err}
					continue
				}
				e, err := b.expand(ctx, idx, cache, pkgs[i], decs, prep, i)
				prep.expanded(i, e)
				results[i] <- expanded{e, err}
			}
		}()
	}
	defer func() {
		// On an error, stop the expansions still running before waiting.
		cancel()
		wg.Wait()
		close(decs)
		for d := range decs {
			d.Close()
		}
	}()
	for i, p := range pkgs {
		r := <-results[i]
		err := r.err
		if err == nil {
			b.logf("extracting %s", p.NEVRA())
			// extract's errors already read "extract NEVRA: ...".
			_, err = extract.Apply(ctx, t, r.exp, extract.Options{Name: p.NEVRA(), MaxBytes: b.opt.MaxSize})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// notExpanded returns the packages of pkgs that the expanded-package cache
// does not hold: those the build may have to download.
func notExpanded(cache *expandedCache, pkgs []*repo.Package) []*repo.Package {
	var out []*repo.Package
	for _, p := range pkgs {
		if !cache.has(p) {
			out = append(out, p)
		}
	}
	return out
}

// expand returns p decompressed: from the cache, or fetched (verified by
// Open) and expanded, then cached. prep (which may be nil) hears of it as
// package i of its list.
func (b *builder) expand(ctx context.Context, idx *repo.Index, cache *expandedCache, p *repo.Package, decs chan *extract.Decoders, prep *preparer, i int) (*extract.Expanded, error) {
	file, cached := cache.path(p)
	if cached {
		e, err := cache.load(file)
		if e != nil {
			return e, nil
		}
		if err != nil {
			b.warnf("cached expansion of %s (%s): %v; extracting the package again", p.NEVRA(), file, err)
			os.Remove(file)
		}
	}
	prep.decoding(i)
	rc, err := idx.Open(ctx, p)
	if err != nil {
		return nil, mention(err, "fetch "+p.NEVRA(), p.NEVRA())
	}
	defer rc.Close()
	var d *extract.Decoders
	select {
	case d = <-decs:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	e, err := extract.Expand(ctx, rc, extract.Options{Name: p.NEVRA(), Decoders: d, MaxBytes: b.opt.MaxSize, Growing: prep.grower(i)})
	decs <- d
	if err != nil {
		return nil, err
	}
	if cached {
		b.inBackground(func() {
			if err := cache.store(file, e); err != nil {
				b.warnf("caching the expansion of %s: %v", p.NEVRA(), err)
			}
		})
	}
	return e, nil
}

// mention wraps err with context unless its message already names subject
// (the packages below name what they read; saying it twice is noise).
func mention(err error, context, subject string) error {
	if strings.Contains(err.Error(), subject) {
		return err
	}
	return fmt.Errorf("%s: %w", context, err)
}
