// Package extract unpacks one RPM package into an fstree.Tree, streaming:
// lead, signature header, main header, then the payload through its
// decompressor and a cpio reader straight into the tree, with no temporary
// files and no second copy of file data.
//
// Contract:
//
//   - Input: v3, v4 and v6 .rpm files (binary or source) whose payload is
//     cpio (newc, crc, or rpm's stripped form used for large files and by
//     v6) compressed with gzip, xz, zstd, bzip2, legacy lzma or nothing. The
//     compressor is taken from the payload's magic bytes, the
//     PAYLOADCOMPRESSOR tag only for lzma, which has none.
//   - The header is the authority, as for rpm: each payload member is
//     matched by name (or stripped index) to the header's file list, and
//     modes, owner names (FILEUSERNAME/FILEGROUPNAME, into Owner.User and
//     Owner.Group with UID/GID 0: numbers are assigned later), symlink
//     targets, file capabilities (FILECAPS, as the security.capability
//     xattr) and %ghost flags come from there. setuid/setgid/sticky bits
//     are kept. Every entry gets Inode.Package = Options.Name.
//   - Hardlink sets become one inode with several paths. %ghost files and
//     directories are recorded with Tree.AddGhost and not created. Devices,
//     fifos and sockets are skipped without error (the runtime provides
//     /dev) and counted in Info.Skipped.
//   - Verification: regular files are checked against FILEDIGESTS, sizes
//     against the header, crc-format cpio checksums and the compressed
//     stream's own checks (read to its end). Every header file that is not
//     %ghost must appear in the payload.
//   - Hostile input fails with an error, never a panic: names that are
//     absolute, contain "..", NUL or exceed PATH_MAX; writes through a
//     symlink that leaves the tree (fstree.ErrEscape); header counts and
//     sizes are bounded before allocation; the decompressed payload is
//     limited to Options.MaxBytes. Errors read
//     "extract NAME: what: cause" and wrap the sentinel errors below.
//   - On error the tree may hold part of the package: discard it. Signature
//     verification is not done here.
package extract

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/bytesize"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrNotRPM reports input that does not start with an RPM lead.
	ErrNotRPM = errors.New("not an RPM package")
	// ErrUnsupported reports a valid package using a feature this package
	// does not implement (delta RPMs, aligned payloads, unknown compressors
	// or digest algorithms).
	ErrUnsupported = errors.New("unsupported")
	// ErrUnsafePath reports a payload or header name that could write
	// outside the tree.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrDigestMismatch reports file data that does not match the header.
	ErrDigestMismatch = errors.New("file digest mismatch")
	// ErrTooLarge reports a payload over Options.MaxBytes; the wrapping
	// message gives the limit as the --max-size that would raise it.
	ErrTooLarge = errors.New("payload exceeds the size limit")
)

// DefaultMaxBytes is the decompressed payload limit when Options.MaxBytes
// is 0: twice the largest packages in common distributions.
const DefaultMaxBytes = 8 << 30

// Options tune one extraction.
type Options struct {
	// Name labels the package in errors and becomes Inode.Package of every
	// entry (the NEVRA or file name). When empty, the header's NEVRA is used.
	Name string
	// MaxBytes limits the decompressed payload (cpio framing included);
	// more is an error (a decompression bomb). 0 means DefaultMaxBytes.
	// smith's --max-size sets it.
	MaxBytes int64
	// Decoders, when set, lends decompressors that are reused from one
	// package to the next (nil: fresh ones for every package).
	Decoders *Decoders
	// Growing, when set, is told about regular files as Expand decodes an
	// xz payload, before their digests are checked (a mismatch fails
	// Expand): path is the file's path in the header, sum the header's
	// sha256 of the file, size its size and data what has arrived of it,
	// longer at each call, whole at the last (the bytes never change). It
	// runs on the goroutine checking digests and must return quickly. A
	// smith build compresses likely image files there while the last
	// package decodes.
	Growing func(path string, sum []byte, size int, data []byte)
}

// Info describes an extracted package.
type Info struct {
	Name, Epoch, Version, Release, Arch string // Epoch is "" when absent
	SourceRPM                           string // "" for source packages
	// Format is the package format: 3 (no header regions), 4 or 6.
	Format int
	// Payload is the compressor actually used ("gzip", "xz", "zstd",
	// "bzip2", "lzma" or "none"); PayloadBytes the decompressed size.
	Payload      string
	PayloadBytes int64
	// Files is the number of entries in the header's file list, as
	// rpm -qlp counts them; the fields after it split it by what was done.
	Files     int
	Regular   int // regular file paths written, hardlinks included
	Hardlinks int // of which extra paths of a hardlink set
	Dirs      int
	Symlinks  int
	Ghosts    int // %ghost entries, recorded but not created
	Skipped   int // devices, fifos and sockets, not created
	Caps      int // files given a security.capability xattr
}

// NEVRA returns name-[epoch:]version-release.arch.
func (i *Info) NEVRA() string {
	e := ""
	if i.Epoch != "" {
		e = i.Epoch + ":"
	}
	return fmt.Sprintf("%s-%s%s-%s.%s", i.Name, e, i.Version, i.Release, i.Arch)
}

// Package streams one .rpm from r into tree. See the package documentation
// for what is checked and created.
func Package(ctx context.Context, tree *fstree.Tree, r io.Reader, opt Options) (*Info, error) {
	x := newExtractor(tree, opt)
	if err := x.run(ctx, r); err != nil {
		return nil, fmt.Errorf("extract %s: %w", x.label(), err)
	}
	return x.info, nil
}

// newExtractor returns an extractor into tree (nil for Expand), with
// Options' defaults applied.
func newExtractor(tree *fstree.Tree, opt Options) *extractor {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	return &extractor{tree: tree, opt: opt, info: &Info{}}
}

type extractor struct {
	tree  *fstree.Tree
	opt   Options
	info  *Info
	files *fileTable
	limit *limitReader
	// payloadBound is the files' payloadBound (computed once: a pass over
	// the file list); payloadMax bounds the decompressed payload: MaxBytes,
	// or less when the header's file list allows less.
	payloadBound, payloadMax int64
	pkg                      string // Inode.Package
	lastDir                  string // last parent directory known to exist
	// digestsChecked skips the file digest checks (Apply: Expand made them).
	digestsChecked bool
}

func (x *extractor) run(ctx context.Context, r io.Reader) error {
	br, h, err := readPackageHeaders(r)
	if err != nil {
		return err
	}
	if err := x.prepare(h); err != nil {
		return err
	}
	comp, err := x.payloadCompressor(h, br)
	if err != nil {
		return err
	}
	dr, closeDR, err := x.decompress(comp, br)
	if err != nil {
		return err
	}
	defer closeDR()
	return x.fill(ctx, dr)
}

// readPackageHeaders reads the lead, the signature header and the main
// header, and returns the reader positioned at the payload.
func readPackageHeaders(r io.Reader) (*bufio.Reader, *header, error) {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 64<<10 {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	if _, err := readLead(br); err != nil {
		return nil, nil, err
	}
	if _, err := readHeader(br, "signature", true); err != nil {
		return nil, nil, err
	}
	h, err := readHeader(br, "header", false)
	if err != nil {
		return nil, nil, err
	}
	return br, h, nil
}

// prepare reads the package identity and file list from the main header.
func (x *extractor) prepare(h *header) error {
	if err := x.readInfo(h); err != nil {
		return err
	}
	x.pkg = x.opt.Name
	if x.pkg == "" {
		x.pkg = x.info.NEVRA()
	}
	var err error
	if x.files, err = readFiles(h); err != nil {
		return err
	}
	x.info.Files = len(x.files.files)
	x.payloadBound = x.files.payloadBound()
	x.payloadMax = min(x.opt.MaxBytes, x.payloadBound+payloadSlack)
	return nil
}

// payloadSlack is what a payload may hold beyond payloadBound (which no
// real package reaches: the 97 real RPMs of the test data come within
// 0.1% of it, the 139 others closer still) before it is taken for a bomb.
const payloadSlack = 1 << 20

// tooLarge is the error for a payload over payloadMax: a bomb by the
// header's own account, or over --max-size.
func (x *extractor) tooLarge() error {
	if x.payloadMax < x.opt.MaxBytes {
		return fmt.Errorf("%w: more than the %d bytes its header's file list allows (a decompression bomb?)", ErrTooLarge, x.payloadMax)
	}
	return fmt.Errorf("%w %s", ErrTooLarge, bytesize.Hint(x.opt.MaxBytes))
}

// payloadCompressor names the payload's compressor (Info.Payload): from
// its magic bytes, from the header's tag for lzma, which has none.
func (x *extractor) payloadCompressor(h *header, br *bufio.Reader) (string, error) {
	tag, err := h.str(tagPayloadCompressor)
	if err != nil {
		return "", err
	}
	head, _ := br.Peek(8)
	comp, err := chooseCompressor(tag, head)
	x.info.Payload = comp
	return comp, err
}

// decompress returns the payload decompressed with comp, limited to
// payloadMax.
func (x *extractor) decompress(comp string, br *bufio.Reader) (io.Reader, func(), error) {
	var src io.Reader = br
	if comp == compXZ {
		src = shrinkXZDict(br, x.payloadBound)
	}
	dr, closeDR, err := x.opt.Decoders.decompressor(comp, src)
	if err != nil {
		return nil, nil, err
	}
	x.limit = &limitReader{r: dr, limit: x.payloadMax, over: x.tooLarge}
	return x.limit, closeDR, nil
}

// fill extracts the decompressed cpio stream dr (limited by decompress)
// into the tree.
func (x *extractor) fill(ctx context.Context, dr io.Reader) error {
	if err := x.fillFrom(ctx, bufio.NewReaderSize(dr, 64<<10)); err != nil {
		return err
	}
	x.info.PayloadBytes = x.limit.n
	return x.finish()
}

// fillFrom extracts the cpio archive that src yields, to its end.
func (x *extractor) fillFrom(ctx context.Context, src byteSource) error {
	cr := newCpioReader(src, x.files.strippedSize)
	if err := x.payload(ctx, cr); err != nil {
		return err
	}
	// Read the decompressed stream to its end: gzip, xz and zstd check
	// their CRCs there, and trailing garbage inside it is corruption.
	// (The struct hides bufio.Reader's WriteTo, which would hand the
	// decompressor to io.Discard directly and drop an error bufio stored.)
	if _, err := io.Copy(io.Discard, struct{ io.Reader }{cr.r}); err != nil {
		return payloadError("after the cpio trailer", err)
	}
	return nil
}

// readInfo fills the package identity and refuses payloads it cannot read.
func (x *extractor) readInfo(h *header) error {
	var err error
	get := func(tag uint32) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = h.str(tag)
		return s
	}
	i := x.info
	i.Name, i.Version, i.Release, i.Arch = get(tagName), get(tagVersion), get(tagRelease), get(tagArch)
	i.SourceRPM = get(tagSourceRPM)
	format := get(tagPayloadFormat)
	if err != nil {
		return err
	}
	if i.Name == "" {
		return errors.New("header has no package name")
	}
	if e, ok, err := h.int(tagEpoch); err != nil {
		return err
	} else if ok {
		i.Epoch = itoa(e)
	}
	switch v, ok, err := h.int(tagRPMFormat); {
	case err != nil:
		return err
	case ok:
		i.Format = int(v)
	case h.has(tagHeaderImmutable):
		i.Format = 4
	default:
		i.Format = 3
	}
	switch format {
	case "", "cpio":
	case "drpm":
		return fmt.Errorf("%w: delta RPM (apply it with applydeltarpm first)", ErrUnsupported)
	default:
		return fmt.Errorf("%w: payload format %q", ErrUnsupported, format)
	}
	// rpm 6.2 aligns file data inside the cpio stream; such packages say so
	// with this rpmlib() requirement, which older readers must refuse.
	var aligned bool
	if err := h.eachString(tagRequireName, func(s string) bool {
		aligned = s == "rpmlib(PayloadAlignment)"
		return !aligned
	}); err != nil {
		return err
	}
	if aligned {
		return fmt.Errorf("%w: aligned payload (rpmlib(PayloadAlignment))", ErrUnsupported)
	}
	return nil
}

// payload extracts every cpio member up to the trailer.
func (x *extractor) payload(ctx context.Context, cr *cpioReader) error {
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if last == "" {
				return payloadError("at its start", err)
			}
			return payloadError("after entry "+last, err)
		}
		idx, label, err := x.lookup(e)
		if err != nil {
			return err
		}
		if err := x.entry(cr, e, idx, label); err != nil {
			return err
		}
		last = label
	}
}

// payloadError words a stream failure: truncation, the size limit, or
// corruption found by the decompressor or cpio reader.
func payloadError(where string, err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("payload truncated %s: %w", where, err)
	case errors.Is(err, ErrTooLarge):
		// The limit is the whole payload's: where it ran out says nothing.
		return err
	}
	return fmt.Errorf("payload corrupt %s: %w", where, err)
}

// lookup maps a cpio member to its header file entry.
func (x *extractor) lookup(e *cpioEntry) (int, string, error) {
	if e.stripped {
		if e.index >= len(x.files.files) {
			return 0, "", fmt.Errorf("payload entry #%d: the header lists %d files", e.index, len(x.files.files))
		}
		return e.index, x.files.files[e.index].path, nil
	}
	p, err := cpioPath(e.name)
	if err != nil {
		return 0, "", fmt.Errorf("entry %q: %w", e.name, err)
	}
	i, ok := x.files.byPath[p]
	if !ok {
		return 0, "", fmt.Errorf("entry %s is not in the package header", e.name)
	}
	return i, e.name, nil
}

func (x *extractor) entry(cr *cpioReader, e *cpioEntry, idx int, label string) error {
	f := &x.files.files[idx]
	if f.seen {
		return fmt.Errorf("entry %s appears twice in the payload", label)
	}
	f.seen = true
	if f.flags&fileFlagGhost != 0 {
		// rpm < 4.11 sometimes put %ghost files in the payload; rpm skips them.
		return nil
	}
	typ := f.mode & modeType
	if !e.stripped && e.mode&modeType != typ {
		return fmt.Errorf("entry %s: payload type %06o, header type %06o", label, e.mode&modeType, typ)
	}
	owner := fstree.Owner{User: f.user, Group: f.group}
	mode := fstree.GoMode(f.mode & modePerms)
	var err error
	switch typ {
	case modeDir:
		if f.path == "/" {
			// The filesystem package owns "/" (mode 0555): apply it to
			// the tree's root, which always exists.
			r := x.tree.Root()
			r.Mode, r.Owner, r.Package = mode, owner, x.pkg
			x.info.Dirs++
			return nil
		}
		if err = x.parent(f.path); err == nil {
			err = x.tree.Mkdir(f.path, mode, owner, x.pkg)
		}
		x.info.Dirs++
	case modeReg:
		return x.regular(cr, e, idx, label)
	case modeLink:
		var target string
		if target, err = x.linkTarget(cr, e, f, label); err != nil {
			return err
		}
		if err = x.parent(f.path); err == nil {
			err = x.tree.Symlink(target, f.path, owner, x.pkg)
		}
		// A new symlink may stand where a cached parent was.
		x.lastDir = ""
		x.info.Symlinks++
	case modeChr, modeBlk, modeFifo, modeSock:
		x.info.Skipped++
	default:
		return fmt.Errorf("entry %s: unknown file type %06o", label, typ)
	}
	if err != nil {
		return fmt.Errorf("entry %s: %w", label, err)
	}
	return nil
}

// linkTarget returns a symlink's target: the header's, checked against the
// payload's copy when there is one.
func (x *extractor) linkTarget(cr *cpioReader, e *cpioEntry, f *fileInfo, label string) (string, error) {
	target := f.link
	if !e.stripped && e.size > 0 {
		if e.size > maxPath {
			return "", fmt.Errorf("entry %s: symlink target of %d bytes (limit %d)", label, e.size, maxPath)
		}
		b := make([]byte, e.size)
		if _, err := io.ReadFull(cr, b); err != nil {
			return "", payloadError("at entry "+label, err)
		}
		if target == "" {
			target = string(b)
		} else if target != string(b) {
			return "", fmt.Errorf("entry %s: symlink target %q in the payload, %q in the header", label, b, target)
		}
	}
	if target == "" || strings.IndexByte(target, 0) >= 0 {
		return "", fmt.Errorf("entry %s: %w: symlink target %q", label, ErrUnsafePath, target)
	}
	return target, nil
}

// regular writes a regular file, or one member of a hardlink set: the set
// becomes a single inode once the member carrying the data arrives, and the
// members met before it are linked then.
func (x *extractor) regular(cr *cpioReader, e *cpioEntry, idx int, label string) error {
	f := &x.files.files[idx]
	var set *linkSet
	if f.set >= 0 {
		set = x.files.sets[f.set]
		set.seen++
	}
	size := e.size
	if !e.stripped && size != f.size && (set == nil || size != 0) {
		return fmt.Errorf("entry %s: %d bytes in the payload, %d in the header", label, size, f.size)
	}
	if set != nil && size == 0 && f.size != 0 {
		// A member without the data.
		if set.inode != nil {
			return x.link(set.inode, f, label)
		}
		set.pending = append(set.pending, idx)
		if set.seen == len(set.members) {
			return fmt.Errorf("entry %s: hardlink set %s has no member carrying its %d bytes", label, x.setPaths(set), f.size)
		}
		return nil
	}
	if set != nil && set.inode != nil {
		if size == 0 {
			return x.link(set.inode, f, label)
		}
		return fmt.Errorf("entry %s: hardlink set %s carries data twice", label, x.setPaths(set))
	}
	data, err := x.read(cr, size, label)
	if err != nil {
		return err
	}
	if f.digest != "" && !x.digestsChecked {
		if err := checkDigest(x.files.algo, f.digest, data); err != nil {
			return fmt.Errorf("entry %s: %w", label, err)
		}
	}
	if err := x.parent(f.path); err != nil {
		return fmt.Errorf("entry %s: %w", label, err)
	}
	n, err := x.tree.WriteFile(f.path, data, fstree.GoMode(f.mode&modePerms), fstree.Owner{User: f.user, Group: f.group}, x.pkg)
	if err != nil {
		return fmt.Errorf("entry %s: %w", label, err)
	}
	if f.digest != "" && x.files.algo == algoSHA256 {
		// Checked above, or by Expand (digestsChecked).
		if sum, err := hex.DecodeString(f.digest); err == nil && len(sum) == sha256.Size {
			n.SHA256 = sum
		}
	}
	x.info.Regular++
	if err := x.setCaps(n, f, label); err != nil {
		return err
	}
	if set != nil {
		set.inode = n
		for _, i := range set.pending {
			if err := x.link(n, &x.files.files[i], x.files.files[i].path); err != nil {
				return err
			}
		}
		set.pending = nil
	}
	return nil
}

// link adds f as another path of the hardlink inode n.
func (x *extractor) link(n *fstree.Inode, f *fileInfo, label string) error {
	if err := x.parent(f.path); err != nil {
		return fmt.Errorf("entry %s: %w", label, err)
	}
	if err := x.tree.Link(n, f.path); err != nil {
		return fmt.Errorf("entry %s: %w", label, err)
	}
	x.info.Regular++
	x.info.Hardlinks++
	return x.setCaps(n, f, label)
}

func (x *extractor) setCaps(n *fstree.Inode, f *fileInfo, label string) error {
	if f.caps == "" {
		return nil
	}
	v, err := capXattr(f.caps)
	if err != nil {
		return fmt.Errorf("entry %s: %w", label, err)
	}
	if v == nil {
		return nil
	}
	if n.Xattrs == nil {
		n.Xattrs = map[string][]byte{}
	}
	if _, had := n.Xattrs["security.capability"]; !had {
		x.info.Caps++
	}
	n.Xattrs["security.capability"] = v
	return nil
}

func (x *extractor) setPaths(s *linkSet) string {
	p := make([]string, len(s.members))
	for i, m := range s.members {
		p[i] = x.files.files[m].path
	}
	return "{" + strings.Join(p, ", ") + "}"
}

// read reads a member's data into a buffer of its own (the tree keeps it).
// A size beyond the remaining budget fails before allocating; large sizes
// are allocated as the data arrives, so a lying header costs little.
func (x *extractor) read(cr *cpioReader, size int64, label string) ([]byte, error) {
	if data, ok, err := cr.take(); ok {
		// The archive is in memory: the tree keeps a slice of it.
		if err != nil {
			return nil, payloadError("at entry "+label, err)
		}
		return data, nil
	}
	if x.limit != nil && size > x.limit.limit-x.limit.n+int64(cr.r.Buffered()) {
		return nil, fmt.Errorf("entry %s: %w %s: it claims %d bytes", label, ErrTooLarge, bytesize.Hint(x.limit.limit), size)
	}
	const eager = 32 << 20
	var buf []byte
	if size <= eager {
		buf = make([]byte, size)
		if _, err := io.ReadFull(cr, buf); err != nil {
			return nil, payloadError("at entry "+label, err)
		}
		if cr.err != nil {
			return nil, payloadError("at entry "+label, cr.err)
		}
		return buf, nil
	}
	buf = make([]byte, 0, eager)
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), size))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(cr, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, payloadError("at entry "+label, err)
		}
	}
	if cr.err != nil {
		return nil, payloadError("at entry "+label, cr.err)
	}
	return buf, nil
}

// parent makes sure the directory holding p exists, creating missing ones
// as rpm does: root-owned, 0755, owned by no package.
func (x *extractor) parent(p string) error {
	dir := path.Dir(p)
	if dir == "/" || dir == x.lastDir {
		return nil
	}
	n, err := x.tree.Follow(dir)
	switch {
	case err == nil && n.Kind == fstree.Dir:
	case errors.Is(err, fs.ErrNotExist):
		if err := x.tree.Mkdir(dir, 0o755, fstree.Owner{User: "root", Group: "root"}, ""); err != nil {
			return err
		}
	default:
		// Let the write itself report what is in the way.
		return nil
	}
	x.lastDir = dir
	return nil
}

// finish checks that every header file arrived and records the ghosts.
func (x *extractor) finish() error {
	for i := range x.files.files {
		f := &x.files.files[i]
		if f.flags&fileFlagGhost != 0 {
			x.tree.AddGhost(f.path, x.pkg)
			x.info.Ghosts++
			continue
		}
		if !f.seen {
			if f.set >= 0 && x.files.sets[f.set].inode == nil && len(x.files.sets[f.set].pending) > 0 {
				return fmt.Errorf("hardlink set %s: the payload ends before the member carrying its data", x.setPaths(x.files.sets[f.set]))
			}
			return fmt.Errorf("%s is in the header but missing from the payload", f.path)
		}
	}
	return nil
}
