package main

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
)

// hostOSRelease are where systemd's os-release(5) says the host's
// identification is: the first that exists is read.
var hostOSRelease = []string{"/etc/os-release", "/usr/lib/os-release"}

// maxOSReleaseSize bounds os-release: the real ones are under 1 KiB.
const maxOSReleaseSize = 64 << 10

// hostReleasever guesses dnf's $releasever for the host from the first of
// paths that exists, or returns "". dnf takes it from the rpmdb (the
// system-release(releasever) provide), which smith cannot read cheaply and
// which does not exist on macOS or Debian; os-release gives the same value
// on the distributions where dnf's guess means anything. Only a missing
// file moves on to the next path, as systemd does; an unreadable one is no
// guess rather than an error, since the guess is only a default.
func hostReleasever(paths []string) string {
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return ""
		}
		fields, err := parseOSRelease(f)
		f.Close()
		if err != nil {
			return ""
		}
		return releaseverFrom(fields)
	}
	return ""
}

// parseOSRelease reads os-release's KEY=VALUE lines: comments (#) and
// blank lines are skipped, values may be unquoted or in single or double
// quotes (with shell backslash escapes in double quotes); lines that are
// none of these are ignored, as systemd ignores them.
func parseOSRelease(r io.Reader) (map[string]string, error) {
	fields := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, maxOSReleaseSize))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !isOSReleaseKey(k) {
			continue
		}
		if v, ok = unquoteOSRelease(v); ok {
			fields[k] = v
		}
	}
	return fields, sc.Err()
}

// isOSReleaseKey accepts shell variable names, as os-release keys are.
func isOSReleaseKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// unquoteOSRelease undoes the shell quoting os-release allows; ok is false
// for an unterminated quote.
func unquoteOSRelease(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	switch q := v[0]; q {
	case '\'':
		if len(v) < 2 || v[len(v)-1] != q {
			return "", false
		}
		return v[1 : len(v)-1], true
	case '"':
		if len(v) < 2 || v[len(v)-1] != q {
			return "", false
		}
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\\\"$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String(), true
	}
	return v, true
}

// releaseverFrom derives dnf's $releasever from os-release fields: the
// major version on RHEL and its rebuilds ("9.4" gives "9", as their
// system-release packages provide), VERSION_ID as it is on Fedora ("40")
// and openSUSE/SUSE ("15.5", Tumbleweed's snapshot date). ID is tried
// before ID_LIKE, whose entries go from the closest relative on, so that
// Rocky (ID_LIKE="rhel centos fedora") counts as RHEL. Other systems, or a
// VERSION_ID that could not be a path element, give "".
func releaseverFrom(fields map[string]string) string {
	ver := fields["VERSION_ID"]
	if !isReleasever(ver) {
		return ""
	}
	ids := append([]string{fields["ID"]}, strings.Fields(fields["ID_LIKE"])...)
	for _, id := range ids {
		switch strings.ToLower(id) {
		case "rhel", "centos", "rocky", "almalinux", "ol":
			major, _, _ := strings.Cut(ver, ".")
			return major
		case "fedora", "opensuse-leap", "opensuse-tumbleweed", "opensuse", "suse", "sles":
			return ver
		}
	}
	return ""
}

// isReleasever accepts what can stand in a repository URL unescaped.
func isReleasever(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for _, c := range s {
		if !(c == '.' || c == '_' || c == '-' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
