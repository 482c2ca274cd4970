package rpmfixture

import (
	"bytes"
	"encoding/binary"
	"sort"
)

// Header data types (rpmTagType).
const (
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// headerBuilder collects tags and serializes an RPM header structure with
// an immutable region covering every tag, as rpmbuild writes it.
type headerBuilder struct {
	region uint32 // 62 for the signature, 63 for the main header
	tags   map[uint32]tagValue
}

type tagValue struct {
	typ   uint32
	count uint32
	data  []byte
	align int
}

func newHeader(region uint32) *headerBuilder {
	return &headerBuilder{region: region, tags: map[uint32]tagValue{}}
}

func (h *headerBuilder) str(tag uint32, s string) {
	h.tags[tag] = tagValue{typ: typeString, count: 1, data: append([]byte(s), 0), align: 1}
}

func (h *headerBuilder) i18n(tag uint32, s string) {
	h.tags[tag] = tagValue{typ: typeI18NString, count: 1, data: append([]byte(s), 0), align: 1}
}

func (h *headerBuilder) strs(tag uint32, v []string) {
	var b bytes.Buffer
	for _, s := range v {
		b.WriteString(s)
		b.WriteByte(0)
	}
	h.tags[tag] = tagValue{typ: typeStringArray, count: uint32(len(v)), data: b.Bytes(), align: 1}
}

func (h *headerBuilder) bin(tag uint32, v []byte) {
	h.tags[tag] = tagValue{typ: typeBin, count: uint32(len(v)), data: v, align: 1}
}

func (h *headerBuilder) int16s(tag uint32, v []uint16) {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint16(b[2*i:], x)
	}
	h.tags[tag] = tagValue{typ: typeInt16, count: uint32(len(v)), data: b, align: 2}
}

func (h *headerBuilder) int32s(tag uint32, v []uint32) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(b[4*i:], x)
	}
	h.tags[tag] = tagValue{typ: typeInt32, count: uint32(len(v)), data: b, align: 4}
}

func (h *headerBuilder) int64s(tag uint32, v []uint64) {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint64(b[8*i:], x)
	}
	h.tags[tag] = tagValue{typ: typeInt64, count: uint32(len(v)), data: b, align: 8}
}

func (h *headerBuilder) int32(tag uint32, v uint32) { h.int32s(tag, []uint32{v}) }

// bytes serializes the header: magic, counts, index (region tag first, then
// ascending tags), the data store with each value aligned to its type, and
// the region trailer at the end of the store.
func (h *headerBuilder) bytes() []byte {
	keys := make([]uint32, 0, len(h.tags))
	for k := range h.tags {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	nindex := len(keys) + 1
	var store bytes.Buffer
	var index bytes.Buffer
	entry := func(tag, typ, off, count uint32) {
		var e [16]byte
		binary.BigEndian.PutUint32(e[0:], tag)
		binary.BigEndian.PutUint32(e[4:], typ)
		binary.BigEndian.PutUint32(e[8:], off)
		binary.BigEndian.PutUint32(e[12:], count)
		index.Write(e[:])
	}
	var body bytes.Buffer // index entries for the tags, after the region's
	for _, k := range keys {
		v := h.tags[k]
		for store.Len()%v.align != 0 {
			store.WriteByte(0)
		}
		off := uint32(store.Len())
		store.Write(v.data)
		var e [16]byte
		binary.BigEndian.PutUint32(e[0:], k)
		binary.BigEndian.PutUint32(e[4:], v.typ)
		binary.BigEndian.PutUint32(e[8:], off)
		binary.BigEndian.PutUint32(e[12:], v.count)
		body.Write(e[:])
	}
	// The trailer is itself an index entry whose negative offset spans the
	// whole index: the region covers all tags.
	trailerOff := uint32(store.Len())
	var trailer [16]byte
	binary.BigEndian.PutUint32(trailer[0:], h.region)
	binary.BigEndian.PutUint32(trailer[4:], typeBin)
	binary.BigEndian.PutUint32(trailer[8:], uint32(-int32(nindex*16)))
	binary.BigEndian.PutUint32(trailer[12:], 16)
	store.Write(trailer[:])
	entry(h.region, typeBin, trailerOff, 16)
	index.Write(body.Bytes())

	var out bytes.Buffer
	out.Write([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0})
	var n [8]byte
	binary.BigEndian.PutUint32(n[0:], uint32(nindex))
	binary.BigEndian.PutUint32(n[4:], uint32(store.Len()))
	out.Write(n[:])
	out.Write(index.Bytes())
	out.Write(store.Bytes())
	return out.Bytes()
}
