package extract

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// RPM header tags this package reads. Numbers are from rpm's rpmtag.h.
const (
	tagHeaderImmutable   = 63
	tagName              = 1000
	tagVersion           = 1001
	tagRelease           = 1002
	tagEpoch             = 1003
	tagArch              = 1022
	tagOldFilenames      = 1027
	tagFileSizes         = 1028
	tagFileModes         = 1030
	tagFileRdevs         = 1033
	tagFileDigests       = 1035
	tagFileLinkTos       = 1036
	tagFileFlags         = 1037
	tagFileUsername      = 1039
	tagFileGroupname     = 1040
	tagSourceRPM         = 1044
	tagRequireName       = 1049
	tagFileDevices       = 1095
	tagFileInodes        = 1096
	tagDirIndexes        = 1116
	tagBasenames         = 1117
	tagDirnames          = 1118
	tagPayloadFormat     = 1124
	tagPayloadCompressor = 1125
	tagLongFileSizes     = 5008
	tagFileCaps          = 5010
	tagFileDigestAlgo    = 5011
	tagRPMFormat         = 5114
)

// Header data types (rpmTagType).
const (
	typeNull        = 0
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// Limits on a header's declared sizes, checked before anything is
// allocated. rpm itself refuses more than 65535 tags (hdrchkTags) and a data
// store over 256 MiB (HEADER_DATA_MAX); real headers are far smaller (a
// large glibc-langpack header is a few MiB).
const (
	maxIndexEntries = 0xffff
	maxStoreSize    = 256 << 20
	// readChunk bounds the memory committed to a store before its bytes
	// arrive, so a header that claims 256 MiB and stops after 100 bytes
	// costs one chunk, not 256 MiB.
	readChunk = 1 << 20
)

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01}
)

// lead is the part of the 96-byte lead still worth reading: the version tells
// v3 from v4/v6 packages, and the signature type must be "header-style"
// (5), the only kind rpm has written since 1998.
type lead struct {
	major, minor int
	sigType      int
}

func readLead(r io.Reader) (lead, error) {
	var b [96]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return lead{}, fmt.Errorf("reading lead: %w", noEOF(err))
	}
	if !bytes.Equal(b[:4], leadMagic) {
		return lead{}, fmt.Errorf("%w (bad lead magic %x)", ErrNotRPM, b[:4])
	}
	l := lead{major: int(b[4]), minor: int(b[5]), sigType: int(binary.BigEndian.Uint16(b[78:80]))}
	if l.major < 3 || l.major > 4 {
		return l, fmt.Errorf("%w: lead version %d.%d", ErrUnsupported, l.major, l.minor)
	}
	if l.sigType != 5 {
		return l, fmt.Errorf("%w: signature type %d (only header-style signatures, type 5, exist since rpm 3)", ErrUnsupported, l.sigType)
	}
	return l, nil
}

// entry is one index entry of a header.
type entry struct {
	tag, typ      uint32
	offset, count uint32
}

// header is a parsed RPM header structure (the signature and the main header
// share the format). Values are decoded on demand and every access is bounds
// checked against the store, so a lying index entry yields an error, never a
// panic or a huge allocation.
type header struct {
	what    string // "signature" or "header", for errors
	entries map[uint32]entry
	store   []byte
	// intro and index are the raw bytes before the store, kept so that
	// the header can be written out again (Expanded).
	intro [16]byte
	index []byte
}

// raw returns the header structure as it was read: magic, counts, index
// and store, without padding.
func (h *header) raw() []byte {
	b := make([]byte, 0, len(h.intro)+len(h.index)+len(h.store))
	b = append(b, h.intro[:]...)
	b = append(b, h.index...)
	return append(b, h.store...)
}

// readHeader reads one header structure. pad makes it consume the zero
// padding that aligns the signature to 8 bytes.
func readHeader(r *bufio.Reader, what string, pad bool) (*header, error) {
	var intro [16]byte
	if _, err := io.ReadFull(r, intro[:]); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, noEOF(err))
	}
	if !bytes.Equal(intro[:4], headerMagic) {
		return nil, fmt.Errorf("%s: bad magic %x", what, intro[:4])
	}
	nindex := binary.BigEndian.Uint32(intro[8:12])
	dsize := binary.BigEndian.Uint32(intro[12:16])
	if nindex == 0 || nindex > maxIndexEntries {
		return nil, fmt.Errorf("%s: %d index entries (must be 1..%d)", what, nindex, maxIndexEntries)
	}
	if dsize > maxStoreSize {
		return nil, fmt.Errorf("%s: data store of %d bytes exceeds the limit of %d", what, dsize, maxStoreSize)
	}
	// At most 1 MiB (65535 entries x 16 bytes), bounded above.
	idx := make([]byte, int(nindex)*16)
	if _, err := io.ReadFull(r, idx); err != nil {
		return nil, fmt.Errorf("reading %s index: %w", what, noEOF(err))
	}
	h := &header{what: what, entries: make(map[uint32]entry, nindex), intro: intro, index: idx}
	for i := 0; i < len(idx); i += 16 {
		e := entry{
			tag:    binary.BigEndian.Uint32(idx[i:]),
			typ:    binary.BigEndian.Uint32(idx[i+4:]),
			offset: binary.BigEndian.Uint32(idx[i+8:]),
			count:  binary.BigEndian.Uint32(idx[i+12:]),
		}
		if e.offset > dsize {
			return nil, fmt.Errorf("%s: tag %d: offset %d beyond the %d-byte store", what, e.tag, e.offset, dsize)
		}
		if _, dup := h.entries[e.tag]; !dup {
			h.entries[e.tag] = e
		}
	}
	store, err := readStore(r, int(dsize))
	if err != nil {
		return nil, fmt.Errorf("reading %s store: %w", what, noEOF(err))
	}
	h.store = store
	if pad {
		if n := (8 - dsize%8) % 8; n > 0 {
			if _, err := r.Discard(int(n)); err != nil {
				return nil, fmt.Errorf("reading %s padding: %w", what, noEOF(err))
			}
		}
	}
	return h, nil
}

// readStore reads n bytes, growing the buffer as data actually arrives.
func readStore(r io.Reader, n int) ([]byte, error) {
	if n <= readChunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, readChunk)
	for len(b) < n {
		want := min(n-len(b), max(cap(b)-len(b), readChunk))
		if cap(b)-len(b) < want {
			b = append(b, make([]byte, want)...)[:len(b)]
		}
		m, err := io.ReadFull(r, b[len(b):len(b)+want])
		b = b[:len(b)+m]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (h *header) has(tag uint32) bool {
	_, ok := h.entries[tag]
	return ok
}

func (h *header) errorf(tag uint32, format string, args ...any) error {
	return fmt.Errorf("%s tag %d: %s", h.what, tag, fmt.Sprintf(format, args...))
}

// count returns the declared number of values of tag, 0 when absent.
func (h *header) count(tag uint32) int {
	return int(h.entries[tag].count)
}

// strings decodes a string, string array or i18n string tag holding at most
// limit values. Both the limit and the bytes left in the store (every string
// needs at least its NUL) are checked before anything is allocated.
func (h *header) strings(tag uint32, limit int) ([]string, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	if err := h.checkStrings(tag, e); err != nil {
		return nil, err
	}
	if uint64(e.count) > uint64(limit) {
		return nil, h.errorf(tag, "%d values, at most %d expected", e.count, limit)
	}
	out := make([]string, 0, e.count)
	err := h.eachString(tag, func(s string) bool {
		out = append(out, s)
		return true
	})
	return out, err
}

func (h *header) checkStrings(tag uint32, e entry) error {
	switch e.typ {
	case typeString, typeStringArray, typeI18NString:
	default:
		return h.errorf(tag, "type %d, want a string type", e.typ)
	}
	if e.typ == typeString && e.count != 1 {
		return h.errorf(tag, "string with count %d", e.count)
	}
	if uint64(e.count) > uint64(len(h.store)-int(e.offset)) {
		return h.errorf(tag, "%d strings in %d bytes", e.count, len(h.store)-int(e.offset))
	}
	return nil
}

// eachString calls fn for each string of tag until fn returns false,
// without allocating the whole array.
func (h *header) eachString(tag uint32, fn func(string) bool) error {
	e, ok := h.entries[tag]
	if !ok {
		return nil
	}
	if err := h.checkStrings(tag, e); err != nil {
		return err
	}
	data := h.store[e.offset:]
	for i := uint32(0); i < e.count; i++ {
		end := bytes.IndexByte(data, 0)
		if end < 0 {
			return h.errorf(tag, "string %d is not terminated", i)
		}
		if !fn(string(data[:end])) {
			return nil
		}
		data = data[end+1:]
	}
	return nil
}

// str returns the first string of tag, "" when absent.
func (h *header) str(tag uint32) (string, error) {
	var out string
	err := h.eachString(tag, func(s string) bool {
		out = s
		return false
	})
	return out, err
}

// ints decodes an integer tag of any width, holding at most limit values, as
// uint64 values. Integer data must be aligned to its width, as rpm requires.
func (h *header) ints(tag uint32, limit int) ([]uint64, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	var width uint64
	switch e.typ {
	case typeChar, typeInt8:
		width = 1
	case typeInt16:
		width = 2
	case typeInt32:
		width = 4
	case typeInt64:
		width = 8
	default:
		return nil, h.errorf(tag, "type %d, want an integer type", e.typ)
	}
	if uint64(e.count) > uint64(limit) {
		return nil, h.errorf(tag, "%d values, at most %d expected", e.count, limit)
	}
	if uint64(e.offset)%width != 0 {
		return nil, h.errorf(tag, "misaligned offset %d", e.offset)
	}
	if uint64(e.count)*width > uint64(len(h.store))-uint64(e.offset) {
		return nil, h.errorf(tag, "%d values of %d bytes overrun the store", e.count, width)
	}
	data := h.store[e.offset:]
	out := make([]uint64, e.count)
	for i := range out {
		switch width {
		case 1:
			out[i] = uint64(data[i])
		case 2:
			out[i] = uint64(binary.BigEndian.Uint16(data[2*i:]))
		case 4:
			out[i] = uint64(binary.BigEndian.Uint32(data[4*i:]))
		case 8:
			out[i] = binary.BigEndian.Uint64(data[8*i:])
		}
	}
	return out, nil
}

// int returns the first value of an integer tag and whether it is present.
func (h *header) int(tag uint32) (uint64, bool, error) {
	v, err := h.ints(tag, 1<<16)
	if err != nil || len(v) == 0 {
		return 0, false, err
	}
	return v[0], true, nil
}

// noEOF turns a clean EOF in the middle of a structure into
// io.ErrUnexpectedEOF: any EOF before the payload ends is a truncation.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// itoa formats an integer tag value for Info.
func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
