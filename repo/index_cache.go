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
	"time"

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
//	nstrings len... bytes           string table; string 0 is ""
//	npkgs nrels nfiles              totals, for one allocation each
//	per package: name epoch version release arch location cktype ckvalue
//	             (string refs) size, then for each of the 8 relation lists
//	             count and per relation: name flags(byte, 0x80 = pre)
//	             epoch version release; then count and file refs
//	crc32c(uint32 LE) of everything before it

// indexFormat is the version of the encoding and of what the parser puts
// into a Package; bump it whenever either changes.
const indexFormat = 1

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
func readIndex(cacheDir string, sum Checksum, repoID string) (pkgs []*Package, ok bool, err error) {
	if cacheDir == "" || validChecksum(sum) != nil {
		return nil, false, nil
	}
	p := indexPath(cacheDir, sum)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if fi.Size() > maxIndexSize {
		return nil, false, fmt.Errorf("%s: larger than %d bytes", p, maxIndexSize)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, false, fmt.Errorf("%s: %w", p, err)
	}
	pkgs, err = decodeIndex(data, repoID)
	if errors.Is(err, errIndexVersion) {
		return nil, false, nil // written by another smith: rebuild quietly
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", p, err)
	}
	return pkgs, true, nil
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
	ids := map[string]uint64{"": 0}
	strs := []string{""}
	ref := func(s string) uint64 {
		if i, ok := ids[s]; ok {
			return i
		}
		i := uint64(len(strs))
		ids[s] = i
		strs = append(strs, s)
		return i
	}
	var body []byte
	put := func(v uint64) { body = binary.AppendUvarint(body, v) }
	var nrels, nfiles int
	for _, p := range pkgs {
		for _, s := range []string{p.Name, p.Epoch, p.Version, p.Release, p.Arch, p.Location, p.Checksum.Type, p.Checksum.Value} {
			put(ref(s))
		}
		put(uint64(max(p.Size, 0)))
		for _, list := range relLists(p) {
			put(uint64(len(*list)))
			nrels += len(*list)
			for _, r := range *list {
				put(ref(r.Name))
				fl := byte(r.Flags)
				if r.Pre {
					fl |= 0x80
				}
				body = append(body, fl)
				put(ref(r.EVR.Epoch))
				put(ref(r.EVR.Version))
				put(ref(r.EVR.Release))
			}
		}
		put(uint64(len(p.Files)))
		nfiles += len(p.Files)
		for _, f := range p.Files {
			put(ref(f))
		}
	}
	size := 0
	for _, s := range strs {
		size += len(s)
	}
	out := make([]byte, 0, len(indexMagic)+4+size+len(body)+10*len(strs)+40)
	out = append(out, indexMagic...)
	out = binary.LittleEndian.AppendUint32(out, indexFormat)
	out = binary.AppendUvarint(out, uint64(len(strs)))
	for _, s := range strs {
		out = binary.AppendUvarint(out, uint64(len(s)))
	}
	for _, s := range strs {
		out = append(out, s...)
	}
	out = binary.AppendUvarint(out, uint64(len(pkgs)))
	out = binary.AppendUvarint(out, uint64(nrels))
	out = binary.AppendUvarint(out, uint64(nfiles))
	out = append(out, body...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32c))
}

var (
	errIndexVersion = errors.New("package index of another format version")
	errIndexCorrupt = errors.New("corrupt package index")
)

// indexReader reads varints and string references, remembering the first
// error.
type indexReader struct {
	data []byte
	off  int
	strs []string
	err  error
}

func (d *indexReader) uvarint() uint64 {
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
	v := d.uvarint()
	if v >= uint64(len(d.strs)) {
		d.err = errIndexCorrupt
		return ""
	}
	return d.strs[v]
}

func (d *indexReader) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.data) {
		d.err = errIndexCorrupt
		return 0
	}
	b := d.data[d.off]
	d.off++
	return b
}

// decodeIndex decodes an index file, setting Repo to repoID.
func decodeIndex(data []byte, repoID string) ([]*Package, error) {
	head := len(indexMagic) + 4
	if len(data) < head+4 || !bytes.Equal(data[:len(indexMagic)], []byte(indexMagic)) {
		return nil, errIndexCorrupt
	}
	if binary.LittleEndian.Uint32(data[len(indexMagic):]) != indexFormat {
		return nil, errIndexVersion
	}
	end := len(data) - 4
	if crc32.Checksum(data[:end], crc32c) != binary.LittleEndian.Uint32(data[end:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errIndexCorrupt)
	}
	d := &indexReader{data: data[:end], off: head}
	nstr := d.count(1)
	lens := make([]int, nstr)
	total := 0
	for i := range lens {
		lens[i] = d.count(1)
		total += lens[i]
		if total > len(d.data)-d.off {
			return nil, errIndexCorrupt
		}
	}
	if d.err != nil || total > len(d.data)-d.off {
		return nil, errIndexCorrupt
	}
	block := string(d.data[d.off : d.off+total]) // one allocation for every string
	d.off += total
	d.strs = make([]string, nstr)
	for i, at := 0, 0; i < nstr; i++ {
		d.strs[i] = block[at : at+lens[i]]
		at += lens[i]
	}
	if nstr == 0 || d.strs[0] != "" {
		return nil, errIndexCorrupt
	}
	// Every package takes at least 18 bytes, every relation 5, every file 1.
	npkgs, nrels, nfiles := d.count(18), d.count(5), d.count(1)
	if d.err != nil {
		return nil, d.err
	}
	slab := make([]Package, npkgs)
	pkgs := make([]*Package, npkgs)
	rels := make([]dep.Relation, nrels)
	files := make([]string, nfiles)
	for i := range slab {
		p := &slab[i]
		pkgs[i] = p
		p.Name, p.Epoch, p.Version, p.Release, p.Arch = d.str(), d.str(), d.str(), d.str(), d.str()
		p.Location = d.str()
		p.Checksum.Type, p.Checksum.Value = d.str(), d.str()
		p.Size = int64(min(d.uvarint(), 1<<62))
		p.Repo = repoID
		for _, list := range relLists(p) {
			n := d.count(5)
			if n > len(rels) {
				return nil, errIndexCorrupt
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
				r.EVR.Epoch, r.EVR.Version, r.EVR.Release = d.str(), d.str(), d.str()
			}
			*list = rs
		}
		if n := d.count(1); n > len(files) {
			return nil, errIndexCorrupt
		} else if n > 0 {
			p.Files = files[:n:n]
			files = files[n:]
			for k := range p.Files {
				p.Files[k] = d.str()
			}
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	if d.off != len(d.data) || len(rels) != 0 || len(files) != 0 {
		return nil, errIndexCorrupt
	}
	return pkgs, nil
}
