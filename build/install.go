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

// install resolves the packages of smith.yaml (package: and mock.deps),
// fetches them and extracts them into a new tree (or, with -f, takes the
// tree of the last -f build when the package set is the same). It returns
// the tree and the installed packages in install order.
func (b *builder) install(ctx context.Context) (*fstree.Tree, []*repo.Package, error) {
	var specs []string
	var local []*repo.Package
	for _, p := range append(append([]string(nil), b.cfg.Packages...), b.cfg.Mock.Deps...) {
		if strings.HasSuffix(p, ".rpm") {
			pkg, err := repo.LoadRPMFile(b.path(p))
			if err != nil {
				return nil, nil, mention(err, "package "+p, b.path(p))
			}
			local = append(local, pkg)
			continue
		}
		specs = append(specs, p)
	}

	idx := &repo.Index{Local: local}
	srcs, origin, err := b.sources()
	switch {
	case errors.Is(err, ErrNoRepositories) && len(specs) == 0:
		// Local .rpm files only: they may need nothing else.
		b.logf("no repositories: installing the local packages alone")
	case err != nil:
		return nil, nil, err
	default:
		b.logf("repositories from %s", origin)
		for _, s := range srcs {
			switch {
			case !s.GPGCheck || len(s.GPGKeys) == 0:
				b.warnf("repository %s has no gpgkey; packages are not signature-checked", s.ID)
			default:
				// Signature checks arrive with the repositories issue;
				// until then say so rather than pretend.
				b.warnf("repository %s: gpgcheck is not implemented yet; packages are not signature-checked (only their checksums)", s.ID)
			}
		}
		if idx.Repos, err = b.loadRepos(ctx, srcs); err != nil {
			return nil, nil, err
		}
	}

	sol, err := solver.Solve(ctx, idx, solver.Request{
		Specs:   specs,
		Install: local,
		Arch:    b.arch,
		NoWeak:  b.opt.NoWeak || !b.cfg.Weak,
		Exclude: b.cfg.ExcludePackages,
	})
	if err != nil {
		return nil, nil, err
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
	var key string
	if b.opt.Fast {
		key = b.fastKey(pkgs)
		if t := b.loadFast(key); t != nil {
			b.logf("-f: reusing the installed packages of the last -f build (%d packages)", len(pkgs))
			return t, pkgs, nil
		}
		b.logf("-f: no saved install of this package set yet; installing")
	}
	b.logf("installing %d packages", len(pkgs))
	t := fstree.New()
	if err := b.extractAll(ctx, idx, pkgs, t); err != nil {
		return nil, nil, err
	}
	if b.opt.Fast {
		b.saveFast(key, t)
	}
	return t, pkgs, nil
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
	var firstErr error
	for i, p := range pkgs {
		r := <-results[i]
		if firstErr == nil {
			firstErr = r.err
			if firstErr == nil {
				b.logf("extracting %s", p.NEVRA())
				// extract's errors already read "extract NEVRA: ...".
				_, firstErr = extract.Package(ctx, t, r.rc, extract.Options{Name: p.NEVRA()})
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
