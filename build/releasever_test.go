package build

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// $releasever comes from --releasever, then DNF_VAR_releasever and the
// variable files, then a mock config's own, then the host's; smith.yaml
// cannot set it. The host's fills every kind of repository source.
func TestReleaseverPrecedence(t *testing.T) {
	dir := t.TempDir()
	hostDir := t.TempDir()
	varsDir := t.TempDir()
	write := func(p, data string) { writeFile(t, p, data) }
	write(filepath.Join(dir, "el.repo"), "[el]\nbaseurl=http://r/$releasever/${releasever_major}/\n")
	write(filepath.Join(dir, "set.cfg"), "config_opts['releasever'] = '8'\nconfig_opts['dnf.conf'] = '[m]\\nbaseurl=http://m/$releasever/\\n'\n")
	write(filepath.Join(dir, "unset.cfg"), "config_opts['dnf.conf'] = '[m]\\nbaseurl=http://m/$releasever/\\n'\n")
	write(filepath.Join(hostDir, "host.repo"), "[h]\nbaseurl=http://h/$releasever/\n")
	write(filepath.Join(varsDir, "releasever"), "37\n")

	tests := []struct {
		name      string
		repofiles []string
		cfg       Config
		hostMock  string
		hostDir   string
		ro        RepoOptions
		want      string
	}{
		{name: "nothing sets it", repofiles: []string{"el.repo"},
			want: "http://r/$releasever/${releasever_major}/"},
		{name: "the host's", repofiles: []string{"el.repo"}, ro: RepoOptions{HostReleasever: "15.5"},
			want: "http://r/15.5/15/"},
		{name: "--releasever over the host's", repofiles: []string{"el.repo"},
			ro: RepoOptions{Releasever: "39", HostReleasever: "40"}, want: "http://r/39/39/"},
		{name: "DNF_VAR_releasever over the host's", repofiles: []string{"el.repo"},
			ro: RepoOptions{Vars: map[string]string{"releasever": "38"}, HostReleasever: "40"}, want: "http://r/38/38/"},
		{name: "a variable file over the host's", repofiles: []string{"el.repo"},
			ro: RepoOptions{VarsDirs: []string{varsDir}, HostReleasever: "40"}, want: "http://r/37/37/"},
		{name: "smith.yaml repos: take the host's", cfg: Config{Repos: []RepoSpec{{BaseURLs: []string{"http://y/$releasever/"}}}},
			ro: RepoOptions{HostReleasever: "40"}, want: "http://y/40/"},
		{name: "a mock config's own over the host's", cfg: Config{Mock: Mock{Config: "set.cfg"}},
			ro: RepoOptions{HostReleasever: "40"}, want: "http://m/8/"},
		{name: "--releasever over a mock config's", cfg: Config{Mock: Mock{Config: "set.cfg"}},
			ro: RepoOptions{Releasever: "39", HostReleasever: "40"}, want: "http://m/39/"},
		{name: "a mock config without one takes the host's", cfg: Config{Mock: Mock{Config: "unset.cfg"}},
			ro: RepoOptions{HostReleasever: "40"}, want: "http://m/40/"},
		{name: "a mock config without one, no host", cfg: Config{Mock: Mock{Config: "unset.cfg"}},
			want: "http://m/$releasever/"},
		{name: "the host's mock config's own over the host's", hostMock: filepath.Join(dir, "set.cfg"),
			ro: RepoOptions{HostReleasever: "40"}, want: "http://m/8/"},
		{name: "the host's mock config without one", hostMock: filepath.Join(dir, "unset.cfg"),
			ro: RepoOptions{HostReleasever: "40"}, want: "http://m/40/"},
		{name: "the host's repo files", hostDir: hostDir, ro: RepoOptions{HostReleasever: "9"}, want: "http://h/9/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			var log strings.Builder
			b := &builder{
				opt: Options{ConfigFile: "smith.yaml", RepoFiles: tt.repofiles, HostRepoDir: tt.hostDir,
					HostMockConfig: tt.hostMock, Repo: tt.ro, Log: &log},
				dir:  dir,
				cfg:  &cfg,
				arch: "x86_64",
			}
			srcs, _, err := b.sources()
			if err != nil {
				t.Fatal(err)
			}
			if len(srcs) != 1 || len(srcs[0].BaseURLs) != 1 || srcs[0].BaseURLs[0] != tt.want {
				t.Fatalf("got %+v, want baseurl %s", srcs, tt.want)
			}
			// -v says when the host's value was taken.
			usedHost := tt.ro.HostReleasever != "" && strings.Contains(tt.want, "/"+tt.ro.HostReleasever+"/")
			if logged := strings.Contains(log.String(), "the host's"); logged != usedHost {
				t.Errorf("log %q; want a line about the host's releasever: %v", log.String(), usedHost)
			}
		})
	}
}

// A repository that needs $releasever when nothing set it fails the build
// saying to pass --releasever.
func TestReleaseverUnset(t *testing.T) {
	dir := project(t, catYAML, map[string]string{
		"el.repo": "[el]\nbaseurl=http://127.0.0.1:1/$releasever/BaseOS/$basearch/os/\ngpgcheck=0\n",
	})
	o := opts(t, dir)
	o.RepoFiles = []string{"el.repo"}
	_, err := Run(context.Background(), o)
	want := `repo el: baseurl "http://127.0.0.1:1/$releasever/BaseOS/x86_64/os/" uses $releasever, which is not set: ` +
		`pass --releasever VER (smith takes it from the host's /etc/os-release only on Fedora, RHEL-like and openSUSE hosts)`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}
}
