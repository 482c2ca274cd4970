package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The media types and annotations of smith's output (smith-reference.md).
const (
	mtSpec     = "application/vnd.smith.spec+json"
	mtPackages = "application/vnd.smith.packages"
	mtManifest = "application/vnd.oci.image.manifest.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
	annRefName = "org.opencontainers.image.ref.name"
	annCreated = "org.opencontainers.image.created"
)

// Our own minimal OCI structs: the tests read the output independently of
// the code that wrote it.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform,omitempty"`
}

type ociIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations"`
}

type ociConfig struct {
	Architecture string  `json:"architecture"`
	OS           string  `json:"os"`
	Created      *string `json:"created"`
	Config       struct {
		User       string   `json:"User"`
		Entrypoint []string `json:"Entrypoint"`
		Cmd        []string `json:"Cmd"`
		Env        []string `json:"Env"`
		WorkingDir string   `json:"WorkingDir"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// tarEntry is one member of a layer.
type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

// image is smith's output read back and checked for internal consistency.
type image struct {
	sha        string            // sha256 of the .tar.gz file
	files      map[string][]byte // archive members by cleaned name
	index      ociIndex
	desc       descriptor // the manifest tagged latest
	manifest   ociManifest
	rawMan     []byte
	config     ociConfig
	rawConfig  []byte
	layer      []tarEntry // the single layer's entries, in archive order
	layerBytes []byte     // uncompressed layer tar
}

// blob returns a blob by digest, checking that its content matches.
func (im *image) blob(t testing.TB, d descriptor) []byte {
	t.Helper()
	algo, hexd, ok := strings.Cut(d.Digest, ":")
	if !ok || algo != "sha256" {
		t.Fatalf("descriptor digest %q is not sha256:...", d.Digest)
	}
	b, ok := im.files["blobs/sha256/"+hexd]
	if !ok {
		t.Fatalf("blob %s (%s) missing from the archive", d.Digest, d.MediaType)
	}
	if got := sha256Hex(b); got != hexd {
		t.Fatalf("blob %s has content with sha256 %s", d.Digest, got)
	}
	if int64(len(b)) != d.Size {
		t.Fatalf("blob %s: descriptor size %d, blob size %d", d.Digest, d.Size, len(b))
	}
	return b
}

// extra returns the index entry with the given media type.
func (im *image) extra(t testing.TB, mediaType string) descriptor {
	t.Helper()
	for _, d := range im.index.Manifests {
		if d.MediaType == mediaType {
			return d
		}
	}
	t.Fatalf("index.json has no %s entry: %+v", mediaType, im.index.Manifests)
	return descriptor{}
}

// packages returns the NEVRAs of the application/vnd.smith.packages blob,
// sorted.
func (im *image) packages(t testing.TB) []string {
	t.Helper()
	b := im.blob(t, im.extra(t, mtPackages))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// entry returns the layer entry for a path ("usr/bin/cat").
func (im *image) entry(name string) *tarEntry {
	for i := range im.layer {
		if cleanName(im.layer[i].hdr.Name) == name {
			return &im.layer[i]
		}
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cleanName normalises a tar member name: no leading "./" or "/", no
// trailing "/".
func cleanName(n string) string {
	n = strings.TrimPrefix(n, "./")
	n = strings.TrimLeft(n, "/")
	n = strings.TrimSuffix(n, "/")
	if n == "" || n == "." {
		return "."
	}
	return path.Clean(n)
}

// readTarGz reads every member of a gzip'd tar into memory.
func readTarGz(t testing.TB, b []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return readTar(t, raw)
}

func readTar(t testing.TB, raw []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(raw))
	var out []tarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("tar %s: %v", h.Name, err)
		}
		out = append(out, tarEntry{hdr: h, data: data})
	}
}

// readImage reads smith's output: a gzip'd tar of an OCI image layout. It
// checks what every consumer relies on: oci-layout, index.json with the
// smith extras and one manifest tagged latest, blob digests and sizes, the
// config, and one gzip'd layer whose diff_id matches.
func readImage(t testing.TB, p string) *image {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	im := &image{sha: sha256Hex(raw), files: map[string][]byte{}}
	for _, e := range readTarGz(t, raw) {
		if e.hdr.Typeflag == tar.TypeDir {
			continue
		}
		if e.hdr.Typeflag != tar.TypeReg {
			t.Fatalf("%s: archive member %s has type %c, want regular files and dirs", p, e.hdr.Name, e.hdr.Typeflag)
		}
		name := cleanName(e.hdr.Name)
		if _, dup := im.files[name]; dup {
			t.Fatalf("%s: archive member %s appears twice", p, name)
		}
		im.files[name] = e.data
	}
	var layout struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(im.files["oci-layout"], &layout); err != nil || layout.Version != "1.0.0" {
		t.Fatalf("%s: oci-layout %q: %v", p, im.files["oci-layout"], err)
	}
	if err := json.Unmarshal(im.files["index.json"], &im.index); err != nil {
		t.Fatalf("%s: index.json: %v\n%s", p, err, im.files["index.json"])
	}
	if im.index.SchemaVersion != 2 {
		t.Errorf("index.json schemaVersion %d, want 2", im.index.SchemaVersion)
	}

	// Pick the image by ref.name, never by position.
	var tagged []descriptor
	for _, d := range im.index.Manifests {
		if d.Annotations[annRefName] == "latest" {
			tagged = append(tagged, d)
		}
	}
	if len(tagged) != 1 {
		t.Fatalf("%s: want exactly one index entry with %s=latest, got %d:\n%s", p, annRefName, len(tagged), im.files["index.json"])
	}
	im.desc = tagged[0]
	if im.desc.MediaType != mtManifest {
		t.Errorf("manifest media type %q, want %q", im.desc.MediaType, mtManifest)
	}
	// Order per the reference: the smith extras first, the manifest last.
	ms := im.index.Manifests
	if len(ms) != 3 || ms[0].MediaType != mtSpec || ms[1].MediaType != mtPackages || ms[2].Digest != im.desc.Digest {
		var got []string
		for _, d := range ms {
			got = append(got, d.MediaType)
		}
		t.Errorf("index.json manifests: got media types %q, want [%s %s %s]", got, mtSpec, mtPackages, mtManifest)
	}
	for _, d := range ms {
		im.blob(t, d) // every blob present and matching its digest
	}

	im.rawMan = im.blob(t, im.desc)
	if err := json.Unmarshal(im.rawMan, &im.manifest); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if im.manifest.SchemaVersion != 2 || im.manifest.MediaType != mtManifest {
		t.Errorf("manifest schemaVersion %d mediaType %q", im.manifest.SchemaVersion, im.manifest.MediaType)
	}
	if im.manifest.Config.MediaType != mtConfig {
		t.Errorf("config media type %q, want %q", im.manifest.Config.MediaType, mtConfig)
	}
	im.rawConfig = im.blob(t, im.manifest.Config)
	if err := json.Unmarshal(im.rawConfig, &im.config); err != nil {
		t.Fatalf("config: %v", err)
	}
	if len(im.manifest.Layers) != 1 {
		t.Fatalf("want one layer, got %d", len(im.manifest.Layers))
	}
	ld := im.manifest.Layers[0]
	if ld.MediaType != mtLayerGz {
		t.Errorf("layer media type %q, want %q", ld.MediaType, mtLayerGz)
	}
	zr, err := gzip.NewReader(bytes.NewReader(im.blob(t, ld)))
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	if im.layerBytes, err = io.ReadAll(zr); err != nil {
		t.Fatalf("layer: %v", err)
	}
	if got, want := im.config.RootFS.DiffIDs, []string{"sha256:" + sha256Hex(im.layerBytes)}; strings.Join(got, ",") != want[0] {
		t.Errorf("config rootfs.diff_ids %q, want %q", got, want)
	}
	if im.config.RootFS.Type != "layers" {
		t.Errorf("config rootfs.type %q", im.config.RootFS.Type)
	}
	im.layer = readTar(t, im.layerBytes)
	return im
}

// checkMicrocontainer checks the cat image against the microcontainer rules:
// the skeleton, the overlay, owners 10:10 and no names, no special mode bits,
// safe names, fixed mtimes, the OCI config from smith.yaml, amd64.
func checkMicrocontainer(t *testing.T, im *image, mtime int64) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range im.layer {
		h := e.hdr
		n := cleanName(h.Name)
		if strings.HasPrefix(h.Name, "/") || n == ".." || strings.HasPrefix(n, "../") {
			t.Errorf("layer entry %q escapes the root", h.Name)
		}
		if seen[n] {
			t.Errorf("layer entry %q appears twice", n)
		}
		seen[n] = true
		if h.Uid != 10 || h.Gid != 10 {
			t.Errorf("%s: owner %d:%d, want 10:10", n, h.Uid, h.Gid)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: uname/gname %q/%q, want none", n, h.Uname, h.Gname)
		}
		if h.Mode&0o7000 != 0 {
			t.Errorf("%s: mode %o has setuid/setgid/sticky bits", n, h.Mode)
		}
		if got := h.ModTime.Unix(); got != mtime {
			t.Errorf("%s: mtime %d (%s), want %d", n, got, h.ModTime.UTC().Format(time.RFC3339), mtime)
		}
		if strings.HasPrefix(path.Base(n), ".wh.") {
			t.Errorf("%s: whiteout in a single-layer image", n)
		}
	}
	for _, d := range []string{"dev", "proc", "sys", "read", "write", "run"} {
		if e := im.entry(d); e == nil || e.hdr.Typeflag != tar.TypeDir {
			t.Errorf("skeleton directory /%s missing", d)
		}
	}
	if e := im.entry("usr/bin/cat"); e == nil || e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode&0o111 == 0 {
		t.Errorf("/usr/bin/cat missing or not an executable file")
	}
	if e := im.entry("read/data"); e == nil || string(e.data) != hello {
		t.Errorf("/read/data (from rootfs/) missing or wrong")
	}
	if e := im.entry("lib64"); e == nil || e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "usr/lib64" {
		t.Errorf("/lib64 -> usr/lib64 symlink (needed for PT_INTERP) missing: %+v", e)
	}
	// Only the closure of cat: no shell, no other coreutils.
	for _, n := range []string{"usr/bin/bash", "usr/bin/ls", "usr/bin/sh"} {
		if im.entry(n) != nil {
			t.Errorf("/%s is in the image but not in the closure of /usr/bin/cat", n)
		}
	}
	c := im.config
	if c.Architecture != "amd64" || c.OS != "linux" {
		t.Errorf("config platform %s/%s, want linux/amd64 (the packages' arch)", c.OS, c.Architecture)
	}
	if p := im.desc.Platform; p != nil && (p.Architecture != "amd64" || p.OS != "linux") {
		t.Errorf("index platform %s/%s, want linux/amd64", p.OS, p.Architecture)
	}
	if got := strings.Join(c.Config.Cmd, " "); got != "/usr/bin/cat /read/data" {
		t.Errorf("config Cmd %q", c.Config.Cmd)
	}
	if u := c.Config.User; u == "0" || u == "root" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		t.Errorf("config User %q: the default is not root", u)
	}
}

// unpackLayer writes the image's layer into dir (a plain tar extraction, the
// first of the two ways the issue asks for). Owners are not applied:
// nothing here needs root.
func unpackLayer(t testing.TB, im *image, dir string) {
	t.Helper()
	type dirMode struct {
		p    string
		mode os.FileMode
	}
	var dirs []dirMode
	for _, e := range im.layer {
		h := e.hdr
		n := cleanName(h.Name)
		if n == "." {
			continue
		}
		if n == ".." || strings.HasPrefix(n, "../") {
			t.Fatalf("layer entry %q escapes the root", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(h.Mode).Perm()
		var err error
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
			// Keep dirs writable and traversable by us until the end.
			dirs = append(dirs, dirMode{target, mode | 0o700})
		case tar.TypeReg:
			if err = os.WriteFile(target, e.data, 0o600); err == nil {
				err = os.Chmod(target, mode)
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, target)
		case tar.TypeLink:
			ln := cleanName(h.Linkname)
			if ln == ".." || strings.HasPrefix(ln, "../") {
				t.Fatalf("hardlink %q -> %q escapes the root", h.Name, h.Linkname)
			}
			err = os.Link(filepath.Join(dir, filepath.FromSlash(ln)), target)
		default:
			t.Fatalf("layer entry %q: unexpected type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatalf("unpack %s: %v", h.Name, err)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].p, dirs[i].mode); err != nil {
			t.Fatal(err)
		}
	}
}

// unpackLayout writes the OCI layout (the outer archive) into dir, for the
// tools that read a layout directory (skopeo, umoci, go-containerregistry).
func unpackLayout(t testing.TB, im *image, dir string) {
	t.Helper()
	names := make([]string, 0, len(im.files))
	for n := range im.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == ".." || strings.HasPrefix(n, "../") {
			t.Fatalf("archive member %q escapes the root", n)
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, im.files[n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarHeaderTimes returns the distinct mtimes of the layer entries.
func (im *image) mtimes() map[int64]int {
	m := map[int64]int{}
	for _, e := range im.layer {
		m[e.hdr.ModTime.Unix()]++
	}
	return m
}

func (im *image) String() string {
	return fmt.Sprintf("image %s (%d layer entries)", im.sha[:12], len(im.layer))
}
