package repo

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/smith-build/smith/internal/redact"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Setopt is one dnf --setopt option: "repoid.key=value" sets an option of
// the repositories whose ID matches Repo (a glob, as dnf allows), and
// "key=value" (Repo empty) sets a [main] default for every repository.
type Setopt struct {
	Repo  string
	Key   string
	Value string
}

func (o Setopt) String() string {
	if o.Repo == "" {
		return o.Key + "=" + o.Value
	}
	return o.Repo + "." + o.Key + "=" + o.Value
}

// ParseSetopt reads a --setopt value. The repository ID is what comes
// before the last '.' of the key, as in dnf (IDs may contain dots). Only
// repository options are accepted: a misspelt option must not be ignored
// silently, least of all "gpgchek=0".
func ParseSetopt(s string) (Setopt, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Setopt{}, fmt.Errorf("--setopt %q: want [REPOID.]KEY=VALUE", s)
	}
	o := Setopt{Key: strings.ToLower(k), Value: strings.TrimSpace(v)}
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		o.Repo, o.Key = k[:i], strings.ToLower(k[i+1:])
		if o.Repo == "" {
			return Setopt{}, fmt.Errorf("--setopt %q: empty repository ID before '.'", s)
		}
		if _, err := path.Match(o.Repo, ""); err != nil {
			return Setopt{}, fmt.Errorf("--setopt %q: bad repository pattern %q: %w", s, o.Repo, err)
		}
	}
	if !knownOptions[o.Key] {
		return Setopt{}, fmt.Errorf("--setopt %q: unknown repository option %q (smith knows %s)", s, o.Key, strings.Join(sortedKeys(knownOptions), ", "))
	}
	if o.Repo == "" && repoOnlyOptions[o.Key] {
		return Setopt{}, fmt.Errorf("--setopt %q: %s is a repository option: write REPOID.%s=%s (REPOID may be a glob such as '*')", s, o.Key, o.Key, o.Value)
	}
	// Check the value now, so that the error names the flag.
	if err := applyOption(&Source{}, o.Key, o.Value, false); err != nil {
		return Setopt{}, fmt.Errorf("--setopt %q: %w", s, err)
	}
	return o, nil
}

// Matches reports whether o applies to the repository id.
func (o Setopt) Matches(id string) bool {
	if o.Repo == "" {
		return true
	}
	ok, _ := path.Match(o.Repo, id)
	return ok
}

// ApplySetopts applies setopts to a source that comes from no .repo file
// (a --repo location, a smith.yaml repos: entry): main and matching
// repository options alike override its settings.
func ApplySetopts(src *Source, setopts []Setopt, vars map[string]string) error {
	if err := applySetopts(src, setopts, vars, true); err != nil {
		return err
	}
	return applySetopts(src, setopts, vars, false)
}

// applySetopts applies the main setopts (main true) or those for src's
// repository.
func applySetopts(src *Source, setopts []Setopt, vars map[string]string, main bool) error {
	vars = withDerivedVars(vars)
	for _, o := range setopts {
		if (o.Repo == "") != main || !o.Matches(src.ID) {
			continue
		}
		if err := applyOption(src, o.Key, expandVars(o.Value, vars), false); err != nil {
			return fmt.Errorf("--setopt %s: %w", o, err)
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ReadVarsDir reads dnf variables from a directory such as /etc/dnf/vars:
// each regular file's name is a variable, its first line the value. A
// missing directory has no variables. Names that are not variable names
// (letters, digits, '_') are skipped, as dnf could never substitute them.
func ReadVarsDir(dir string) (map[string]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("variables directory: %w", err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if !e.Type().IsRegular() || !isVarName(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("variables directory: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 4096), 64<<10)
		val := ""
		if sc.Scan() {
			val = strings.TrimRight(sc.Text(), "\r")
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("variable file %s: %w", p, err)
		}
		out[e.Name()] = val
	}
	return out, nil
}

// unexpanded returns the first $variable left in s, or "".
func unexpanded(s string) string {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		j := i + 1
		if s[j] == '{' {
			if end := strings.IndexByte(s[j:], '}'); end > 0 {
				return s[i : j+end+1]
			}
			continue
		}
		for j < len(s) && isVarChar(s[j]) {
			j++
		}
		if j > i+1 {
			return s[i:j]
		}
	}
	return ""
}

// checkVars refuses locations that still hold a $variable: dnf would ask
// the server for ".../$releasever/..." and report a 404; saying which
// variable is unset is more useful.
func checkVars(src Source) error {
	check := func(opt, v string) error {
		if u := unexpanded(v); u != "" {
			name := strings.Trim(u, "${}")
			if i := strings.IndexAny(name, ":"); i >= 0 {
				name = name[:i]
			}
			hint := fmt.Sprintf("set it with DNF_VAR_%s or a file %s in /etc/dnf/vars", name, name)
			switch name {
			case "releasever", "releasever_major", "releasever_minor":
				// The CLI sets it from /etc/os-release where dnf's guess
				// (the system-release package) would be meaningful; this
				// is the build that found no such host.
				hint = "pass --releasever VER (smith takes it from the host's /etc/os-release only on Fedora, RHEL-like and openSUSE hosts)"
			}
			return fmt.Errorf("%s %q uses %s, which is not set: %s", opt, redact.URL(v), u, hint)
		}
		return nil
	}
	for _, u := range src.BaseURLs {
		if err := check("baseurl", u); err != nil {
			return err
		}
	}
	if err := check("mirrorlist", src.Mirrorlist); err != nil {
		return err
	}
	if err := check("metalink", src.Metalink); err != nil {
		return err
	}
	for _, k := range src.GPGKeys {
		if err := check("gpgkey", k); err != nil {
			return err
		}
	}
	return nil
}
