package build

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/internal/redact"
)

// Config is the typed content of a smith.yaml. It is the domain view: the
// YAML wire structs are private to this file, so the rest of the build never
// sees how a field was spelled (a string or a list, a map or a list of ports).
type Config struct {
	// Type is "rpm" or "oci": given, or inferred from Packages.
	Type string
	// Packages are RPM names or capability specs, local .rpm files, or one
	// OCI source (registry URL or local OCI tar.gz).
	Packages []string
	// Paths are files, directories or globs copied out of the installed
	// tree, with their library closure; empty keeps the whole tree.
	Paths []string
	// Excludes are paths or globs removed after the closure.
	Excludes []string
	// Parent is an OCI image (URL or local tar.gz) to build on.
	Parent string
	NSS    bool
	Root   bool
	// User is the run-as user as written ("user[:group]").
	User   string
	Groups []string
	// Mounts become OCI Volumes.
	Mounts     []string
	Entrypoint []string
	Cmd        []string
	Dir        string
	Env        []string
	Labels     map[string]string
	// Ports are normalised to "PORT/PROTO" and sorted.
	Ports []string
	Mock  Mock

	// New in this smith.
	// KeepCaps keeps file capabilities (security.capability xattrs) in the
	// layer; by default they are removed with the other special permissions.
	KeepCaps bool
	Repos    []RepoSpec
	Arch     string
	// Weak installs weak dependencies (Recommends, Supplements); default true.
	Weak            bool
	ExcludePackages []string
}

// Mock holds the mock.* fields of the original smith.
type Mock struct {
	Config     string
	PreBuild   string
	PostBuild  string
	Deps       []string
	Debuginfo  bool
	DebugDeps  []string
	DebugPaths []string
}

// RepoSpec is one entry of the repos: list.
type RepoSpec struct {
	// Name is the repository id; empty means derived from the base URL.
	Name     string
	BaseURLs []string
	GPGKeys  []string
	// GPGCheck is nil when not given.
	GPGCheck *bool
}

// The values of Config.Type.
const (
	TypeRPM = "rpm"
	TypeOCI = "oci"
)

// ConfigError is a problem in smith.yaml, located by file and line (0 when
// the problem has no single line).
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// lineError carries a position out of the custom node decoders below;
// ParseConfig turns it into a *ConfigError. keyed is false when msg does not
// name the field yet.
type lineError struct {
	tok   *token.Token
	msg   string
	keyed bool
}

func (e *lineError) Error() string { return e.msg }

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// errAt is an error whose message already names the field.
func errAt(n ast.Node, format string, args ...any) error {
	return &lineError{tok: n.GetToken(), msg: fmt.Sprintf(format, args...), keyed: true}
}

// valueErr is an error about a value; the field is found from its position.
func valueErr(n ast.Node, format string, args ...any) error {
	return &lineError{tok: n.GetToken(), msg: fmt.Sprintf(format, args...)}
}

// The wire format. Pointers mark "not given" where the default is not the
// zero value.
type yamlConfig struct {
	Type            string            `yaml:"type"`
	Package         stringOrList      `yaml:"package"`
	Paths           []string          `yaml:"paths"`
	Excludes        []string          `yaml:"excludes"`
	Parent          string            `yaml:"parent"`
	NSS             yamlBool          `yaml:"nss"`
	Root            yamlBool          `yaml:"root"`
	User            string            `yaml:"user"`
	Groups          []string          `yaml:"groups"`
	Mounts          []string          `yaml:"mounts"`
	Entrypoint      []string          `yaml:"entrypoint"`
	Cmd             []string          `yaml:"cmd"`
	Dir             string            `yaml:"dir"`
	Env             []string          `yaml:"env"`
	Labels          map[string]string `yaml:"labels"`
	Ports           yamlPorts         `yaml:"ports"`
	Mock            *yamlMock         `yaml:"mock"`
	Repos           []yamlRepo        `yaml:"repos"`
	Arch            string            `yaml:"arch"`
	Weak            *yamlBool         `yaml:"weak"`
	ExcludePackages []string          `yaml:"exclude-packages"`
	KeepCaps        yamlBool          `yaml:"keep-caps"`
}

type yamlMock struct {
	Config     string   `yaml:"config"`
	PreBuild   string   `yaml:"pre-build"`
	PostBuild  string   `yaml:"post-build"`
	Deps       []string `yaml:"deps"`
	Debuginfo  yamlBool `yaml:"debuginfo"`
	DebugDeps  []string `yaml:"debugdeps"`
	DebugPaths []string `yaml:"debugpaths"`
}

// yamlRepo is a repos: entry: a bare base URL or path, or a map.
type yamlRepo struct {
	Name     string
	BaseURLs []string
	GPGKeys  []string
	GPGCheck *bool
}

func (r *yamlRepo) UnmarshalYAML(n ast.Node) error {
	switch v := unwrap(n).(type) {
	case *ast.StringNode, *ast.LiteralNode:
		s := scalarString(v)
		if s == "" {
			return errAt(n, "repos: empty base URL")
		}
		r.BaseURLs = []string{s}
		return nil
	case *ast.MappingNode, *ast.MappingValueNode:
		var m struct {
			Name     string       `yaml:"name"`
			BaseURL  stringOrList `yaml:"baseurl"`
			GPGKey   stringOrList `yaml:"gpgkey"`
			GPGCheck *yamlBool    `yaml:"gpgcheck"`
		}
		if err := yaml.NodeToValue(n, &m, yaml.DisallowUnknownField()); err != nil {
			return err
		}
		if len(m.BaseURL.v) == 0 {
			return errAt(n, "repos: entry %q has no baseurl", m.Name)
		}
		r.Name, r.BaseURLs, r.GPGKeys = m.Name, m.BaseURL.v, m.GPGKey.v
		if m.GPGCheck != nil {
			b := bool(*m.GPGCheck)
			r.GPGCheck = &b
		}
		return nil
	}
	return errAt(n, "repos: want a base URL or a map with name, baseurl, gpgkey, gpgcheck, got %s", nodeKind(n))
}

// stringOrList accepts `x` or `[x, y]`.
type stringOrList struct{ v []string }

func (s *stringOrList) UnmarshalYAML(n ast.Node) error {
	switch v := unwrap(n).(type) {
	case *ast.NullNode:
		return nil
	case *ast.SequenceNode:
		for _, e := range v.Values {
			if !isScalar(e) {
				return valueErr(e, "want a string, got %s", nodeKind(e))
			}
			s.v = append(s.v, scalarString(e))
		}
		return nil
	}
	if isScalar(n) {
		if str := scalarString(n); str != "" {
			s.v = []string{str}
		}
		return nil
	}
	return valueErr(n, "want a string or a list of strings, got %s", nodeKind(n))
}

// yamlBool accepts YAML 1.2 booleans and, like the original smith (YAML 1.1
// via ghodss/yaml), yes/no/on/off.
type yamlBool bool

func (b *yamlBool) UnmarshalYAML(n ast.Node) error {
	n = unwrap(n)
	if _, ok := n.(*ast.NullNode); ok {
		*b = false
		return nil
	}
	if isScalar(n) {
		switch strings.ToLower(scalarString(n)) {
		case "true", "yes", "on", "y":
			*b = true
			return nil
		case "false", "no", "off", "n":
			*b = false
			return nil
		}
	}
	return valueErr(n, "want true or false, got %s", strings.TrimSpace(n.String()))
}

// yamlPorts accepts the original map form {"80/tcp": {}} and a list
// [80, "53/udp"].
type yamlPorts struct{ v []string }

func (p *yamlPorts) UnmarshalYAML(n ast.Node) error {
	var raw []ast.Node
	switch v := unwrap(n).(type) {
	case *ast.NullNode:
		return nil
	case *ast.SequenceNode:
		raw = v.Values
	case *ast.MappingNode:
		for _, mv := range v.Values {
			raw = append(raw, mv.Key)
			if !emptyValue(mv.Value) {
				return errAt(mv.Value, "ports: the value of %s must be {} (the OCI ExposedPorts form)", strings.TrimSpace(mv.Key.String()))
			}
		}
	case *ast.MappingValueNode:
		raw = append(raw, v.Key)
		if !emptyValue(v.Value) {
			return errAt(v.Value, "ports: the value of %s must be {} (the OCI ExposedPorts form)", strings.TrimSpace(v.Key.String()))
		}
	default:
		return errAt(n, "ports: want a list ([80, \"53/udp\"]) or a map ({\"80/tcp\": {}}), got %s", nodeKind(n))
	}
	for _, e := range raw {
		if !isScalar(e) {
			return errAt(e, "ports: want a port such as 80 or \"53/udp\", got %s", nodeKind(e))
		}
		port, err := normalizePort(scalarString(e))
		if err != nil {
			return errAt(e, "ports: %v", err)
		}
		p.v = append(p.v, port)
	}
	return nil
}

func emptyValue(n ast.Node) bool {
	switch v := unwrap(n).(type) {
	case nil, *ast.NullNode:
		return true
	case *ast.MappingNode:
		return len(v.Values) == 0
	}
	return false
}

// normalizePort turns "80" into "80/tcp" and checks "PORT[/PROTO]".
func normalizePort(s string) (string, error) {
	num, proto, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", fmt.Errorf("%q: protocol must be tcp, udp or sctp", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port must be a number from 1 to 65535", s)
	}
	return strconv.Itoa(n) + "/" + proto, nil
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

func isScalar(n ast.Node) bool {
	switch unwrap(n).(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.LiteralNode, *ast.InfinityNode, *ast.NanNode:
		return true
	}
	return false
}

func scalarString(n ast.Node) string {
	switch v := unwrap(n).(type) {
	case *ast.StringNode:
		return v.Value
	case *ast.LiteralNode:
		return v.Value.Value
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return strings.TrimSpace(n.String())
}

func nodeKind(n ast.Node) string {
	switch unwrap(n).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a map"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode:
		return "nothing"
	}
	return "a " + strings.ToLower(unwrap(n).Type().String())
}

// ParseConfig parses the smith.yaml in data; file names it in errors. An
// unknown field, a value of the wrong type and a syntax error are errors that
// give the line.
func ParseConfig(data []byte, file string) (c *Config, err error) {
	cerr := func(line int, format string, args ...any) error {
		return &ConfigError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	// goccy/go-yaml v1.19.2 panics on some malformed input (a custom tag on
	// a scalar where a list is expected, found by FuzzParseConfig): report
	// that as the syntax error it is.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, cerr(0, "malformed YAML (the YAML decoder failed: %v)", r)
		}
	}()
	parsed, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(file, err, nil)
	}
	if len(parsed.Docs) > 1 {
		return nil, cerr(nodeLine(parsed.Docs[1].Body), "more than one YAML document; smith.yaml holds one")
	}
	var y yamlConfig
	if err := yaml.UnmarshalWithOptions(data, &y, yaml.DisallowUnknownField()); err != nil {
		return nil, yamlError(file, err, parsed)
	}
	c = &Config{
		Type:            strings.ToLower(strings.TrimSpace(y.Type)),
		Packages:        y.Package.v,
		Paths:           y.Paths,
		Excludes:        y.Excludes,
		Parent:          strings.TrimSpace(y.Parent),
		NSS:             bool(y.NSS),
		Root:            bool(y.Root),
		User:            strings.TrimSpace(y.User),
		Groups:          y.Groups,
		Mounts:          y.Mounts,
		Entrypoint:      y.Entrypoint,
		Cmd:             y.Cmd,
		Dir:             y.Dir,
		Env:             y.Env,
		Labels:          y.Labels,
		Arch:            strings.TrimSpace(y.Arch),
		Weak:            y.Weak == nil || bool(*y.Weak),
		ExcludePackages: y.ExcludePackages,
		KeepCaps:        bool(y.KeepCaps),
	}
	if y.Mock != nil {
		c.Mock = Mock{
			Config: y.Mock.Config, PreBuild: y.Mock.PreBuild, PostBuild: y.Mock.PostBuild,
			Deps: y.Mock.Deps, Debuginfo: bool(y.Mock.Debuginfo),
			DebugDeps: y.Mock.DebugDeps, DebugPaths: y.Mock.DebugPaths,
		}
	}
	for _, r := range y.Repos {
		c.Repos = append(c.Repos, RepoSpec(r))
	}
	ports := map[string]bool{}
	for _, p := range y.Ports.v {
		if !ports[p] {
			ports[p] = true
			c.Ports = append(c.Ports, p)
		}
	}
	sort.Strings(c.Ports)

	// Semantic checks, located by the line of the field when possible.
	line := func(field string) int { return fieldLine(parsed, field) }
	for _, p := range c.Packages {
		if strings.TrimSpace(p) == "" {
			return nil, cerr(line("package"), "package: empty entry")
		}
	}
	oci := 0
	for _, p := range c.Packages {
		if IsOCISource(p) {
			oci++
		}
	}
	switch c.Type {
	case "":
		if oci > 0 {
			c.Type = TypeOCI
		} else {
			c.Type = TypeRPM
		}
	case "mock": // the original's name for rpm builds
		c.Type = TypeRPM
	case TypeRPM, TypeOCI:
	default:
		return nil, cerr(line("type"), "type: %q is not rpm or oci", y.Type)
	}
	// type: oci takes any one source (a layout directory, a docker save
	// archive of any name); inferred, it is one that looks like an image.
	if c.Type == TypeOCI && len(c.Packages) != 1 {
		return nil, cerr(line("package"), "package: an OCI build takes exactly one OCI source (a registry URL, an OCI layout tar.gz or directory, a docker save archive), got %q", c.Packages)
	}
	if c.Type == TypeRPM && oci > 0 {
		return nil, cerr(line("package"), "package: %q is an OCI source but type is rpm", c.Packages)
	}
	if strings.Count(c.User, ":") > 1 {
		return nil, cerr(line("user"), "user: %q is not user[:group]", c.User)
	}
	for i, m := range c.Mounts {
		if strings.TrimSpace(m) == "" {
			return nil, cerr(line("mounts"), "mounts: empty entry")
		}
		c.Mounts[i] = path.Clean("/" + m)
	}
	for _, g := range c.Groups {
		if g == "" || strings.ContainsAny(g, ": \n") {
			return nil, cerr(line("groups"), "groups: %q is not a group name", g)
		}
	}
	for _, f := range []struct {
		name string
		list []string
	}{{"paths", c.Paths}, {"excludes", c.Excludes}} {
		for _, p := range f.list {
			if strings.TrimSpace(p) == "" {
				return nil, cerr(line(f.name), "%s: empty entry", f.name)
			}
		}
	}
	return c, nil
}

// fieldLine finds the line of a top-level key, for semantic errors.
func fieldLine(f *ast.File, key string) int {
	if len(f.Docs) == 0 {
		return 0
	}
	var values []*ast.MappingValueNode
	switch b := unwrap(f.Docs[0].Body).(type) {
	case *ast.MappingNode:
		values = b.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{b}
	}
	for _, mv := range values {
		if mv.Key != nil && strings.TrimSpace(mv.Key.String()) == key {
			return nodeLine(mv.Key)
		}
	}
	return 0
}

// yamlError turns a go-yaml error (or one of ours from a node decoder) into a
// one-line *ConfigError. parsed, when not nil, names the field at the
// error's position.
func yamlError(file string, err error, parsed *ast.File) error {
	var tok *token.Token
	var msg string
	var le *lineError
	var ye yaml.Error
	var te *yaml.TypeError
	var ue *yaml.UnexpectedNodeTypeError
	switch {
	case errors.As(err, &le):
		tok, msg = le.tok, le.msg
		if le.keyed {
			parsed = nil
		}
	case errors.As(err, &te):
		tok, msg = te.Token, "wrong type: want "+describeType(te.DstType)
	case errors.As(err, &ue):
		tok, msg = ue.Token, "wrong type: "+oneLine(ue.GetMessage())
	case errors.As(err, &ye):
		tok, msg, parsed = ye.GetToken(), oneLine(ye.GetMessage()), nil
	default:
		return &ConfigError{File: file, Msg: oneLine(err.Error())}
	}
	line := 0
	if tok != nil && tok.Position != nil {
		line = tok.Position.Line
		if key := keyAt(parsed, tok.Position); key != "" {
			msg = key + ": " + msg
		}
	}
	return &ConfigError{File: file, Line: line, Msg: msg}
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a map"
	}
	return t.String()
}

// keyAt returns the dotted key ("mock.deps") of the field whose value is at
// pos; failing that, the innermost key on pos's line.
func keyAt(f *ast.File, pos *token.Position) string {
	if f == nil || len(f.Docs) == 0 || pos == nil {
		return ""
	}
	exact, onLine := "", ""
	var visit func(prefix string, n ast.Node)
	visit = func(prefix string, n ast.Node) {
		var values []*ast.MappingValueNode
		switch v := unwrap(n).(type) {
		case *ast.MappingNode:
			values = v.Values
		case *ast.MappingValueNode:
			values = []*ast.MappingValueNode{v}
		case *ast.SequenceNode:
			for _, e := range v.Values {
				visit(prefix, e)
			}
			return
		default:
			return
		}
		for _, mv := range values {
			if mv.Key == nil {
				continue
			}
			key := strings.TrimSpace(mv.Key.String())
			if prefix != "" {
				key = prefix + "." + key
			}
			if vt := tokenOf(mv.Value); exact == "" && vt != nil && vt.Position != nil &&
				vt.Position.Line == pos.Line && vt.Position.Column == pos.Column {
				exact = key
			}
			if nodeLine(mv.Key) == pos.Line || nodeLine(mv.Value) == pos.Line {
				onLine = key
			}
			visit(key, mv.Value)
		}
	}
	visit("", f.Docs[0].Body)
	if exact != "" {
		return exact
	}
	return onLine
}

func tokenOf(n ast.Node) *token.Token {
	if n == nil {
		return nil
	}
	return n.GetToken()
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// IsOCISource reports whether a package entry names an OCI image rather than
// an RPM: a registry URL or an image archive, as the original smith decided
// (an optional :tag after the file name is allowed).
func IsOCISource(p string) bool {
	if image.IsRemote(p) {
		return true
	}
	file := p
	if i := strings.LastIndexByte(p, ':'); i > 0 && !strings.Contains(p[i:], "/") {
		if strings.HasSuffix(p[:i], ".tar") || strings.HasSuffix(p[:i], ".tar.gz") || strings.HasSuffix(p[:i], ".tgz") {
			file = p[:i]
		}
	}
	return strings.HasSuffix(file, ".tar") || strings.HasSuffix(file, ".tar.gz") || strings.HasSuffix(file, ".tgz")
}

// specJSON is the normalised smith.yaml stored in the image as
// application/vnd.smith.spec+json. Keys and shapes follow the original
// smith's ConfigDef (package is a string when there is one), so readers of
// old images keep working; the new fields are added with omitempty.
type specJSON struct {
	Type            string              `json:"type,omitempty"`
	Mock            *specMock           `json:"mock,omitempty"`
	Package         any                 `json:"package,omitempty"`
	Paths           []string            `json:"paths,omitempty"`
	Excludes        []string            `json:"excludes,omitempty"`
	Parent          string              `json:"parent,omitempty"`
	NSS             bool                `json:"nss,omitempty"`
	Root            bool                `json:"root,omitempty"`
	User            string              `json:"user,omitempty"`
	Groups          []string            `json:"groups,omitempty"`
	Mounts          []string            `json:"mounts,omitempty"`
	Entrypoint      []string            `json:"entrypoint,omitempty"`
	Cmd             []string            `json:"cmd,omitempty"`
	Dir             string              `json:"dir,omitempty"`
	Env             []string            `json:"env,omitempty"`
	Labels          map[string]string   `json:"labels,omitempty"`
	Ports           map[string]struct{} `json:"ports,omitempty"`
	Repos           []specRepo          `json:"repos,omitempty"`
	Arch            string              `json:"arch,omitempty"`
	Weak            *bool               `json:"weak,omitempty"`
	ExcludePackages []string            `json:"exclude-packages,omitempty"`
	KeepCaps        bool                `json:"keep-caps,omitempty"`
}

type specMock struct {
	Config     string   `json:"config,omitempty"`
	PreBuild   string   `json:"pre-build,omitempty"`
	PostBuild  string   `json:"post-build,omitempty"`
	Deps       []string `json:"deps,omitempty"`
	DebugInfo  bool     `json:"debuginfo,omitempty"`
	DebugDeps  []string `json:"debugdeps,omitempty"`
	DebugPaths []string `json:"debugpaths,omitempty"`
}

type specRepo struct {
	Name     string   `json:"name,omitempty"`
	BaseURL  []string `json:"baseurl"`
	GPGKey   []string `json:"gpgkey,omitempty"`
	GPGCheck *bool    `json:"gpgcheck,omitempty"`
}

// SpecJSON renders the normalised config. Credentials in repository URLs
// are redacted: the blob ends up inside a published image.
func (c *Config) SpecJSON() ([]byte, error) {
	s := specJSON{
		Type: c.Type, Paths: c.Paths, Excludes: c.Excludes, Parent: redact.URL(c.Parent),
		NSS: c.NSS, Root: c.Root, User: c.User, Groups: c.Groups, Mounts: c.Mounts,
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Dir: c.Dir, Env: c.Env, Labels: c.Labels,
		Arch: c.Arch, ExcludePackages: c.ExcludePackages, KeepCaps: c.KeepCaps,
	}
	switch len(c.Packages) {
	case 0:
	case 1:
		s.Package = redact.URL(c.Packages[0])
	default:
		pk := make([]string, len(c.Packages))
		for i, p := range c.Packages {
			pk[i] = redact.URL(p)
		}
		s.Package = pk
	}
	if m := c.Mock; m.Config != "" || m.PreBuild != "" || m.PostBuild != "" || len(m.Deps) > 0 ||
		m.Debuginfo || len(m.DebugDeps) > 0 || len(m.DebugPaths) > 0 {
		s.Mock = &specMock{m.Config, m.PreBuild, m.PostBuild, m.Deps, m.Debuginfo, m.DebugDeps, m.DebugPaths}
	}
	if len(c.Ports) > 0 {
		s.Ports = map[string]struct{}{}
		for _, p := range c.Ports {
			s.Ports[p] = struct{}{}
		}
	}
	for _, r := range c.Repos {
		sr := specRepo{Name: r.Name, GPGCheck: r.GPGCheck}
		for _, u := range r.BaseURLs {
			sr.BaseURL = append(sr.BaseURL, redact.URL(u))
		}
		for _, u := range r.GPGKeys {
			sr.GPGKey = append(sr.GPGKey, redact.URL(u))
		}
		s.Repos = append(s.Repos, sr)
	}
	if !c.Weak {
		f := false
		s.Weak = &f
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
