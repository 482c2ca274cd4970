package repo

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// Index is the set of packages a build chooses from: loaded repositories
// and local .rpm files (LoadRPMFile).
type Index struct {
	Repos []*Repo
	Local []*Package
}

// Packages returns every package: the repositories' in their order, each
// in primary.xml order, then the local ones.
func (ix *Index) Packages() []*Package {
	n := len(ix.Local)
	for _, r := range ix.Repos {
		n += len(r.Packages)
	}
	out := make([]*Package, 0, n)
	for _, r := range ix.Repos {
		out = append(out, r.Packages...)
	}
	return append(out, ix.Local...)
}

// FileProviders returns the packages that contain path, in the order of
// Packages. It reads each repository's filelists.xml on first use only.
func (ix *Index) FileProviders(ctx context.Context, path string) ([]*Package, error) {
	var out []*Package
	for _, r := range ix.Repos {
		ps, err := r.FileProviders(ctx, path)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	for _, p := range ix.Local {
		if slices.Contains(p.Files, path) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Open returns the bytes of a package's .rpm file. The whole file is
// verified against p.Checksum before the reader is returned: a local file
// is hashed through the descriptor that is then returned, a remote one is
// downloaded into the cache (temporary file, verify, rename) first. A
// mismatch is a *ChecksumError.
func (ix *Index) Open(ctx context.Context, p *Package) (io.ReadCloser, error) {
	if slices.Contains(ix.Local, p) || (p.Repo == CommandLineRepo && ix.repo(p) == nil) {
		if err := validChecksum(p.Checksum); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Location, err)
		}
		return openLocalVerified(p.Location, blob{want: p.Checksum, size: p.Size, what: p.Location})
	}
	r := ix.repo(p)
	if r == nil {
		return nil, fmt.Errorf("%s: repository %q is not in the index", p.NEVRA(), p.Repo)
	}
	return r.open(ctx, p)
}

// repo finds the repository a package came from: by pointer first, which
// also disambiguates repositories sharing an ID, then by ID.
func (ix *Index) repo(p *Package) *Repo {
	var byID *Repo
	for _, r := range ix.Repos {
		if r.Source.ID != p.Repo {
			continue
		}
		if slices.Contains(r.Packages, p) {
			return r
		}
		if byID == nil {
			byID = r
		}
	}
	return byID
}
