package repo

import (
	"io"
)

// fileIndex maps a path to the packages of one repository that contain it.
type fileIndex map[string][]*Package

// parseFilelists reads filelists.xml and indexes its paths by the packages
// of pkgs they belong to. Entries are matched by pkgid (the package
// checksum), falling back to name, arch and EVR for generators that write
// no or different pkgids. Entries that match no package (source packages,
// excluded packages) are ignored.
func parseFilelists(r io.Reader, file string, pkgs []*Package) (fileIndex, error) {
	s := newXMLScanner(r, file)
	if err := nextStart(s); err != nil {
		return nil, err
	}
	if string(s.name) != "filelists" {
		return nil, s.errorf("root element is <%s>, want <filelists> (not a filelists.xml)", s.name)
	}
	byID := make(map[string]*Package, len(pkgs))
	for _, p := range pkgs {
		if _, dup := byID[p.Checksum.Value]; !dup {
			byID[p.Checksum.Value] = p
		}
	}
	var byNEVRA map[string]*Package // built on first need
	idx := make(fileIndex, 16*len(pkgs))
	var slab []*Package
	var files []string
	for {
		if err := s.next(); err != nil {
			return nil, err
		}
		if s.kind == tokEnd {
			// </filelists>: only space and comments may follow.
			for s.kind != tokEOF {
				if err := s.next(); err != nil {
					return nil, err
				}
				if s.kind == tokStart {
					return nil, s.errorf("content after </filelists>")
				}
			}
			return idx, nil
		}
		if s.kind != tokStart {
			continue
		}
		if string(s.name) != "package" {
			if err := s.skip(); err != nil {
				return nil, err
			}
			continue
		}
		var pkgid, name, arch, epoch, ver, rel string
		it := attrIter{rest: s.attrs}
		for {
			n, v, ok := it.next()
			if !ok {
				break
			}
			var err error
			switch string(n) {
			case "pkgid":
				pkgid, err = s.attrString(v, false)
			case "name":
				name, err = s.attrString(v, true)
			case "arch":
				arch, err = s.attrString(v, true)
			}
			if err != nil {
				return nil, err
			}
		}
		if it.err != nil {
			return nil, s.errorf("<package>: %v", it.err)
		}
		files = files[:0]
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
			switch string(s.name) {
			case "version":
				var err error
				if epoch, ver, rel, err = s.versionAttrs(); err != nil {
					return nil, err
				}
				if err := s.skip(); err != nil {
					return nil, err
				}
			case "file":
				f, err := s.readText(maxFileLen, false)
				if err != nil {
					return nil, err
				}
				files = append(files, f)
			default:
				if err := s.skip(); err != nil {
					return nil, err
				}
			}
		}
		pkg := byID[pkgid]
		if pkg == nil || pkg.Name != name || pkg.Arch != arch {
			if byNEVRA == nil {
				byNEVRA = make(map[string]*Package, len(pkgs))
				for _, p := range pkgs {
					k := nevraKey(p.Name, p.Epoch, p.Version, p.Release, p.Arch)
					if _, dup := byNEVRA[k]; !dup {
						byNEVRA[k] = p
					}
				}
			}
			pkg = byNEVRA[nevraKey(name, epoch, ver, rel, arch)]
		}
		if pkg == nil {
			continue
		}
		for _, f := range files {
			list := idx[f]
			if n := len(list); n > 0 && list[n-1] == pkg {
				continue // listed twice by the same package
			}
			if list == nil {
				// Most paths have one owner: carve those one-element
				// lists out of a slab instead of allocating each.
				if len(slab) == cap(slab) {
					slab = make([]*Package, 0, 4096)
				}
				slab = append(slab, pkg)
				idx[f] = slab[len(slab)-1 : len(slab) : len(slab)]
				continue
			}
			idx[f] = append(list, pkg)
		}
	}
}

// nevraKey identifies a package by name, EVR and arch, treating a missing
// epoch as 0 as rpm does.
func nevraKey(name, epoch, ver, rel, arch string) string {
	if epoch == "" {
		epoch = "0"
	}
	return name + "\x00" + epoch + "\x00" + ver + "\x00" + rel + "\x00" + arch
}
