// Package rpmfixture writes real .rpm files and RPM repositories for tests,
// in memory and deterministically (same Spec, same bytes).
//
// Build writes what rpmbuild writes for a v4 package: the lead, a signature
// header (SIZE, MD5, SHA256, PAYLOADSIZE) with its region, the main header
// with its immutable region (name, EVR, dependencies, the compressed file
// list with modes, owners, digests, link targets, flags, capabilities and
// inodes), and a cpio payload (newc, or rpm's stripped form with
// LONGFILESIZES) compressed with gzip, xz, zstd, lzma, bzip2 or nothing.
// Hardlink sets carry their data on the last member only, as rpm does.
//
// It can also write payloads rpm never would: Spec.Entries replaces the
// generated cpio members (see PayloadEntries to start from the real ones),
// for hostile-input tests.
//
// WriteRepo lays out Packages/*.rpm plus repodata (repomd.xml,
// primary.xml.gz, filelists.xml.gz) the way createrepo_c does.
package rpmfixture

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// File type bits for File.Mode.
const (
	ModeDir     = 0o040000
	ModeReg     = 0o100000
	ModeSymlink = 0o120000
	ModeChar    = 0o020000
	ModeBlock   = 0o060000
	ModeFifo    = 0o010000
	ModeSocket  = 0o140000
	modeType    = 0o170000
)

// RPM file flags (FILEFLAGS).
const (
	FlagConfig    = 1 << 0
	FlagDoc       = 1 << 1
	FlagNoReplace = 1 << 4
	FlagGhost     = 1 << 6
	FlagLicense   = 1 << 7
)

// File is one entry of the package's file list.
type File struct {
	Path string // absolute, e.g. "/usr/bin/cat"
	// Mode holds permission bits (with 04000/02000/01000) and optionally the
	// type bits; without type bits the file is a symlink when LinkTarget is
	// set and a regular file otherwise. 0 means 0644 (0755 for directories).
	Mode       uint32
	Data       []byte
	LinkTarget string
	Owner      string // user name, default "root"
	Group      string // group name, default "root"
	Caps       string // FILECAPS text, e.g. "cap_net_bind_service=ep"
	Ghost      bool   // %ghost: listed, not in the payload
	Flags      uint32 // more FILEFLAGS bits (FlagConfig, FlagDoc, ...)
	// Hardlink names a hardlink group: files with the same non-empty name
	// share one inode, and only the last of them (in path order) carries the
	// data in the payload. Their Data must be equal.
	Hardlink string
	// Digest overrides the header digest (hex) of a regular file.
	Digest string
	// Size, when positive, overrides the size the header records.
	Size int64
}

// Spec describes a package.
type Spec struct {
	Name, Version, Release string
	Epoch                  string // "" for none
	Arch                   string // default "x86_64"
	Summary, License       string
	// Dependencies: "name", "name >= 1.0", "name = 1:2-3", or a rich
	// dependency "(a or b)". RequiresPre are Requires(pre).
	Requires, RequiresPre, Provides, Conflicts, Obsoletes []string
	Recommends, Suggests, Supplements, Enhances           []string
	Files                                                 []File
	// Compressor is "gzip" (default), "xz", "zstd", "lzma", "bzip2" or "none".
	Compressor string
	// CompressorTag, when set, is written as PAYLOADCOMPRESSOR instead of
	// Compressor's name ("-" writes no tag, as uncompressed rpms do).
	CompressorTag string
	// Stripped writes rpm's stripped cpio ("07070X", sizes from
	// LONGFILESIZES), the large-file and v6 payload form.
	Stripped bool
	// DigestAlgo is the FILEDIGESTALGO: 8 (SHA-256, default) or 1 (MD5).
	DigestAlgo int
	// SourceRPM defaults to name-version-release.src.rpm.
	SourceRPM string
	BuildTime uint32 // default 1700000000
	// Entries, when non-nil, is written as the payload instead of the
	// members generated from Files (the trailer is added unless NoTrailer).
	Entries   []Entry
	NoTrailer bool
}

// FileName returns the conventional file name of the package.
func (s Spec) FileName() string {
	return fmt.Sprintf("%s-%s-%s.%s.rpm", s.Name, s.Version, s.Release, s.arch())
}

// NEVRA returns name-[epoch:]version-release.arch.
func (s Spec) NEVRA() string {
	e := ""
	if s.Epoch != "" {
		e = s.Epoch + ":"
	}
	return fmt.Sprintf("%s-%s%s-%s.%s", s.Name, e, s.Version, s.Release, s.arch())
}

func (s Spec) arch() string {
	if s.Arch == "" {
		return "x86_64"
	}
	return s.Arch
}

// file is a File with everything derived.
type file struct {
	File
	mode   uint32
	size   int64
	digest string
	ino    uint32
	index  int
	last   bool // carries the data of its hardlink group
	nlink  uint32
}

// files normalizes and sorts the file list, assigns inodes (shared within a
// hardlink group) and marks the member of each group that carries data.
func (s Spec) files() ([]*file, error) {
	out := make([]*file, len(s.Files))
	for i, f := range s.Files {
		g := &file{File: f}
		if g.Owner == "" {
			g.Owner = "root"
		}
		if g.Group == "" {
			g.Group = "root"
		}
		g.mode = f.Mode
		if g.mode&modeType == 0 {
			if f.LinkTarget != "" {
				g.mode |= ModeSymlink
			} else {
				g.mode |= ModeReg
			}
		}
		if g.mode&0o7777 == 0 {
			switch g.mode & modeType {
			case ModeDir:
				g.mode |= 0o755
			case ModeSymlink:
				g.mode |= 0o777
			default:
				g.mode |= 0o644
			}
		}
		switch g.mode & modeType {
		case ModeReg:
			g.size = int64(len(f.Data))
			if !f.Ghost {
				sum := sha256.Sum256(f.Data)
				g.digest = hex.EncodeToString(sum[:])
				if s.DigestAlgo == 1 {
					m := md5.Sum(f.Data)
					g.digest = hex.EncodeToString(m[:])
				}
			}
			if f.Digest != "" {
				g.digest = f.Digest
			}
			if f.Size > 0 {
				g.size = f.Size
			}
		case ModeSymlink:
			g.size = int64(len(f.LinkTarget))
		}
		out[i] = g
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	groups := map[string][]*file{}
	for i, f := range out {
		f.index = i
		f.ino = uint32(i + 1)
		f.nlink = 1
		if f.mode&modeType == ModeDir {
			f.nlink = 2
		}
		if f.Hardlink != "" {
			if f.mode&modeType != ModeReg {
				return nil, fmt.Errorf("rpmfixture: %s: only regular files can be hardlinked", f.Path)
			}
			groups[f.Hardlink] = append(groups[f.Hardlink], f)
		}
	}
	for _, g := range groups {
		for _, f := range g {
			f.ino = g[0].ino
			f.nlink = uint32(len(g))
			if !bytes.Equal(f.Data, g[0].Data) {
				return nil, fmt.Errorf("rpmfixture: hardlink group %q: %s and %s differ", f.Hardlink, f.Path, g[0].Path)
			}
		}
		g[len(g)-1].last = true
	}
	for _, f := range out {
		if f.Hardlink == "" {
			f.last = true
		}
	}
	return out, nil
}

// PayloadEntries returns the cpio members Build writes for s (without the
// trailer), for tests that alter a real payload.
func PayloadEntries(s Spec) ([]Entry, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	return payloadEntries(s, files), nil
}

func payloadEntries(s Spec, files []*file) []Entry {
	var out []Entry
	emit := func(f *file, withData bool) {
		// Binary packages name members "./usr/...", source packages by
		// their bare file name.
		e := Entry{Name: f.Path, Mode: f.mode, Ino: f.ino, Nlink: f.nlink, Size: -1, Index: f.index}
		if strings.HasPrefix(f.Path, "/") {
			e.Name = "." + f.Path
		}
		switch f.mode & modeType {
		case ModeReg:
			if withData {
				e.Data = f.Data
			}
		case ModeSymlink:
			e.Data = []byte(f.LinkTarget)
		}
		if s.Stripped {
			e.Magic = "07070X"
		}
		out = append(out, e)
	}
	for _, f := range files {
		if f.Ghost {
			continue
		}
		if f.Hardlink == "" {
			emit(f, true)
			continue
		}
		if !f.last {
			continue
		}
		// rpm writes a hardlink set when it reaches its last member: the
		// others first, empty, then the last with the data.
		for _, g := range files {
			if g.Hardlink == f.Hardlink && g != f && !g.Ghost {
				emit(g, false)
			}
		}
		emit(f, true)
	}
	return out
}

// Build returns the bytes of the package described by s.
func Build(s Spec) ([]byte, error) {
	b, err := build(s)
	if err != nil {
		return nil, err
	}
	return b.rpm, nil
}

// built is a package and what repodata needs to know about it.
type built struct {
	rpm              []byte
	hdrStart, hdrEnd int
	archiveSize      int
	files            []*file
	rel              relations
}

func build(s Spec) (*built, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	entries := s.Entries
	if entries == nil {
		entries = payloadEntries(s, files)
	}
	archive := WriteCpio(entries, s.NoTrailer)
	comp := s.Compressor
	if comp == "" {
		comp = "gzip"
	}
	payload, err := Compress(comp, archive)
	if err != nil {
		return nil, err
	}
	rel, err := s.relations(comp, files)
	if err != nil {
		return nil, err
	}
	hdr, err := s.header(files, rel, comp, payload)
	if err != nil {
		return nil, err
	}
	sig := newHeader(62)
	sig.int32(1000, uint32(len(hdr)+len(payload)))
	all := md5.New()
	all.Write(hdr)
	all.Write(payload)
	sig.bin(1004, all.Sum(nil))
	sig.int32(1007, uint32(len(archive)))
	h1 := sha1.Sum(hdr)
	sig.str(269, hex.EncodeToString(h1[:]))
	h256 := sha256.Sum256(hdr)
	sig.str(273, hex.EncodeToString(h256[:]))

	var out bytes.Buffer
	out.Write(s.lead())
	out.Write(sig.bytes())
	for out.Len()%8 != 0 {
		out.WriteByte(0)
	}
	start := out.Len()
	out.Write(hdr)
	end := out.Len()
	out.Write(payload)
	return &built{rpm: out.Bytes(), hdrStart: start, hdrEnd: end, archiveSize: len(archive), files: files, rel: rel}, nil
}

func (s Spec) lead() []byte {
	b := make([]byte, 96)
	copy(b, []byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	binary.BigEndian.PutUint16(b[8:], 1) // archnum: the lead is informational only
	name := fmt.Sprintf("%s-%s-%s", s.Name, s.Version, s.Release)
	if len(name) > 65 {
		name = name[:65]
	}
	copy(b[10:76], name)
	binary.BigEndian.PutUint16(b[76:], 1) // osnum linux
	binary.BigEndian.PutUint16(b[78:], 5) // header-style signature
	return b
}

// Main header tags written here.
const (
	tagI18NTable        = 100
	tagName             = 1000
	tagVersion          = 1001
	tagRelease          = 1002
	tagEpoch            = 1003
	tagSummary          = 1004
	tagDescription      = 1005
	tagBuildTime        = 1006
	tagBuildHost        = 1007
	tagSize             = 1009
	tagLicense          = 1014
	tagGroup            = 1016
	tagOS               = 1021
	tagArch             = 1022
	tagFileSizes        = 1028
	tagFileModes        = 1030
	tagFileRdevs        = 1033
	tagFileMtimes       = 1034
	tagFileDigests      = 1035
	tagFileLinkTos      = 1036
	tagFileFlags        = 1037
	tagFileUsername     = 1039
	tagFileGroupname    = 1040
	tagSourceRPM        = 1044
	tagFileVerifyFlags  = 1045
	tagProvideName      = 1047
	tagRequireFlags     = 1048
	tagRequireName      = 1049
	tagRequireVersion   = 1050
	tagConflictFlags    = 1053
	tagConflictName     = 1054
	tagConflictVersion  = 1055
	tagRPMVersion       = 1064
	tagObsoleteName     = 1090
	tagFileDevices      = 1095
	tagFileInodes       = 1096
	tagFileLangs        = 1097
	tagProvideFlags     = 1112
	tagProvideVersion   = 1113
	tagObsoleteFlags    = 1114
	tagObsoleteVersion  = 1115
	tagDirIndexes       = 1116
	tagBasenames        = 1117
	tagDirnames         = 1118
	tagPayloadFormat    = 1124
	tagPayloadComp      = 1125
	tagPayloadFlags     = 1126
	tagLongFileSizes    = 5008
	tagLongSize         = 5009
	tagFileCaps         = 5010
	tagFileDigestAlgo   = 5011
	tagRecommendName    = 5046
	tagSuggestName      = 5049
	tagSupplementName   = 5052
	tagEnhanceName      = 5055
	tagPayloadDigest    = 5092
	tagPayloadDigestAlg = 5093
)

// Dependency sense flags.
const (
	senseLess      = 1 << 1
	senseGreater   = 1 << 2
	senseEqual     = 1 << 3
	senseScriptPre = 1 << 9
	senseRPMLib    = 1 << 24
)

// dep is a parsed dependency.
type dep struct {
	name, version string
	flags         uint32
}

// parseDep reads "name", "name OP version" or a rich "(...)" dependency.
func parseDep(s string) (dep, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "(") {
		return dep{name: s}, nil
	}
	f := strings.Fields(s)
	switch len(f) {
	case 1:
		return dep{name: f[0]}, nil
	case 3:
		var fl uint32
		switch f[1] {
		case "<":
			fl = senseLess
		case "<=":
			fl = senseLess | senseEqual
		case "=", "==":
			fl = senseEqual
		case ">=":
			fl = senseGreater | senseEqual
		case ">":
			fl = senseGreater
		default:
			return dep{}, fmt.Errorf("rpmfixture: dependency %q: unknown operator %q", s, f[1])
		}
		return dep{name: f[0], flags: fl, version: f[2]}, nil
	}
	return dep{}, fmt.Errorf("rpmfixture: cannot parse dependency %q", s)
}

func (s Spec) evr() string {
	e := ""
	if s.Epoch != "" {
		e = s.Epoch + ":"
	}
	return e + s.Version + "-" + s.Release
}

// deps returns the parsed relations of one kind, with extra ones first.
func deps(list []string, flags uint32, extra ...dep) ([]dep, error) {
	out := append([]dep(nil), extra...)
	for _, d := range list {
		p, err := parseDep(d)
		if err != nil {
			return nil, err
		}
		p.flags |= flags
		out = append(out, p)
	}
	return out, nil
}

func putDeps(h *headerBuilder, nameTag, flagTag, verTag uint32, ds []dep) {
	if len(ds) == 0 {
		return
	}
	names := make([]string, len(ds))
	vers := make([]string, len(ds))
	flags := make([]uint32, len(ds))
	for i, d := range ds {
		names[i], vers[i], flags[i] = d.name, d.version, d.flags
	}
	h.strs(nameTag, names)
	h.int32s(flagTag, flags)
	h.strs(verTag, vers)
}

// relations collects every dependency kind of s, as the header holds them.
type relations struct {
	provides, requires, conflicts, obsoletes    []dep
	recommends, suggests, supplements, enhances []dep
}

func (s Spec) relations(comp string, files []*file) (relations, error) {
	var r relations
	var err error
	self := []dep{{name: s.Name, flags: senseEqual, version: s.evr()}}
	if a := s.arch(); a != "noarch" && a != "src" {
		self = append(self, dep{name: s.Name + "(" + strings.ReplaceAll(a, "_", "-") + ")", flags: senseEqual, version: s.evr()})
	}
	if r.provides, err = deps(s.Provides, 0, self...); err != nil {
		return r, err
	}
	rpmlib := []dep{
		{name: "rpmlib(CompressedFileNames)", flags: senseRPMLib | senseLess | senseEqual, version: "3.0.4-1"},
		{name: "rpmlib(PayloadFilesHavePrefix)", flags: senseRPMLib | senseLess | senseEqual, version: "4.0-1"},
	}
	switch comp {
	case "xz":
		rpmlib = append(rpmlib, dep{name: "rpmlib(PayloadIsXz)", flags: senseRPMLib | senseLess | senseEqual, version: "5.2-1"})
	case "zstd":
		rpmlib = append(rpmlib, dep{name: "rpmlib(PayloadIsZstd)", flags: senseRPMLib | senseLess | senseEqual, version: "5.4.18-1"})
	case "lzma":
		rpmlib = append(rpmlib, dep{name: "rpmlib(PayloadIsLzma)", flags: senseRPMLib | senseLess | senseEqual, version: "4.4.6-1"})
	case "bzip2":
		rpmlib = append(rpmlib, dep{name: "rpmlib(PayloadIsBzip2)", flags: senseRPMLib | senseLess | senseEqual, version: "3.0.5-1"})
	}
	for _, f := range files {
		if f.Caps != "" {
			rpmlib = append(rpmlib, dep{name: "rpmlib(FileCaps)", flags: senseRPMLib | senseLess | senseEqual, version: "4.6.1-1"})
			break
		}
	}
	if s.Stripped {
		rpmlib = append(rpmlib, dep{name: "rpmlib(LargeFiles)", flags: senseRPMLib | senseLess | senseEqual, version: "4.12.0-1"})
	}
	pre, err := deps(s.RequiresPre, senseScriptPre)
	if err != nil {
		return r, err
	}
	if r.requires, err = deps(s.Requires, 0, append(pre, rpmlib...)...); err != nil {
		return r, err
	}
	for _, x := range []struct {
		dst  *[]dep
		list []string
	}{
		{&r.conflicts, s.Conflicts}, {&r.obsoletes, s.Obsoletes}, {&r.recommends, s.Recommends},
		{&r.suggests, s.Suggests}, {&r.supplements, s.Supplements}, {&r.enhances, s.Enhances},
	} {
		if *x.dst, err = deps(x.list, 0); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (s Spec) header(files []*file, rel relations, comp string, payload []byte) ([]byte, error) {
	if s.Name == "" || s.Version == "" || s.Release == "" {
		return nil, fmt.Errorf("rpmfixture: name, version and release are required")
	}
	h := newHeader(63)
	h.strs(tagI18NTable, []string{"C"})
	h.str(tagName, s.Name)
	h.str(tagVersion, s.Version)
	h.str(tagRelease, s.Release)
	if s.Epoch != "" {
		e, err := strconv.ParseUint(s.Epoch, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("rpmfixture: epoch %q: %w", s.Epoch, err)
		}
		h.int32(tagEpoch, uint32(e))
	}
	summary := s.Summary
	if summary == "" {
		summary = s.Name + " test package"
	}
	h.i18n(tagSummary, summary)
	h.i18n(tagDescription, summary+".")
	bt := s.BuildTime
	if bt == 0 {
		bt = 1700000000
	}
	h.int32(tagBuildTime, bt)
	h.str(tagBuildHost, "rpmfixture.invalid")
	license := s.License
	if license == "" {
		license = "MIT"
	}
	h.str(tagLicense, license)
	h.i18n(tagGroup, "Unspecified")
	h.str(tagOS, "linux")
	h.str(tagArch, s.arch())
	srpm := s.SourceRPM
	if srpm == "" {
		srpm = fmt.Sprintf("%s-%s-%s.src.rpm", s.Name, s.Version, s.Release)
	}
	h.str(tagSourceRPM, srpm)
	h.str(tagRPMVersion, "4.18.0")
	h.str(tagPayloadFormat, "cpio")
	switch tag := s.CompressorTag; tag {
	case "":
		if comp != "none" {
			h.str(tagPayloadComp, comp)
		}
	case "-":
	default:
		h.str(tagPayloadComp, tag)
	}
	h.str(tagPayloadFlags, "9")
	pd := sha256.Sum256(payload)
	h.strs(tagPayloadDigest, []string{hex.EncodeToString(pd[:])})
	h.int32(tagPayloadDigestAlg, 8)

	putDeps(h, tagProvideName, tagProvideFlags, tagProvideVersion, rel.provides)
	putDeps(h, tagRequireName, tagRequireFlags, tagRequireVersion, rel.requires)
	putDeps(h, tagConflictName, tagConflictFlags, tagConflictVersion, rel.conflicts)
	putDeps(h, tagObsoleteName, tagObsoleteFlags, tagObsoleteVersion, rel.obsoletes)
	putDeps(h, tagRecommendName, tagRecommendName+2, tagRecommendName+1, rel.recommends)
	putDeps(h, tagSuggestName, tagSuggestName+2, tagSuggestName+1, rel.suggests)
	putDeps(h, tagSupplementName, tagSupplementName+2, tagSupplementName+1, rel.supplements)
	putDeps(h, tagEnhanceName, tagEnhanceName+2, tagEnhanceName+1, rel.enhances)

	var total uint64
	for _, f := range files {
		if f.mode&modeType == ModeReg {
			total += uint64(f.size)
		}
	}
	if s.Stripped {
		h.int64s(tagLongSize, []uint64{total})
	} else {
		h.int32(tagSize, uint32(total))
	}
	if len(files) == 0 {
		return h.bytes(), nil
	}
	n := len(files)
	var (
		dirs     []string
		dirIdx   = map[string]uint32{}
		bases    = make([]string, n)
		dirIndex = make([]uint32, n)
		sizes    = make([]uint32, n)
		lsizes   = make([]uint64, n)
		modes    = make([]uint16, n)
		rdevs    = make([]uint16, n)
		mtimes   = make([]uint32, n)
		digests  = make([]string, n)
		links    = make([]string, n)
		flags    = make([]uint32, n)
		users    = make([]string, n)
		groups   = make([]string, n)
		verify   = make([]uint32, n)
		devices  = make([]uint32, n)
		inodes   = make([]uint32, n)
		langs    = make([]string, n)
		caps     = make([]string, n)
		anyCaps  bool
	)
	for i, f := range files {
		slash := strings.LastIndex(f.Path, "/")
		dir, base := f.Path[:slash+1], f.Path[slash+1:]
		if f.Path == "/" {
			dir, base = "", "/"
		}
		k, ok := dirIdx[dir]
		if !ok {
			k = uint32(len(dirs))
			dirIdx[dir] = k
			dirs = append(dirs, dir)
		}
		bases[i], dirIndex[i] = base, k
		sizes[i], lsizes[i] = uint32(f.size), uint64(f.size)
		modes[i] = uint16(f.mode)
		mtimes[i] = bt
		digests[i] = f.digest
		links[i] = f.LinkTarget
		flags[i] = f.Flags
		if f.Ghost {
			flags[i] |= FlagGhost
		}
		users[i], groups[i] = f.Owner, f.Group
		verify[i] = 0xffffffff
		devices[i], inodes[i] = 1, f.ino
		caps[i] = f.Caps
		anyCaps = anyCaps || f.Caps != ""
	}
	h.strs(tagBasenames, bases)
	h.strs(tagDirnames, dirs)
	h.int32s(tagDirIndexes, dirIndex)
	if s.Stripped {
		h.int64s(tagLongFileSizes, lsizes)
	} else {
		h.int32s(tagFileSizes, sizes)
	}
	h.int16s(tagFileModes, modes)
	h.int16s(tagFileRdevs, rdevs)
	h.int32s(tagFileMtimes, mtimes)
	h.strs(tagFileDigests, digests)
	h.strs(tagFileLinkTos, links)
	h.int32s(tagFileFlags, flags)
	h.strs(tagFileUsername, users)
	h.strs(tagFileGroupname, groups)
	h.int32s(tagFileVerifyFlags, verify)
	h.int32s(tagFileDevices, devices)
	h.int32s(tagFileInodes, inodes)
	h.strs(tagFileLangs, langs)
	if anyCaps {
		h.strs(tagFileCaps, caps)
	}
	algo := uint32(8)
	if s.DigestAlgo != 0 {
		algo = uint32(s.DigestAlgo)
	}
	h.int32(tagFileDigestAlgo, algo)
	return h.bytes(), nil
}

// paths of the regular files, dirs and ghosts, for repodata.
func (f *file) kind() string {
	switch {
	case f.Ghost:
		return "ghost"
	case f.mode&modeType == ModeDir:
		return "dir"
	}
	return ""
}
