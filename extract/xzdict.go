package extract

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// Why this exists: rpm's default xz level (-9) declares a 64 MiB LZMA2
// dictionary, and XZ decoders allocate the declared size up front, even for
// a package whose whole payload is a few kilobytes (ncurses-base, setup).
// An LZMA2 match can never reach further back than the bytes decoded so
// far, so a dictionary as large as the whole payload decodes the stream
// exactly. We know an upper bound of the payload from the header's file
// sizes, so we rewrite the dictionary size in the first block header down
// to that bound (and fix the header's CRC32). If the header lies and the
// payload is larger, a match reaching beyond the smaller window makes the
// decoder fail; it never yields wrong bytes silently. Later blocks of a
// multi-block stream keep their declared size.

const (
	xzStreamHeaderLen = 12
	xzFilterLZMA2     = 0x21
)

// xzDictSize is the dictionary size an LZMA2 properties byte encodes.
func xzDictSize(props byte) uint64 {
	if props >= 40 {
		return 1<<32 - 1
	}
	return uint64(2|props&1) << (props/2 + 11)
}

// shrinkXZDict returns a reader equivalent to r whose first block header
// declares the smallest LZMA2 dictionary holding max bytes. r is returned
// unchanged when its start cannot be parsed (the decoder then reports the
// problem) or when the declared dictionary is already small enough.
func shrinkXZDict(r *bufio.Reader, max int64) io.Reader {
	pre, err := r.Peek(xzStreamHeaderLen + 1)
	if err != nil || pre[xzStreamHeaderLen] == 0 {
		return r // too short, or a stream without blocks
	}
	size := (int(pre[xzStreamHeaderLen]) + 1) * 4
	buf, err := r.Peek(xzStreamHeaderLen + size)
	if err != nil {
		return r
	}
	hdr := buf[xzStreamHeaderLen:]
	if binary.LittleEndian.Uint32(hdr[size-4:]) != crc32.ChecksumIEEE(hdr[:size-4]) {
		return r
	}
	flags := hdr[1]
	if flags&0x3c != 0 {
		return r // reserved bits: leave it to the decoder
	}
	pos := 2
	varint := func() (uint64, bool) {
		v, n := binary.Uvarint(hdr[pos : size-4])
		if n <= 0 {
			return 0, false
		}
		pos += n
		return v, true
	}
	if flags&0x40 != 0 { // compressed size present
		if _, ok := varint(); !ok {
			return r
		}
	}
	if flags&0x80 != 0 { // uncompressed size present
		if _, ok := varint(); !ok {
			return r
		}
	}
	propsAt := -1
	for i := 0; i <= int(flags&3); i++ {
		id, ok := varint()
		if !ok {
			return r
		}
		n, ok := varint()
		if !ok || n > uint64(size-4-pos) {
			return r
		}
		if id == xzFilterLZMA2 && n == 1 && i == int(flags&3) {
			propsAt = pos
		}
		pos += int(n)
	}
	if propsAt < 0 {
		return r
	}
	old := hdr[propsAt]
	if old > 40 {
		return r
	}
	var props byte
	for props < old && xzDictSize(props) < uint64(max) {
		props++
	}
	if props >= old {
		return r
	}
	patched := append([]byte(nil), buf...)
	ph := patched[xzStreamHeaderLen:]
	ph[propsAt] = props
	binary.LittleEndian.PutUint32(ph[size-4:], crc32.ChecksumIEEE(ph[:size-4]))
	if _, err := r.Discard(len(patched)); err != nil {
		return r // cannot happen: the bytes were peeked
	}
	return io.MultiReader(bytes.NewReader(patched), r)
}

// payloadBound is an upper bound of the decompressed cpio payload: every
// file's data plus a generous per-entry header, name and padding, and the
// trailer.
func (t *fileTable) payloadBound() int64 {
	var n int64 = 512
	for _, f := range t.files {
		n += f.size + int64(len(f.path)) + 128
	}
	return n
}
