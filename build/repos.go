package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/smith-build/smith/repo"
)

// ErrNoRepositories is returned when no repository source gives anything.
var ErrNoRepositories = errors.New("no repositories configured: pass --repo PATH|URL or add repos: to smith.yaml")

// location resolves a repository location: URLs stay as they are, paths are
// relative to the build directory.
func (b *builder) location(loc string) string {
	if strings.Contains(loc, "://") {
		return loc
	}
	return b.path(loc)
}

// repoVars are the dnf substitution variables for the target architecture.
func (b *builder) repoVars() map[string]string {
	return map[string]string{"arch": b.arch, "basearch": basearch(b.arch)}
}

// basearch maps an architecture to dnf's $basearch.
func basearch(arch string) string {
	switch arch {
	case "i386", "i486", "i586", "i686", "athlon", "geode":
		return "i386"
	case "x86_64_v2", "x86_64_v3", "x86_64_v4", "amd64":
		return "x86_64"
	case "armv7hl", "armv7hnl", "armv6hl":
		return "armhfp"
	case "arm64":
		return "aarch64"
	}
	return arch
}

// sources returns the repositories to use: the first of --repo/--repofile,
// smith.yaml repos:, mock.config, the host's default mock config and the
// host's repo directory that gives any. It also says which one it was, for
// the log.
func (b *builder) sources() ([]repo.Source, string, error) {
	vars := b.repoVars()
	if len(b.opt.Repos) > 0 || len(b.opt.RepoFiles) > 0 {
		var out []repo.Source
		for _, f := range b.opt.RepoFiles {
			srcs, err := b.parseRepoFile(f, vars, false)
			if err != nil {
				return nil, "", fmt.Errorf("--repofile: %w", err)
			}
			if len(srcs) == 0 {
				return nil, "", fmt.Errorf("--repofile %s: no enabled repository in it", f)
			}
			out = append(out, srcs...)
		}
		for _, loc := range b.opt.Repos {
			if strings.TrimSpace(loc) == "" {
				return nil, "", errors.New("--repo: empty location")
			}
			s := repo.NewSource(loc, out)
			s.BaseURLs = []string{b.location(loc)}
			out = append(out, s)
		}
		return out, "the command line", nil
	}
	if len(b.cfg.Repos) > 0 {
		var out []repo.Source
		for _, r := range b.cfg.Repos {
			s := repo.NewSource(r.BaseURLs[0], out)
			if r.Name != "" {
				s.ID, s.Name = r.Name, r.Name
			}
			s.Origin = b.opt.ConfigFile
			s.BaseURLs = nil
			for _, u := range r.BaseURLs {
				s.BaseURLs = append(s.BaseURLs, b.location(u))
			}
			for _, k := range r.GPGKeys {
				s.GPGKeys = append(s.GPGKeys, b.location(k))
			}
			s.GPGCheck = len(s.GPGKeys) > 0
			if r.GPGCheck != nil {
				s.GPGCheck = *r.GPGCheck
			}
			for _, o := range out {
				if o.ID == s.ID {
					return nil, "", &ConfigError{File: b.opt.ConfigFile, Msg: fmt.Sprintf("repos: two repositories named %q", s.ID)}
				}
			}
			out = append(out, s)
		}
		return out, b.opt.ConfigFile + " repos:", nil
	}
	if b.cfg.Mock.Config != "" {
		p := b.path(b.cfg.Mock.Config)
		f, err := os.Open(p)
		if err != nil {
			return nil, "", fmt.Errorf("mock.config: %w", err)
		}
		defer f.Close()
		srcs, err := repo.ParseMockConfig(f, p, vars)
		if err != nil {
			return nil, "", fmt.Errorf("mock.config: %w", err)
		}
		srcs = enabled(srcs)
		if len(srcs) == 0 {
			return nil, "", fmt.Errorf("mock.config %s: no enabled repository in it", b.cfg.Mock.Config)
		}
		return srcs, "mock.config " + b.cfg.Mock.Config, nil
	}
	if p := b.opt.HostMockConfig; p != "" {
		// The original smith always read /etc/mock/default.cfg, and its
		// README tells users to put their repositories there.
		if f, err := os.Open(p); err == nil {
			srcs, err := repo.ParseMockConfig(f, p, vars)
			f.Close()
			srcs = enabled(srcs)
			switch {
			case err != nil:
				b.warnf("ignoring %s: %v", p, err)
			case len(srcs) > 0:
				return srcs, p, nil
			}
		}
	}
	if b.opt.HostRepoDir != "" {
		files, err := repo.HostRepoFiles(b.opt.HostRepoDir)
		if err != nil {
			return nil, "", err
		}
		var out []repo.Source
		for _, f := range files {
			srcs, err := b.parseRepoFile(f, vars, true)
			if err != nil {
				return nil, "", err
			}
			out = append(out, srcs...)
		}
		if len(out) > 0 {
			return out, b.opt.HostRepoDir, nil
		}
	}
	return nil, "", ErrNoRepositories
}

// parseRepoFile reads the enabled repositories of a .repo file; abs says the
// name is already a host path (not relative to the build directory).
func (b *builder) parseRepoFile(name string, vars map[string]string, abs bool) ([]repo.Source, error) {
	p := name
	if !abs {
		p = b.path(name)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	srcs, err := repo.ParseRepoFile(f, p, vars)
	if err != nil {
		return nil, err
	}
	return enabled(srcs), nil
}

func enabled(srcs []repo.Source) []repo.Source {
	var out []repo.Source
	for _, s := range srcs {
		if s.Enabled {
			out = append(out, s)
		}
	}
	return out
}

// loadRepos loads every source's metadata (concurrently) and returns the
// repos in source order. A source with skip_if_unavailable that fails is
// skipped with a warning.
func (b *builder) loadRepos(ctx context.Context, srcs []repo.Source) ([]*repo.Repo, error) {
	repos, err := repo.LoadAll(ctx, srcs, repo.Options{
		CacheDir: b.opt.CacheDir,
		Client:   b.opt.HTTPClient,
		Warn:     func(s string) { b.warnf("%s", s) },
	})
	if err != nil {
		return nil, err
	}
	for _, r := range repos {
		b.logf("repository %s: %d packages from %s", r.Source.ID, len(r.Packages), repo.Redact(r.BaseURL))
	}
	return repos, nil
}
