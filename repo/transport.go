package repo

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/smith-build/smith/internal/redact"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// base is one candidate location of a repository: a local directory or a
// remote URL (credentials removed and kept apart).
type base struct {
	local string // directory, when local
	url   string // without userinfo, ending in "/", when remote
	user  *url.Userinfo
	shown string // for messages: the local path or the redacted URL
}

func (b base) isLocal() bool { return b.url == "" }

// at returns the URL of rel (a slash-separated path relative to the
// repository's base) under a remote base: rel is joined onto the URL's
// path, and the base's query (signed URLs, ?token=) is kept at the end.
func (b base) at(rel string) string {
	if rel == "" {
		return b.url
	}
	p, q, ok := strings.Cut(b.url, "?")
	if !ok {
		return b.url + rel
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + strings.TrimPrefix(rel, "/") + "?" + q
}

// parseBase classifies a baseurl: an http(s) URL, a file:// URL or a plain
// path.
func parseBase(s string) (base, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return base{}, errors.New("empty base URL")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // "C:\..." is a path
		return base{local: filepath.Clean(s), shown: s}, nil
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		if u.Host != "" && u.Host != "localhost" {
			return base{}, fmt.Errorf("file URL %q names a host; use file:///path", redact.URL(s))
		}
		return base{local: filepath.FromSlash(p), shown: s}, nil
	case "http", "https":
		user := u.User
		u.User = nil
		u.Fragment, u.RawFragment = "", ""
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
			if u.RawPath != "" {
				u.RawPath += "/"
			}
		}
		return base{url: u.String(), user: user, shown: redact.URL(u.String())}, nil
	}
	return base{}, fmt.Errorf("unsupported URL scheme %q in %q (want http, https, file or a path)", u.Scheme, redact.URL(s))
}

// remoteFile makes a base that is a single http(s) file URL (a metalink,
// a mirrorlist, a package location given by xml:base): the URL is kept as
// it is, query included, with the credentials taken out.
func remoteFile(s string) (base, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return base{}, false
	}
	user := u.User
	u.User = nil
	return base{url: u.String(), user: user, shown: redact.URL(u.String())}, true
}

// fetcher gets files of one repository, locally or over HTTP, and keeps the
// content-addressed cache.
type fetcher struct {
	client   *http.Client
	src      Source
	cacheDir string
	warn     func(string)
	maxMeta  int64
	// retryDelay is the first backoff between attempts; tests shorten it.
	retryDelay time.Duration
	attempts   int

	offline  bool
	refresh  bool
	now      func() time.Time
	timeout  time.Duration // no byte for this long fails a request
	hosts    *hostLimiter
	progress Progress
}

func newFetcher(src Source, opt Options) (*fetcher, error) {
	f := &fetcher{
		client:     opt.Client,
		src:        src,
		cacheDir:   opt.CacheDir,
		warn:       opt.Warn,
		maxMeta:    opt.MaxMetadataSize,
		retryDelay: opt.retryDelay,
		attempts:   3,
		offline:    opt.Offline,
		refresh:    opt.Refresh,
		now:        opt.Now,
		timeout:    cmp.Or(src.Timeout, opt.Timeout, DefaultTimeout),
		hosts:      opt.hosts,
		progress:   opt.Progress,
	}
	// Temporary files of smith processes killed mid-write.
	sweeper := opt.sweeper
	if sweeper == nil {
		sweeper = new(tempSweeper)
	}
	sweeper.sweep(f.cacheDir)
	if f.warn == nil {
		f.warn = func(string) {}
	}
	if f.maxMeta <= 0 {
		f.maxMeta = DefaultMaxMetadataSize
	}
	if f.retryDelay == 0 {
		f.retryDelay = 500 * time.Millisecond
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.hosts == nil {
		f.hosts = newHostLimiter(opt.MaxPerHost)
	}
	if f.client == nil {
		f.client = &http.Client{Transport: defaultTransport()}
	}
	if err := f.configureTLS(); err != nil {
		return nil, err
	}
	return f, nil
}

// defaultTransport is http.DefaultTransport with enough idle connections
// per host for parallel downloads to keep theirs alive.
func defaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return tr
}

// configureTLS applies the repository's sslverify, sslcacert,
// sslclientcert/key and proxy options on a private copy of the caller's
// transport, so one repository's settings never leak to another.
func (f *fetcher) configureTLS() error {
	s := f.src
	if !s.InsecureSkipVerify && s.SSLCACert == "" && s.SSLClientCert == "" && s.Proxy == "" {
		return nil
	}
	var tr *http.Transport
	switch t := f.client.Transport.(type) {
	case nil:
		tr = defaultTransport()
	case *http.Transport:
		tr = t.Clone()
	default:
		f.warn(fmt.Sprintf("repo %s: custom HTTP transport: ignoring sslverify/sslcacert/sslclientcert/proxy options", s.ID))
		return nil
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	if s.InsecureSkipVerify {
		tr.TLSClientConfig.InsecureSkipVerify = true
		f.warn(fmt.Sprintf("repo %s: sslverify=0: TLS certificates are not verified", s.ID))
	}
	if s.SSLCACert != "" {
		pem, err := os.ReadFile(s.SSLCACert)
		if err != nil {
			return fmt.Errorf("repo %s: sslcacert: %w", s.ID, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("repo %s: sslcacert %s: no PEM certificate in it", s.ID, s.SSLCACert)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	if s.SSLClientCert != "" {
		key := s.SSLClientKey
		if key == "" {
			key = s.SSLClientCert
		}
		cert, err := tls.LoadX509KeyPair(s.SSLClientCert, key)
		if err != nil {
			return fmt.Errorf("repo %s: sslclientcert: %w", s.ID, err)
		}
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	}
	switch s.Proxy {
	case "":
	case "_none_":
		tr.Proxy = nil
	default:
		pu, err := url.Parse(s.Proxy)
		if err != nil {
			return fmt.Errorf("repo %s: proxy: invalid URL %q", s.ID, redact.URL(s.Proxy))
		}
		tr.Proxy = http.ProxyURL(pu)
	}
	c := *f.client
	c.Transport = tr
	f.client = &c
	return nil
}

// httpStatusError is a non-success HTTP status; retryable for 5xx and 429.
type httpStatusError struct {
	url    string
	status string
	code   int
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("GET %s: %s", redact.URL(e.url), e.status)
}

// get performs a GET with retries on transient failures (network errors,
// timeouts, 5xx, 429). ifModifiedSince, when not zero, makes a conditional
// request; the caller then handles 304. 404 and 410 become *NotFoundError.
func (f *fetcher) get(ctx context.Context, b base, rel string, what string, ifModifiedSince time.Time) (*http.Response, error) {
	u := b.at(rel)
	var lastErr error
	asked, hasAsked := time.Duration(0), false // the previous response's Retry-After
	for attempt := 0; attempt < f.attempts; attempt++ {
		if attempt > 0 {
			d := f.retryDelay << (attempt - 1)
			if hasAsked {
				d = asked
			}
			if err := sleepCtx(ctx, d); err != nil {
				return nil, err
			}
		}
		hasAsked = false
		resp, err := f.do(ctx, b, u, ifModifiedSince)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = err
			if retryable(err) {
				continue
			}
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusNotModified && !ifModifiedSince.IsZero():
			return resp, nil
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			resp.Body.Close()
			return nil, &NotFoundError{What: what, Where: u}
		}
		resp.Body.Close()
		lastErr = &httpStatusError{url: u, status: resp.Status, code: resp.StatusCode}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			asked, hasAsked = f.retryAfter(resp)
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, fmt.Errorf("%w (check the repository's credentials)", lastErr)
		}
		return nil, lastErr
	}
	return nil, &gaveUpError{err: lastErr, attempts: f.attempts}
}

// retryAfter is the wait a 429 or 503 response asks for in its
// Retry-After header (RFC 9110 §10.2.3), instead of our backoff: a server
// that says when it will be ready gets fewer, better-timed requests. The
// wait is capped at the request timeout (f.timeout: timeout= or
// Options.Timeout, DefaultTimeout 30 s by default), the longest we already
// wait for a silent server, so a hostile or confused header cannot stall a
// build for hours. ok is false without a usable header.
func (f *fetcher) retryAfter(resp *http.Response) (d time.Duration, ok bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	d, ok = parseRetryAfter(resp.Header.Get("Retry-After"), f.now())
	return min(d, f.timeout), ok
}

// parseRetryAfter reads a Retry-After value: delta-seconds or an
// HTTP-date (any of the three forms http.ParseTime accepts), relative to
// now. A date in the past means no wait; a number too big for a Duration
// saturates, for the caller to cap.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(math.MaxInt64/time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// gaveUpError is a request that failed every attempt: not retried again by
// the callers.
type gaveUpError struct {
	err      error
	attempts int
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts)", e.err, e.attempts)
}
func (e *gaveUpError) Unwrap() error { return e.err }

func (f *fetcher) do(ctx context.Context, b base, u string, ifModifiedSince time.Time) (*http.Response, error) {
	// Every request runs under a watchdog: no byte for f.timeout (while
	// connecting, waiting for the headers or reading the body) cancels it
	// with a timeout error, which is retried. A whole-request deadline
	// would fail big files on slow links.
	rctx, cancel := context.WithCancelCause(ctx)
	wd := &watchdog{d: f.timeout, cancel: cancel, url: u}
	wd.t = time.AfterFunc(f.timeout, wd.fire)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		wd.stop()
		return nil, fmt.Errorf("GET %s: %w", redact.URL(u), err)
	}
	switch {
	case b.user != nil:
		pw, _ := b.user.Password()
		req.SetBasicAuth(b.user.Username(), pw)
	case f.src.Username != "":
		req.SetBasicAuth(f.src.Username, f.src.Password)
	}
	if !ifModifiedSince.IsZero() {
		req.Header.Set("If-Modified-Since", ifModifiedSince.UTC().Format(http.TimeFormat))
	}
	// Ask for the bytes as stored: the checksums are over the stored
	// (compressed) file, and Go would otherwise decompress gzip
	// transparently for some servers.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "smith")
	resp, err := f.client.Do(req)
	if err != nil {
		wd.stop()
		if se := wd.stalled(); se != nil && ctx.Err() == nil {
			return nil, se
		}
		// The request URL has no userinfo, so the error carries none.
		return nil, err
	}
	wd.kick()
	resp.Body = &watchedBody{rc: resp.Body, wd: wd}
	return resp, nil
}

// watchdog cancels a request that makes no progress for d.
type watchdog struct {
	t      *time.Timer
	d      time.Duration
	cancel context.CancelCauseFunc
	url    string
	mu     sync.Mutex
	fired  bool
}

func (w *watchdog) fire() {
	w.mu.Lock()
	w.fired = true
	w.mu.Unlock()
	w.cancel(&stallError{url: w.url, d: w.d})
}

func (w *watchdog) kick() { w.t.Reset(w.d) }

func (w *watchdog) stop() {
	w.t.Stop()
	w.cancel(nil)
}

// stalled returns the timeout error when the watchdog fired.
func (w *watchdog) stalled() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired {
		return &stallError{url: w.url, d: w.d}
	}
	return nil
}

// watchedBody kicks the watchdog on every read and turns the cancellation
// it causes into a timeout error.
type watchedBody struct {
	rc io.ReadCloser
	wd *watchdog
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.wd.kick()
	}
	if err != nil && err != io.EOF {
		if se := b.wd.stalled(); se != nil {
			return n, se
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.wd.stop()
	return b.rc.Close()
}

// stallError is a request that made no progress for the timeout.
type stallError struct {
	url string
	d   time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("GET %s: no data for %v (timeout; set timeout= in the repository to wait longer)", redact.URL(e.url), e.d)
}
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// retryable reports transient network failures.
func retryable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var hs *httpStatusError
	if errors.As(err, &hs) {
		return hs.code >= 500 || hs.code == http.StatusTooManyRequests
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// readSmall reads a small file (repomd.xml, a metalink) from a base.
func (f *fetcher) readSmall(ctx context.Context, b base, rel, what string) ([]byte, error) {
	if b.isLocal() {
		p := filepath.Join(b.local, filepath.FromSlash(rel))
		fh, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, &NotFoundError{What: what, Where: p, Err: err}
		}
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		return readLimited(fh, maxRepomdSize, p)
	}
	if f.offline {
		return nil, &OfflineError{What: what, URL: b.at(rel)}
	}
	release, err := f.hosts.acquire(ctx, b.url)
	if err != nil {
		return nil, err
	}
	defer release()
	resp, err := f.get(ctx, b, rel, what, time.Time{})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readLimited(resp.Body, maxRepomdSize, b.at(rel))
}

func readLimited(r io.Reader, limit int64, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", redact.URL(name), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", redact.URL(name), limit)
	}
	return data, nil
}

func writeFileAtomic(path string, data []byte, mtime time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, unlock, err := createLockedTemp(filepath.Dir(path), tempWrite)
	if err != nil {
		return err
	}
	defer unlock()
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
			return err
		}
	}
	return os.Rename(tmp.Name(), path)
}

// blob describes a file to get and verify: metadata or a package.
type blob struct {
	rel  string   // location relative to a base, or an absolute URL
	want Checksum // validated (type supported, hex of the right length)
	size int64    // expected size, 0 when unknown
	what string   // for messages: "repodata/…-primary.xml.gz" or a NEVRA
	// check, when set, also vets the bytes (a package's signature): it
	// reads them, to the end when they pass, in the same pass as the
	// checksum. Its error is a *checkError.
	check func(io.Reader) error
}

// checkError is a blob whose bytes match their checksum but fail
// blob.check. Other mirrors have the same bytes, so it is not retried.
type checkError struct{ err error }

func (e *checkError) Error() string { return e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }

// maxPackageSize bounds a download whose size the metadata does not give.
const maxPackageSize = 64 << 30

// openVerified returns a reader over the blob's bytes, verified against
// its checksum before the reader is returned. bases are tried in order;
// local files are hashed in place and never copied, remote ones go through
// the cache (or, without a cache, a temporary file deleted on Close).
func (f *fetcher) openVerified(ctx context.Context, bases []base, bl blob) (io.ReadCloser, error) {
	var errs []error
	for _, b := range bases {
		rc, err := f.openVerifiedFrom(ctx, b, bl)
		if err == nil {
			return rc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ce *checkError
		var oe *OfflineError
		if errors.As(err, &ce) || errors.As(err, &oe) {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("%s: every mirror failed: %w", bl.what, errors.Join(errs...))
}

func (f *fetcher) openVerifiedFrom(ctx context.Context, b base, bl blob) (io.ReadCloser, error) {
	abs := strings.Contains(bl.rel, "://")
	if b.isLocal() && !abs {
		if err := safeRelPath(bl.rel); err != nil {
			return nil, fmt.Errorf("%s: %w", bl.what, err)
		}
		return openLocalVerified(filepath.Join(b.local, filepath.FromSlash(bl.rel)), bl)
	}
	if abs {
		// An absolute location (xml:base): only http(s), so that remote
		// metadata cannot point us at local files.
		ab, ok := remoteFile(bl.rel)
		if !ok {
			return nil, fmt.Errorf("%s: location %q is not an http(s) URL", bl.what, redact.URL(bl.rel))
		}
		if ab.user == nil {
			ab.user = b.user
		}
		b, bl.rel = ab, ""
	}
	if f.cacheDir == "" {
		if f.offline {
			return nil, &OfflineError{What: bl.what, URL: b.at(bl.rel)}
		}
		return f.downloadTemp(ctx, b, bl)
	}
	path := f.blobPath(bl.want)
	rc, err := openCached(path, bl)
	if err == nil || !errors.Is(err, fs.ErrNotExist) && !damaged(err, path) {
		return rc, err
	}
	if f.offline {
		if damaged(err, path) {
			return nil, fmt.Errorf("offline: %w", err)
		}
		return nil, &OfflineError{What: bl.what, URL: b.at(bl.rel), Path: path}
	}
	// One download per blob, whatever the number of smith processes: the
	// others wait for the lock and then find the file in the cache.
	unlock, err := f.lock(ctx, "blob-"+bl.want.Type+"-"+bl.want.Value)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rc, err = openCached(path, bl)
	switch {
	case err == nil:
		return rc, nil
	case damaged(err, path):
		// A damaged cache entry: say so, drop it and download again.
		f.warn(fmt.Sprintf("cache entry %s is damaged (%v); downloading it again", path, err))
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("cache: %w", rerr)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := f.download(ctx, b, bl, path); err != nil {
		return nil, err
	}
	return openCached(path, bl)
}

// blobPath is where the cache keeps a file with checksum c.
func (f *fetcher) blobPath(c Checksum) string {
	return filepath.Join(f.cacheDir, "blobs", c.Type, c.Value)
}

// openCached opens and verifies a cache entry.
func openCached(path string, bl blob) (io.ReadCloser, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return verifyOpen(fh, bl, path)
}

// damaged reports whether err says the cache entry at path does not match
// its checksum (or cannot be read through).
func damaged(err error, path string) bool {
	var ce *ChecksumError
	return errors.As(err, &ce) && ce.URL == path
}

// openLocalVerified hashes a local file through the descriptor it then
// returns, so the bytes checked are the bytes read.
func openLocalVerified(p string, bl blob) (io.ReadCloser, error) {
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotFoundError{What: bl.what, Where: p, Err: err}
	}
	if err != nil {
		return nil, err
	}
	return verifyOpen(fh, bl, p)
}

// verifyOpen hashes fh from the start (running bl.check over the same
// bytes), compares and rewinds; fh is closed on error. A checksum mismatch
// wins over a failed check: it explains it.
func verifyOpen(fh *os.File, bl blob, shown string) (io.ReadCloser, error) {
	h, err := newHash(bl.want.Type)
	if err != nil {
		fh.Close()
		return nil, err
	}
	hr := &hashReader{r: fh, h: h}
	var checkErr error
	if bl.check != nil {
		checkErr = bl.check(hr)
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		fh.Close()
		return nil, &ChecksumError{File: bl.what, Expected: bl.want, Actual: Checksum{Type: bl.want.Type, Value: "unreadable: " + err.Error()}, URL: shown}
	}
	if got := hr.sum(bl.want.Type); got != bl.want {
		fh.Close()
		return nil, &ChecksumError{File: bl.what, Expected: bl.want, Actual: got, URL: shown}
	}
	if checkErr != nil {
		fh.Close()
		return nil, &checkError{checkErr}
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		fh.Close()
		return nil, err
	}
	return fh, nil
}

// download fetches a blob into path: a temporary file beside it, hashed
// while written, renamed into place only when the checksum matches.
// Transient failures in the middle of the body are retried.
func (f *fetcher) download(ctx context.Context, b base, bl blob, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < f.attempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, f.retryDelay<<(attempt-1)); err != nil {
				return err
			}
		}
		tmp, unlock, err := createLockedTemp(filepath.Dir(path), tempDownload)
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		err = f.fetchInto(ctx, b, bl, tmp)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			if err = os.Chmod(tmp.Name(), 0o644); err == nil {
				err = os.Rename(tmp.Name(), path)
			}
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
		unlock()
		if err == nil {
			return nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// fetchInto already retried the request itself; retry here only
		// when the body broke off.
		if !retryable(err) || errors.As(err, new(*httpStatusError)) || errors.As(err, new(*gaveUpError)) {
			return err
		}
	}
	return lastErr
}

// fetchInto GETs a blob and writes it to w, failing on size or checksum
// mismatch. A body shorter than the metadata's size is a truncation, which
// download retries.
func (f *fetcher) fetchInto(ctx context.Context, b base, bl blob, w io.Writer) (err error) {
	release, err := f.hosts.acquire(ctx, b.url)
	if err != nil {
		return err
	}
	defer release()
	resp, err := f.get(ctx, b, bl.rel, bl.what, time.Time{})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	limit := int64(maxPackageSize)
	if bl.size > 0 {
		limit = bl.size
	}
	h, err := newHash(bl.want.Type)
	if err != nil {
		return err
	}
	if f.progress != nil {
		size := bl.size
		if size <= 0 && resp.ContentLength > 0 {
			size = resp.ContentLength
		}
		tr := f.progress.Start(bl.what, size)
		defer func() { tr.Done(err) }()
		w = &progressWriter{w: w, tr: tr}
	}
	hr := &hashReader{r: io.LimitReader(resp.Body, limit+1), h: h}
	n, err := io.Copy(w, hr)
	if err != nil {
		return fmt.Errorf("downloading %s from %s: %w", bl.what, redact.URL(b.at(bl.rel)), err)
	}
	if n > limit {
		return fmt.Errorf("downloading %s from %s: more than the %d bytes the metadata declares", bl.what, redact.URL(b.at(bl.rel)), limit)
	}
	if bl.size > 0 && n < bl.size {
		return fmt.Errorf("downloading %s from %s: the body ended after %d of %d bytes: %w", bl.what, redact.URL(b.at(bl.rel)), n, bl.size, io.ErrUnexpectedEOF)
	}
	if got := hr.sum(bl.want.Type); got != bl.want {
		return &ChecksumError{File: bl.what, Expected: bl.want, Actual: got, URL: b.at(bl.rel)}
	}
	return nil
}

type progressWriter struct {
	w  io.Writer
	tr Transfer
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.tr.Add(n)
	return n, err
}

// downloadTemp is download without a cache: the verified bytes live in a
// temporary file that disappears when the reader is closed.
func (f *fetcher) downloadTemp(ctx context.Context, b base, bl blob) (io.ReadCloser, error) {
	dir, err := os.MkdirTemp("", "smith-download-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "blob")
	if err := f.download(ctx, b, bl, path); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rc, err := openCached(path, bl)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &removeOnClose{File: rc.(*os.File), dir: dir}, nil
}

type removeOnClose struct {
	*os.File
	dir string
}

func (r *removeOnClose) Close() error {
	err := r.File.Close()
	os.RemoveAll(r.dir)
	return err
}
