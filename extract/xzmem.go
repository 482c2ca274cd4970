package extract

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
)

// decodeXZ decompresses a whole .xz stream held in memory into memory: the
// common shape of an RPM payload (one stream, LZMA2 alone, any check). It
// is Expand's fast path: xz payloads are the one thing a cold build waits
// for (openssl-libs: 5.7 MB in 164 ms with xi2/xz), and with the whole
// output in one buffer the dictionary is that buffer: no window to wrap,
// no copy out of it. Streams of another shape (BCJ or delta filters,
// several streams, unknown checks) return errStreaming, and the caller uses
// the streaming decoder. Corrupt input is an error wrapping errXZData;
// output beyond limit is ErrTooLarge. hint sizes the output buffer.
//
// progress, when not nil, is given the output so far between LZMA2
// chunks (its bytes never change afterwards, even if a larger buffer
// replaces it).
func decodeXZ(ctx context.Context, in []byte, limit int64, hint int, progress func([]byte)) ([]byte, error) {
	d := &xzDecoder{ctx: ctx, in: in, limit: limit, out: make([]byte, 0, max(hint, 64)), progress: progress}
	if err := d.stream(); err != nil {
		return nil, err
	}
	return d.out, nil
}

var (
	// errStreaming hands a payload back to the streaming decoder.
	errStreaming = errors.New("payload left to the streaming decoder")
	errXZData    = errors.New("corrupt xz data")
)

var xzMagic = []byte{0xFD, '7', 'z', 'X', 'Z', 0}

type xzDecoder struct {
	ctx   context.Context // checked between LZMA2 chunks
	in    []byte
	p     int
	out   []byte
	limit int64
	check byte
	// progress is decodeXZ's.
	progress func([]byte)
}

func xzCorrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errXZData, fmt.Sprintf(format, args...))
}

// checkSize is the size of a block's check field, by check ID; -1 for IDs
// left to the streaming decoder.
func checkSize(id byte) int {
	switch id {
	case 0:
		return 0
	case 1:
		return 4
	case 4:
		return 8
	case 10:
		return 32
	}
	return -1
}

var crc64Table = crc64.MakeTable(crc64.ECMA)

func (d *xzDecoder) stream() error {
	in := d.in
	if len(in) < 12 || !bytes.Equal(in[:6], xzMagic) {
		return xzCorrupt("no stream header")
	}
	if crc32.ChecksumIEEE(in[6:8]) != binary.LittleEndian.Uint32(in[8:12]) {
		return xzCorrupt("stream header CRC")
	}
	if in[6] != 0 || in[7]&0xF0 != 0 {
		return errStreaming
	}
	d.check = in[7]
	if checkSize(d.check) < 0 {
		return errStreaming
	}
	d.p = 12
	type record struct{ unpadded, size uint64 }
	var records []record
	for {
		if d.p >= len(in) {
			return xzCorrupt("truncated before the index")
		}
		if in[d.p] == 0 {
			break
		}
		n := len(d.out)
		unpadded, err := d.block()
		if err != nil {
			return err
		}
		records = append(records, record{unpadded, uint64(len(d.out) - n)})
	}
	// The index: its records must describe the blocks just read.
	idxStart := d.p
	d.p++
	count, ok := d.varint()
	if !ok || count != uint64(len(records)) {
		return xzCorrupt("index record count")
	}
	for _, r := range records {
		u, ok1 := d.varint()
		s, ok2 := d.varint()
		if !ok1 || !ok2 || u != r.unpadded || s != r.size {
			return xzCorrupt("index does not match the blocks")
		}
	}
	for (d.p-idxStart)%4 != 0 {
		if d.p >= len(in) || in[d.p] != 0 {
			return xzCorrupt("index padding")
		}
		d.p++
	}
	if d.p+4 > len(in) || crc32.ChecksumIEEE(in[idxStart:d.p]) != binary.LittleEndian.Uint32(in[d.p:]) {
		return xzCorrupt("index CRC")
	}
	d.p += 4
	idxSize := d.p - idxStart
	// The footer.
	if d.p+12 > len(in) {
		return xzCorrupt("truncated stream footer")
	}
	f := in[d.p : d.p+12]
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[:4]) || !bytes.Equal(f[10:12], []byte("YZ")) ||
		!bytes.Equal(f[8:10], in[6:8]) || (uint64(binary.LittleEndian.Uint32(f[4:8]))+1)*4 != uint64(idxSize) {
		return xzCorrupt("stream footer")
	}
	d.p += 12
	// Stream padding may follow; another stream is the streaming
	// decoder's business.
	for _, b := range in[d.p:] {
		if b != 0 {
			return errStreaming
		}
	}
	if (len(in)-d.p)%4 != 0 {
		return xzCorrupt("stream padding")
	}
	return nil
}

func padLen(n int) int { return (4 - n%4) % 4 }

// varint reads an xz multibyte integer.
func (d *xzDecoder) varint() (uint64, bool) {
	var v uint64
	for i := 0; i < 9; i++ {
		if d.p >= len(d.in) {
			return 0, false
		}
		b := d.in[d.p]
		d.p++
		v |= uint64(b&0x7F) << (7 * i)
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				return 0, false
			}
			return v, true
		}
	}
	return 0, false
}

// block decodes one block, checks it and returns its unpadded size
// (header, compressed data and check, for the index).
func (d *xzDecoder) block() (uint64, error) {
	in := d.in
	start := d.p
	hsize := (int(in[d.p]) + 1) * 4
	if d.p+hsize > len(in) {
		return 0, xzCorrupt("truncated block header")
	}
	h := in[d.p : d.p+hsize]
	if crc32.ChecksumIEEE(h[:hsize-4]) != binary.LittleEndian.Uint32(h[hsize-4:]) {
		return 0, xzCorrupt("block header CRC")
	}
	flags := h[1]
	if flags&0x3C != 0 || flags&0x03 != 0 {
		return 0, errStreaming // reserved bits, or more than one filter
	}
	d.p += 2
	compSize, uncompSize := int64(-1), int64(-1)
	if flags&0x40 != 0 {
		v, ok := d.varint()
		if !ok || v == 0 || v > uint64(len(in)) {
			return 0, xzCorrupt("block compressed size")
		}
		compSize = int64(v)
	}
	if flags&0x80 != 0 {
		v, ok := d.varint()
		if !ok || v > 1<<62 {
			return 0, xzCorrupt("block uncompressed size")
		}
		uncompSize = int64(v)
	}
	// One filter: LZMA2 with its one-byte dictionary size.
	id, ok1 := d.varint()
	psize, ok2 := d.varint()
	if !ok1 || !ok2 || id != 0x21 || psize != 1 || d.p >= start+hsize-4 {
		return 0, errStreaming
	}
	dictByte := in[d.p]
	d.p++
	if dictByte > 40 {
		return 0, xzCorrupt("LZMA2 dictionary size")
	}
	for ; d.p < start+hsize-4; d.p++ {
		if in[d.p] != 0 {
			return 0, xzCorrupt("block header padding")
		}
	}
	d.p = start + hsize
	dict := uint32(0xFFFFFFFF)
	if dictByte < 40 {
		dict = (2 | uint32(dictByte)&1) << (dictByte/2 + 11)
	}
	dataStart, outStart := d.p, len(d.out)
	if err := d.lzma2(dict); err != nil {
		return 0, err
	}
	dataEnd := d.p
	if compSize >= 0 && int64(d.p-dataStart) != compSize {
		return 0, xzCorrupt("block compressed size does not match")
	}
	if uncompSize >= 0 && int64(len(d.out)-outStart) != uncompSize {
		return 0, xzCorrupt("block uncompressed size does not match")
	}
	for range padLen(d.p - start) {
		if d.p >= len(in) || in[d.p] != 0 {
			return 0, xzCorrupt("block padding")
		}
		d.p++
	}
	cs := checkSize(d.check)
	if d.p+cs > len(in) {
		return 0, xzCorrupt("truncated block check")
	}
	want := in[d.p : d.p+cs]
	data := d.out[outStart:]
	var ok bool
	switch d.check {
	case 0:
		ok = true
	case 1:
		ok = crc32.ChecksumIEEE(data) == binary.LittleEndian.Uint32(want)
	case 4:
		ok = crc64.Checksum(data, crc64Table) == binary.LittleEndian.Uint64(want)
	case 10:
		sum := sha256.Sum256(data)
		ok = bytes.Equal(sum[:], want)
	}
	if !ok {
		return 0, xzCorrupt("block check mismatch")
	}
	unpadded := uint64(hsize + (dataEnd - dataStart) + cs)
	d.p += cs
	return unpadded, nil
}

// lzma2 decodes LZMA2 chunks up to the end marker.
func (d *xzDecoder) lzma2(dict uint32) error {
	var l lzmaState
	needDictReset, needProps, needState := true, true, true
	dictStart := len(d.out)
	for {
		if d.p >= len(d.in) {
			return xzCorrupt("truncated LZMA2 data")
		}
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if d.progress != nil {
			d.progress(d.out)
		}
		c := d.in[d.p]
		d.p++
		switch {
		case c == 0:
			return nil
		case c == 1 || c == 2:
			if c == 1 {
				dictStart, needDictReset = len(d.out), false
			} else if needDictReset {
				return xzCorrupt("LZMA2 without a dictionary reset")
			}
			if d.p+2 > len(d.in) {
				return xzCorrupt("truncated LZMA2 chunk")
			}
			n := int(binary.BigEndian.Uint16(d.in[d.p:])) + 1
			d.p += 2
			if d.p+n > len(d.in) {
				return xzCorrupt("truncated LZMA2 chunk")
			}
			if int64(len(d.out)+n) > d.limit {
				return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, d.limit)
			}
			d.out = append(d.out, d.in[d.p:d.p+n]...)
			d.p += n
			// The next LZMA chunk starts from a reset state.
			needState = true
		case c >= 0x80:
			if d.p+4 > len(d.in) {
				return xzCorrupt("truncated LZMA2 chunk")
			}
			usize := (int(c&0x1F)<<16 | int(binary.BigEndian.Uint16(d.in[d.p:]))) + 1
			csize := int(binary.BigEndian.Uint16(d.in[d.p+2:])) + 1
			d.p += 4
			reset := (c >> 5) & 3
			if reset == 3 {
				dictStart, needDictReset = len(d.out), false
			} else if needDictReset {
				return xzCorrupt("LZMA2 without a dictionary reset")
			}
			if reset >= 2 {
				if d.p >= len(d.in) {
					return xzCorrupt("truncated LZMA2 chunk")
				}
				if err := l.setProps(d.in[d.p]); err != nil {
					return err
				}
				d.p++
				needProps = false
			} else if needProps {
				return xzCorrupt("LZMA2 without properties")
			}
			if reset >= 1 {
				l.reset()
				needState = false
			} else if needState {
				return xzCorrupt("LZMA2 without a state reset")
			}
			if d.p+csize > len(d.in) {
				return xzCorrupt("truncated LZMA2 chunk")
			}
			if int64(len(d.out)+usize) > d.limit {
				return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, d.limit)
			}
			out, err := l.decode(d.in[d.p:d.p+csize], d.out, usize, dictStart, dict)
			if err != nil {
				return err
			}
			d.out = out
			d.p += csize
		default:
			return xzCorrupt("LZMA2 control byte %#x", c)
		}
	}
}

// The LZMA model.
const (
	lzmaStates     = 12
	lzmaPosStates  = 16
	lzmaProbInit   = 1024
	lzmaLitSize    = 0x300
	lzmaEndPosSlot = 14
	lzmaFullDist   = 128
)

type lzmaLen struct {
	choice, choice2 uint16
	low, mid        [lzmaPosStates][8]uint16
	high            [256]uint16
}

type lzmaState struct {
	lc, lp, pb uint
	state      int
	rep        [4]uint32
	isMatch    [lzmaStates][lzmaPosStates]uint16
	isRep      [lzmaStates]uint16
	isRepG0    [lzmaStates]uint16
	isRepG1    [lzmaStates]uint16
	isRepG2    [lzmaStates]uint16
	isRep0Long [lzmaStates][lzmaPosStates]uint16
	posSlot    [4][64]uint16
	posSpecial [lzmaFullDist - lzmaEndPosSlot + 1]uint16
	align      [16]uint16
	matchLen   lzmaLen
	repLen     lzmaLen
	literal    [lzmaLitSize << 4]uint16
}

func (l *lzmaState) setProps(b byte) error {
	if b >= 9*5*5 {
		return xzCorrupt("LZMA properties %#x", b)
	}
	l.pb = uint(b) / 45
	l.lp = uint(b) % 45 / 9
	l.lc = uint(b) % 9
	if l.lc+l.lp > 4 || l.pb > 4 {
		return xzCorrupt("LZMA properties %#x", b)
	}
	return nil
}

func (l *lzmaState) reset() {
	l.state, l.rep = 0, [4]uint32{}
	fill := func(p []uint16) {
		for i := range p {
			p[i] = lzmaProbInit
		}
	}
	for i := range l.isMatch {
		fill(l.isMatch[i][:])
		fill(l.isRep0Long[i][:])
	}
	fill(l.isRep[:])
	fill(l.isRepG0[:])
	fill(l.isRepG1[:])
	fill(l.isRepG2[:])
	for i := range l.posSlot {
		fill(l.posSlot[i][:])
	}
	fill(l.posSpecial[:])
	fill(l.align[:])
	for _, ld := range []*lzmaLen{&l.matchLen, &l.repLen} {
		ld.choice, ld.choice2 = lzmaProbInit, lzmaProbInit
		for i := range ld.low {
			fill(ld.low[i][:])
			fill(ld.mid[i][:])
		}
		fill(ld.high[:])
	}
	fill(l.literal[:lzmaLitSize<<(l.lc+l.lp)])
}

// rangeDec is the range decoder of one LZMA2 chunk.
type rangeDec struct {
	in        []byte
	p         int
	rng, code uint32
}

// norm shifts in the next input byte. Past the end of the chunk it shifts
// in zeros and still counts, so that the hot path carries no error: the
// chunk's end checks that exactly its bytes were read.
func (r *rangeDec) norm() {
	r.rng <<= 8
	var b byte
	if r.p < len(r.in) {
		b = r.in[r.p]
	}
	r.code = r.code<<8 | uint32(b)
	r.p++
}

// A bit is decoded as normalize then decodeBit (decode normalizes once
// more at the end of a chunk): two calls the compiler inlines, where one
// function doing both is too large to inline.

// normalize shifts in a byte when the range gets small.
func (r *rangeDec) normalize() {
	if r.rng < 1<<24 {
		r.norm()
	}
}

// decodeBit is bit on a normalized decoder.
func (r *rangeDec) decodeBit(prob *uint16) uint32 {
	p := uint32(*prob)
	bound := (r.rng >> 11) * p
	if r.code < bound {
		r.rng = bound
		*prob = uint16(p + (2048-p)>>5)
		return 0
	}
	r.rng -= bound
	r.code -= bound
	*prob = uint16(p - p>>5)
	return 1
}

// literal decodes a byte with probs (0x300 of them); the range decoder's
// state is kept in locals: with bit inlined by hand, this loop is most of
// the decoder's time.
func (r *rangeDec) literal(probs []uint16) uint32 {
	probs = probs[:0x300]
	rng, code, in, p := r.rng, r.code, r.in, r.p
	sym := uint32(1)
	for sym < 0x100 {
		if rng < 1<<24 {
			rng <<= 8
			code <<= 8
			if p < len(in) {
				code |= uint32(in[p])
			}
			p++
		}
		pr := uint32(probs[sym&0xFF])
		bound := (rng >> 11) * pr
		if code < bound {
			rng = bound
			probs[sym&0xFF] = uint16(pr + (2048-pr)>>5)
			sym <<= 1
		} else {
			rng -= bound
			code -= bound
			probs[sym&0xFF] = uint16(pr - pr>>5)
			sym = sym<<1 | 1
		}
	}
	r.rng, r.code, r.p = rng, code, p
	return sym
}

// matchedLiteral decodes a byte after a match, guided by match, the byte
// at the last match distance.
func (r *rangeDec) matchedLiteral(probs []uint16, match uint32) uint32 {
	probs = probs[:0x300]
	rng, code, in, p := r.rng, r.code, r.in, r.p
	sym, offset := uint32(1), uint32(0x100)
	for sym < 0x100 {
		if rng < 1<<24 {
			rng <<= 8
			code <<= 8
			if p < len(in) {
				code |= uint32(in[p])
			}
			p++
		}
		match <<= 1
		mbit := match & offset
		i := (offset + mbit + sym) % 0x300
		pr := uint32(probs[i])
		bound := (rng >> 11) * pr
		if code < bound {
			rng = bound
			probs[i] = uint16(pr + (2048-pr)>>5)
			sym <<= 1
			offset &= ^mbit
		} else {
			rng -= bound
			code -= bound
			probs[i] = uint16(pr - pr>>5)
			sym = sym<<1 | 1
			offset &= mbit
		}
	}
	r.rng, r.code, r.p = rng, code, p
	return sym
}

// bittree decodes a bits-bit symbol high bit first, reverse low bit first,
// with the range decoder's state in locals as in literal. The bit decoding
// is written out in each of these four loops on purpose: bit is too large
// for the compiler to inline, and a call per bit cost a fifth of the
// decoder's time.
func (r *rangeDec) bittree(probs []uint16, bits uint) uint32 {
	rng, code, in, p := r.rng, r.code, r.in, r.p
	m := uint32(1)
	for range bits {
		if rng < 1<<24 {
			rng <<= 8
			code <<= 8
			if p < len(in) {
				code |= uint32(in[p])
			}
			p++
		}
		pr := uint32(probs[m])
		bound := (rng >> 11) * pr
		if code < bound {
			rng = bound
			probs[m] = uint16(pr + (2048-pr)>>5)
			m <<= 1
		} else {
			rng -= bound
			code -= bound
			probs[m] = uint16(pr - pr>>5)
			m = m<<1 | 1
		}
	}
	r.rng, r.code, r.p = rng, code, p
	return m - 1<<bits
}

func (r *rangeDec) reverse(probs []uint16, bits uint) uint32 {
	rng, code, in, p := r.rng, r.code, r.in, r.p
	m, sym := uint32(1), uint32(0)
	for i := range bits {
		if rng < 1<<24 {
			rng <<= 8
			code <<= 8
			if p < len(in) {
				code |= uint32(in[p])
			}
			p++
		}
		pr := uint32(probs[m])
		bound := (rng >> 11) * pr
		if code < bound {
			rng = bound
			probs[m] = uint16(pr + (2048-pr)>>5)
			m <<= 1
		} else {
			rng -= bound
			code -= bound
			probs[m] = uint16(pr - pr>>5)
			m = m<<1 | 1
			sym |= 1 << i
		}
	}
	r.rng, r.code, r.p = rng, code, p
	return sym
}

func (r *rangeDec) direct(bits uint) uint32 {
	var v uint32
	for range bits {
		if r.rng < 1<<24 {
			r.norm()
		}
		r.rng >>= 1
		t := (r.code - r.rng) >> 31 // 1 when code < rng
		r.code -= r.rng & (t - 1)
		v = v<<1 | (1 - t)
	}
	return v
}

func (ld *lzmaLen) decode(r *rangeDec, posState uint32) uint32 {
	r.normalize()
	if r.decodeBit(&ld.choice) == 0 {
		return r.bittree(ld.low[posState][:], 3)
	}
	r.normalize()
	if r.decodeBit(&ld.choice2) == 0 {
		return 8 + r.bittree(ld.mid[posState][:], 3)
	}
	return 16 + r.bittree(ld.high[:], 8)
}

// decode decodes one LZMA chunk of usize bytes from in, appending to out.
// Positions count from dictStart (the last dictionary reset); matches may
// reach back to it, and no farther than the dictionary size.
func (l *lzmaState) decode(in, out []byte, usize, dictStart int, dict uint32) ([]byte, error) {
	if len(in) < 5 || in[0] != 0 {
		return nil, xzCorrupt("LZMA chunk start")
	}
	r := rangeDec{in: in, p: 5, rng: 0xFFFFFFFF, code: binary.BigEndian.Uint32(in[1:5])}
	end := len(out) + usize
	if cap(out) < end {
		grown := make([]byte, len(out), max(end, 2*cap(out)))
		copy(grown, out)
		out = grown
	}
	pbMask := uint32(1)<<l.pb - 1
	lpMask := uint32(1)<<l.lp - 1
	state := l.state
	rep0, rep1, rep2, rep3 := l.rep[0], l.rep[1], l.rep[2], l.rep[3]
	for len(out) < end {
		pos := uint32(len(out) - dictStart)
		posState := pos & pbMask
		r.normalize()
		if r.decodeBit(&l.isMatch[state][posState]) == 0 {
			var prev uint32
			if pos > 0 {
				prev = uint32(out[len(out)-1])
			}
			base := lzmaLitSize * int(((pos&lpMask)<<l.lc)+(prev>>(8-l.lc)))
			probs := l.literal[base : base+lzmaLitSize]
			var sym uint32
			if state < 7 {
				sym = r.literal(probs)
			} else {
				if rep0 >= pos {
					return nil, xzCorrupt("LZMA distance beyond the data")
				}
				sym = r.matchedLiteral(probs, uint32(out[len(out)-int(rep0)-1]))
			}
			out = append(out, byte(sym))
			switch {
			case state < 4:
				state = 0
			case state < 10:
				state -= 3
			default:
				state -= 6
			}
			continue
		}
		var n uint32
		r.normalize()
		if r.decodeBit(&l.isRep[state]) == 0 {
			rep3, rep2, rep1 = rep2, rep1, rep0
			n = l.matchLen.decode(&r, posState)
			if state < 7 {
				state = 7
			} else {
				state = 10
			}
			rep0 = l.distance(&r, n)
			if rep0 == 0xFFFFFFFF {
				return nil, xzCorrupt("LZMA end marker inside LZMA2")
			}
		} else {
			if pos == 0 {
				return nil, xzCorrupt("LZMA repeat at the start")
			}
			r.normalize()
			if r.decodeBit(&l.isRepG0[state]) == 0 {
				r.normalize()
				if r.decodeBit(&l.isRep0Long[state][posState]) == 0 {
					if state < 7 {
						state = 9
					} else {
						state = 11
					}
					if rep0 >= pos {
						return nil, xzCorrupt("LZMA distance beyond the data")
					}
					out = append(out, out[len(out)-int(rep0)-1])
					continue
				}
			} else {
				var dist uint32
				r.normalize()
				if r.decodeBit(&l.isRepG1[state]) == 0 {
					dist = rep1
				} else {
					r.normalize()
					if r.decodeBit(&l.isRepG2[state]) == 0 {
						dist = rep2
					} else {
						dist = rep3
						rep3 = rep2
					}
					rep2 = rep1
				}
				rep1 = rep0
				rep0 = dist
			}
			n = l.repLen.decode(&r, posState)
			if state < 7 {
				state = 8
			} else {
				state = 11
			}
		}
		length := int(n) + 2
		if rep0 >= pos || rep0 >= dict {
			return nil, xzCorrupt("LZMA distance beyond the data")
		}
		if len(out)+length > end {
			return nil, xzCorrupt("LZMA match past the chunk")
		}
		// Copy in runs of the distance: a match may overlap what it
		// writes (distance 1 repeats one byte).
		at := len(out)
		from := at - int(rep0) - 1
		out = out[:at+length]
		for k := 0; k < length; {
			k += copy(out[at+k:], out[from+k:at+k])
		}
	}
	l.state = state
	l.rep = [4]uint32{rep0, rep1, rep2, rep3}
	if r.rng < 1<<24 {
		r.norm()
	}
	if r.p != len(r.in) || r.code != 0 {
		return nil, xzCorrupt("LZMA chunk size")
	}
	return out, nil
}

// distance decodes a match distance (0-based) for a match of length n+2.
func (l *lzmaState) distance(r *rangeDec, n uint32) uint32 {
	lenState := min(n, 3)
	slot := r.bittree(l.posSlot[lenState][:], 6)
	if slot < 4 {
		return slot
	}
	direct := uint(slot>>1) - 1
	dist := (2 | slot&1) << direct
	if slot < lzmaEndPosSlot {
		return dist + r.reverse(l.posSpecial[dist-slot:], direct)
	}
	dist += r.direct(direct-4) << 4
	return dist + r.reverse(l.align[:], 4)
}
