package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/smith-build/smith/internal/redact"
)

// Defaults of Options and Source.
const (
	// DefaultMetadataExpire is dnf's metadata_expire default.
	DefaultMetadataExpire = 48 * time.Hour
	// DefaultTimeout is dnf's timeout default: a request that receives
	// nothing for this long fails (and is retried).
	DefaultTimeout = 30 * time.Second
	// DefaultMaxPerHost bounds parallel downloads from one host, like
	// dnf's max_parallel_downloads.
	DefaultMaxPerHost = 3
)

// The cache directory (Options.CacheDir) holds:
//
//	blobs/<type>/<hex>   metadata files and packages, by checksum
//	meta/<sha256(URL)>   repomd.xml, repomd.xml.asc, metalinks, mirrorlists
//	                     and gpgkey files, by URL; mtime = Last-Modified
//	meta/<…>.checked     mtime = when the server last confirmed the file
//	locks/<name>.lock    flock(2) locks, one per file being fetched
//
// Every file is written to a temporary name beside it and renamed into
// place, blobs only once their checksum matched; fetching a file holds its
// lock, so two smith processes never download it twice, and a reader never
// sees a partial file. Lock files are left in place: removing one while
// another process waits on it would let a third lock a new inode.

// lock takes the cache's exclusive lock called name, waiting for another
// process (or goroutine) that holds it. The returned function releases it.
func (f *fetcher) lock(ctx context.Context, name string) (func(), error) {
	dir := filepath.Join(f.cacheDir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	fl := flock.New(filepath.Join(dir, name+".lock"))
	ok, err := fl.TryLockContext(ctx, 10*time.Millisecond)
	if err != nil || !ok {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cache: locking %s: %w", fl.Path(), err)
	}
	return func() { _ = fl.Unlock() }, nil
}

// metaPath is where the cache keeps the file at URL u.
func (f *fetcher) metaPath(u string) string {
	sum := sha256.Sum256([]byte(u))
	return filepath.Join(f.cacheDir, "meta", hex.EncodeToString(sum[:]))
}

// expire is the repository's metadata_expire; negative means never.
func (f *fetcher) expire() time.Duration {
	if f.src.MetadataExpire == 0 {
		return DefaultMetadataExpire
	}
	return f.src.MetadataExpire
}

// readMeta gets a small remote file that has no checksum to be verified
// against (repomd.xml, its signature, a metalink, a mirrorlist, a key):
// local files are read in place; remote ones come from the cache while
// they are younger than metadata_expire (unless force or Options.Refresh),
// else the server is asked with If-Modified-Since. When the server cannot
// be reached, an expired cached copy is used with a warning. cached says
// the bytes came from the cache without the server confirming them now.
func (f *fetcher) readMeta(ctx context.Context, b base, rel, what string, force bool) (data []byte, cached bool, err error) {
	if b.isLocal() || f.cacheDir == "" {
		data, err := f.readSmall(ctx, b, rel, what)
		return data, false, err
	}
	u := b.at(rel)
	cpath := f.metaPath(u)
	stamp := cpath + ".checked"
	unlock, err := f.lock(ctx, "meta-"+filepath.Base(cpath))
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	st, statErr := os.Stat(cpath)
	if f.offline {
		if statErr != nil {
			return nil, false, &OfflineError{What: what, URL: u, Path: cpath}
		}
		data, err := readLimitedFile(cpath)
		return data, true, err
	}
	if statErr == nil && !force && !f.refresh && f.fresh(stamp) {
		if data, err := readLimitedFile(cpath); err == nil {
			return data, true, nil
		}
	}
	var since time.Time
	if statErr == nil {
		since = st.ModTime()
	}
	release, err := f.hosts.acquire(ctx, b.url)
	if err != nil {
		return nil, false, err
	}
	defer release()
	resp, err := f.get(ctx, b, rel, what, since)
	if err != nil {
		var nf *NotFoundError
		if statErr == nil && !errors.As(err, &nf) && ctx.Err() == nil {
			if data, rerr := readLimitedFile(cpath); rerr == nil {
				f.warn(fmt.Sprintf("repo %s: %v; using the cached %s of %s", f.src.ID, err, path.Base(what), since.UTC().Format(time.RFC3339)))
				return data, true, nil
			}
		}
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		data, err := readLimitedFile(cpath)
		if err == nil {
			f.touch(stamp)
			return data, false, nil
		}
		// The cached copy vanished under us: ask again, unconditionally.
		resp.Body.Close()
		if resp, err = f.get(ctx, b, rel, what, time.Time{}); err != nil {
			return nil, false, err
		}
		defer resp.Body.Close()
	}
	data, err = readLimited(resp.Body, maxRepomdSize, u)
	if err != nil {
		return nil, false, err
	}
	// The server's Last-Modified becomes the file's mtime, for the next
	// If-Modified-Since; without one, the write time serves.
	var mtime time.Time
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm
	}
	if err := writeFileAtomic(cpath, data, mtime); err != nil {
		// A cache we cannot write only costs speed.
		f.warn(fmt.Sprintf("repo %s: caching %s: %v", f.src.ID, what, err))
	} else {
		f.touch(stamp)
	}
	return data, false, nil
}

// fresh reports whether the server confirmed a cached file less than
// metadata_expire ago.
func (f *fetcher) fresh(stamp string) bool {
	st, err := os.Stat(stamp)
	if err != nil {
		return false
	}
	exp := f.expire()
	return exp < 0 || f.now().Sub(st.ModTime()) < exp
}

// touch records that the server confirmed a cached file now.
func (f *fetcher) touch(stamp string) {
	now := f.now()
	if err := os.Chtimes(stamp, now, now); err == nil {
		return
	}
	if err := writeFileAtomic(stamp, nil, now); err != nil {
		f.warn(fmt.Sprintf("repo %s: cache: %v", f.src.ID, err))
	}
}

func readLimitedFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return readLimited(fh, maxRepomdSize, path)
}

// hostLimiter bounds concurrent requests per host. One is shared by the
// repositories of a LoadAll, so mirrors shared between repositories count
// once.
type hostLimiter struct {
	n    int
	mu   sync.Mutex
	sems map[string]chan struct{}
}

func newHostLimiter(n int) *hostLimiter {
	if n <= 0 {
		n = DefaultMaxPerHost
	}
	return &hostLimiter{n: n, sems: map[string]chan struct{}{}}
}

// acquire takes a slot for the host of u; the function returned frees it.
func (h *hostLimiter) acquire(ctx context.Context, u string) (func(), error) {
	host := u
	if pu, err := url.Parse(u); err == nil {
		host = pu.Host
	}
	h.mu.Lock()
	sem := h.sems[host]
	if sem == nil {
		sem = make(chan struct{}, h.n)
		h.sems[host] = sem
	}
	h.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// OfflineError reports a remote file that Options.Offline needs from the
// cache but that is not there.
type OfflineError struct {
	// What is missing: a metadata location, a package NEVRA, a key.
	What string
	// URL it would come from (printed redacted), and Path, where the cache
	// would hold it ("" without a cache directory).
	URL  string
	Path string
}

func (e *OfflineError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("offline: %s from %s is needed, and there is no cache directory to take it from", e.What, redact.URL(e.URL))
	}
	return fmt.Sprintf("offline: %s from %s is not in the cache (%s); run once without --offline to download it", e.What, redact.URL(e.URL), e.Path)
}

// Pending returns how many of pkgs Open would download, and their size:
// packages of remote repositories that are not in the cache. It is meant
// for progress displays; a damaged cache entry counts as present.
func (ix *Index) Pending(pkgs []*Package) (files int, bytes int64) {
	for _, p := range pkgs {
		r := ix.repo(p)
		if r == nil || r.fetch == nil || len(r.bases) == 0 || r.bases[0].isLocal() && !isURL(p.Location) {
			continue
		}
		if r.fetch.cacheDir != "" {
			if _, err := os.Stat(r.fetch.blobPath(p.Checksum)); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		files++
		bytes += p.Size
	}
	return files, bytes
}

func isURL(s string) bool {
	_, ok := remoteFile(s)
	return ok
}
