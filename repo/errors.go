package repo

import (
	"fmt"
	"net/url"
	"strings"
)

// ChecksumError reports bytes that do not match the checksum the metadata
// (or the RPM header) promised. It is never retried silently: a mismatch
// means a stale mirror, a corrupt cache entry or tampering.
type ChecksumError struct {
	// File names what was checked: a metadata location
	// ("repodata/…-primary.xml.gz"), a package NEVRA or a local path.
	File     string
	Expected Checksum
	Actual   Checksum
	// URL is where the bytes came from (redacted), a local path, or a cache
	// path.
	URL string
}

func (e *ChecksumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checksum mismatch for %s", e.File)
	if e.URL != "" && e.URL != e.File {
		fmt.Fprintf(&b, " (from %s)", Redact(e.URL))
	}
	fmt.Fprintf(&b, ": expected %s:%s, got %s:%s", e.Expected.Type, e.Expected.Value, e.Actual.Type, e.Actual.Value)
	if strings.Contains(e.URL, "://") {
		b.WriteString("; the mirror is probably in the middle of a sync or the cached metadata is stale: " +
			"retry later or use another mirror, refresh the metadata (drop the cached repomd.xml), " +
			"or regenerate the repository with createrepo_c if it is yours")
	} else {
		b.WriteString("; the file is corrupted, truncated or was changed after the metadata was made: " +
			"get a fresh copy, or regenerate the repository with createrepo_c if it is yours")
	}
	return b.String()
}

// NotFoundError reports a file that the repository does not have (HTTP 404 /
// 410, or a missing local file). Callers branch on it, e.g. to honour
// skip_if_unavailable or to explain that a directory is not a repository.
type NotFoundError struct {
	// What is missing, e.g. "repodata/repomd.xml" or a package NEVRA.
	What string
	// Where it was looked for (redacted URL or local path).
	Where string
	// Err is the underlying error, if any (e.g. *fs.PathError).
	Err error
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("%s not found at %s", e.What, Redact(e.Where))
	if strings.HasSuffix(e.What, "repomd.xml") {
		msg += " (is this the repository's base directory, the one that contains repodata/? " +
			"For a directory of .rpm files, run createrepo_c on it)"
	}
	return msg
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// Redact returns u with any userinfo (user name and password) replaced by
// "REDACTED" and the values of its query string replaced by "REDACTED" (the
// keys are kept: signed URLs and ?token= carry credentials there), so that
// it can be printed. It works on anything that contains URLs, including
// error messages; strings without userinfo or query come back unchanged.
func Redact(u string) string {
	if !strings.ContainsAny(u, "@?") {
		return u
	}
	if pu, err := url.Parse(u); err == nil && pu.Scheme != "" && pu.Host != "" && !strings.ContainsAny(u, " \t\r\n\"'") {
		if pu.User != nil {
			pu.User = url.User("REDACTED")
		}
		pu.RawQuery = redactQuery(pu.RawQuery)
		return pu.String()
	}
	// Not a single URL (an error message, or something url.Parse refuses):
	// clean every "//authority" whose authority holds an '@', and the query
	// that follows it.
	var b strings.Builder
	for {
		i := strings.Index(u, "//")
		if i < 0 {
			b.WriteString(u)
			return b.String()
		}
		b.WriteString(u[:i+2])
		u = u[i+2:]
		end := strings.IndexAny(u, "/ \t\r\n\"'?#")
		if end < 0 {
			end = len(u)
		}
		if at := strings.LastIndexByte(u[:end], '@'); at >= 0 {
			b.WriteString("REDACTED")
			u = u[at:]
		}
		// The rest of this URL: up to white space or a quote.
		stop := strings.IndexAny(u, " \t\r\n\"'<>")
		if stop < 0 {
			stop = len(u)
		}
		q := strings.IndexByte(u[:stop], '?')
		if q < 0 {
			continue
		}
		if h := strings.IndexByte(u[:stop], '#'); h >= 0 && h < q {
			continue
		}
		qend := stop
		if h := strings.IndexByte(u[q:stop], '#'); h >= 0 {
			qend = q + h
		}
		// "GET https://h/p?t=x: 403": the colon belongs to the message.
		if qend == stop && qend > q+1 && u[qend-1] == ':' {
			qend--
		}
		b.WriteString(u[:q+1])
		b.WriteString(redactQuery(u[q+1 : qend]))
		u = u[qend:]
	}
}

// redactQuery replaces the values of a raw query string with "REDACTED",
// keeping the keys; a parameter without '=' may be a bare token and is
// replaced whole.
func redactQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		switch {
		case !ok:
			parts[i] = "REDACTED"
		case v != "":
			parts[i] = k + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}
