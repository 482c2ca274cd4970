package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// parse runs the parser only, as main would, and returns the selected
// command and the parsed CLI.
func parse(t *testing.T, args ...string) (string, *CLI) {
	t.Helper()
	var cli CLI
	var out, errb bytes.Buffer
	p, err := newParser(&cli, envOf(map[string]string{"HOME": "/home/u"}), &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse(args)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return kctx.Command(), &cli
}

func TestFlags(t *testing.T) {
	defaults := BuildCmd{Conf: "smith.yaml", Dir: "."} // -i: build.DefaultImage(--format)
	tests := []struct {
		args []string
		cmd  string
		want BuildCmd
		g    Globals
	}{
		{nil, "build", defaults, Globals{}},
		{[]string{"build"}, "build", defaults, Globals{}},
		{[]string{"-c", "x.yaml", "-d", "dir", "-i", "cat.tar.gz", "-f", "-b", "42", "-k", "-v"}, "build",
			BuildCmd{Conf: "x.yaml", Dir: "dir", Image: "cat.tar.gz", Fast: true, Buildnumber: "42"},
			Globals{Insecure: true, Verbose: true}},
		{[]string{"build", "--conf=x.yaml", "--dir=dir", "--image=o.tar.gz", "--fast", "--buildnumber=7", "--insecure", "--verbose"}, "build",
			BuildCmd{Conf: "x.yaml", Dir: "dir", Image: "o.tar.gz", Fast: true, Buildnumber: "7"},
			Globals{Insecure: true, Verbose: true}},
		{[]string{"--config", "y.yaml"}, "build", BuildCmd{Conf: "y.yaml", Dir: "."}, Globals{}},
		{[]string{"--format", "oci-dir", "--push", "http://127.0.0.1:5000/cat:1", "-k"}, "build",
			BuildCmd{Conf: "smith.yaml", Dir: ".", Format: "oci-dir", Push: "http://127.0.0.1:5000/cat:1"}, Globals{Insecure: true}},
		{[]string{"--repo", "../repo", "--repo", "https://u:p@h/a,b", "--repofile", "a.repo", "--repofile", "b.repo",
			"--cache-dir", "/c", "--arch", "aarch64", "--no-weak"}, "build",
			BuildCmd{Conf: "smith.yaml", Dir: ".", Repo: []string{"../repo", "https://u:p@h/a,b"},
				Repofile: []string{"a.repo", "b.repo"}, CacheDir: "/c", Arch: "aarch64", NoWeak: true}, Globals{}},
	}
	for _, tt := range tests {
		cmd, cli := parse(t, tt.args...)
		if cmd != tt.cmd {
			t.Errorf("%q: command %q, want %q", tt.args, cmd, tt.cmd)
		}
		if !reflect.DeepEqual(cli.Build, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, cli.Build, tt.want)
		}
		if cli.Verbose != tt.g.Verbose || cli.Insecure != tt.g.Insecure {
			t.Errorf("%q: globals %+v", tt.args, cli.Globals)
		}
	}

	cmd, cli := parse(t, "upload", "-i", "cat.tar.gz", "-r", "https://r/x:tag", "-d")
	if cmd != "upload" || cli.Upload != (UploadCmd{Image: "cat.tar.gz", Remote: "https://r/x:tag", Docker: true}) {
		t.Errorf("upload: %q %+v", cmd, cli.Upload)
	}
	cmd, cli = parse(t, "download", "--remote", "https://r/x")
	if cmd != "download" || cli.Download != (DownloadCmd{Image: "image.tar.gz", Remote: "https://r/x"}) {
		t.Errorf("download: %q %+v", cmd, cli.Download)
	}
}

func TestOptions(t *testing.T) {
	var errb bytes.Buffer
	g := &Globals{Verbose: true, Insecure: true, stderr: &errb,
		env: envOf(map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "XDG_CACHE_HOME": "/xdg"})}
	c := &BuildCmd{Conf: "s.yaml", Dir: "d", Image: "i.tar.gz", Fast: true, Buildnumber: "9",
		Repo: []string{"r"}, Repofile: []string{"f.repo"}, Arch: "aarch64", NoWeak: true,
		Format: "docker-archive", Push: "https://r/x:1"}
	opt, err := c.options(g)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Format != "docker-archive" || opt.Push != "https://r/x:1" || !opt.Insecure {
		t.Errorf("--format, --push, -k: %q %q %v", opt.Format, opt.Push, opt.Insecure)
	}
	if opt.Dir != "d" || opt.ConfigFile != "s.yaml" || opt.Image != "i.tar.gz" || !opt.Fast || opt.BuildNumber != "9" ||
		!reflect.DeepEqual(opt.Repos, []string{"r"}) || !reflect.DeepEqual(opt.RepoFiles, []string{"f.repo"}) ||
		opt.Arch != "aarch64" || !opt.NoWeak || opt.HostRepoDir != "/etc/yum.repos.d" || opt.HostMockConfig != "/etc/mock/default.cfg" || opt.Log == nil || opt.Warn == nil {
		t.Errorf("options: %+v", opt)
	}
	if runtime.GOOS == "linux" && opt.CacheDir != "/xdg/smith" {
		t.Errorf("cache dir %q", opt.CacheDir)
	}
	if opt.SourceDateEpoch == nil || !opt.SourceDateEpoch.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("SOURCE_DATE_EPOCH: %v", opt.SourceDateEpoch)
	}
	tr := opt.HTTPClient.Transport.(*http.Transport)
	if tr.TLSClientConfig == nil || !tr.TLSClientConfig.InsecureSkipVerify || tr.Proxy == nil {
		t.Errorf("-k client: %+v", tr.TLSClientConfig)
	}
	if http.DefaultTransport.(*http.Transport).TLSClientConfig != nil &&
		http.DefaultTransport.(*http.Transport).TLSClientConfig.InsecureSkipVerify {
		t.Error("-k changed the process-wide default transport")
	}

	g.Verbose, g.Insecure = false, false
	g.env = envOf(map[string]string{"SOURCE_DATE_EPOCH": "yesterday"})
	if _, err := c.options(g); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: %v", err)
	}
	g.env = envOf(nil)
	opt, err = c.options(g)
	if err != nil || opt.SourceDateEpoch != nil || opt.Log != nil {
		t.Errorf("no env: %+v %v", opt, err)
	}
	if tr := opt.HTTPClient.Transport.(*http.Transport); tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS verification off without -k")
	}
}

// runCLI runs the whole CLI in-process.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, envOf(env), &out, &errb)
	return code, out.String(), errb.String()
}

func TestErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("syntax.yaml", "package: a\npaths: [\n")
	write("unknown.yaml", "package: a\npakage: b\n")
	write("norepo.yaml", "package: coreutils\n")
	write("oci.yaml", "package: http://user:secret@127.0.0.1:1/x\n")
	tests := []struct {
		args []string
		want string // the whole stderr
	}{
		{[]string{"extra"}, "smith: unexpected argument extra\n"},
		{[]string{"build", "a", "b"}, "smith: unexpected argument a\n"},
		{[]string{"--nosuch"}, "smith: unknown flag --nosuch\n"},
		{[]string{"upload"}, "smith: missing flags: --remote=URL[:TAG]\n"},
		{[]string{"upload", "-i", filepath.Join(dir, "nosuch.tar.gz"), "-r", "http://127.0.0.1:1/x"},
			"smith: upload " + filepath.Join(dir, "nosuch.tar.gz") + ": stat " + filepath.Join(dir, "nosuch.tar.gz") + ": no such file or directory\n"},
		{[]string{"download", "-r", "https://r/x", "--arch", "vax"}, "smith: unknown architecture \"vax\": use x86_64, aarch64, i686, ppc64le or s390x\n"},
		{[]string{"-d", dir, "-c", "missing.yaml"}, "smith: read config: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory\n"},
		{[]string{"-d", dir, "-c", "syntax.yaml"}, "smith: syntax.yaml:2: sequence end token ']' not found\n"},
		{[]string{"-d", dir, "-c", "unknown.yaml"}, "smith: unknown.yaml:2: unknown field \"pakage\"\n"},
		{[]string{"-d", dir, "-c", "norepo.yaml", "-i", filepath.Join(dir, "out.tar.gz")},
			"smith: no repositories configured: pass --repo PATH|URL or add repos: to smith.yaml\n"},
		{[]string{"-d", dir, "-c", "oci.yaml", "-i", filepath.Join(dir, "out.tar.gz")},
			"smith: package http://REDACTED@127.0.0.1:1/x: open 127.0.0.1:1/x:latest: Get \"https://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused; Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused\n"},
		{[]string{"-d", dir, "-c", "oci.yaml", "-i", filepath.Join(dir, "out.tar.gz"), "--format", "zip"},
			"smith: output format \"zip\": want one of oci-archive, oci-dir, docker-archive\n"},
	}
	env := map[string]string{"HOME": dir}
	for _, tt := range tests {
		// HostRepoDir is /etc/yum.repos.d in the CLI: on a machine that has
		// repositories there, the "no repositories" case cannot happen.
		if strings.Contains(tt.want, "no repositories") {
			if m, _ := filepath.Glob("/etc/yum.repos.d/*.repo"); len(m) > 0 {
				continue
			}
			if _, err := os.Stat("/etc/mock/default.cfg"); err == nil {
				continue
			}
		}
		code, out, errs := runCLI(t, env, tt.args...)
		if code != 1 || errs != tt.want || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1 and %q", tt.args, code, out, errs, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.tar.gz")); err == nil {
		t.Error("a failed build wrote its output")
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, errs := runCLI(t, nil, "-V")
	if code != 0 || !strings.HasPrefix(out, "smith version ") || !strings.Contains(out, " (built from sha ") || errs != "" {
		t.Errorf("-V: %d %q %q", code, out, errs)
	}
	code, out2, _ := runCLI(t, nil, "--version")
	if code != 0 || out2 != out {
		t.Errorf("--version: %d %q", code, out2)
	}
	code, out, _ = runCLI(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, flag := range []string{"-c, --conf", "-d, --dir", "-i, --image", "-f, --fast", "-b, --buildnumber",
		"-k, --insecure", "-v, --verbose", "-V, --version", "--repo", "--repofile", "--cache-dir", "--arch", "--no-weak",
		"smith upload", "-r, --remote", "-d, --docker", "smith download", "smith.yaml).", "image.tar.gz)."} {
		if !strings.Contains(out, flag) {
			t.Errorf("--help does not mention %q", flag)
		}
	}
	code, out, _ = runCLI(t, nil, "build", "--help")
	if code != 0 || !strings.Contains(out, "--buildnumber") {
		t.Errorf("build --help: %d", code)
	}
}
