package repo

import (
	"github.com/smith-build/smith/internal/redact"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testVars = map[string]string{"releasever": "9.4", "basearch": "x86_64", "arch": "x86_64"}

func TestParseRepoFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []Source
		err  string
	}{{
		name: "dnf style",
		in: `# comment
[main]
gpgcheck=1
sslverify=0
excludepkgs=kernel*

[baseos]
name=CentOS Stream $releasever - BaseOS
baseurl=https://mirror.example/$releasever/BaseOS/$basearch/os/
        http://other.example/${releasever_major}/BaseOS/$basearch/os/, file:///srv/baseos
  ; an indented comment line inside the list
        /srv/local
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial
priority=10
cost = 500
includepkgs=bash coreutils*
exclude=foo
skip_if_unavailable=True
metadata_expire=6h
repo_gpgcheck=on

[appstream]
name=AppStream
metalink=https://mirrors.example/metalink?repo=centos-appstream-$releasever&arch=$basearch
enabled=0
gpgcheck=no
sslverify=yes
username=u
password=p
metadata_expire=never
`,
		want: []Source{{
			ID: "baseos", Name: "CentOS Stream 9.4 - BaseOS",
			BaseURLs:     []string{"https://mirror.example/9.4/BaseOS/x86_64/os/", "http://other.example/9/BaseOS/x86_64/os/", "file:///srv/baseos", "/srv/local"},
			Enabled:      true,
			GPGCheck:     true,
			RepoGPGCheck: true,
			GPGKeys:      []string{"file:///etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial"},
			Priority:     10, Cost: 500,
			InsecureSkipVerify: true,
			ExcludePkgs:        []string{"kernel*", "foo"},
			IncludePkgs:        []string{"bash", "coreutils*"},
			SkipIfUnavailable:  true,
			MetadataExpire:     6 * time.Hour,
			Origin:             "t.repo:7",
		}, {
			ID: "appstream", Name: "AppStream",
			Metalink:       "https://mirrors.example/metalink?repo=centos-appstream-9.4&arch=x86_64",
			ExcludePkgs:    []string{"kernel*"},
			Username:       "u",
			Password:       "p",
			MetadataExpire: -1,
			Origin:         "t.repo:22",
		}},
	}, {
		name: "defaults and unknown variables",
		in:   "[r]\nbaseurl=http://h/$unknown/${nope}/${releasever:-x}/${missing:-dflt}/${basearch:+set}/${missing:+no}\n",
		want: []Source{{
			ID: "r", Name: "r", Enabled: true, Origin: "t.repo:1",
			BaseURLs: []string{"http://h/$unknown/${nope}/9.4/dflt/set/"},
		}},
	}, {
		name: "bad boolean",
		in:   "[r]\nenabled=maybe\n",
		err:  `t.repo:2: [r] enabled: invalid boolean "maybe"`,
	}, {
		name: "duplicate",
		in:   "[r]\n[r]\n",
		err:  "t.repo:2: repository [r] defined twice",
	}, {
		name: "bad id",
		in:   "[my repo]\n",
		err:  `bad repository id "my repo"`,
	}, {
		name: "option before section",
		in:   "baseurl=x\n",
		err:  "before any [section]",
	}, {
		name: "garbage",
		in:   "[r]\nthis is not an option\n",
		err:  "t.repo:2: want key=value",
	}, {
		name: "unterminated section",
		in:   "[r\n",
		err:  "has no ']'",
	}, {
		name: "bad priority",
		in:   "[r]\npriority=high\n",
		err:  "priority: invalid number",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRepoFile(strings.NewReader(tc.in), "t.repo", testVars)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestParseRepoFileDoesNotModifyVars(t *testing.T) {
	vars := map[string]string{"releasever": "9"}
	if _, err := ParseRepoFile(strings.NewReader("[r]\nbaseurl=x\n"), "t", vars); err != nil {
		t.Fatal(err)
	}
	if len(vars) != 1 {
		t.Fatalf("vars modified: %v", vars)
	}
}

func TestParseMockConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "templates", "base.tpl"), []byte(`
config_opts['releasever'] = '9'
config_opts['target_arch'] = 'i686'
config_opts['dnf.conf'] = """
[main]
gpgcheck=1

[baseos]
name=BaseOS {{ releasever }}
baseurl=https://mirror.example/{{ releasever }}/BaseOS/{{ repo_arch }}/os/
gpgkey=file:///usr/share/distribution-gpg-keys/centos/RPM-GPG-KEY-CentOS-Official
"""
`))
	cfg := `# a mock config
include('templates/base.tpl')
include(os.path.join(config_path, 'not-simple.tpl'))  # ignored
config_opts['root'] = 'centos-stream-9-i686'
config_opts['chroot_setup_cmd'] = 'install bash'; config_opts['x'] = 1
config_opts['dnf.conf'] += '''
[extra]
name=Extra \'quoted\'
baseurl=http://extra.example/$basearch/''' "\n" + (
    "enabled=0\n"
    'gpgcheck=0\n'
)
if True:
    config_opts['unrelated'] = some.call("ignored")
`
	path := filepath.Join(dir, "centos.cfg")
	writeFile(t, path, []byte(cfg))
	f, _ := os.Open(path)
	defer f.Close()
	got, err := ParseMockConfig(f, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{{
		ID: "baseos", Name: "BaseOS 9", Enabled: true, GPGCheck: true,
		BaseURLs: []string{"https://mirror.example/9/BaseOS/i386/os/"},
		GPGKeys:  []string{"file:///usr/share/distribution-gpg-keys/centos/RPM-GPG-KEY-CentOS-Official"},
		Origin:   path + " (config_opts['dnf.conf']):5",
	}, {
		ID: "extra", Name: "Extra 'quoted'", Enabled: false, GPGCheck: false,
		BaseURLs: []string{"http://extra.example/i386/"},
		Origin:   path + " (config_opts['dnf.conf']):10",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseMockConfigYumAndErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		vars     map[string]string
		wantID   string
		wantURL  string
		err      string
	}{{
		name:    "yum.conf with double-quoted escapes, caller vars win",
		in:      "config_opts[\"yum.conf\"] = \"[old]\\nbaseurl=http://h/$releasever/\\x41\\n\"\nconfig_opts['releasever'] = '5'\n",
		vars:    map[string]string{"releasever": "7"},
		wantID:  "old",
		wantURL: "http://h/7/A",
	}, {
		name:    "raw string",
		in:      `config_opts['dnf.conf'] = r'[raw]\nbaseurl=http://h/'` + "\n",
		wantID:  "raw",
		wantURL: `http://h/`,
		err:     "after ']'", // \n stays a backslash and an n in a raw string
	}, {
		name: "no dnf.conf",
		in:   "config_opts['root'] = 'x'\n",
		err:  "no config_opts['dnf.conf']",
	}, {
		name: "not a literal",
		in:   "config_opts['dnf.conf'] = make_conf()\n",
		err:  "not made of plain string literals",
	}, {
		name: "f-string",
		in:   "config_opts['dnf.conf'] = f'[x]\\nbaseurl={url}'\n",
		err:  "not made of plain string literals",
	}, {
		name: "unterminated",
		in:   "config_opts['dnf.conf'] = '''[x]\n",
		err:  "unterminated string literal",
	}, {
		name: "missing include",
		in:   "include('nope.tpl')\n",
		err:  "nope.tpl",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMockConfig(strings.NewReader(tc.in), "m.cfg", tc.vars)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != tc.wantID || !reflect.DeepEqual(got[0].BaseURLs, []string{tc.wantURL}) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestMockIncludeCycle(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.cfg"), []byte("include('b.tpl')\n"))
	writeFile(t, filepath.Join(dir, "b.tpl"), []byte("include('a.cfg')\n"))
	f, _ := os.Open(filepath.Join(dir, "a.cfg"))
	defer f.Close()
	_, err := ParseMockConfig(f, filepath.Join(dir, "a.cfg"), nil)
	if err == nil || !strings.Contains(err.Error(), "includes itself") {
		t.Fatalf("got %v", err)
	}
}

func TestHostRepoFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.repo", "a.repo", "c.repo.rpmnew", "notes.txt"} {
		writeFile(t, filepath.Join(dir, n), nil)
	}
	os.Mkdir(filepath.Join(dir, "d.repo"), 0o755)
	got, err := HostRepoFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.repo"), filepath.Join(dir, "b.repo")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	if got, err := HostRepoFiles(filepath.Join(dir, "missing")); err != nil || got != nil {
		t.Fatalf("missing dir: %v %v", got, err)
	}
}

func TestNewSource(t *testing.T) {
	var srcs []Source
	for _, tc := range []struct{ loc, id string }{
		{"/srv/repos/epel/", "epel"},
		{"/other/epel", "epel-2"},
		{"file:///srv/x/repodata", "x"},
		{"https://user:secret@mirror.example.com/centos/9-stream/BaseOS/x86_64/os/", "mirror.example.com_centos_9-stream_BaseOS_x86_64_os"},
		{"http://h", "h"},
		{"./", filepath.Base(mustGetwd(t))},
	} {
		s := NewSource(tc.loc, srcs)
		if s.ID != tc.id {
			t.Errorf("NewSource(%q).ID = %q, want %q", tc.loc, s.ID, tc.id)
		}
		if strings.Contains(s.ID+s.Name, "secret") || strings.Contains(s.ID, "user") {
			t.Errorf("credentials leak into %+v", s)
		}
		if !s.Enabled || len(s.BaseURLs) != 1 || s.BaseURLs[0] != tc.loc {
			t.Errorf("%+v", s)
		}
		srcs = append(srcs, s)
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pass@host/path":                   "https://REDACTED@host/path",
		"https://user@host/path":                        "https://REDACTED@host/path",
		"https://host/path?q=a@b":                       "https://host/path?q=REDACTED",
		"https://h/p/?token=X&a=&b":                     "https://h/p/?token=REDACTED&a=&REDACTED",
		"https://u:p@h/p/repodata/repomd.xml?token=X#f": "https://REDACTED@h/p/repodata/repomd.xml?token=REDACTED#f",
		`GET "https://h/p?token=X": EOF`:                `GET "https://h/p?token=REDACTED": EOF`,
		"GET https://h/p?token=X&sig=Y: 403 Forbidden":  "GET https://h/p?token=REDACTED&sig=REDACTED: 403 Forbidden",
		"a http://h/?t=1 and http://u:p@h2/x?s=2#frag":  "a http://h/?t=REDACTED and http://REDACTED@h2/x?s=REDACTED#frag",
		"no url? here":                                  "no url? here",
		"/local/path@x":                                 "/local/path@x",
		`GET "https://u:p@h/x": EOF`:                    `GET "https://REDACTED@h/x": EOF`,
		"two http://a:b@h1/ and https://c:d@h2/x":       "two http://REDACTED@h1/ and https://REDACTED@h2/x",
		"https://us%40er:p%3Ass@host:8443/repo/":        "https://REDACTED@host:8443/repo/",
		"not a url with user:pass@host but no slashes":  "not a url with user:pass@host but no slashes",
	} {
		if got := redact.URL(in); got != want {
			t.Errorf("redact.URL(%q) = %q, want %q", in, got, want)
		}
	}
}
