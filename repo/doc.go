// Package repo turns repository configuration and RPM repository metadata
// into the domain view the rest of smith works with: []*Package grouped in an
// Index.
//
// Contract:
//
//   - Configuration: ParseRepoFile reads dnf .repo files, ParseMockConfig
//     reads the dnf.conf/yum.conf string embedded in a mock .cfg, NewSource
//     makes a Source from a bare path or URL. None of them touch the network.
//   - Metadata: Load (or LoadAll for several sources) reads
//     repodata/repomd.xml from the first working base URL, then
//     primary.xml. Every file's checksum is verified before a byte of it is
//     parsed; a mismatch is a *ChecksumError, a missing file a
//     *NotFoundError. filelists.xml is read only when FileProviders is
//     first called, once per Repo. Source packages are never loaded.
//   - Local packages: LoadRPMFile reads a .rpm's header into a Package,
//     checking the digests the file carries. An Index groups repositories
//     and local packages.
//   - Configuration variables and overrides: ExpandVars, ReadVarsDir
//     (/etc/dnf/vars), ParseSetopt/ApplySetopts (dnf's --setopt); a
//     location still holding a $variable fails Load naming it.
//   - Packages: Index.Open returns the bytes of an .rpm only after the whole
//     file has been verified against Package.Checksum and, with gpgcheck,
//     its header signature and payload digest against the repository's
//     gpgkey (a *SignatureError otherwise): nothing unverified reaches the
//     caller. Remote files are downloaded into a content-addressed cache
//     (Options.CacheDir) through a temporary file that is renamed into
//     place only once verified; local repositories and local .rpm files
//     are never copied. See trust.go for the trust chain (repo_gpgcheck,
//     key validity judged at Options.Now, as dnf does).
//   - Cache: safe for several processes at once (flock per file being
//     fetched, atomic renames; a file is downloaded once whoever needs it),
//     repomd.xml and the other unpinned files reused for metadata_expire
//     (dnf's 48 h default; Options.Refresh revalidates), Options.Offline
//     serving from the cache alone (*OfflineError names what is missing),
//     damaged entries detected by checksum and fetched again. See cache.go.
//     The packages parsed from a primary.xml are kept as a compact binary
//     index keyed by its checksum (versioned, CRC-checked, rebuilt when
//     damaged): a warm Load reads that instead of the XML. See
//     index_cache.go.
//   - Transport: keep-alive HTTP(S) through Options.Client; at most
//     Options.MaxPerHost requests per host; retries with backoff on 5xx,
//     429, timeouts, resets and truncated bodies (a 429 or 503 with
//     Retry-After waits what the server asks instead, at most the
//     timeout); a request that receives nothing for the timeout
//     (Source.Timeout, Options.Timeout) fails;
//     mirror failover in base URL / mirrorlist / metalink order; progress
//     per download through Options.Progress.
//   - Priority: packages carry their repository's priority and cost
//     (Package.Priority, Package.Cost) for the solver to prefer as dnf.
//   - Hostile input: XML, compressed streams and RPM headers are bounded in
//     size and depth and fail with an error naming the file; nothing panics
//     on bad input.
//   - Credentials in URLs (https://user:pass@host/...) are sent as basic auth
//     and never appear in an error or warning: see Redact.
//   - No globals: everything a load needs (HTTP client, cache directory,
//     warning sink, clock, progress sink) is passed in Options. Output order is
//     deterministic: it follows the input order, never map iteration.
//
// The XML wire types are private; callers only see Package, Source, Repo and
// Index.
package repo
