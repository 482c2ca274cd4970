package repo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/smith-build/smith/dep"
)

// The package index cache: the packages parsed from a primary.xml, in a
// compact binary encoding, kept in the cache directory under the checksum
// repomd.xml gives for that primary.xml:
//
//	index/<checksum type>-<hex>.idx
//
// A warm load reads repomd.xml and, when the index of its primary.xml is
// there, neither opens nor parses primary.xml: decoding is several times
// faster than decompressing and scanning the XML, and holds the strings in
// one block. The key is the verified checksum of the metadata, so an index
// is never used for other metadata; the file carries a format version
// (bumped whenever Package or the primary parser changes what it yields)
// and a CRC-32C of its content, and one that fails either is ignored and
// rebuilt from the XML. The decoder treats the file as untrusted input: it
// checks every count and reference and fails instead of panicking.
//
// Format (integers are unsigned varints unless noted):
//
//	"SMITHIDX" indexFormat(uint32 LE)
//	nstrings len... bytes        string table; string 0 is ""
//	nevrs (epoch version release)...
//	                             EVR table (string refs); EVR 0 is empty
//	npkgs nrels nfiles nchunks   totals, for one allocation each
//	per chunk: npkgs nrels nfiles nbytes
//	provides table, files table  provides.go's nameTable: nbuckets nents,
//	                             then start and ents as uint32 LE
//	per chunk, its nbytes of packages:
//	  name arch location cktype ckvalue (string refs) evr size, then for
//	  each of the 8 relation lists count and per relation name(string)
//	  flags(byte, 0x80 = pre) evr; then count and file refs
//	crc32c(uint32 LE) of everything before it
//
// Chunks of indexChunk packages are decoded in parallel.

// indexFormat is the version of the encoding and of what the parser puts
// into a Package; bump it whenever either changes.
const indexFormat = 4

// indexChunk is how many packages make a chunk.
const indexChunk = 1024

const indexMagic = "SMITHIDX"

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// maxIndexSize bounds an index file read from the cache.
const maxIndexSize = 1 << 30

// indexPath is where the index of the primary.xml with checksum sum lives.
func indexPath(cacheDir string, sum Checksum) string {
	return filepath.Join(cacheDir, "index", sum.Type+"-"+sum.Value+".idx")
}

// readIndex returns the cached packages of the primary.xml with checksum
// sum, with Repo set to repoID. ok is false when there is no usable index;
// err says why an index that exists was unusable (corrupt), for a warning.
func readIndex(cacheDir string, sum Checksum, repoID string) (pkgs []*Package, ts *tables, ok bool, err error) {
	if cacheDir == "" || validChecksum(sum) != nil {
		return nil, nil, false, nil
	}
	p := indexPath(cacheDir, sum)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, false, nil
		}
		return nil, nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, false, err
	}
	if fi.Size() > maxIndexSize {
		return nil, nil, false, fmt.Errorf("%s: larger than %d bytes", p, maxIndexSize)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", p, err)
	}
	pkgs, ts, err = decodeIndex(data, repoID)
	if errors.Is(err, errIndexVersion) {
		return nil, nil, false, nil // written by another smith: rebuild quietly
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", p, err)
	}
	return pkgs, ts, true, nil
}

// writeIndex stores the index of pkgs (parsed from the primary.xml with
// checksum sum) atomically.
func writeIndex(cacheDir string, sum Checksum, pkgs []*Package) error {
	if cacheDir == "" || validChecksum(sum) != nil {
		return nil
	}
	return writeFileAtomic(indexPath(cacheDir, sum), encodeIndex(pkgs), time.Time{})
}

// relLists returns a package's eight relation lists in encoding order.
func relLists(p *Package) [8]*[]dep.Relation {
	return [8]*[]dep.Relation{&p.Provides, &p.Requires, &p.Conflicts, &p.Obsoletes,
		&p.Recommends, &p.Suggests, &p.Supplements, &p.Enhances}
}

// encodeIndex encodes packages (their Repo, Priority and Cost are not
// stored: they belong to the repository, not the metadata).
func encodeIndex(pkgs []*Package) []byte {
	strIDs := map[string]uint64{"": 0}
	strs := []string{""}
	str := func(s string) uint64 {
		if i, ok := strIDs[s]; ok {
			return i
		}
		i := uint64(len(strs))
		strIDs[s] = i
		strs = append(strs, s)
		return i
	}
	evrIDs := map[dep.EVR]uint64{{}: 0}
	var evrTable []byte // after the empty one
	evr := func(e dep.EVR) uint64 {
		if i, ok := evrIDs[e]; ok {
			return i
		}
		i := uint64(len(evrIDs))
		evrIDs[e] = i
		evrTable = binary.AppendUvarint(evrTable, str(e.Epoch))
		evrTable = binary.AppendUvarint(evrTable, str(e.Version))
		evrTable = binary.AppendUvarint(evrTable, str(e.Release))
		return i
	}
	type chunk struct {
		npkgs, nrels, nfiles int
		body                 []byte
	}
	var chunks []chunk
	for i, p := range pkgs {
		if i%indexChunk == 0 {
			chunks = append(chunks, chunk{})
		}
		c := &chunks[len(chunks)-1]
		put := func(v uint64) { c.body = binary.AppendUvarint(c.body, v) }
		c.npkgs++
		for _, s := range []string{p.Name, p.Arch, p.Location, p.Checksum.Type, p.Checksum.Value} {
			put(str(s))
		}
		put(evr(p.EVR))
		put(uint64(max(p.Size, 0)))
		for _, list := range relLists(p) {
			put(uint64(len(*list)))
			c.nrels += len(*list)
			for _, r := range *list {
				put(str(r.Name))
				fl := byte(r.Flags)
				if r.Pre {
					fl |= 0x80
				}
				c.body = append(c.body, fl)
				put(evr(r.EVR))
			}
		}
		put(uint64(len(p.Files)))
		c.nfiles += len(p.Files)
		for _, f := range p.Files {
			put(str(f))
		}
	}
	var nrels, nfiles int
	for _, c := range chunks {
		nrels += c.nrels
		nfiles += c.nfiles
	}
	size := 0
	for _, s := range strs {
		size += len(s)
	}
	out := make([]byte, 0, len(indexMagic)+4+size+10*len(strs)+len(evrTable)+64)
	out = append(out, indexMagic...)
	out = binary.LittleEndian.AppendUint32(out, indexFormat)
	out = binary.AppendUvarint(out, uint64(len(strs)))
	for _, s := range strs {
		out = binary.AppendUvarint(out, uint64(len(s)))
	}
	for _, s := range strs {
		out = append(out, s...)
	}
	out = binary.AppendUvarint(out, uint64(len(evrIDs)-1))
	out = append(out, evrTable...)
	for _, v := range []int{len(pkgs), nrels, nfiles, len(chunks)} {
		out = binary.AppendUvarint(out, uint64(v))
	}
	for _, c := range chunks {
		for _, v := range []int{c.npkgs, c.nrels, c.nfiles, len(c.body)} {
			out = binary.AppendUvarint(out, uint64(v))
		}
	}
	out = appendTable(out, buildNameTable(pkgs, eachProvide))
	out = appendTable(out, buildNameTable(pkgs, eachFile))
	for _, c := range chunks {
		out = append(out, c.body...)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32c))
}

var (
	errIndexVersion = errors.New("package index of another format version")
	errIndexCorrupt = errors.New("corrupt package index")
)

// indexReader reads varints and references from one part of an index,
// remembering the first error.
type indexReader struct {
	data []byte
	off  int
	strs []string
	evrs []dep.EVR
	err  error
}

func (d *indexReader) uvarint() uint64 {
	if d.off < len(d.data) && d.data[d.off] < 0x80 { // most are one byte
		v := uint64(d.data[d.off])
		d.off++
		return v
	}
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.off:])
	if n <= 0 {
		d.err = errIndexCorrupt
		return 0
	}
	d.off += n
	return v
}

// count reads a count of items that take at least minSize bytes each, so
// that a corrupt count cannot make the decoder allocate more than the file
// could describe.
func (d *indexReader) count(minSize int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64((len(d.data)-d.off)/minSize) {
		d.err = errIndexCorrupt
		return 0
	}
	return int(v)
}

func (d *indexReader) str() string {
	if v := d.uvarint(); v < uint64(len(d.strs)) {
		return d.strs[v]
	}
	d.err = errIndexCorrupt
	return ""
}

func (d *indexReader) evr() dep.EVR {
	if v := d.uvarint(); v < uint64(len(d.evrs)) {
		return d.evrs[v]
	}
	d.err = errIndexCorrupt
	return dep.EVR{}
}

func (d *indexReader) byte() byte {
	if d.off < len(d.data) {
		b := d.data[d.off]
		d.off++
		return b
	}
	d.err = errIndexCorrupt
	return 0
}

// indexPart is a chunk's place in the file and in the slabs.
type indexPart struct {
	npkgs, nrels, nfiles, nbytes int
}

// decodeIndex decodes an index file, setting Repo to repoID. The packages'
// strings and the tables point into data, which the caller must not
// change afterwards.
func decodeIndex(data []byte, repoID string) ([]*Package, *tables, error) {
	head := len(indexMagic) + 4
	if len(data) < head+4 || !bytes.Equal(data[:len(indexMagic)], []byte(indexMagic)) {
		return nil, nil, errIndexCorrupt
	}
	if binary.LittleEndian.Uint32(data[len(indexMagic):]) != indexFormat {
		return nil, nil, errIndexVersion
	}
	end := len(data) - 4
	if crc32.Checksum(data[:end], crc32c) != binary.LittleEndian.Uint32(data[end:]) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", errIndexCorrupt)
	}
	d := &indexReader{data: data[:end], off: head}
	nstr := d.count(1)
	lens := make([]int, nstr)
	total := 0
	for i := range lens {
		lens[i] = d.count(1)
		total += lens[i]
		if total > len(d.data)-d.off {
			return nil, nil, errIndexCorrupt
		}
	}
	if d.err != nil || nstr == 0 || lens[0] != 0 {
		return nil, nil, errIndexCorrupt
	}
	// Every string points into the file's bytes, which nothing writes to
	// once read (readIndex's buffer is decodeIndex's alone).
	block := unsafe.String(unsafe.SliceData(d.data[d.off:]), total)
	d.off += total
	d.strs = make([]string, nstr)
	for i, at := 0, 0; i < nstr; i++ {
		d.strs[i] = block[at : at+lens[i]]
		at += lens[i]
	}
	nevr := d.count(3)
	d.evrs = make([]dep.EVR, nevr+1)
	for i := 1; i <= nevr; i++ {
		d.evrs[i] = dep.EVR{Epoch: d.str(), Version: d.str(), Release: d.str()}
	}
	// Every package takes at least 17 bytes, every relation 3, every file 1.
	npkgs, nrels, nfiles, nchunks := d.count(17), d.count(3), d.count(1), d.count(4)
	parts := make([]indexPart, nchunks)
	var sum indexPart
	for i := range parts {
		parts[i] = indexPart{d.count(17), d.count(3), d.count(1), d.count(1)}
		sum.npkgs += parts[i].npkgs
		sum.nrels += parts[i].nrels
		sum.nfiles += parts[i].nfiles
		sum.nbytes += parts[i].nbytes
	}
	ts := &tables{provides: d.table(), files: d.table()}
	if d.err != nil {
		return nil, nil, d.err
	}
	if sum != (indexPart{npkgs, nrels, nfiles, len(d.data) - d.off}) {
		return nil, nil, errIndexCorrupt
	}
	slab := make([]Package, npkgs)
	pkgs := make([]*Package, npkgs)
	rels := make([]dep.Relation, nrels)
	files := make([]string, nfiles)
	for i := range slab {
		pkgs[i] = &slab[i]
	}
	// Decode the chunks on every core: each owns its part of the slabs.
	workers := min(runtime.GOMAXPROCS(0), nchunks)
	errs := make([]error, nchunks)
	var wg sync.WaitGroup
	next := make(chan int, nchunks)
	type span struct{ pkg, rel, file, off int }
	spans := make([]span, nchunks)
	at := span{off: d.off}
	for i, p := range parts {
		spans[i] = at
		at.pkg += p.npkgs
		at.rel += p.nrels
		at.file += p.nfiles
		at.off += p.nbytes
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sp, p := spans[i], parts[i]
				cd := &indexReader{data: d.data[sp.off : sp.off+p.nbytes], strs: d.strs, evrs: d.evrs}
				errs[i] = cd.chunk(slab[sp.pkg:sp.pkg+p.npkgs], rels[sp.rel:sp.rel+p.nrels], files[sp.file:sp.file+p.nfiles], repoID)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	ts.all = pkgs
	return pkgs, ts, nil
}

// chunk decodes one chunk into its packages, relations and files, which it
// must use up exactly.
func (d *indexReader) chunk(slab []Package, rels []dep.Relation, files []string, repoID string) error {
	for i := range slab {
		p := &slab[i]
		p.Name, p.Arch, p.Location = d.str(), d.str(), d.str()
		p.Checksum.Type, p.Checksum.Value = d.str(), d.str()
		p.EVR = d.evr()
		p.Size = int64(min(d.uvarint(), 1<<62))
		p.Repo = repoID
		for _, list := range relLists(p) {
			n := int(min(d.uvarint(), uint64(len(rels)+1)))
			if n > len(rels) {
				return errIndexCorrupt
			}
			if n == 0 {
				continue
			}
			rs := rels[:n:n]
			rels = rels[n:]
			for k := range rs {
				r := &rs[k]
				r.Name = d.str()
				fl := d.byte()
				r.Flags, r.Pre = dep.Flag(fl&^0x80), fl&0x80 != 0
				r.EVR = d.evr()
			}
			*list = rs
		}
		if n := int(min(d.uvarint(), uint64(len(files)+1))); n > len(files) {
			return errIndexCorrupt
		} else if n > 0 {
			p.Files = files[:n:n]
			files = files[n:]
			for k := range p.Files {
				p.Files[k] = d.str()
			}
		}
		if d.err != nil {
			return d.err
		}
	}
	if d.off != len(d.data) || len(rels) != 0 || len(files) != 0 {
		return errIndexCorrupt
	}
	return nil
}
