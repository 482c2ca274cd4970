package repo

import (
	"fmt"
	"strings"

	"github.com/smith-build/smith/internal/redact"
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
		fmt.Fprintf(&b, " (from %s)", redact.URL(e.URL))
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
	msg := fmt.Sprintf("%s not found at %s", e.What, redact.URL(e.Where))
	if strings.HasSuffix(e.What, "repomd.xml") {
		msg += " (is this the repository's base directory, the one that contains repodata/? " +
			"For a directory of .rpm files, run createrepo_c on it)"
	}
	return msg
}

func (e *NotFoundError) Unwrap() error { return e.Err }
