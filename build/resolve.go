package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/repo"
	"github.com/smith-build/smith/solver"
)

// Resolution is a request solved the way a build would solve it, without
// fetching or extracting anything (smith resolve, smith why).
type Resolution struct {
	// Index is what the request was solved against.
	Index *repo.Index
	// Request is the request as solved: specs, local packages, arch, weak
	// dependencies and excludes after smith.yaml and the options.
	Request solver.Request
	// Solution is the answer; nil when Err is set.
	Solution *solver.Solution
	// Err is the solver's error (a *solver.Unsolvable when the request has
	// no solution); Resolve's own error is for everything before solving.
	Err error
}

// ResolveOptions refine Resolve beyond Options.
type ResolveOptions struct {
	// Specs to solve: names, provides, paths, NEVRAs, relations or local
	// .rpm files (relative to Options.Dir). Empty means smith.yaml's
	// package: and mock.deps, as a build solves them.
	Specs []string
	// Exclude adds package name globs to smith.yaml's exclude-packages.
	Exclude []string
}

// Resolve loads the repositories a build with opt would use (--repo and
// --repofile, else smith.yaml's repos:, mock.config, the host's) and
// solves the request with the build's architecture, weak-dependency and
// exclude settings. smith.yaml in opt.Dir is read when it exists; it is
// needed only when ro.Specs is empty or the repositories come from it.
func Resolve(ctx context.Context, opt Options, ro ResolveOptions) (*Resolution, error) {
	if opt.Dir == "" {
		opt.Dir = "."
	}
	if opt.ConfigFile == "" {
		opt.ConfigFile = "smith.yaml"
	}
	b := &builder{opt: opt, dir: filepath.Clean(opt.Dir), cfg: &Config{Type: TypeRPM, Weak: true}}
	data, err := readConfig(b.path(opt.ConfigFile))
	switch {
	case err == nil:
		cfg, err := ParseConfig(data, opt.ConfigFile)
		if err != nil {
			return nil, err
		}
		b.cfg = cfg
	case errors.Is(err, fs.ErrNotExist) && len(ro.Specs) > 0:
		// No smith.yaml: the command line says everything.
	default:
		return nil, fmt.Errorf("read config: %w", err)
	}
	specs := ro.Specs
	if len(specs) == 0 {
		if b.cfg.Type == TypeOCI {
			return nil, fmt.Errorf("%s builds from an OCI image: there are no packages to resolve", opt.ConfigFile)
		}
		specs = append(append([]string(nil), b.cfg.Packages...), b.cfg.Mock.Deps...)
		if len(specs) == 0 {
			return nil, fmt.Errorf("%s has no package: to resolve; name the packages", opt.ConfigFile)
		}
	}
	b.arch = firstNonEmpty(opt.Arch, b.cfg.Arch, opt.HostArch, dep.ArchFromGo(runtime.GOARCH))
	if b.arch == "" {
		return nil, fmt.Errorf("cannot tell the target architecture of GOARCH %s: pass --arch", runtime.GOARCH)
	}

	idx := &repo.Index{}
	req := solver.Request{
		Arch:    b.arch,
		NoWeak:  opt.NoWeak || !b.cfg.Weak,
		Exclude: append(append([]string(nil), b.cfg.ExcludePackages...), ro.Exclude...),
	}
	for _, s := range specs {
		if !strings.HasSuffix(s, ".rpm") {
			req.Specs = append(req.Specs, s)
			continue
		}
		if _, err := os.Stat(b.path(s)); err != nil {
			return nil, fmt.Errorf("package %s: %w", s, err)
		}
		pkg, err := repo.LoadRPMFile(b.path(s))
		if err != nil {
			return nil, mention(err, "package "+s, b.path(s))
		}
		idx.Local = append(idx.Local, pkg)
	}
	req.Install = idx.Local
	srcs, origin, err := b.sources()
	switch {
	case errors.Is(err, ErrNoRepositories) && len(req.Specs) == 0:
		b.logf("no repositories: resolving the local packages alone")
	case err != nil:
		return nil, err
	default:
		b.logf("repositories from %s", origin)
		if idx.Repos, err = b.loadRepos(ctx, srcs); err != nil {
			return nil, err
		}
	}
	res := &Resolution{Index: idx, Request: req}
	res.Solution, res.Err = solver.Solve(ctx, idx, req)
	return res, nil
}
