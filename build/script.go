package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/smith-build/smith/fstree"
)

// mock.pre-build and mock.post-build without mock.
//
// What the original smith did: it ran the value as a command on the host
// (execute.Execute(value): no shell, no arguments) from the build directory.
// pre-build ran after `mock --clean`, before `mock --install`, so the root it
// could have looked at was empty; post-build ran right after the install,
// before the paths were copied out. Neither ran inside mock's chroot (the
// original's mock.go runs them with execute.Execute, not mock --chroot,
// whatever its documentation suggests), and neither was told where mock's
// root was: scripts had to know /var/lib/mock/<root>/root.
//
// What smith does: there is no root on disk, so the tree is materialised in
// a temporary directory for the script, which runs on the host as
//
//	/bin/sh -c VALUE smith-PHASE ROOT
//
// from the build directory, with ROOT also in $SMITH_ROOT (and the phase in
// $SMITH_PHASE). A value naming a script file (`./prep.sh`, as the original
// took) runs that file, which finds the tree in $SMITH_ROOT. When it exits 0
// the directory is read back into the tree: new, changed and removed files,
// directories and symlinks, modes and hardlinks. Then
//
//   - pre-build runs after the packages (and mock.deps) are installed, before
//     the path closure: what it adds or changes can be selected by paths and
//     is analysed by the closure (the nearest to the original's post-build,
//     which ran at that point);
//   - post-build runs on the tree that becomes the layer: after the closure,
//     excludes, the microcontainer directories, the nss files and the
//     rootfs/ overlay, before ownership and modes are normalised (so
//     setuid bits it sets are cleared too) and before dangling build-id
//     links are dropped. The microcontainer directories (/dev /proc /sys
//     /read /write /run, mounts) are made again if it removed them.
//
// Differences from a chroot, documented for users: the script sees the
// host's tools and files, not the tree's (run `$SMITH_ROOT/usr/bin/x` only
// if it can run on the host), and every path into the tree must be prefixed
// with $SMITH_ROOT. Symlinks are materialised as absolute links to where they
// resolve inside the tree, so that writing through one never reaches the
// host; their original targets are kept unless the script changes them.
// Every entry is materialised readable and writable by its owner (the
// invoking user), and setuid/setgid/sticky bits, owners and extended
// attributes (file capabilities) are not materialised; ownership is what
// smith sets afterwards, a file the script leaves alone keeps its
// attributes, and one whose content it changes loses its capability, as on
// a real file system. Nothing the script does to the host outside the
// directory is undone.
//
// Scripts need /bin/sh and a Unix file system: elsewhere (Windows) the build
// fails before doing any work, naming the field.

// scriptPackage marks the entries a script created (fstree.Inode.Package).
const scriptPackage = "mock."

// scriptOutputLimit bounds the script output kept for error messages.
const scriptOutputLimit = 64 << 10

// checkScripts fails early when smith.yaml asks for a script that cannot run
// here.
func (b *builder) checkScripts() error {
	for _, s := range []struct{ field, value string }{
		{"mock.pre-build", b.cfg.Mock.PreBuild},
		{"mock.post-build", b.cfg.Mock.PostBuild},
	} {
		if strings.TrimSpace(s.value) == "" {
			continue
		}
		if err := scriptSupport(); err != nil {
			return fmt.Errorf("%s: %w", s.field, err)
		}
	}
	return nil
}

// scriptSupport says why scripts cannot run on this system, or nil.
func scriptSupport() error { return scriptSupportAt(unixFS, runtime.GOOS, "/bin/sh") }

// scriptSupportAt is scriptSupport for a system with or without a Unix file
// system, named goos, whose shell is sh.
func scriptSupportAt(unix bool, goos, sh string) error {
	if !unix {
		return fmt.Errorf("scripts run with /bin/sh on a copy of the tree in a Unix file system (symlinks, hardlinks, modes), which %s does not have; build on Linux or macOS, or move the work to rootfs/", goos)
	}
	fi, err := os.Stat(sh)
	if err != nil {
		return fmt.Errorf("scripts run on the host with %s, and this system has none (%w)", sh, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("scripts run on the host with %s, which is not an executable file here", sh)
	}
	return nil
}

// runScript runs the script of field (mock.pre-build or mock.post-build) on
// t, materialised in a temporary directory, and reads its changes back.
func (b *builder) runScript(ctx context.Context, field, script string, t *fstree.Tree) error {
	if err := scriptSupport(); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	tmp, err := os.MkdirTemp(b.opt.TempDir, "smith-script-")
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	defer removeAllForce(tmp)
	root := filepath.Join(tmp, "root")
	b.logf("%s: materialising the tree in %s", field, root)
	m, err := materialise(t, root)
	if err != nil {
		return fmt.Errorf("%s: materialising the tree: %w", field, err)
	}

	phase := strings.TrimPrefix(field, "mock.")
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script, "smith-"+phase, root)
	cmd.Dir = b.dir
	env := b.opt.ScriptEnv
	if env == nil {
		env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"}
	}
	cmd.Env = append(append([]string(nil), env...), "SMITH_ROOT="+root, "SMITH_PHASE="+phase)
	out := &tailBuffer{limit: scriptOutputLimit}
	var w io.Writer = out
	if b.opt.Log != nil {
		w = io.MultiWriter(out, b.opt.Log)
	}
	// One writer for both, so that exec writes to it from one goroutine.
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second
	b.logf("%s: running /bin/sh -c %q", field, script)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := lastLine(out.Bytes())
		if msg != "" {
			return fmt.Errorf("%s %q: %v: %s", field, script, err, msg)
		}
		return fmt.Errorf("%s %q: %v", field, script, err)
	}
	changes, err := m.readBack(t, scriptPackage+phase)
	if err != nil {
		return fmt.Errorf("%s: reading the tree back: %w", field, err)
	}
	b.logf("%s: %s", field, changes)
	return nil
}

// scriptChanges counts what a script changed, for the log.
type scriptChanges struct{ added, changed, removed int }

func (c scriptChanges) String() string {
	return fmt.Sprintf("%d entries added, %d changed, %d removed", c.added, c.changed, c.removed)
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	buf   []byte
	limit int
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.limit {
		w.buf = append([]byte(nil), w.buf[len(w.buf)-w.limit:]...)
	}
	return len(p), nil
}

func (w *tailBuffer) Bytes() []byte { return w.buf }

// lastLine is the last non-empty line of the script's output, for a
// one-line error.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(bytes.ToValidUTF8(b, []byte("?")))), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// removeAllForce removes a directory a script may have left unwritable.
func removeAllForce(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
