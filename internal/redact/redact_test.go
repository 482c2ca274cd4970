package redact

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// What repo.Redact did: userinfo and query values, in URLs and in
		// messages.
		{"https://user:pass@host/path", "https://REDACTED@host/path"},
		{"https://user@host/path", "https://REDACTED@host/path"},
		{"https://host/path?q=a@b", "https://host/path?q=REDACTED"},
		{"https://h/p/?token=X&a=&b", "https://h/p/?token=REDACTED&a=&REDACTED"},
		{"https://u:p@h/p/repodata/repomd.xml?token=X#f", "https://REDACTED@h/p/repodata/repomd.xml?token=REDACTED#f"},
		{`GET "https://h/p?token=X": EOF`, `GET "https://h/p?token=REDACTED": EOF`},
		{"GET https://h/p?token=X&sig=Y: 403 Forbidden", "GET https://h/p?token=REDACTED&sig=REDACTED: 403 Forbidden"},
		{"a http://h/?t=1 and http://u:p@h2/x?s=2#frag", "a http://h/?t=REDACTED and http://REDACTED@h2/x?s=REDACTED#frag"},
		{`GET "https://u:p@h/x": EOF`, `GET "https://REDACTED@h/x": EOF`},
		{"two http://a:b@h1/ and https://c:d@h2/x", "two http://REDACTED@h1/ and https://REDACTED@h2/x"},
		{"https://us%40er:p%3Ass@host:8443/repo/", "https://REDACTED@host:8443/repo/"},
		{"https://h/x?a=1#frag?b=2", "https://h/x?a=REDACTED#frag?b=2"},
		// What image.RedactURL did: registry references, passwords typed
		// without escaping, digests.
		{"https://u:secret@host/repo:1", "https://REDACTED@host/repo:1"},
		{"https://u:se@cr/et@host/repo@sha256:abc", "https://REDACTED@host/repo@sha256:abc"},
		{"https://host/repo:1", "https://host/repo:1"},
		{"https://u@host/repo", "https://REDACTED@host/repo"},
		{"http://tb:pw@127.0.0.1:5000/x@sha256:ab12", "http://REDACTED@127.0.0.1:5000/x@sha256:ab12"},
		{"http://127.0.0.1:5000/x@sha256:ab12", "http://127.0.0.1:5000/x@sha256:ab12"},
		{"docker://u:p@host/x:1", "docker://REDACTED@host/x:1"},
		{"https://u:se@cr/et@host/repo/", "https://REDACTED@host/repo/"}, // repo.Redact showed "cr/et"
		// Raw passwords with the URL's delimiters in them.
		// A '?' in one may have started a query: what follows the '@' is
		// redacted as query values.
		{"https://u:p?w@h/x", "https://REDACTED@REDACTED"},
		{"https://u:p#w@h/x?t=1", "https://REDACTED@h/x?t=REDACTED"},
		{"https://u:a/b?c@h/x?t=S", "https://REDACTED@h/x?t=REDACTED"},
		{"https://u:pw@host:5000", "https://REDACTED@host:5000"},
		{"https://u:x@sha256:abc", "https://REDACTED@sha256:abc"},
		// Ambiguous: an '@' in the query after a password; the query value
		// after it is hidden, the host with it.
		{"https://u:p@h/x?e=a@b&t=S", "https://REDACTED@REDACTED&t=REDACTED"},
		// No userinfo: an '@' after a port is not one.
		{"https://host:443/p?q=a@b", "https://host:443/p?q=REDACTED"},
		{"http://[::1]:8080/x@y", "http://[::1]:8080/x@y"},
		{"https://[:B#@0", "https://REDACTED@0"}, // found by FuzzURL: a user "[", not IPv6
		// Nested URLs.
		{"https://proxy/http://u:p@x/y?t=1", "https://proxy/http://REDACTED@x/y?t=REDACTED"},
		{"https://h/#http://u:p@x/", "https://h/#http://REDACTED@x/"},
		// Not URLs: unchanged.
		{"no url? here", "no url? here"},
		{"/local/path@x", "/local/path@x"},
		{"not a url with user:pass@host but no slashes", "not a url with user:pass@host but no slashes"},
		{"image.tar.gz", "image.tar.gz"},
		{"://u:p@h", "://u:p@h"},
		{"//u:p@h/x", "//u:p@h/x"},
		{"file:///etc/yum.repos.d", "file:///etc/yum.repos.d"},
		{"", ""},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestURLLinear: hostile text (a location from metadata, an error quoting
// one) costs time linear in its size, nested URLs included.
func TestURLLinear(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("a://", 1<<18),
		strings.Repeat("a://u:p@", 1<<17),
		"https://u:p@h/" + strings.Repeat("x?", 1<<19),
		strings.Repeat("-", 1<<20) + "://",
	} {
		start := time.Now()
		out := URL(s)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%d bytes (%.20q…) took %v", len(s), s, d)
		}
		if strings.Contains(s, "u:p@") && strings.Contains(out, "u:p@") {
			t.Errorf("%.20q…: userinfo shown", s)
		}
	}
}

func FuzzURL(f *testing.F) {
	for _, s := range []string{
		"https://u:se@cr/et@host/repo@sha256:abc", "GET https://h/p?token=X&sig=Y: 403", "a http://h/?t=1 and http://u:p@h2/x?s=2#frag",
		"https://proxy/http://u:p@x/y?t=1", "http://[::1]:8080/x@y",
	} {
		f.Add(s, "user", "p@ss/w?rd#", "host.example:8443", "/repo/x@y")
	}
	f.Add("", "", "1234", "h", "")
	f.Fuzz(func(t *testing.T, s, user, pass, host, path string) {
		if out := URL(s); !strings.Contains(s, "://") && out != s {
			t.Fatalf("URL(%q) = %q: not a URL, changed", s, out)
		}
		if !plainHost(host) {
			return
		}
		// A well-formed URL: userinfo escaped as net/url writes it.
		u := &url.URL{Scheme: "https", User: url.UserPassword(user, pass), Host: host, Path: path}
		in := u.String()
		out := URL(in)
		u.User = nil
		plain := u.String()
		rest := strings.TrimPrefix(plain, "https://")
		const prefix = "https://" + mask + "@"
		if !strings.HasSuffix(in, "@"+rest) {
			t.Fatalf("%q is not %q with userinfo", in, plain)
		}
		_, encPass, _ := strings.Cut(in[len("https://"):len(in)-len(rest)-1], ":")
		switch {
		case !strings.HasPrefix(out, prefix) || !strings.HasSuffix(rest, out[len(prefix):]):
			t.Fatalf("URL(%q) = %q, want %q followed by the end of %q", in, out, prefix, rest)
		case !strings.Contains(path, "@") && out != prefix+URL(plain)[len("https://"):]:
			t.Fatalf("URL(%q) = %q, want %q", in, out, prefix+URL(plain)[len("https://"):])
		case encPass != "" && strings.Contains(out, encPass) && !strings.Contains(prefix+rest, encPass):
			t.Fatalf("URL(%q) = %q shows the password %q", in, out, encPass)
		}
		// The same typed without escaping, as users do.
		if user == "" || user[0] == '[' || strings.ContainsAny(user, ":@/?#"+stop) || strings.ContainsAny(pass, stop) || strings.ContainsAny(path, stop) ||
			pass == "" || strings.ContainsAny(pass, "REDACT") || path != "" && path[0] != '/' {
			return
		}
		if lead, _, _ := cutAny(pass, "/?#"); !strings.Contains(lead, "@") && allDigits(lead) {
			return // "user:1234/x@host" reads as host "user", port 1234
		}
		raw := "https://" + user + ":" + pass + "@" + host + path
		out = URL(raw)
		if strings.Contains(out, pass) && !strings.Contains("https://", pass) && !strings.Contains("@"+host+path, pass) {
			t.Fatalf("URL(%q) = %q shows the password %q", raw, out, pass)
		}
	})
}

// plainHost accepts a DNS-like name with an optional numeric port.
func plainHost(h string) bool {
	name, port, _ := strings.Cut(h, ":")
	if name == "" || !allDigits(port) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// cutAny cuts s at the first of chars.
func cutAny(s, chars string) (before, after string, found bool) {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
