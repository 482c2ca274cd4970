package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/registrytest"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// testOpts reads no credentials from the host and retries at once.
func testOpts() RemoteOptions {
	return RemoteOptions{
		Platform:  amd64,
		Keychain:  authn.NewMultiKeychain(),
		UserAgent: "smith-test",
		retry:     &remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2},
	}
}

func skopeo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed (apt-get install skopeo)")
	}
}

// rawManifestOf runs skopeo inspect --raw on a registry reference.
func skopeoRaw(t *testing.T, host, repo string) []byte {
	t.Helper()
	return run(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+host+"/"+repo)
}

type manifestJSON struct {
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

func parseManifestJSON(t *testing.T, b []byte) manifestJSON {
	t.Helper()
	var m manifestJSON
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func writeLayoutFile(t *testing.T, l Layout) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar.gz")
	if err := os.WriteFile(p, layoutBytes(t, l, epoch), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPushDownload(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	img, _ := sampleImageLayout(t)
	opt := testOpts()

	// OCI media types, the default.
	got, err := Push(ctx, img, reg.URL+"/smith/sample:1", PushOptions{RemoteOptions: opt})
	if err != nil {
		t.Fatal(err)
	}
	if want := must(img.Digest()); got != want {
		t.Errorf("pushed %s, built %s", got, want)
	}

	// Docker media types: a new manifest over the same blobs.
	dgot, err := Push(ctx, img, reg.URL+"/smith/sample:docker", PushOptions{RemoteOptions: opt, Docker: true})
	if err != nil {
		t.Fatal(err)
	}
	if dgot == got {
		t.Error("the Docker manifest has the OCI manifest's digest")
	}

	// upload -i FILE -r URL (no tag: latest).
	file := writeLayoutFile(t, sampleLayout(t, img))
	if err := UploadFile(ctx, file, reg.URL+"/smith/uploaded", PushOptions{RemoteOptions: opt}); err != nil {
		t.Fatal(err)
	}

	// A docker save archive uploads with its own (Docker) manifest.
	da := filepath.Join(t.TempDir(), "docker.tar")
	if err := WriteOutput(da, FormatDockerArchive, sampleLayout(t, img), epoch); err != nil {
		t.Fatal(err)
	}
	if err := UploadFile(ctx, da, reg.URL+"/smith/fromdocker:1", PushOptions{RemoteOptions: opt}); err != nil {
		t.Fatal(err)
	}
	if l, err := Download(ctx, reg.URL+"/smith/fromdocker:1", opt); err != nil || must(l.Image.ConfigName()) != must(img.ConfigName()) {
		t.Errorf("docker archive upload: %v", err)
	}

	if _, err := exec.LookPath("skopeo"); err == nil {
		m := parseManifestJSON(t, skopeoRaw(t, reg.Host, "smith/sample:1"))
		if m.MediaType != string(types.OCIManifestSchema1) || m.Config.MediaType != string(types.OCIConfigJSON) || m.Layers[0].MediaType != string(types.OCILayer) {
			t.Errorf("OCI push: skopeo sees %+v", m)
		}
		if raw := skopeoRaw(t, reg.Host, "smith/sample:1"); !bytes.Equal(raw, must(img.RawManifest())) {
			t.Errorf("the registry has another manifest:\n%s", raw)
		}
		d := parseManifestJSON(t, skopeoRaw(t, reg.Host, "smith/sample:docker"))
		if d.MediaType != string(types.DockerManifestSchema2) || d.Config.MediaType != string(types.DockerConfigJSON) || d.Layers[0].MediaType != string(types.DockerLayer) {
			t.Errorf("Docker push: skopeo sees %+v", d)
		}
		if d.Layers[0].Digest != m.Layers[0].Digest || d.Config.Digest != m.Config.Digest {
			t.Errorf("Docker push changed blobs: %+v vs %+v", d, m)
		}
		if u := parseManifestJSON(t, skopeoRaw(t, reg.Host, "smith/uploaded:latest")); u.MediaType != string(types.OCIManifestSchema1) {
			t.Errorf("upload: %+v", u)
		}
	} else {
		t.Log("skopeo not installed: registry contents checked with go-containerregistry only")
	}

	// download -r URL -i FILE: the manifest digest is the pushed one, every
	// blob is there and verified.
	for _, c := range []struct {
		ref  string
		want v1.Hash
		mt   types.MediaType
	}{
		{reg.URL + "/smith/sample:1", got, types.OCIManifestSchema1},
		{reg.URL + "/smith/sample:docker", dgot, types.DockerManifestSchema2},
		{reg.URL + "/smith/sample@" + got.String(), got, types.OCIManifestSchema1},
		{reg.URL + "/smith/uploaded", got, types.OCIManifestSchema1},
	} {
		out := filepath.Join(t.TempDir(), "downloaded.tar.gz")
		if err := DownloadFile(ctx, c.ref, out, opt); err != nil {
			t.Fatal(err)
		}
		rl, err := ReadLayoutTarGz(out)
		if err != nil {
			t.Fatal(err)
		}
		if rl.Descriptor.Digest != c.want || rl.Descriptor.MediaType != c.mt {
			t.Errorf("%s: downloaded %s (%s), want %s (%s)", c.ref, rl.Descriptor.Digest, rl.Descriptor.MediaType, c.want, c.mt)
		}
		if err := validate.Image(rl.Image); err != nil {
			t.Errorf("%s: %v", c.ref, err)
		}
		if must(rl.Image.ConfigName()) != must(img.ConfigName()) {
			t.Errorf("%s: config changed", c.ref)
		}
		// Downloading is deterministic.
		again := filepath.Join(t.TempDir(), "again.tar.gz")
		if err := DownloadFile(ctx, c.ref, again, opt); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(out)
		b, _ := os.ReadFile(again)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two downloads differ", c.ref)
		}
	}
	if _, err := exec.LookPath("skopeo"); err == nil {
		// skopeo reads the downloaded file as an oci-archive.
		out := filepath.Join(t.TempDir(), "d.tar.gz")
		if err := DownloadFile(ctx, reg.URL+"/smith/sample:1", out, opt); err != nil {
			t.Fatal(err)
		}
		if raw := run(t, "skopeo", "inspect", "--raw", "oci-archive:"+out); !bytes.Equal(raw, must(img.RawManifest())) {
			t.Errorf("skopeo oci-archive: %s", raw)
		}
	}
}

// TestOpenRegistry uses a pushed image as a package: source (Unpack) and as
// a parent: (Build).
func TestOpenRegistry(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	img, _ := sampleImageLayout(t)
	opt := testOpts()
	ref := reg.URL + "/smith/source:v1"
	if _, err := Push(ctx, img, ref, PushOptions{RemoteOptions: opt, Docker: true}); err != nil {
		t.Fatal(err)
	}
	src, err := Open(ctx, ref, opt)
	if err != nil {
		t.Fatal(err)
	}
	tree := fstree.New()
	if err := Unpack(ctx, src, tree); err != nil {
		t.Fatal(err)
	}
	if want := sampleTree(t, false).Dump(); tree.Dump() != want {
		t.Errorf("unpacked:\n%s\nwant:\n%s", tree.Dump(), want)
	}
	cf, err := ConfigOf(src)
	if err != nil || cf.Config.WorkingDir != "/read" || cf.Config.Entrypoint[0] != "/usr/bin/ping" {
		t.Errorf("config: %+v %v", cf, err)
	}

	// As a parent: its layers keep their digests (Docker types become OCI).
	top := fstree.New()
	if _, err := top.WriteFile("/app", []byte("app"), 0o755, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	child := mustBuild(t, src, []v1.Layer{mustLayer(t, top, epoch)}, Config{Cmd: []string{"/app"}})
	pm, _ := src.Manifest()
	cm, _ := child.Manifest()
	if len(cm.Layers) != 2 || cm.Layers[0].Digest != pm.Layers[0].Digest || cm.Layers[0].MediaType != types.OCILayer {
		t.Errorf("child layers %+v, parent %+v", cm.Layers, pm.Layers)
	}
	// The child goes through the file format and back to the registry.
	file := writeLayoutFile(t, Layout{Image: child, Annotations: map[string]string{AnnotationRefName: RefLatest}})
	if err := UploadFile(ctx, file, reg.URL+"/smith/child", PushOptions{RemoteOptions: opt}); err != nil {
		t.Fatal(err)
	}
	back, err := Open(ctx, reg.URL+"/smith/child", opt)
	if err != nil {
		t.Fatal(err)
	}
	if must(back.Digest()) != must(child.Digest()) {
		t.Error("the child changed on its way through the registry")
	}
	tree = fstree.New()
	if err := Unpack(ctx, back, tree); err != nil {
		t.Fatal(err)
	}
	if n, err := tree.Lookup("/app"); err != nil || string(n.Data) != "app" {
		t.Errorf("/app: %v", err)
	}
	if _, err := tree.Lookup("/usr/bin/ping"); err != nil {
		t.Errorf("parent content: %v", err)
	}

	// Missing tags and repositories are clear errors.
	if _, err := Open(ctx, reg.URL+"/smith/source:nope", opt); err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("missing tag: %v", err)
	}
}

// TestPlatforms pushes a two-platform index and chooses from it, in the
// registry and in a layout directory.
func TestPlatforms(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	mk := func(arch, variant, content string) v1.Image {
		tr := fstree.New()
		if _, err := tr.WriteFile("/arch", []byte(content), 0o644, fstree.Owner{}, ""); err != nil {
			t.Fatal(err)
		}
		return mustBuild(t, nil, []v1.Layer{mustLayer(t, tr, epoch)}, Config{Architecture: arch, Variant: variant})
	}
	imgAMD, imgARM := mk("amd64", "", "amd64"), mk("arm64", "v8", "arm64")
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: imgAMD, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: imgARM, Descriptor: v1.Descriptor{Platform: &arm64}},
	), types.OCIImageIndex)
	r, err := parseRemote(reg.URL + "/smith/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r.ref, idx); err != nil {
		t.Fatal(err)
	}
	ref := reg.URL + "/smith/multi:1"
	for _, c := range []struct {
		p    v1.Platform
		want v1.Image
	}{
		{amd64, imgAMD},
		{arm64, imgARM},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, imgARM}, // no variant: v8
	} {
		opt := testOpts()
		opt.Platform = c.p
		img, err := Open(ctx, ref, opt)
		if err != nil {
			t.Fatal(err)
		}
		if must(img.Digest()) != must(c.want.Digest()) {
			t.Errorf("%s: got the wrong image", platformString(c.p))
		}
		l, err := Download(ctx, ref, opt)
		if err != nil {
			t.Fatal(err)
		}
		if must(l.Image.Digest()) != must(c.want.Digest()) || l.Platform == nil || l.Platform.Architecture != c.p.Architecture {
			t.Errorf("%s: downloaded %v", platformString(c.p), l.Platform)
		}
	}
	opt := testOpts()
	opt.Platform = v1.Platform{OS: "linux", Architecture: "riscv64"}
	_, err = Open(ctx, ref, opt)
	t.Logf("no such platform: %v", err)
	if err == nil || !strings.Contains(err.Error(), "no image for platform linux/riscv64; the index has linux/amd64, linux/arm64/v8") {
		t.Errorf("no such platform: %v", err)
	}
	out := filepath.Join(t.TempDir(), "x.tar.gz")
	if err := DownloadFile(ctx, ref, out, opt); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Errorf("download, no such platform: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed download left a file")
	}

	// A multi-platform OCI layout directory, as skopeo copy --all writes it.
	skopeo(t)
	dir := filepath.Join(t.TempDir(), "layout")
	run(t, "skopeo", "copy", "--quiet", "--all", "--src-tls-verify=false", "docker://"+reg.Host+"/smith/multi:1", "oci:"+dir+":latest")
	for _, c := range []struct {
		p    v1.Platform
		want v1.Image
	}{{amd64, imgAMD}, {arm64, imgARM}} {
		img, err := Open(ctx, dir, RemoteOptions{Platform: c.p})
		if err != nil {
			t.Fatal(err)
		}
		if must(img.Digest()) != must(c.want.Digest()) {
			t.Errorf("layout %s: got the wrong image", platformString(c.p))
		}
	}
	if _, err := Open(ctx, dir, RemoteOptions{Platform: v1.Platform{OS: "linux", Architecture: "s390x"}}); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Errorf("layout, no such platform: %v", err)
	}
}

const (
	authUser = "tb"
	// A password with the characters that break naive URL parsing.
	authPass = "s3cr3t-P@ss/w:rd"
)

func TestAuthBasic(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{User: authUser, Password: authPass})
	ctx := context.Background()
	img, _ := sampleImageLayout(t)
	opt := testOpts()
	host := strings.TrimPrefix(reg.URL, "http://")
	good := "http://" + authUser + ":" + authPass + "@" + host + "/smith/auth:1"
	bad := "http://" + authUser + ":wrong-" + authPass + "@" + host + "/smith/auth:1"
	anon := "http://" + host + "/smith/auth:1"

	checkErr := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		msg := err.Error()
		t.Logf("%s: %s", what, msg)
		for _, secret := range []string{authPass, "wrong-", url.QueryEscape(authPass), "s3cr3t"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: the error shows the password: %s", what, msg)
			}
		}
		if !strings.Contains(msg, "UNAUTHORIZED") && !strings.Contains(msg, "401") {
			t.Errorf("%s: not an auth error: %s", what, msg)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: more than one line: %q", what, msg)
		}
	}
	_, err := Push(ctx, img, bad, PushOptions{RemoteOptions: opt})
	checkErr("push, wrong password", err)
	_, err = Push(ctx, img, anon, PushOptions{RemoteOptions: opt})
	checkErr("push, no credentials", err)

	if _, err := Push(ctx, img, good, PushOptions{RemoteOptions: opt}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "d.tar.gz")
	checkErr("download, wrong password", DownloadFile(ctx, bad, out, opt))
	_, err = Open(ctx, bad, opt)
	checkErr("open, wrong password", err)
	if err := DownloadFile(ctx, good, out, opt); err != nil {
		t.Fatal(err)
	}
	rl, err := ReadLayoutTarGz(out)
	if err != nil || rl.Descriptor.Digest != must(img.Digest()) {
		t.Errorf("download with credentials: %v", err)
	}

	// The keychain is used when the URL has no credentials.
	kopt := opt
	kopt.Keychain = staticKeychain{authn.FromConfig(authn.AuthConfig{Username: authUser, Password: authPass})}
	if _, err := Download(ctx, anon, kopt); err != nil {
		t.Errorf("keychain: %v", err)
	}
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// TestAuthBearer puts a token server in front of the registry: the
// credentials in the URL buy a token (the Docker Hub flow).
func TestAuthBearer(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	upstream, _ := url.Parse(reg.URL)
	rp := httputil.NewSingleHostReverseProxy(upstream)
	const token = "tok-123"
	var srv *httptest.Server
	var tokenRequests int
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tokenRequests++
			if u, p, ok := r.BasicAuth(); !ok || u != authUser || p != authPass {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="test",scope="repository:smith/bearer:pull,push"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	img, _ := sampleImageLayout(t)
	opt := testOpts()

	_, err := Push(ctx, img, "http://"+authUser+":nope@"+host+"/smith/bearer:1", PushOptions{RemoteOptions: opt})
	if err == nil || strings.Contains(err.Error(), "nope") {
		t.Errorf("wrong password: %v", err)
	}
	ref := "http://" + authUser + ":" + url.PathEscape(authPass) + "@" + host + "/smith/bearer:1"
	if _, err := Push(ctx, img, ref, PushOptions{RemoteOptions: opt}); err != nil {
		t.Fatal(err)
	}
	l, err := Download(ctx, ref, opt)
	if err != nil {
		t.Fatal(err)
	}
	if must(l.Image.Digest()) != must(img.Digest()) || tokenRequests < 2 {
		t.Errorf("bearer flow: %d token requests", tokenRequests)
	}
}

// faultProxy is a reverse proxy in front of the registry; fault handles the
// requests it wants to break and returns true.
func faultProxy(t *testing.T, reg *registrytest.Registry, fault func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	upstream, _ := url.Parse(reg.URL)
	rp := httputil.NewSingleHostReverseProxy(upstream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fault(w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// fetchUpstream gets a response body from the registry itself.
func fetchUpstream(t *testing.T, reg *registrytest.Registry, r *http.Request) (http.Header, []byte) {
	resp, err := http.Get(reg.URL + r.URL.Path)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Header, b
}

func TestDownloadFaults(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	img, _ := sampleImageLayout(t)
	opt := testOpts()
	if _, err := Push(ctx, img, reg.URL+"/smith/faults:1", PushOptions{RemoteOptions: opt}); err != nil {
		t.Fatal(err)
	}
	layer := must(img.Manifest()).Layers[0].Digest.String()
	isLayer := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer)
	}
	for _, c := range []struct {
		name  string
		fault func(w http.ResponseWriter, r *http.Request) bool
		want  []string
		check func(error) bool
	}{
		{
			name: "wrong blob served",
			fault: func(w http.ResponseWriter, r *http.Request) bool {
				if !isLayer(r) {
					return false
				}
				h, b := fetchUpstream(t, reg, r)
				b[len(b)/2] ^= 0xff
				w.Header().Set("Content-Length", h.Get("Content-Length"))
				w.Write(b)
				return true
			},
			want:  []string{"blob " + layer, "digest mismatch"},
			check: func(err error) bool { var de *DigestError; return errors.As(err, &de) },
		},
		{
			name: "connection dropped mid-blob",
			fault: func(w http.ResponseWriter, r *http.Request) bool {
				if !isLayer(r) {
					return false
				}
				h, b := fetchUpstream(t, reg, r)
				w.Header().Set("Content-Length", h.Get("Content-Length"))
				w.Write(b[:len(b)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // closes the connection
			},
			want: []string{"blob " + layer, "unexpected EOF"},
		},
		{
			name: "manifest unknown",
			fault: func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.Contains(r.URL.Path, "/manifests/") {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
				return true
			},
			want: []string{"MANIFEST_UNKNOWN"},
		},
		{
			name: "config blob missing",
			fault: func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/blobs/"+must(img.ConfigName()).String()) {
					return false
				}
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
				return true
			},
			want: []string{"BLOB_UNKNOWN", must(img.ConfigName()).String()},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			proxy := faultProxy(t, reg, c.fault)
			dir := t.TempDir()
			out := filepath.Join(dir, "image.tar.gz")
			if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := DownloadFile(ctx, proxy+"/smith/faults:1", out, opt)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Logf("%s", msg)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error on more than one line: %q", msg)
			}
			if c.check != nil && !c.check(err) {
				t.Errorf("error %v has the wrong type", err)
			}
			if b, _ := os.ReadFile(out); string(b) != "previous" {
				t.Error("the previous file was replaced")
			}
			if es, _ := os.ReadDir(dir); len(es) != 1 {
				t.Errorf("leftovers in the output directory: %v", es)
			}
			// Open + Unpack meet the same fault.
			if img, err := Open(ctx, proxy+"/smith/faults:1", opt); err == nil {
				if err := Unpack(ctx, img, fstree.New()); err == nil {
					t.Error("Unpack through the fault succeeded")
				}
			}
		})
	}
}

func TestPushFaults(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	img, _ := sampleImageLayout(t)
	opt := testOpts()

	// A registry that refuses OCI manifests: the error says to use -d.
	rejectOCI := faultProxy(t, reg, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") ||
			r.Header.Get("Content-Type") != string(types.OCIManifestSchema1) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unsupported media type"}]}`)
		return true
	})
	_, err := Push(ctx, img, rejectOCI+"/smith/old:1", PushOptions{RemoteOptions: opt})
	t.Logf("OCI refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), DockerHint) || !strings.Contains(err.Error(), "MANIFEST_INVALID") {
		t.Errorf("OCI refused: %v", err)
	}
	if _, err := Push(ctx, img, rejectOCI+"/smith/old:1", PushOptions{RemoteOptions: opt, Docker: true}); err != nil {
		t.Errorf("-d: %v", err)
	}

	// The connection drops during a blob upload.
	drop := faultProxy(t, reg, func(w http.ResponseWriter, r *http.Request) bool {
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			io.CopyN(io.Discard, r.Body, 100)
			panic(http.ErrAbortHandler)
		}
		return false
	})
	file := writeLayoutFile(t, sampleLayout(t, img))
	err = UploadFile(ctx, file, drop+"/smith/dropped:1", PushOptions{RemoteOptions: opt})
	t.Logf("connection dropped: %v", err)
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("upload, connection dropped: %q", err)
	}

	// The registry is gone.
	stopped := registrytest.Start(t, registrytest.Options{})
	stopped.Stop()
	err = UploadFile(ctx, file, stopped.URL+"/smith/gone:1", PushOptions{RemoteOptions: opt})
	t.Logf("registry stopped: %v", err)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("upload, registry stopped: %v", err)
	}
	out := filepath.Join(t.TempDir(), "x.tar.gz")
	if err := DownloadFile(ctx, stopped.URL+"/smith/gone:1", out, opt); err == nil {
		t.Error("download from a stopped registry")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed download left a file")
	}

	// Pushing to a digest is refused.
	if _, err := Push(ctx, img, reg.URL+"/smith/x@"+must(img.Digest()).String(), PushOptions{RemoteOptions: opt}); err == nil {
		t.Error("push to a digest")
	}
}

// TestInsecureTLS: -k accepts a registry with a self-signed certificate.
// (127.0.0.2 because go-containerregistry always speaks plain HTTP to
// 127.0.0.1.)
func TestInsecureTLS(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this system: %v", err)
	}
	upstream, _ := url.Parse(reg.URL)
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(upstream))
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	img, _ := sampleImageLayout(t)
	ref := srv.URL + "/smith/tls:1" // https://127.0.0.2:PORT/...
	opt := testOpts()

	_, err = Push(ctx, img, ref, PushOptions{RemoteOptions: opt})
	t.Logf("without -k: %v", err)
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "use -k") {
		t.Errorf("self-signed certificate accepted without -k: %v", err)
	}
	opt.Insecure = true
	if _, err := Push(ctx, img, ref, PushOptions{RemoteOptions: opt}); err != nil {
		t.Fatal(err)
	}
	l, err := Download(ctx, ref, opt)
	if err != nil {
		t.Fatal(err)
	}
	if must(l.Image.Digest()) != must(img.Digest()) {
		t.Error("another image came back")
	}
	if c := remote.DefaultTransport.(*http.Transport).TLSClientConfig; c != nil && c.InsecureSkipVerify {
		t.Error("-k changed the shared default transport")
	}
}
