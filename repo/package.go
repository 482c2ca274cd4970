package repo

import "github.com/smith-build/smith/dep"

// Checksum is a digest as repodata states it: algorithm name normalised to
// lower case ("sha1", "sha256", "sha384", "sha512") and lower-case hex value.
type Checksum struct {
	Type  string
	Value string
}

// Package is the domain view of one RPM, whether it came from primary.xml or
// from a local .rpm file's header. It carries no XML types.
type Package struct {
	Name string
	dep.EVR
	Arch string

	Provides    []dep.Relation
	Requires    []dep.Relation
	Conflicts   []dep.Relation
	Obsoletes   []dep.Relation
	Recommends  []dep.Relation
	Suggests    []dep.Relation
	Supplements []dep.Relation
	Enhances    []dep.Relation

	// Files lists the paths primary.xml names (createrepo puts only /etc/*,
	// *bin/* there); the full list is loaded lazily through the Index.
	Files []string

	// Location is the package's path relative to the repository base URL,
	// or an absolute local path for a local .rpm file.
	Location string
	Checksum Checksum
	// Size is the size of the .rpm file in bytes (0 when unknown).
	Size int64

	// Repo is the ID of the repository the package comes from
	// ("@commandline" for a local .rpm file given directly).
	Repo string
	// Priority and Cost are those of the package's repository
	// (Source.EffectivePriority and EffectiveCost): between candidates for
	// the same job or dependency, dnf takes those of the best (lowest)
	// priority first, whatever their versions, and between identical
	// packages the one from the cheapest repository. Both are 0 for a
	// package that comes from no repository (a local .rpm file).
	Priority int
	Cost     int
}

// NEVRA formats the package as name-[epoch:]version-release.arch, the epoch
// only when it is set and not "0" (the format dnf and refsolve.py print).
func (p *Package) NEVRA() string {
	s := p.Name + "-"
	if p.Epoch != "" && p.Epoch != "0" {
		s += p.Epoch + ":"
	}
	return s + p.Version + "-" + p.Release + "." + p.Arch
}
