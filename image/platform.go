package image

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// matchPlatform returns the position of the entry of an image index that is
// for want. OS and architecture must be equal. A variant in want must be
// equal too (arm64 without a variant is v8); without one, any variant
// matches, and when several do, the one without a variant (or arm64's v8)
// is taken, else it is an error. An index holding a single image without a
// platform yields that image. Attestations (unknown/unknown) never match.
// The error for no match lists the platforms the index has.
func matchPlatform(ds []v1.Descriptor, want v1.Platform) (int, error) {
	var matches, images []int
	var available []string
	for i, d := range ds {
		if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			continue
		}
		if d.Platform != nil && (d.Platform.OS == "unknown" || d.Platform.Architecture == "unknown") {
			continue
		}
		images = append(images, i)
		if d.Platform == nil {
			continue
		}
		p := *d.Platform
		available = append(available, platformString(p))
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if want.Variant != "" && normVariant(p.Architecture, p.Variant) != normVariant(want.Architecture, want.Variant) {
			continue
		}
		matches = append(matches, i)
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		var plain []int
		for _, i := range matches {
			p := ds[i].Platform
			if normVariant(p.Architecture, p.Variant) == normVariant(p.Architecture, "") {
				plain = append(plain, i)
			}
		}
		if len(plain) == 1 {
			return plain[0], nil
		}
		var names []string
		for _, i := range matches {
			names = append(names, platformString(*ds[i].Platform))
		}
		return 0, fmt.Errorf("%d images match platform %s (%s): give the variant", len(matches), platformString(want), strings.Join(names, ", "))
	case len(images) == 1 && ds[images[0]].Platform == nil:
		return images[0], nil
	case len(images) == 0:
		return 0, errors.New("no image manifest in the index")
	case len(available) == 0:
		return 0, fmt.Errorf("%d images without platforms in the index: cannot choose one for %s", len(images), platformString(want))
	}
	return 0, fmt.Errorf("no image for platform %s; the index has %s", platformString(want), strings.Join(available, ", "))
}

func hasPlatforms(ds []v1.Descriptor) bool {
	for _, d := range ds {
		if d.Platform != nil {
			return true
		}
	}
	return false
}

func normVariant(arch, variant string) string {
	if arch == "arm64" && variant == "" {
		return "v8"
	}
	return variant
}

// platformString is os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
