package repo

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
)

// nameTable finds the packages that carry a name in one of their lists
// (provides, with each package's own name; or the file paths primary.xml
// lists): a static hash table in two flat arrays, a bucket per stable hash
// of the name. It is stored in the package index (index_cache.go), so that
// a warm load gets it for the cost of reading two arrays, and otherwise
// built on first use.
type nameTable struct {
	mask uint64
	// start holds nbuckets+1 offsets (uint32 LE): bucket b holds the
	// entries start[b]..start[b+1]-1 of ents, each two uint32 LE: a
	// package index and a list index + 1 (0: the package's own name).
	// Kept as bytes, so that a table read from the package index is used
	// where it lies.
	start []byte
	ents  []byte
}

func u32(b []byte, i uint64) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }

// fnv1a is the stable hash of the table (the same in every process).
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// buildNameTable indexes the names each reports for pkgs[i] (k = -1 for
// the package's own name).
func buildNameTable(pkgs []*Package, each func(p *Package, emit func(name string, k int))) *nameTable {
	n := 0
	for _, p := range pkgs {
		each(p, func(string, int) { n++ })
	}
	b := max(bits.Len(uint(n))-2, 4)
	start := make([]uint32, 1<<b+1)
	buckets := make([]uint32, 0, n)
	for _, p := range pkgs {
		each(p, func(name string, _ int) {
			k := uint32(fnv1a(name) & (1<<b - 1))
			buckets = append(buckets, k)
			start[k+1]++
		})
	}
	for k := 1; k < len(start); k++ {
		start[k] += start[k-1]
	}
	next := slices.Clone(start[:len(start)-1])
	t := &nameTable{mask: 1<<b - 1, start: make([]byte, 4*len(start)), ents: make([]byte, 8*n)}
	for k, v := range start {
		binary.LittleEndian.PutUint32(t.start[4*k:], v)
	}
	j := 0
	for i, p := range pkgs {
		each(p, func(_ string, k int) {
			at := next[buckets[j]]
			next[buckets[j]]++
			j++
			binary.LittleEndian.PutUint32(t.ents[8*at:], uint32(i))
			binary.LittleEndian.PutUint32(t.ents[8*at+4:], uint32(k+1))
		})
	}
	return t
}

// lookup calls fn for the packages of pkgs (the list the table was built
// for) whose entry key(p, k) is name. A corrupt table cannot make it
// panic: entries out of range are skipped.
func (t *nameTable) lookup(pkgs []*Package, name string, key func(p *Package, k int) (string, bool), fn func(p *Package, k int)) {
	b := fnv1a(name) & t.mask
	if 4*(b+2) > uint64(len(t.start)) {
		return
	}
	lo, hi := uint64(u32(t.start, b)), uint64(u32(t.start, b+1))
	if lo > hi || 8*hi > uint64(len(t.ents)) {
		return
	}
	for e := lo; e < hi; e++ {
		i, k := uint64(u32(t.ents, 2*e)), int(u32(t.ents, 2*e+1))-1
		if i >= uint64(len(pkgs)) {
			continue
		}
		if n, ok := key(pkgs[i], k); ok && n == name {
			fn(pkgs[i], k)
		}
	}
}

func eachProvide(p *Package, emit func(string, int)) {
	emit(p.Name, -1)
	for k := range p.Provides {
		emit(p.Provides[k].Name, k)
	}
}

func provideKey(p *Package, k int) (string, bool) {
	if k < 0 {
		return p.Name, true
	}
	if k < len(p.Provides) {
		return p.Provides[k].Name, true
	}
	return "", false
}

func eachFile(p *Package, emit func(string, int)) {
	for k, f := range p.Files {
		emit(f, k)
	}
}

func fileKey(p *Package, k int) (string, bool) {
	if k >= 0 && k < len(p.Files) {
		return p.Files[k], true
	}
	return "", false
}

// appendTable and table store a table in the package index: nbuckets,
// then start and ents as they are in memory.
func appendTable(out []byte, t *nameTable) []byte {
	out = binary.AppendUvarint(out, t.mask+1)
	out = binary.AppendUvarint(out, uint64(len(t.ents)/8))
	out = append(out, t.start...)
	return append(out, t.ents...)
}

func (d *indexReader) table() *nameTable {
	nb, nents := d.count(4), d.count(8)
	if d.err != nil || nb < 1 || nb&(nb-1) != 0 || 4*(nb+1)+8*nents > len(d.data)-d.off {
		d.err = errIndexCorrupt
		return nil
	}
	t := &nameTable{mask: uint64(nb - 1)}
	t.start = d.data[d.off : d.off+4*(nb+1) : d.off+4*(nb+1)]
	d.off += len(t.start)
	t.ents = d.data[d.off : d.off+8*nents : d.off+8*nents]
	d.off += len(t.ents)
	return t
}

// tables are a repository's name tables, for the packages in all (its
// primary.xml, before excludepkgs and includepkgs).
type tables struct {
	once      sync.Once
	all       []*Package
	provides  *nameTable
	files     *nameTable
	fromIndex bool
}

func (ts *tables) get() *tables {
	ts.once.Do(func() {
		if ts.provides == nil {
			ts.provides = buildNameTable(ts.all, eachProvide)
		}
		if ts.files == nil {
			ts.files = buildNameTable(ts.all, eachFile)
		}
	})
	return ts
}

// WhatProvides calls fn for each package of the index that has a provide
// called name: k indexes its Provides, or is -1 for its own name (rpm's
// implicit "name = EVR"). Only names are compared; the caller matches
// versions. The order of the calls is unspecified.
func (ix *Index) WhatProvides(name string, fn func(p *Package, k int)) {
	for _, r := range ix.Repos {
		ts := r.nameTables().get()
		ts.provides.lookup(ts.all, name, provideKey, fn)
	}
	for _, p := range ix.Local {
		eachProvide(p, func(n string, k int) {
			if n == name {
				fn(p, k)
			}
		})
	}
}

// WhoListsFile calls fn for each package of the index whose Files (the
// paths primary.xml lists, not filelists.xml: see FileProviders) include
// path, with k its index in Files. The order of the calls is unspecified.
func (ix *Index) WhoListsFile(path string, fn func(p *Package, k int)) {
	for _, r := range ix.Repos {
		ts := r.nameTables().get()
		ts.files.lookup(ts.all, path, fileKey, fn)
	}
	for _, p := range ix.Local {
		for k, f := range p.Files {
			if f == path {
				fn(p, k)
			}
		}
	}
}

// nameTables returns the repository's tables: those of its package index,
// or else made on first use. They are for Packages as they were at the
// first lookup: replacing or filtering Packages afterwards (a new slice)
// makes new ones, changing an element in place does not.
func (r *Repo) nameTables() *tables {
	r.tablesMu.Lock()
	defer r.tablesMu.Unlock()
	if r.tables == nil || !sameSlice(r.tables.all, r.Packages) {
		r.tables = &tables{all: r.Packages}
	}
	return r.tables
}

// sameSlice reports whether a and b are the same slice of one array.
func sameSlice(a, b []*Package) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
