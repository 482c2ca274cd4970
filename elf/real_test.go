package elf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smith-build/smith/fstree"
)

// The test bed repository (see ../shared/tools/README.md), relative to this
// package's directory.
const packagesDir = "../../shared/testdata/distro/repo/Packages"

var coreutilsSet = []string{
	"filesystem-3.16-2.el9.x86_64", "setup-2.13.7-9.el9.noarch", "basesystem-11-13.el9.noarch",
	"bash-5.2.15-3.el9.x86_64", "bash-completion-2.11-5.el9.noarch", "coreutils-9.1-12.el9.x86_64",
	"coreutils-common-9.1-12.el9.x86_64", "glibc-2.36-9.el9.x86_64", "glibc-common-2.36-9.el9.x86_64",
	"glibc-langpack-en-2.36-9.el9.x86_64", "gmp-6.2.1-2.el9.x86_64", "libacl-2.3.1-3.el9.x86_64",
	"libattr-2.5.1-4.el9.x86_64", "libselinux-3.4-1.el9.x86_64", "ncurses-base-6.4-4.el9.noarch",
	"ncurses-libs-6.4-4.el9.x86_64", "pcre2-10.42-1.el9.x86_64",
}

// nginxSet is what dnf and libsolv install for `nginx` in the test bed.
var nginxSet = []string{
	"filesystem-3.16-2.el9.x86_64", "setup-2.13.7-9.el9.noarch", "basesystem-11-13.el9.noarch",
	"bash-5.2.15-3.el9.x86_64", "glibc-2.36-9.el9.x86_64", "glibc-common-2.36-9.el9.x86_64",
	"glibc-langpack-en-2.36-9.el9.x86_64", "libxcrypt-4.4.33-2.el9.x86_64", "mailcap-2.1.53-5.el9.noarch",
	"ncurses-base-6.4-4.el9.noarch", "ncurses-libs-6.4-4.el9.x86_64", "nginx-1.22.1-9.el9.x86_64",
	"nginx-filesystem-1.22.1-9.el9.noarch", "openssl-libs-3.0.19-2.el9.x86_64", "pcre2-10.42-1.el9.x86_64",
	"zlib-1.2.13-3.el9.x86_64",
}

// installRPMs unpacks the payloads of the named packages (NVRA file names
// without .rpm) into a new tree, in order. rpm2cpio does the decompression;
// the newc archive it writes is read here, so no cpio binary and no scratch
// directory are needed.
func installRPMs(t *testing.T, nvras []string) *fstree.Tree {
	t.Helper()
	if _, err := os.Stat(packagesDir); err != nil {
		t.Skipf("test bed repository not available: %v", err)
	}
	rpm2cpio, err := exec.LookPath("rpm2cpio")
	if err != nil {
		t.Skip("rpm2cpio not installed")
	}
	tree := fstree.New()
	for _, nvra := range nvras {
		files, _ := filepath.Glob(filepath.Join(packagesDir, "*", nvra+".rpm"))
		if len(files) != 1 {
			t.Fatalf("package %s: found %q", nvra, files)
		}
		var out, stderr bytes.Buffer
		cmd := exec.Command(rpm2cpio, files[0])
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("rpm2cpio %s: %v: %s", files[0], err, stderr.String())
		}
		if err := readNewc(tree, out.Bytes(), nvra); err != nil {
			t.Fatalf("%s: %v", nvra, err)
		}
	}
	return tree
}

// readNewc adds the entries of a newc ("070701") cpio archive to tree. In a
// hardlink set only the last entry carries the data.
func readNewc(tree *fstree.Tree, b []byte, pkg string) error {
	type group struct {
		paths []string
		data  []byte
		mode  uint64
	}
	groups := map[uint64]*group{}
	var inos []uint64
	for {
		if len(b) < 110 || (string(b[:6]) != "070701" && string(b[:6]) != "070702") {
			return fmt.Errorf("bad cpio header")
		}
		var f [13]uint64
		for i := range f {
			v, err := strconv.ParseUint(string(b[6+8*i:14+8*i]), 16, 64)
			if err != nil {
				return err
			}
			f[i] = v
		}
		ino, mode, nlink, size, namesize := f[0], f[1], f[4], f[6], f[11]
		nameEnd := 110 + int(namesize)
		dataOff := (nameEnd + 3) &^ 3
		if namesize == 0 || dataOff+int(size) > len(b) {
			return fmt.Errorf("truncated cpio archive")
		}
		name := string(b[110 : nameEnd-1])
		data := b[dataOff : dataOff+int(size)]
		b = b[(dataOff+int(size)+3)&^3:]
		if name == "TRAILER!!!" {
			break
		}
		p := fstree.Clean(strings.TrimPrefix(name, "."))
		if p == "/" {
			continue
		}
		perm := fstree.GoMode(uint32(mode & 0o7777))
		var err error
		switch mode & 0o170000 {
		case 0o040000:
			err = tree.Mkdir(p, perm, fstree.Owner{}, pkg)
		case 0o120000:
			err = tree.Symlink(string(data), p, fstree.Owner{}, pkg)
		case 0o100000:
			if nlink > 1 {
				g := groups[ino]
				if g == nil {
					g = &group{mode: mode}
					groups[ino] = g
					inos = append(inos, ino)
				}
				g.paths = append(g.paths, p)
				if size > 0 {
					g.data = data
				}
				continue
			}
			_, err = tree.WriteFile(p, data, perm, fstree.Owner{}, pkg)
		}
		if err != nil {
			return err
		}
	}
	for _, ino := range inos {
		g := groups[ino]
		n, err := tree.WriteFile(g.paths[0], g.data, fstree.GoMode(uint32(g.mode&0o7777)), fstree.Owner{}, pkg)
		if err != nil {
			return err
		}
		for _, p := range g.paths[1:] {
			if err := tree.Link(n, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyClosure copies paths from src into a new tree, as the build does.
func copyClosure(t *testing.T, src *fstree.Tree, paths []string) *fstree.Tree {
	t.Helper()
	dst := fstree.New()
	cp := fstree.NewCopier(src, dst)
	for _, p := range paths {
		if err := cp.Copy(p); err != nil {
			t.Fatalf("copy %s: %v", p, err)
		}
	}
	return dst
}

// writeTree writes tree below dir.
func writeTree(t *testing.T, tree *fstree.Tree, dir string) {
	t.Helper()
	err := tree.Walk("/", func(p string, n *fstree.Inode) error {
		target := filepath.Join(dir, filepath.FromSlash(p))
		switch n.Kind {
		case fstree.Dir:
			return os.MkdirAll(target, 0o755)
		case fstree.File:
			return os.WriteFile(target, n.Data, n.Mode.Perm()|0o600)
		case fstree.Symlink:
			return os.Symlink(n.Target, target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bwrap returns the bwrap binary, or skips when it is missing or cannot
// create a sandbox here.
func bwrap(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("bwrap")
	if err != nil {
		t.Skip("bwrap not installed: the closure is not run")
	}
	if out, err := exec.Command(bin, "--ro-bind", "/", "/", "--unshare-all", "true").CombinedOutput(); err != nil {
		t.Skipf("bwrap cannot create a sandbox here: %v: %s", err, out)
	}
	return bin
}

// checkNeeded asks readelf (an independent parser) for the DT_NEEDED
// entries of every ELF file in the closure and checks that each one is in
// the closure under /usr/lib64, where the test bed keeps its libraries.
func checkNeeded(t *testing.T, tree *fstree.Tree, closure []string) {
	t.Helper()
	readelf, err := exec.LookPath("readelf")
	if err != nil {
		t.Log("readelf not installed: DT_NEEDED not cross-checked")
		return
	}
	in := map[string]bool{}
	for _, p := range closure {
		in[p] = true
	}
	re := regexp.MustCompile(`\(NEEDED\)\s+Shared library: \[([^\]]+)\]`)
	dir := t.TempDir()
	checked := 0
	for _, p := range closure {
		n, err := tree.Lookup(p)
		if err != nil || n.Kind != fstree.File || !isELF(n.Data) {
			continue
		}
		f := filepath.Join(dir, "obj")
		if err := os.WriteFile(f, n.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(readelf, "-dW", f).Output()
		if err != nil {
			t.Fatalf("readelf %s: %v", p, err)
		}
		for _, m := range re.FindAllStringSubmatch(string(out), -1) {
			checked++
			if !in["/usr/lib64/"+m[1]] {
				t.Errorf("%s needs %s (readelf), which is not in the closure", p, m[1])
			}
		}
	}
	if checked == 0 {
		t.Error("readelf found no DT_NEEDED entries at all")
	}
}

func TestRealCat(t *testing.T) {
	tree := installRPMs(t, coreutilsSet)
	var warns []string
	got, err := Closure(tree, []string{"/usr/bin/cat"}, Options{Warn: func(m string) { warns = append(warns, m) }})
	if err != nil {
		t.Fatal(err)
	}
	// readelf -d /usr/bin/cat: NEEDED libc.so.6 only (RUNPATH /usr/lib64);
	// libc.so.6 needs ld-linux-x86-64.so.2; PT_INTERP is /lib64/....
	want := []string{"/lib64", "/usr/bin/cat", "/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib64/libc.so.6"}
	if !reflect.DeepEqual(got, want) || len(warns) != 0 {
		t.Fatalf("closure %q, warnings %q; want %q", got, warns, want)
	}
	checkNeeded(t, tree, got)
	checkDebugFile(t, tree, "/usr/bin/cat")

	bin := bwrap(t)
	out := copyClosure(t, tree, got)
	if _, err := out.WriteFile("/read/data", []byte("hello from the closure\n"), 0o644, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTree(t, out, dir)
	res, err := exec.Command(bin, "--bind", dir, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all",
		"--die-with-parent", "/usr/bin/cat", "/read/data").CombinedOutput()
	if err != nil || string(res) != "hello from the closure\n" {
		t.Fatalf("cat in the microcontainer: %v: %q", err, res)
	}
}

// checkDebugFile makes a separate debug file of p with objcopy, as debuginfo
// packages carry them, and checks that the closure takes it alone: its
// program headers point at bytes that are not there.
func checkDebugFile(t *testing.T, tree *fstree.Tree, p string) {
	t.Helper()
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Log("objcopy not installed: debug files not checked")
		return
	}
	n, err := tree.Follow(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, dbg := filepath.Join(dir, "obj"), filepath.Join(dir, "obj.debug")
	if err := os.WriteFile(src, n.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(objcopy, "--only-keep-debug", src, dbg).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v: %s", err, out)
	}
	data, err := os.ReadFile(dbg)
	if err != nil {
		t.Fatal(err)
	}
	debugPath := "/usr/lib/debug" + p + ".debug"
	if _, err := tree.WriteFile(debugPath, data, 0o644, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	defer tree.Remove(debugPath)
	var warns []string
	got, err := Closure(tree, []string{debugPath}, Options{Warn: func(m string) { warns = append(warns, m) }})
	if err != nil || !reflect.DeepEqual(got, []string{debugPath}) || len(warns) != 0 {
		t.Errorf("closure of a debug file: %q, %v, warnings %q", got, err, warns)
	}
}

func TestRealCoreutilsScripts(t *testing.T) {
	tree := installRPMs(t, coreutilsSet)
	var warns []string
	got, err := Closure(tree, []string{"/usr/bin/ldd", "/usr/bin/ls", "/bin/sh"}, Options{Warn: func(m string) { warns = append(warns, m) }})
	if err != nil {
		t.Fatal(err)
	}
	// ldd is a bash script (#!/usr/bin/bash), /bin/sh is a link to bash
	// through the /bin link, and bash needs libtinfo. The libraries of ls
	// are checked against readelf below.
	for _, p := range []string{"/bin", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/ldd", "/usr/lib64/libtinfo.so.6", "/usr/lib64/libtinfo.so.6.4"} {
		if i := sort.SearchStrings(got, p); i == len(got) || got[i] != p {
			t.Errorf("%s missing from %q", p, got)
		}
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %q", warns)
	}
	checkNeeded(t, tree, got)
}

func TestRealNginx(t *testing.T) {
	tree := installRPMs(t, nginxSet)
	var warns []string
	warn := func(m string) { warns = append(warns, m) }
	got, err := Closure(tree, []string{"/usr/sbin/nginx"}, Options{Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	// readelf -d: nginx needs libcrypt.so.1 libpcre2-8.so.0 libssl.so.3
	// libcrypto.so.3 libz.so.1 libc.so.6; libssl needs libcrypto; all
	// need libc; all have RUNPATH /usr/lib64.
	want := []string{
		"/lib64",
		"/usr/lib64/ld-linux-x86-64.so.2",
		"/usr/lib64/libc.so.6",
		"/usr/lib64/libcrypt.so.1",
		"/usr/lib64/libcrypt.so.1.1.0",
		"/usr/lib64/libcrypto.so.3",
		"/usr/lib64/libpcre2-8.so.0",
		"/usr/lib64/libpcre2-8.so.0.11.2",
		"/usr/lib64/libssl.so.3",
		"/usr/lib64/libz.so.1",
		"/usr/lib64/libz.so.1.2.13",
		"/usr/sbin/nginx",
	}
	if !reflect.DeepEqual(got, want) || len(warns) != 0 {
		t.Fatalf("closure %q, warnings %q; want %q", got, warns, want)
	}
	checkNeeded(t, tree, got)

	roots := []string{"/usr/sbin/nginx", "/etc/nginx", "/etc/passwd", "/etc/group",
		"/etc/nsswitch.conf", "/usr/share/nginx/html", "/var/log/nginx", "/var/lib/nginx", "/run"}
	got, err = Closure(tree, roots, Options{Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Fatalf("warnings: %q", warns)
	}
	bin := bwrap(t)
	out := copyClosure(t, tree, got)
	port := freePort(t)
	// Run as an unprivileged user inside the sandbox, so that nginx neither
	// switches users nor chowns its temporary directories (the uids of the
	// package are not mapped in the user namespace).
	conf := fmt.Sprintf(`daemon off; master_process off; error_log stderr notice; pid /tmp/nginx.pid;
events { worker_connections 16; }
http {
  types { text/html html; }
  access_log off;
  client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;
  server { listen 127.0.0.1:%d; root /usr/share/nginx/html; }
}
`, port)
	if _, err := out.WriteFile("/etc/nginx/test.conf", []byte(conf), 0o644, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	index, err := tree.Follow("/usr/share/nginx/html/index.html")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTree(t, out, dir)
	sandbox := []string{"--bind", dir, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--die-with-parent",
		"--unshare-user", "--uid", "1000", "--gid", "1000"}

	res, err := exec.Command(bin, append(append(sandbox, "--unshare-all"), "/usr/sbin/nginx", "-t", "-e", "stderr", "-c", "/etc/nginx/test.conf")...).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "test is successful") {
		t.Fatalf("nginx -t in the microcontainer: %v: %s", err, res)
	}

	// Serve: the sandbox shares the network so the test can fetch a page.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(append(sandbox, "--unshare-all", "--share-net"), "/usr/sbin/nginx", "-e", "stderr", "-c", "/etc/nginx/test.conf")...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	client := &http.Client{Timeout: time.Second}
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
		if err != nil {
			continue
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
	}
	if !bytes.Equal(body, index.Data) {
		t.Fatalf("GET /index.html = %q, want %q; nginx said:\n%s", body, index.Data, logs.String())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
