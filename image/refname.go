package image

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Choosing the image of a local layout or docker save archive by name
// (RemoteOptions.Tag). Tools name images differently: smith writes the
// ref.name "latest", skopeo (oci:dir:NAME) and umoci store whatever follows
// the path, often "NAME:TAG", containerd a full reference; docker save
// stores "REPO:TAG" RepoTags. A bare tag must find all of them, so it
// matches a name equal to it and, failing that, any "REPO:TAG".

// namesMatching returns the positions of the names that tag selects: those
// equal to tag; when there are none and tag is a bare tag (no ':', '/' or
// '@'), those ending in ":"+tag. The part after a name's last ':' then holds
// no '/', so a registry port ("localhost:5000/x") never matches.
func namesMatching(names []string, tag string) []int {
	var exact, suffix []int
	bare := !strings.ContainsAny(tag, ":/@")
	for i, n := range names {
		switch {
		case n == tag:
			exact = append(exact, i)
		case bare && len(n) > len(tag)+1 && strings.HasSuffix(n, ":"+tag):
			suffix = append(suffix, i)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return suffix
}

// sortedNames is the distinct non-empty names, sorted, for messages.
func sortedNames(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// noImageNamed is the error for a tag that names no image; it lists the
// names there are so that the user can pick one.
func noImageNamed(tag, where string, names []string) error {
	have := sortedNames(names)
	if len(have) == 0 {
		return fmt.Errorf("no image named %q (the %s's images have no names)", tag, where)
	}
	return fmt.Errorf("no image named %q (the %s has: %s)", tag, where, strings.Join(have, ", "))
}

// ambiguous is the error for a bare tag that matches several names.
func ambiguous(tag string, names []string) error {
	return fmt.Errorf("%q names several images (%s): give the full name", tag, strings.Join(sortedNames(names), ", "))
}

// unnamedLatest reports whether tag is "latest" and no name is set:
// an unnamed image is what an untagged reference means, so "latest" then
// chooses as the empty tag does (the only image, or by platform).
func unnamedLatest(tag string, names []string) bool {
	return tag == RefLatest && len(sortedNames(names)) == 0
}

// refNames is the ref.name of each image (or image index) entry of ds, ""
// when it has none, with the entry's position in ds.
func refNames(ds []v1.Descriptor) (names []string, pos []int) {
	for i, d := range ds {
		if d.MediaType.IsImage() || d.MediaType.IsIndex() {
			names = append(names, d.Annotations[AnnotationRefName])
			pos = append(pos, i)
		}
	}
	return names, pos
}

// pickByTag chooses the entry of a layout's index.json whose ref.name tag
// selects (see namesMatching); several entries of one name (one per
// platform) are chosen from by platform. Entries that are not images or
// image indexes are never chosen.
func pickByTag(ds []v1.Descriptor, tag string, platform *v1.Platform) (int, error) {
	names, pos := refNames(ds)
	hits := namesMatching(names, tag)
	var hitNames []string
	var hitDescs []v1.Descriptor
	for _, h := range hits {
		hitNames = append(hitNames, names[h])
		hitDescs = append(hitDescs, ds[pos[h]])
	}
	switch {
	case len(hits) == 0:
		return 0, noImageNamed(tag, "layout", names)
	case len(sortedNames(hitNames)) > 1:
		return 0, ambiguous(tag, hitNames)
	case len(hits) == 1:
		return pos[hits[0]], nil
	case platform == nil:
		return 0, fmt.Errorf("%d images are named %q: a platform must be chosen", len(hits), hitNames[0])
	}
	i, err := matchPlatform(hitDescs, *platform)
	if err != nil {
		return 0, fmt.Errorf("images named %q: %w", hitNames[0], err)
	}
	return pos[hits[i]], nil
}

// dockerTag returns the RepoTag of the image of a docker save archive that
// tag selects (see namesMatching), for tarball.Image; nil (the only image)
// when tag is empty, or is "latest" and no image has a RepoTag.
func dockerTag(opener tarball.Opener, tag string) (*name.Tag, error) {
	if tag == "" {
		return nil, nil
	}
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, err
	}
	var names []string
	var entry []int // entry[i] is the manifest.json entry of names[i]
	for e, d := range m {
		for _, t := range d.RepoTags {
			names = append(names, t)
			entry = append(entry, e)
		}
	}
	if unnamedLatest(tag, names) {
		return nil, nil
	}
	hits := namesMatching(names, tag)
	if len(hits) == 0 {
		return nil, noImageNamed(tag, "archive", names)
	}
	// One image may carry several matching RepoTags; several images may not.
	var hitNames []string
	one := true
	for _, h := range hits {
		hitNames = append(hitNames, names[h])
		one = one && entry[h] == entry[hits[0]]
	}
	if !one {
		return nil, ambiguous(tag, hitNames)
	}
	t, err := name.NewTag(names[hits[0]])
	if err != nil {
		return nil, fmt.Errorf("RepoTag %q: %w", names[hits[0]], err)
	}
	return &t, nil
}
