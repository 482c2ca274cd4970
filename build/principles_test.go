package build

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/internal/rpmfixture"
)

// featureSpecs is a fixture distribution for the smith.yaml features:
// build-id links, capabilities, debuginfo packages, a mock.deps tool with a
// library of its own.
func featureSpecs() []rpmfixture.Spec {
	fs := fixtureSpecs()[0] // filesystem
	return []rpmfixture.Spec{fs,
		{Name: "app", Version: "2.0", Release: "1", Requires: []string{"filesystem"}, Files: []rpmfixture.File{
			{Path: "/usr/bin/app", Mode: 0o755, Data: []byte("app\n")},
			{Path: "/usr/bin/other", Mode: 0o755, Data: []byte("other\n")},
			{Path: "/usr/bin/capped", Mode: 0o755, Data: []byte("capped\n"), Caps: "cap_net_bind_service=ep"},
			{Path: "/usr/lib/.build-id/aa/1111", LinkTarget: "../../../../usr/bin/app"},
			{Path: "/usr/lib/.build-id/bb/2222", LinkTarget: "../../../../usr/bin/other"},
			{Path: "/usr/share/app/a.txt", Data: []byte("a\n")},
			{Path: "/usr/share/app/sub/b.txt", Data: []byte("b\n")},
			{Path: "/usr/share/app/c.dat", Data: []byte("c\n")},
		}},
		{Name: "app-debuginfo", Version: "2.0", Release: "1", Files: []rpmfixture.File{
			{Path: "/usr/lib/debug/usr/bin/app-2.0-1.x86_64.debug", Data: []byte("app debug\n")},
			{Path: "/usr/lib/debug/usr/bin/junk.excluded", Data: []byte("junk\n")},
			{Path: "/usr/lib/debug/.build-id/aa/1111", LinkTarget: "../../../../../usr/bin/app"},
			{Path: "/usr/lib/debug/.build-id/aa/1111.debug", LinkTarget: "../../usr/bin/app-2.0-1.x86_64.debug"},
		}},
		{Name: "tool", Version: "1", Release: "1", Files: []rpmfixture.File{
			{Path: "/usr/bin/tool", Mode: 0o755, Data: []byte("tool\n")},
		}},
		{Name: "tool-debuginfo", Version: "1", Release: "1", Files: []rpmfixture.File{
			{Path: "/usr/lib/debug/usr/bin/tool-1-1.x86_64.debug", Data: []byte("tool debug\n")},
		}},
		{Name: "nodebug", Version: "1", Release: "1", Files: []rpmfixture.File{
			{Path: "/usr/bin/nodebug", Mode: 0o755, Data: []byte("nodebug\n")},
		}},
		{Name: "extra-debuginfo", Version: "3", Release: "1", Files: []rpmfixture.File{
			{Path: "/usr/lib/debug/extra.debug", Data: []byte("extra\n")},
		}},
		{Name: "helper", Version: "1", Release: "1", Requires: []string{"helperlib"}, Files: []rpmfixture.File{
			{Path: "/usr/bin/helper", Mode: 0o755, Data: []byte("#!/bin/sh\necho helping\n")},
		}},
		{Name: "helperlib", Version: "1", Release: "1", Files: []rpmfixture.File{
			{Path: "/usr/lib64/libhelper.so.1", Data: []byte("helper lib\n")},
		}},
	}
}

func featureRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := rpmfixture.WriteRepo(dir, featureSpecs()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// localDebuginfo writes a -debuginfo .rpm made with the fixture writer into
// dir and returns its name.
func localDebuginfo(t *testing.T, dir string) string {
	t.Helper()
	s := rpmfixture.Spec{Name: "local-debuginfo", Version: "1", Release: "1", Files: []rpmfixture.File{
		{Path: "/usr/lib/debug/local.debug", Data: []byte("local\n")},
	}}
	data, err := rpmfixture.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, s.FileName()), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return s.FileName()
}

func checkDump(t *testing.T, dump string, present, absent []string) {
	t.Helper()
	for _, p := range present {
		if !strings.Contains(dump, p) {
			t.Errorf("layer lacks %q", p)
		}
	}
	for _, a := range absent {
		if strings.Contains(dump, a) {
			t.Errorf("layer has %q", a)
		}
	}
	if t.Failed() {
		t.Logf("layer:\n%s", dump)
	}
}

// TestDebuginfo: the -debuginfo packages of the kept packages (not of the
// others) and mock.debugdeps (from the repository and a local .rpm) are
// installed; their files and mock.debugpaths are kept, excludes apply to
// them, build-id links to files not in the image go.
func TestDebuginfo(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	dir := project(t, `package: [app, tool, nodebug]
paths: [/usr/bin/app, /usr/bin/nodebug]
excludes: ["/usr/lib/debug/usr/bin/*.excluded"]
mock:
  debuginfo: true
  debugdeps: [extra-debuginfo, local-debuginfo-1-1.x86_64.rpm]
  debugpaths: ["/usr/share/app/*.txt"]
`, map[string]string{})
	localDebuginfo(t, dir)
	o := opts(t, dir, repoDir)
	res, warn := runBuild(t, o)
	dump := dumpLayer(t, o.Image)
	golden(t, "debuginfo.dump", dump)
	checkDump(t, dump, []string{
		"/usr/bin/app: file",
		"/usr/lib/debug/usr/bin/app-2.0-1.x86_64.debug: file 0644 10:10 ",
		"/usr/lib/debug/.build-id/aa/1111: symlink ../../../../../usr/bin/app\n",
		"/usr/lib/debug/.build-id/aa/1111.debug: symlink ../../usr/bin/app-2.0-1.x86_64.debug\n",
		"/usr/lib/debug/extra.debug: file",
		"/usr/lib/debug/local.debug: file",
		"/usr/share/app/a.txt: file",
	}, []string{"tool", "junk.excluded", "/usr/share/app/c.dat", "/usr/lib/.build-id"})
	if !strings.Contains(warn, "warning: mock.debuginfo: no debuginfo package for nodebug-1-1.x86_64\n") {
		t.Errorf("warnings:\n%s", warn)
	}
	got := strings.Join(res.Packages, " ")
	for _, want := range []string{"app-debuginfo-2.0-1.x86_64", "extra-debuginfo-3-1.x86_64", "local-debuginfo-1-1.x86_64", "tool-1-1.x86_64"} {
		if !strings.Contains(got, want) {
			t.Errorf("packages %s lack %s", got, want)
		}
	}
	if strings.Contains(got, "tool-debuginfo") {
		t.Errorf("the debuginfo of a package with nothing in the image was installed: %s", got)
	}

	// Without debuginfo: true, nothing of it.
	dir2 := project(t, "package: [app]\npaths: [/usr/bin/app]\nmock:\n  debugpaths: [/usr/lib/debug]\n", map[string]string{})
	o2 := opts(t, dir2, repoDir)
	res, warn = runBuild(t, o2)
	if strings.Contains(dumpLayer(t, o2.Image), "/usr/lib/debug") || len(res.Packages) != 2 {
		t.Errorf("debug files without debuginfo: true: %v", res.Packages)
	}
	if !strings.Contains(warn, "ignored without mock.debuginfo: true") {
		t.Errorf("warnings:\n%s", warn)
	}
}

// TestMockDeps: mock.deps are installed for the build (a pre-build script
// can use them) but kept only where paths selects them.
func TestMockDeps(t *testing.T) {
	needScripts(t)
	t.Parallel()
	repoDir := featureRepo(t)
	for _, tt := range []struct {
		name, yaml      string
		present, absent []string
	}{
		{"whole tree", "package: app\nmock:\n  deps: [helper]\n  pre-build: test -x \"$1/usr/bin/helper\" && test -f \"$1/usr/lib64/libhelper.so.1\"\n",
			[]string{"/usr/bin/app: file", "/usr/lib/.build-id/aa/1111: symlink", "/lib64: symlink"},
			[]string{"helper"}},
		{"selected by paths", "package: app\npaths: [/usr/bin/app, /usr/bin/helper]\nmock:\n  deps: [helper]\n",
			[]string{"/usr/bin/app: file", "/usr/bin/helper: file"},
			[]string{"libhelper"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.yaml, map[string]string{})
			o := opts(t, dir, repoDir)
			res, _ := runBuild(t, o)
			checkDump(t, dumpLayer(t, o.Image), tt.present, tt.absent)
			if got := strings.Join(res.Packages, " "); !strings.Contains(got, "helper-1-1.x86_64") || !strings.Contains(got, "helperlib-1-1.x86_64") {
				t.Errorf("mock.deps not installed: %s", got)
			}
		})
	}
}

// TestBuildIDLinks: build-id links never pull files in, are kept when a
// directory in paths holds them and their file is in the image, and never
// dangle.
func TestBuildIDLinks(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	for _, tt := range []struct {
		name, yaml      string
		present, absent []string
	}{
		{"files only", "package: app\npaths: [/usr/bin/app]\n", nil, []string{".build-id"}},
		{"a directory holding them", "package: app\npaths: [/usr/lib, /usr/bin/app]\n",
			[]string{"/usr/lib/.build-id/aa/1111: symlink ../../../../usr/bin/app\n"},
			[]string{"/usr/lib/.build-id/bb", "/usr/bin/other"}},
		{"whole tree with an exclude", "package: app\nexcludes: [/usr/bin/other]\n",
			[]string{"/usr/lib/.build-id/aa/1111: symlink"},
			[]string{"/usr/lib/.build-id/bb", "/usr/bin/other"}},
		{"named in paths", "package: app\npaths: [/usr/lib/.build-id/aa]\n",
			[]string{"/usr/lib/.build-id/aa/1111: symlink", "/usr/bin/app: file"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.yaml, map[string]string{})
			o := opts(t, dir, repoDir)
			runBuild(t, o)
			checkDump(t, dumpLayer(t, o.Image), tt.present, tt.absent)
		})
	}
}

// TestKeepCaps: file capabilities are removed unless keep-caps: true, which
// keeps them as a security.capability xattr in the layer.
func TestKeepCaps(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	for _, keep := range []bool{false, true} {
		yaml := "package: app\npaths: [/usr/bin/capped]\n"
		if keep {
			yaml += "keep-caps: true\n"
		}
		dir := project(t, yaml, map[string]string{})
		o := opts(t, dir, repoDir)
		var log bytes.Buffer
		o.Log = &log
		runBuild(t, o)
		dump := dumpLayer(t, o.Image)
		has := strings.Contains(dump, "/usr/bin/capped: file 0755 10:10 ") &&
			strings.Contains(dump, "SCHILY.xattr.security.capability")
		if has != keep {
			t.Errorf("keep-caps: %v: layer:\n%s", keep, dump)
		}
		if removed := strings.Contains(log.String(), "removed file capabilities of /usr/bin/capped"); removed == keep {
			t.Errorf("keep-caps: %v: log:\n%s", keep, log.String())
		}
	}
}

// TestPathsGlobsAndDirs: globs expand against the installed tree and a
// directory is taken whole.
func TestPathsGlobsAndDirs(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	dir := project(t, "package: app\npaths: [/usr/share/app, \"/usr/bin/ca*\", \"/usr/share/**/b.txt\"]\nexcludes: [\"/usr/share/app/*.dat\"]\n", map[string]string{})
	o := opts(t, dir, repoDir)
	runBuild(t, o)
	checkDump(t, dumpLayer(t, o.Image),
		[]string{"/usr/share/app/a.txt: file", "/usr/share/app/sub/b.txt: file", "/usr/bin/capped: file"},
		[]string{"/usr/bin/app", "/usr/bin/other", "c.dat"})
}

// TestParentSources builds on a parent given as an OCI layout directory and
// as a registry image: the parent's layers stay byte for byte, one layer is
// added, and the parent's config is the base.
func TestParentSources(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	base := project(t, "package: app\npaths: [/usr/bin/app]\ncmd: [/usr/bin/app]\nenv: [A=1]\n", map[string]string{})
	bo := opts(t, base, repoDir)
	runBuild(t, bo)
	rl, err := image.ReadLayoutTarGz(bo.Image)
	if err != nil {
		t.Fatal(err)
	}
	parentLayers, _ := rl.Image.Layers()
	parentDigest, _ := parentLayers[0].Digest()

	layoutDir := filepath.Join(t.TempDir(), "parent-layout")
	if err := image.WriteOutput(layoutDir, image.FormatOCIDir, image.Layout{Image: rl.Image, Annotations: rl.Annotations}, time.Time{}); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/base:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, rl.Image); err != nil {
		t.Fatal(err)
	}

	for _, parent := range []string{layoutDir, srv.URL + "/base:1"} {
		dir := project(t, "parent: "+parent+"\nenv: [B=2]\n", map[string]string{"rootfs/read/data": "on top\n"})
		o := opts(t, dir)
		runBuild(t, o)
		out, err := image.ReadLayoutTarGz(o.Image)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(out.Image); err != nil {
			t.Errorf("%s: validate.Image: %v", parent, err)
		}
		layers, _ := out.Image.Layers()
		if len(layers) != 2 {
			t.Fatalf("%s: %d layers", parent, len(layers))
		}
		if d, _ := layers[0].Digest(); d != parentDigest {
			t.Errorf("%s: parent layer %s, want %s (byte for byte)", parent, d, parentDigest)
		}
		cf, _ := out.Image.ConfigFile()
		if strings.Join(cf.Config.Cmd, " ") != "/usr/bin/app" || strings.Join(cf.Config.Env, " ") != "A=1 B=2" || cf.Config.User != "10:10" {
			t.Errorf("%s: config %+v", parent, cf.Config)
		}
		if !strings.Contains(dumpLayer(t, o.Image), "/read/data: file 0644 10:10 ") {
			t.Errorf("%s: no overlay in the top layer", parent)
		}
	}
}

// TestDistroPrinciples builds real packages of the shared test bed: the
// zstd/unzstd hardlink stays a hardlink, bwrap loses its setuid bit,
// busybox its capability (unless keep-caps), nginx's directory owned by
// user nginx is owned by the run-as user, and no build number means no
// com.oracle.smith.build annotation.
func TestDistroPrinciples(t *testing.T) {
	t.Parallel()
	distro := filepath.Join(sharedTestdataDir(), "distro", "repo")
	if !exists(filepath.Join(distro, "repodata", "repomd.xml")) {
		t.Skipf("shared test bed absent: %s", distro)
	}
	yaml := "package: [zstd, bubblewrap, busybox, nginx]\npaths: [/usr/bin/zstd, /usr/bin/unzstd, /usr/bin/bwrap, /usr/sbin/busybox, /var/lib/nginx]\n"
	for _, keep := range []bool{false, true} {
		y := yaml
		if keep {
			y += "keep-caps: true\n"
		}
		dir := project(t, y, map[string]string{})
		o := opts(t, dir, distro)
		runBuild(t, o)
		dump := dumpLayer(t, o.Image)
		checkDump(t, dump, []string{
			"/usr/bin/zstd: hardlink 0755 10:10 /usr/bin/unzstd\n",
			"/usr/bin/bwrap: file 0755 10:10 ",
			"/var/lib/nginx/tmp: dir 0770 10:10\n",
			"/usr/lib64/ld-linux-x86-64.so.2: file",
			"/usr/lib64/libresolv.so.2: file", // busybox needs it
		}, []string{"uname=", "/usr/lib/.build-id"})
		if got := strings.Contains(dump, "/usr/sbin/busybox: file 0755 10:10 ") && strings.Contains(dump, "SCHILY.xattr.security.capability"); got != keep {
			t.Errorf("keep-caps %v: busybox capability in the layer: %v", keep, got)
		}
		for _, l := range strings.Split(dump, "\n") {
			if f := strings.Fields(l); len(f) > 2 && (f[1] == "file" || f[1] == "dir") && f[2][0] != '0' {
				t.Errorf("special mode bits: %s", l)
			}
		}
		rl, err := image.ReadLayoutTarGz(o.Image)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rl.Annotations[image.AnnotationBuild]; ok {
			t.Errorf("build annotation without -b: %v", rl.Annotations)
		}
		for _, e := range rl.Extras {
			if _, ok := e.Annotations[image.AnnotationBuild]; ok {
				t.Errorf("build annotation on %s without -b", e.MediaType)
			}
		}
	}
}

// TestUserTableInImage: each row of the reference's user table reaches the
// config's User, the owner of every entry, and /etc/passwd and /etc/group
// when they are written (nss is turned on by names and groups).
func TestUserTableInImage(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	for _, tt := range []struct {
		yaml, user, passwd, group string // passwd/group: a line that must be there ("" : no file)
	}{
		{"", "10:10", "", ""},
		{"user: root\n", "0:10", "root:x:0:0:root:/write:", "smith:x:10:"},
		{"user: root:root\n", "0:0", "root:x:0:0:root:/write:", "root:x:0:"},
		{"root: true\n", "0:0", "root:x:0:0:root:/write:", "root:x:0:"},
		{"user: foo:bar\n", "10:10", "foo:x:10:10:foo:/write:", "bar:x:10:"},
		{"user: 1000:1000\n", "1000:1000", "", ""},
		{"user: 1000:1000\ngroups: [wheel, mock]\n", "1000:1000", "smith:x:1000:1000:smith:/write:", "mock:x:1002:smith"},
		{"nss: true\n", "10:10", "smith:x:10:10:smith:/write:", "smith:x:10:"},
	} {
		dir := project(t, "package: app\npaths: [/usr/bin/app]\n"+tt.yaml, map[string]string{})
		o := opts(t, dir, repoDir)
		runBuild(t, o)
		rl, err := image.ReadLayoutTarGz(o.Image)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := rl.Image.ConfigFile()
		if cf.Config.User != tt.user {
			t.Errorf("%q: User %q, want %q", tt.yaml, cf.Config.User, tt.user)
		}
		root := t.TempDir()
		unpackLayer(t, o.Image, root)
		for _, f := range []struct{ name, want string }{{"passwd", tt.passwd}, {"group", tt.group}} {
			data, err := os.ReadFile(filepath.Join(root, "etc", f.name))
			switch {
			case f.want == "" && err == nil:
				t.Errorf("%q: /etc/%s written:\n%s", tt.yaml, f.name, data)
			case f.want != "" && !strings.Contains("\n"+string(data), "\n"+f.want+"\n"):
				t.Errorf("%q: /etc/%s lacks %q:\n%s", tt.yaml, f.name, f.want, data)
			}
		}
		for _, l := range strings.Split(strings.TrimSpace(dumpLayer(t, o.Image)), "\n") {
			if f := strings.Fields(l); f[1] != "symlink" && f[3] != tt.user {
				t.Errorf("%q: %s", tt.yaml, l)
			}
		}
	}
}

// TestPortsMapForm: the original's ExposedPorts map form reaches the
// config like the list form.
func TestPortsMapForm(t *testing.T) {
	t.Parallel()
	repoDir := featureRepo(t)
	dir := project(t, "package: app\npaths: [/usr/bin/app]\nports: {\"80/tcp\": {}, \"53/udp\": {}}\nmounts: [/data]\nlabels: {a: b}\n", map[string]string{})
	o := opts(t, dir, repoDir)
	runBuild(t, o)
	rl, err := image.ReadLayoutTarGz(o.Image)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := rl.Image.ConfigFile()
	if len(cf.Config.ExposedPorts) != 2 || len(cf.Config.Volumes) != 1 || cf.Config.Labels["a"] != "b" {
		t.Errorf("config %+v", cf.Config)
	}
	for _, p := range []string{"80/tcp", "53/udp"} {
		if _, ok := cf.Config.ExposedPorts[p]; !ok {
			t.Errorf("ExposedPorts %v lacks %s", cf.Config.ExposedPorts, p)
		}
	}
}
