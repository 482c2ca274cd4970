package build

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smith-build/smith/repo"
)

func TestRepoSources(t *testing.T) {
	dir := t.TempDir()
	hostDir := t.TempDir()
	write := func(p, data string) { writeFile(t, p, data) }
	write(filepath.Join(dir, "my.repo"), "[flagged]\nname=Flagged\nbaseurl=http://flag.example/$basearch/\nenabled=1\n\n[off]\nbaseurl=http://off/\nenabled=0\n")
	write(filepath.Join(dir, "mock", "el9.cfg"), "config_opts['root'] = 'el9'\nconfig_opts['dnf.conf'] = \"\"\"\n[main]\ngpgcheck=0\n\n[mockrepo]\nname=Mock\nbaseurl=http://mock.example/$basearch/\n\"\"\"\n")
	write(filepath.Join(hostDir, "host.repo"), "[hostrepo]\nbaseurl=http://host.example/\nenabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/key\n")
	no := false

	type src struct{ id, url string }
	tests := []struct {
		name      string
		cfg       Config
		repos     []string
		repofiles []string
		hostDir   string
		hostMock  string
		want      []src
		err       string
	}{{
		name:    "flags win over everything",
		cfg:     Config{Repos: []RepoSpec{{BaseURLs: []string{"/yaml"}}}, Mock: Mock{Config: "mock/el9.cfg"}},
		repos:   []string{"../local", "file:///abs/repo", "https://u:p@example.com/os/"},
		hostDir: hostDir,
		want: []src{{"local", filepath.Join(filepath.Dir(dir), "local")}, {"repo", "file:///abs/repo"},
			{"example.com_os", "https://u:p@example.com/os/"}},
	}, {
		name:      "repofile and repo",
		repofiles: []string{"my.repo"},
		repos:     []string{"flagged"},
		want:      []src{{"flagged", "http://flag.example/x86_64/"}, {"flagged-2", filepath.Join(dir, "flagged")}},
	}, {
		name: "repos: from smith.yaml, relative to the build directory",
		cfg: Config{Repos: []RepoSpec{{BaseURLs: []string{"../repo"}},
			{Name: "named", BaseURLs: []string{"http://a/", "http://b/"}, GPGKeys: []string{"keys/k.asc"}, GPGCheck: &no}}},
		hostDir: hostDir,
		want:    []src{{"repo", filepath.Join(filepath.Dir(dir), "repo")}, {"named", "http://a/"}},
	}, {
		name:    "mock.config",
		cfg:     Config{Mock: Mock{Config: "mock/el9.cfg"}},
		hostDir: hostDir,
		want:    []src{{"mockrepo", "http://mock.example/x86_64/"}},
	}, {
		name:     "the host's default mock config before its repo files",
		hostMock: filepath.Join(dir, "mock", "el9.cfg"),
		hostDir:  hostDir,
		want:     []src{{"mockrepo", "http://mock.example/x86_64/"}},
	}, {
		name:     "a missing or broken host mock config is skipped",
		hostMock: filepath.Join(dir, "my.repo"),
		hostDir:  hostDir,
		want:     []src{{"hostrepo", "http://host.example/"}},
	}, {
		name:     "mock.config wins over the host's",
		cfg:      Config{Mock: Mock{Config: "mock/el9.cfg"}},
		hostMock: filepath.Join(dir, "nosuch.cfg"),
		want:     []src{{"mockrepo", "http://mock.example/x86_64/"}},
	}, {
		name:    "host repositories last",
		hostDir: hostDir,
		want:    []src{{"hostrepo", "http://host.example/"}},
	}, {
		name:    "nothing at all",
		hostDir: filepath.Join(dir, "nosuch"),
		err:     ErrNoRepositories.Error(),
	}, {
		name: "no host dir",
		err:  ErrNoRepositories.Error(),
	}, {
		name:      "repofile without enabled repos",
		repofiles: []string{"empty.repo"},
		err:       "empty.repo",
	}}
	write(filepath.Join(dir, "empty.repo"), "[x]\nbaseurl=http://x/\nenabled=0\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			b := &builder{
				opt: Options{ConfigFile: "smith.yaml", Repos: tt.repos, RepoFiles: tt.repofiles,
					HostRepoDir: tt.hostDir, HostMockConfig: tt.hostMock},
				dir:  dir,
				cfg:  &cfg,
				arch: "x86_64",
			}
			srcs, _, err := b.sources()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if tt.err == ErrNoRepositories.Error() && !errors.Is(err, ErrNoRepositories) {
					t.Errorf("not ErrNoRepositories: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []src
			for _, s := range srcs {
				got = append(got, src{s.ID, s.BaseURLs[0]})
				if !s.Enabled {
					t.Errorf("%s is not enabled", s.ID)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			for _, s := range srcs {
				if s.ID == "named" {
					want := repo.Source{ID: "named", Name: "named", BaseURLs: []string{"http://a/", "http://b/"},
						GPGKeys: []string{filepath.Join(dir, "keys/k.asc")}, GPGCheck: false, Enabled: true, Origin: "smith.yaml"}
					if !reflect.DeepEqual(s, want) {
						t.Errorf("named:\n got %+v\nwant %+v", s, want)
					}
				}
			}
		})
	}
}

// writeFile writes data to p, creating its directories.
func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
