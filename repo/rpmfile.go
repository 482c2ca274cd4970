package repo

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/smith-build/smith/dep"
)

// LoadRPMFile reads a local binary .rpm into a Package: NEVRA, every
// relation list, the complete file list, Repo "@commandline", Location =
// the absolute path and Checksum = the sha256 of the file.
//
// The whole file is read once: the header and payload digests the package
// carries (header SHA-256/SHA-1, payload digest or legacy MD5) are checked,
// so a corrupted or truncated file fails here with an error naming it. No
// signature is checked here. Source packages are refused.
//
// The header is parsed by our own bounded reader rather than a library:
// hostile counts in a header must not turn into huge allocations.
func LoadRPMFile(path string) (*Package, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pkg, err := readRPM(f, abs)
	if err != nil {
		return nil, err
	}
	return pkg, nil
}

// RPM header tags used here.
const (
	tagName        = 1000
	tagVersion     = 1001
	tagRelease     = 1002
	tagEpoch       = 1003
	tagArch        = 1022
	tagOldFiles    = 1027
	tagSourceRPM   = 1044
	tagProvideName = 1047
	tagReqFlags    = 1048
	tagReqName     = 1049
	tagReqVersion  = 1050
	tagConflFlags  = 1053
	tagConflName   = 1054
	tagConflVer    = 1055
	tagObsName     = 1090
	tagSourcePkg   = 1106
	tagProvFlags   = 1112
	tagProvVersion = 1113
	tagObsFlags    = 1114
	tagObsVersion  = 1115
	tagDirIndexes  = 1116
	tagBasenames   = 1117
	tagDirnames    = 1118
	tagOldSugName  = 1156
	tagOldSugVer   = 1157
	tagOldSugFlags = 1158
	tagOldEnhName  = 1159
	tagOldEnhVer   = 1160
	tagOldEnhFlags = 1161
	tagRecName     = 5046
	tagRecVersion  = 5047
	tagRecFlags    = 5048
	tagSugName     = 5049
	tagSugVersion  = 5050
	tagSugFlags    = 5051
	tagSupName     = 5052
	tagSupVersion  = 5053
	tagSupFlags    = 5054
	tagEnhName     = 5055
	tagEnhVersion  = 5056
	tagEnhFlags    = 5057
	tagPayloadDig  = 5092
	tagPayloadAlgo = 5093

	sigTagSHA1   = 269
	sigTagSHA256 = 273
	sigTagMD5    = 1004
)

// rpm sense flag bits.
const (
	senseLess      = 1 << 1
	senseGreater   = 1 << 2
	senseEqual     = 1 << 3
	sensePosttrans = 1 << 5
	sensePrereq    = 1 << 6
	sensePretrans  = 1 << 7
	senseScriptPre = 1 << 9
	senseScriptPos = 1 << 10
	senseStrong    = 1 << 27
	// senseInstallPre is what createrepo_c writes as pre="1": the legacy
	// PreReq and the requirements of install-time scriptlets.
	senseInstallPre = sensePrereq | senseScriptPre | senseScriptPos | sensePretrans | sensePosttrans
)

// Header bounds, as rpm's own: at most 64Ki tags and 256 MiB of data.
const (
	maxHeaderTags = 0xffff
	maxHeaderData = 256 << 20
)

const (
	rpmLeadMagic   = "\xed\xab\xee\xdb"
	rpmHeaderMagic = "\x8e\xad\xe8\x01\x00\x00\x00\x00"
)

type rpmHeader struct {
	raw     []byte // the whole header as on disk (intro, index, store)
	store   []byte
	entries map[uint32]rpmEntry
}

type rpmEntry struct {
	typ, off, count uint32
}

// RPM tag types.
const (
	rpmInt16       = 3
	rpmInt32       = 4
	rpmString      = 6
	rpmBin         = 7
	rpmStringArray = 8
	rpmI18NString  = 9
)

func readRPM(f io.Reader, name string) (*Package, error) {
	whole := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, whole), 64<<10)
	var lead [96]byte
	if _, err := io.ReadFull(br, lead[:]); err != nil {
		return nil, fmt.Errorf("%s: not an RPM file: %w", name, truncErr(err))
	}
	if string(lead[:4]) != rpmLeadMagic {
		return nil, fmt.Errorf("%s: not an RPM file (bad lead magic)", name)
	}
	if lead[4] < 3 || lead[4] > 4 {
		return nil, fmt.Errorf("%s: unsupported RPM format version %d", name, lead[4])
	}
	if st := binary.BigEndian.Uint16(lead[78:80]); st != 5 {
		return nil, fmt.Errorf("%s: unsupported signature type %d (not a header-style signature)", name, st)
	}
	sig, err := readRPMHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: signature header: %w", name, err)
	}
	if pad := (8 - len(sig.raw)%8) % 8; pad > 0 {
		if _, err := br.Discard(pad); err != nil {
			return nil, fmt.Errorf("%s: signature header: %w", name, truncErr(err))
		}
	}
	hdr, err := readRPMHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}

	// Header digests cover the header blob alone.
	if want, err := sig.str(sigTagSHA256); err == nil && want != "" {
		if err := checkDigest(name, "header sha256", sha256.New(), hdr.raw, want); err != nil {
			return nil, err
		}
	} else if want, err := sig.str(sigTagSHA1); err == nil && want != "" {
		h, _ := newHash("sha1")
		if err := checkDigest(name, "header sha1", h, hdr.raw, want); err != nil {
			return nil, err
		}
	}

	// Payload digests: stream the rest of the file through them.
	var payloadHash, md5Hash hash.Hash
	var payloadWant, md5Want string
	var payloadAlgo string
	if ds, err := hdr.strs(tagPayloadDig); err == nil && len(ds) > 0 {
		algo := uint32(8) // rpm's default, sha256
		if a, err := hdr.int32s(tagPayloadAlgo); err == nil && len(a) > 0 {
			algo = a[0]
		}
		if payloadAlgo = pgpHashName(algo); payloadAlgo != "" {
			payloadHash, _ = newHash(payloadAlgo)
			payloadWant = strings.ToLower(ds[0])
		}
	}
	if payloadHash == nil {
		if b, err := sig.bin(sigTagMD5); err == nil && len(b) == md5.Size {
			md5Hash = md5.New()
			md5Hash.Write(hdr.raw)
			md5Want = hex.EncodeToString(b)
		}
	}
	var sink io.Writer = io.Discard
	switch {
	case payloadHash != nil:
		sink = payloadHash
	case md5Hash != nil:
		sink = md5Hash
	}
	if _, err := io.Copy(sink, br); err != nil {
		return nil, fmt.Errorf("%s: reading payload: %w", name, err)
	}
	if payloadHash != nil {
		if got := hex.EncodeToString(payloadHash.Sum(nil)); got != payloadWant {
			return nil, &ChecksumError{File: name + " (payload)", Expected: Checksum{payloadAlgo, payloadWant}, Actual: Checksum{payloadAlgo, got}}
		}
	} else if md5Hash != nil {
		if got := hex.EncodeToString(md5Hash.Sum(nil)); got != md5Want {
			return nil, &ChecksumError{File: name + " (header+payload)", Expected: Checksum{"md5", md5Want}, Actual: Checksum{"md5", got}}
		}
	}

	pkg, err := packageFromHeader(hdr, lead[6:8])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pkg.Repo = CommandLineRepo
	pkg.Location = name
	pkg.Checksum = Checksum{Type: "sha256", Value: hex.EncodeToString(whole.Sum(nil))}
	if st, ok := f.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			pkg.Size = fi.Size()
		}
	}
	return pkg, nil
}

func truncErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("file is truncated")
	}
	return err
}

func checkDigest(name, what string, h hash.Hash, data []byte, want string) error {
	h.Write(data)
	got := hex.EncodeToString(h.Sum(nil))
	want = strings.ToLower(want)
	if got != want {
		typ := strings.Fields(what)[1]
		return &ChecksumError{File: name + " (" + what + ")", Expected: Checksum{typ, want}, Actual: Checksum{typ, got}}
	}
	return nil
}

// pgpHashName maps rpm's PGPHASHALGO numbers to our checksum names.
func pgpHashName(algo uint32) string {
	switch algo {
	case 2:
		return "sha1"
	case 8:
		return "sha256"
	case 9:
		return "sha384"
	case 10:
		return "sha512"
	case 11:
		return "sha224"
	}
	return ""
}

// readRPMHeader reads one header structure, bounded.
func readRPMHeader(r io.Reader) (*rpmHeader, error) {
	var intro [16]byte
	if _, err := io.ReadFull(r, intro[:]); err != nil {
		return nil, truncErr(err)
	}
	if string(intro[:8]) != rpmHeaderMagic {
		return nil, errors.New("bad header magic (not an RPM file, or corrupted)")
	}
	nindex := binary.BigEndian.Uint32(intro[8:12])
	hsize := binary.BigEndian.Uint32(intro[12:16])
	if nindex == 0 || nindex > maxHeaderTags {
		return nil, fmt.Errorf("implausible tag count %d", nindex)
	}
	if hsize > maxHeaderData {
		return nil, fmt.Errorf("implausible data size %d", hsize)
	}
	total := 16 + int64(nindex)*16 + int64(hsize)
	// ReadAll grows with the data actually present, so a lying size in a
	// short file costs no big allocation.
	raw, err := io.ReadAll(io.LimitReader(r, total-16))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != total-16 {
		return nil, errors.New("file is truncated")
	}
	raw = append(intro[:], raw...)
	h := &rpmHeader{raw: raw, store: raw[16+nindex*16:], entries: make(map[uint32]rpmEntry, nindex)}
	for i := uint32(0); i < nindex; i++ {
		e := raw[16+i*16 : 32+i*16]
		tag := binary.BigEndian.Uint32(e[0:4])
		ent := rpmEntry{typ: binary.BigEndian.Uint32(e[4:8]), off: binary.BigEndian.Uint32(e[8:12]), count: binary.BigEndian.Uint32(e[12:16])}
		if ent.off > hsize {
			return nil, fmt.Errorf("tag %d: data offset %d beyond the header's %d bytes", tag, ent.off, hsize)
		}
		if _, dup := h.entries[tag]; !dup {
			h.entries[tag] = ent
		}
	}
	return h, nil
}

var errNoTag = errors.New("tag not present")

// strs decodes a STRING, STRING_ARRAY or I18NSTRING tag.
func (h *rpmHeader) strs(tag uint32) ([]string, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, errNoTag
	}
	switch e.typ {
	case rpmString, rpmStringArray, rpmI18NString:
	default:
		return nil, fmt.Errorf("tag %d: type %d, want a string", tag, e.typ)
	}
	n := e.count
	if e.typ == rpmString {
		n = 1
	}
	data := h.store[e.off:]
	if uint64(n) > uint64(len(data)) { // every string takes at least one byte
		return nil, fmt.Errorf("tag %d: %d strings cannot fit in %d bytes", tag, n, len(data))
	}
	out := make([]string, 0, n)
	for i := uint32(0); i < n; i++ {
		z := bytes.IndexByte(data, 0)
		if z < 0 {
			return nil, fmt.Errorf("tag %d: unterminated string", tag)
		}
		out = append(out, string(data[:z]))
		data = data[z+1:]
	}
	return out, nil
}

func (h *rpmHeader) str(tag uint32) (string, error) {
	s, err := h.strs(tag)
	if err != nil {
		return "", err
	}
	if len(s) == 0 {
		return "", nil
	}
	return s[0], nil
}

// int32s decodes an INT32 tag (INT16 is widened, as some old packages use
// it for flags).
func (h *rpmHeader) int32s(tag uint32) ([]uint32, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, errNoTag
	}
	size := uint64(4)
	switch e.typ {
	case rpmInt32:
	case rpmInt16:
		size = 2
	default:
		return nil, fmt.Errorf("tag %d: type %d, want an integer", tag, e.typ)
	}
	if uint64(e.off)+uint64(e.count)*size > uint64(len(h.store)) {
		return nil, fmt.Errorf("tag %d: %d integers overrun the header", tag, e.count)
	}
	out := make([]uint32, e.count)
	for i := range out {
		o := uint64(e.off) + uint64(i)*size
		if size == 4 {
			out[i] = binary.BigEndian.Uint32(h.store[o:])
		} else {
			out[i] = uint32(binary.BigEndian.Uint16(h.store[o:]))
		}
	}
	return out, nil
}

func (h *rpmHeader) bin(tag uint32) ([]byte, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, errNoTag
	}
	if e.typ != rpmBin {
		return nil, fmt.Errorf("tag %d: type %d, want binary", tag, e.typ)
	}
	if uint64(e.off)+uint64(e.count) > uint64(len(h.store)) {
		return nil, fmt.Errorf("tag %d: %d bytes overrun the header", tag, e.count)
	}
	return h.store[e.off : e.off+e.count], nil
}

// optStrs and optInt32s treat an absent tag as empty.
func (h *rpmHeader) optStrs(tag uint32) ([]string, error) {
	v, err := h.strs(tag)
	if err == errNoTag {
		return nil, nil
	}
	return v, err
}

func (h *rpmHeader) optInt32s(tag uint32) ([]uint32, error) {
	v, err := h.int32s(tag)
	if err == errNoTag {
		return nil, nil
	}
	return v, err
}

func packageFromHeader(h *rpmHeader, leadType []byte) (*Package, error) {
	if binary.BigEndian.Uint16(leadType) == 1 {
		return nil, errors.New("is a source package; smith installs binary packages only")
	}
	if _, ok := h.entries[tagSourcePkg]; ok {
		return nil, errors.New("is a source package; smith installs binary packages only")
	}
	if _, ok := h.entries[tagSourceRPM]; !ok {
		return nil, errors.New("is a source package (no SOURCERPM tag); smith installs binary packages only")
	}
	p := &Package{}
	var err error
	if p.Name, err = h.str(tagName); err != nil || p.Name == "" {
		return nil, fmt.Errorf("no package name in the header (%v)", err)
	}
	if p.Version, err = h.str(tagVersion); err != nil || p.Version == "" {
		return nil, fmt.Errorf("no version in the header (%v)", err)
	}
	if p.Release, err = h.str(tagRelease); err != nil {
		return nil, fmt.Errorf("no release in the header (%v)", err)
	}
	if p.Arch, err = h.str(tagArch); err != nil || p.Arch == "" {
		return nil, fmt.Errorf("no architecture in the header (%v)", err)
	}
	// Like createrepo_c, an absent epoch is written as 0.
	p.Epoch = "0"
	if e, err := h.optInt32s(tagEpoch); err != nil {
		return nil, err
	} else if len(e) > 0 {
		p.Epoch = fmt.Sprint(e[0])
	}

	lists := []struct {
		dst                 *[]dep.Relation
		name, flags, vers   uint32
		dropRPMLib, oldWeak bool
	}{
		{&p.Provides, tagProvideName, tagProvFlags, tagProvVersion, false, false},
		{&p.Requires, tagReqName, tagReqFlags, tagReqVersion, true, false},
		{&p.Conflicts, tagConflName, tagConflFlags, tagConflVer, false, false},
		{&p.Obsoletes, tagObsName, tagObsFlags, tagObsVersion, false, false},
		{&p.Recommends, tagRecName, tagRecFlags, tagRecVersion, false, false},
		{&p.Suggests, tagSugName, tagSugFlags, tagSugVersion, false, false},
		{&p.Supplements, tagSupName, tagSupFlags, tagSupVersion, false, false},
		{&p.Enhances, tagEnhName, tagEnhFlags, tagEnhVersion, false, false},
	}
	for _, l := range lists {
		rels, _, err := h.relations(l.name, l.flags, l.vers, l.dropRPMLib)
		if err != nil {
			return nil, err
		}
		*l.dst = rels
	}
	// Weak dependencies of rpm < 4.12 (SUSE): one tag pair each for
	// suggests and enhances, the strong flag making them recommends and
	// supplements.
	if err := h.oldWeak(tagOldSugName, tagOldSugFlags, tagOldSugVer, &p.Recommends, &p.Suggests); err != nil {
		return nil, err
	}
	if err := h.oldWeak(tagOldEnhName, tagOldEnhFlags, tagOldEnhVer, &p.Supplements, &p.Enhances); err != nil {
		return nil, err
	}

	if p.Files, err = h.files(); err != nil {
		return nil, err
	}
	return p, nil
}

// relations decodes a name/flags/version tag triple. Requirements on
// rpmlib(...) features are dropped, as createrepo_c does: rpm itself
// provides them and no package does.
func (h *rpmHeader) relations(nameTag, flagsTag, verTag uint32, dropRPMLib bool) ([]dep.Relation, []uint32, error) {
	names, err := h.optStrs(nameTag)
	if err != nil || len(names) == 0 {
		return nil, nil, err
	}
	flags, err := h.optInt32s(flagsTag)
	if err != nil {
		return nil, nil, err
	}
	vers, err := h.optStrs(verTag)
	if err != nil {
		return nil, nil, err
	}
	if (flags != nil && len(flags) != len(names)) || (vers != nil && len(vers) != len(names)) {
		return nil, nil, fmt.Errorf("tag %d: %d names but %d flags and %d versions", nameTag, len(names), len(flags), len(vers))
	}
	out := make([]dep.Relation, 0, len(names))
	var outFlags []uint32
	for i, n := range names {
		if n == "" || (dropRPMLib && strings.HasPrefix(n, "rpmlib(")) {
			continue
		}
		var fl uint32
		if flags != nil {
			fl = flags[i]
		}
		r := dep.Relation{Name: n, Pre: fl&senseInstallPre != 0}
		if vers != nil && vers[i] != "" {
			r.EVR = splitEVR(vers[i])
			if fl&senseLess != 0 {
				r.Flags |= dep.LT
			}
			if fl&senseGreater != 0 {
				r.Flags |= dep.GT
			}
			if fl&senseEqual != 0 {
				r.Flags |= dep.EQ
			}
		}
		out = append(out, r)
		outFlags = append(outFlags, fl)
	}
	return out, outFlags, nil
}

func (h *rpmHeader) oldWeak(nameTag, flagsTag, verTag uint32, strong, weak *[]dep.Relation) error {
	rels, flags, err := h.relations(nameTag, flagsTag, verTag, false)
	if err != nil {
		return err
	}
	for i, r := range rels {
		r.Pre = false
		if flags[i]&senseStrong != 0 {
			*strong = append(*strong, r)
		} else {
			*weak = append(*weak, r)
		}
	}
	return nil
}

// splitEVR splits "[epoch:]version[-release]" as createrepo_c does,
// writing epoch 0 when none is given.
func splitEVR(s string) dep.EVR {
	var e dep.EVR
	if i := strings.IndexByte(s, ':'); i >= 0 && isDigits(s[:i]) {
		e.Epoch, s = s[:i], s[i+1:]
	} else {
		e.Epoch = "0"
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		e.Version, e.Release = s[:i], s[i+1:]
	} else {
		e.Version = s
	}
	return e
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// files joins DIRNAMES[DIRINDEXES[i]] + BASENAMES[i] (or reads the
// OLDFILENAMES of rpm v3 packages).
func (h *rpmHeader) files() ([]string, error) {
	bases, err := h.optStrs(tagBasenames)
	if err != nil {
		return nil, err
	}
	if len(bases) == 0 {
		return h.optStrs(tagOldFiles)
	}
	dirs, err := h.optStrs(tagDirnames)
	if err != nil {
		return nil, err
	}
	idx, err := h.optInt32s(tagDirIndexes)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(bases) {
		return nil, fmt.Errorf("%d file names but %d directory indexes", len(bases), len(idx))
	}
	out := make([]string, len(bases))
	for i, b := range bases {
		if int(idx[i]) >= len(dirs) {
			return nil, fmt.Errorf("file %q: directory index %d out of range", b, idx[i])
		}
		out[i] = dirs[idx[i]] + b
	}
	return out, nil
}
