package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/elf"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/internal/redact"
	"github.com/smith-build/smith/repo"
)

// Options are the parameters of a build. Everything the build would
// otherwise read from the process (time, environment, host settings) is
// here, so that tests can fix it.
type Options struct {
	// Dir is the directory to build from (-d): smith.yaml, rootfs/ and every
	// relative path in smith.yaml and in Repos/RepoFiles are found there.
	// Empty means ".".
	Dir string
	// ConfigFile is the smith.yaml path (-c), relative to Dir unless
	// absolute. Empty means "smith.yaml".
	ConfigFile string
	// Image is the output file (-i), relative to the process's working
	// directory unless absolute (as in the original smith). Empty means
	// DefaultImage(Format): "image.tar.gz" for the default format.
	Image string
	// Format is the output format (--format): image.FormatOCIArchive (the
	// default, also ""), image.FormatOCIDir or image.FormatDockerArchive.
	Format string
	// Push, when not empty, is the registry reference
	// ("https://[user:pass@]host/repo[:tag]", http:// for plain HTTP) the
	// image is pushed to once it is written (--push), with OCI media types
	// (Docker ones for Docker Hub).
	Push string
	// Insecure skips TLS certificate verification for registries (-k);
	// HTTPClient carries it for repositories.
	Insecure bool
	// Fast reuses the packages extracted by the last -f build of this
	// smith.yaml when the solved package set is the same (-f); the
	// repositories are still read and the request solved.
	Fast bool
	// BuildNumber is stored as the com.oracle.smith.build annotation when
	// not empty (-b).
	BuildNumber string

	// Repos are --repo values (a local directory, file:// or http(s) URL);
	// RepoFiles are --repofile values (dnf .repo files). When either is
	// given, they are the only repositories used.
	Repos     []string
	RepoFiles []string
	// HostMockConfig is the mock config read when smith.yaml names none
	// (/etc/mock/default.cfg in the CLI, the original smith's default),
	// used only if it exists and has enabled repositories. HostRepoDir is
	// the last resort (/etc/yum.repos.d in the CLI). Empty means none.
	HostMockConfig string
	HostRepoDir    string
	// CacheDir holds downloaded metadata and packages; empty disables the
	// cache for remote repositories' packages.
	CacheDir string
	// HTTPClient is used for every download (the CLI passes one that
	// honours the proxy environment and -k); nil means package repo's
	// default client.
	HTTPClient *http.Client
	// Repo holds dnf's command-line settings for the repositories
	// (--releasever, --setopt, --offline, progress, ...).
	Repo RepoOptions

	// Arch is the target architecture (--arch), overriding smith.yaml's
	// arch:. HostArch is the fallback (the CLI passes the host's rpm arch);
	// empty means runtime.GOARCH mapped with dep.ArchFromGo.
	Arch     string
	HostArch string
	// NoWeak skips weak dependencies (--no-weak), as smith.yaml weak: false.
	NoWeak bool

	// MaxSize bounds the decompressed size of any one package payload or
	// repository metadata file (--max-size): more fails the build with an
	// error naming the file (a decompression bomb, or a genuine file that
	// needs a larger bound). 0 keeps each one's default
	// (extract.DefaultMaxBytes, repo.DefaultMaxMetadataSize).
	MaxSize int64

	// SourceDateEpoch, when not nil, is the mtime of every file and the
	// image's created time; nil means mtime 0 and no created time.
	SourceDateEpoch *time.Time

	// Version and SHA identify this smith in the image annotations.
	Version, SHA string

	// ScriptEnv is the environment of mock.pre-build and mock.post-build
	// scripts (the CLI passes its own); SMITH_ROOT and SMITH_PHASE are
	// added. Nil means only a default PATH.
	ScriptEnv []string
	// TempDir holds the temporary copy of the tree a script works on;
	// empty means os.TempDir().
	TempDir string

	// Log receives verbose progress lines (-v); nil discards them.
	Log io.Writer
	// Warn receives one-line warnings ("warning: ..."); nil discards them.
	Warn io.Writer
}

// Result describes a finished build.
type Result struct {
	// Image is the path written.
	Image string
	// Digest is the image manifest's digest.
	Digest string
	// Packages are the installed packages' NEVRAs, sorted (empty for
	// builds without packages).
	Packages []string
	// Arch is the OCI architecture of the image.
	Arch string
	// Format is the output format written.
	Format string
	// Pushed is the digest of the manifest pushed to Options.Push (it
	// differs from Digest when the registry gets Docker media types);
	// empty without Push.
	Pushed string
}

// DefaultImage is the output path used when Options.Image is empty:
// image.tar.gz, image (a directory) for oci-dir, image.tar for
// docker-archive.
func DefaultImage(format string) string {
	switch format {
	case image.FormatOCIDir:
		return "image"
	case image.FormatDockerArchive:
		return "image.tar"
	}
	return "image.tar.gz"
}

// builder carries one run's state.
type builder struct {
	opt  Options
	dir  string
	cfg  *Config
	arch string // target rpm arch
	// outMu serialises writes to Log and Warn: repo.LoadAll warns from
	// one goroutine per repository.
	outMu sync.Mutex
	// cacheWrites are the cache entries being written in the background:
	// off the build's critical path, finished before Run returns.
	cacheWrites sync.WaitGroup
	// prepared holds the files compressed ahead of the layer (preparer),
	// until prepCtx is done: once the layer is being made.
	prepared *image.Prepared
	prepCtx  context.Context
}

// inBackground runs a cache write on its own goroutine; Run waits for it.
func (b *builder) inBackground(write func()) {
	b.cacheWrites.Go(write)
}

func (b *builder) logf(format string, args ...any) {
	if b.opt.Log != nil {
		b.outMu.Lock()
		defer b.outMu.Unlock()
		fmt.Fprintf(b.opt.Log, format+"\n", args...)
	}
}

func (b *builder) warnf(format string, args ...any) {
	if b.opt.Warn != nil {
		b.outMu.Lock()
		defer b.outMu.Unlock()
		fmt.Fprintf(b.opt.Warn, "warning: "+format+"\n", args...)
	}
}

// path resolves p against the build directory.
func (b *builder) path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(b.dir, p)
}

// Run builds the image that opt describes and writes it to opt.Image.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Dir == "" {
		opt.Dir = "."
	}
	if opt.ConfigFile == "" {
		opt.ConfigFile = "smith.yaml"
	}
	if !slices.Contains(image.Formats(), firstNonEmpty(opt.Format, image.FormatOCIArchive)) {
		return nil, fmt.Errorf("output format %q: want one of %s", opt.Format, strings.Join(image.Formats(), ", "))
	}
	if opt.Format == "" {
		opt.Format = image.FormatOCIArchive
	}
	if opt.Image == "" {
		opt.Image = DefaultImage(opt.Format)
	}
	b := &builder{opt: opt, dir: filepath.Clean(opt.Dir)}
	defer b.cacheWrites.Wait()
	if fi, err := os.Stat(b.dir); err != nil {
		return nil, fmt.Errorf("build directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("build directory %s is not a directory", b.dir)
	}

	if fi, err := os.Stat(filepath.Dir(opt.Image)); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("output: %s is not a directory", filepath.Dir(opt.Image))
	}

	confPath := b.path(opt.ConfigFile)
	data, err := readConfig(confPath)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(data, opt.ConfigFile)
	if err != nil {
		return nil, err
	}
	b.cfg = cfg
	if cfg.Type == TypeRPM && len(cfg.Packages) == 1 && isLayoutDir(b.path(cfg.Packages[0])) {
		// ParseConfig cannot look at the disk: an OCI layout directory
		// is no RPM.
		cfg.Type = TypeOCI
	}
	if err := checkSupported(cfg); err != nil {
		return nil, err
	}
	runAs, err := ResolveUser(cfg.User, cfg.Root, cfg.Groups)
	if err != nil {
		return nil, &ConfigError{File: opt.ConfigFile, Msg: err.Error()}
	}
	// Named users and groups need /etc/passwd and /etc/group: nss is turned
	// on for them, and the stored spec says so, as in the original.
	nss := cfg.NSS || runAs.Named || len(cfg.Groups) > 0
	cfg.NSS = nss

	b.arch = firstNonEmpty(opt.Arch, cfg.Arch, opt.HostArch, dep.ArchFromGo(runtime.GOARCH))
	if b.arch == "" {
		return nil, fmt.Errorf("cannot tell the target architecture of GOARCH %s: pass --arch", runtime.GOARCH)
	}
	b.logf("building %s for %s", confPath, b.arch)

	if err := b.checkScripts(); err != nil {
		return nil, err
	}

	var parent v1.Image
	if cfg.Parent != "" {
		if parent, err = b.openImage(ctx, "parent", cfg.Parent); err != nil {
			return nil, err
		}
	}
	var src *source
	if cfg.Type == TypeOCI {
		if src, err = b.openSource(ctx); err != nil {
			return nil, err
		}
	}

	prepCtx, stopPreparing := context.WithCancel(ctx)
	defer stopPreparing()
	b.prepared, b.prepCtx = image.NewPrepared(), prepCtx
	final, installed, err := b.buildTree(ctx, runAs, nss, src)
	if err != nil {
		return nil, err
	}
	// What is not compressed yet, the layer compresses itself, with every
	// CPU.
	stopPreparing()

	// The image.
	var mtime time.Time
	if opt.SourceDateEpoch != nil {
		mtime = opt.SourceDateEpoch.UTC()
	}
	layer, err := image.Layer(final, image.LayerOptions{ModTime: mtime, Cache: b.newLayerCache(), Prepared: b.prepared})
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if n := b.prepared.Used(); n > 0 {
		b.logf("layer: %.1f MB of its files compressed while packages were decompressed", float64(n)/1e6)
	}
	ociArch, variant, err := b.platform(installed, parent, src)
	if err != nil {
		return nil, err
	}
	icfg := image.Config{
		Entrypoint:   cfg.Entrypoint,
		Cmd:          cfg.Cmd,
		Env:          cfg.Env,
		WorkingDir:   cfg.Dir,
		User:         runAs.OCIUser(),
		ExposedPorts: set(cfg.Ports),
		Volumes:      set(cfg.Mounts),
		Labels:       cfg.Labels,
		Architecture: ociArch,
		Variant:      variant,
		OS:           "linux",
	}
	if opt.SourceDateEpoch != nil {
		icfg.Created = mtime
	}
	if src != nil {
		// The fields smith.yaml leaves empty come from the source image.
		icfg = image.Inherit(icfg, src.config)
	}
	img, err := image.Build(parent, []v1.Layer{layer}, icfg)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}

	nevras := make([]string, len(installed))
	for i, p := range installed {
		nevras[i] = p.NEVRA()
	}
	sort.Strings(nevras)
	layout, err := b.layout(img, nevras, ociArch, variant)
	if err != nil {
		return nil, err
	}
	out := opt.Image
	if err := image.CleanStaleTemps(filepath.Dir(out), filepath.Base(out)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.warnf("cleaning stale temporary files beside %s: %v", out, err)
	}
	// WriteOutput replaces out atomically, whatever the format.
	if err := image.WriteOutput(out, opt.Format, layout, mtime); err != nil {
		return nil, err
	}
	b.logf("wrote %s (%s, %s)", out, opt.Format, digest)
	b.pruneCaches()
	res := &Result{Image: out, Digest: digest.String(), Packages: nevras, Arch: ociArch, Format: opt.Format}
	if opt.Push != "" {
		b.logf("pushing to %s", redact.URL(opt.Push))
		pushed, err := image.Push(ctx, img, opt.Push, image.PushOptions{RemoteOptions: b.remoteOptions()})
		if err != nil {
			// The build itself succeeded: say that its output is there.
			return nil, fmt.Errorf("%s written, but %w", out, err)
		}
		res.Pushed = pushed.String()
		b.logf("pushed %s (%s)", redact.URL(opt.Push), pushed)
	}
	return res, nil
}

// remoteOptions are the registry settings of this build: the target
// platform (chosen from multi-platform images), the HTTP transport (proxies)
// and -k.
func (b *builder) remoteOptions() image.RemoteOptions {
	arch, variant := image.ArchToOCI(b.arch)
	ro := image.RemoteOptions{
		Platform:  v1.Platform{OS: "linux", Architecture: arch, Variant: variant},
		Insecure:  b.opt.Insecure,
		UserAgent: "smith/" + firstNonEmpty(b.opt.Version, "dev"),
	}
	if b.opt.HTTPClient != nil {
		ro.Transport = b.opt.HTTPClient.Transport
	}
	return ro
}

// openImage opens an image named in smith.yaml (field is "parent" or
// "package"): a registry image, a local OCI layout (tar.gz, tar or
// directory, relative to the build directory) or a docker save archive, for
// the target platform when it is a multi-platform image. A local file may
// carry a ":TAG" suffix, as in the original smith: the image named TAG (or
// ending in ":TAG") is chosen; ":latest" also takes the only image.
func (b *builder) openImage(ctx context.Context, field, ref string) (v1.Image, error) {
	shown := redact.URL(ref)
	src, tag := ref, ""
	if !image.IsRemote(ref) {
		src = b.path(ref)
		if _, err := os.Stat(src); err != nil {
			if file, t, ok := splitFileTag(ref); ok {
				if _, err := os.Stat(b.path(file)); err == nil {
					src, tag = b.path(file), t
				}
			}
		}
	}
	b.logf("reading %s image %s", field, redact.URL(src))
	ro := b.remoteOptions()
	if tag != image.RefLatest {
		// ":latest" keeps choosing the image named latest or the only
		// one, as the original smith did.
		ro.Tag = tag
	}
	img, err := image.Open(ctx, src, ro)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, shown, err)
	}
	return img, nil
}

// splitFileTag splits "image.tar.gz:TAG" into the file and the tag.
func splitFileTag(ref string) (file, tag string, ok bool) {
	i := strings.LastIndexByte(ref, ':')
	if i <= 0 || i == len(ref)-1 || strings.ContainsAny(ref[i+1:], "/\\") {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

// isLayoutDir reports whether p is a directory holding an OCI image layout.
func isLayoutDir(p string) bool {
	if strings.HasSuffix(p, ".rpm") {
		return false
	}
	fi, err := os.Stat(filepath.Join(p, "oci-layout"))
	return err == nil && fi.Mode().IsRegular()
}

// source is an OCI image used as package: (type: oci).
type source struct {
	ref    string // as written in smith.yaml
	img    v1.Image
	config *v1.ConfigFile
	// libraryPath and path are the image's LD_LIBRARY_PATH and PATH, for
	// the path closure.
	libraryPath, path []string
}

// openSource opens the OCI image of package: and reads its configuration.
func (b *builder) openSource(ctx context.Context) (*source, error) {
	ref := b.cfg.Packages[0]
	img, err := b.openImage(ctx, "package", ref)
	if err != nil {
		return nil, err
	}
	cf, err := image.ConfigOf(img)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", redact.URL(ref), err)
	}
	// A single-platform image is what it is, whatever the host; but an
	// architecture asked for (--arch, arch:) must be the image's.
	if asked := firstNonEmpty(b.opt.Arch, b.cfg.Arch); asked != "" && cf.Architecture != "" {
		if arch, _ := image.ArchToOCI(b.arch); cf.Architecture != arch {
			return nil, fmt.Errorf("package %s is a %s image but %s was asked for", redact.URL(ref), cf.Architecture, asked)
		}
	}
	s := &source{ref: ref, img: img, config: cf}
	for _, kv := range cf.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "LD_LIBRARY_PATH":
			// ld.so splits it at ':' and ';'; empty entries (the working
			// directory) mean nothing inside an image.
			s.libraryPath = strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ';' })
		case "PATH":
			s.path = strings.FieldsFunc(v, func(r rune) bool { return r == ':' })
		}
	}
	return s, nil
}

// buildTree makes the tree of the new layer: install, mock.pre-build, the
// path closure (or the whole tree without mock.deps' packages), excludes,
// debuginfo, the microcontainer directories, mounts, nss files, the rootfs/
// overlay, mock.post-build, then the build-id links that would dangle go and
// ownership and modes are normalised. It returns the tree and the installed
// packages.
func (b *builder) buildTree(ctx context.Context, runAs RunAs, nss bool, src *source) (*fstree.Tree, []*repo.Package, error) {
	cfg := b.cfg
	staging := fstree.New()
	var inst *installed
	closureOpt := elf.Options{Warn: func(s string) { b.warnf("%s", s) }}
	if src != nil {
		b.logf("unpacking %s", redact.URL(src.ref))
		// --max-size bounds the image's layers together: they are one
		// package here.
		if err := image.UnpackWith(ctx, src.img, staging, image.UnpackOptions{MaxBytes: b.opt.MaxSize}); err != nil {
			return nil, nil, fmt.Errorf("package %s: %w", redact.URL(src.ref), err)
		}
		if b.opt.Fast {
			b.logf("-f: an OCI source is unpacked every time")
		}
		closureOpt.LibraryPath, closureOpt.Path = src.libraryPath, src.path
	} else if len(cfg.Packages) > 0 || len(cfg.Mock.Deps) > 0 {
		var err error
		if inst, err = b.install(ctx); err != nil {
			return nil, nil, err
		}
		staging = inst.tree
	} else if b.opt.Fast {
		b.logf("-f: nothing to install")
	}
	var pkgs []*repo.Package
	if inst != nil {
		pkgs = inst.pkgs
	}

	if s := cfg.Mock.PreBuild; strings.TrimSpace(s) != "" {
		if err := b.runScript(ctx, "mock.pre-build", s, staging); err != nil {
			return nil, nil, err
		}
	}

	// Select paths and their closure.
	final := staging
	var c *fstree.Copier
	if len(cfg.Paths) > 0 {
		roots := append([]string(nil), cfg.Paths...)
		if nss {
			roots = append(roots, nssLibraries(staging)...)
		}
		// Build-id links only describe files: a directory in paths must
		// not pull in the files its build-id links point to. They are
		// kept when a directory in paths holds them and their file is in
		// the image.
		hidden := &hiddenBuildIDs{}
		if !mentionsBuildID(roots) {
			var err error
			if hidden, err = hideBuildIDs(staging); err != nil {
				return nil, nil, fmt.Errorf("paths: %w", err)
			}
		}
		b.logf("path closure of %d roots", len(roots))
		paths, cerr := elf.Closure(staging, roots, closureOpt)
		if err := hidden.restore(staging); err != nil {
			return nil, nil, fmt.Errorf("paths: %w", err)
		}
		if cerr != nil {
			return nil, nil, fmt.Errorf("paths: %w", cerr)
		}
		final = fstree.New()
		c = fstree.NewCopier(staging, final)
		for _, p := range paths {
			if err := c.Copy(p); err != nil {
				return nil, nil, fmt.Errorf("paths: copy %s: %w", p, err)
			}
		}
		if err := hidden.keepLinks(staging, final, c, paths); err != nil {
			return nil, nil, fmt.Errorf("paths: %w", err)
		}
		b.logf("selected %d paths", len(paths))
	} else if inst != nil && len(inst.depsOnly) > 0 {
		n, err := dropPackages(final, inst.depsOnly)
		if err != nil {
			return nil, nil, fmt.Errorf("mock.deps: %w", err)
		}
		b.logf("mock.deps: left out %d entries of %d packages only mock.deps needed", n, len(inst.depsOnly))
	}
	if err := removeExcludes(final, cfg.Excludes); err != nil {
		return nil, nil, err
	}

	if cfg.Mock.Debuginfo {
		if inst == nil {
			b.warnf("mock.debuginfo: no packages, so no debuginfo")
		} else {
			debug, err := b.installDebuginfo(ctx, inst, staging, final)
			if err != nil {
				return nil, nil, err
			}
			pkgs = append(append([]*repo.Package(nil), pkgs...), debug...)
			keep := map[string]bool{}
			for _, p := range debug {
				keep[p.NEVRA()] = true
			}
			if c == nil {
				c = fstree.NewCopier(staging, final)
			}
			if final != staging {
				if err := copyPackages(staging, c, keep); err != nil {
					return nil, nil, fmt.Errorf("mock.debuginfo: %w", err)
				}
			}
			if len(cfg.Mock.DebugPaths) > 0 {
				paths, err := elf.Closure(staging, cfg.Mock.DebugPaths, elf.Options{Warn: func(s string) { b.warnf("%s", s) }})
				if err != nil {
					return nil, nil, fmt.Errorf("mock.debugpaths: %w", err)
				}
				if final != staging {
					for _, p := range paths {
						if err := c.Copy(p); err != nil {
							return nil, nil, fmt.Errorf("mock.debugpaths: copy %s: %w", p, err)
						}
					}
				}
			}
			if err := removeExcludes(final, cfg.Excludes); err != nil {
				return nil, nil, err
			}
		}
	} else if len(cfg.Mock.DebugDeps)+len(cfg.Mock.DebugPaths) > 0 {
		b.warnf("mock.debugdeps and mock.debugpaths are ignored without mock.debuginfo: true (as in the original smith)")
	}

	// The microcontainer layout, then the user's overlay.
	if err := b.skeleton(final); err != nil {
		return nil, nil, err
	}
	if nss {
		if err := writeNSS(final, runAs); err != nil {
			return nil, nil, err
		}
	}
	if err := overlay(final, filepath.Join(b.dir, "rootfs")); err != nil {
		return nil, nil, err
	}
	if s := cfg.Mock.PostBuild; strings.TrimSpace(s) != "" {
		if err := b.runScript(ctx, "mock.post-build", s, final); err != nil {
			return nil, nil, err
		}
		// The microcontainer directories are not the script's to remove.
		if err := b.skeleton(final); err != nil {
			return nil, nil, fmt.Errorf("after mock.post-build: %w", err)
		}
	}

	n, err := pruneBuildIDs(final)
	if err != nil {
		return nil, nil, fmt.Errorf("build-id links: %w", err)
	}
	if n > 0 {
		b.logf("left out %d build-id links whose file is not in the image", n)
	}
	for _, p := range normalizeOwnership(final, runAs, cfg.KeepCaps) {
		b.logf("removed file capabilities of %s (microcontainers carry no special permissions; keep-caps: true keeps them)", p)
	}
	return final, pkgs, nil
}

// skeleton makes the directories every microcontainer has (/dev, /proc and
// /sys to mount on, /read, /write and /run for its data) and the mounts.
func (b *builder) skeleton(t *fstree.Tree) error {
	for _, d := range []string{"/dev", "/proc", "/sys", "/read", "/write", "/run"} {
		if err := mkdirIfMissing(t, d); err != nil {
			return fmt.Errorf("skeleton: %w", err)
		}
	}
	for _, m := range b.cfg.Mounts {
		if err := mkdirIfMissing(t, m); err != nil {
			return fmt.Errorf("mounts: %w", err)
		}
	}
	return nil
}

// mentionsBuildID reports whether a paths entry names build-id links
// itself: then they are taken like any other path.
func mentionsBuildID(roots []string) bool {
	for _, r := range roots {
		if strings.Contains(r, buildIDDir) {
			return true
		}
	}
	return false
}

// layout assembles the index.json content: the spec blob, the package list
// blob (when packages were installed), then the image, in this order.
func (b *builder) layout(img v1.Image, nevras []string, arch, variant string) (image.Layout, error) {
	spec, err := b.cfg.SpecJSON()
	if err != nil {
		return image.Layout{}, fmt.Errorf("spec: %w", err)
	}
	var blobAnn map[string]string
	if b.opt.BuildNumber != "" {
		blobAnn = map[string]string{image.AnnotationBuild: b.opt.BuildNumber}
	}
	extras := []image.Blob{{MediaType: image.MediaTypeSpec, Data: spec, Annotations: blobAnn}}
	if len(nevras) > 0 {
		list := []byte(strings.Join(nevras, "\n") + "\n")
		extras = append(extras, image.Blob{MediaType: image.MediaTypePackages, Data: list, Annotations: blobAnn})
	}
	ann := map[string]string{
		image.AnnotationRefName: image.RefLatest,
		image.AnnotationVersion: firstNonEmpty(b.opt.Version, "dev"),
		image.AnnotationSHA:     firstNonEmpty(b.opt.SHA, "unknown"),
	}
	if b.opt.BuildNumber != "" {
		ann[image.AnnotationBuild] = b.opt.BuildNumber
	}
	if b.opt.SourceDateEpoch != nil {
		ann[image.AnnotationCreated] = b.opt.SourceDateEpoch.UTC().Format(time.RFC3339)
	}
	return image.Layout{
		Image:       img,
		Extras:      extras,
		Annotations: ann,
		Platform:    &v1.Platform{OS: "linux", Architecture: arch, Variant: variant},
	}, nil
}

// checkSupported refuses the settings that are parsed but not implemented
// yet, rather than building something else than asked.
func checkSupported(c *Config) error {
	switch {
	case c.Type == TypeOCI && len(c.Mock.Deps) > 0:
		return fmt.Errorf("mock.deps: package: is an OCI image (%s); RPM packages cannot be installed into it", redact.URL(c.Packages[0]))
	case len(c.Packages) == 0 && len(c.Paths) > 0:
		return fmt.Errorf("paths given but no package to take them from")
	}
	return nil
}

// platform returns the OCI architecture and variant of the image: that of
// the installed packages, or of the OCI source, else the parent's, else the
// target's.
func (b *builder) platform(installed []*repo.Package, parent v1.Image, src *source) (string, string, error) {
	rpmArch := imageArch(installed, b.arch)
	arch, variant := image.ArchToOCI(rpmArch)
	if arch == "" {
		return "", "", fmt.Errorf("architecture %s has no OCI equivalent", rpmArch)
	}
	// own is what the new layer's content is built for, if anything.
	own := ""
	if len(installed) > 0 {
		own = "the packages are for " + arch
	}
	if src != nil && src.config.Architecture != "" {
		// openSource checked it against --arch and arch:.
		arch, variant = src.config.Architecture, src.config.Variant
		own = "package " + redact.URL(src.ref) + " is a " + arch + " image"
	}
	if parent == nil {
		return arch, variant, nil
	}
	cf, err := parent.ConfigFile()
	if err != nil {
		return "", "", fmt.Errorf("parent %s: %w", redact.URL(b.cfg.Parent), err)
	}
	switch {
	case cf.Architecture == "":
		return arch, variant, nil
	case own == "":
		return cf.Architecture, cf.Variant, nil
	case cf.Architecture != arch:
		return "", "", fmt.Errorf("parent %s is a %s image but %s", redact.URL(b.cfg.Parent), cf.Architecture, own)
	}
	return arch, variant, nil
}

// imageArch picks the OCI architecture from the installed packages: the
// target arch when a package has it (multilib installs add i686 beside
// x86_64), else the first non-noarch arch in sorted order, else the target.
func imageArch(pkgs []*repo.Package, target string) string {
	var arches []string
	seen := map[string]bool{}
	for _, p := range pkgs {
		if p.Arch == dep.Noarch || p.Arch == "" || seen[p.Arch] {
			continue
		}
		seen[p.Arch] = true
		arches = append(arches, p.Arch)
	}
	sort.Strings(arches)
	arch := target
	if !seen[target] && len(arches) > 0 {
		arch = arches[0]
	}
	return arch
}

func set(list []string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(list))
	for _, s := range list {
		m[s] = struct{}{}
	}
	return m
}

// maxConfigSize bounds smith.yaml.
const maxConfigSize = 1 << 20

func readConfig(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxConfigSize)
	}
	return data, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
