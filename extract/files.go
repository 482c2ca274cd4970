package extract

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"path"
	"strings"

	"github.com/smith-build/smith/fstree"
)

// FILEFLAGS bits that change extraction.
const fileFlagGhost = 1 << 6 // %ghost: owned, not in the payload

// maxFiles bounds the file list of one package before per-file state is
// allocated. The largest real packages (texlive docs, kernel sources) list
// well under 200,000 files.
const maxFiles = 1 << 20

// maxPath is PATH_MAX: longer names cannot be created on Linux anyway.
const maxPath = 4096

// fileInfo is one entry of the header's file list: what rpm itself uses to
// install a payload member (modes, owners and symlink targets come from
// here, not from the cpio header).
type fileInfo struct {
	path   string // canonical, rooted: "/usr/bin/cat"
	mode   uint32 // type and permission bits
	size   int64
	user   string
	group  string
	flags  uint32
	digest string // hex, "" when the header has none for this file
	link   string // symlink target
	caps   string // libcap text, "" for none
	set    int    // index into fileTable.sets, -1 when not hardlinked
	seen   bool   // met in the payload
}

// fileTable is the header's file list with the lookups extraction needs.
type fileTable struct {
	files  []fileInfo
	byPath map[string]int
	sets   []*linkSet
	algo   uint64 // FILEDIGESTALGO (PGP hash algorithm number)
}

// linkSet is a hardlink set: regular files sharing an inode in the header.
// rpm writes the data only with the last member; the others come with size 0.
type linkSet struct {
	members []int // file indexes, ascending
	seen    int
	pending []int // members met before the data
	inode   *fstree.Inode
}

// readFiles builds the file table from the main header. Every per-file
// array must have exactly one value per file: a short array would make the
// lookups below index out of range, a long one is a corrupt header.
func readFiles(h *header) (*fileTable, error) {
	var names []string
	var err error
	switch {
	case h.has(tagBasenames):
		names, err = compressedNames(h)
	case h.has(tagOldFilenames):
		names, err = h.strings(tagOldFilenames, maxFiles)
	}
	if err != nil {
		return nil, err
	}
	n := len(names)
	t := &fileTable{files: make([]fileInfo, n), byPath: make(map[string]int, n)}
	if n == 0 {
		return t, nil
	}
	modes, err := need(h, tagFileModes, n, true, h.ints)
	if err != nil {
		return nil, err
	}
	sizeTag := uint32(tagFileSizes)
	if h.has(tagLongFileSizes) {
		sizeTag = tagLongFileSizes
	}
	sizes, err := need(h, sizeTag, n, true, h.ints)
	if err != nil {
		return nil, err
	}
	users, err := need(h, tagFileUsername, n, false, h.strings)
	if err != nil {
		return nil, err
	}
	groups, err := need(h, tagFileGroupname, n, false, h.strings)
	if err != nil {
		return nil, err
	}
	flags, err := need(h, tagFileFlags, n, false, h.ints)
	if err != nil {
		return nil, err
	}
	digests, err := need(h, tagFileDigests, n, false, h.strings)
	if err != nil {
		return nil, err
	}
	links, err := need(h, tagFileLinkTos, n, false, h.strings)
	if err != nil {
		return nil, err
	}
	caps, err := need(h, tagFileCaps, n, false, h.strings)
	if err != nil {
		return nil, err
	}
	inodes, err := need(h, tagFileInodes, n, false, h.ints)
	if err != nil {
		return nil, err
	}
	devices, err := need(h, tagFileDevices, n, false, h.ints)
	if err != nil {
		return nil, err
	}
	algo, ok, err := h.int(tagFileDigestAlgo)
	if err != nil {
		return nil, err
	}
	if !ok {
		algo = 1 // MD5, rpm's default before FILEDIGESTALGO existed
	}
	t.algo = algo
	if len(digests) > 0 && newHash(algo) == nil {
		return nil, fmt.Errorf("%w: file digest algorithm %d", ErrUnsupported, algo)
	}

	for i, name := range names {
		p, err := headerPath(name)
		if err != nil {
			return nil, err
		}
		if _, dup := t.byPath[p]; dup {
			return nil, fmt.Errorf("header lists %s twice", p)
		}
		t.byPath[p] = i
		f := &t.files[i]
		f.path, f.mode, f.size, f.set = p, uint32(modes[i]), int64(sizes[i]), -1
		if f.size < 0 {
			return nil, fmt.Errorf("header: %s has size %d", p, sizes[i])
		}
		f.user, f.group = "root", "root"
		if users != nil {
			f.user = users[i]
		}
		if groups != nil {
			f.group = groups[i]
		}
		if flags != nil {
			f.flags = uint32(flags[i])
		}
		if digests != nil {
			f.digest = digests[i]
		}
		if links != nil {
			f.link = links[i]
		}
		if caps != nil {
			f.caps = caps[i]
		}
	}
	if inodes != nil {
		t.findLinkSets(inodes, devices)
	}
	return t, nil
}

// need decodes a per-file tag and checks it has one value per file.
func need[T any](h *header, tag uint32, n int, required bool, get func(uint32, int) ([]T, error)) ([]T, error) {
	if !h.has(tag) {
		if required {
			return nil, fmt.Errorf("header has %d files but no tag %d", n, tag)
		}
		return nil, nil
	}
	v, err := get(tag, n)
	if err != nil {
		return nil, err
	}
	if len(v) != n {
		return nil, fmt.Errorf("header tag %d has %d values for %d files", tag, len(v), n)
	}
	return v, nil
}

// compressedNames joins BASENAMES with DIRNAMES through DIRINDEXES.
func compressedNames(h *header) ([]string, error) {
	base, err := h.strings(tagBasenames, maxFiles)
	if err != nil {
		return nil, err
	}
	dirs, err := h.strings(tagDirnames, len(base))
	if err != nil {
		return nil, err
	}
	idx, err := need(h, tagDirIndexes, len(base), true, h.ints)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(base))
	for i, b := range base {
		if idx[i] >= uint64(len(dirs)) {
			return nil, fmt.Errorf("header: file %q has directory index %d of %d", b, idx[i], len(dirs))
		}
		names[i] = dirs[idx[i]] + b
	}
	return names, nil
}

// findLinkSets groups regular, non-ghost files by (device, inode), as rpm
// does to find the hardlink sets whose data comes with the last member.
func (t *fileTable) findLinkSets(inodes, devices []uint64) {
	type key struct{ dev, ino uint64 }
	groups := map[key][]int{}
	var order []key
	for i := range t.files {
		f := &t.files[i]
		if f.mode&modeType != modeReg || f.flags&fileFlagGhost != 0 || inodes[i] == 0 {
			continue
		}
		k := key{ino: inodes[i]}
		if devices != nil {
			k.dev = devices[i]
		}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		m := groups[k]
		if len(m) < 2 {
			continue
		}
		for _, i := range m {
			t.files[i].set = len(t.sets)
		}
		t.sets = append(t.sets, &linkSet{members: m})
	}
}

// strippedSize is the data size of a stripped cpio member, which only the
// header knows: a regular file's size (0 for hardlink members but the last,
// as rpm writes them), a symlink's target length, nothing for the rest.
func (t *fileTable) strippedSize(i int) (int64, error) {
	if i < 0 || i >= len(t.files) {
		return 0, fmt.Errorf("stripped cpio entry refers to file #%d of %d", i, len(t.files))
	}
	f := &t.files[i]
	switch f.mode & modeType {
	case modeReg:
		if f.set >= 0 {
			if m := t.sets[f.set].members; m[len(m)-1] != i {
				return 0, nil
			}
		}
		return f.size, nil
	case modeLink:
		return f.size, nil
	}
	return 0, nil
}

// headerPath checks a path from the header's file list and returns its
// canonical rooted form. Binary packages list absolute paths, source
// packages bare names; neither may climb with "..".
func headerPath(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("header file %q: %w", name, err)
	}
	return path.Clean("/" + name), nil
}

// cpioPath checks a payload member's name and returns the canonical rooted
// path it names. rpm writes "./usr/bin/cat"; very old rpms wrote
// "usr/bin/cat" and nfpm writes "/usr/bin/cat". Like rpm (rpmfnFindFN) all
// three name the same header entry: the name only selects an entry of the
// header's file list, and the path written is that entry's, inside the
// tree. "./" alone is the root directory (the filesystem package lists it).
func cpioPath(name string) (string, error) {
	rel, _ := strings.CutPrefix(name, "./")
	rel, _ = strings.CutPrefix(rel, "/")
	if rel == "" || rel == "." {
		return "/", nil
	}
	if err := checkName(rel); err != nil {
		return "", err
	}
	return path.Clean("/" + rel), nil
}

// checkName rejects names that are empty, too long, contain NUL or have a
// ".." component.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrUnsafePath)
	case len(name) > maxPath:
		return fmt.Errorf("%w: name of %d bytes (limit %d)", ErrUnsafePath, len(name), maxPath)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: NUL in name", ErrUnsafePath)
	}
	for c := range strings.SplitSeq(name, "/") {
		if c == ".." {
			return fmt.Errorf("%w: \"..\" component", ErrUnsafePath)
		}
	}
	return nil
}

// algoSHA256 is rpm's (PGP's) number for SHA-256 file digests.
const algoSHA256 = 8

// newHash returns the hash for an rpm (PGP) digest algorithm number, nil
// when unknown.
func newHash(algo uint64) hash.Hash {
	switch algo {
	case 1:
		return md5.New()
	case 2:
		return sha1.New()
	case algoSHA256:
		return sha256.New()
	case 9:
		return sha512.New384()
	case 10:
		return sha512.New()
	case 11:
		return sha256.New224()
	case 12:
		return sha3.New256()
	case 14:
		return sha3.New512()
	}
	return nil
}

// checkDigest compares data with the header's hex digest.
func checkDigest(algo uint64, want string, data []byte) error {
	h := newHash(algo)
	h.Write(data)
	var buf [64]byte
	got := hex.EncodeToString(h.Sum(buf[:0]))
	if !strings.EqualFold(got, want) {
		return fmt.Errorf("%w: header %s, payload %s", ErrDigestMismatch, want, got)
	}
	return nil
}
