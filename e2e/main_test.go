package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	// moduleRoot is the absolute path of the repository (the parent of e2e/).
	moduleRoot string
	// workDir is a world-traversable temp dir holding the binary and every
	// test's scratch space, so that an unprivileged user can reach them.
	workDir string
	// smithBin is the smith binary built by TestMain.
	smithBin string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run() // listing tests (make fuzz does): no binary needed
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	moduleRoot = filepath.Dir(wd)
	workDir, err = os.MkdirTemp("", "smith-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	// MkdirTemp makes 0700 dirs; the unprivileged test needs to traverse it.
	if err := os.Chmod(workDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	smithBin = filepath.Join(workDir, "bin", "smith")
	cmd := exec.Command(goTool(), "build", "-o", smithBin, "./cmd/smith")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/smith: %v\n%s", err, out)
		return 1
	}
	if err := os.Chmod(filepath.Dir(smithBin), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// goTool finds the go command: go test puts GOROOT/bin first on PATH, but be
// robust when the test binary is run directly.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

var recordOnce sync.Once

// recordInputs stats every source and testdata file of the module, so that
// go test's result cache (which only sees files the test process itself
// touches, not those read by `go build` in TestMain or by smith) is
// invalidated when the code or the test data change.
func recordInputs() {
	recordOnce.Do(func() {
		_ = filepath.WalkDir(moduleRoot, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				switch d.Name() {
				case ".git", "bin", "node_modules":
					return filepath.SkipDir
				}
				// Opening the directory records its listing (new files).
				if f, err := os.Open(p); err == nil {
					f.Close()
				}
				return nil
			}
			_, _ = os.Stat(p)
			return nil
		})
	})
}

// inCI reports whether missing tools must fail rather than skip tests.
func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test with a message, or fails it under CI=true.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// needTool returns the path of a command, skipping (or failing in CI) when
// it is not installed.
func needTool(t testing.TB, name, debPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "%s not installed (Debian: apt-get install %s)", name, debPkg)
	}
	return p
}

// haveTool is needTool without the skip, for optional second checks.
func haveTool(name string) (string, bool) {
	p, err := exec.LookPath(name)
	return p, err == nil
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Getuid() != 0 {
		skipOrFail(t, "needs root (uid %d)", os.Getuid())
	}
}

// sharedDir locates the shared test bed: $SMITH_SHARED, else the sibling
// ../shared of the repository root.
func sharedDir() string {
	if s := os.Getenv("SMITH_SHARED"); s != "" {
		return s
	}
	return filepath.Join(filepath.Dir(moduleRoot), "shared")
}

// needShared returns the shared test bed directory or skips the test.
func needShared(t testing.TB) string {
	t.Helper()
	s := sharedDir()
	if _, err := os.Stat(filepath.Join(s, "testdata", "distro", "repo", "repodata", "repomd.xml")); err != nil {
		skipOrFail(t, "shared test bed not found at %s (set SMITH_SHARED): %v", s, err)
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func distroRepo(t testing.TB) string {
	return filepath.Join(needShared(t), "testdata", "distro", "repo")
}

// exampleDir is the committed example, exampleRepo the committed repository.
func exampleDir() string  { return filepath.Join(moduleRoot, "testdata", "example", "cat") }
func exampleRepo() string { return filepath.Join(moduleRoot, "testdata", "repo") }

// scratch returns a fresh directory under workDir, mode 0755, removed when
// the test ends. (t.TempDir's parents are 0700, which another user cannot
// traverse.)
func scratch(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp(workDir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// runOpts says how to run a command.
type runOpts struct {
	dir   string   // working directory
	env   []string // complete environment (nil: cleanEnv of a fresh HOME)
	umask string   // if set, run through sh -c 'umask U; exec ...'
	user  bool     // run as 65534:65534 through setpriv
	stdin io.Reader
}

type result struct {
	code   int
	stdout string
	stderr string
	wall   time.Duration
	cpu    time.Duration // user + system time of the process and its waited-for children
	maxRSS int64         // bytes, 0 if unknown
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

const nobody = "65534"

// cleanEnv is the environment smith runs with in tests: nothing from the
// developer's shell but PATH, so that results do not depend on it.
func cleanEnv(home string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + home,
	}
	return append(env, extra...)
}

// run executes argv with opts and returns its result; it fails the test only
// when the command cannot be started.
func run(t testing.TB, o runOpts, argv ...string) result {
	t.Helper()
	if o.umask != "" {
		argv = append([]string{"sh", "-c", "umask " + o.umask + `; exec "$0" "$@"`}, argv...)
	}
	if o.user {
		argv = append([]string{"setpriv", "--reuid", nobody, "--regid", nobody, "--clear-groups"}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = o.dir
	cmd.Env = o.env
	if cmd.Env == nil {
		home := scratch(t)
		if o.user {
			chownTree(t, home)
		}
		cmd.Env = cleanEnv(home)
	}
	cmd.Stdin = o.stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), wall: time.Since(start)}
	if cmd.ProcessState != nil {
		r.maxRSS = maxRSS(cmd.ProcessState)
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if r.code < 0 {
			r.code = 128
		}
	default:
		t.Fatalf("run %q: %v", argv, err)
	}
	return r
}

// smith runs the smith binary built by TestMain.
func smith(t testing.TB, o runOpts, args ...string) result {
	t.Helper()
	recordInputs()
	return run(t, o, append([]string{smithBin}, args...)...)
}

// mustSmith runs smith and fails the test unless it exits 0.
func mustSmith(t testing.TB, o runOpts, args ...string) result {
	t.Helper()
	r := smith(t, o, args...)
	if r.code != 0 {
		t.Fatalf("smith %s (in %s): %s", strings.Join(args, " "), o.dir, r)
	}
	return r
}

// memo caches the images that several tests need, built once per run.
var memo struct {
	sync.Mutex
	m map[string]*memoEntry
}

type memoEntry struct {
	once sync.Once
	path string
	err  string
	skip string // the build skipped (shared data absent): so do its users
}

// memoImage returns the path of an image built by build (into the path it is
// given), building it only once per test run.
func memoImage(t *testing.T, key string, build func(t *testing.T, out string) error) string {
	t.Helper()
	memo.Lock()
	if memo.m == nil {
		memo.m = map[string]*memoEntry{}
	}
	e := memo.m[key]
	if e == nil {
		e = &memoEntry{}
		memo.m[key] = e
	}
	memo.Unlock()
	e.once.Do(func() {
		// build may end the test that runs it (t.Skip when ../shared is
		// absent, t.Fatal): the tests after it must not take the missing
		// image for a built one.
		defer func() {
			switch {
			case e.path != "" || e.err != "":
			case t.Skipped():
				e.skip = "building the " + key + " image skipped in " + t.Name()
			default:
				e.err = "building the " + key + " image failed in " + t.Name()
			}
		}()
		dir := filepath.Join(workDir, "memo", key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			e.err = err.Error()
			return
		}
		out := filepath.Join(dir, "image.tar.gz")
		if err := build(t, out); err != nil {
			e.err = err.Error()
			return
		}
		e.path = out
	})
	if e.skip != "" {
		t.Skip(e.skip)
	}
	if e.err != "" {
		t.Fatalf("building %s image: %s", key, e.err)
	}
	return e.path
}

// exampleImage is the committed example built as root with the default
// environment and a cold cache.
func exampleImage(t *testing.T) string {
	return memoImage(t, "example", func(t *testing.T, out string) error {
		before := listTree(t, exampleDir())
		cache := scratch(t)
		r := smith(t, runOpts{dir: moduleRoot}, "-d", "testdata/example/cat", "-i", out, "--cache-dir", cache)
		if r.code != 0 {
			return fmt.Errorf("smith -d testdata/example/cat: %s", r)
		}
		if after := listTree(t, exampleDir()); after != before {
			return fmt.Errorf("smith wrote into the committed example dir:\nbefore:\n%safter:\n%s", before, after)
		}
		return nil
	})
}

// catYAML is the README's smith.yaml, verbatim.
const catYAML = `package: coreutils
paths:
- /usr/bin/cat
cmd:
- /usr/bin/cat
- /read/data
`

const hello = "Hello World!\n"

// writeCatDir writes the README's build directory into dir: smith.yaml (with
// extra appended) and rootfs/read/data.
func writeCatDir(t testing.TB, dir, extra string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "smith.yaml"), catYAML+extra, 0o644)
	writeFile(t, filepath.Join(dir, "rootfs", "read", "data"), hello, 0o644)
}

func writeFile(t testing.TB, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; make it exact.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies src to dst: regular files, dirs and symlinks, with their
// permission bits set exactly (not filtered by the umask).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, 0o600); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		}
		return fmt.Errorf("copyTree: unsupported file type %s", p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyExample lays out the committed example under root exactly as in the
// repository (testdata/example/cat and testdata/repo, so that the relative
// `repos: [../../repo]` still works) and returns the build directory.
func copyExample(t testing.TB, root string) string {
	t.Helper()
	copyTree(t, exampleDir(), filepath.Join(root, "testdata", "example", "cat"))
	copyTree(t, exampleRepo(), filepath.Join(root, "testdata", "repo"))
	return filepath.Join(root, "testdata", "example", "cat")
}

// chownTree gives a tree to 65534:65534.
func chownTree(t testing.TB, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listTree describes a directory tree (names, modes, sizes, link targets,
// sha256 of contents) in a stable text form, to prove it did not change.
func listTree(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d", rel, info.Mode(), info.Size())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", l)
		case d.Type().IsRegular():
			fmt.Fprintf(&b, " %s", fileSHA(t, p))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func fileSHA(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// stderrError checks the error contract: exactly one line that is not a
// warning, starting with "smith: ", and returns it. Warning lines (any line
// containing "warning", e.g. the one about a repo used without gpgkey) are
// allowed before it.
func stderrError(t testing.TB, r result) string {
	t.Helper()
	var errs []string
	for _, l := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		if strings.Contains(strings.ToLower(l), "warning") {
			continue
		}
		errs = append(errs, l)
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "smith: ") || strings.TrimSpace(errs[0]) == "smith:" {
		t.Errorf("stderr must be exactly one error line starting with %q (warnings aside), got %d lines:\n%s", "smith: ", len(errs), r.stderr)
		return strings.Join(errs, "\n")
	}
	return errs[0]
}

// execGo prepares a go command run in the module root.
func execGo(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = moduleRoot
	return cmd
}
