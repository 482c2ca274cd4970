// Package redact hides the credentials in URLs so that they can be
// printed: in logs, error messages, the spec blob.
//
// Contract of URL:
//   - the userinfo of every URL (user name and password: a token is often
//     given as the user name) is replaced by "REDACTED";
//   - the value of every query parameter is replaced by "REDACTED", and a
//     parameter without "=" whole: signed URLs and ?token= carry
//     credentials there under names we cannot list, so every value counts
//     as a token; the keys are kept;
//   - everything else (scheme, host, port, path, fragment, the text around
//     the URLs) is kept byte for byte, so the output is still a readable
//     URL, or message;
//   - a string without "scheme://" is not a URL and comes back unchanged;
//   - it never panics, whatever the input.
//
// It works on any text that contains URLs (error messages, several URLs).
// A URL ends at white space, a quote or '<' '>', and a trailing ':' is
// taken as the message's ("GET https://h/p?t=x: 403").
//
// Passwords typed without percent-encoding are hidden too: one holding
// '@', ':', '/', '?' or '#' makes the userinfo end at the last '@' of the
// URL (not counting a registry digest "@sha256:…" at its end). That is
// ambiguous with an '@' in the path or query, so a URL that has a password
// and such an '@' loses its host from the output too, and when a '?' was
// swallowed with the userinfo the rest is redacted as query values: more is
// hidden, never less. Where RFC 3986 gives a reading that has no password,
// that reading wins and such a raw password shows: "user:1234/x@host"
// (host "user", port 1234: a password whose text before its first '/',
// '?' or '#' is empty or all digits), "[::1]:80/x@y" (an IPv6 host), and a
// user name without a password that holds '/', '?' or '#'.
package redact

import "strings"

// mask replaces what is hidden.
const mask = "REDACTED"

// stop ends a URL inside a text.
const stop = " \t\r\n\"'<>"

// maxNested bounds the URLs nested in a URL's path or fragment that are
// parsed as URLs, so that the work stays linear in the input; deeper ones
// are hidden whole.
const maxNested = 8

// URL returns s with the credentials of every URL in it hidden (see the
// package documentation).
func URL(s string) string {
	return text(s, 0)
}

// text redacts the URLs in s, which is nested depth URLs deep.
func text(s string, depth int) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for {
		i := urlStart(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, stop)
		if end < 0 {
			end = len(s)
		}
		// "GET https://h/p?t=x: 403": the colon belongs to the message.
		for end > 0 && s[end-1] == ':' {
			end--
		}
		if depth >= maxNested {
			b.WriteString(mask)
		} else {
			b.WriteString(afterScheme(s[:end], depth))
		}
		s = s[end:]
	}
}

// urlStart returns the index just after the "://" of the first URL in s
// (a scheme of letters, digits, '+', '-' and '.' with at least one letter
// before it), or -1.
func urlStart(s string) int {
	off := 0
	for {
		j := strings.Index(s[off:], "://")
		if j < 0 {
			return -1
		}
		j += off
		letter := false
		for k := j; k > off && isSchemeByte(s[k-1]); k-- {
			letter = letter || isLetter(s[k-1])
		}
		if letter {
			return j + 3
		}
		off = j + 3
	}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isSchemeByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// afterScheme redacts one URL, t, from just after its "://" to its end.
// URLs nested in its path or fragment are redacted too.
func afterScheme(t string, depth int) string {
	var b strings.Builder
	rest := t
	if at := userinfoEnd(t); at >= 0 {
		b.WriteString(mask)
		b.WriteByte('@')
		rest = t[at+1:]
		// A '?' swallowed with the userinfo may have started the query
		// (or be in a password): what follows is redacted as query values.
		if strings.Contains(t[:at], "?") {
			h := strings.IndexByte(rest, '#')
			if h < 0 {
				h = len(rest)
			}
			b.WriteString(query(rest[:h]))
			b.WriteString(text(rest[h:], depth+1))
			return b.String()
		}
	}
	// host[:port], then path, ?query, #fragment.
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		return b.String() + rest
	}
	b.WriteString(rest[:hostEnd])
	rest = rest[hostEnd:]
	h := strings.IndexByte(rest, '#')
	if h < 0 {
		h = len(rest)
	}
	q := strings.IndexByte(rest[:h], '?')
	if q < 0 {
		q = h
	}
	b.WriteString(text(rest[:q], depth+1))
	if q < h {
		b.WriteByte('?')
		b.WriteString(query(rest[q+1 : h]))
	}
	b.WriteString(text(rest[h:], depth+1))
	return b.String()
}

// userinfoEnd returns the index of the '@' that ends the userinfo of t (a
// URL after its "://"), or -1 when it has none.
func userinfoEnd(t string) int {
	body := t
	if d := digestAt(t); d >= 0 {
		body = t[:d]
	}
	auth := body
	if i := strings.IndexAny(body, "/?#"); i >= 0 {
		auth = body[:i]
	}
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		if !strings.Contains(auth[:at], ":") {
			return at // a user name alone, as RFC 3986 reads it
		}
	} else {
		// No '@' in the authority: host:port, or a password with a '/',
		// '?' or '#' typed as it is, which cut the authority short.
		if ipv6Host(auth) {
			return -1
		}
		c := strings.IndexByte(auth, ':')
		if c < 0 || allDigits(auth[c+1:]) {
			return -1
		}
	}
	return strings.LastIndexByte(body, '@')
}

// digestAt returns the index of the '@' of a registry digest ending t
// ("host/repo@sha256:…"), or -1. The encoded part must not be all digits,
// so that "user:pw@host:5000" is not taken for one.
func digestAt(t string) int {
	at := strings.LastIndexByte(t, '@')
	if at < 0 || !strings.Contains(t[:at], "/") {
		return -1
	}
	alg, enc, ok := strings.Cut(t[at+1:], ":")
	if !ok || alg == "" || enc == "" || allDigits(enc) {
		return -1
	}
	for i := 0; i < len(alg); i++ {
		c := alg[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-') {
			return -1
		}
	}
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !(isLetter(c) || '0' <= c && c <= '9' || c == '=' || c == '_' || c == '-') {
			return -1
		}
	}
	return at
}

// ipv6Host reports whether auth is "[IPv6 address]" with an optional
// ":port".
func ipv6Host(auth string) bool {
	addr, port, ok := strings.Cut(strings.TrimPrefix(auth, "["), "]")
	if !ok || !strings.HasPrefix(auth, "[") || addr == "" || port != "" && (port[0] != ':' || !allDigits(port[1:])) {
		return false
	}
	return strings.Trim(addr, "0123456789abcdefABCDEF:.") == ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// query replaces the values of a raw query string, keeping the keys; a
// parameter without '=' may be a bare token and is replaced whole.
func query(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		switch {
		case !ok:
			parts[i] = mask
		case v != "":
			parts[i] = k + "=" + mask
		}
	}
	return strings.Join(parts, "&")
}
