package build

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		yaml string
		want *Config // nil: check err only
		err  string  // regexp over the error
	}{{
		name: "readme cat example",
		yaml: `
package: coreutils
paths:
- /usr/bin/cat
cmd:
- /usr/bin/cat
- /read/data
`,
		want: &Config{Type: "rpm", Packages: []string{"coreutils"}, Paths: []string{"/usr/bin/cat"},
			Cmd: []string{"/usr/bin/cat", "/read/data"}, Weak: true},
	}, {
		name: "every field",
		yaml: `
type: rpm
package: [httpd, mod_ssl]
paths: [/usr/sbin/httpd, /etc/httpd]
excludes: ["/usr/share/doc/*"]
parent: base.tar.gz
nss: true
root: yes
user: "apache:apache"
groups: [wheel, mock]
mounts: [/var/log/httpd, tmp]
entrypoint: [/usr/sbin/httpd]
cmd: [-DFOREGROUND]
dir: /write
env: [A=1, "B=two words"]
labels: {maintainer: me, version: 2}
ports: {"80/tcp": {}, "443/tcp": {}}
mock:
  config: /etc/mock/default.cfg
  deps: [bash]
repos:
- ../repo
- name: base
  baseurl: [http://a/x, http://b/x]
  gpgkey: file:///k
  gpgcheck: false
arch: aarch64
weak: false
exclude-packages: [glibc-langpack-*]
keep-caps: true
`,
		want: &Config{
			Type: "rpm", Packages: []string{"httpd", "mod_ssl"}, Paths: []string{"/usr/sbin/httpd", "/etc/httpd"},
			Excludes: []string{"/usr/share/doc/*"}, Parent: "base.tar.gz", NSS: true, Root: true,
			User: "apache:apache", Groups: []string{"wheel", "mock"}, Mounts: []string{"/var/log/httpd", "/tmp"},
			Entrypoint: []string{"/usr/sbin/httpd"}, Cmd: []string{"-DFOREGROUND"}, Dir: "/write",
			Env: []string{"A=1", "B=two words"}, Labels: map[string]string{"maintainer": "me", "version": "2"},
			Ports: []string{"443/tcp", "80/tcp"},
			Mock:  Mock{Config: "/etc/mock/default.cfg", Deps: []string{"bash"}},
			Repos: []RepoSpec{{BaseURLs: []string{"../repo"}},
				{Name: "base", BaseURLs: []string{"http://a/x", "http://b/x"}, GPGKeys: []string{"file:///k"}, GPGCheck: &no}},
			Arch: "aarch64", Weak: false, ExcludePackages: []string{"glibc-langpack-*"}, KeepCaps: true,
		},
	}, {
		name: "ports as a list",
		yaml: "ports: [80, \"53/udp\", 8080/TCP, 80]\n",
		want: &Config{Type: "rpm", Ports: []string{"53/udp", "80/tcp", "8080/tcp"}, Weak: true},
	}, {
		name: "ports as the original map",
		yaml: "ports:\n  \"80/tcp\": {}\n  8443/tcp:\n",
		want: &Config{Type: "rpm", Ports: []string{"80/tcp", "8443/tcp"}, Weak: true},
	}, {
		name: "mock debuginfo fields",
		yaml: "mock:\n  pre-build: a.sh\n  post-build: b.sh\n  debuginfo: true\n  debugdeps: [x]\n  debugpaths: [/y]\n",
		want: &Config{Type: "rpm", Weak: true, Mock: Mock{PreBuild: "a.sh", PostBuild: "b.sh", Debuginfo: true,
			DebugDeps: []string{"x"}, DebugPaths: []string{"/y"}}},
	}, {
		name: "gpgcheck explicit true",
		yaml: "repos:\n- {baseurl: /r, gpgcheck: 1}\n",
		err:  `smith.yaml:2: .*want true or false`,
	}, {
		name: "gpgcheck yes",
		yaml: "repos:\n- {baseurl: /r, gpgcheck: yes}\n",
		want: &Config{Type: "rpm", Weak: true, Repos: []RepoSpec{{BaseURLs: []string{"/r"}, GPGCheck: &yes}}},
	}, {
		name: "local rpm and type mock",
		yaml: "type: mock\npackage: ./x-1-1.noarch.rpm\n",
		want: &Config{Type: "rpm", Packages: []string{"./x-1-1.noarch.rpm"}, Weak: true},
	}, {
		name: "oci source inferred",
		yaml: "package: https://registry-1.docker.io/library/fedora\n",
		want: &Config{Type: "oci", Packages: []string{"https://registry-1.docker.io/library/fedora"}, Weak: true},
	}, {
		name: "oci tar.gz with tag",
		yaml: "package: image.tar.gz:v1\n",
		want: &Config{Type: "oci", Packages: []string{"image.tar.gz:v1"}, Weak: true},
	}, {
		name: "empty file",
		yaml: "",
		want: &Config{Type: "rpm", Weak: true},
	}, {
		name: "comments only",
		yaml: "# nothing\n",
		want: &Config{Type: "rpm", Weak: true},
	}, {
		name: "unknown field",
		yaml: "package: coreutils\npaths: [/a]\npakage: x\n",
		err:  `^smith.yaml:3: unknown field "pakage"$`,
	}, {
		name: "unknown mock field",
		yaml: "package: a\nmock:\n  config: x\n  dpes: [a]\n",
		err:  `^smith.yaml:4: unknown field "dpes"$`,
	}, {
		name: "unknown repos field",
		yaml: "repos:\n- name: a\n  baseurl: /x\n  gpgkeys: /k\n",
		err:  `^smith.yaml:4: unknown field "gpgkeys"$`,
	}, {
		name: "syntax error",
		yaml: "package: a\npaths: [\n",
		err:  `^smith.yaml:2: .*']'`,
	}, {
		name: "bad indentation",
		yaml: "package: a\n  paths: x\n",
		err:  `^smith.yaml:[12]: `,
	}, {
		name: "duplicate key",
		yaml: "package: a\npackage: b\n",
		err:  `^smith.yaml:2: .*already defined`,
	}, {
		name: "wrong type for paths",
		yaml: "package: a\npaths: /usr/bin/cat\n",
		err:  `^smith.yaml:2: paths: wrong type`,
	}, {
		name: "wrong type for root",
		yaml: "root: maybe\n",
		err:  `^smith.yaml:1: root: want true or false, got maybe$`,
	}, {
		name: "wrong type for labels",
		yaml: "labels: [a]\n",
		err:  `^smith.yaml:1: labels: wrong type`,
	}, {
		name: "package is a map",
		yaml: "\npackage: {a: b}\n",
		err:  `^smith.yaml:2: package: want a string or a list of strings, got a map$`,
	}, {
		name: "bad port",
		yaml: "ports:\n- 80\n- http\n",
		err:  `^smith.yaml:3: ports: "http": port must be a number`,
	}, {
		name: "bad protocol",
		yaml: "ports: [80/icmp]\n",
		err:  `^smith.yaml:1: ports: "80/icmp": protocol must be tcp, udp or sctp$`,
	}, {
		name: "map port with a value",
		yaml: "ports: {\"80/tcp\": yes}\n",
		err:  `^smith.yaml:1: ports: the value of "?80/tcp"? must be \{\}`,
	}, {
		name: "bad type",
		yaml: "package: a\ntype: deb\n",
		err:  `^smith.yaml:2: type: "deb" is not rpm or oci$`,
	}, {
		name: "rpm and oci mixed",
		yaml: "package: [a, b.tar.gz]\n",
		err:  `^smith.yaml:1: package: an OCI build takes exactly one OCI source`,
	}, {
		name: "bad user",
		yaml: "user: a:b:c\n",
		err:  `^smith.yaml:1: user: "a:b:c" is not user\[:group\]$`,
	}, {
		name: "empty exclude",
		yaml: "package: a\nexcludes: [\"\"]\n",
		err:  `^smith.yaml:2: excludes: empty entry$`,
	}, {
		name: "repo without baseurl",
		yaml: "repos:\n- name: x\n",
		err:  `^smith.yaml:2: repos: entry "x" has no baseurl$`,
	}, {
		name: "two documents",
		yaml: "package: a\n---\npackage: b\n",
		err:  `^smith.yaml:3: more than one YAML document`,
	}, {
		name: "top level list",
		yaml: "- a\n",
		err:  `^smith.yaml:1: `,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.yaml), "smith.yaml")
			if tt.err != "" {
				if err == nil {
					t.Fatalf("no error, want %q; got %+v", tt.err, got)
				}
				if !regexp.MustCompile(tt.err).MatchString(err.Error()) {
					t.Fatalf("error %q does not match %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSpecJSON(t *testing.T) {
	c, err := ParseConfig([]byte(`
package: coreutils
paths: [/usr/bin/cat]
ports: [80]
weak: false
repos:
- https://user:secret@example.com/repo
`), "smith.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := c.SpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"rpm","package":"coreutils","paths":["/usr/bin/cat"],"ports":{"80/tcp":{}},` +
		`"repos":[{"baseurl":["https://REDACTED@example.com/repo"]}],"weak":false}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}
	c.KeepCaps = true
	if js, _ = c.SpecJSON(); !strings.Contains(string(js), `"keep-caps":true`) {
		t.Errorf("keep-caps: %s", js)
	}
	c.Packages = []string{"a", "b"}
	js, _ = c.SpecJSON()
	if !strings.Contains(string(js), `"package":["a","b"]`) {
		t.Errorf("two packages: %s", js)
	}
}

func TestIsOCISource(t *testing.T) {
	for in, want := range map[string]bool{
		"coreutils":            false,
		"./foo-1-1.x86_64.rpm": false,
		"coreutils >= 9":       false,
		"http://r/x":           true,
		"HTTPS://r/x":          true,
		"docker://r/x":         true,
		"https://registry-1.docker.io/library/fedora:38": true,
		"image.tar.gz":        true,
		"image.tgz":           true,
		"dir/image.tar":       true,
		"image.tar.gz:latest": true,
		"perl(Foo::Bar)":      false,
	} {
		if got := IsOCISource(in); got != want {
			t.Errorf("IsOCISource(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzParseConfig: any input gives a Config or a one-line error, never a
// panic.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		catYAML,
		"ports: {\"80/tcp\": {}}\nrepos:\n- {name: a, baseurl: [/x], gpgkey: k, gpgcheck: yes}\n",
		"package: &a [x]\npaths: *a\nmock: {deps: [y], debuginfo: on}\n",
		"user: 1000:1000\ngroups: [a]\nlabels: {a: b}\nenv: [A=1]\n",
		"a: [\n",
		"- x\n",
		"ports: [80, 53/udp]\nweak: false\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "smith.yaml")
		if err != nil {
			if c != nil {
				t.Fatal("config and error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if c.Type != TypeRPM && c.Type != TypeOCI {
			t.Fatalf("type %q", c.Type)
		}
		if _, err := c.SpecJSON(); err != nil {
			t.Fatal(err)
		}
	})
}
