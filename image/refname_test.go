package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/smith-build/smith/fstree"
)

func TestNamesMatching(t *testing.T) {
	tests := []struct {
		names []string
		tag   string
		want  []int
	}{
		{[]string{"latest", "v2"}, "v2", []int{1}},
		{[]string{"latest", "v2"}, "v3", nil},
		{[]string{"fedora:40", "latest"}, "40", []int{0}},
		{[]string{"fedora:40", "latest"}, "fedora:40", []int{0}},
		// An exact name wins over "NAME:TAG".
		{[]string{"app:v2", "v2", "v2"}, "v2", []int{1, 2}},
		{[]string{"a:v5", "b:v5"}, "v5", []int{0, 1}},
		{[]string{"docker.io/library/app:v2"}, "v2", []int{0}},
		// A full name is matched whole, never as a suffix.
		{[]string{"docker.io/library/app:v2"}, "app:v2", nil},
		// A registry port is not a tag.
		{[]string{"localhost:5000/app"}, "5000", nil},
		{[]string{"localhost:5000/app"}, "5000/app", nil},
		{[]string{":v2", ""}, "v2", nil},
		{[]string{"", "latest"}, "", []int{0}},
	}
	for _, tt := range tests {
		if got := namesMatching(tt.names, tt.tag); !slices.Equal(got, tt.want) {
			t.Errorf("namesMatching(%q, %q) = %v, want %v", tt.names, tt.tag, got, tt.want)
		}
	}
}

// taggedImage is a one-layer image whose /name holds content, so that every
// image of a layout has its own digest.
func taggedImage(t *testing.T, content, arch string) v1.Image {
	t.Helper()
	tr := fstree.New()
	if _, err := tr.WriteFile("/name", []byte(content), 0o644, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	return mustBuild(t, nil, []v1.Layer{mustLayer(t, tr, epoch)}, Config{Architecture: arch, OS: "linux"})
}

// tarDir tars a directory (gzip-compressed when gz is set), as a user
// would pack an OCI layout directory into a file.
func tarDir(t *testing.T, dir string, gz bool) []byte {
	t.Helper()
	var es []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		es = append(es, entry{name: filepath.ToSlash(rel), data: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return mktar(t, es, gz)
}

func writeFile(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// namedLayout writes an OCI layout directory with go-containerregistry's
// layout package, one index.json entry per image, annotated with ref.name
// (none for "") and with the platform when it has one; an entry may be a
// nested image index.
type layoutEntry struct {
	name     string
	img      v1.Image
	idx      v1.ImageIndex
	platform *v1.Platform
}

func namedLayout(t *testing.T, entries ...layoutEntry) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var opts []layout.Option
		if e.name != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{AnnotationRefName: e.name}))
		}
		if e.platform != nil {
			opts = append(opts, layout.WithPlatform(*e.platform))
		}
		if e.idx != nil {
			err = p.AppendIndex(e.idx, opts...)
		} else {
			err = p.AppendImage(e.img, opts...)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestOpenByTag chooses images of multi-image layouts by name, in every
// local form: a layout directory, its tar and tar.gz, and a docker save
// archive (plain and gzip-compressed).
func TestOpenByTag(t *testing.T) {
	ctx := context.Background()
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}
	latest := taggedImage(t, "latest", "amd64")
	v2 := taggedImage(t, "v2", "amd64")
	v3 := taggedImage(t, "v3", "amd64")
	otherV2 := taggedImage(t, "other:v2", "amd64")
	multiAMD, multiARM := taggedImage(t, "multi amd64", "amd64"), taggedImage(t, "multi arm64", "arm64")
	nestedAMD, nestedARM := taggedImage(t, "nested amd64", "amd64"), taggedImage(t, "nested arm64", "arm64")
	nested := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: nestedAMD, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: nestedARM, Descriptor: v1.Descriptor{Platform: &arm64}},
	), types.OCIImageIndex)

	dir := namedLayout(t,
		layoutEntry{name: "v2", img: v2},
		layoutEntry{name: "multi", img: multiAMD, platform: &amd64},
		layoutEntry{name: RefLatest, img: latest},
		layoutEntry{name: "smith/app:v3", img: v3}, // skopeo's oci:DIR:smith/app:v3
		layoutEntry{name: "other:v2", img: otherV2},
		layoutEntry{name: "multi", img: multiARM, platform: &arm64},
		layoutEntry{name: "nested", idx: nested},
	)
	files := t.TempDir()
	tarFile := writeFile(t, filepath.Join(files, "layout.tar"), tarDir(t, dir, false))
	tgzFile := writeFile(t, filepath.Join(files, "layout.tar.gz"), tarDir(t, dir, true))

	var docker bytes.Buffer
	refs := map[name.Reference]v1.Image{}
	for ref, img := range map[string]v1.Image{"smith/app:latest": latest, "smith/app:v2": v2, "smith/app:v3": v3, "other:v4": otherV2} {
		refs[must(name.NewTag(ref))] = img
	}
	if err := tarball.MultiRefWrite(refs, &docker); err != nil {
		t.Fatal(err)
	}
	dockerTar := writeFile(t, filepath.Join(files, "docker.tar"), docker.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(docker.Bytes())
	zw.Close()
	dockerGz := writeFile(t, filepath.Join(files, "docker.tar.gz"), gz.Bytes())

	layoutNames := "(the layout has: latest, multi, nested, other:v2, smith/app:v3, v2)"
	ociCases := []struct {
		name     string
		tag      string
		platform v1.Platform
		want     v1.Image
		err      string
	}{
		{"default", "", amd64, latest, ""},
		{"latest", RefLatest, amd64, latest, ""},
		{"exact name", "v2", amd64, v2, ""},
		{"exact name before NAME:TAG", "other:v2", amd64, otherV2, ""},
		{"NAME:TAG by its tag", "v3", amd64, v3, ""},
		{"NAME:TAG whole", "smith/app:v3", amd64, v3, ""},
		{"one name, two platforms: amd64", "multi", amd64, multiAMD, ""},
		{"one name, two platforms: arm64", "multi", arm64, multiARM, ""},
		{"one name, no such platform", "multi", s390x, nil, `images named "multi": no image for platform linux/s390x; the index has linux/amd64, linux/arm64/v8`},
		{"nested index: amd64", "nested", amd64, nestedAMD, ""},
		{"nested index: arm64", "nested", arm64, nestedARM, ""},
		{"nested index, no such platform", "nested", s390x, nil, "no image for platform linux/s390x; the index has linux/amd64, linux/arm64/v8"},
		{"missing", "v9", amd64, nil, `no image named "v9" ` + layoutNames},
		{"a part of a name", "smith/app", amd64, nil, `no image named "smith/app" ` + layoutNames},
	}
	for _, src := range []string{dir, tarFile, tgzFile} {
		for _, c := range ociCases {
			t.Run(filepath.Base(src)+"/"+c.name, func(t *testing.T) {
				img, err := Open(ctx, src, RemoteOptions{Platform: c.platform, Tag: c.tag})
				checkOpened(t, img, err, c.want, src, c.err)
			})
		}
	}

	dockerNames := "(the archive has: other:v4, smith/app:latest, smith/app:v2, smith/app:v3)"
	dockerCases := []struct {
		name string
		tag  string
		want v1.Image
		err  string
	}{
		{"default", "", nil, "tarball must contain only a single image"},
		{"latest", RefLatest, latest, ""},
		{"tag", "v2", v2, ""},
		{"REPO:TAG whole", "smith/app:v3", v3, ""},
		{"missing", "v9", nil, `docker archive: no image named "v9" ` + dockerNames},
	}
	for _, src := range []string{dockerTar, dockerGz} {
		for _, c := range dockerCases {
			t.Run(filepath.Base(src)+"/"+c.name, func(t *testing.T) {
				img, err := Open(ctx, src, RemoteOptions{Platform: amd64, Tag: c.tag})
				checkOpened(t, img, err, c.want, src, c.err)
			})
		}
	}
}

// checkOpened checks what Open returned: the image want (every test image
// has its own config), or an error that names src and contains wantErr.
func checkOpened(t *testing.T, img v1.Image, err error, want v1.Image, src, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.HasPrefix(err.Error(), "open "+src+": ") {
			t.Errorf("err = %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	// By config: a docker save image gets a new (Docker) manifest.
	if must(img.ConfigName()) != must(want.ConfigName()) {
		t.Errorf("got another image, config %s", must(img.ConfigName()))
	}
}

// TestOpenByTagEdges: smith's own output, unnamed images, and names a
// bare tag cannot tell apart.
func TestOpenByTagEdges(t *testing.T) {
	ctx := context.Background()
	img, out := sampleImageLayout(t)
	smithOut := writeFile(t, filepath.Join(t.TempDir(), "image.tar.gz"), out)
	a, b := taggedImage(t, "a", "amd64"), taggedImage(t, "b", "amd64")
	unnamed := namedLayout(t, layoutEntry{img: a})
	unnamedTwo := namedLayout(t,
		layoutEntry{img: a, platform: &amd64},
		layoutEntry{img: b, platform: &v1.Platform{OS: "linux", Architecture: "arm64"}})
	onlyV2 := namedLayout(t, layoutEntry{name: "v2", img: a})
	twoRepos := namedLayout(t, layoutEntry{name: "a:v5", img: a}, layoutEntry{name: "b:v5", img: b})
	nonImage := namedLayout(t, layoutEntry{name: "v2", img: a})
	p, _ := layout.FromPath(nonImage)
	spec := []byte("{}")
	if err := p.WriteBlob(sha256Hash(spec), io.NopCloser(bytes.NewReader(spec))); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendDescriptor(v1.Descriptor{MediaType: MediaTypeSpec, Size: int64(len(spec)), Digest: sha256Hash(spec),
		Annotations: map[string]string{AnnotationRefName: "spec"}}); err != nil {
		t.Fatal(err)
	}

	var docker bytes.Buffer
	if err := tarball.Write(nil, a, &docker); err != nil { // docker save IMAGE-ID: no RepoTags
		t.Fatal(err)
	}
	dockerUnnamed := writeFile(t, filepath.Join(t.TempDir(), "docker.tar"), docker.Bytes())
	docker.Reset()
	if err := tarball.MultiRefWrite(map[name.Reference]v1.Image{
		must(name.NewTag("a:v5")): a, must(name.NewTag("b:v5")): b}, &docker); err != nil {
		t.Fatal(err)
	}
	dockerTwoRepos := writeFile(t, filepath.Join(t.TempDir(), "docker.tar"), docker.Bytes())

	tests := []struct {
		name, src, tag string
		want           v1.Image
		err            string
	}{
		{"smith's output by name", smithOut, RefLatest, img, ""},
		{"smith's output, another name", smithOut, "v2", nil, `no image named "v2" (the layout has: latest)`},
		{"unnamed: latest is the only image", unnamed, RefLatest, a, ""},
		{"unnamed: latest by platform", unnamedTwo, RefLatest, a, ""},
		{"unnamed: another name", unnamed, "v2", nil, `no image named "v2" (the layout's images have no names)`},
		{"latest is a name like any other", onlyV2, RefLatest, nil, `no image named "latest" (the layout has: v2)`},
		{"no tag: the only image", onlyV2, "", a, ""},
		{"a bare tag of two repositories", twoRepos, "v5", nil, `"v5" names several images (a:v5, b:v5): give the full name`},
		{"the full name of one of them", twoRepos, "b:v5", b, ""},
		{"a non-image entry is never chosen", nonImage, "spec", nil, `no image named "spec" (the layout has: v2)`},
		{"docker, no RepoTags: latest", dockerUnnamed, RefLatest, a, ""},
		{"docker, no RepoTags: another name", dockerUnnamed, "v2", nil, `no image named "v2" (the archive's images have no names)`},
		{"docker, a bare tag of two repositories", dockerTwoRepos, "v5", nil, `"v5" names several images (a:v5, b:v5)`},
		{"docker, the full name of one of them", dockerTwoRepos, "b:v5", b, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Open(ctx, tt.src, RemoteOptions{Platform: amd64, Tag: tt.tag})
			checkOpened(t, got, err, tt.want, tt.src, tt.err)
		})
	}
}

// TestOpenByTagWithSkopeo: a layout directory that skopeo fills with three
// images under its own names (oci:DIR:NAME stores NAME whole).
func TestOpenByTagWithSkopeo(t *testing.T) {
	skopeo(t)
	ctx := context.Background()
	files := t.TempDir()
	imgs := map[string]v1.Image{}
	dir := filepath.Join(t.TempDir(), "layout")
	for i, ref := range []string{RefLatest, "smith/app:v2", "v3"} {
		img := taggedImage(t, ref, "amd64")
		imgs[ref] = img
		src := writeFile(t, filepath.Join(files, fmt.Sprintf("%d.tar.gz", i)), layoutBytes(t, Layout{Image: img, Annotations: map[string]string{AnnotationRefName: RefLatest}}, epoch))
		run(t, "skopeo", "copy", "--quiet", "oci-archive:"+src+":latest", "oci:"+dir+":"+ref)
	}
	tests := []struct {
		tag  string
		want v1.Image
		err  string
	}{
		{"", imgs[RefLatest], ""},
		{RefLatest, imgs[RefLatest], ""},
		{"v2", imgs["smith/app:v2"], ""},
		{"smith/app:v2", imgs["smith/app:v2"], ""},
		{"v3", imgs["v3"], ""},
		{"v4", nil, `no image named "v4" (the layout has: latest, smith/app:v2, v3)`},
	}
	for _, tt := range tests {
		t.Run("tag "+tt.tag, func(t *testing.T) {
			img, err := Open(ctx, dir, RemoteOptions{Platform: amd64, Tag: tt.tag})
			checkOpened(t, img, err, tt.want, dir, tt.err)
		})
	}
}
