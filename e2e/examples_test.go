package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The examples under testdata/examples/NAME (smith.yaml + rootfs/) are real
// applications built from the shared test bed (../shared/testdata/distro),
// each run under bwrap with a read-only root and checked against a golden
// dump of its image, testdata/examples/NAME/tree.golden (go test ./e2e
// -run Examples -update rewrites them).

var updateExamples = flag.Bool("update", false, "rewrite testdata/examples/*/tree.golden")

func examplesDir() string { return filepath.Join(moduleRoot, "testdata", "examples") }

// exImage is one of smith's images read back with all its layers (the
// helpers of oci_test.go expect a single layer).
type exImage struct {
	path   string
	index  ociIndex
	desc   descriptor
	man    ociManifest
	config exConfig
	layers [][]tarEntry
	raw    [][]byte // uncompressed layer tars
	files  map[string][]byte
}

type exConfig struct {
	Architecture string `json:"architecture"`
	Config       struct {
		User         string              `json:"User"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Env          []string            `json:"Env"`
		WorkingDir   string              `json:"WorkingDir"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Volumes      map[string]struct{} `json:"Volumes"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// readExImage reads an image archive: the manifest named latest, its
// config and every layer, each blob checked against its digest.
func readExImage(t testing.TB, p string) *exImage {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	im := &exImage{path: p, files: map[string][]byte{}}
	for _, e := range readTarGz(t, raw) {
		if e.hdr.Typeflag == tar.TypeReg {
			im.files[cleanName(e.hdr.Name)] = e.data
		}
	}
	blob := func(d descriptor) []byte {
		t.Helper()
		b, ok := im.files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok || "sha256:"+sha256Hex(b) != d.Digest || int64(len(b)) != d.Size {
			t.Fatalf("%s: blob %s missing or not matching its descriptor", p, d.Digest)
		}
		return b
	}
	if err := json.Unmarshal(im.files["index.json"], &im.index); err != nil {
		t.Fatalf("%s: index.json: %v", p, err)
	}
	n := 0
	for _, d := range im.index.Manifests {
		if d.Annotations[annRefName] == "latest" {
			im.desc = d
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%s: %d manifests named latest", p, n)
	}
	if err := json.Unmarshal(blob(im.desc), &im.man); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(blob(im.man.Config), &im.config); err != nil {
		t.Fatal(err)
	}
	if len(im.config.RootFS.DiffIDs) != len(im.man.Layers) {
		t.Fatalf("%s: %d diff_ids for %d layers", p, len(im.config.RootFS.DiffIDs), len(im.man.Layers))
	}
	for i, d := range im.man.Layers {
		rawTar := gunzip(t, blob(d))
		entries := readTar(t, rawTar)
		if got := "sha256:" + sha256Hex(rawTar); got != im.config.RootFS.DiffIDs[i] {
			t.Errorf("%s: layer %d diff_id %s, config says %s", p, i, got, im.config.RootFS.DiffIDs[i])
		}
		im.layers = append(im.layers, entries)
		im.raw = append(im.raw, rawTar)
	}
	return im
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// uidGid is the config's User as numbers.
func (im *exImage) uidGid(t testing.TB) (int, int) {
	t.Helper()
	u, g, ok := strings.Cut(im.config.Config.User, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("config User %q is not uid:gid", im.config.Config.User)
	}
	return uid, gid
}

// exDump is the golden form of an image: per layer, one line per entry with
// path, type, mode, uid:gid, size, link target and xattr names. Entries in
// masked show size=* (files the test builds, whose size depends on the Go
// toolchain).
func exDump(im *exImage, masked map[string]bool) string {
	var b strings.Builder
	for i, layer := range im.layers {
		fmt.Fprintf(&b, "# layer %d of %d\n", i+1, len(im.layers))
		for _, e := range layer {
			h := e.hdr
			p := "/" + cleanName(h.Name)
			var kind string
			switch h.Typeflag {
			case tar.TypeDir:
				kind = "dir"
			case tar.TypeReg:
				kind = "file"
			case tar.TypeSymlink:
				kind = "symlink"
			case tar.TypeLink:
				kind = "hardlink"
			default:
				kind = fmt.Sprintf("type-%c", h.Typeflag)
			}
			fmt.Fprintf(&b, "%s %s %04o %d:%d", p, kind, h.Mode, h.Uid, h.Gid)
			switch {
			case h.Typeflag == tar.TypeReg && masked[p]:
				b.WriteString(" size=*")
			case h.Typeflag == tar.TypeReg:
				fmt.Fprintf(&b, " size=%d", h.Size)
			case h.Typeflag == tar.TypeSymlink:
				fmt.Fprintf(&b, " -> %s", h.Linkname)
			case h.Typeflag == tar.TypeLink:
				fmt.Fprintf(&b, " -> /%s", cleanName(h.Linkname))
			}
			var xattrs []string
			for k := range h.PAXRecords {
				if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
					xattrs = append(xattrs, x)
				}
			}
			if len(xattrs) > 0 {
				fmt.Fprintf(&b, " xattrs=%s", strings.Join(xattrs, ","))
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// exGolden compares an example's dump with its tree.golden.
func exGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join(examplesDir(), name, "tree.golden")
	if *updateExamples {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test ./e2e -run Examples -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the image (go test ./e2e -run Examples -update rewrites it):\n%s", p, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// exCheckPrinciples checks the microcontainer rules on the layers smith
// added: every entry owned by the run-as user, numeric owners only, no
// setuid/setgid/sticky bits, the /read /write /run (and /dev /proc /sys)
// directories present.
func exCheckPrinciples(t *testing.T, im *exImage, layers []int) {
	t.Helper()
	uid, gid := im.uidGid(t)
	for _, i := range layers {
		for _, e := range im.layers[i] {
			h := e.hdr
			if h.Uid != uid || h.Gid != gid {
				t.Errorf("/%s: owner %d:%d, the image runs as %d:%d", cleanName(h.Name), h.Uid, h.Gid, uid, gid)
			}
			if h.Uname != "" || h.Gname != "" {
				t.Errorf("/%s: owner names %q:%q", cleanName(h.Name), h.Uname, h.Gname)
			}
			if h.Mode&0o7000 != 0 {
				t.Errorf("/%s: mode %04o has special bits", cleanName(h.Name), h.Mode)
			}
		}
	}
	top := im.layers[len(im.layers)-1]
	for _, d := range []string{"dev", "proc", "sys", "read", "write", "run"} {
		found := false
		for _, e := range top {
			if cleanName(e.hdr.Name) == d && e.hdr.Typeflag == tar.TypeDir {
				found = true
			}
		}
		if !found {
			t.Errorf("/%s missing", d)
		}
	}
}

// exUnpack applies the image's layers, in order, into dir.
func exUnpack(t *testing.T, im *exImage, dir string) {
	t.Helper()
	for _, layer := range im.layers {
		for _, e := range layer {
			if strings.HasPrefix(filepath.Base(cleanName(e.hdr.Name)), ".wh.") {
				t.Fatalf("whiteout %s: smith's layers have none", e.hdr.Name)
			}
		}
		one := &image{layer: layer}
		unpackLayer(t, one, dir)
	}
}

// exBuild copies an example into a scratch directory, lets prepare change
// it, and builds it with the shared test bed's repository; it returns the
// image path.
func exBuild(t *testing.T, name string, prepare func(dir string), args ...string) string {
	t.Helper()
	repo := distroRepo(t)
	dir := filepath.Join(scratch(t), name)
	copyTree(t, filepath.Join(examplesDir(), name), dir)
	if prepare != nil {
		prepare(dir)
	}
	out := filepath.Join(scratch(t), name+".tar.gz")
	args = append(append(archArgs(), "--repo", repo, "--cache-dir", filepath.Join(scratch(t), "cache"), "-i", out), args...)
	if r := smith(t, runOpts{dir: dir}, args...); r.code != 0 {
		t.Fatalf("building example %s: smith %s: %s", name, strings.Join(args, " "), r)
	}
	return out
}

// exCatImage is the cat example's image, built once (the static-from-parent
// example uses it as its parent).
func exCatImage(t *testing.T) string {
	return memoImage(t, "examples-cat", func(t *testing.T, out string) error {
		p := exBuild(t, "cat", nil)
		return os.Rename(p, out)
	})
}

// exBwrap is the command line that runs argv in rootfs as the image's user,
// with a read-only root.
func exBwrap(t *testing.T, im *exImage, rootfs string, extra []string, argv ...string) []string {
	uid, gid := im.uidGid(t)
	a := []string{"bwrap", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
		"--unshare-all", "--unshare-user", "--uid", strconv.Itoa(uid), "--gid", strconv.Itoa(gid),
		"--die-with-parent", "--clearenv"}
	for _, kv := range im.config.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		a = append(a, "--setenv", k, v)
	}
	if wd := im.config.Config.WorkingDir; wd != "" {
		a = append(a, "--chdir", wd)
	}
	a = append(a, extra...)
	if len(argv) == 0 {
		argv = append(append([]string(nil), im.config.Config.Entrypoint...), im.config.Config.Cmd...)
	}
	return append(a, argv...)
}

// exRun builds an example, checks it against its golden dump and the
// microcontainer rules, unpacks it and runs its entrypoint and cmd under
// bwrap with a read-only root; it returns the image, the rootfs and the
// output.
func exRun(t *testing.T, name string, imagePath string, masked map[string]bool, newLayers []int) (*exImage, string, result) {
	t.Helper()
	im := readExImage(t, imagePath)
	exGolden(t, name, exDump(im, masked))
	if newLayers == nil {
		newLayers = []int{len(im.layers) - 1}
	}
	exCheckPrinciples(t, im, newLayers)
	if im.config.Architecture != "amd64" {
		t.Errorf("architecture %s", im.config.Architecture)
	}
	needBwrap(t, false)
	needX86(t)
	rootfs := filepath.Join(scratch(t), "rootfs")
	exUnpack(t, im, rootfs)
	r := run(t, runOpts{}, exBwrap(t, im, rootfs, nil)...)
	return im, rootfs, r
}

// exReadOnly proves the root is read-only: creating a file in / fails.
func exReadOnly(t *testing.T, im *exImage, rootfs string, touch ...string) {
	t.Helper()
	r := run(t, runOpts{}, exBwrap(t, im, rootfs, nil, append(touch, "/smith-was-here")...)...)
	if r.code == 0 {
		t.Errorf("writing into the root succeeded: %s", r)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "smith-was-here")); err == nil {
		t.Error("a file appeared in the root")
	}
}

func TestExamplesCat(t *testing.T) {
	_, _, r := exRun(t, "cat", exCatImage(t), nil, nil)
	if r.code != 0 || r.stdout != hello {
		t.Errorf("cat: %s", r)
	}
}

func TestExamplesBusyboxSh(t *testing.T) {
	im, rootfs, r := exRun(t, "busybox-sh", exBuild(t, "busybox-sh", nil), nil, nil)
	if want := "hello from /usr/sbin/busybox sh\nread: /read/hello.sh\n"; r.code != 0 || r.stdout != want {
		t.Errorf("busybox sh: want %q, got %s", want, r)
	}
	exReadOnly(t, im, rootfs, "/usr/sbin/busybox", "touch")
}

func TestExamplesHelloSh(t *testing.T) {
	im, rootfs, r := exRun(t, "hello-sh", exBuild(t, "hello-sh", nil), nil, nil)
	if want := "hello from microcontainer\n"; r.code != 0 || r.stdout != want {
		t.Errorf("hello-sh: want %q, got %s", want, r)
	}
	exReadOnly(t, im, rootfs, "/usr/bin/sh", "-c", `echo > "$0"`)
}

func TestExamplesUser1000(t *testing.T) {
	im, rootfs, r := exRun(t, "user-1000", exBuild(t, "user-1000", nil), nil, nil)
	if want := "uid=1000(smith) gid=1000(smith) groups=1000(smith),1001(wheel)\n"; r.code != 0 || r.stdout != want {
		t.Errorf("id smith: want %q, got %s", want, r)
	}
	if im.config.Config.User != "1000:1000" {
		t.Errorf("config User %q", im.config.Config.User)
	}
	group, err := os.ReadFile(filepath.Join(rootfs, "etc", "group"))
	if err != nil || !strings.Contains(string(group), "\nsmith:x:1000:\nwheel:x:1001:smith\n") {
		t.Errorf("/etc/group: %q %v", group, err)
	}
	// The process itself runs as the image's user and its name resolves.
	r = run(t, runOpts{}, exBwrap(t, im, rootfs, nil, "/usr/sbin/busybox", "id")...)
	if want := "uid=1000(smith) gid=1000(smith)"; r.code != 0 || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("id: want %q, got %s", want, r)
	}
}

// TestExamplesNginx runs nginx from the image with --share-net, fetches the
// page with Go's HTTP client, and checks that it wrote only to /write and
// /run (bound to host directories; the root is read-only).
func TestExamplesNginx(t *testing.T) {
	im := readExImage(t, exBuild(t, "nginx", nil))
	exGolden(t, "nginx", exDump(im, nil))
	exCheckPrinciples(t, im, []int{0})
	needBwrap(t, false)
	needX86(t)
	rootfs := filepath.Join(scratch(t), "rootfs")
	exUnpack(t, im, rootfs)
	for _, want := range []string{"/write", "/run"} {
		if _, ok := im.config.Config.Volumes[want]; !ok {
			t.Errorf("Volumes %v lack %s", im.config.Config.Volumes, want)
		}
	}
	if _, ok := im.config.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts %v", im.config.Config.ExposedPorts)
	}
	for _, lib := range []string{"libnss_files.so.2", "libnss_dns.so.2", "libresolv.so.2"} {
		if _, err := os.Stat(filepath.Join(rootfs, "usr", "lib64", lib)); err != nil {
			t.Errorf("nss: true did not bring %s: %v", lib, err)
		}
	}
	if l, err := net.Listen("tcp", "127.0.0.1:8080"); err != nil {
		skipOrFail(t, "127.0.0.1:8080 is taken: %v", err)
	} else {
		l.Close()
	}

	write, runDir := scratch(t), scratch(t)
	args := exBwrap(t, im, rootfs, []string{"--share-net", "--bind", write, "/write", "--bind", runDir, "/run"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel()
		<-exited
	}()

	const page = "<html><body><h1>Hello from a smith microcontainer</h1></body></html>\n"
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	var body string
	var err error
	for {
		var resp *http.Response
		resp, err = client.Get("http://127.0.0.1:8080/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /: %s", resp.Status)
			}
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("nginx exited (%v) before serving:\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer on 127.0.0.1:8080: %v\n%s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != page {
		t.Errorf("page %q, want %q", body, page)
	}
	// nginx logs the request after answering it.
	var logged []byte
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if logged, err = os.ReadFile(filepath.Join(write, "access.log")); err == nil && bytes.Contains(logged, []byte(`"GET / HTTP/1.1" 200`)) {
			break
		}
	}
	if !bytes.Contains(logged, []byte(`"GET / HTTP/1.1" 200`)) {
		t.Errorf("/write/access.log: %q %v", logged, err)
	}
	if b, err := os.ReadFile(filepath.Join(runDir, "nginx.pid")); err != nil || strings.TrimSpace(string(b)) == "" {
		t.Errorf("/run/nginx.pid: %q %v", b, err)
	}
	if s := stderr.String(); strings.Contains(s, "[emerg]") || strings.Contains(s, "Read-only file system") {
		t.Errorf("nginx complained:\n%s", s)
	}
}

// lockedBuffer collects a running process's output for the test to read.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestExamplesStaticFromParent: the cat example's image as the parent, a
// static Go binary built here put into rootfs/: the parent's layer is kept
// byte for byte under one new layer, the parent's config is the base, and
// both layers work together under bwrap.
func TestExamplesStaticFromParent(t *testing.T) {
	parent := exCatImage(t)
	const bin = "/usr/local/bin/hello-static"
	p := exBuild(t, "static-from-parent", func(dir string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := execGo(ctx, "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o",
			filepath.Join(dir, "rootfs", filepath.FromSlash(bin)), ".")
		cmd.Dir = filepath.Join(examplesDir(), "static-from-parent", "hello") // inside the module
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build hello-static: %v\n%s", err, out)
		}
		b, err := os.ReadFile(parent)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "parent.tar.gz"), string(b), 0o644)
	})
	im, rootfs, r := exRun(t, "static-from-parent", p, map[string]bool{bin: true}, nil)
	if want := "/read/static.txt: hello from the static layer\n/read/data: " + hello; r.code != 0 || r.stdout != want {
		t.Errorf("%s: want %q, got %s", bin, want, r)
	}
	cat := readExImage(t, parent)
	if len(im.man.Layers) != 2 || im.man.Layers[0].Digest != cat.man.Layers[0].Digest ||
		!bytes.Equal(im.raw[0], cat.raw[0]) {
		t.Errorf("layers %+v: want the parent's %s then one new layer", im.man.Layers, cat.man.Layers[0].Digest)
	}
	if got := strings.Join(im.config.Config.Cmd, " "); got != bin {
		t.Errorf("Cmd %q", got)
	}
	if im.config.Config.User != cat.config.Config.User {
		t.Errorf("User %q, parent's %q", im.config.Config.User, cat.config.Config.User)
	}
	// The parent's program still runs in the combined root.
	r = run(t, runOpts{}, exBwrap(t, im, rootfs, nil, "/usr/bin/cat", "/read/data")...)
	if r.code != 0 || r.stdout != hello {
		t.Errorf("the parent's cat: %s", r)
	}
}

// TestExamplesCatSize compares the cat example's uncompressed layer with
// the hand-made rootfs of ../shared/tools/smoke.sh (cat, ld.so, libc, the
// lib64 symlink and the data file: 2.2 MB): the image must hold nothing
// else of weight (target ratio ≤ 1.05).
func TestExamplesCatSize(t *testing.T) {
	im := readExImage(t, exCatImage(t))
	layer := im.layers[len(im.layers)-1]
	var files int64
	handMade := map[string]bool{"usr/bin/cat": true, "usr/lib64/ld-linux-x86-64.so.2": true, "usr/lib64/libc.so.6": true, "read/data": true}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, e := range layer {
		n := cleanName(e.hdr.Name)
		if handMade[n] {
			files += int64(len(e.data))
			delete(handMade, n)
			_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(e.data)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
			_, _ = tw.Write(e.data)
		}
	}
	if len(handMade) > 0 {
		t.Fatalf("the cat image lacks %v", handMade)
	}
	_ = tw.WriteHeader(&tar.Header{Name: "lib64", Linkname: "usr/lib64", Typeflag: tar.TypeSymlink, Format: tar.FormatUSTAR})
	for _, d := range []string{"usr/", "usr/bin/", "usr/lib64/", "read/"} {
		_ = tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir, Format: tar.FormatUSTAR})
	}
	_ = tw.Close()
	layerSize := int64(len(im.raw[len(im.raw)-1]))
	ratio := float64(layerSize) / float64(files)
	tarRatio := float64(layerSize) / float64(tarBuf.Len())
	t.Logf("cat layer: %d bytes uncompressed, %d entries; hand-made rootfs: %d bytes of files (%.2f MB), %d as a tar; ratio %.4f (files), %.4f (tar)",
		layerSize, len(layer), files, float64(files)/1e6, tarBuf.Len(), ratio, tarRatio)
	if ratio > 1.05 {
		t.Errorf("the cat layer is %.4f times the hand-made rootfs (target ≤ 1.05)", ratio)
	}
}

// TestExamplesBuildNumber: -b N annotates the smith blobs and the manifest
// in index.json with com.oracle.smith.build; without -b nothing is
// annotated (the original's <unixtime>-<hostname> default would break
// reproducibility).
func TestExamplesBuildNumber(t *testing.T) {
	const ann = "com.oracle.smith.build"
	without := readExImage(t, exCatImage(t))
	for _, d := range without.index.Manifests {
		if _, ok := d.Annotations[ann]; ok {
			t.Errorf("%s annotated %s without -b", d.MediaType, ann)
		}
	}
	with := readExImage(t, exBuild(t, "cat", nil, "-b", "1234"))
	if len(with.index.Manifests) != 3 {
		t.Fatalf("index.json has %d entries", len(with.index.Manifests))
	}
	for _, d := range with.index.Manifests {
		if d.Annotations[ann] != "1234" {
			t.Errorf("%s: annotations %v, want %s=1234", d.MediaType, d.Annotations, ann)
		}
	}
	if with.man.Layers[0].Digest != without.man.Layers[0].Digest {
		t.Error("-b changed the layer")
	}
}

// TestExamplesScripts runs mock.pre-build and mock.post-build through the
// CLI on the cat example: they get the tree in $SMITH_ROOT and $1 (a copy
// under $TMPDIR), the user's environment and the build directory as working
// directory; what they add, change and remove is what the image holds.
func TestExamplesScripts(t *testing.T) {
	p := exBuild(t, "cat", func(dir string) {
		b, err := os.ReadFile(filepath.Join(dir, "smith.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "smith.yaml"), string(b)+`mock:
  pre-build: |
    set -e
    case "$SMITH_ROOT" in "$TMPDIR"/*) ;; *) echo "not under TMPDIR: $SMITH_ROOT" >&2; exit 1;; esac
    test "$1" = "$SMITH_ROOT" && test -f smith.yaml && test -x "$1/usr/bin/ls"
    echo "from pre-build" > "$1/usr/bin/cat.txt"
  post-build: |
    set -e
    test ! -e "$1/usr/bin/ls"
    echo "changed by post-build" >> "$1/read/data"
    mkdir "$1/read/made" && ln -s ../data "$1/read/made/link"
    rm -r "$1/sys"
`, 0o644)
		// paths picks up what pre-build wrote.
		b, _ = os.ReadFile(filepath.Join(dir, "smith.yaml"))
		writeFile(t, filepath.Join(dir, "smith.yaml"), strings.Replace(string(b), "- /usr/bin/cat\ncmd:", "- /usr/bin/cat\n- /usr/bin/cat.txt\ncmd:", 1), 0o644)
	})
	im := readExImage(t, p)
	exCheckPrinciples(t, im, []int{0})
	files := map[string]tarEntry{}
	for _, e := range im.layers[0] {
		files[cleanName(e.hdr.Name)] = e
	}
	if e, ok := files["usr/bin/cat.txt"]; !ok || string(e.data) != "from pre-build\n" {
		t.Errorf("pre-build's file: %+v", e)
	}
	if e := files["read/data"]; string(e.data) != hello+"changed by post-build\n" {
		t.Errorf("/read/data: %q", e.data)
	}
	if e := files["read/made/link"]; e.hdr == nil || e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "../data" {
		t.Errorf("post-build's symlink: %+v", e.hdr)
	}
	if e, ok := files["sys"]; !ok || e.hdr.Typeflag != tar.TypeDir {
		t.Error("/sys, which post-build removed, was not made again")
	}
}
