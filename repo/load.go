package repo

import (
	"context"
	"errors"
	"fmt"
	"github.com/smith-build/smith/internal/redact"
	"io"
	"io/fs"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxMetadataSize bounds the decompressed size of one metadata file
// when Options.MaxMetadataSize is 0. The biggest real primary.xml files are
// a few hundred MB.
const DefaultMaxMetadataSize = 2 << 30

// Options are the environment of Load: everything that is not the
// repository itself.
type Options struct {
	// CacheDir holds downloaded files by checksum (blobs/<type>/<hex>)
	// and repomd.xml by URL (repomd/<sha256 of URL>.xml). "" disables the
	// cache: remote files then go to temporary files. Local repositories
	// are never copied.
	CacheDir string
	// Client makes the HTTP requests (the caller sets timeouts, proxies,
	// -k). nil means a client with a copy of http.DefaultTransport.
	Client *http.Client
	// Warn receives one-line warnings (stale cache used, sslverify=0,
	// ...). nil drops them.
	Warn func(msg string)
	// MaxMetadataSize bounds the decompressed size of one metadata file;
	// 0 means DefaultMaxMetadataSize. smith's --max-size sets it.
	MaxMetadataSize int64

	// Offline forbids the network: remote metadata, keys and packages
	// come from CacheDir only, whatever their age, and a file missing
	// there is an *OfflineError naming it. Local repositories still work.
	Offline bool
	// Refresh treats cached metadata as expired (dnf --refresh): repomd.xml
	// is revalidated with the server even within metadata_expire.
	Refresh bool
	// Now is the clock: metadata_expire and the validity of signing keys
	// are judged at Now(). nil means time.Now.
	Now func() time.Time
	// Timeout fails (and retries) a request that receives nothing for
	// this long, unless the source sets its own; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxPerHost bounds concurrent downloads from one host; 0 means
	// DefaultMaxPerHost.
	MaxPerHost int
	// Progress receives download progress; nil reports nothing.
	Progress Progress

	// retryDelay overrides the first backoff between HTTP attempts (tests).
	retryDelay time.Duration
	// hosts is the per-host limit shared by the repositories of a LoadAll.
	hosts *hostLimiter
	// sweeper cleans the cache's stale temporary files once per LoadAll.
	sweeper *tempSweeper
}

// Repo is a loaded repository: its source, its binary packages in
// primary.xml order, and what is needed to read filelists.xml and package
// files later.
type Repo struct {
	Source   Source
	Packages []*Package
	// Revision is repomd.xml's <revision>, when present.
	Revision string
	// BaseURL is the base the metadata was read from (a local path or a
	// URL without credentials).
	BaseURL string

	fetch *fetcher
	bases []base // the base used first, then the other candidates
	keys  *keyring
	// metaCached says repomd.xml came from the cache without the server
	// confirming it (within metadata_expire, or offline).
	metaCached bool
	filelists  *mdFile
	// rpmDir marks a directory of .rpm files without repodata: its
	// packages carry complete file lists already.
	rpmDir bool

	filesMu  sync.Mutex
	files    fileIndex
	filesErr error

	// tables index Packages by provide and primary file (provides.go).
	tablesMu sync.Mutex
	tables   *tables
}

// Load reads a repository's repomd.xml from the first base URL that
// answers (BaseURLs, then the mirrors of Mirrorlist and Metalink), then its
// primary.xml, verified against repomd.xml's checksum. filelists.xml is
// read later, on the first FileProviders call.
//
// A local directory without repodata/ but with .rpm files is read by
// opening every package header (with a warning suggesting createrepo_c).
func Load(ctx context.Context, src Source, opt Options) (*Repo, error) {
	r, err := load(ctx, src, opt)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", src.ID, err)
	}
	return r, nil
}

func load(ctx context.Context, src Source, opt Options) (*Repo, error) {
	if src.ID == "" {
		return nil, errors.New("no repository ID")
	}
	if err := checkVars(src); err != nil {
		return nil, err
	}
	f, err := newFetcher(src, opt)
	if err != nil {
		return nil, err
	}
	var keys *keyring
	switch {
	case (src.GPGCheck || src.RepoGPGCheck) && len(src.GPGKeys) > 0:
		if keys, err = f.loadKeys(ctx); err != nil {
			return nil, err
		}
	case src.RepoGPGCheck:
		return nil, errors.New("repo_gpgcheck is on but no gpgkey is set to check repomd.xml's signature with: add gpgkey= or turn repo_gpgcheck off")
	case src.GPGCheck:
		return nil, errors.New("gpgcheck is on but no gpgkey is set to check the packages' signatures with: add gpgkey= or turn gpgcheck off")
	}
	var bases []base
	for _, s := range src.BaseURLs {
		b, err := parseBase(s)
		if err != nil {
			return nil, err
		}
		bases = append(bases, b)
	}
	var ml *metalink
	var errs []error
	if src.Metalink != "" {
		ml, err = f.metalink(ctx, src.Metalink)
		if err != nil {
			errs = append(errs, err)
		} else {
			for _, u := range ml.BaseURLs {
				if b, err := parseBase(u); err == nil {
					bases = append(bases, b)
				}
			}
		}
	}
	if src.Mirrorlist != "" {
		urls, err := f.mirrorlist(ctx, src.Mirrorlist)
		if err != nil {
			errs = append(errs, err)
		}
		for _, u := range urls {
			if b, err := parseBase(u); err == nil {
				bases = append(bases, b)
			}
		}
	}
	if len(bases) == 0 {
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return nil, errors.New("no baseurl, mirrorlist or metalink")
	}
	for i, b := range bases {
		r, err := loadFrom(ctx, f, b, ml, keys)
		if err == nil {
			// Packages may come from any mirror: they are verified.
			r.bases = append([]base{b}, append(slices.Clone(bases[:i]), bases[i+1:]...)...)
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("every base URL failed:\n%w", errors.Join(errs...))
}

// loadFrom reads repomd.xml and primary.xml from one base.
func loadFrom(ctx context.Context, f *fetcher, b base, ml *metalink, keys *keyring) (*Repo, error) {
	data, cached, err := f.readMeta(ctx, b, repomdRel, repomdRel, false)
	if err != nil {
		var nf *NotFoundError
		if b.isLocal() && errors.As(err, &nf) {
			r, derr := loadRPMDir(f, b)
			if derr != nil {
				return nil, derr
			}
			if r != nil {
				r.keys = keys
				return r, nil
			}
		}
		return nil, err
	}
	shown := redact.URL(b.at(repomdRel))
	if b.isLocal() {
		shown = filepath.Join(b.local, "repodata", "repomd.xml")
	}
	// repomd.xml is trusted only once the metalink's hashes and its
	// signature agree with it.
	verify := func(data []byte, force bool) error {
		if ml != nil {
			if err := ml.verify(data, repomdRel, shown); err != nil {
				return err
			}
		}
		if f.src.RepoGPGCheck {
			return f.verifyRepomd(ctx, keys, b, data, force)
		}
		return nil
	}
	if err := verify(data, false); err != nil {
		if !cached || b.isLocal() || f.offline {
			return nil, err
		}
		// The cached copies may predate the metalink or the signature
		// the server has now: ask the server before giving up.
		if data, _, err = f.readMeta(ctx, b, repomdRel, repomdRel, true); err != nil {
			return nil, err
		}
		if err := verify(data, true); err != nil {
			return nil, err
		}
	}
	md, err := parseRepomd(data, shown)
	if err != nil {
		return nil, err
	}
	prim, ok := md.Files["primary"]
	if !ok {
		return nil, fmt.Errorf("%s: no primary metadata (only %s)", shown, strings.Join(md.Types, ", "))
	}
	if err := prim.checkUsable(shown); err != nil {
		return nil, err
	}
	r := &Repo{Source: f.src, Revision: md.Revision, BaseURL: b.shown, fetch: f, bases: []base{b}, keys: keys, metaCached: cached}
	if b.isLocal() {
		r.BaseURL = b.local
	}
	if fl, ok := md.Files["filelists"]; ok {
		if err := fl.checkUsable(shown); err != nil {
			return nil, err
		}
		r.filelists = &fl
	}
	if err := r.readPrimary(ctx, prim); err != nil {
		return nil, err
	}
	r.Packages = filterPackages(r.Packages, f.src)
	setPriority(r.Packages, f.src)
	return r, nil
}

// readPrimary sets r.Packages from the package index cached for prim's
// checksum (index_cache.go), or else from primary.xml, caching the result.
func (r *Repo) readPrimary(ctx context.Context, prim mdFile) error {
	f := r.fetch
	pkgs, ts, ok, err := readIndex(f.cacheDir, prim.Checksum, f.src.ID)
	if err != nil {
		f.warn(fmt.Sprintf("repo %s: ignoring the cached package index: %v", f.src.ID, err))
	}
	if ok {
		r.Packages, r.tables = pkgs, ts
		return nil
	}
	err = r.readMetadata(ctx, prim, func(rd io.Reader, name string) error {
		pkgs, err := parsePrimary(rd, name, f.src.ID)
		r.Packages = pkgs
		return err
	})
	if err != nil {
		return err
	}
	if err := writeIndex(f.cacheDir, prim.Checksum, r.Packages); err != nil {
		f.warn(fmt.Sprintf("repo %s: caching the package index: %v", f.src.ID, err))
	}
	return nil
}

// setPriority stamps the repository's priority and cost on its packages.
func setPriority(pkgs []*Package, src Source) {
	prio, cost := src.EffectivePriority(), src.EffectiveCost()
	for _, p := range pkgs {
		p.Priority, p.Cost = prio, cost
	}
}

// readMetadata opens a verified metadata file, decompresses it within the
// size limit and hands it to parse.
func (r *Repo) readMetadata(ctx context.Context, m mdFile, parse func(io.Reader, string) error) error {
	rel := m.Location
	if m.Base != "" {
		rel = joinBase(m.Base, m.Location)
	}
	rc, err := r.fetch.openVerified(ctx, r.bases[:1], blob{rel: rel, want: m.Checksum, size: m.Size, what: m.Location})
	if err != nil {
		return err
	}
	defer rc.Close()
	name := path.Base(m.Location)
	dr, err := decompressor(rc, name, r.fetch.maxMeta)
	if err != nil {
		return err
	}
	defer dr.Close()
	if m.Size > 0 && m.Size < 256<<10 {
		return parse(dr, name) // small: not worth a goroutine and 1 MB of buffers
	}
	// Decompress on another core while this one parses.
	ra := newReadAhead(dr)
	defer ra.Close()
	return parse(ra, name)
}

func (f *fetcher) metalink(ctx context.Context, u string) (*metalink, error) {
	b, rel, err := splitURL(u)
	if err != nil {
		return nil, fmt.Errorf("metalink: %w", err)
	}
	data, _, err := f.readMeta(ctx, b, rel, "metalink", false)
	if err != nil {
		return nil, err
	}
	return parseMetalink(data, redact.URL(u))
}

func (f *fetcher) mirrorlist(ctx context.Context, u string) ([]string, error) {
	b, rel, err := splitURL(u)
	if err != nil {
		return nil, fmt.Errorf("mirrorlist: %w", err)
	}
	data, _, err := f.readMeta(ctx, b, rel, "mirrorlist", false)
	if err != nil {
		return nil, err
	}
	return parseMirrorlist(data, redact.URL(u))
}

// splitURL turns the URL of a single file (metalink, mirrorlist) into a
// base and a name relative to it, so that the fetcher's helpers apply. A
// remote URL is kept whole, query included.
func splitURL(u string) (base, string, error) {
	if b, ok := remoteFile(u); ok {
		return b, "", nil
	}
	b, err := parseBase(u)
	if err != nil {
		return base{}, "", err
	}
	if !b.isLocal() {
		return base{}, "", fmt.Errorf("invalid URL %q", redact.URL(u))
	}
	dir, file := filepath.Split(b.local)
	b.local = dir
	return b, file, nil
}

// filterPackages applies excludepkgs and includepkgs.
func filterPackages(pkgs []*Package, src Source) []*Package {
	if len(src.ExcludePkgs) == 0 && len(src.IncludePkgs) == 0 {
		return pkgs
	}
	out := pkgs[:0:0]
	for _, p := range pkgs {
		if matchAny(src.ExcludePkgs, p) {
			continue
		}
		if len(src.IncludePkgs) > 0 && !matchAny(src.IncludePkgs, p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// matchAny matches dnf-style package globs against a package's name,
// name.arch, name-version, name-version-release, and NEVRA forms.
func matchAny(patterns []string, p *Package) bool {
	forms := []string{
		p.Name,
		p.Name + "." + p.Arch,
		p.Name + "-" + p.Version,
		p.Name + "-" + p.Version + "-" + p.Release,
		p.Name + "-" + p.Version + "-" + p.Release + "." + p.Arch,
		p.NEVRA(),
	}
	for _, pat := range patterns {
		for _, f := range forms {
			if ok, _ := path.Match(pat, f); ok {
				return true
			}
		}
	}
	return false
}

// FileProviders returns the packages of this repository that contain path,
// in primary.xml order. The first call reads filelists.xml (once, even
// with concurrent callers); without filelists.xml the file lists from
// primary.xml answer.
func (r *Repo) FileProviders(ctx context.Context, path string) ([]*Package, error) {
	idx, err := r.fileIndex(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Clone(idx[path]), nil
}

func (r *Repo) fileIndex(ctx context.Context) (fileIndex, error) {
	r.filesMu.Lock()
	defer r.filesMu.Unlock()
	if r.files != nil || r.filesErr != nil {
		return r.files, r.filesErr
	}
	idx, err := r.loadFileIndex(ctx)
	if err != nil {
		err = fmt.Errorf("repo %s: %w", r.Source.ID, err)
		// A cancelled caller must not poison the repository for others.
		if ctx.Err() == nil {
			r.filesErr = err
		}
		return nil, err
	}
	r.files = idx
	return idx, nil
}

func (r *Repo) loadFileIndex(ctx context.Context) (fileIndex, error) {
	if r.filelists == nil || r.fetch == nil {
		if r.fetch != nil && !r.rpmDir {
			r.fetch.warn(fmt.Sprintf("repo %s: no filelists.xml: file dependencies only see the files listed in primary.xml", r.Source.ID))
		}
		return primaryFileIndex(r.Packages), nil
	}
	var idx fileIndex
	err := r.readMetadata(ctx, *r.filelists, func(rd io.Reader, name string) error {
		var err error
		idx, err = parseFilelists(rd, name, r.Packages)
		return err
	})
	return idx, err
}

// primaryFileIndex indexes the file lists the packages carry.
func primaryFileIndex(pkgs []*Package) fileIndex {
	idx := make(fileIndex)
	for _, p := range pkgs {
		for _, f := range p.Files {
			list := idx[f]
			if n := len(list); n > 0 && list[n-1] == p {
				continue
			}
			idx[f] = append(list, p)
		}
	}
	return idx
}

// open returns a package's verified bytes from this repository.
func (r *Repo) open(ctx context.Context, p *Package) (io.ReadCloser, error) {
	if err := validChecksum(p.Checksum); err != nil {
		return nil, fmt.Errorf("%s: %w", p.NEVRA(), err)
	}
	bases := r.bases
	if len(bases) == 0 {
		return nil, fmt.Errorf("repo %s: not loaded with Load", r.Source.ID)
	}
	bl := blob{rel: p.Location, want: p.Checksum, size: p.Size, what: p.NEVRA()}
	if r.Source.GPGCheck && r.keys != nil {
		bl.check = r.keys.checkRPM
	}
	rc, err := r.fetch.openVerified(ctx, bases, bl)
	if err != nil {
		var ce *checkError
		if errors.As(err, &ce) {
			se := &SignatureError{File: p.NEVRA(), Repo: r.Source.ID, Keys: r.keys.ids, Err: ce.err}
			if !bases[0].isLocal() {
				se.URL = bases[0].at(p.Location)
			}
			return nil, se
		}
		var nf *NotFoundError
		if errors.As(err, &nf) && r.metaCached {
			return nil, fmt.Errorf("repo %s: %w (the repository's metadata came from the cache and may be older than the server's: refresh it, e.g. smith --refresh)", r.Source.ID, err)
		}
		return nil, fmt.Errorf("repo %s: %w", r.Source.ID, err)
	}
	return rc, nil
}

// loadRPMDir reads a local directory of .rpm files that has no repodata:
// each header is read and each file hashed, which is fine for the few
// packages such directories hold. It returns nil, nil when the directory
// has no .rpm file (or does not exist).
func loadRPMDir(f *fetcher, b base) (*Repo, error) {
	var files []string
	err := filepath.WalkDir(b.local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".rpm") && !strings.HasSuffix(d.Name(), ".src.rpm") {
			files = append(files, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(files) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := &Repo{Source: f.src, BaseURL: b.local, fetch: f, bases: []base{b}, rpmDir: true}
	for _, p := range files { // WalkDir visits in lexical order
		pkg, err := LoadRPMFile(p)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(b.local, p)
		if err != nil {
			return nil, err
		}
		pkg.Repo = f.src.ID
		pkg.Location = filepath.ToSlash(rel)
		r.Packages = append(r.Packages, pkg)
	}
	r.Packages = filterPackages(r.Packages, f.src)
	setPriority(r.Packages, f.src)
	f.warn(fmt.Sprintf("repo %s: %s has no repodata/; read %d package headers directly (run createrepo_c on it to make loading fast)", f.src.ID, b.local, len(r.Packages)))
	return r, nil
}

// LoadAll loads the enabled sources concurrently (a few at a time) and
// returns them in the order given. A source with SkipIfUnavailable that
// fails is left out with a warning; any other failure is returned.
func LoadAll(ctx context.Context, srcs []Source, opt Options) ([]*Repo, error) {
	type result struct {
		r   *Repo
		err error
	}
	results := make([]result, len(srcs))
	if opt.hosts == nil {
		opt.hosts = newHostLimiter(opt.MaxPerHost)
	}
	if opt.sweeper == nil {
		opt.sweeper = new(tempSweeper)
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, s := range srcs {
		if !s.Enabled {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := Load(ctx, s, opt)
			results[i] = result{r, err}
		}()
	}
	wg.Wait()
	var repos []*Repo
	var errs []error
	for i, res := range results {
		switch {
		case !srcs[i].Enabled:
		case res.err != nil && srcs[i].SkipIfUnavailable && ctx.Err() == nil:
			if opt.Warn != nil {
				opt.Warn(fmt.Sprintf("skipping unavailable repository %s (skip_if_unavailable): %v", srcs[i].ID, res.err))
			}
		case res.err != nil:
			errs = append(errs, res.err)
		default:
			repos = append(repos, res.r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return repos, nil
}
