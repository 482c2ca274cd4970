package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"quoted and unquoted", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=9.4\nPLATFORM_ID='platform:el9'\n",
			map[string]string{"NAME": "Rocky Linux", "ID": "rocky", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "9.4", "PLATFORM_ID": "platform:el9"}},
		{"comments, blank lines, indentation", "# written by hand\n\n  ID=fedora  \n#VERSION_ID=39\nVERSION_ID=40\n",
			map[string]string{"ID": "fedora", "VERSION_ID": "40"}},
		{"escapes in double quotes only", `A="say \"hi\" \$HOME \\ \x"` + "\n" + `B='a\"b'` + "\n",
			map[string]string{"A": `say "hi" $HOME \ \x`, "B": `a\"b`}},
		{"empty values", "ID=\nVERSION_ID=\"\"\n", map[string]string{"ID": "", "VERSION_ID": ""}},
		{"junk is skipped", "no equals sign\n1ID=x\nID-LIKE=y\nBAD=\"unterminated\nOK=1\n=v\n",
			map[string]string{"OK": "1"}},
		{"later lines win", "ID=a\nID=b\n", map[string]string{"ID": "b"}},
		{"CRLF", "ID=centos\r\nVERSION_ID=\"9\"\r\n", map[string]string{"ID": "centos", "VERSION_ID": "9"}},
	}
	for _, tt := range tests {
		got, err := parseOSRelease(strings.NewReader(tt.in))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestReleaseverFrom(t *testing.T) {
	tests := []struct {
		osRelease string
		want      string
	}{
		{`ID="rhel"` + "\n" + `VERSION_ID="9.4"`, "9"},
		{`ID="centos"` + "\n" + `ID_LIKE="rhel fedora"` + "\n" + `VERSION_ID="9"`, "9"},
		{`ID="rocky"` + "\n" + `ID_LIKE="rhel centos fedora"` + "\n" + `VERSION_ID="8.10"`, "8"},
		{`ID="almalinux"` + "\n" + `VERSION_ID="9.4"`, "9"},
		{`ID="ol"` + "\n" + `ID_LIKE="fedora"` + "\n" + `VERSION_ID="9.3"`, "9"},
		{`ID=fedora` + "\n" + `VERSION_ID=40`, "40"},
		{`ID="opensuse-leap"` + "\n" + `ID_LIKE="suse opensuse"` + "\n" + `VERSION_ID="15.5"`, "15.5"},
		{`ID="opensuse-tumbleweed"` + "\n" + `ID_LIKE="opensuse suse"` + "\n" + `VERSION_ID="20240101"`, "20240101"},
		// A rebuild smith does not know, by its ID_LIKE (closest first).
		{`ID="eurolinux"` + "\n" + `ID_LIKE="rhel fedora centos"` + "\n" + `VERSION_ID="9.2"`, "9"},
		{`ID="myfedora"` + "\n" + `ID_LIKE="fedora"` + "\n" + `VERSION_ID="41"`, "41"},
		{`ID="rhel"`, ""}, // no VERSION_ID
		{`ID="rhel"` + "\n" + `VERSION_ID="9/../x"`, ""},                          // not a path element
		{`ID=debian` + "\n" + `VERSION_ID="12"`, ""},                              // not dnf's
		{`ID=ubuntu` + "\n" + `ID_LIKE=debian` + "\n" + `VERSION_ID="24.04"`, ""}, // nor this
		{``, ""},
	}
	for _, tt := range tests {
		fields, err := parseOSRelease(strings.NewReader(tt.osRelease))
		if err != nil {
			t.Fatal(err)
		}
		if got := releaseverFrom(fields); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.osRelease, got, tt.want)
		}
	}
}

// /etc/os-release wins; /usr/lib/os-release is read only when it does not
// exist; neither (macOS) is no guess.
func TestHostReleasever(t *testing.T) {
	dir := t.TempDir()
	etc, lib := filepath.Join(dir, "etc-os-release"), filepath.Join(dir, "lib-os-release")
	if err := os.WriteFile(lib, []byte("ID=fedora\nVERSION_ID=40\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := hostReleasever([]string{etc, lib}); got != "40" {
		t.Errorf("fallback: got %q", got)
	}
	if err := os.WriteFile(etc, []byte("ID=debian\nVERSION_ID=12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := hostReleasever([]string{etc, lib}); got != "" {
		t.Errorf("/etc/os-release must win: got %q", got)
	}
	if got := hostReleasever([]string{filepath.Join(dir, "nosuch")}); got != "" {
		t.Errorf("no file: got %q", got)
	}
	if got := hostReleasever(nil); got != "" {
		t.Errorf("no paths: got %q", got)
	}
}

// The CLI passes the host's releasever on, unless --releasever is given.
func TestOptionsReleasever(t *testing.T) {
	osRelease := filepath.Join(t.TempDir(), "os-release")
	if err := os.WriteFile(osRelease, []byte("ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &Globals{env: envOf(nil), stderr: &strings.Builder{}, osRelease: []string{osRelease}}
	opt, err := (&BuildCmd{}).options(g)
	if err != nil || opt.Repo.HostReleasever != "9" || opt.Repo.Releasever != "" {
		t.Errorf("host: %+v, %v", opt.Repo, err)
	}
	opt, err = (&BuildCmd{Releasever: "8"}).options(g)
	if err != nil || opt.Repo.HostReleasever != "" || opt.Repo.Releasever != "8" {
		t.Errorf("--releasever: %+v, %v", opt.Repo, err)
	}
}
