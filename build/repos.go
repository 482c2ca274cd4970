package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/smith-build/smith/internal/redact"
	"github.com/smith-build/smith/repo"
)

// ErrNoRepositories is returned when no repository source gives anything.
var ErrNoRepositories = errors.New("no repositories configured: pass --repo PATH|URL or add repos: to smith.yaml")

// RepoOptions are dnf's command-line settings for the repositories
// (Options.Repo).
type RepoOptions struct {
	// Releasever is $releasever (--releasever). Empty leaves it to the
	// variables below, then to a mock config's config_opts['releasever'],
	// then to HostReleasever; a location that uses it unset is an error.
	Releasever string
	// HostReleasever is the host's release version, which dnf would take
	// from the installed system-release package (the CLI derives it from
	// /etc/os-release on Fedora, RHEL-like and openSUSE hosts, else
	// leaves it empty). It is the last resort for $releasever: every
	// other source of it wins.
	HostReleasever string
	// Vars are variables from the environment (DNF_VAR_name=value in the
	// CLI). VarsDirs are directories of variable files (dnf's varsdir:
	// /etc/dnf/vars in the CLI), each file's name a variable and its first
	// line the value; they override Vars, later directories earlier ones,
	// as in dnf. $arch and $basearch always follow the target
	// architecture.
	Vars     map[string]string
	VarsDirs []string
	// Setopts are --setopt values: "repoid.key=value" (repoid may be a
	// glob) sets a repository option, "key=value" a default for all.
	Setopts []string
	// Offline builds from the cache only (--offline); Refresh revalidates
	// cached metadata even before metadata_expire (--refresh).
	Offline, Refresh bool
	// Timeout fails a request that receives nothing for this long (a
	// repository's timeout= wins); 0 means repo.DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for metadata_expire and signing-key validity; nil
	// means time.Now.
	Now func() time.Time
	// Progress receives download progress; nil reports nothing.
	Progress DownloadProgress
}

// DownloadProgress is what a progress display implements: repo's reports
// per file, and the total of the package downloads ahead, announced once
// the packages are chosen.
type DownloadProgress interface {
	repo.Progress
	Expect(files int, bytes int64)
}

// location resolves a repository location: URLs stay as they are, paths are
// relative to the build directory.
func (b *builder) location(loc string) string {
	if strings.Contains(loc, "://") {
		return loc
	}
	return b.path(loc)
}

// repoVars are the dnf substitution variables: the environment's, the
// variable files', --releasever, and the target architecture's. The
// host's releasever is not among them: withHostReleasever adds it where
// nothing else may set it.
func (b *builder) repoVars() (map[string]string, error) {
	ro := b.opt.Repo
	vars := map[string]string{}
	for k, v := range ro.Vars {
		vars[k] = v
	}
	for _, d := range ro.VarsDirs {
		vs, err := repo.ReadVarsDir(d)
		if err != nil {
			return nil, err
		}
		for k, v := range vs {
			vars[k] = v
		}
	}
	if ro.Releasever != "" {
		vars["releasever"] = ro.Releasever
		delete(vars, "releasever_major")
		delete(vars, "releasever_minor")
	}
	vars["arch"], vars["basearch"] = b.arch, basearch(b.arch)
	return vars, nil
}

// withHostReleasever returns vars with the host's releasever when vars set
// none (and the CLI found one), as dnf falls back to the installed
// system's; else vars itself.
func (b *builder) withHostReleasever(vars map[string]string) map[string]string {
	host := b.opt.Repo.HostReleasever
	if _, ok := vars["releasever"]; ok || host == "" {
		return vars
	}
	out := make(map[string]string, len(vars)+1)
	for k, v := range vars {
		out[k] = v
	}
	out["releasever"] = host
	b.logf("$releasever is %s, the host's (--releasever overrides it)", host)
	return out
}

// usesReleasever says whether a location of srcs still holds
// $releasever (or one derived from it) after expansion.
func usesReleasever(srcs []repo.Source) bool {
	uses := func(v string) bool {
		return strings.Contains(v, "$releasever") || strings.Contains(v, "${releasever")
	}
	for _, s := range srcs {
		if uses(s.Mirrorlist) || uses(s.Metalink) {
			return true
		}
		for _, u := range s.BaseURLs {
			if uses(u) {
				return true
			}
		}
		for _, k := range s.GPGKeys {
			if uses(k) {
				return true
			}
		}
	}
	return false
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
	vars, err := b.repoVars()
	if err != nil {
		return nil, "", err
	}
	var setopts []repo.Setopt
	for _, s := range b.opt.Repo.Setopts {
		o, err := repo.ParseSetopt(s)
		if err != nil {
			return nil, "", err
		}
		setopts = append(setopts, o)
	}
	srcs, origin, err := b.allSources(vars, setopts)
	if err != nil {
		return nil, "", err
	}
	for _, o := range setopts {
		if o.Repo == "" {
			continue
		}
		found := false
		for _, s := range srcs {
			found = found || o.Matches(s.ID)
		}
		if !found {
			b.warnf("--setopt %s: no repository %s among those from %s", o, o.Repo, origin)
		}
	}
	return enabled(srcs), origin, nil
}

// allSources returns the sources of sources, disabled ones included.
func (b *builder) allSources(vars map[string]string, setopts []repo.Setopt) ([]repo.Source, string, error) {
	if len(b.opt.Repos) > 0 || len(b.opt.RepoFiles) > 0 {
		vars := b.withHostReleasever(vars)
		var out []repo.Source
		for _, f := range b.opt.RepoFiles {
			srcs, err := b.parseRepoFile(f, vars, setopts, false)
			if err != nil {
				return nil, "", fmt.Errorf("--repofile: %w", err)
			}
			if len(enabled(srcs)) == 0 {
				return nil, "", fmt.Errorf("--repofile %s: no enabled repository in it", f)
			}
			out = append(out, srcs...)
		}
		for _, loc := range b.opt.Repos {
			if strings.TrimSpace(loc) == "" {
				return nil, "", errors.New("--repo: empty location")
			}
			loc = repo.ExpandVars(loc, vars)
			s := repo.NewSource(loc, out)
			s.BaseURLs = []string{b.location(loc)}
			if err := repo.ApplySetopts(&s, setopts, vars); err != nil {
				return nil, "", err
			}
			out = append(out, s)
		}
		return out, "the command line", nil
	}
	if len(b.cfg.Repos) > 0 {
		// smith.yaml has no releasever of its own to prefer.
		vars := b.withHostReleasever(vars)
		var out []repo.Source
		for _, r := range b.cfg.Repos {
			s := repo.NewSource(repo.ExpandVars(r.BaseURLs[0], vars), out)
			if r.Name != "" {
				s.ID, s.Name = r.Name, r.Name
			}
			s.Origin = b.opt.ConfigFile
			s.BaseURLs = nil
			for _, u := range r.BaseURLs {
				s.BaseURLs = append(s.BaseURLs, b.location(repo.ExpandVars(u, vars)))
			}
			for _, k := range r.GPGKeys {
				s.GPGKeys = append(s.GPGKeys, b.location(repo.ExpandVars(k, vars)))
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
			if err := repo.ApplySetopts(&s, setopts, vars); err != nil {
				return nil, "", err
			}
			out = append(out, s)
		}
		return out, b.opt.ConfigFile + " repos:", nil
	}
	if b.cfg.Mock.Config != "" {
		p := b.path(b.cfg.Mock.Config)
		srcs, err := b.parseMockConfig(p, vars, setopts)
		if err != nil {
			return nil, "", fmt.Errorf("mock.config: %w", err)
		}
		if len(enabled(srcs)) == 0 {
			return nil, "", fmt.Errorf("mock.config %s: no enabled repository in it", b.cfg.Mock.Config)
		}
		return srcs, "mock.config " + b.cfg.Mock.Config, nil
	}
	if p := b.opt.HostMockConfig; p != "" {
		// The original smith always read /etc/mock/default.cfg, and its
		// README tells users to put their repositories there.
		if f, err := os.Open(p); err == nil {
			f.Close()
			srcs, err := b.parseMockConfig(p, vars, setopts)
			switch {
			case err != nil:
				b.warnf("ignoring %s: %v", p, err)
			case len(enabled(srcs)) > 0:
				return srcs, p, nil
			}
		}
	}
	if b.opt.HostRepoDir != "" {
		files, err := repo.HostRepoFiles(b.opt.HostRepoDir)
		if err != nil {
			return nil, "", err
		}
		vars := b.withHostReleasever(vars)
		var out []repo.Source
		for _, f := range files {
			srcs, err := b.parseRepoFile(f, vars, setopts, true)
			if err != nil {
				return nil, "", err
			}
			out = append(out, srcs...)
		}
		if len(enabled(out)) > 0 {
			return out, b.opt.HostRepoDir, nil
		}
	}
	return nil, "", ErrNoRepositories
}

// parseMockConfig reads the repositories of the mock config at p. The
// config's own config_opts['releasever'] fills $releasever only where vars
// do not, so the host's releasever, which must not override it, is tried
// only when the config left $releasever unset: a second parse.
func (b *builder) parseMockConfig(p string, vars map[string]string, setopts []repo.Setopt) ([]repo.Source, error) {
	parse := func(vars map[string]string) ([]repo.Source, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return repo.ParseMockConfig(f, p, vars, setopts...)
	}
	srcs, err := parse(vars)
	if err != nil || !usesReleasever(srcs) {
		return srcs, err
	}
	if _, ok := vars["releasever"]; ok || b.opt.Repo.HostReleasever == "" {
		return srcs, nil // checkVars in repo says what to do
	}
	return parse(b.withHostReleasever(vars))
}

// parseRepoFile reads the repositories of a .repo file, disabled ones
// included; abs says the name is already a host path (not relative to the
// build directory).
func (b *builder) parseRepoFile(name string, vars map[string]string, setopts []repo.Setopt, abs bool) ([]repo.Source, error) {
	p := name
	if !abs {
		p = b.path(name)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return repo.ParseRepoFile(f, p, vars, setopts...)
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

// trustWarnings says which repositories' packages are not signature-checked.
// (gpgcheck without a gpgkey fails when the repository loads.)
func (b *builder) trustWarnings(srcs []repo.Source) {
	for _, s := range srcs {
		switch {
		case len(s.GPGKeys) == 0 && !s.GPGCheck:
			b.warnf("repository %s has no gpgkey; packages are not signature-checked", s.ID)
		case !s.GPGCheck:
			b.warnf("repository %s: gpgcheck is off; packages are not signature-checked", s.ID)
		}
	}
}

// expectDownloads tells the progress display how much the chosen packages
// will download.
func (b *builder) expectDownloads(idx *repo.Index, pkgs []*repo.Package) {
	if p := b.opt.Repo.Progress; p != nil {
		p.Expect(idx.Pending(pkgs))
	}
}

// loadRepos loads every source's metadata (concurrently) and returns the
// repos in source order. A source with skip_if_unavailable that fails is
// skipped with a warning.
func (b *builder) loadRepos(ctx context.Context, srcs []repo.Source) ([]*repo.Repo, error) {
	ro := b.opt.Repo
	opt := repo.Options{
		CacheDir: b.opt.CacheDir,
		Client:   b.opt.HTTPClient,
		Warn:     func(s string) { b.warnf("%s", s) },
		Offline:  ro.Offline,
		Refresh:  ro.Refresh,
		Now:      ro.Now,
		Timeout:  ro.Timeout,
		// One bound for whatever decompresses, as the CLI's --max-size
		// promises: metadata files here, package payloads in install.
		MaxMetadataSize: b.opt.MaxSize,
	}
	if ro.Progress != nil {
		opt.Progress = ro.Progress
	}
	repos, err := repo.LoadAll(ctx, srcs, opt)
	if err != nil {
		return nil, err
	}
	for _, r := range repos {
		b.logf("repository %s: %d packages from %s", r.Source.ID, len(r.Packages), redact.URL(r.BaseURL))
	}
	return repos, nil
}
