package rpmfixture

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Compress compresses data as an RPM payload compressor would: "gzip",
// "xz", "zstd", "lzma" (legacy .lzma, unknown size and end marker, as
// rpm's lzdio), "bzip2" or "none".
func Compress(comp string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch comp {
	case "none":
		return append([]byte(nil), data...), nil
	case "bzip2":
		return bzip2Compress(data), nil
	case "gzip":
		w, err = gzip.NewWriterLevel(&b, gzip.BestCompression)
	case "xz":
		w, err = xz.NewWriter(&b)
	case "zstd":
		w, err = zstd.NewWriter(&b, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	case "lzma":
		w, err = lzma.WriterConfig{Size: -1, EOSMarker: true}.NewWriter(&b)
	default:
		return nil, fmt.Errorf("rpmfixture: unknown compressor %q", comp)
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// bzip2Compress is a small, correct bzip2 encoder (Go's standard library
// only decodes): RLE1, a prefix-doubling BWT, MTF with RUNA/RUNB zero runs,
// and one canonical, complete prefix code per block. It favours simplicity
// over ratio; fixtures are small.
func bzip2Compress(data []byte) []byte {
	w := &bitWriter{}
	w.bytes([]byte("BZh9"))
	var combined uint32
	// 700,000 input bytes grow to at most 875,000 after RLE1, within the
	// 900,000-byte block of level 9.
	const chunk = 700000
	for len(data) > 0 {
		n := min(len(data), chunk)
		block := data[:n]
		data = data[n:]
		crc := bzCRC(block)
		combined = (combined<<1 | combined>>31) ^ crc
		writeBlock(w, block, crc)
	}
	w.bits(0x177245, 24)
	w.bits(0x385090, 24)
	w.bits(uint64(combined), 32)
	return w.flush()
}

func writeBlock(w *bitWriter, raw []byte, crc uint32) {
	s := rle1(raw)
	bwt, orig := bwTransform(s)

	var inUse [256]bool
	for _, c := range s {
		inUse[c] = true
	}
	var unseq []byte
	var seq [256]byte
	for c := 0; c < 256; c++ {
		if inUse[c] {
			seq[c] = byte(len(unseq))
			unseq = append(unseq, byte(c))
		}
	}
	numInUse := len(unseq)
	eob := numInUse + 1
	alpha := numInUse + 2

	// MTF and RUNA/RUNB coding of zero runs.
	mtf := make([]byte, numInUse)
	for i := range mtf {
		mtf[i] = byte(i)
	}
	var syms []int
	zeros := 0
	flushZeros := func() {
		for zeros > 0 {
			if zeros&1 == 1 {
				syms = append(syms, 0) // RUNA
				zeros = (zeros - 1) / 2
			} else {
				syms = append(syms, 1) // RUNB
				zeros = (zeros - 2) / 2
			}
		}
	}
	for _, c := range bwt {
		v := seq[c]
		j := bytes.IndexByte(mtf, v)
		copy(mtf[1:j+1], mtf[:j])
		mtf[0] = v
		if j == 0 {
			zeros++
			continue
		}
		flushZeros()
		syms = append(syms, j+1)
	}
	flushZeros()
	syms = append(syms, eob)

	// A complete canonical code: the first 2^L-alpha symbols get L-1 bits.
	L := 1
	for 1<<L < alpha {
		L++
	}
	short := 1<<L - alpha
	lengths := make([]int, alpha)
	for i := range lengths {
		lengths[i] = L
		if i < short {
			lengths[i] = L - 1
		}
	}
	codes := canonicalCodes(lengths)

	w.bits(0x314159, 24)
	w.bits(0x265359, 24)
	w.bits(uint64(crc), 32)
	w.bits(0, 1) // not randomized
	w.bits(uint64(orig), 24)
	var ranges uint16
	for r := 0; r < 16; r++ {
		for c := 0; c < 16; c++ {
			if inUse[r*16+c] {
				ranges |= 1 << (15 - r)
				break
			}
		}
	}
	w.bits(uint64(ranges), 16)
	for r := 0; r < 16; r++ {
		if ranges&(1<<(15-r)) == 0 {
			continue
		}
		var m uint16
		for c := 0; c < 16; c++ {
			if inUse[r*16+c] {
				m |= 1 << (15 - c)
			}
		}
		w.bits(uint64(m), 16)
	}
	const groups = 2 // the format's minimum; both tables are the same
	selectors := (len(syms) + 49) / 50
	w.bits(groups, 3)
	w.bits(uint64(selectors), 15)
	for i := 0; i < selectors; i++ {
		w.bits(0, 1) // selector 0, MTF-coded as a lone 0 bit
	}
	for g := 0; g < groups; g++ {
		cur := lengths[0]
		w.bits(uint64(cur), 5)
		for _, l := range lengths {
			for cur < l {
				w.bits(2, 2) // 10: increment
				cur++
			}
			for cur > l {
				w.bits(3, 2) // 11: decrement
				cur--
			}
			w.bits(0, 1)
		}
	}
	for _, s := range syms {
		w.bits(uint64(codes[s]), uint(lengths[s]))
	}
}

// canonicalCodes assigns codes in order of (length, symbol), as bzip2's
// decoder expects.
func canonicalCodes(lengths []int) []uint32 {
	idx := make([]int, len(lengths))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return lengths[idx[a]] < lengths[idx[b]] })
	codes := make([]uint32, len(lengths))
	var code uint32
	prev := lengths[idx[0]]
	for _, i := range idx {
		code <<= uint(lengths[i] - prev)
		prev = lengths[i]
		codes[i] = code
		code++
	}
	return codes
}

// rle1 is bzip2's first run-length stage: runs of 4 to 255 equal bytes
// become four bytes and a count of the rest.
func rle1(in []byte) []byte {
	out := make([]byte, 0, len(in)+len(in)/4)
	for i := 0; i < len(in); {
		j := i
		for j < len(in) && in[j] == in[i] && j-i < 255 {
			j++
		}
		if n := j - i; n >= 4 {
			out = append(out, in[i], in[i], in[i], in[i], byte(n-4))
		} else {
			out = append(out, in[i:j]...)
		}
		i = j
	}
	return out
}

// bwTransform sorts the cyclic rotations of s by prefix doubling and
// returns the last column and the row of the original string.
func bwTransform(s []byte) ([]byte, int) {
	n := len(s)
	sa := make([]int, n)
	rank := make([]int, n)
	tmp := make([]int, n)
	for i := range sa {
		sa[i] = i
		rank[i] = int(s[i])
	}
	for k := 1; ; k <<= 1 {
		key := func(i int) (int, int) { return rank[i], rank[(i+k)%n] }
		sort.Slice(sa, func(a, b int) bool {
			a1, a2 := key(sa[a])
			b1, b2 := key(sa[b])
			if a1 != b1 {
				return a1 < b1
			}
			return a2 < b2
		})
		tmp[sa[0]] = 0
		for i := 1; i < n; i++ {
			p1, p2 := key(sa[i-1])
			c1, c2 := key(sa[i])
			tmp[sa[i]] = tmp[sa[i-1]]
			if p1 != c1 || p2 != c2 {
				tmp[sa[i]]++
			}
		}
		copy(rank, tmp)
		if rank[sa[n-1]] == n-1 || k >= n {
			break
		}
	}
	out := make([]byte, n)
	orig := 0
	for i, p := range sa {
		out[i] = s[(p+n-1)%n]
		if p == 0 {
			orig = i
		}
	}
	return out, orig
}

var bzTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func bzCRC(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c = c<<8 ^ bzTable[byte(c>>24)^x]
	}
	return ^c
}

// bitWriter writes bits most significant first.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint // bits in acc
}

func (w *bitWriter) bits(v uint64, n uint) {
	for n > 0 {
		take := min(n, 56-w.n)
		n -= take
		w.acc = w.acc<<take | (v>>n)&(1<<take-1)
		w.n += take
		for w.n >= 8 {
			w.out = append(w.out, byte(w.acc>>(w.n-8)))
			w.n -= 8
		}
	}
}

func (w *bitWriter) bytes(b []byte) {
	for _, c := range b {
		w.bits(uint64(c), 8)
	}
}

func (w *bitWriter) flush() []byte {
	if w.n > 0 {
		w.out = append(w.out, byte(w.acc<<(8-w.n)))
		w.n = 0
	}
	return w.out
}
