package build

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/smith-build/smith/internal/rpmfixture"
)

func needScripts(t *testing.T) {
	t.Helper()
	if err := scriptSupport(); err != nil {
		t.Skipf("scripts cannot run here: %v", err)
	}
}

// TestMaterialiseReadBack runs shell commands on a materialised tree and
// checks what comes back: added, changed and removed entries, modes,
// symlinks and hardlinks; untouched entries keep what the host copy cannot
// carry (setuid bits, owners, capabilities).
func TestMaterialiseReadBack(t *testing.T) {
	needScripts(t)
	tr := pkgTree(t)
	z, _ := tr.Lookup("/usr/bin/zstd")
	z.Xattrs = map[string][]byte{"security.capability": {1}, "user.kept": []byte("x")}
	root := filepath.Join(t.TempDir(), "root")
	m, err := materialise(tr, root)
	if err != nil {
		t.Fatal(err)
	}
	// What the host sees: symlinks resolve inside the tree.
	if target, err := os.Readlink(filepath.Join(root, "lib64")); err != nil || target != filepath.Join(root, "usr/lib64") {
		t.Errorf("/lib64 materialised as %q, %v", target, err)
	}
	script := `set -e
cd "$1"
echo appended >> usr/bin/zstd                     # in place: both hardlinks see it
echo new > etc/new.conf; chmod 600 etc/new.conf   # added
rm -r usr/share/doc/a                             # removed with its contents
rm usr/lib64/libresolv.so.2                       # removed
chmod 750 usr/local 2>/dev/null || mkdir -m 750 usr/local
ln -s ../read/data etc/data-link                  # added symlink
rm etc/httpd/conf/httpd.conf && rmdir etc/httpd/conf && ln -s /read/httpd.conf etc/httpd/conf
ln usr/lib64/libc.so.6 usr/lib64/libc-hard.so     # new hardlink to an existing file
cp usr/bin/ping ping.tmp && echo patched >> ping.tmp && mv ping.tmp usr/bin/ping  # replaced, as sed -i does
printf 'package data' > read/data                 # rewritten with the same content
echo through > lib64/libextra.so                  # written through the /lib64 link
chmod 555 usr/share                               # an unwritable directory comes back too
`
	if out, err := exec.Command("/bin/sh", "-c", script, "test", root).CombinedOutput(); err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	c, err := m.readBack(tr, "mock.test")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.String(); got != "5 entries added, 4 changed, 2 removed" {
		t.Errorf("changes: %s", got)
	}
	want := `/: dir 0755 0:0
/bin: symlink usr/bin
/etc: dir 0755 0:0
/etc/data-link: symlink ../read/data
/etc/httpd: dir 0755 0:0
/etc/httpd/conf: symlink /read/httpd.conf
/etc/new.conf: file 0600 0:0 7aa7a535
/lib64: symlink usr/lib64
/read: dir 0755 0:0
/read/data: file 0644 0:0 9e3db5e3
/tmp: dir 1777 0:0
/usr: dir 0755 0:0
/usr/bin: dir 0555 0:0
/usr/bin/ping: file 0755 0:0 ac9e236c
/usr/bin/unzstd: file 0755 0:0 f192cfc3 <1> xattr=user.kept
/usr/bin/zstd: file 0755 0:0 f192cfc3 <1> xattr=user.kept
/usr/lib64: dir 0555 0:0
/usr/lib64/libc-hard.so: file 0755 0:0 16c8c6eb <2>
/usr/lib64/libc.so.6: file 0755 0:0 16c8c6eb <2>
/usr/lib64/libextra.so: file 0644 0:0 2e561834
/usr/lib64/libnss_files.so.2: file 0755 0:0 1cb29103
/usr/local: dir 0750 0:0
/usr/sbin: dir 0755 0:0
/usr/sbin/capped: file 2755 0:0 5a194219 xattr=security.capability xattr=user.comment
/usr/share: dir 0555 0:0
/usr/share/doc: dir 0755 0:0
/usr/share/doc/b: dir 0755 0:0
/usr/share/doc/b/README: file 0644 0:0 139d544b
`
	if got := tr.Dump(); got != want {
		t.Errorf("tree after the script:\n%s\nwant:\n%s", got, want)
	}
	n, _ := tr.Lookup("/usr/bin/ping")
	if n.Package != "iputils" || n.Xattrs != nil {
		t.Errorf("replaced /usr/bin/ping: package %q xattrs %v (a new inode keeps the package, not the old attributes)", n.Package, n.Xattrs)
	}
	n, _ = tr.Lookup("/usr/sbin/capped")
	if _, ok := n.Xattrs["security.capability"]; !ok {
		t.Error("an untouched file lost its capability")
	}
	n, _ = tr.Lookup("/etc/new.conf")
	if n.Package != "mock.test" {
		t.Errorf("new file package %q", n.Package)
	}
	n, _ = tr.Lookup("/read/data")
	if n.Package != "x" {
		t.Errorf("rewritten /read/data lost its package: %q", n.Package)
	}
}

// TestReadBackRefusesSpecialFiles: a named pipe cannot go into an image.
func TestReadBackRefusesSpecialFiles(t *testing.T) {
	needScripts(t)
	tr := pkgTree(t)
	root := filepath.Join(t.TempDir(), "root")
	m, err := materialise(tr, root)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/bin/sh", "-c", `mkfifo "$1/read/pipe"`, "test", root).CombinedOutput(); err != nil {
		t.Skipf("mkfifo: %v %s", err, out)
	}
	_, err = m.readBack(tr, "mock.test")
	if err == nil || !strings.Contains(err.Error(), "/read/pipe is a named pipe") {
		t.Errorf("error %v", err)
	}
}

func TestScriptSupport(t *testing.T) {
	if err := scriptSupportAt(false, "windows", "/bin/sh"); err == nil || !strings.Contains(err.Error(), "windows does not have") {
		t.Errorf("windows: %v", err)
	}
	if err := scriptSupportAt(true, "linux", "/nosuch/sh"); err == nil || !strings.Contains(err.Error(), "/nosuch/sh, and this system has none") {
		t.Errorf("no shell: %v", err)
	}
	if err := scriptSupportAt(true, "linux", t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Errorf("directory as shell: %v", err)
	}
}

// scriptsYAML exercises both scripts on the fixture distribution.
const scriptsYAML = `package: [app-override]
paths: [/usr/bin/app, /usr/bin/zstd, /usr/bin/unzstd, /etc, /usr/bin/generated, /usr/lib64/libapp.so.1]
cmd: [/usr/bin/app]
mock:
  pre-build: |
    set -e
    test "$1" = "$SMITH_ROOT" && test "$SMITH_PHASE" = pre-build
    test -f smith.yaml    # run from the build directory
    test -e "$1/usr/bin/suid"   # the whole install is there
    printf '#!/bin/sh\necho generated\n' > "$1/usr/bin/generated"
    chmod 755 "$1/usr/bin/generated"
    echo appended >> "$1/usr/bin/app"
    rm "$1/etc/app.conf"
    ln -s ../usr/bin/app "$1/etc/app-link"
    echo through-the-link > "$1/lib64/libapp.so.1"
  post-build: |
    set -e
    test "$SMITH_PHASE" = post-build
    test ! -e "$1/usr/bin/suid"   # only what goes into the layer
    test -d "$1/read" && test -d "$1/write" && test -f "$1/etc/passwd"
    cat "$1/read/data" > "$1/read/copy"
    rm "$1/etc/motd"
    chmod 4750 "$1/usr/bin/generated"
    ln "$1/usr/bin/generated" "$1/usr/bin/generated2"
    mkdir "$1/write/cache"
    echo inside > "$1/etc/evil"
user: app:web
`

// TestScripts builds with mock.pre-build and mock.post-build: the changes
// each makes reach the image, ownership is smith's, special bits go, and a
// symlink out of the tree is not followed out of it. A -f build with
// scripts writes the same bytes.
func TestScripts(t *testing.T) {
	needScripts(t)
	t.Parallel()
	repoDir := t.TempDir()
	if err := rpmfixture.WriteRepo(repoDir, fixtureSpecs()); err != nil {
		t.Fatal(err)
	}
	escape := strings.Repeat("../", 30) + "read/escaped"
	dir := project(t, scriptsYAML, map[string]string{
		"rootfs/read/data": "Hello World!\n",
		"rootfs/etc/motd":  "->/read/data",
		"rootfs/etc/evil":  "->" + escape,
	})
	o := opts(t, dir, repoDir)
	var log bytes.Buffer
	o.Log = &log
	runBuild(t, o)
	dump := dumpLayer(t, o.Image)
	golden(t, "scripts.dump", dump)
	for _, want := range []string{
		"/etc/app-link: symlink ../usr/bin/app\n",
		"/etc/evil: symlink " + escape + "\n",
		"/read/escaped: file 0644 10:10 ", // written through the link, inside the tree
		"/usr/bin/generated: file 0750 10:10 ",
		"/usr/bin/generated2: hardlink 0750 10:10 /usr/bin/generated\n",
		"/write/cache: dir 0755 10:10\n",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("layer lacks %q", want)
		}
	}
	for _, absent := range []string{"/etc/app.conf:", "/etc/motd:"} {
		if strings.Contains(dump, absent) {
			t.Errorf("layer has %s, which a script removed", absent)
		}
	}
	if !regexp.MustCompile(`mock.pre-build: \d+ entries added, \d+ changed, 1 removed`).MatchString(log.String()) {
		t.Errorf("log:\n%s", log.String())
	}
	full := fileSHA(t, o.Image)

	o.Fast, o.Log = true, nil
	for range 2 {
		runBuild(t, o)
		if fileSHA(t, o.Image) != full {
			t.Error("a -f build with scripts differs from a full build")
		}
	}
}

// TestScriptCancel: cancelling the build stops the script.
func TestScriptCancel(t *testing.T) {
	needScripts(t)
	t.Parallel()
	repoDir := t.TempDir()
	if err := rpmfixture.WriteRepo(repoDir, fixtureSpecs()[:1]); err != nil {
		t.Fatal(err)
	}
	dir := project(t, "package: filesystem\nmock:\n  post-build: sleep 60\n", map[string]string{})
	o := opts(t, dir, repoDir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := Run(ctx, o); done <- err }()
	cancel()
	if err := <-done; err == nil {
		t.Error("cancelled build succeeded")
	}
	if exists(o.Image) {
		t.Error("a cancelled build wrote an image")
	}
}

// The temporary copy of the tree is gone after the build.
func TestScriptCleansUp(t *testing.T) {
	needScripts(t)
	t.Parallel()
	repoDir := t.TempDir()
	if err := rpmfixture.WriteRepo(repoDir, fixtureSpecs()[:1]); err != nil {
		t.Fatal(err)
	}
	dir := project(t, "package: filesystem\nmock:\n  pre-build: chmod 500 \"$1/usr\" && echo \"$1\" > \"$1/../../seen\"\n", map[string]string{})
	o := opts(t, dir, repoDir)
	o.TempDir = t.TempDir()
	runBuild(t, o)
	ents, err := os.ReadDir(o.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "seen" {
		t.Errorf("left in the temporary directory: %v", ents)
	}
}
