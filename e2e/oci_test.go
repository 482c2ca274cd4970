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
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smith-build/smith/internal/registrytest"
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

// ---- Registries: smith upload/download, OCI sources and parents, output
// formats and --push, all against the real docker-registry on 127.0.0.1
// (internal/registrytest). Helpers here are prefixed reg.

// Docker v2 schema 2 media types, as a registry shows them after upload -d.
const (
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayerGz  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// regStart starts a registry (with basic auth when user is set). A missing
// docker-registry (or htpasswd) skips the test, or fails it under CI=true.
func regStart(t testing.TB, user, pass string) *registrytest.Registry {
	t.Helper()
	if !registrytest.Available() {
		skipOrFail(t, "%s not installed (Debian: apt-get install docker-registry)", registrytest.Binary)
	}
	if user != "" {
		needTool(t, "htpasswd", "apache2-utils")
	}
	return registrytest.Start(t, registrytest.Options{User: user, Password: pass})
}

// regManifest is what skopeo inspect --raw shows of a manifest.
type regManifest struct {
	digest    string // sha256 of the raw bytes
	MediaType string `json:"mediaType"`
	Config    struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"layers"`
}

// regSkopeoInspect reads a manifest from the registry with skopeo (a client
// that shares no code with smith).
func regSkopeoInspect(t testing.TB, ref string, extra ...string) regManifest {
	t.Helper()
	needTool(t, "skopeo", "skopeo")
	args := append([]string{"skopeo", "inspect", "--raw", "--tls-verify=false"}, extra...)
	r := run(t, runOpts{}, append(args, "docker://"+ref)...)
	if r.code != 0 {
		t.Fatalf("skopeo inspect %s: %s", ref, r)
	}
	var m regManifest
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("skopeo inspect %s: %v\n%s", ref, err, r.stdout)
	}
	m.digest = "sha256:" + sha256Hex([]byte(r.stdout))
	return m
}

// regLayerDigests lists the layer digests of an image file.
func regLayerDigests(im *exImage) []string {
	var out []string
	for _, l := range im.man.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// regNames lists the entries of dir: a failed write must leave no
// temporary file behind.
func regNames(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// regRun unpacks every layer of an image and runs argv (default: the
// image's entrypoint and cmd) under bwrap as the image's user with a
// read-only root.
func regRun(t *testing.T, imagePath string, argv ...string) result {
	t.Helper()
	needBwrap(t, false)
	needX86(t)
	im := readExImage(t, imagePath)
	rootfs := filepath.Join(scratch(t), "rootfs")
	exUnpack(t, im, rootfs)
	return run(t, runOpts{}, exBwrap(t, im, rootfs, nil, argv...)...)
}

// regPushCat uploads the cat example (built from the shared distro repo)
// to reg as smith/cat:TAG and returns the image file and the reference.
func regPushCat(t *testing.T, reg *registrytest.Registry, tag string) (string, string) {
	t.Helper()
	cat := exCatImage(t)
	ref := reg.Host + "/smith/cat:" + tag
	mustSmith(t, runOpts{}, "upload", "-i", cat, "-r", "http://"+ref)
	return cat, ref
}

// TestRegistryRoundTrip: the cat image through smith upload and smith
// download comes back with the manifest digest it was built with; skopeo
// sees OCI media types, and Docker v2s2 ones after upload -d (the config
// and layer blobs unchanged).
func TestRegistryRoundTrip(t *testing.T) {
	reg := regStart(t, "", "")
	cat := exCatImage(t)
	built := readExImage(t, cat)
	base := "http://" + reg.Host + "/smith/cat"
	mustSmith(t, runOpts{}, "upload", "-i", cat, "-r", base+":oci")
	mustSmith(t, runOpts{}, "upload", "-d", "-i", cat, "-r", base+":docker")

	d := scratch(t)
	for _, tag := range []string{"oci", "docker"} {
		out := filepath.Join(d, tag+".tar.gz")
		mustSmith(t, runOpts{}, "download", "-r", base+":"+tag, "-i", out)
		got := readExImage(t, out)
		if tag == "oci" && got.desc.Digest != built.desc.Digest {
			t.Errorf("download of the OCI upload: manifest %s, built %s", got.desc.Digest, built.desc.Digest)
		}
		if got.man.Config.Digest != built.man.Config.Digest || strings.Join(regLayerDigests(got), " ") != strings.Join(regLayerDigests(built), " ") {
			t.Errorf("%s: config %s layers %v, built %s %v", tag, got.man.Config.Digest, regLayerDigests(got), built.man.Config.Digest, regLayerDigests(built))
		}
		// A download is a pure function of the registry's image.
		again := filepath.Join(d, tag+"-again.tar.gz")
		mustSmith(t, runOpts{}, "download", "-r", base+":"+tag, "-i", again)
		if fileSHA(t, again) != fileSHA(t, out) {
			t.Errorf("%s: two downloads of the same image differ", tag)
		}
	}

	m := regSkopeoInspect(t, reg.Host+"/smith/cat:oci")
	if m.digest != built.desc.Digest || m.MediaType != mtManifest || m.Config.MediaType != mtConfig {
		t.Errorf("skopeo sees %s %s (config %s), built %s", m.digest, m.MediaType, m.Config.MediaType, built.desc.Digest)
	}
	for _, l := range m.Layers {
		if l.MediaType != mtLayerGz {
			t.Errorf("layer %s has media type %s", l.Digest, l.MediaType)
		}
	}
	m = regSkopeoInspect(t, reg.Host+"/smith/cat:docker")
	if m.MediaType != mtDockerManifest || m.Config.MediaType != mtDockerConfig || m.Config.Digest != built.man.Config.Digest {
		t.Errorf("after upload -d skopeo sees %s, config %s %s", m.MediaType, m.Config.MediaType, m.Config.Digest)
	}
	for i, l := range m.Layers {
		if l.MediaType != mtDockerLayerGz || l.Digest != built.man.Layers[i].Digest {
			t.Errorf("after upload -d, layer %d: %s %s", i, l.MediaType, l.Digest)
		}
	}
}

// TestRegistryAuth: a registry behind htpasswd basic auth. A wrong password
// is one clear error line without the password; no credentials says how to
// give them; the right ones in the URL work for upload, download, package:
// and --push, and are printed nowhere, not even with -v.
func TestRegistryAuth(t *testing.T) {
	const user, pass, wrong = "smith", "Corr3ct-h0rse-b4ttery", "wr0ng-pa55w0rd"
	reg := regStart(t, user, pass)
	cat := exCatImage(t)
	built := readExImage(t, cat)
	good := "http://" + user + ":" + pass + "@" + reg.Host + "/smith/cat:1"
	bad := "http://" + user + ":" + wrong + "@" + reg.Host + "/smith/cat:1"
	noCreds := "http://" + reg.Host + "/smith/cat:1"
	d := scratch(t)
	noLeak := func(what string, r result) {
		t.Helper()
		for _, s := range []string{pass, wrong} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("%s printed a password: %s", what, r)
			}
		}
	}

	r := smith(t, runOpts{}, "upload", "-i", cat, "-r", bad)
	noLeak("upload with a wrong password", r)
	if line := stderrError(t, r); r.code != 1 || !strings.Contains(line, "authentication failed") {
		t.Errorf("upload with a wrong password: %s", r)
	}
	r = smith(t, runOpts{}, "download", "-r", noCreds, "-i", filepath.Join(d, "x.tar.gz"))
	if line := stderrError(t, r); r.code != 1 || !strings.Contains(line, "authentication required") {
		t.Errorf("download without credentials: %s", r)
	}

	r = mustSmith(t, runOpts{}, "-v", "upload", "-i", cat, "-r", good)
	noLeak("upload -v", r)
	out := filepath.Join(d, "cat.tar.gz")
	r = mustSmith(t, runOpts{}, "-v", "download", "-r", good, "-i", out)
	noLeak("download -v", r)
	if got := readExImage(t, out); got.desc.Digest != built.desc.Digest {
		t.Errorf("downloaded %s, uploaded %s", got.desc.Digest, built.desc.Digest)
	}
	if m := regSkopeoInspect(t, reg.Host+"/smith/cat:1", "--creds", user+":"+pass); m.digest != built.desc.Digest {
		t.Errorf("skopeo sees %s, uploaded %s", m.digest, built.desc.Digest)
	}

	// package: and --push with credentials in the URL.
	dir := filepath.Join(d, "from-auth")
	writeFile(t, filepath.Join(dir, "smith.yaml"), "package: "+good+"\npaths: [/usr/bin/cat]\n", 0o644)
	img := filepath.Join(d, "from-auth.tar.gz")
	r = mustSmith(t, runOpts{dir: dir}, "-v", "-i", img, "--push", "http://"+user+":"+pass+"@"+reg.Host+"/smith/from-auth:1")
	noLeak("build -v with package: and --push", r)
	if m := regSkopeoInspect(t, reg.Host+"/smith/from-auth:1", "--creds", user+":"+pass); m.digest != readExImage(t, img).desc.Digest {
		t.Errorf("pushed %s, built %s", m.digest, readExImage(t, img).desc.Digest)
	}
	r = smith(t, runOpts{dir: dir}, "-i", filepath.Join(d, "push-bad.tar.gz"), "--push", "http://"+user+":"+wrong+"@"+reg.Host+"/smith/from-auth:2")
	noLeak("build --push with a wrong password", r)
	if line := stderrError(t, r); r.code != 1 || !strings.Contains(line, "written, but push") || !strings.Contains(line, "authentication failed") {
		t.Errorf("--push with a wrong password: %s", r)
	}
	writeFile(t, filepath.Join(dir, "smith.yaml"), "package: "+bad+"\npaths: [/usr/bin/cat]\n", 0o644)
	r = smith(t, runOpts{dir: dir}, "-i", filepath.Join(d, "src-bad.tar.gz"))
	noLeak("build with a wrong password in package:", r)
	if line := stderrError(t, r); r.code != 1 || !strings.Contains(line, "authentication failed") {
		t.Errorf("package: with a wrong password: %s", r)
	}
	if _, err := os.Stat(filepath.Join(d, "src-bad.tar.gz")); err == nil {
		t.Error("a failed build wrote its output")
	}
}

// TestRegistrySourceAndParent: an image whose package: is the cat image in
// the registry, and one whose parent: it is; both run under bwrap; the
// parent's layer is kept byte for byte. The same build written with
// --format docker-archive is accepted by skopeo, with --format oci-dir by
// umoci, and --push puts it in the registry.
func TestRegistrySourceAndParent(t *testing.T) {
	reg := regStart(t, "", "")
	cat, ref := regPushCat(t, reg, "1")
	catIm := readExImage(t, cat)
	d := scratch(t)

	// package: the registry image.
	src := filepath.Join(d, "from-package")
	writeFile(t, filepath.Join(src, "smith.yaml"), "package: http://"+ref+"\npaths: [/usr/bin/cat]\ncmd: [/usr/bin/cat, /read/data]\n", 0o644)
	writeFile(t, filepath.Join(src, "rootfs", "read", "data"), hello, 0o644)
	fromPkg := filepath.Join(d, "from-package.tar.gz")
	mustSmith(t, runOpts{dir: src}, "-i", fromPkg)
	im := readExImage(t, fromPkg)
	if len(im.layers) != 1 {
		t.Errorf("package: image has %d layers, want 1", len(im.layers))
	}
	for _, m := range im.index.Manifests {
		if m.MediaType == mtPackages {
			t.Error("an OCI build has a package list blob")
		}
	}
	exCheckPrinciples(t, im, []int{0})
	if r := regRun(t, fromPkg); r.code != 0 || r.stdout != hello {
		t.Errorf("image with package: %s: %s", ref, r)
	}

	// parent: the registry image, plus a file of its own.
	par := filepath.Join(d, "from-parent")
	writeFile(t, filepath.Join(par, "smith.yaml"), "parent: http://"+ref+"\n", 0o644)
	writeFile(t, filepath.Join(par, "rootfs", "read", "extra"), "from the top layer\n", 0o644)
	fromParent := filepath.Join(d, "from-parent.tar.gz")
	mustSmith(t, runOpts{dir: par}, "-i", fromParent)
	pim := readExImage(t, fromParent)
	if len(pim.layers) != 2 || pim.man.Layers[0].Digest != catIm.man.Layers[0].Digest || !bytes.Equal(pim.raw[0], catIm.raw[0]) {
		t.Errorf("parent: image layers %v, want the parent's %v then one more", regLayerDigests(pim), regLayerDigests(catIm))
	}
	if r := regRun(t, fromParent); r.code != 0 || r.stdout != hello {
		t.Errorf("image with parent: %s (the parent's cmd): %s", ref, r)
	}
	if r := regRun(t, fromParent, "/usr/bin/cat", "/read/extra"); r.code != 0 || r.stdout != "from the top layer\n" {
		t.Errorf("image with parent: the top layer's file: %s", r)
	}

	// The same build in the other formats.
	needTool(t, "skopeo", "skopeo")
	docker := filepath.Join(d, "docker.tar")
	mustSmith(t, runOpts{dir: src}, "-i", docker, "--format", "docker-archive")
	if r := run(t, runOpts{}, "skopeo", "copy", "docker-archive:"+docker, "oci:"+filepath.Join(d, "from-docker")+":latest"); r.code != 0 {
		t.Errorf("skopeo copy docker-archive: %s", r)
	}
	t.Run("podman load", func(t *testing.T) {
		needTool(t, "podman", "podman")
		// A private store, so that the host's images are not touched.
		store := scratch(t)
		pod := []string{"podman", "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}
		if r := run(t, runOpts{}, append(pod, "load", "-q", "-i", docker)...); r.code != 0 || !strings.Contains(r.stdout, "smith:latest") {
			t.Fatalf("podman load: %s", r)
		}
		r := run(t, runOpts{}, append(pod, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")...)
		if want := "localhost/smith:latest " + im.man.Config.Digest; r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("podman images: want %q: %s", want, r)
		}
	})
	if r := run(t, runOpts{}, "skopeo", "copy", "oci-archive:"+fromPkg+":latest", "oci:"+filepath.Join(d, "from-oci-archive")+":latest"); r.code != 0 {
		t.Errorf("skopeo copy oci-archive: %s", r)
	}
	layoutDir := filepath.Join(d, "layout")
	mustSmith(t, runOpts{dir: src}, "-i", layoutDir, "--format", "oci-dir")
	if r := run(t, runOpts{}, "skopeo", "copy", "oci:"+layoutDir+":latest", "oci:"+filepath.Join(d, "from-oci")+":latest"); r.code != 0 {
		t.Errorf("skopeo copy oci: %s", r)
	}
	needTool(t, "umoci", "umoci")
	bundle := filepath.Join(d, "bundle")
	if r := run(t, runOpts{}, "umoci", "unpack", "--rootless", "--image", layoutDir+":latest", bundle); r.code != 0 {
		t.Fatalf("umoci unpack --rootless: %s", r)
	}
	needBwrap(t, false)
	runCat(t, filepath.Join(bundle, "rootfs"), false)

	// --push after the build.
	pushed := filepath.Join(d, "pushed.tar.gz")
	mustSmith(t, runOpts{dir: src}, "-i", pushed, "--push", "http://"+reg.Host+"/smith/from-package:1")
	want := readExImage(t, pushed).desc.Digest
	if m := regSkopeoInspect(t, reg.Host+"/smith/from-package:1"); m.digest != want || m.MediaType != mtManifest {
		t.Errorf("--push: the registry has %s %s, built %s", m.digest, m.MediaType, want)
	}
	back := filepath.Join(d, "back.tar.gz")
	mustSmith(t, runOpts{}, "download", "-r", "http://"+reg.Host+"/smith/from-package:1", "-i", back)
	if got := readExImage(t, back).desc.Digest; got != want {
		t.Errorf("--push then download: %s, built %s", got, want)
	}
}

// regProxy is a reverse proxy in front of a registry that can damage what
// it serves: blobs whose digest is in corrupt get one byte flipped; blobs
// in cut are sent half, then the connection is closed.
func regProxy(t *testing.T, reg *registrytest.Registry, corrupt, cut map[string]bool) string {
	t.Helper()
	target, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		i := strings.LastIndex(resp.Request.URL.Path, "/blobs/")
		if resp.Request.Method != http.MethodGet || i < 0 || resp.StatusCode != http.StatusOK {
			return nil
		}
		digest := resp.Request.URL.Path[i+len("/blobs/"):]
		if !corrupt[digest] && !cut[digest] {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if corrupt[digest] {
			b[len(b)/2] ^= 0xff
			resp.Body = io.NopCloser(bytes.NewReader(b))
			return nil
		}
		resp.Body = &halfBody{r: bytes.NewReader(b[:len(b)/2])}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// halfBody ends with an error, which makes the proxy abort the response
// after the bytes it had (the client sees a short body).
type halfBody struct{ r io.Reader }

func (h *halfBody) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if err == io.EOF {
		return n, errors.New("cut on purpose")
	}
	return n, err
}
func (h *halfBody) Close() error { return nil }

// TestRegistryFaults: a registry that is stopped, one that serves a blob
// with the wrong digest or cuts it short, a manifest that does not exist:
// each is one clear error line, and no output file (nor temporary file)
// is left; a previous file at the output path is kept.
func TestRegistryFaults(t *testing.T) {
	reg := regStart(t, "", "")
	cat, ref := regPushCat(t, reg, "1")
	catIm := readExImage(t, cat)
	d := scratch(t)
	out := filepath.Join(d, "out.tar.gz")
	prev := filepath.Join(d, "prev.tar.gz")
	writeFile(t, prev, "the previous image\n", 0o644)
	src := filepath.Join(d, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	srcYAML := func(pkg string) {
		writeFile(t, filepath.Join(src, "smith.yaml"), "package: "+pkg+"\npaths: [/usr/bin/cat]\n", 0o644)
	}
	fails := func(what, want string, o runOpts, args ...string) {
		t.Helper()
		r := smith(t, o, args...)
		line := stderrError(t, r)
		if r.code != 1 || !regexp.MustCompile(want).MatchString(line) {
			t.Errorf("%s: want exit 1 and an error matching %s, got %s", what, want, r)
		}
		if names := regNames(t, d); strings.Join(names, " ") != "prev.tar.gz src" {
			t.Errorf("%s: left %q in the output directory", what, names)
		}
		if b, _ := os.ReadFile(prev); string(b) != "the previous image\n" {
			t.Errorf("%s: the previous file changed", what)
		}
	}

	// Damaged blobs, through a proxy.
	layer := catIm.man.Layers[0].Digest
	bad := regProxy(t, reg, map[string]bool{layer: true}, nil)
	fails("download of a corrupted layer", `(?i)digest|sha256`, runOpts{}, "download", "-r", "http://"+bad+"/smith/cat:1", "-i", out)
	fails("download of a corrupted layer over a previous file", `(?i)digest|sha256`, runOpts{}, "download", "-r", "http://"+bad+"/smith/cat:1", "-i", prev)
	srcYAML("http://" + bad + "/smith/cat:1")
	// (The layer's gzip stream breaks before its digest can be checked:
	// the error names the layer.)
	fails("package: with a corrupted layer", `^smith: package http://.*`+regexp.QuoteMeta(layer), runOpts{dir: src}, "-i", out)
	short := regProxy(t, reg, nil, map[string]bool{layer: true})
	fails("download of a layer cut short", `(?i)EOF|short|unexpected|size`, runOpts{}, "download", "-r", "http://"+short+"/smith/cat:1", "-i", out)

	// A manifest that does not exist.
	fails("download of a missing tag", `MANIFEST_UNKNOWN|manifest unknown`, runOpts{}, "download", "-r", "http://"+reg.Host+"/smith/cat:nosuch", "-i", out)
	srcYAML("http://" + reg.Host + "/smith/nosuch:1")
	fails("package: a missing repository", `^smith: package http://.*/smith/nosuch:1: .*(NAME_UNKNOWN|MANIFEST_UNKNOWN|unknown)`, runOpts{dir: src}, "-i", out)

	// The registry stopped.
	reg.Stop()
	refused := `connection refused`
	fails("upload to a stopped registry", refused, runOpts{}, "upload", "-i", cat, "-r", "http://"+ref)
	fails("download from a stopped registry", refused, runOpts{}, "download", "-r", "http://"+ref, "-i", out)
	fails("download from a stopped registry over a previous file", refused, runOpts{}, "download", "-r", "http://"+ref, "-i", prev)
	srcYAML("http://" + ref)
	fails("package: on a stopped registry", `^smith: package http://`+regexp.QuoteMeta(ref)+`: .*`+refused, runOpts{dir: src}, "-i", out)
	writeFile(t, filepath.Join(src, "smith.yaml"), "parent: http://"+ref+"\n", 0o644)
	fails("parent: on a stopped registry", `^smith: parent http://`+regexp.QuoteMeta(ref)+`: .*`+refused, runOpts{dir: src}, "-i", out)

	// --push to a stopped registry: the build is written, the push fails.
	writeFile(t, filepath.Join(src, "smith.yaml"), "parent: "+cat+"\n", 0o644)
	r := smith(t, runOpts{dir: src}, "-i", out, "--push", "http://"+ref)
	if line := stderrError(t, r); r.code != 1 || !strings.HasPrefix(line, "smith: "+out+" written, but push ") || !strings.Contains(line, refused) {
		t.Errorf("--push to a stopped registry: %s", r)
	}
	readExImage(t, out)
}

// regBenchImage builds an example of testdata/examples from the shared
// distro repository, for the benchmarks.
func regBenchImage(b *testing.B, name string) string {
	b.Helper()
	repo := distroRepo(b)
	home := scratch(b)
	dir := filepath.Join(home, name)
	copyTree(b, filepath.Join(examplesDir(), name), dir)
	out := filepath.Join(home, name+".tar.gz")
	args := append(archArgs(), "--repo", repo, "--cache-dir", filepath.Join(home, "cache"), "-q", "-i", out)
	if r := smith(b, runOpts{dir: dir, env: cleanEnv(home)}, args...); r.code != 0 {
		b.Fatalf("building %s: %s", name, r)
	}
	return out
}

// regBenchRoundTrip times the round trip of one image file through the
// loopback registry: smith upload + smith download against skopeo copy
// oci-archive: → docker:// + docker:// → oci-archive:, in one run,
// SMITH_BENCH_N (default 5) alternating rounds each. Every push goes to a
// fresh registry, so that no blob is there already (nor known to skopeo's
// blob cache, which lives in a fresh HOME too). It prints the medians and
// the ratio smith/skopeo (target ≤ 1.0).
func regBenchRoundTrip(b *testing.B, name, img string) {
	needTool(b, "skopeo", "skopeo")
	if !registrytest.Available() {
		skipOrFail(b, "%s not installed (Debian: apt-get install docker-registry)", registrytest.Binary)
	}
	n := 5
	if s := os.Getenv("SMITH_BENCH_N"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	fi, err := os.Stat(img)
	if err != nil {
		b.Fatal(err)
	}
	type times struct{ up, down time.Duration }
	smithOnce := func(i int) times {
		reg := regStart(b, "", "")
		defer reg.Stop()
		home := scratch(b)
		o := runOpts{env: cleanEnv(home)}
		ref := "http://" + reg.Host + "/bench/" + name + ":1"
		up := smith(b, o, "upload", "-i", img, "-r", ref)
		down := smith(b, o, "download", "-r", ref, "-i", filepath.Join(home, "out.tar.gz"))
		if up.code != 0 || down.code != 0 {
			b.Fatalf("smith round %d: upload %s\ndownload %s", i, up, down)
		}
		return times{up.wall, down.wall}
	}
	skopeoOnce := func(i int) times {
		reg := regStart(b, "", "")
		defer reg.Stop()
		home := scratch(b)
		o := runOpts{env: cleanEnv(home)}
		ref := "docker://" + reg.Host + "/bench/" + name + ":1"
		up := run(b, o, "skopeo", "copy", "-q", "--dest-tls-verify=false", "oci-archive:"+img+":latest", ref)
		down := run(b, o, "skopeo", "copy", "-q", "--src-tls-verify=false", ref, "oci-archive:"+filepath.Join(home, "out.tar")+":latest")
		if up.code != 0 || down.code != 0 {
			b.Fatalf("skopeo round %d: upload %s\ndownload %s", i, up, down)
		}
		return times{up.wall, down.wall}
	}
	med := func(ts []times, f func(times) time.Duration) time.Duration {
		ds := make([]time.Duration, len(ts))
		for i, t := range ts {
			ds[i] = f(t)
		}
		slices.Sort(ds)
		if len(ds)%2 == 1 {
			return ds[len(ds)/2]
		}
		return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	for range b.N {
		var sm, sk []times
		for i := range n {
			// Alternate which goes first, so neither always meets the page
			// cache warmed by the other.
			if i%2 == 0 {
				sm = append(sm, smithOnce(i))
				sk = append(sk, skopeoOnce(i))
			} else {
				sk = append(sk, skopeoOnce(i))
				sm = append(sm, smithOnce(i))
			}
		}
		up := func(t times) time.Duration { return t.up }
		down := func(t times) time.Duration { return t.down }
		both := func(t times) time.Duration { return t.up + t.down }
		ratio := med(sm, both).Seconds() / med(sk, both).Seconds()
		fmt.Printf("%s image (%s) through the loopback registry, median of %d rounds:\n", name, mib(fi.Size()), n)
		fmt.Printf("  smith upload + download:  %v + %v = %v\n", med(sm, up).Round(time.Millisecond), med(sm, down).Round(time.Millisecond), med(sm, both).Round(time.Millisecond))
		fmt.Printf("  skopeo copy both ways:    %v + %v = %v\n", med(sk, up).Round(time.Millisecond), med(sk, down).Round(time.Millisecond), med(sk, both).Round(time.Millisecond))
		fmt.Printf("  ratio smith/skopeo: %.3f (target <= 1.0: %s)\n", ratio, verdict(ratio <= 1.0))
		b.ReportMetric(med(sm, both).Seconds(), "smith-s")
		b.ReportMetric(med(sk, both).Seconds(), "skopeo-s")
		b.ReportMetric(ratio, "ratio")
	}
}

// BenchmarkRegistryRoundTripCat: the cat example's image (issue 6's
// benchmark, on the image every test uses). Run it with:
// go test -run '^$' -bench RegistryRoundTrip -benchtime 1x ./e2e
func BenchmarkRegistryRoundTripCat(b *testing.B) {
	regBenchRoundTrip(b, "cat", regBenchImage(b, "cat"))
}

// BenchmarkRegistryRoundTripNginx: the same with the nginx example, the
// image the issue names for make bench.
func BenchmarkRegistryRoundTripNginx(b *testing.B) {
	regBenchRoundTrip(b, "nginx", regBenchImage(b, "nginx"))
}
