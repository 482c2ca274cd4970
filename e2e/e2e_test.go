package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// coreutils17 is what `dnf install coreutils` installs from the distro repo
// (../shared/tools/README.md, section 3), as name-[epoch:]version-release.arch.
var coreutils17 = []string{
	"basesystem-11-13.el9.noarch",
	"bash-5.2.15-3.el9.x86_64",
	"bash-completion-1:2.11-5.el9.noarch",
	"coreutils-9.1-12.el9.x86_64",
	"coreutils-common-9.1-12.el9.x86_64",
	"filesystem-3.16-2.el9.x86_64",
	"glibc-2.36-9.el9.x86_64",
	"glibc-common-2.36-9.el9.x86_64",
	"glibc-langpack-en-2.36-9.el9.x86_64",
	"gmp-1:6.2.1-2.el9.x86_64",
	"libacl-2.3.1-3.el9.x86_64",
	"libattr-2.5.1-4.el9.x86_64",
	"libselinux-3.4-1.el9.x86_64",
	"ncurses-base-6.4-4.el9.noarch",
	"ncurses-libs-6.4-4.el9.x86_64",
	"pcre2-10.42-1.el9.x86_64",
	"setup-2.13.7-9.el9.noarch",
}

// needX86 skips running an image on a host that cannot execute x86_64
// binaries (the test bed's packages are x86_64 only).
func needX86(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the images hold x86_64 binaries; this host is %s", runtime.GOARCH)
	}
}

// archArgs pins --arch x86_64 on other hosts, where smith would otherwise
// target the host's architecture, which the test bed does not have. On
// x86_64 the README's commands run exactly as written.
func archArgs() []string {
	if runtime.GOARCH == "amd64" {
		return nil
	}
	return []string{"--arch", "x86_64"}
}

// bwrapArgs is the command line of the issue, plus --die-with-parent.
func bwrapArgs(rootfs string, asUser bool) []string {
	a := []string{"bwrap"}
	if asUser {
		a = append(a, "--unshare-user")
	}
	return append(a, "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
		"--unshare-all", "--die-with-parent", "/usr/bin/cat", "/read/data")
}

// needBwrap skips (fails in CI) unless bwrap can set up its namespaces here,
// as the current user or as 65534.
func needBwrap(t *testing.T, asUser bool) {
	t.Helper()
	needTool(t, "bwrap", "bubblewrap")
	a := []string{"bwrap"}
	if asUser {
		a = append(a, "--unshare-user")
	}
	a = append(a, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "true")
	if r := run(t, runOpts{user: asUser}, a...); r.code != 0 {
		skipOrFail(t, "bwrap cannot create namespaces here (user namespaces disabled?): %s", r)
	}
}

// runCat runs /usr/bin/cat /read/data in rootfs under bwrap and requires
// "Hello World!".
func runCat(t *testing.T, rootfs string, asUser bool) {
	t.Helper()
	needX86(t)
	r := run(t, runOpts{user: asUser}, bwrapArgs(rootfs, asUser)...)
	if r.code != 0 || r.stdout != hello {
		t.Fatalf("running the microcontainer (user=%v) with %q: %s", asUser, bwrapArgs(rootfs, asUser), r)
	}
}

// runImage unpacks an image both ways (our tar reader; umoci when installed)
// and runs it under bwrap.
func runImage(t *testing.T, im *image) {
	t.Helper()
	needBwrap(t, false)
	rootfs := filepath.Join(scratch(t), "rootfs")
	unpackLayer(t, im, rootfs)
	runCat(t, rootfs, false)

	if _, ok := haveTool("umoci"); !ok {
		if inCI() {
			t.Fatal("CI=true: umoci not installed")
		}
		t.Log("umoci not installed: skipping the umoci unpack path")
		return
	}
	d := scratch(t)
	lay, bundle := filepath.Join(d, "layout"), filepath.Join(d, "bundle")
	unpackLayout(t, im, lay)
	if r := run(t, runOpts{}, "umoci", "unpack", "--rootless", "--image", lay+":latest", bundle); r.code != 0 {
		t.Fatalf("umoci unpack --rootless: %s", r)
	}
	runCat(t, filepath.Join(bundle, "rootfs"), false)
}

// readmeImages runs the README scenario of the issue in a fresh directory
// and returns image.tar.gz (then cat.tar.gz beside it).
func readmeImages(t *testing.T) (imagePath, catPath string) {
	shared := needShared(t)
	p := memoImage(t, "readme", func(t *testing.T, out string) error {
		root := scratch(t)
		// ../shared/testdata/distro/repo, literally, from the build dir.
		if err := os.Symlink(shared, filepath.Join(root, "shared")); err != nil {
			return err
		}
		dir := filepath.Join(root, "cat")
		writeCatDir(t, dir, "")
		home := scratch(t)
		o := runOpts{dir: dir, env: cleanEnv(home)}
		if r := smith(t, o, append(archArgs(), "--repo", "../shared/testdata/distro/repo")...); r.code != 0 {
			return fmt.Errorf("smith --repo ../shared/testdata/distro/repo: %s", r)
		}
		repo := filepath.Join(shared, "testdata", "distro", "repo")
		if r := smith(t, o, append(archArgs(), "-i", "cat.tar.gz", "--repo", "file://"+repo)...); r.code != 0 {
			return fmt.Errorf("smith -i cat.tar.gz --repo file://%s: %s", repo, r)
		}
		// Only the two images appear beside the inputs: no cache, no temp files.
		var got []string
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if want := []string{"cat.tar.gz", "image.tar.gz", "rootfs", "smith.yaml"}; !slices.Equal(got, want) {
			return fmt.Errorf("build dir holds %q after the builds, want %q", got, want)
		}
		for _, n := range []string{"image.tar.gz", "cat.tar.gz"} {
			if err := os.Rename(filepath.Join(dir, n), filepath.Join(filepath.Dir(out), n)); err != nil {
				return err
			}
		}
		return nil
	})
	return p, filepath.Join(filepath.Dir(p), "cat.tar.gz")
}

// TestReadme is the scenario: the README's cat example with the
// repository on the command line (a relative path, then a file:// URL), run
// under bwrap.
func TestReadme(t *testing.T) {
	imagePath, catPath := readmeImages(t)
	var ims []*image
	for _, p := range []string{imagePath, catPath} {
		t.Run(filepath.Base(p), func(t *testing.T) {
			im := readImage(t, p)
			ims = append(ims, im)
			checkMicrocontainer(t, im, 0)
			runImage(t, im)
		})
	}
	if len(ims) == 2 && ims[0].sha != ims[1].sha {
		t.Logf("note: image.tar.gz (%s) and cat.tar.gz (%s) differ although only the form of --repo changed", ims[0].sha, ims[1].sha)
	}
}

// TestExampleCat builds the committed, hermetic example (no shared test bed
// needed) and runs it.
func TestExampleCat(t *testing.T) {
	im := readImage(t, exampleImage(t))
	checkMicrocontainer(t, im, 0)
	if got := im.packages(t); !slices.Equal(got, coreutils17) {
		t.Errorf("packages blob:\n got %q\nwant %q", got, coreutils17)
	}
	runImage(t, im)
}

// TestHelpAndVersion checks the flags of the reference and -V's format.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"build", "--help"}} {
		r := smith(t, runOpts{}, args...)
		if r.code != 0 {
			t.Errorf("smith %s: %s", args, r)
			continue
		}
		for _, f := range []string{"--conf", "--dir", "--image", "--fast", "--buildnumber", "--insecure",
			"--verbose", "--version", "--repo", "--repofile", "--cache-dir", "--arch",
			"-c,", "-d,", "-i,", "-f,", "-b,", "-k,", "-v,", "-V,"} {
			if !strings.Contains(r.stdout+r.stderr, f) {
				t.Errorf("smith %s does not mention %s:\n%s", args, f, r.stdout)
			}
		}
	}
	r := smith(t, runOpts{}, "-V")
	if re := regexp.MustCompile(`^smith version \S+ \(built from sha \S+\)\n$`); r.code != 0 || !re.MatchString(r.stdout) {
		t.Errorf("smith -V: want %s, got %s", re, r)
	}
}

// TestUnprivileged builds the example again as uid/gid 65534 with HOME,
// TMPDIR and the cache in a directory that user owns, and requires the same
// bytes as root's build; then runs the image under bwrap as that user.
func TestUnprivileged(t *testing.T) {
	needRoot(t)
	needTool(t, "setpriv", "util-linux")
	rootSHA := readImage(t, exampleImage(t)).sha

	u := scratch(t)
	dir := copyExample(t, filepath.Join(u, "src"))
	for _, d := range []string{"home", "tmp", "cache"} {
		if err := os.MkdirAll(filepath.Join(u, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, u)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(u, "home"),
		"TMPDIR=" + filepath.Join(u, "tmp"),
	}
	mustSmith(t, runOpts{dir: dir, env: env, user: true}, "--cache-dir", filepath.Join(u, "cache"))
	out := filepath.Join(dir, "image.tar.gz")
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := statOwner(fi); ok && st != 65534 {
		t.Errorf("image.tar.gz owned by uid %d, want 65534", st)
	}
	im := readImage(t, out)
	if im.sha != rootSHA {
		t.Errorf("unprivileged build sha256 %s, root build %s", im.sha, rootSHA)
	}

	needBwrap(t, true)
	rootfs := filepath.Join(scratch(t), "rootfs")
	unpackLayer(t, im, rootfs)
	runCat(t, rootfs, true)
}

// TestReproducible builds the example in two other places with another TZ,
// umask, locale, HOME, cache and CPU count: same bytes. Then SOURCE_DATE_EPOCH sets the
// layer mtimes and the created dates.
func TestReproducible(t *testing.T) {
	ref := readImage(t, exampleImage(t))

	type variant struct {
		name  string
		umask string
		env   []string
	}
	variants := []variant{
		// The CPU count decides how the work is spread (parallel
		// expansion and gzip, files compressed ahead), never the bytes.
		{"utc-022", "022", []string{"TZ=UTC", "LANG=C", "GOMAXPROCS=1"}},
		{"chatham-077", "077", []string{"TZ=Pacific/Chatham", "LC_ALL=de_DE.UTF-8", "LANG=de_DE.UTF-8", "SMITH_E2E_NOISE=1", "COLUMNS=7", "GOMAXPROCS=5"}},
	}
	build := func(t *testing.T, v variant, extra ...string) *image {
		t.Helper()
		// Different depths, so no absolute path can leak unnoticed.
		root := filepath.Join(scratch(t), v.name, strings.Repeat("x/", len(v.name)%5))
		dir := copyExample(t, root)
		home := scratch(t)
		o := runOpts{dir: dir, umask: v.umask, env: cleanEnv(home, append(v.env, extra...)...)}
		mustSmith(t, o, "--cache-dir", filepath.Join(home, "cache"))
		return readImage(t, filepath.Join(dir, "image.tar.gz"))
	}

	for _, v := range variants {
		im := build(t, v)
		if im.sha != ref.sha {
			t.Errorf("%s: sha256 %s, reference build %s", v.name, im.sha, ref.sha)
			diffImages(t, ref, im)
		}
	}

	// No SOURCE_DATE_EPOCH: mtimes 0 and no created date from the clock.
	checkMicrocontainer(t, ref, 0)
	if c := ref.config.Created; c != nil {
		if ts, err := time.Parse(time.RFC3339Nano, *c); err == nil && ts.Unix() > 0 {
			t.Errorf("config created %s without SOURCE_DATE_EPOCH", *c)
		}
	}
	if c, ok := ref.manifest.Annotations[annCreated]; ok {
		t.Errorf("manifest annotation %s=%s without SOURCE_DATE_EPOCH (the reference leaves it out)", annCreated, c)
	}
	if c, ok := ref.desc.Annotations[annCreated]; ok {
		t.Errorf("index annotation %s=%s without SOURCE_DATE_EPOCH (the reference leaves it out)", annCreated, c)
	}

	const sde = 1700000000
	want := time.Unix(sde, 0).UTC()
	var sdeSHA []string
	for _, v := range variants {
		im := build(t, v, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", sde))
		sdeSHA = append(sdeSHA, im.sha)
		checkMicrocontainer(t, im, sde)
		if im.config.Created == nil {
			t.Errorf("%s: config has no created with SOURCE_DATE_EPOCH", v.name)
		} else if ts, err := time.Parse(time.RFC3339Nano, *im.config.Created); err != nil || !ts.Equal(want) {
			t.Errorf("%s: config created %q, want %s", v.name, *im.config.Created, want.Format(time.RFC3339))
		}
		for where, ann := range map[string]map[string]string{"manifest": im.manifest.Annotations, "index": im.desc.Annotations} {
			if c, ok := ann[annCreated]; ok {
				if ts, err := time.Parse(time.RFC3339Nano, c); err != nil || !ts.Equal(want) {
					t.Errorf("%s: %s annotation %s=%q, want %s", v.name, where, annCreated, c, want.Format(time.RFC3339))
				}
			}
		}
		if im.sha == ref.sha {
			t.Errorf("%s: SOURCE_DATE_EPOCH did not change the image", v.name)
		}
	}
	if sdeSHA[0] != sdeSHA[1] {
		t.Errorf("SOURCE_DATE_EPOCH builds differ between time zones/umasks: %s vs %s", sdeSHA[0], sdeSHA[1])
	}
}

// diffImages logs where two images differ, to make a reproducibility
// failure actionable.
func diffImages(t *testing.T, a, b *image) {
	t.Helper()
	if !bytes.Equal(a.files["index.json"], b.files["index.json"]) {
		t.Logf("index.json differs:\n%s\n%s", a.files["index.json"], b.files["index.json"])
	}
	if !bytes.Equal(a.rawConfig, b.rawConfig) {
		t.Logf("config differs:\n%s\n%s", a.rawConfig, b.rawConfig)
	}
	if !bytes.Equal(a.blob(t, a.extra(t, mtSpec)), b.blob(t, b.extra(t, mtSpec))) {
		t.Logf("spec blob differs:\n%s\n%s", a.blob(t, a.extra(t, mtSpec)), b.blob(t, b.extra(t, mtSpec)))
	}
	if bytes.Equal(a.layerBytes, b.layerBytes) {
		if a.manifest.Layers[0].Digest != b.manifest.Layers[0].Digest {
			t.Logf("same layer tar, different gzip stream")
		}
		return
	}
	ah := map[string]string{}
	for _, e := range a.layer {
		ah[cleanName(e.hdr.Name)] = fmt.Sprintf("%c %o %d:%d %d %s %q %s", e.hdr.Typeflag, e.hdr.Mode, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime.Unix(), e.hdr.Linkname, e.hdr.PAXRecords, sha256Hex(e.data))
	}
	n := 0
	for _, e := range b.layer {
		k := cleanName(e.hdr.Name)
		s := fmt.Sprintf("%c %o %d:%d %d %s %q %s", e.hdr.Typeflag, e.hdr.Mode, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime.Unix(), e.hdr.Linkname, e.hdr.PAXRecords, sha256Hex(e.data))
		if ah[k] != s && n < 20 {
			t.Logf("layer entry %s: %q vs %q", k, ah[k], s)
			n++
		}
	}
	if len(a.layer) != len(b.layer) {
		t.Logf("layer entry counts %d vs %d", len(a.layer), len(b.layer))
	}
}

// TestBadInput: each bad input gives a non-zero exit, one `smith: ` error
// line, and no image: none written, or the previous one left byte-identical,
// and no temp file left beside it.
func TestBadInput(t *testing.T) {
	repo := exampleRepo()
	type tc struct {
		name  string
		setup func(t *testing.T, dir string) // writes the build dir
		args  []string
		want  string // regexp the error line must match
	}
	cat := func(extra string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			writeCatDir(t, dir, extra)
		}
	}
	yaml := func(content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "smith.yaml"), content, 0o644)
			writeFile(t, filepath.Join(dir, "rootfs", "read", "data"), hello, 0o644)
		}
	}
	reposYAML := "repos:\n- " + repo + "\n"
	corrupted := func(t *testing.T) string {
		return filepath.Join(needShared(t), "testdata", "real", "rpms", "synthetic", "rpm-org", "hello-2.0-1.x86_64-corrupted.rpm")
	}
	truncated := func(t *testing.T, name string) string {
		return filepath.Join(needShared(t), "testdata", "real", "rpms", "synthetic", "scancode-truncated", name)
	}
	cases := []tc{
		{
			name:  "nosuch",
			setup: yaml("package: nosuch\npaths:\n- /usr/bin/cat\n" + reposYAML),
			want:  `no package provides "nosuch"`,
		},
		{
			name:  "yaml-syntax",
			setup: yaml("package: coreutils\npaths:\n- /usr/bin/cat\ncmd: a: b\n" + reposYAML),
			want:  `(?i)(line 4\b|:4\b|\[4:)`,
		},
		{
			name:  "yaml-unknown-field",
			setup: yaml("package: coreutils\npakage: coreutils\npaths:\n- /usr/bin/cat\n" + reposYAML),
			want:  `pakage.*(line 2\b|:2\b|\[2:)|(line 2\b|:2\b|\[2:).*pakage`,
		},
		{
			name:  "missing-path",
			setup: yaml("package: coreutils\npaths:\n- /usr/bin/cat\n- /usr/bin/nosuchcat\ncmd:\n- /usr/bin/cat\n" + reposYAML),
			want:  `/usr/bin/nosuchcat`,
		},
		{
			name:  "missing-conf",
			setup: cat(reposYAML),
			args:  []string{"-c", "nosuch.yaml"},
			want:  `nosuch\.yaml`,
		},
		{
			name:  "extra-argument",
			setup: cat(reposYAML),
			args:  []string{"extra-positional-argument"},
			want:  `extra-positional-argument`,
		},
		{
			name: "primary-checksum",
			setup: func(t *testing.T, dir string) {
				r := filepath.Join(dir, "repo")
				copyTree(t, repo, r)
				corruptPrimary(t, r)
				writeCatDir(t, dir, "repos:\n- repo\n")
			},
			want: `(?i)checksum`,
		},
		{
			name: "truncated-rpm-stale-metadata",
			setup: func(t *testing.T, dir string) {
				r := filepath.Join(dir, "repo")
				copyTree(t, repo, r)
				truncateFile(t, filepath.Join(r, "Packages", "coreutils-9.1-12.el9.x86_64.rpm"))
				writeCatDir(t, dir, "repos:\n- repo\n")
			},
			want: `coreutils`,
		},
		{
			name: "truncated-rpm-in-repo",
			setup: func(t *testing.T, dir string) {
				needTool(t, "createrepo_c", "createrepo-c")
				r := filepath.Join(dir, "repo")
				copyTree(t, filepath.Join(repo, "Packages"), filepath.Join(r, "Packages"))
				truncateFile(t, filepath.Join(r, "Packages", "coreutils-9.1-12.el9.x86_64.rpm"))
				createrepo(t, r)
				writeCatDir(t, dir, "repos:\n- repo\n")
			},
			want: `coreutils`,
		},
		{
			name: "corrupted-rpm-in-repo",
			setup: func(t *testing.T, dir string) {
				needTool(t, "createrepo_c", "createrepo-c")
				r := filepath.Join(dir, "repo")
				copyTree(t, filepath.Join(repo, "Packages"), filepath.Join(r, "Packages"))
				b, err := os.ReadFile(corrupted(t))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(r, "Packages", "hello-2.0-1.x86_64.rpm"), string(b), 0o644)
				createrepo(t, r)
				writeFile(t, filepath.Join(dir, "smith.yaml"), "package: hello\npaths:\n- /usr/bin/hello\nrepos:\n- repo\n", 0o644)
			},
			want: `hello`,
		},
		{
			name: "corrupted-rpm-local",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "smith.yaml"), "package:\n- "+corrupted(t)+"\npaths:\n- /usr/bin/hello\n"+reposYAML, 0o644)
			},
			want: `hello`,
		},
		{
			name: "truncated-rpm-local-broken",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "smith.yaml"), "package:\n- "+truncated(t, "broken.rpm")+"\npaths:\n- /usr/bin/cat\n"+reposYAML, 0o644)
			},
			want: `broken\.rpm`,
		},
		{
			name: "truncated-rpm-local-readable-header",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "smith.yaml"), "package:\n- "+truncated(t, "apache-commons-io-2.4-12.el7.noarch.rpm")+"\npaths:\n- /usr/share\n"+reposYAML, 0o644)
			},
			want: `.`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, preexisting := range []bool{false, true} {
				dir := filepath.Join(scratch(t), "build")
				c.setup(t, dir)
				out := filepath.Join(dir, "image.tar.gz")
				const old = "the previous image\n"
				if preexisting {
					writeFile(t, out, old, 0o644)
				}
				before := listTree(t, dir)
				r := smith(t, runOpts{dir: dir}, append([]string{"--cache-dir", filepath.Join(scratch(t), "cache")}, c.args...)...)
				if r.code == 0 {
					t.Fatalf("preexisting=%v: smith succeeded on bad input: %s", preexisting, r)
				}
				line := stderrError(t, r)
				if !regexp.MustCompile(c.want).MatchString(line) {
					t.Errorf("preexisting=%v: error line %q does not match %q", preexisting, line, c.want)
				}
				if after := listTree(t, dir); after != before {
					t.Errorf("preexisting=%v: the build dir changed (image written, or a temp file left):\nbefore:\n%safter:\n%s", preexisting, before, after)
				}
				if !preexisting {
					t.Logf("stderr: %s", strings.TrimSpace(r.stderr))
				}
			}
		})
	}
}

// corruptPrimary rewrites primary.xml.gz with valid gzip but different
// content (one changed summary), so only the checksum can tell.
func corruptPrimary(t *testing.T, repoDir string) {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(repoDir, "repodata", "*primary.xml.gz"))
	if len(ms) != 1 {
		t.Fatalf("primary.xml.gz in %s: %q", repoDir, ms)
	}
	b, err := os.ReadFile(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var xml bytes.Buffer
	if _, err := xml.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(xml.Bytes(), []byte("<summary>"), []byte("<summary>tampered "), 1)
	if bytes.Equal(changed, xml.Bytes()) {
		t.Fatal("no <summary> in primary.xml")
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(changed)
	zw.Close()
	writeFile(t, ms[0], gz.String(), 0o644)
}

// truncateFile cuts a file to 60% of its size (past the header, inside the
// payload).
func truncateFile(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, fi.Size()*6/10); err != nil {
		t.Fatal(err)
	}
}

func createrepo(t *testing.T, dir string) {
	t.Helper()
	if r := run(t, runOpts{}, "createrepo_c", "--quiet", "--no-database", dir); r.code != 0 {
		t.Fatalf("createrepo_c: %s", r)
	}
}

// TestSolverAgreesWithDnf: the cat build from the distro repo lists exactly
// the 17 packages dnf picks (16 with --no-weak: no bash-completion, which
// comes only from a weak dependency); when dnf is installed, dnf is asked
// too, with install_weak_deps off for the second case.
func TestSolverAgreesWithDnf(t *testing.T) {
	noWeak := slices.DeleteFunc(slices.Clone(coreutils17), func(s string) bool {
		return strings.HasPrefix(s, "bash-completion-")
	})
	for _, tc := range []struct {
		name string
		want []string
		dnf  []string // extra dnf options
	}{
		{"weak", coreutils17, nil},
		{"no-weak", noWeak, []string{"--setopt=install_weak_deps=False"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var imagePath string
			if tc.name == "weak" {
				imagePath, _ = readmeImages(t)
			} else {
				dir := filepath.Join(scratch(t), "cat")
				writeCatDir(t, dir, "")
				mustSmith(t, runOpts{dir: dir}, append(archArgs(), "--repo", distroRepo(t), "--no-weak", "--cache-dir", filepath.Join(scratch(t), "cache"))...)
				imagePath = filepath.Join(dir, "image.tar.gz")
			}
			got := readImage(t, imagePath).packages(t)
			if !slices.Equal(got, tc.want) {
				t.Errorf("packages blob of the cat build from the distro repo:\n got %q\nwant %q", got, tc.want)
			}
			if _, ok := haveTool("dnf"); !ok {
				if inCI() {
					t.Fatal("CI=true: dnf not installed")
				}
				t.Skip("dnf not installed: compared with the recorded list only")
			}
			needRoot(t)
			needTool(t, "rpm", "rpm")
			dnfSet := dnfInstall(t, distroRepo(t), filepath.Join(scratch(t), "root"), append(tc.dnf, "coreutils")...)
			if !slices.Equal(dnfSet, tc.want) {
				t.Errorf("dnf picked (update the expectation if the test bed changed):\n got %q\nwant %q", dnfSet, tc.want)
			}
			if !slices.Equal(got, dnfSet) {
				t.Errorf("smith and dnf disagree:\nsmith %q\n  dnf %q", got, dnfSet)
			}
		})
	}
}

// dnfInstall runs the peer: dnf --installroot on repo, and returns the
// installed NEVRAs (epoch only when set), sorted.
func dnfInstall(t testing.TB, repo, root string, specs ...string) []string {
	t.Helper()
	args := append(dnfArgs(repo, root), specs...)
	if r := run(t, runOpts{env: os.Environ()}, args...); r.code != 0 {
		t.Fatalf("%q: %s", args, r)
	}
	// Debian's rpm keeps its db in /root/.rpmdb, also inside the root;
	// rpm --root finds it there.
	r := run(t, runOpts{env: os.Environ()}, "rpm", "--root", root, "-qa", "--qf", `%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\n`)
	if r.code != 0 {
		t.Fatalf("rpm -qa: %s", r)
	}
	var out []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "gpg-pubkey-") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func dnfArgs(repo, root string) []string {
	return []string{"dnf", "-y", "-q", "--installroot", root, "--repofrompath=tb," + repo, "--repo=tb",
		"--setopt=reposdir=/dev/null", "--nogpgcheck", "--releasever=9", "install"}
}

// TestValidate proves that other readers accept the image:
// go-containerregistry's validate.Image, skopeo and umoci.
func TestValidate(t *testing.T) {
	im := readImage(t, exampleImage(t))
	lay := filepath.Join(scratch(t), "layout")
	unpackLayout(t, im, lay)

	t.Run("go-containerregistry", func(t *testing.T) {
		img, err := im.v1Image()
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("validate.Image: %v", err)
		}
	})
	t.Run("skopeo", func(t *testing.T) {
		needTool(t, "skopeo", "skopeo")
		r := run(t, runOpts{env: os.Environ()}, "skopeo", "inspect", "--raw", "oci:"+lay+":latest")
		if r.code != 0 {
			t.Fatalf("skopeo inspect --raw: %s", r)
		}
		if r.stdout != string(im.rawMan) {
			t.Errorf("skopeo inspect --raw returned another manifest:\n%s\nwant\n%s", r.stdout, im.rawMan)
		}
		r = run(t, runOpts{env: os.Environ()}, "skopeo", "inspect", "oci:"+lay+":latest")
		if r.code != 0 {
			t.Fatalf("skopeo inspect: %s", r)
		}
		var info struct {
			Architecture string
			Os           string
			Layers       []string
		}
		if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
			t.Fatalf("skopeo inspect: %v\n%s", err, r.stdout)
		}
		if info.Architecture != "amd64" || info.Os != "linux" || len(info.Layers) != 1 {
			t.Errorf("skopeo inspect: %+v", info)
		}
	})
	t.Run("umoci", func(t *testing.T) {
		needTool(t, "umoci", "umoci")
		bundle := filepath.Join(scratch(t), "bundle")
		if r := run(t, runOpts{env: os.Environ()}, "umoci", "unpack", "--rootless", "--image", lay+":latest", bundle); r.code != 0 {
			t.Fatalf("umoci unpack: %s", r)
		}
		b, err := os.ReadFile(filepath.Join(bundle, "rootfs", "read", "data"))
		if err != nil || string(b) != hello {
			t.Errorf("umoci's rootfs /read/data: %q, %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(bundle, "rootfs", "usr", "bin", "cat")); err != nil {
			t.Error(err)
		}
	})
}

// TestCrossCompile: the same source builds for macOS without cgo (issue 2's
// "Done when"; `make cross` also builds linux/arm64).
func TestCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, p := range []struct{ goos, goarch string }{{"darwin", "arm64"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := execGo(ctx, "build", "./...")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.goos, "GOARCH="+p.goarch)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("GOOS=%s GOARCH=%s CGO_ENABLED=0 go build ./...: %v\n%s", p.goos, p.goarch, err, out)
		}
	}
}

// TestConfigFields maps the smith.yaml fields of the original onto the
// image: the OCI config (entrypoint, cmd, env, dir, labels, ports in both
// forms, mounts, user), owners from user:, /etc/passwd and /etc/group from
// nss/groups, and excludes applied after the closure.
func TestConfigFields(t *testing.T) {
	dir := filepath.Join(scratch(t), "build")
	writeFile(t, filepath.Join(dir, "smith.yaml"), `package: coreutils
paths:
- /usr/bin/cat
- /usr/bin/ls
excludes:
- /usr/bin/ls
entrypoint: [/usr/bin/cat]
cmd: [/read/data]
env: [A=1, B=two words]
dir: /read
labels: {maintainer: me, x: "y"}
ports: [80, "53/udp"]
mounts: [/write]
user: 1000:1000
groups: [extra]
repos: [`+exampleRepo()+`]
arch: x86_64
`, 0o644)
	writeFile(t, filepath.Join(dir, "rootfs", "read", "data"), hello, 0o644)
	mustSmith(t, runOpts{dir: dir}, "--cache-dir", filepath.Join(scratch(t), "cache"))
	im := readImage(t, filepath.Join(dir, "image.tar.gz"))

	var cfg struct {
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			Env          []string
			WorkingDir   string
			Labels       map[string]string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
		} `json:"config"`
	}
	if err := json.Unmarshal(im.rawConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("config %s = %v, want %v", what, got, want)
		}
	}
	check("Entrypoint", c.Entrypoint, []string{"/usr/bin/cat"})
	check("Cmd", c.Cmd, []string{"/read/data"})
	check("Env", c.Env, []string{"A=1", "B=two words"})
	check("WorkingDir", c.WorkingDir, "/read")
	check("Labels", c.Labels, map[string]string{"maintainer": "me", "x": "y"})
	check("ExposedPorts", c.ExposedPorts, map[string]struct{}{"80/tcp": {}, "53/udp": {}})
	check("Volumes", c.Volumes, map[string]struct{}{"/write": {}})
	check("User", c.User, "1000:1000")

	for _, e := range im.layer {
		if e.hdr.Uid != 1000 || e.hdr.Gid != 1000 {
			t.Errorf("%s: owner %d:%d, want 1000:1000 (user:)", e.hdr.Name, e.hdr.Uid, e.hdr.Gid)
			break
		}
	}
	if im.entry("usr/bin/ls") != nil {
		t.Error("/usr/bin/ls is in the image despite excludes")
	}
	if im.entry("usr/bin/cat") == nil {
		t.Error("/usr/bin/cat missing")
	}
	passwd, group := im.entry("etc/passwd"), im.entry("etc/group")
	if passwd == nil || !regexp.MustCompile(`(?m)^[^:]+:x:1000:1000:`).Match(passwd.data) {
		t.Errorf("/etc/passwd has no entry for 1000:1000 (groups: turns nss on): %v", passwd)
	}
	if group == nil || !regexp.MustCompile(`(?m)^extra:x:1001:\S+$`).Match(group.data) {
		t.Errorf("/etc/group has no extra:x:1001:<user> (the next gid, the run-as user a member): %v", group)
	}

	needBwrap(t, false)
	needX86(t)
	rootfs := filepath.Join(scratch(t), "rootfs")
	unpackLayer(t, im, rootfs)
	args := append([]string{"bwrap", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
		"--unshare-all", "--die-with-parent", "--chdir", c.WorkingDir}, append(c.Entrypoint, c.Cmd...)...)
	if r := run(t, runOpts{}, args...); r.code != 0 || r.stdout != hello {
		t.Errorf("%q: %s", args, r)
	}
}

// TestLocalRPM: a local .rpm file as a package: entry (relative to the build
// dir), its dependencies from the repository, gives the same layer and
// package list as installing it by name.
func TestLocalRPM(t *testing.T) {
	ref := readImage(t, exampleImage(t))
	dir := copyExample(t, scratch(t))
	b, err := os.ReadFile(filepath.Join(dir, "smith.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(b), "package: coreutils\n", "package:\n- ../../repo/Packages/coreutils-9.1-12.el9.x86_64.rpm\n", 1)
	if conf == string(b) {
		t.Fatal("the example smith.yaml has no `package: coreutils` line")
	}
	writeFile(t, filepath.Join(dir, "smith.yaml"), conf, 0o644)
	mustSmith(t, runOpts{dir: dir}, "--cache-dir", filepath.Join(scratch(t), "cache"))
	im := readImage(t, filepath.Join(dir, "image.tar.gz"))
	if got := im.packages(t); !slices.Equal(got, coreutils17) {
		t.Errorf("packages blob:\n got %q\nwant %q", got, coreutils17)
	}
	if im.manifest.Layers[0].Digest != ref.manifest.Layers[0].Digest {
		t.Errorf("layer %s, by name %s", im.manifest.Layers[0].Digest, ref.manifest.Layers[0].Digest)
		diffImages(t, ref, im)
	}
}

// TestMockConfig: with no --repo and no repos:, the repositories come from
// the yum/dnf.conf sections of the mock config named in smith.yaml (mock
// itself is not run), and the image is the same as the example's layer.
func TestMockConfig(t *testing.T) {
	ref := readImage(t, exampleImage(t))
	dir := filepath.Join(scratch(t), "build")
	writeCatDir(t, dir, "arch: x86_64\nmock:\n  config: mock.cfg\n")
	writeFile(t, filepath.Join(dir, "mock.cfg"), `config_opts['root'] = 'smith-e2e'
config_opts['target_arch'] = 'x86_64'
config_opts['dnf.conf'] = """
[main]
keepcache=1

[testbed]
name=committed test repository
baseurl=file://`+exampleRepo()+`
gpgcheck=0
enabled=1
"""
`, 0o644)
	mustSmith(t, runOpts{dir: dir}, "--cache-dir", filepath.Join(scratch(t), "cache"))
	im := readImage(t, filepath.Join(dir, "image.tar.gz"))
	if got := im.packages(t); !slices.Equal(got, coreutils17) {
		t.Errorf("packages blob:\n got %q\nwant %q", got, coreutils17)
	}
	if im.manifest.Layers[0].Digest != ref.manifest.Layers[0].Digest {
		t.Errorf("layer %s, the example's %s", im.manifest.Layers[0].Digest, ref.manifest.Layers[0].Digest)
		diffImages(t, ref, im)
	}
}

// TestFast: -f reuses the last -f build's package install when the package
// set is unchanged, and its output is the same bytes as a full build; the
// saved install lives in the cache dir, not beside smith.yaml.
func TestFast(t *testing.T) {
	ref := readImage(t, exampleImage(t))
	dir := copyExample(t, scratch(t))
	cache := filepath.Join(scratch(t), "cache")
	before := listTree(t, dir)
	for i := range 2 {
		out := filepath.Join(scratch(t), "fast.tar.gz")
		mustSmith(t, runOpts{dir: dir}, "-f", "--cache-dir", cache, "-i", out)
		if im := readImage(t, out); im.sha != ref.sha {
			t.Errorf("-f build %d: sha256 %s, full build %s", i+1, im.sha, ref.sha)
			diffImages(t, ref, im)
		}
	}
	if after := listTree(t, dir); after != before {
		t.Errorf("-f wrote into the build dir:\nbefore:\n%safter:\n%s", before, after)
	}
}
