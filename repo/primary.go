package repo

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/smith-build/smith/dep"
)

// Limits on single values in metadata; generous for real data, small enough
// that hostile metadata cannot make one value huge.
const (
	maxNameLen = 64 << 10
	maxFileLen = 64 << 10
	// maxPackagesHint bounds the preallocation taken from packages="N":
	// the attribute is a hint from the file, not something to trust with
	// memory.
	maxPackagesHint = 1 << 16
)

// primaryParser reads primary.xml into Packages. Packages and their
// relation lists are carved out of shared slabs: a big primary has
// hundreds of thousands of relations and one allocation each would
// dominate the load time.
type primaryParser struct {
	s      *xmlScanner
	repoID string

	pkgSlab  []Package
	relSlab  []dep.Relation
	fileSlab []string

	// scratch lists for the package being parsed
	rels  [8][]dep.Relation
	files []string
	count int // packages seen, for error messages
}

// Relation list indices in primaryParser.rels.
const (
	relProvides = iota
	relRequires
	relConflicts
	relObsoletes
	relRecommends
	relSuggests
	relSupplements
	relEnhances
)

func relKind(name []byte) int {
	switch string(name) {
	case "provides":
		return relProvides
	case "requires":
		return relRequires
	case "conflicts":
		return relConflicts
	case "obsoletes":
		return relObsoletes
	case "recommends":
		return relRecommends
	case "suggests":
		return relSuggests
	case "supplements":
		return relSupplements
	case "enhances":
		return relEnhances
	}
	return -1
}

// parsePrimary reads a primary.xml document. file names it in errors;
// repoID is stored in every Package. Source packages are skipped.
func parsePrimary(r io.Reader, file, repoID string) ([]*Package, error) {
	p := &primaryParser{s: newXMLScanner(r, file), repoID: repoID}
	return p.parse()
}

func (p *primaryParser) parse() ([]*Package, error) {
	s := p.s
	if err := nextStart(s); err != nil {
		return nil, err
	}
	if string(s.name) != "metadata" {
		return nil, s.errorf("root element is <%s>, want <metadata> (not a primary.xml)", s.name)
	}
	var pkgs []*Package
	it := attrIter{rest: s.attrs}
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		if string(name) == "packages" {
			if n, err := strconv.Atoi(string(val)); err == nil && n > 0 {
				pkgs = make([]*Package, 0, min(n, maxPackagesHint))
			}
		}
	}
	if it.err != nil {
		return nil, s.errorf("<metadata>: %v", it.err)
	}
	for {
		if err := s.next(); err != nil {
			return nil, err
		}
		switch s.kind {
		case tokStart:
			if string(s.name) != "package" {
				if err := s.skip(); err != nil {
					return nil, err
				}
				continue
			}
			pkg, err := p.parsePackage()
			if err != nil {
				return nil, err
			}
			if pkg != nil {
				pkgs = append(pkgs, pkg)
			}
		case tokEnd:
			// </metadata>; the rest may only be comments and space.
			if err := s.next(); err != nil {
				return nil, err
			}
			for s.kind == tokText {
				if err := s.next(); err != nil {
					return nil, err
				}
			}
			if s.kind != tokEOF {
				return nil, s.errorf("content after </metadata>")
			}
			return pkgs, nil
		}
	}
}

// nextStart advances to the first start tag (the root element).
func nextStart(s *xmlScanner) error {
	for {
		if err := s.next(); err != nil {
			return err
		}
		switch s.kind {
		case tokStart:
			return nil
		case tokEOF:
			return s.errorf("no root element")
		}
	}
}

func (p *primaryParser) newPackage() *Package {
	if len(p.pkgSlab) == cap(p.pkgSlab) {
		p.pkgSlab = make([]Package, 0, 256)
	}
	p.pkgSlab = p.pkgSlab[:len(p.pkgSlab)+1]
	pkg := &p.pkgSlab[len(p.pkgSlab)-1]
	*pkg = Package{} // the slot may be one a skipped source package used
	return pkg
}

// relations copies a scratch list into the slab, capped so that an append
// by a caller cannot overwrite the next package's relations.
func (p *primaryParser) relations(rs []dep.Relation) []dep.Relation {
	if len(rs) == 0 {
		return nil
	}
	if cap(p.relSlab)-len(p.relSlab) < len(rs) {
		p.relSlab = make([]dep.Relation, 0, max(8192, len(rs)))
	}
	start := len(p.relSlab)
	p.relSlab = append(p.relSlab, rs...)
	return p.relSlab[start:len(p.relSlab):len(p.relSlab)]
}

func (p *primaryParser) fileList(fs []string) []string {
	if len(fs) == 0 {
		return nil
	}
	if cap(p.fileSlab)-len(p.fileSlab) < len(fs) {
		p.fileSlab = make([]string, 0, max(4096, len(fs)))
	}
	start := len(p.fileSlab)
	p.fileSlab = append(p.fileSlab, fs...)
	return p.fileSlab[start:len(p.fileSlab):len(p.fileSlab)]
}

// parsePackage reads one <package> whose start tag was just returned. It
// returns nil for packages smith never installs (source packages, non-rpm
// types).
func (p *primaryParser) parsePackage() (*Package, error) {
	s := p.s
	p.count++
	it := attrIter{rest: s.attrs}
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		if string(name) == "type" && string(val) != "rpm" {
			return nil, s.skip()
		}
	}
	if it.err != nil {
		return nil, p.errorf(nil, "%v", it.err)
	}
	for i := range p.rels {
		p.rels[i] = p.rels[i][:0]
	}
	p.files = p.files[:0]
	pkg := p.newPackage()
	pkg.Repo = p.repoID
	var base string
	for {
		if err := s.next(); err != nil {
			return nil, err
		}
		if s.kind == tokEnd {
			break
		}
		if s.kind != tokStart {
			continue
		}
		var err error
		switch string(s.name) {
		case "name":
			pkg.Name, err = s.readText(maxNameLen, false)
		case "arch":
			pkg.Arch, err = s.readText(maxNameLen, true)
		case "version":
			pkg.Epoch, pkg.Version, pkg.Release, err = p.s.versionAttrs()
			if err == nil {
				err = s.skip()
			}
		case "checksum":
			var typ string
			typ, err = p.attr("type", true)
			if err == nil {
				var v string
				v, err = s.readText(1024, false)
				pkg.Checksum = makeChecksum(typ, v)
			}
		case "location":
			err = p.locationAttrs(pkg, &base)
			if err == nil {
				err = s.skip()
			}
		case "size":
			var v string
			v, err = p.attr("package", false)
			if err == nil && v != "" {
				pkg.Size, err = strconv.ParseInt(v, 10, 64)
				if err != nil || pkg.Size < 0 {
					err = p.errorf(pkg, "invalid package size %q", v)
				}
			}
			if err == nil {
				err = s.skip()
			}
		case "format":
			err = p.parseFormat(pkg)
		default:
			err = s.skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if pkg.Arch == "src" || pkg.Arch == "nosrc" {
		p.pkgSlab = p.pkgSlab[:len(p.pkgSlab)-1]
		return nil, nil
	}
	if err := p.check(pkg); err != nil {
		return nil, err
	}
	if base != "" {
		pkg.Location = joinBase(base, pkg.Location)
	}
	pkg.Provides = p.relations(p.rels[relProvides])
	pkg.Requires = p.relations(p.rels[relRequires])
	pkg.Conflicts = p.relations(p.rels[relConflicts])
	pkg.Obsoletes = p.relations(p.rels[relObsoletes])
	pkg.Recommends = p.relations(p.rels[relRecommends])
	pkg.Suggests = p.relations(p.rels[relSuggests])
	pkg.Supplements = p.relations(p.rels[relSupplements])
	pkg.Enhances = p.relations(p.rels[relEnhances])
	pkg.Files = p.fileList(p.files)
	return pkg, nil
}

// check rejects packages we could neither identify nor download safely.
func (p *primaryParser) check(pkg *Package) error {
	switch {
	case pkg.Name == "":
		return p.errorf(pkg, "no <name>")
	case pkg.Arch == "":
		return p.errorf(pkg, "no <arch>")
	case pkg.Version == "":
		return p.errorf(pkg, "no version")
	case pkg.Location == "":
		return p.errorf(pkg, "no <location href>")
	}
	if err := validChecksum(pkg.Checksum); err != nil {
		return p.errorf(pkg, "%v", err)
	}
	return nil
}

func (p *primaryParser) errorf(pkg *Package, format string, args ...any) error {
	what := fmt.Sprintf("package #%d", p.count)
	if pkg != nil && pkg.Name != "" {
		what += " (" + pkg.Name + ")"
	}
	return p.s.errorf("%s: %s", what, fmt.Sprintf(format, args...))
}

// attr returns one attribute of the current start tag ("" when absent).
func (p *primaryParser) attr(want string, intern bool) (string, error) {
	it := attrIter{rest: p.s.attrs}
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		if string(name) == want {
			return p.s.attrString(val, intern)
		}
	}
	if it.err != nil {
		return "", p.s.errorf("<%s>: %v", p.s.name, it.err)
	}
	return "", nil
}

// versionAttrs reads the epoch, ver and rel attributes of a <version>
// start tag, as primary.xml and filelists.xml both write it.
func (s *xmlScanner) versionAttrs() (epoch, ver, rel string, err error) {
	it := attrIter{rest: s.attrs}
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		switch string(name) {
		case "epoch":
			epoch, err = s.attrString(val, true)
		case "ver":
			ver, err = s.attrString(val, true)
		case "rel":
			rel, err = s.attrString(val, true)
		}
		if err != nil {
			return
		}
	}
	if it.err != nil {
		err = s.errorf("<version>: %v", it.err)
	}
	return
}

func (p *primaryParser) locationAttrs(pkg *Package, base *string) error {
	s := p.s
	it := attrIter{rest: s.attrs}
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		var err error
		switch string(name) {
		case "href":
			pkg.Location, err = s.attrString(val, false)
		case "xml:base":
			*base, err = s.attrString(val, false)
		}
		if err != nil {
			return err
		}
	}
	if it.err != nil {
		return s.errorf("<location>: %v", it.err)
	}
	return nil
}

// joinBase resolves href against an xml:base the way librepo does: plain
// concatenation with one slash, not RFC 3986 resolution (which would drop
// the base's last path element when it lacks a trailing slash).
func joinBase(base, href string) string {
	return strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(href, "/")
}

func (p *primaryParser) parseFormat(pkg *Package) error {
	s := p.s
	for {
		if err := s.next(); err != nil {
			return err
		}
		if s.kind == tokEnd {
			return nil
		}
		if s.kind != tokStart {
			continue
		}
		if string(s.name) == "file" {
			f, err := s.readText(maxFileLen, false)
			if err != nil {
				return err
			}
			p.files = append(p.files, f)
			continue
		}
		k := relKind(s.name)
		if k < 0 {
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if err := p.parseEntries(pkg, k); err != nil {
			return err
		}
	}
}

func (p *primaryParser) parseEntries(pkg *Package, k int) error {
	s := p.s
	for {
		if err := s.next(); err != nil {
			return err
		}
		if s.kind == tokEnd {
			return nil
		}
		if s.kind != tokStart {
			continue
		}
		if string(s.name) != "entry" {
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		r, err := p.entry(pkg)
		if err != nil {
			return err
		}
		p.rels[k] = append(p.rels[k], r)
		if err := s.skip(); err != nil {
			return err
		}
	}
}

// entry converts the attributes of an <rpm:entry>.
func (p *primaryParser) entry(pkg *Package) (dep.Relation, error) {
	s := p.s
	var r dep.Relation
	it := attrIter{rest: s.attrs}
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		var err error
		switch string(name) {
		case "name":
			r.Name, err = s.attrString(val, true)
		case "flags":
			var ok bool
			if r.Flags, ok = parseFlag(val); !ok {
				err = p.errorf(pkg, "unknown relation flags %q", val)
			}
		case "epoch":
			r.EVR.Epoch, err = s.attrString(val, true)
		case "ver":
			r.EVR.Version, err = s.attrString(val, true)
		case "rel":
			r.EVR.Release, err = s.attrString(val, true)
		case "pre":
			r.Pre = string(val) == "1" || string(val) == "true"
		}
		if err != nil {
			return r, err
		}
	}
	if it.err != nil {
		return r, p.errorf(pkg, "<entry>: %v", it.err)
	}
	if r.Name == "" {
		return r, p.errorf(pkg, "<entry> without a name")
	}
	return r, nil
}

// parseFlag maps repodata's flags attribute to dep.Flag.
func parseFlag(v []byte) (dep.Flag, bool) {
	switch string(bytes.TrimSpace(v)) {
	case "":
		return dep.Any, true
	case "EQ":
		return dep.EQ, true
	case "LT":
		return dep.LT, true
	case "GT":
		return dep.GT, true
	case "LE":
		return dep.LE, true
	case "GE":
		return dep.GE, true
	}
	return 0, false
}
