// Command smith builds microcontainers (OCI images) from RPM packages,
// rootless and reproducibly. It is a drop-in replacement for Oracle's smith:
// the root command builds, with the original's flags.
//
// This file only parses the command line and the environment (proxies,
// SOURCE_DATE_EPOCH) and calls package build.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/smith-build/smith/build"
	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/internal/bytesize"
	"github.com/smith-build/smith/internal/redact"
	"github.com/smith-build/smith/repo"
)

// Set with -ldflags "-X main.version=1.2.3 -X main.sha=abc123"; the
// defaults come from the module build info.
var (
	version string
	sha     string
)

// Where the host's repositories are, tried when neither the command line
// nor smith.yaml names any: the original smith's mock config, then dnf's.
const (
	hostMockConfig = "/etc/mock/default.cfg"
	hostRepoDir    = "/etc/yum.repos.d"
)

// hostVarsDirs are dnf's default varsdir, in the order dnf reads them.
var hostVarsDirs = []string{"/etc/yum/vars", "/etc/dnf/vars"}

// Globals are the flags every command takes (persistent in the original).
type Globals struct {
	Verbose  bool             `short:"v" help:"Verbose output."`
	Version  kong.VersionFlag `short:"V" help:"Show the version and exit."`
	Insecure bool             `short:"k" help:"Skip TLS certificate verification."`
	Quiet    bool             `short:"q" help:"No download progress (bars on a terminal, else a summary line)."`

	env    func(string) string
	stdout io.Writer
	stderr io.Writer
	// osRelease are the host's os-release files, for $releasever
	// (hostOSRelease; none in tests that build Globals themselves).
	osRelease []string
}

// CLI is the whole command line. Build is the default command, so
// "smith -i cat.tar.gz" and "smith build -i cat.tar.gz" are the same.
type CLI struct {
	Globals

	Build    BuildCmd    `cmd:"" default:"withargs" help:"Build a microcontainer from smith.yaml (the default command)."`
	Upload   UploadCmd   `cmd:"" help:"Upload an image file to a registry."`
	Download DownloadCmd `cmd:"" help:"Download an image from a registry as a gzip tar of an OCI image layout."`
	Resolve  ResolveCmd  `cmd:"" help:"Print the packages a fresh install of SPEC... would contain, one NEVRA per line, sorted (or --format json, with the reason for each); exit 1 with the problems when it cannot be resolved."`
	Why      WhyCmd      `cmd:"" help:"Print the chain of requirements that brings PACKAGE into the solution of SPEC... (default: smith.yaml's package: and mock.deps, as a build solves them)."`
}

// BuildCmd builds the image.
type BuildCmd struct {
	Conf        string   `short:"c" aliases:"config" default:"smith.yaml" placeholder:"FILE" help:"Name of the config file, relative to --dir (default: ${default})."`
	Dir         string   `short:"d" default:"." placeholder:"DIR" help:"Directory to build from: smith.yaml, rootfs/ and the relative paths in smith.yaml and in --repo/--repofile are found there (default: ${default})."`
	Image       string   `short:"i" placeholder:"FILE" help:"Output image, relative to the current directory (default: image.tar.gz; for --format oci-dir a directory named image, for docker-archive image.tar)."`
	Format      string   `placeholder:"FORMAT" help:"Output format: oci-archive (a gzip tar of an OCI image layout, the default), oci-dir (an OCI image layout directory) or docker-archive (for docker load and podman load)."`
	Push        string   `placeholder:"URL[:TAG]" help:"Push the image to this repository once it is built, e.g. https://user:pass@registry.example.com/cat:1 (tag default latest; http:// means plain HTTP; without userinfo, credentials come from ~/.docker/config.json)."`
	Fast        bool     `short:"f" help:"Skip the package install when possible: reuse the packages extracted by the last -f build of this smith.yaml when the solved package set is unchanged (same output as a full build)."`
	Buildnumber string   `short:"b" placeholder:"N" help:"Unique build number, stored as the com.oracle.smith.build annotation (default: none, so that builds are reproducible)."`
	Repo        []string `sep:"none" placeholder:"URL|PATH" help:"Repository to install from: a local directory, a file:// or an http(s):// URL (repeatable). Overrides repos: in smith.yaml, mock.config and the host's ${hostmockconfig} and ${hostrepodir}."`
	Repofile    []string `sep:"none" placeholder:"FILE" help:"dnf .repo file whose enabled repositories to use (repeatable); like --repo."`
	CacheDir    string   `placeholder:"DIR" help:"Cache for downloaded metadata and packages (default: ${cachedir})."`
	Arch        string   `placeholder:"ARCH" help:"Target architecture, e.g. x86_64 or aarch64 (default: smith.yaml arch:, else the host's, ${hostarch})."`
	NoWeak      bool     `help:"Do not install weak dependencies (Recommends, Supplements)."`
	Releasever  string   `placeholder:"VER" help:"Value of $$releasever in repository configuration, as dnf's --releasever (default: from the variable files or DNF_VAR_releasever, else the mock config's config_opts['releasever'], else the host's, from ${osrelease}: VERSION_ID on Fedora and openSUSE, its major part on RHEL-like systems; else unset)."`
	Setopt      []string `sep:"none" placeholder:"[REPOID.]KEY=VALUE" help:"Set a repository option as dnf's --setopt (repeatable): REPOID.KEY=VALUE for the repositories whose ID matches REPOID (a glob), KEY=VALUE as the default of all, e.g. --setopt=*.gpgcheck=0 or --setopt=fedora.baseurl=URL."`
	Varsdir     []string `sep:"none" placeholder:"DIR" help:"Directory of dnf variable files (name = variable, first line = value; repeatable, later ones win; default: ${varsdirs})."`
	Offline     bool     `help:"Use only the cache (--cache-dir): no network access; fail naming the first file missing from it."`
	Refresh     bool     `help:"Revalidate cached repository metadata with the servers even if metadata_expire has not passed (dnf's --refresh)."`
	MaxSize     byteSize `placeholder:"SIZE" help:"Fail on any package payload or repository metadata file that decompresses to more than SIZE bytes (a decompression bomb, or a genuine file that needs a larger bound); K, M, G, T are binary units, e.g. 512M or 16G (default: ${maxpayload} per package, ${maxmetadata} per metadata file)."`
}

// UploadCmd pushes an image file to a registry.
type UploadCmd struct {
	Image  string `short:"i" default:"image.tar.gz" placeholder:"FILE" help:"Image file to upload: smith's output, an OCI layout (tar, tar.gz or directory) or a docker save archive (default: ${default})."`
	Remote string `short:"r" required:"" placeholder:"URL[:TAG]" help:"Repository to upload to, e.g. https://user:pass@registry-1.docker.io/myrepo/cat:tag (tag default latest); http:// means plain HTTP. Without userinfo, credentials come from ~/.docker/config.json."`
	Docker bool   `short:"d" help:"Use Docker v2 schema 2 media types (automatic for Docker Hub); default: OCI media types."`
	Arch   string `placeholder:"ARCH" help:"Platform to upload when the file holds an index of several (default: the host's)."`
}

// DownloadCmd pulls an image from a registry into a smith image file.
type DownloadCmd struct {
	Image  string `short:"i" default:"image.tar.gz" placeholder:"FILE" help:"Image file to write (default: ${default})."`
	Remote string `short:"r" required:"" placeholder:"URL[:TAG|@DIGEST]" help:"Image to download, e.g. https://registry-1.docker.io/library/hello-world:tag (tag default latest); http:// means plain HTTP."`
	Arch   string `placeholder:"ARCH" help:"Platform to pick from a manifest list, e.g. x86_64 or aarch64 (default: the host's)."`
}

// options maps the flags and the environment to build.Options.
func (c *BuildCmd) options(g *Globals) (build.Options, error) {
	opt := build.Options{
		Dir:            c.Dir,
		ConfigFile:     c.Conf,
		Image:          c.Image,
		Fast:           c.Fast,
		BuildNumber:    c.Buildnumber,
		Repos:          c.Repo,
		RepoFiles:      c.Repofile,
		HostRepoDir:    hostRepoDir,
		HostMockConfig: hostMockConfig,
		CacheDir:       c.CacheDir,
		HTTPClient:     httpClient(g.Insecure),
		Insecure:       g.Insecure,
		Format:         c.Format,
		Push:           c.Push,
		Arch:           c.Arch,
		HostArch:       dep.ArchFromGo(runtime.GOARCH),
		NoWeak:         c.NoWeak,
		MaxSize:        int64(c.MaxSize),
		ScriptEnv:      os.Environ(), // mock.pre-build/post-build run with the user's environment
		TempDir:        os.TempDir(),
		Warn:           g.stderr,
	}
	opt.Version, opt.SHA = versionInfo()
	if opt.CacheDir == "" {
		opt.CacheDir = defaultCacheDir(g.env)
	}
	if g.Verbose {
		opt.Log = g.stderr
	}
	opt.Repo = build.RepoOptions{
		Releasever: c.Releasever,
		Vars:       dnfVars(os.Environ(), g.env),
		VarsDirs:   c.Varsdir,
		Setopts:    c.Setopt,
		Offline:    c.Offline,
		Refresh:    c.Refresh,
		Now:        time.Now,
	}
	if len(opt.Repo.VarsDirs) == 0 {
		opt.Repo.VarsDirs = hostVarsDirs
	}
	if c.Releasever == "" {
		// The host is read here, not in build: the build's inputs stay
		// parameters.
		opt.Repo.HostReleasever = hostReleasever(g.osRelease)
	}
	if s := g.env("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 {
			return opt, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", s)
		}
		t := time.Unix(n, 0).UTC()
		opt.SourceDateEpoch = &t
	}
	return opt, nil
}

// dnfVars returns the dnf variables the environment sets: DNF_VAR_name and
// DNF0..DNF9, as dnf reads them (values looked up through env).
func dnfVars(environ []string, env func(string) string) map[string]string {
	vars := map[string]string{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, "DNF_VAR_")
		if !ok && len(k) == 4 && strings.HasPrefix(k, "DNF") && k[3] >= '0' && k[3] <= '9' {
			name, ok = k, true
		}
		if ok && name != "" {
			if v := env(k); v != "" {
				vars[name] = v
			}
		}
	}
	return vars
}

// Run builds.
func (c *BuildCmd) Run(ctx context.Context, g *Globals) (err error) {
	opt, err := c.options(g)
	if err != nil {
		return err
	}
	if !g.Quiet {
		p := newProgress(g.stderr, isTerminal(g.stderr), time.Now)
		opt.Repo.Progress = p
		opt.Warn = p.Writer()
		if opt.Log != nil {
			opt.Log = p.Writer()
		}
		defer func() { p.Finish(err == nil) }()
	}
	res, err := build.Run(ctx, opt)
	if err != nil {
		return err
	}
	if g.Verbose {
		fmt.Fprintf(g.stderr, "%s: %d packages, %s, %s\n", res.Image, len(res.Packages), res.Arch, res.Digest)
	}
	return nil
}

// defaultCacheDir is os.UserCacheDir()/smith, read through env so that
// tests can move it: $XDG_CACHE_HOME, else $HOME/.cache on Linux
// ($HOME/Library/Caches on macOS). "" when neither is set.
func defaultCacheDir(env func(string) string) string {
	if runtime.GOOS == "darwin" {
		if h := env("HOME"); h != "" {
			return filepath.Join(h, "Library", "Caches", "smith")
		}
		return ""
	}
	if d := env("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "smith")
	}
	if h := env("HOME"); h != "" {
		return filepath.Join(h, ".cache", "smith")
	}
	return ""
}

// Run uploads.
func (c *UploadCmd) Run(ctx context.Context, g *Globals) error {
	opt, err := remoteOptions(c.Arch, g.Insecure)
	if err != nil {
		return err
	}
	return image.UploadFile(ctx, c.Image, c.Remote, image.PushOptions{RemoteOptions: opt, Docker: c.Docker})
}

// Run downloads.
func (c *DownloadCmd) Run(ctx context.Context, g *Globals) error {
	opt, err := remoteOptions(c.Arch, g.Insecure)
	if err != nil {
		return err
	}
	return image.DownloadFile(ctx, c.Remote, c.Image, opt)
}

// remoteOptions picks the platform (--arch in rpm or Go spelling, else the
// host's) and applies -k.
func remoteOptions(arch string, insecure bool) (image.RemoteOptions, error) {
	rpmArch := dep.ArchFromGo(runtime.GOARCH)
	if arch != "" {
		rpmArch = firstNonEmpty(dep.ArchFromGo(arch), arch)
	}
	goArch, variant := image.ArchToOCI(rpmArch)
	if goArch == "" {
		return image.RemoteOptions{}, fmt.Errorf("unknown architecture %q: use x86_64, aarch64, i686, ppc64le or s390x", firstNonEmpty(arch, runtime.GOARCH))
	}
	return image.RemoteOptions{
		Platform:  v1.Platform{OS: "linux", Architecture: goArch, Variant: variant},
		Insecure:  insecure,
		UserAgent: "smith/" + firstNonEmpty(version, "dev"),
	}, nil
}

// httpClient honours the proxy environment (HTTPS_PROXY, NO_PROXY, ...) and
// -k for every request smith makes.
func httpClient(insecure bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	// Parallel downloads from one mirror keep their connections alive.
	tr.MaxIdleConnsPerHost = 16
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // -k asks for it
	}
	return &http.Client{Transport: tr}
}

// versionInfo returns the version and commit set with -ldflags, else what
// the Go build info knows, else dev/unknown.
func versionInfo() (string, string) {
	v, s := version, sha
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && s == "" {
				s = kv.Value
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if s == "" {
		s = "unknown"
	}
	return v, s
}

// exitCode carries kong's exit status out of a parse (for --help and -V).
type exitCode int

// newParser builds the kong parser for cli, writing to stdout and stderr;
// kong's exits (--help, -V) panic with an exitCode.
func newParser(cli *CLI, env func(string) string, stdout, stderr io.Writer) (*kong.Kong, error) {
	cli.env, cli.stdout, cli.stderr = env, stdout, stderr
	if cli.osRelease == nil {
		cli.osRelease = hostOSRelease
	}
	ver, s := versionInfo()
	cacheDir := defaultCacheDir(env)
	if cacheDir == "" {
		cacheDir = "none: set HOME or XDG_CACHE_HOME"
	}
	return kong.New(cli,
		kong.Name("smith"),
		kong.Description("smith builds microcontainers: minimal OCI images holding one process and its "+
			"direct dependencies, from RPM packages, without root. Write a smith.yaml and run smith; files "+
			"under rootfs/ beside it are copied over the result. Errors exit 1 with one line \"smith: ...\"."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(exitCode(c)) }),
		kong.Vars{
			"version":        fmt.Sprintf("smith version %s (built from sha %s)", ver, s),
			"cachedir":       cacheDir,
			"hostarch":       firstNonEmpty(dep.ArchFromGo(runtime.GOARCH), runtime.GOARCH),
			"hostrepodir":    hostRepoDir + "/*.repo",
			"hostmockconfig": hostMockConfig,
			"varsdirs":       strings.Join(hostVarsDirs, " and "),
			"osrelease":      strings.Join(hostOSRelease, " or "),
			"maxpayload":     bytesize.Format(extract.DefaultMaxBytes),
			"maxmetadata":    bytesize.Format(repo.DefaultMaxMetadataSize),
		},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Help(fullHelp),
	)
}

// run is main without the process: args without the program name, the
// environment as a lookup function, and the output streams. It returns the
// exit status.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) (code int) {
	var cli CLI
	parser, err := newParser(&cli, env, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "smith: %v\n", err)
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitCode)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "smith: %s\n", oneLine(err.Error()))
		return 1
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(&cli.Globals); err != nil {
		if ctx.Err() == context.Canceled {
			// SIGINT or SIGTERM (main's context): whatever failed
			// failed because of it, "context canceled" says less.
			fmt.Fprintln(stderr, "smith: interrupted")
			return 1
		}
		fmt.Fprintf(stderr, "smith: %s\n", oneLine(redact.URL(err.Error())))
		return 1
	}
	return 0
}

// fullHelp is kong's help, except that "smith --help" also prints the
// flags of every command: the root command builds, so its flags are the
// ones users need first.
func fullHelp(options kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(options, ctx); err != nil {
		return err
	}
	if ctx.Selected() != nil {
		return nil
	}
	for _, cmd := range ctx.Model.Children {
		sub, err := kong.Trace(ctx.Kong, []string{cmd.Name})
		if err != nil {
			return err
		}
		fmt.Fprintf(ctx.Stdout, "\n%s\n", strings.Repeat("-", 79))
		if err := kong.DefaultHelpPrinter(options, sub); err != nil {
			return err
		}
	}
	return nil
}

// oneLine keeps an error to the one line the CLI promises: an unsolvable
// request, for one, explains each problem on a line of its own.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
