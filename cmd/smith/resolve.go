package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/smith-build/smith/build"
	"github.com/smith-build/smith/repo"
	"github.com/smith-build/smith/solver"
)

// ResolveFlags are the flags resolve and why share: where the repositories
// and smith.yaml are, and how to solve. They mean what build's flags of the
// same names mean.
type ResolveFlags struct {
	Conf       string   `short:"c" aliases:"config" default:"smith.yaml" placeholder:"FILE" help:"Name of the config file, relative to --dir; read when it exists, for its repos:, arch:, weak:, exclude-packages: and package: (default: ${default})."`
	Dir        string   `short:"d" default:"." placeholder:"DIR" help:"Directory of smith.yaml; relative paths in it and in --repo/--repofile are found there (default: ${default})."`
	Repo       []string `sep:"none" placeholder:"URL|PATH" help:"Repository to resolve from: a local directory, a file:// or an http(s):// URL (repeatable). Overrides smith.yaml's repos:, mock.config and the host's repositories."`
	Repofile   []string `sep:"none" placeholder:"FILE" help:"dnf .repo file whose enabled repositories to use (repeatable); like --repo."`
	CacheDir   string   `placeholder:"DIR" help:"Cache for downloaded metadata and the binary package index (default: ${cachedir})."`
	Arch       string   `placeholder:"ARCH" help:"Target architecture (default: smith.yaml arch:, else the host's, ${hostarch})."`
	NoWeak     bool     `help:"Ignore weak dependencies (Recommends, Supplements)."`
	Exclude    []string `sep:"none" placeholder:"GLOB" help:"Never install packages whose name matches GLOB (repeatable), besides smith.yaml's exclude-packages."`
	Releasever string   `placeholder:"VER" help:"Value of $$releasever in repository configuration, as dnf's --releasever (default: as for build)."`
	Setopt     []string `sep:"none" placeholder:"[REPOID.]KEY=VALUE" help:"Set a repository option as dnf's --setopt (repeatable)."`
	Varsdir    []string `sep:"none" placeholder:"DIR" help:"Directory of dnf variable files (repeatable; default: ${varsdirs})."`
	Offline    bool     `help:"Use only the cache (--cache-dir): no network access."`
	Refresh    bool     `help:"Revalidate cached repository metadata with the servers (dnf's --refresh)."`
	Format     string   `enum:"text,json" default:"text" help:"Output format: text or json (default: ${default})."`
	MaxSize    byteSize `placeholder:"SIZE" help:"Fail on any repository metadata file that decompresses to more than SIZE bytes, e.g. 512M or 4G (default: ${maxmetadata})."`
}

// ResolveCmd prints the package set a fresh install of SPEC... would hold.
type ResolveCmd struct {
	ResolveFlags
	Specs []string `arg:"" optional:"" name:"spec" help:"What to install: a name, name.arch, name-version[-release], a NEVRA, \"name >= 1.2\", a provide, a file path or a local .rpm (default: smith.yaml's package: and mock.deps)."`
}

// WhyCmd prints the chain of requirements that brings PACKAGE in.
type WhyCmd struct {
	ResolveFlags
	Package string   `arg:"" name:"package" help:"The package to explain: a name, name.arch, NEVRA or name glob."`
	Specs   []string `arg:"" optional:"" name:"spec" help:"The request (default: smith.yaml's package: and mock.deps in --dir)."`
}

// resolve solves the request the flags describe.
func (f *ResolveFlags) resolve(ctx context.Context, g *Globals, specs []string) (res *build.Resolution, err error) {
	bc := BuildCmd{
		Conf: f.Conf, Dir: f.Dir, Repo: f.Repo, Repofile: f.Repofile, CacheDir: f.CacheDir, Arch: f.Arch,
		NoWeak: f.NoWeak, Releasever: f.Releasever, Setopt: f.Setopt, Varsdir: f.Varsdir,
		Offline: f.Offline, Refresh: f.Refresh, MaxSize: f.MaxSize,
	}
	opt, err := bc.options(g)
	if err != nil {
		return nil, err
	}
	if !g.Quiet && isTerminal(g.stderr) {
		p := newProgress(g.stderr, true, time.Now)
		opt.Repo.Progress = p
		opt.Warn = p.Writer()
		if opt.Log != nil {
			opt.Log = p.Writer()
		}
		defer func() { p.Finish(err == nil) }()
	}
	return build.Resolve(ctx, opt, build.ResolveOptions{Specs: specs, Exclude: f.Exclude})
}

// resolveMemoryLimit is the heap size at which resolve and why collect
// garbage; CentOS Stream 9 BaseOS + AppStream need about 100 MiB in all.
const resolveMemoryLimit = 512 << 20

// lazyGC tunes the garbage collector for the command and returns what
// restores it. Nearly everything a resolve allocates stays live until it
// ends (the decoded package index, the solver's pool): collecting garbage
// while the heap grows to that size is wasted work, a third of a warm
// resolve's CPU time at GOGC=100. So the collector waits for
// resolveMemoryLimit instead; GOGC or GOMEMLIMIT in the environment win.
func lazyGC(g *Globals) (restore func()) {
	if g.env("GOGC") != "" || g.env("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(resolveMemoryLimit)
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// Run resolves and prints the package set.
func (c *ResolveCmd) Run(ctx context.Context, g *Globals) error {
	defer lazyGC(g)()
	res, err := c.resolve(ctx, g, c.Specs)
	if err != nil {
		return err
	}
	if res.Err != nil {
		return c.unsolvable(g.stdout, res)
	}
	sol := res.Solution
	if c.Format == "json" {
		out := resolveJSON{Arch: res.Request.Arch, Weak: !res.Request.NoWeak, Specs: nonNil(res.Request.Specs), Exclude: nonNil(res.Request.Exclude)}
		for _, p := range sol.Packages {
			out.Packages = append(out.Packages, packageJSON(p, sol.Reasons[p]))
		}
		return writeJSON(g.stdout, out)
	}
	var b strings.Builder
	for _, p := range sol.Packages {
		b.WriteString(p.NEVRA())
		b.WriteByte('\n')
	}
	_, err = io.WriteString(g.stdout, b.String())
	return err
}

// Run prints why a package is in the solution.
func (c *WhyCmd) Run(ctx context.Context, g *Globals) error {
	defer lazyGC(g)()
	res, err := c.resolve(ctx, g, c.Specs)
	if err != nil {
		return err
	}
	if res.Err != nil {
		return c.unsolvable(g.stdout, res)
	}
	sol := res.Solution
	var found []*repo.Package
	for _, p := range sol.Packages {
		if matchPackage(c.Package, p) {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("%s is not among the %d packages of the solution for %s", c.Package, len(sol.Packages), describeRequest(res.Request))
	}
	if c.Format == "json" {
		var out []whyJSON
		for _, p := range found {
			w := whyJSON{Package: p.NEVRA()}
			for _, st := range sol.Chain(p) {
				w.Chain = append(w.Chain, stepToJSON(st))
			}
			out = append(out, w)
		}
		return writeJSON(g.stdout, out)
	}
	var b strings.Builder
	for i, p := range found {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s is installed because:\n", p.NEVRA())
		for _, st := range sol.Chain(p) {
			fmt.Fprintf(&b, "  %s\n", st)
		}
	}
	_, err = io.WriteString(g.stdout, b.String())
	return err
}

// matchPackage reports whether the why argument names p: its name, glob of
// names, name.arch or NEVRA.
func matchPackage(arg string, p *repo.Package) bool {
	if arg == p.Name || arg == p.Name+"."+p.Arch || arg == p.NEVRA() {
		return true
	}
	ok, _ := path.Match(arg, p.Name)
	return ok
}

// describeRequest names a request in an error message.
func describeRequest(req solver.Request) string {
	var parts []string
	for _, s := range req.Specs {
		parts = append(parts, fmt.Sprintf("%q", s))
	}
	for _, p := range req.Install {
		parts = append(parts, p.NEVRA())
	}
	return strings.Join(parts, ", ")
}

// unsolvable prints the problems of an unsolvable request on w (text or
// JSON) and returns the one-line error for stderr.
func (f *ResolveFlags) unsolvable(w io.Writer, res *build.Resolution) error {
	var u *solver.Unsolvable
	if !errors.As(res.Err, &u) {
		return res.Err
	}
	if f.Format == "json" {
		out := problemsJSON{Specs: nonNil(res.Request.Specs)}
		for _, p := range u.Problems {
			out.Problems = append(out.Problems, problemToJSON(p))
		}
		if err := writeJSON(w, out); err != nil {
			return err
		}
	} else if _, err := io.WriteString(w, formatProblems(u.Problems)); err != nil {
		return err
	}
	return fmt.Errorf("cannot resolve %s: %w", describeRequest(res.Request), res.Err)
}

// formatProblems explains problems the way dnf lists them, each with the
// chains of requirements that lead from the request to the packages
// involved.
func formatProblems(problems []solver.Problem) string {
	var b strings.Builder
	for i, p := range problems {
		if len(problems) == 1 {
			fmt.Fprintf(&b, "Problem: %s\n", p)
		} else {
			fmt.Fprintf(&b, "Problem %d: %s\n", i+1, p)
		}
		seen := map[string]bool{}
		for _, chain := range [][]solver.Step{p.Chain, p.OtherChain} {
			for _, st := range chain {
				if line := st.String(); !seen[line] {
					seen[line] = true
					fmt.Fprintf(&b, "  - %s\n", line)
				}
			}
		}
	}
	return b.String()
}

// The JSON output. Field names are part of the interface.
type resolveJSON struct {
	Arch     string    `json:"arch"`
	Weak     bool      `json:"weak"`
	Specs    []string  `json:"specs"`
	Exclude  []string  `json:"exclude"`
	Packages []pkgJSON `json:"packages"`
}

type pkgJSON struct {
	NEVRA   string     `json:"nevra"`
	Name    string     `json:"name"`
	Epoch   string     `json:"epoch,omitempty"`
	Version string     `json:"version"`
	Release string     `json:"release"`
	Arch    string     `json:"arch"`
	Repo    string     `json:"repo"`
	Reason  reasonJSON `json:"reason"`
}

// reasonJSON says why a package is there: kind "requested" (by spec, ""
// for a local .rpm), "required" or "recommended" (by a package, through
// relation), or "supplements" (its own relation); weak marks the last two.
type reasonJSON struct {
	Kind     string `json:"kind"`
	Spec     string `json:"spec,omitempty"`
	By       string `json:"by,omitempty"`
	Relation string `json:"relation,omitempty"`
	Weak     bool   `json:"weak"`
}

type stepJSON struct {
	Spec     *string `json:"spec,omitempty"`
	By       string  `json:"by,omitempty"`
	Relation string  `json:"relation,omitempty"`
	Weak     bool    `json:"weak"`
	Package  string  `json:"package"`
}

type whyJSON struct {
	Package string     `json:"package"`
	Chain   []stepJSON `json:"chain"`
}

type problemJSON struct {
	Kind       string     `json:"kind"`
	Message    string     `json:"message"`
	Package    string     `json:"package,omitempty"`
	Repo       string     `json:"repo,omitempty"`
	Other      string     `json:"other,omitempty"`
	Relation   string     `json:"relation,omitempty"`
	Specs      []string   `json:"specs"`
	Chain      []stepJSON `json:"chain,omitempty"`
	OtherChain []stepJSON `json:"other_chain,omitempty"`
	Details    []string   `json:"details,omitempty"`
}

type problemsJSON struct {
	Specs    []string      `json:"specs"`
	Problems []problemJSON `json:"problems"`
}

func packageJSON(p *repo.Package, r solver.Reason) pkgJSON {
	out := pkgJSON{NEVRA: p.NEVRA(), Name: p.Name, Version: p.Version, Release: p.Release, Arch: p.Arch, Repo: p.Repo}
	if p.Epoch != "0" {
		out.Epoch = p.Epoch
	}
	switch r.Kind {
	case solver.Requested:
		out.Reason = reasonJSON{Kind: "requested", Spec: r.Spec}
	case solver.Required:
		out.Reason = reasonJSON{Kind: "required", Relation: r.Relation.String()}
	case solver.Recommended:
		out.Reason = reasonJSON{Kind: "recommended", Relation: r.Relation.String(), Weak: true}
	case solver.Supplements:
		out.Reason = reasonJSON{Kind: "supplements", Relation: r.Relation.String(), Weak: true}
	}
	if r.By != nil {
		out.Reason.By = r.By.NEVRA()
	}
	return out
}

func stepToJSON(st solver.Step) stepJSON {
	out := stepJSON{Weak: st.Weak, Package: st.Package.NEVRA()}
	if st.By != nil {
		out.By = st.By.NEVRA()
	} else if !st.Weak {
		spec := st.Spec
		out.Spec = &spec
	}
	if st.By != nil || st.Weak {
		out.Relation = st.Relation.String()
	}
	return out
}

var problemKinds = map[solver.ProblemKind]string{
	solver.UnknownSpec:         "unknown-spec",
	solver.NothingProvides:     "nothing-provides",
	solver.Conflict:            "conflict",
	solver.Obsoletes:           "obsoletes",
	solver.SameName:            "same-name",
	solver.BadDependency:       "bad-dependency",
	solver.NotInstallable:      "not-installable",
	solver.InferiorArch:        "inferior-arch",
	solver.ConflictingRequests: "conflicting-requests",
}

func problemToJSON(p solver.Problem) problemJSON {
	out := problemJSON{Kind: problemKinds[p.Kind], Message: p.String(), Specs: nonNil(p.Specs), Details: p.Details}
	if p.Package != nil {
		out.Package, out.Repo = p.Package.NEVRA(), p.Package.Repo
	}
	if p.Other != nil {
		out.Other = p.Other.NEVRA()
	}
	if p.Relation.Name != "" {
		out.Relation = p.Relation.String()
	}
	for _, st := range p.Chain {
		out.Chain = append(out.Chain, stepToJSON(st))
	}
	for _, st := range p.OtherChain {
		out.OtherChain = append(out.OtherChain, stepToJSON(st))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
