package build

import (
	"context"
	"debug/elf"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/internal/elftest"
)

// srcEnv is the environment of the source image: the closure finds
// libapp.so.1 only through its LD_LIBRARY_PATH and app-helper (the
// interpreter of /opt/app/bin/run, "#!/usr/bin/env app-helper") only
// through its PATH.
var srcEnv = []string{"PATH=/opt/tools:/usr/bin", "LD_LIBRARY_PATH=/opt/app/lib", "FOO=bar"}

// sourceImage builds the OCI source of these tests, two layers:
//  1. /opt/app/bin/app (an ELF needing libapp.so.1), /opt/app/lib/libapp.so.1,
//     /opt/app/bin/run (a script), /opt/tools/app-helper, /opt/app/bin/old,
//     /etc/conf.d/old.conf, a setuid file owned by root;
//  2. a whiteout of /opt/app/bin/old, /etc/conf.d made opaque, with
//     new.conf in it.
//
// Its config has an entrypoint, a cmd, env, a working directory, a port and
// a label, for smith.yaml's empty fields to inherit.
func sourceImage(t *testing.T, arch string, env []string) v1.Image {
	t.Helper()
	root := fstree.Owner{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(tr *fstree.Tree, p, data string, mode os.FileMode) {
		t.Helper()
		_, err := tr.WriteFile(p, []byte(data), mode, root, "")
		must(err)
	}
	l1 := fstree.New()
	app := elftest.Build(elftest.Spec{Type: elf.ET_EXEC, Needed: []string{"libapp.so.1"}})
	write(l1, "/opt/app/bin/app", string(app), 0o755)
	write(l1, "/opt/app/lib/libapp.so.1", string(elftest.Build(elftest.Spec{Soname: "libapp.so.1"})), 0o755)
	write(l1, "/opt/app/bin/run", "#!/usr/bin/env app-helper\n", 0o755)
	write(l1, "/usr/bin/env", "env\n", 0o755)
	write(l1, "/opt/tools/app-helper", "helper\n", 0o755)
	write(l1, "/opt/app/bin/old", "old\n", 0o755)
	write(l1, "/opt/app/bin/suid", "suid\n", 0o4755)
	write(l1, "/etc/conf.d/old.conf", "old\n", 0o644)
	l2 := fstree.New()
	must(l2.Mkdir("/opt/app/bin", 0o755, root, ""))
	write(l2, "/opt/app/bin/.wh.old", "", 0o644)
	write(l2, "/etc/conf.d/.wh..wh..opq", "", 0o644)
	write(l2, "/etc/conf.d/new.conf", "new\n", 0o644)
	var layers []v1.Layer
	for _, tr := range []*fstree.Tree{l1, l2} {
		l, err := image.Layer(tr, image.LayerOptions{})
		must(err)
		layers = append(layers, l)
	}
	ociArch, variant := image.ArchToOCI(arch)
	img, err := image.Build(nil, layers, image.Config{
		Entrypoint:   []string{"/opt/app/bin/app"},
		Cmd:          []string{"--serve"},
		Env:          env,
		WorkingDir:   "/opt/app",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels:       map[string]string{"org.example.from": "source"},
		Architecture: ociArch,
		Variant:      variant,
		OS:           "linux",
	})
	must(err)
	return img
}

// writeSource writes img in format to path.
func writeSource(t *testing.T, img v1.Image, path, format string) {
	t.Helper()
	l := image.Layout{Image: img, Annotations: map[string]string{image.AnnotationRefName: image.RefLatest}}
	if err := image.WriteOutput(path, format, l, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// testRegistry is go-containerregistry's in-memory registry over HTTP; it
// returns the "host:port".
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func pushTo(t *testing.T, img v1.Image, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

// readOut reads a build's output (oci-archive) and validates it.
func readOut(t *testing.T, p string) *image.ReadLayout {
	t.Helper()
	rl, err := image.ReadLayoutTarGz(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rl.Image); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	return rl
}

// TestOCISourceForms builds from the same image given in every form
// package: accepts: the layer and the config come out the same, the
// whiteouts and the opaque directory applied, the closure found through
// the image's LD_LIBRARY_PATH and PATH, its config inherited, and no package
// list.
func TestOCISourceForms(t *testing.T) {
	t.Parallel()
	img := sourceImage(t, "x86_64", srcEnv)
	store := t.TempDir()
	writeSource(t, img, filepath.Join(store, "src.tar.gz"), image.FormatOCIArchive)
	writeSource(t, img, filepath.Join(store, "layout"), image.FormatOCIDir)
	writeSource(t, img, filepath.Join(store, "saved.tar"), image.FormatDockerArchive)
	host := testRegistry(t)
	pushTo(t, img, host+"/src:1")

	forms := []struct{ name, yaml string }{
		{"layout tar.gz", "package: " + filepath.Join(store, "src.tar.gz") + "\n"},
		{"layout tar.gz with tag", "package: " + filepath.Join(store, "src.tar.gz") + ":latest\n"},
		{"layout dir, inferred", "package: " + filepath.Join(store, "layout") + "\n"},
		{"layout dir, type oci", "type: oci\npackage: " + filepath.Join(store, "layout") + "\n"},
		{"docker save", "package: " + filepath.Join(store, "saved.tar") + "\n"},
		{"registry", "package: http://" + host + "/src:1\n"},
	}
	for _, paths := range []string{"paths: [/opt/app/bin/app, /opt/app/bin/run]\n", ""} {
		var firstLayer, firstConfig v1.Hash
		for i, f := range forms {
			dir := project(t, f.yaml+paths, map[string]string{"rootfs/read/data": "data\n"})
			o := opts(t, dir)
			res, warn := runBuild(t, o)
			if warn != "" {
				t.Errorf("%s: warnings %q", f.name, warn)
			}
			if len(res.Packages) != 0 || res.Arch != "amd64" {
				t.Errorf("%s: result %+v", f.name, res)
			}
			rl := readOut(t, o.Image)
			layers, _ := rl.Image.Layers()
			if len(layers) != 1 {
				t.Fatalf("%s: %d layers, want the one smith made", f.name, len(layers))
			}
			ld, _ := layers[0].Digest()
			cd, _ := rl.Image.ConfigName()
			if i == 0 {
				firstLayer, firstConfig = ld, cd
			} else if ld != firstLayer || cd != firstConfig {
				t.Errorf("%s: layer %s config %s, want %s and %s as from %s", f.name, ld, cd, firstLayer, firstConfig, forms[0].name)
			}
			if len(rl.Extras) != 1 || rl.Extras[0].MediaType != image.MediaTypeSpec {
				t.Errorf("%s: extras %+v: an OCI build has no package list", f.name, rl.Extras)
			} else if !strings.HasPrefix(string(rl.Extras[0].Data), `{"type":"oci",`) {
				t.Errorf("%s: spec %s", f.name, rl.Extras[0].Data)
			}
			if i > 0 {
				continue
			}
			dump := dumpLayer(t, o.Image)
			present := []string{"/opt/app/bin/app: file 0755 10:10", "/opt/app/lib/libapp.so.1: file 0755 10:10",
				"/opt/app/bin/run: file", "/opt/tools/app-helper: file", "/usr/bin/env: file", "/read/data: file"}
			absent := []string{"/opt/app/bin/old", "/etc/conf.d/old.conf", ".wh.", "/opt/app/bin/suid: file 4"}
			if paths == "" {
				present = append(present, "/etc/conf.d/new.conf: file 0644 10:10", "/opt/app/bin/suid: file 0755 10:10")
			} else {
				absent = append(absent, "/etc/conf.d", "/opt/app/bin/suid")
			}
			checkDump(t, dump, present, absent)

			cf, _ := rl.Image.ConfigFile()
			c := cf.Config
			if strings.Join(c.Entrypoint, " ") != "/opt/app/bin/app" || strings.Join(c.Cmd, " ") != "--serve" ||
				strings.Join(c.Env, " ") != strings.Join(srcEnv, " ") || c.WorkingDir != "/opt/app" ||
				len(c.ExposedPorts) != 1 || c.Labels["org.example.from"] != "source" || c.User != "10:10" ||
				cf.Architecture != "amd64" || cf.OS != "linux" {
				t.Errorf("%s: config %+v", f.name, cf)
			}
		}
	}
}

// TestOCISourceClosureEnv: without LD_LIBRARY_PATH and PATH in the image's
// Env, the closure cannot find libapp.so.1 nor app-helper (so the test
// above proves they were used).
func TestOCISourceClosureEnv(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src.tar.gz")
	writeSource(t, sourceImage(t, "x86_64", []string{"FOO=bar"}), src, image.FormatOCIArchive)
	dir := project(t, "package: "+src+"\npaths: [/opt/app/bin/app, /opt/app/bin/run]\n", map[string]string{})
	o := opts(t, dir)
	_, warn := runBuild(t, o)
	checkDump(t, dumpLayer(t, o.Image), []string{"/opt/app/bin/app: file"}, []string{"libapp.so.1", "app-helper"})
	if !strings.Contains(warn, "libapp.so.1") {
		t.Errorf("no warning about the library it cannot find: %q", warn)
	}
}

// TestOCISourceInherit: the fields smith.yaml sets win, the empty ones come
// from the image; cmd alone keeps the image's entrypoint (as a Dockerfile
// CMD does); entrypoint alone drops the image's cmd.
func TestOCISourceInherit(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src.tar.gz")
	writeSource(t, sourceImage(t, "x86_64", srcEnv), src, image.FormatOCIArchive)
	tests := []struct {
		yaml                      string
		entrypoint, cmd, env, dir string
		ports                     int
		label                     string
	}{
		{"cmd: [--once]\nenv: [A=1]\ndir: /srv\nports: [53/udp, 80]\nlabels: {x: y}\n", "/opt/app/bin/app", "--once", "A=1", "/srv", 2, ""},
		{"entrypoint: [/opt/app/bin/run]\n", "/opt/app/bin/run", "", strings.Join(srcEnv, " "), "/opt/app", 1, "source"},
	}
	for _, tt := range tests {
		dir := project(t, "package: "+src+"\n"+tt.yaml, map[string]string{})
		o := opts(t, dir)
		runBuild(t, o)
		cf, _ := readOut(t, o.Image).Image.ConfigFile()
		c := cf.Config
		if got := strings.Join(c.Entrypoint, " "); got != tt.entrypoint {
			t.Errorf("%q: entrypoint %q, want %q", tt.yaml, got, tt.entrypoint)
		}
		if got := strings.Join(c.Cmd, " "); got != tt.cmd {
			t.Errorf("%q: cmd %q, want %q", tt.yaml, got, tt.cmd)
		}
		if got := strings.Join(c.Env, " "); got != tt.env {
			t.Errorf("%q: env %q, want %q", tt.yaml, got, tt.env)
		}
		if c.WorkingDir != tt.dir || len(c.ExposedPorts) != tt.ports || c.Labels["org.example.from"] != tt.label {
			t.Errorf("%q: config %+v", tt.yaml, c)
		}
	}
}

// TestOCISourcePlatform: a single-platform image gives its architecture
// unless another one is asked for; from a multi-platform image the target's
// is chosen, and a missing one is an error listing those there are.
func TestOCISourcePlatform(t *testing.T) {
	t.Parallel()
	arm := filepath.Join(t.TempDir(), "arm.tar.gz")
	writeSource(t, sourceImage(t, "aarch64", srcEnv), arm, image.FormatOCIArchive)

	host := testRegistry(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: sourceImage(t, "x86_64", srcEnv), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: sourceImage(t, "aarch64", srcEnv), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	ref, err := name.ParseReference(host+"/multi:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	multi := "http://" + host + "/multi:1"

	tests := []struct {
		src, yaml, arch, host string
		want, err             string
	}{
		{src: arm, host: "x86_64", want: "arm64"},
		{src: arm, yaml: "arch: aarch64\n", host: "x86_64", want: "arm64"},
		{src: arm, arch: "x86_64", host: "x86_64", err: `^package .*arm.tar.gz is a arm64 image but x86_64 was asked for$`},
		{src: multi, host: "x86_64", want: "amd64"},
		{src: multi, host: "aarch64", want: "arm64"},
		{src: multi, arch: "aarch64", host: "x86_64", want: "arm64"},
		{src: multi, arch: "s390x", host: "x86_64", err: `(?s)^package http://.*/multi:1: .*linux/amd64.*linux/arm64`},
	}
	for _, tt := range tests {
		dir := project(t, "package: "+tt.src+"\n"+tt.yaml, map[string]string{})
		o := opts(t, dir)
		o.Arch, o.HostArch = tt.arch, tt.host
		res, err := Run(context.Background(), o)
		if tt.err != "" {
			if err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error()) {
				t.Errorf("%s arch %q: error %v, want %s", tt.src, tt.arch, err, tt.err)
			}
			if _, serr := os.Stat(o.Image); serr == nil {
				t.Errorf("%s: a failed build wrote %s", tt.src, o.Image)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s arch %q host %s: %v", tt.src, tt.arch, tt.host, err)
			continue
		}
		cf, _ := readOut(t, o.Image).Image.ConfigFile()
		if res.Arch != tt.want || cf.Architecture != tt.want {
			t.Errorf("%s arch %q host %s: image %s (result %s), want %s", tt.src, tt.arch, tt.host, cf.Architecture, res.Arch, tt.want)
		}
	}
}

// TestOCISourceWithParent: an OCI source on an OCI parent: the parent's
// layer unchanged, the source's selected paths on top.
func TestOCISourceWithParent(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	writeSource(t, sourceImage(t, "x86_64", srcEnv), filepath.Join(store, "src.tar.gz"), image.FormatOCIArchive)
	base := project(t, "package: app\npaths: [/usr/bin/app]\n", map[string]string{})
	bo := opts(t, base, featureRepo(t))
	runBuild(t, bo)
	parent := readOut(t, bo.Image)
	pl, _ := parent.Image.Layers()
	pd, _ := pl[0].Digest()

	dir := project(t, "package: "+filepath.Join(store, "src.tar.gz")+"\nparent: "+bo.Image+"\npaths: [/opt/app/bin/app]\n", map[string]string{})
	o := opts(t, dir)
	runBuild(t, o)
	rl := readOut(t, o.Image)
	layers, _ := rl.Image.Layers()
	if len(layers) != 2 {
		t.Fatalf("%d layers", len(layers))
	}
	if d, _ := layers[0].Digest(); d != pd {
		t.Errorf("parent layer %s, want %s", d, pd)
	}
	checkDump(t, dumpLayer(t, o.Image), []string{"/opt/app/lib/libapp.so.1: file"}, []string{"/usr/bin/app"})

	// A parent of another architecture is refused.
	arm := filepath.Join(store, "arm.tar.gz")
	writeSource(t, sourceImage(t, "aarch64", srcEnv), arm, image.FormatOCIArchive)
	dir = project(t, "package: "+arm+"\nparent: "+bo.Image+"\n", map[string]string{})
	if _, err := Run(context.Background(), opts(t, dir)); err == nil || !strings.Contains(err.Error(), "is a amd64 image but package") {
		t.Errorf("arm64 source on an amd64 parent: %v", err)
	}
}

// TestOCISourceErrors: what cannot be built fails with an error that names
// the source, and writes nothing.
func TestOCISourceErrors(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	src := filepath.Join(store, "src.tar.gz")
	writeSource(t, sourceImage(t, "x86_64", srcEnv), src, image.FormatOCIArchive)
	notImage := filepath.Join(store, "junk.tar.gz")
	if err := os.WriteFile(notImage, []byte("not a tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	host := testRegistry(t)
	tests := []struct{ name, yaml, err string }{
		{"missing file", "package: nosuch.tar.gz\n", `^package nosuch.tar.gz: open .*nosuch.tar.gz: .*no such file`},
		{"not an image", "package: " + notImage + "\n", `^package .*junk.tar.gz: open `},
		{"missing tag", "package: " + src + ":v2\n", `^package .*src.tar.gz:v2: open .*src.tar.gz: no image named "v2" \(the layout has: latest\)`},
		{"manifest unknown", "package: http://" + host + "/nosuch:1\n", `^package http://.*/nosuch:1: open .*nosuch:1: .*(MANIFEST_UNKNOWN|NAME_UNKNOWN)`},
		{"path not in the image", "package: " + src + "\npaths: [/usr/bin/nosuch]\n", `^paths: path "/usr/bin/nosuch" not found`},
		{"mock.deps", "package: " + src + "\nmock:\n  deps: [gcc]\n", `^mock.deps: package: is an OCI image`},
		{"type oci without an image", "type: oci\npackage: coreutils\n", `^package coreutils: open .*/coreutils: .*no such file.*https:// or http:// URL`},
		{"type oci with two", "type: oci\npackage: [a.tar.gz, b.tar.gz]\n", `^smith.yaml:2: package: an OCI build takes exactly one`},
	}
	for _, tt := range tests {
		dir := project(t, tt.yaml, map[string]string{})
		o := opts(t, dir)
		_, err := Run(context.Background(), o)
		if err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error()) {
			t.Errorf("%s: error %v, want %s", tt.name, err, tt.err)
		}
		if _, serr := os.Stat(o.Image); serr == nil {
			t.Errorf("%s: a failed build wrote %s", tt.name, o.Image)
		}
	}
}

// TestOutputFormats: --format writes the same image as an OCI layout
// directory or a docker save archive; a bad format fails before any work.
func TestOutputFormats(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	dir := project(t, "package: app\npaths: [/usr/bin/app]\ncmd: [/usr/bin/app]\n", map[string]string{})
	o := opts(t, dir, repoDir)
	res, _ := runBuild(t, o)
	if res.Format != image.FormatOCIArchive {
		t.Errorf("default format %q", res.Format)
	}
	want := readOut(t, o.Image)
	wantDigest, _ := want.Image.Digest()
	wantConfig, _ := want.Image.ConfigName()

	od := o
	od.Format, od.Image = image.FormatOCIDir, filepath.Join(dir, "out-dir")
	res, _ = runBuild(t, od)
	rl, err := image.ReadLayoutDir(od.Image)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := rl.Image.Digest(); d != wantDigest || res.Digest != wantDigest.String() {
		t.Errorf("oci-dir manifest %s (result %s), oci-archive %s", d, res.Digest, wantDigest)
	}
	if len(rl.Extras) != 2 || rl.Annotations[image.AnnotationRefName] != image.RefLatest {
		t.Errorf("oci-dir: extras %d, annotations %v", len(rl.Extras), rl.Annotations)
	}
	// Building again replaces the directory.
	runBuild(t, od)

	oa := o
	oa.Format, oa.Image = image.FormatDockerArchive, filepath.Join(dir, "docker.tar")
	runBuild(t, oa)
	img, err := image.Open(context.Background(), oa.Image, image.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("docker-archive: validate.Image: %v", err)
	}
	if c, _ := img.ConfigName(); c != wantConfig {
		t.Errorf("docker-archive config %s, want %s", c, wantConfig)
	}
	raw, err := os.ReadFile(oa.Image)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "manifest.json") || !strings.Contains(string(raw), image.DefaultDockerName) {
		t.Error("docker-archive lacks manifest.json naming " + image.DefaultDockerName)
	}

	bad := o
	bad.Format, bad.Image = "tarball", filepath.Join(dir, "bad.tar")
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `output format "tarball": want one of oci-archive, oci-dir, docker-archive`) {
		t.Errorf("bad format: %v", err)
	}
	if _, err := os.Stat(bad.Image); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad format wrote %s", bad.Image)
	}
	for f, want := range map[string]string{"": "image.tar.gz", image.FormatOCIArchive: "image.tar.gz", image.FormatOCIDir: "image", image.FormatDockerArchive: "image.tar"} {
		if got := DefaultImage(f); got != want {
			t.Errorf("DefaultImage(%q) = %q, want %q", f, got, want)
		}
	}
}

// TestPush: --push sends the built image (OCI media types) after writing
// it; -k applies to it; a failed push says the output is written.
func TestPush(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	dir := project(t, "package: app\npaths: [/usr/bin/app]\n", map[string]string{})
	host := testRegistry(t)
	o := opts(t, dir, repoDir)
	o.Push = "http://" + host + "/smith/app:v1"
	res, _ := runBuild(t, o)
	if res.Pushed != res.Digest {
		t.Errorf("pushed %s, built %s", res.Pushed, res.Digest)
	}
	ref, _ := name.ParseReference(host+"/smith/app:v1", name.Insecure)
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != res.Digest || !strings.Contains(string(desc.MediaType), "oci") {
		t.Errorf("registry has %s %s, built %s", desc.Digest, desc.MediaType, res.Digest)
	}

	// A registry with a self-signed certificate: refused without -k.
	tlsSrv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(tlsSrv.Close)
	o2 := opts(t, dir, repoDir)
	o2.Push = tlsSrv.URL + "/smith/app"
	if _, err := Run(context.Background(), o2); err == nil || !strings.Contains(err.Error(), "-k") {
		t.Errorf("push to a self-signed registry without -k: %v", err)
	}
	o2.Insecure = true
	if res, _ := runBuild(t, o2); res.Pushed != res.Digest {
		t.Errorf("push with -k: %+v", res)
	}

	// A registry that is gone: the image is written, the error says so.
	gone := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	gone.Close()
	o3 := opts(t, dir, repoDir)
	o3.Push = "http://user:hunter2@" + strings.TrimPrefix(gone.URL, "http://") + "/smith/app"
	_, err = Run(context.Background(), o3)
	if err == nil || !strings.HasPrefix(err.Error(), o3.Image+" written, but push ") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("push to a stopped registry: %v", err)
	}
	readOut(t, o3.Image)
}
