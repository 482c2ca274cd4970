package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smith-build/smith/internal/rpmfixture"
)

// fixtureSpecs is a small distribution written with rpmfixture: a
// filesystem package with usrmerge links, an application with a setuid
// file owned by another user, a file capability, a hardlink pair, a %ghost
// file and a file that a later package replaces.
func fixtureSpecs() []rpmfixture.Spec {
	return []rpmfixture.Spec{
		{Name: "filesystem", Version: "1", Release: "1", Compressor: "zstd", Files: []rpmfixture.File{
			{Path: "/usr", Mode: rpmfixture.ModeDir | 0o755},
			{Path: "/usr/bin", Mode: rpmfixture.ModeDir | 0o555},
			{Path: "/usr/lib64", Mode: rpmfixture.ModeDir | 0o555},
			{Path: "/lib64", LinkTarget: "usr/lib64"},
			{Path: "/bin", LinkTarget: "usr/bin"},
			{Path: "/etc", Mode: rpmfixture.ModeDir | 0o755},
			{Path: "/tmp", Mode: rpmfixture.ModeDir | 0o1777},
		}},
		{Name: "app", Version: "2.0", Release: "1", Compressor: "xz", Requires: []string{"filesystem"}, Files: []rpmfixture.File{
			{Path: "/usr/bin/app", Mode: 0o755, Data: []byte("app binary\n")},
			{Path: "/usr/bin/suid", Mode: 0o4755, Data: []byte("suid\n"), Owner: "nginx", Group: "nginx"},
			{Path: "/usr/bin/capped", Mode: 0o755, Data: []byte("capped\n"), Caps: "cap_net_bind_service=ep"},
			{Path: "/usr/bin/zstd", Mode: 0o755, Data: []byte("same\n"), Hardlink: "z"},
			{Path: "/usr/bin/unzstd", Mode: 0o755, Data: []byte("same\n"), Hardlink: "z"},
			{Path: "/lib64/libapp.so.1", Mode: 0o644, Data: []byte("lib\n")},
			{Path: "/etc/app.conf", Mode: 0o600, Data: []byte("from app\n"), Flags: rpmfixture.FlagConfig},
			{Path: "/run/app.pid", Ghost: true},
		}},
		{Name: "app-override", Version: "1", Release: "1", Arch: "noarch", Compressor: "gzip", Requires: []string{"app"},
			Files: []rpmfixture.File{
				{Path: "/etc/app.conf", Mode: 0o644, Data: []byte("from app-override\n")},
			}},
	}
}

func TestFixtureTree(t *testing.T) {
	t.Parallel()
	specs := fixtureSpecs()
	yaml := "package: [app-override]\ncmd: [/usr/bin/app]\n"
	var sums []string
	// Every rotation of the repository's package order gives the same image.
	for i := range specs {
		rotated := append(append([]rpmfixture.Spec(nil), specs[i:]...), specs[:i]...)
		repoDir := t.TempDir()
		if err := rpmfixture.WriteRepo(repoDir, rotated); err != nil {
			t.Fatal(err)
		}
		dir := project(t, yaml, map[string]string{"rootfs/etc/motd": "hi\n"})
		o := opts(t, dir, repoDir)
		res, _ := runBuild(t, o)
		if i == 0 {
			golden(t, "fixture.dump", dumpLayer(t, o.Image))
			if got := strings.Join(res.Packages, " "); got != "app-2.0-1.x86_64 app-override-1-1.noarch filesystem-1-1.x86_64" {
				t.Errorf("packages %s", got)
			}
			if res.Arch != "amd64" {
				t.Errorf("arch %s", res.Arch)
			}
		}
		sums = append(sums, fileSHA(t, o.Image))
	}
	for _, s := range sums[1:] {
		if s != sums[0] {
			t.Errorf("package order in the repository changed the image: %v", sums)
			break
		}
	}
}

// TestFixtureArch: a noarch-only install takes the target's architecture,
// an aarch64 install is an arm64/v8 image.
func TestFixtureArch(t *testing.T) {
	t.Parallel()
	specs := []rpmfixture.Spec{
		{Name: "data", Version: "1", Release: "1", Arch: "noarch", Files: []rpmfixture.File{{Path: "/srv/data", Data: []byte("d")}}},
		{Name: "tool", Version: "1", Release: "1", Arch: "aarch64", Files: []rpmfixture.File{{Path: "/usr/bin/tool", Mode: 0o755, Data: []byte("t")}}},
	}
	repoDir := t.TempDir()
	if err := rpmfixture.WriteRepo(repoDir, specs); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ yaml, hostArch, arch string }{
		{"package: data\n", "x86_64", "amd64"},
		{"package: data\n", "aarch64", "arm64"},
		{"package: [tool, data]\narch: aarch64\n", "x86_64", "arm64"},
	} {
		dir := project(t, tt.yaml, map[string]string{})
		o := opts(t, dir, repoDir)
		o.HostArch = tt.hostArch
		res, _ := runBuild(t, o)
		if res.Arch != tt.arch {
			t.Errorf("%q on %s: arch %s, want %s", tt.yaml, tt.hostArch, res.Arch, tt.arch)
		}
	}
	if _, err := os.Stat(filepath.Join(repoDir, "repodata", "repomd.xml")); err != nil {
		t.Fatal(err)
	}
}
