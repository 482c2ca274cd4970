package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/smith-build/smith/image"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testRepo is the committed 17-package repository (the packages dnf picks
// for coreutils from the shared test bed).
func testRepo(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../testdata/repo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "repodata", "repomd.xml")); err != nil {
		t.Skipf("committed test repository missing: %v", err)
	}
	return p
}

const catYAML = `package: coreutils
paths:
- /usr/bin/cat
cmd:
- /usr/bin/cat
- /read/data
`

// project writes a build directory: smith.yaml plus files (paths relative to
// the directory; a value starting with "->" makes a symlink).
func project(t *testing.T, yaml string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["smith.yaml"] = yaml
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(data, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// opts are hermetic build options: fixed arch, no host repositories, a
// private cache.
func opts(t *testing.T, dir string, repos ...string) Options {
	return Options{
		Dir:      dir,
		Image:    filepath.Join(dir, "image.tar.gz"),
		Repos:    repos,
		HostArch: "x86_64",
		CacheDir: t.TempDir(),
		Version:  "test",
		SHA:      "0000000",
	}
}

func runBuild(t *testing.T, o Options) (*Result, string) {
	t.Helper()
	var warn bytes.Buffer
	o.Warn = &warn
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("build: %v\nwarnings:\n%s", err, warn.String())
	}
	return res, warn.String()
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// dumpLayer renders the top layer of the image at p, one entry per line:
// path, type, octal mode, uid:gid, then the content's short sha256, the link
// target, or the hardlink's first path.
func dumpLayer(t *testing.T, p string) string {
	t.Helper()
	rl, err := image.ReadLayoutTarGz(p)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := rl.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b strings.Builder
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "/%s: ", strings.TrimSuffix(h.Name, "/"))
		switch h.Typeflag {
		case tar.TypeDir:
			fmt.Fprintf(&b, "dir %04o %d:%d", h.Mode, h.Uid, h.Gid)
		case tar.TypeSymlink:
			fmt.Fprintf(&b, "symlink %s", h.Linkname)
		case tar.TypeLink:
			fmt.Fprintf(&b, "hardlink %04o %d:%d /%s", h.Mode, h.Uid, h.Gid, h.Linkname)
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(&b, "file %04o %d:%d %x", h.Mode, h.Uid, h.Gid, sum[:4])
		default:
			fmt.Fprintf(&b, "type %c", h.Typeflag)
		}
		if h.Uname != "" || h.Gname != "" {
			fmt.Fprintf(&b, " uname=%s gname=%s", h.Uname, h.Gname)
		}
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				fmt.Fprintf(&b, " %s", k)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestBuildCat(t *testing.T) {
	t.Parallel()
	repoDir := testRepo(t)
	dir := project(t, catYAML, map[string]string{
		"rootfs/read/data":       "Hello World!\n",
		"rootfs/read/.gitignore": "*.tmp\n",
		"rootfs/etc/motd":        "->/read/data",
	})
	o := opts(t, dir, repoDir)
	var log bytes.Buffer
	o.Log = &log
	o.BuildNumber = "42"
	res, warnings := runBuild(t, o)

	if want := "warning: repository repo has no gpgkey; packages are not signature-checked\n"; !strings.Contains(warnings, want) {
		t.Errorf("warnings %q do not contain %q", warnings, want)
	}
	if len(res.Packages) != 17 || res.Arch != "amd64" || res.Image != o.Image {
		t.Errorf("result %+v", res)
	}
	golden(t, "cat.dump", dumpLayer(t, o.Image))

	rl, err := image.ReadLayoutTarGz(o.Image)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rl.Image); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	cf, err := rl.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "amd64" || cf.OS != "linux" || cf.Config.User != "10:10" ||
		strings.Join(cf.Config.Cmd, " ") != "/usr/bin/cat /read/data" || !cf.Created.IsZero() {
		t.Errorf("config: %+v", cf)
	}
	if d, _ := rl.Image.Digest(); d.String() != res.Digest {
		t.Errorf("digest %s, result says %s", d, res.Digest)
	}
	ann := rl.Annotations
	if ann[image.AnnotationRefName] != "latest" || ann[image.AnnotationVersion] != "test" ||
		ann[image.AnnotationSHA] != "0000000" || ann[image.AnnotationBuild] != "42" {
		t.Errorf("annotations %v", ann)
	}
	if _, ok := ann[image.AnnotationCreated]; ok {
		t.Error("created annotation without SOURCE_DATE_EPOCH")
	}
	if len(rl.Extras) != 2 || rl.Extras[0].MediaType != image.MediaTypeSpec || rl.Extras[1].MediaType != image.MediaTypePackages {
		t.Fatalf("extras %+v", rl.Extras)
	}
	wantSpec := `{"type":"rpm","package":"coreutils","paths":["/usr/bin/cat"],"cmd":["/usr/bin/cat","/read/data"]}`
	if string(rl.Extras[0].Data) != wantSpec {
		t.Errorf("spec %s", rl.Extras[0].Data)
	}
	pkgs := string(rl.Extras[1].Data)
	if !strings.HasPrefix(pkgs, "basesystem-11-13.el9.noarch\nbash-5.2.15-3.el9.x86_64\n") ||
		!strings.Contains(pkgs, "\ngmp-1:6.2.1-2.el9.x86_64\n") || strings.Count(pkgs, "\n") != 17 {
		t.Errorf("package list:\n%s", pkgs)
	}
	for _, e := range rl.Extras {
		if e.Annotations[image.AnnotationBuild] != "42" {
			t.Errorf("%s blob annotations %v", e.MediaType, e.Annotations)
		}
	}
	if !strings.Contains(log.String(), "installing 17 packages") {
		t.Errorf("verbose log:\n%s", log.String())
	}
}

func TestReproducible(t *testing.T) {
	t.Parallel()
	repoDir := testRepo(t)
	dir := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	o := opts(t, dir, repoDir)
	runBuild(t, o)
	first := fileSHA(t, o.Image)

	// Another build directory, cache and output name: same bytes.
	dir2 := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	o2 := opts(t, dir2, repoDir)
	o2.Image = filepath.Join(dir2, "other.tar.gz")
	runBuild(t, o2)
	if got := fileSHA(t, o2.Image); got != first {
		t.Errorf("second build %s, first %s", got, first)
	}

	// SOURCE_DATE_EPOCH changes mtimes and adds created, reproducibly.
	epoch := time.Unix(1700000000, 0)
	o.SourceDateEpoch = &epoch
	runBuild(t, o)
	withEpoch := fileSHA(t, o.Image)
	if withEpoch == first {
		t.Error("SOURCE_DATE_EPOCH did not change the output")
	}
	rl, err := image.ReadLayoutTarGz(o.Image)
	if err != nil {
		t.Fatal(err)
	}
	if rl.Annotations[image.AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("created annotation %q", rl.Annotations[image.AnnotationCreated])
	}
	if cf, _ := rl.Image.ConfigFile(); !cf.Created.Time.Equal(epoch) {
		t.Errorf("config created %v", cf.Created)
	}
	runBuild(t, o)
	if got := fileSHA(t, o.Image); got != withEpoch {
		t.Error("builds with SOURCE_DATE_EPOCH differ")
	}
}

// TestRepoOrder splits the repository into two directories of .rpm files
// and gives them in both orders: the package order the solver and the
// extraction see changes, the output must not.
func TestRepoOrder(t *testing.T) {
	t.Parallel()
	repoDir := testRepo(t)
	rpms, err := filepath.Glob(filepath.Join(repoDir, "Packages", "*.rpm"))
	if err != nil || len(rpms) == 0 {
		t.Fatalf("no rpms: %v", err)
	}
	a, b := t.TempDir(), t.TempDir()
	for i, p := range rpms {
		dst := a
		if i%2 == 1 {
			dst = b
		}
		if err := os.Symlink(p, filepath.Join(dst, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	dir := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	var sums []string
	for _, order := range [][]string{{repoDir}, {a, b}, {b, a}} {
		o := opts(t, dir, order...)
		runBuild(t, o)
		sums = append(sums, fileSHA(t, o.Image))
	}
	if sums[0] != sums[1] || sums[1] != sums[2] {
		t.Errorf("outputs differ with the repository order: %v", sums)
	}
}

// copyRepo copies the test repository so that a test can damage it.
func copyRepo(t *testing.T) string {
	t.Helper()
	src := testRepo(t)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	repoDir := testRepo(t)

	// A repository whose primary.xml checksum in repomd.xml is wrong.
	badPrimary := copyRepo(t)
	repomd := filepath.Join(badPrimary, "repodata", "repomd.xml")
	data, err := os.ReadFile(repomd)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(<data type="primary">\s*<checksum type="sha256">)([0-9a-f]{64})`)
	if !re.Match(data) {
		t.Fatal("cannot find the primary checksum in repomd.xml")
	}
	data = re.ReplaceAll(data, []byte("${1}"+strings.Repeat("0", 64)))
	if err := os.WriteFile(repomd, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// A repository with one package's bytes damaged after createrepo.
	badRPM := copyRepo(t)
	victim := filepath.Join(badRPM, "Packages", "coreutils-9.1-12.el9.x86_64.rpm")
	rpmData, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	rpmData[len(rpmData)/2] ^= 0xff
	if err := os.WriteFile(victim, rpmData, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		yaml  string
		repos []string
		err   string
	}{
		{"nosuch", "package: nosuch\n", []string{repoDir}, `^no package provides "nosuch"$`},
		{"yaml syntax", "package: coreutils\npaths: [\n", []string{repoDir}, `^smith.yaml:2: `},
		{"unknown field", "package: coreutils\npathz: [/x]\n", []string{repoDir}, `^smith.yaml:2: unknown field "pathz"$`},
		{"missing path", "package: coreutils\npaths: [/usr/bin/nosuch]\n", []string{repoDir},
			`^paths: path "/usr/bin/nosuch" not found in the installed packages$`},
		{"wrong primary checksum", catYAML, []string{badPrimary}, `checksum mismatch for .*primary`},
		{"corrupted rpm in repo", catYAML, []string{badRPM}, `checksum mismatch for coreutils-9.1-12.el9.x86_64`},
		{"no repositories", catYAML, nil, `^no repositories configured: pass --repo PATH\|URL or add repos: to smith.yaml$`},
		{"repo dir missing", catYAML, []string{"nosuch-dir"}, `nosuch-dir`},
		{"oci source missing", "package: nosuch.tar.gz\n", nil, `^package nosuch.tar.gz: open .*nosuch.tar.gz: .*no such file`},
		{"pre-build fails", "package: coreutils\nmock:\n  pre-build: ./nosuch.sh\n", []string{repoDir},
			`^mock.pre-build "./nosuch.sh": exit status 127: .*nosuch.sh`},
		{"post-build fails", "package: coreutils\npaths: [/usr/bin/cat]\nmock:\n  post-build: echo broken >&2; exit 3\n", []string{repoDir},
			`^mock.post-build "echo broken >&2; exit 3": exit status 3: broken$`},
		{"post-build breaks the skeleton", "package: coreutils\npaths: [/usr/bin/cat]\nmock:\n  post-build: rm -r \"$1/read\" && touch \"$1/read\"\n", []string{repoDir},
			`^after mock.post-build: skeleton: /read exists and is not a directory$`},
		{"missing parent", "parent: nosuch.tar.gz\n", nil, `^parent nosuch.tar.gz: .*no such file`},
		{"missing debugpaths", "package: coreutils\npaths: [/usr/bin/cat]\nmock:\n  debuginfo: true\n  debugpaths: [/usr/lib/debug/nosuch]\n",
			[]string{repoDir}, `^mock.debugpaths: path "/usr/lib/debug/nosuch" not found`},
		{"bad exclude", "package: coreutils\nexcludes: ['[']\n", []string{repoDir}, `^excludes: bad pattern`},
	}
	// Damaged local .rpm files from the shared test data, when present.
	for _, rel := range []string{
		"rpm-org/hello-2.0-1.x86_64-corrupted.rpm",
		"scancode-truncated/broken.rpm",
		"scancode-truncated/apache-commons-io-2.4-12.el7.noarch.rpm",
		"scancode-truncated/fping-2.4b2to-20080101.src.rpm",
	} {
		p := filepath.Join(sharedTestdataDir(), "real/rpms/synthetic", rel)
		if !exists(p) {
			t.Logf("shared test data absent, skipping %s", rel)
			continue
		}
		tests = append(tests, struct {
			name  string
			yaml  string
			repos []string
			err   string
		}{"local " + rel, "package: " + p + "\n", []string{repoDir}, regexp.QuoteMeta(filepath.Base(p))})
	}
	// A truncated package in a repository.
	truncRepo := copyRepo(t)
	victim = filepath.Join(truncRepo, "Packages", "glibc-2.36-9.el9.x86_64.rpm")
	if err := os.Truncate(victim, 100000); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct {
		name  string
		yaml  string
		repos []string
		err   string
	}{"truncated rpm in repo", catYAML, []string{truncRepo}, `glibc-2.36-9.el9.x86_64`})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.yaml, map[string]string{})
			o := opts(t, dir, tt.repos...)
			// A previous image must survive a failed build.
			old := []byte("previous image")
			if err := os.WriteFile(o.Image, old, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Run(context.Background(), o)
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("error: %v", err)
			if !regexp.MustCompile(tt.err).MatchString(err.Error()) {
				t.Errorf("error %q does not match %q", err, tt.err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if got, _ := os.ReadFile(o.Image); !bytes.Equal(got, old) {
				t.Error("the previous image was changed")
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.Contains(e.Name(), "smith-tmp") {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
		})
	}
}

func sharedTestdataDir() string {
	p, _ := filepath.Abs("../../shared/testdata")
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestFailedBuildWritesNothing(t *testing.T) {
	t.Parallel()
	dir := project(t, "package: nosuch\n", map[string]string{})
	o := opts(t, dir, testRepo(t))
	if _, err := Run(context.Background(), o); err == nil {
		t.Fatal("no error")
	}
	if exists(o.Image) {
		t.Error("a failed build wrote an image")
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	dir := project(t, catYAML, map[string]string{})
	o := opts(t, dir, testRepo(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled build: %v", err)
	}
	if exists(o.Image) {
		t.Error("a cancelled build wrote an image")
	}
}

// unpackLayer writes the top layer of the image at p into dir.
func unpackLayer(t *testing.T, p, dir string) {
	t.Helper()
	rl, err := image.ReadLayoutTarGz(p)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := rl.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, os.FileMode(h.Mode).Perm()|0o700)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, dst)
		case tar.TypeLink:
			err = os.Link(filepath.Join(dir, filepath.FromSlash(h.Linkname)), dst)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(dst, data, os.FileMode(h.Mode).Perm())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunsUnderBwrap is the acceptance check: the cat
// microcontainer, unpacked, runs read-only under bubblewrap and prints the
// overlay's file.
func TestRunsUnderBwrap(t *testing.T) {
	t.Parallel()
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		t.Skip("bwrap not installed")
	}
	if out, err := exec.Command(bwrap, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "true").CombinedOutput(); err != nil {
		t.Skipf("bwrap cannot run here: %v: %s", err, out)
	}
	dir := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	o := opts(t, dir, testRepo(t))
	runBuild(t, o)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	unpackLayer(t, o.Image, rootfs)
	out, err := exec.Command(bwrap, "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all",
		"/usr/bin/cat", "/read/data").CombinedOutput()
	if err != nil || string(out) != "Hello World!\n" {
		t.Errorf("bwrap cat: %v: %q", err, out)
	}
}

// TestConfigMapping checks every smith.yaml field that reaches the OCI
// config or the tree: user, groups and nss files, mounts, ports, env, dir,
// labels, entrypoint.
func TestConfigMapping(t *testing.T) {
	t.Parallel()
	dir := project(t, `package: coreutils
paths: [/usr/bin/cat]
user: app:web
groups: [mock]
mounts: [/var/log/app, data]
ports: [80, 53/udp]
env: [PATH=/usr/bin, LANG=C]
dir: /write
labels: {maintainer: me}
entrypoint: [/usr/bin/cat]
cmd: [/read/data]
`, map[string]string{})
	o := opts(t, dir, testRepo(t))
	runBuild(t, o)
	rl, err := image.ReadLayoutTarGz(o.Image)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := rl.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "10:10" || c.WorkingDir != "/write" || strings.Join(c.Entrypoint, " ") != "/usr/bin/cat" ||
		strings.Join(c.Cmd, " ") != "/read/data" || strings.Join(c.Env, " ") != "PATH=/usr/bin LANG=C" ||
		c.Labels["maintainer"] != "me" || len(c.ExposedPorts) != 2 || len(c.Volumes) != 2 {
		t.Errorf("config: %+v", c)
	}
	for _, k := range []string{"80/tcp", "53/udp"} {
		if _, ok := c.ExposedPorts[k]; !ok {
			t.Errorf("port %s missing: %v", k, c.ExposedPorts)
		}
	}
	for _, k := range []string{"/var/log/app", "/data"} {
		if _, ok := c.Volumes[k]; !ok {
			t.Errorf("volume %s missing: %v", k, c.Volumes)
		}
	}
	dump := dumpLayer(t, o.Image)
	for _, want := range []string{
		"/etc/passwd: file 0644 10:10 ", "/etc/group: file 0644 10:10 ", "/etc/nsswitch.conf: file 0644 10:10 ",
		"/var/log/app: dir 0755 10:10", "/data: dir 0755 10:10",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("layer lacks %q:\n%s", want, dump)
		}
	}
	if !strings.Contains(dump, "/usr/lib64/libnss_files.so.2") && !strings.Contains(dump, "/usr/lib64/libresolv.so.2") {
		t.Logf("no nss libraries in the test packages:\n%s", dump)
	}
}

// TestPackageSources covers local .rpm files, mock.deps, weak: false,
// --no-weak, exclude-packages and arch.
func TestPackageSources(t *testing.T) {
	t.Parallel()
	repoDir := testRepo(t)
	local := filepath.Join(repoDir, "Packages", "coreutils-9.1-12.el9.x86_64.rpm")
	rel, err := filepath.Rel(t.TempDir(), local) // a path relative to a build directory
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		yaml   string
		noWeak bool
		arch   string
		count  int
		absent string
		err    string
	}{
		{name: "by name", yaml: catYAML, count: 17},
		{name: "local rpm, relative to the build directory", yaml: "package: " + rel + "\npaths: [/usr/bin/cat]\n", count: 17},
		{name: "mock.deps are installed", yaml: "package: bash\nmock:\n  deps: [coreutils]\npaths: [/usr/bin/cat]\n", count: 17},
		// glibc-langpack-en stays: glibc-common requires it or
		// glibc-minimal-langpack, which this repository lacks.
		{name: "weak: false", yaml: catYAML + "weak: false\n", count: 16, absent: "bash-completion"},
		{name: "--no-weak", yaml: catYAML, noWeak: true, count: 16, absent: "bash-completion"},
		{name: "exclude-packages", yaml: catYAML + "exclude-packages: [bash-completion]\n", count: 16, absent: "bash-completion"},
		{name: "arch from smith.yaml", yaml: catYAML + "arch: aarch64\n", err: "coreutils"},
		{name: "--arch wins", yaml: catYAML + "arch: aarch64\n", arch: "x86_64", count: 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.yaml, map[string]string{})
			o := opts(t, dir, repoDir)
			o.NoWeak, o.Arch = tt.noWeak, tt.arch
			if tt.err != "" {
				_, err := Run(context.Background(), o)
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			res, _ := runBuild(t, o)
			if len(res.Packages) != tt.count {
				t.Errorf("%d packages, want %d: %v", len(res.Packages), tt.count, res.Packages)
			}
			for _, p := range res.Packages {
				if tt.absent != "" && strings.HasPrefix(p, tt.absent+"-") {
					t.Errorf("%s installed", p)
				}
			}
			if !strings.Contains(dumpLayer(t, o.Image), "/usr/bin/cat: file 0755 10:10") {
				t.Error("no /usr/bin/cat")
			}
		})
	}
}

// TestParent builds on a local smith image: its layer stays, ours goes on
// top, and the platform comes from the parent when no package is installed.
func TestParent(t *testing.T) {
	t.Parallel()
	base := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	bo := opts(t, base, testRepo(t))
	runBuild(t, bo)
	parentRL, err := image.ReadLayoutTarGz(bo.Image)
	if err != nil {
		t.Fatal(err)
	}
	parentLayers, _ := parentRL.Image.Layers()
	parentDiff, _ := parentLayers[0].DiffID()

	dir := project(t, "parent: ../base.tar.gz\nenv: [A=1]\n", map[string]string{"rootfs/read/data": "Bye\n"})
	if err := os.Rename(bo.Image, filepath.Join(filepath.Dir(dir), "base.tar.gz")); err != nil {
		t.Fatal(err)
	}
	o := opts(t, dir)
	o.HostArch = "aarch64" // the parent's platform must win
	res, _ := runBuild(t, o)
	rl, err := image.ReadLayoutTarGz(o.Image)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rl.Image); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	layers, _ := rl.Image.Layers()
	if len(layers) != 2 {
		t.Fatalf("%d layers", len(layers))
	}
	if d, _ := layers[0].DiffID(); d != parentDiff {
		t.Errorf("parent layer changed: %s != %s", d, parentDiff)
	}
	cf, _ := rl.Image.ConfigFile()
	if res.Arch != "amd64" || cf.Architecture != "amd64" || strings.Join(cf.Config.Cmd, " ") != "/usr/bin/cat /read/data" ||
		strings.Join(cf.Config.Env, " ") != "A=1" {
		t.Errorf("config %+v, result %+v", cf, res)
	}
	if len(rl.Extras) != 1 || rl.Extras[0].MediaType != image.MediaTypeSpec {
		t.Errorf("extras of a build without packages: %+v", rl.Extras)
	}
	if !strings.Contains(dumpLayer(t, o.Image), "/read/data: file 0644 10:10 ") {
		t.Error("top layer lacks the overlay")
	}
}

// TestFast builds with -f: the first build saves the extracted packages,
// the second reuses them, and both write the bytes of a full build.
func TestFast(t *testing.T) {
	t.Parallel()
	dir := project(t, catYAML, map[string]string{"rootfs/read/data": "Hello World!\n"})
	o := opts(t, dir, testRepo(t))
	runBuild(t, o)
	full := fileSHA(t, o.Image)

	o.Fast = true
	build := func(wantLog string) {
		t.Helper()
		var log bytes.Buffer
		o.Log = &log
		runBuild(t, o)
		if !strings.Contains(log.String(), wantLog) {
			t.Errorf("log lacks %q:\n%s", wantLog, log.String())
		}
		if got := fileSHA(t, o.Image); got != full {
			t.Errorf("-f build differs from a full build")
		}
	}
	build("-f: no saved install of this package set yet; installing")
	build("-f: reusing the installed packages of the last -f build (17 packages)")
	entries, _ := filepath.Glob(filepath.Join(o.CacheDir, "fast", "*.tar"))
	if len(entries) != 1 {
		t.Fatalf("cache entries %v", entries)
	}

	// A damaged entry is a warning and a full install, with the same result.
	if err := os.WriteFile(entries[0], []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	o.Warn = &warn
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "doing a full install") || fileSHA(t, o.Image) != full {
		t.Errorf("damaged entry: %s", warn.String())
	}
	o.Warn = nil

	// Another package set: a new entry replaces the old one.
	if err := os.WriteFile(filepath.Join(dir, "smith.yaml"), []byte(catYAML+"exclude-packages: [bash-completion]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A killed -f build's temporary file (nobody holds its lock) goes.
	stale := filepath.Join(o.CacheDir, "fast", "."+filepath.Base(entries[0])+".smith-tmp-123")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	o.Log = &log
	runBuild(t, o)
	if !strings.Contains(log.String(), "no saved install") {
		t.Errorf("changed package set reused the old install:\n%s", log.String())
	}
	if after, _ := filepath.Glob(filepath.Join(o.CacheDir, "fast", "*.tar")); len(after) != 1 || after[0] == entries[0] {
		t.Errorf("cache entries after a change: %v (before %v)", after, entries)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("stale temporary file %s left in the -f cache", stale)
	}
}
