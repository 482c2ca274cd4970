package repo

import (
	"bytes"
	"fmt"
	"github.com/smith-build/smith/internal/redact"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Source is one repository as configured: a dnf .repo section, a section of
// a mock config's dnf.conf, or a bare --repo path/URL. Zero values of the
// fields mean the safe dnf default (verify TLS, default priority and cost).
type Source struct {
	ID   string
	Name string
	// BaseURLs are tried in order: a local directory path, a file:// URL
	// or an http(s):// URL, which may carry user:password@ (sent as basic
	// auth, never printed).
	BaseURLs []string
	// Mirrorlist is a URL of a plain list of base URLs; Metalink a URL of a
	// mirrormanager metalink, which also pins repomd.xml's checksum. Their
	// mirrors are tried after BaseURLs.
	Mirrorlist string
	Metalink   string

	Enabled bool
	// GPGCheck asks for package signatures to be checked with GPGKeys
	// (key file paths or URLs). RepoGPGCheck asks for repomd.xml's detached
	// signature to be checked.
	GPGCheck     bool
	RepoGPGCheck bool
	GPGKeys      []string

	// InsecureSkipVerify is dnf's sslverify=0: do not verify the server's
	// TLS certificate for this repository.
	InsecureSkipVerify bool
	// SSLCACert, SSLClientCert and SSLClientKey are file paths (dnf's
	// sslcacert, sslclientcert, sslclientkey).
	SSLCACert     string
	SSLClientCert string
	SSLClientKey  string
	// Proxy is dnf's proxy option; "_none_" disables the environment's
	// proxy for this repository.
	Proxy string
	// Username and Password are dnf's username/password options: basic
	// auth for every request to this repository. Never printed.
	Username string
	Password string

	// Priority orders repositories for the solver: lower wins; 0 means the
	// dnf default, 99. Cost breaks ties between equal candidates: lower
	// wins; 0 means the default, 1000.
	Priority int
	Cost     int
	// ExcludePkgs and IncludePkgs are glob patterns over package names
	// (also matched against name.arch and the NEVRA); a package matching
	// an exclude, or not matching any include when there are includes, is
	// dropped when the repository is loaded.
	ExcludePkgs []string
	IncludePkgs []string
	// SkipIfUnavailable lets a build go on without this repository when
	// it cannot be loaded.
	SkipIfUnavailable bool
	// MetadataExpire is how long cached metadata may be used without
	// asking the server: 0 means not set (DefaultMetadataExpire, dnf's 48
	// hours), negative means never expires.
	MetadataExpire time.Duration
	// Timeout is dnf's timeout option: a request fails (and is retried)
	// when no byte arrives for this long; 0 means Options.Timeout.
	Timeout time.Duration

	// Origin says where the source was defined ("file.repo:12"), for
	// messages.
	Origin string
}

// Defaults dnf applies when priority and cost are not set.
const (
	DefaultPriority = 99
	DefaultCost     = 1000
)

// EffectivePriority returns Priority, or dnf's default when unset.
func (s *Source) EffectivePriority() int {
	if s.Priority == 0 {
		return DefaultPriority
	}
	return s.Priority
}

// EffectiveCost returns Cost, or dnf's default when unset.
func (s *Source) EffectiveCost() int {
	if s.Cost == 0 {
		return DefaultCost
	}
	return s.Cost
}

// maxConfigSize bounds a .repo or mock .cfg file.
const maxConfigSize = 16 << 20

// ParseRepoFile parses a dnf .repo (ini) file. filename is used in errors
// and Origin. vars are the dnf substitution variables ($releasever,
// $basearch, $arch, ...); releasever_major and releasever_minor are derived
// from releasever when not given. Unknown variables are left as written, as
// dnf does.
//
// The [main] section is not a repository, but the repository options it
// sets (gpgcheck, repo_gpgcheck, sslverify, skip_if_unavailable,
// metadata_expire, excludepkgs, includepkgs, proxy, sslcacert) become the
// defaults of the sections in the same file, as in dnf.conf.
//
// setopts are dnf's --setopt options: those without a repository (main
// ones) override the file's [main] and are overridden by a section's own
// settings; those for a repository (or a glob matching its ID) override
// the section. Disabled repositories are returned too (Enabled false), so
// that a setopt can enable them.
func ParseRepoFile(r io.Reader, filename string, vars map[string]string, setopts ...Setopt) ([]Source, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", filename, maxConfigSize)
	}
	secs, err := parseINI(data, filename)
	if err != nil {
		return nil, err
	}
	vars = withDerivedVars(vars)
	main := Source{Enabled: true}
	var out []Source
	seen := map[string]bool{}
	for _, sec := range secs {
		if sec.name == "main" {
			if err := applyOptions(&main, sec, filename, vars, true); err != nil {
				return nil, err
			}
			continue
		}
		if err := checkRepoID(sec.name); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", filename, sec.line, err)
		}
		if seen[sec.name] {
			return nil, fmt.Errorf("%s:%d: repository [%s] defined twice", filename, sec.line, sec.name)
		}
		seen[sec.name] = true
		src := main
		src.GPGKeys = nil
		src.ExcludePkgs = append([]string(nil), main.ExcludePkgs...)
		src.IncludePkgs = append([]string(nil), main.IncludePkgs...)
		src.ID = sec.name
		src.Origin = fmt.Sprintf("%s:%d", filename, sec.line)
		if err := applySetopts(&src, setopts, vars, true); err != nil {
			return nil, err
		}
		if err := applyOptions(&src, sec, filename, vars, false); err != nil {
			return nil, err
		}
		if err := applySetopts(&src, setopts, vars, false); err != nil {
			return nil, err
		}
		if src.Name == "" {
			src.Name = src.ID
		}
		out = append(out, src)
	}
	return out, nil
}

type iniSection struct {
	name string
	line int
	keys []iniKey
}

type iniKey struct {
	key, value string
	line       int
}

// parseINI splits a dnf-style ini file into sections. Values continue on
// following lines that start with white space (multi-line baseurl and
// gpgkey); '#' and ';' start comment lines.
func parseINI(data []byte, filename string) ([]iniSection, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var secs []iniSection
	var cur *iniSection
	for n, raw := range strings.Split(string(data), "\n") {
		lineNo := n + 1
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil || len(cur.keys) == 0 {
				return nil, fmt.Errorf("%s:%d: indented line %q continues nothing", filename, lineNo, trimmed)
			}
			k := &cur.keys[len(cur.keys)-1]
			k.value += "\n" + trimmed
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: section header %q has no ']'", filename, lineNo, trimmed)
			}
			name := strings.TrimSpace(trimmed[1:end])
			if rest := strings.TrimSpace(trimmed[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
				return nil, fmt.Errorf("%s:%d: unexpected text after ']': %q", filename, lineNo, rest)
			}
			if name == "" {
				return nil, fmt.Errorf("%s:%d: empty section name", filename, lineNo)
			}
			secs = append(secs, iniSection{name: name, line: lineNo})
			cur = &secs[len(secs)-1]
			continue
		}
		eq := strings.IndexByte(trimmed, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%s:%d: want key=value, got %q", filename, lineNo, trimmed)
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: option %q before any [section]", filename, lineNo, strings.TrimSpace(trimmed[:eq]))
		}
		cur.keys = append(cur.keys, iniKey{
			key:   strings.ToLower(strings.TrimSpace(trimmed[:eq])),
			value: strings.TrimSpace(trimmed[eq+1:]),
			line:  lineNo,
		})
	}
	return secs, nil
}

// checkRepoID applies dnf's rule for repository IDs, which end up in file
// names and messages.
func checkRepoID(id string) error {
	for _, c := range id {
		if !(c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("-_.:", c))) {
			return fmt.Errorf("bad repository id %q: only letters, digits and -_.: are allowed", id)
		}
	}
	return nil
}

// applyOptions sets the fields of src from a section. Unknown options are
// ignored: dnf has dozens that do not concern smith.
func applyOptions(src *Source, sec iniSection, filename string, vars map[string]string, main bool) error {
	for _, kv := range sec.keys {
		if err := applyOption(src, kv.key, expandVars(kv.value, vars), main); err != nil {
			return fmt.Errorf("%s:%d: [%s] %s: %w", filename, kv.line, sec.name, kv.key, err)
		}
	}
	return nil
}

// repoOnlyOptions are the options that only a repository section may set
// (dnf ignores them in [main]).
var repoOnlyOptions = map[string]bool{
	"name": true, "baseurl": true, "mirrorlist": true, "metalink": true, "enabled": true, "gpgkey": true,
}

// knownOptions are the options applyOption understands.
var knownOptions = map[string]bool{
	"name": true, "baseurl": true, "mirrorlist": true, "metalink": true, "enabled": true,
	"gpgcheck": true, "repo_gpgcheck": true, "gpgkey": true, "sslverify": true, "sslcacert": true,
	"sslclientcert": true, "sslclientkey": true, "proxy": true, "username": true, "password": true,
	"priority": true, "cost": true, "excludepkgs": true, "exclude": true, "includepkgs": true,
	"skip_if_unavailable": true, "metadata_expire": true, "timeout": true,
}

// applyOption sets one option (already expanded) on src; main says it comes
// from [main], where the repository-only options are ignored.
func applyOption(src *Source, key, v string, main bool) error {
	if main && repoOnlyOptions[key] {
		return nil
	}
	var err error
	switch key {
	case "name":
		src.Name = strings.Join(strings.Fields(v), " ")
	case "baseurl":
		src.BaseURLs = splitList(v)
	case "mirrorlist":
		src.Mirrorlist = strings.TrimSpace(v)
	case "metalink":
		src.Metalink = strings.TrimSpace(v)
	case "enabled":
		src.Enabled, err = parseBool(v)
	case "gpgcheck":
		src.GPGCheck, err = parseBool(v)
	case "repo_gpgcheck":
		src.RepoGPGCheck, err = parseBool(v)
	case "gpgkey":
		src.GPGKeys = splitList(v)
	case "sslverify":
		var verify bool
		verify, err = parseBool(v)
		src.InsecureSkipVerify = !verify
	case "sslcacert":
		src.SSLCACert = strings.TrimSpace(v)
	case "sslclientcert":
		src.SSLClientCert = strings.TrimSpace(v)
	case "sslclientkey":
		src.SSLClientKey = strings.TrimSpace(v)
	case "proxy":
		src.Proxy = strings.TrimSpace(v)
	case "username":
		src.Username = strings.TrimSpace(v)
	case "password":
		src.Password = strings.TrimSpace(v)
	case "priority":
		src.Priority, err = parseIntOpt(v, 1, 1<<31-1)
	case "cost":
		src.Cost, err = parseIntOpt(v, 0, 1<<31-1)
	case "excludepkgs", "exclude":
		src.ExcludePkgs = append(src.ExcludePkgs, splitList(v)...)
	case "includepkgs":
		src.IncludePkgs = append(src.IncludePkgs, splitList(v)...)
	case "skip_if_unavailable":
		src.SkipIfUnavailable, err = parseBool(v)
	case "metadata_expire":
		src.MetadataExpire, err = parseExpire(v)
	case "timeout":
		src.Timeout, err = parseTimeout(v)
	}
	return err
}

// parseTimeout reads dnf's timeout option: seconds (fractions allowed).
func parseTimeout(v string) (time.Duration, error) {
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || n <= 0 || n > 24*3600 {
		return 0, fmt.Errorf("invalid timeout %q (want a number of seconds)", v)
	}
	return time.Duration(n * float64(time.Second)), nil
}

// splitList splits a list option on white space and commas, as dnf does.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want 1/0, yes/no, true/false, on/off)", v)
}

func parseIntOpt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("invalid number %q (want %d..%d)", v, lo, hi)
	}
	return n, nil
}

// parseExpire reads metadata_expire: seconds, or a number with an s/m/h/d
// suffix, or "never"/-1.
func parseExpire(v string) (time.Duration, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "never" || v == "-1" {
		return -1, nil
	}
	unit := time.Second
	switch {
	case strings.HasSuffix(v, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(v, "h"):
		unit = time.Hour
	case strings.HasSuffix(v, "m"):
		unit = time.Minute
	case strings.HasSuffix(v, "s"):
	default:
		v += "s"
	}
	n, err := strconv.ParseFloat(v[:len(v)-1], 64)
	if err != nil || n < 0 || n > 1e6*24*3600 {
		return 0, fmt.Errorf("invalid duration %q (want seconds, or a number with s/m/h/d, or never)", v)
	}
	return time.Duration(n * float64(unit)), nil
}

// withDerivedVars copies vars and adds releasever_major/_minor, which dnf
// derives from releasever.
func withDerivedVars(vars map[string]string) map[string]string {
	out := make(map[string]string, len(vars)+2)
	for k, v := range vars {
		out[k] = v
	}
	if rv, ok := out["releasever"]; ok {
		major, minor, _ := strings.Cut(rv, ".")
		if _, ok := out["releasever_major"]; !ok {
			out["releasever_major"] = major
		}
		if _, ok := out["releasever_minor"]; !ok {
			out["releasever_minor"] = minor
		}
	}
	return out
}

// ExpandVars substitutes dnf variables in s as a .repo file's values are:
// $name, ${name}, ${name:-default} and ${name:+alternate}; unknown names
// are left as written. releasever_major and releasever_minor are derived
// from releasever.
func ExpandVars(s string, vars map[string]string) string {
	return expandVars(s, withDerivedVars(vars))
}

// expandVars substitutes $name, ${name}, ${name:-default} and
// ${name:+alternate} the way dnf does. Unknown names are left as written so
// that the problem shows in the URL rather than as an empty path element.
func expandVars(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				break
			}
			expr := s[i+2 : i+2+end]
			name, op, word := expr, "", ""
			if k := strings.Index(expr, ":-"); k >= 0 {
				name, op, word = expr[:k], ":-", expr[k+2:]
			} else if k := strings.Index(expr, ":+"); k >= 0 {
				name, op, word = expr[:k], ":+", expr[k+2:]
			}
			val, ok := vars[name]
			switch {
			case !isVarName(name):
				b.WriteString(s[i : i+3+end])
			case op == ":-":
				if ok && val != "" {
					b.WriteString(val)
				} else {
					b.WriteString(expandVars(word, vars))
				}
			case op == ":+":
				if ok && val != "" {
					b.WriteString(expandVars(word, vars))
				}
			case ok:
				b.WriteString(val)
			default:
				b.WriteString(s[i : i+3+end])
			}
			i += 3 + end
			continue
		}
		j := i + 1
		for j < len(s) && isVarChar(s[j]) {
			j++
		}
		if val, ok := vars[s[i+1:j]]; ok && j > i+1 {
			b.WriteString(val)
		} else {
			b.WriteString(s[i:j])
		}
		i = j
	}
	return b.String()
}

func isVarChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isVarChar(s[i]) {
			return false
		}
	}
	return true
}

// HostRepoFiles lists the *.repo files in dir (e.g. /etc/yum.repos.d),
// sorted by name. A missing directory is not an error: it has no repos.
func HostRepoFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing repo files: %w", err)
	}
	var out []string
	for _, e := range ents { // os.ReadDir sorts by name
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".repo") {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}

// CommandLineRepo is the Repo of packages given as .rpm files.
const CommandLineRepo = "@commandline"

// NewSource makes an enabled Source for a bare location given on the
// command line: a directory, a file:// URL or an http(s) URL. Its ID is
// derived from the location (a directory's base name, a URL's host and
// path) and made unique against existing by appending -2, -3, ...;
// credentials never become part of it.
func NewSource(location string, existing []Source) Source {
	id := idFromLocation(location)
	taken := make(map[string]bool, len(existing))
	for _, s := range existing {
		taken[s.ID] = true
	}
	unique := id
	for n := 2; taken[unique]; n++ {
		unique = fmt.Sprintf("%s-%d", id, n)
	}
	return Source{
		ID:       unique,
		Name:     redact.URL(location),
		BaseURLs: []string{location},
		Enabled:  true,
		Origin:   "command line",
	}
}

// idFromLocation derives a stable repository ID from a path or URL.
func idFromLocation(loc string) string {
	var raw string
	if u, err := url.Parse(loc); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		// Like dnf config-manager --add-repo: host and path, so that two
		// ".../os/" URLs on different hosts differ. No userinfo.
		raw = u.Hostname() + "_" + strings.Trim(u.Path, "/")
	} else {
		p := loc
		if err == nil && u.Scheme == "file" {
			p = u.Path
		}
		p = strings.TrimSuffix(filepath.ToSlash(filepath.Clean(p)), "/repodata")
		raw = path.Base(p)
		if raw == "." || raw == "/" || raw == ".." {
			if abs, err := filepath.Abs(p); err == nil {
				raw = filepath.Base(abs)
			}
		}
	}
	var b strings.Builder
	for _, c := range raw {
		if c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '.' || c == '_') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	id := strings.Trim(b.String(), "_.")
	if id == "" {
		id = "repo"
	}
	return id
}
