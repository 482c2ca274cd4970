package extract

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// The cpio dialects found in RPM payloads: SVR4 "newc" (what rpm writes),
// the same with a byte-sum checksum ("crc", written by some non-rpm tools),
// and rpm's "stripped" form (rpm >= 4.12 for files over 4 GiB, and every v6
// package) whose headers hold only an index into the RPM header's file list.
const (
	magicNewc     = "070701"
	magicCRC      = "070702"
	magicStripped = "07070X"
	cpioTrailer   = "TRAILER!!!"

	newcHeaderSize = 110
	// maxNameSize bounds a cpio name (PATH_MAX, including the NUL).
	maxNameSize = 4096 + 1
)

// Unix file type bits, as in cpio and RPM headers.
const (
	modeType  = 0o170000
	modeDir   = 0o040000
	modeReg   = 0o100000
	modeLink  = 0o120000
	modeChr   = 0o020000
	modeBlk   = 0o060000
	modeFifo  = 0o010000
	modeSock  = 0o140000
	modePerms = 0o7777
)

// cpioEntry is one archive member's header.
type cpioEntry struct {
	stripped bool
	index    int    // stripped: index into the RPM header's file list
	name     string // newc/crc: the raw name, NUL removed
	mode     uint32
	ino      uint32
	nlink    uint32
	devMajor uint32
	devMinor uint32
	check    uint32
	size     int64
}

// cpioReader reads a cpio stream entry by entry, like archive/tar: Next
// returns a header, Read the entry's data. It does no buffering of its own
// beyond the bufio.Reader it is given, so file data goes straight from the
// decompressor into the caller's buffer.
type cpioReader struct {
	r         byteSource
	off       int64 // bytes consumed since the start of the archive
	remaining int64 // unread data bytes of the current entry
	pad       int   // padding after the current entry's data
	crc       bool  // the current entry carries a byte-sum checksum
	sum, want uint32
	// err is a checksum failure of the last data read. It is sticky because
	// io.ReadFull drops an error that comes with the final byte.
	err error
	// sizeOf gives the data size of a stripped entry, which only the RPM
	// header knows. nil means stripped entries are an error.
	sizeOf func(index int) (int64, error)
	hdr    [newcHeaderSize]byte
}

// byteSource is what a cpioReader reads: a *bufio.Reader over a stream, or
// a *memSource over an archive in memory.
type byteSource interface {
	io.Reader
	Discard(n int) (int, error)
	Buffered() int
}

// memSource reads an archive held in memory; take hands out its bytes
// without copying them. With grow set, the archive is still being
// decompressed: reads wait for the bytes they need.
type memSource struct {
	b    []byte
	off  int
	grow *growingPayload
}

// need makes m.b hold n bytes after m.off if the archive has them, waiting
// for them while it grows.
func (m *memSource) need(n int) {
	for m.grow != nil && len(m.b) < m.off+n {
		m.more()
	}
}

// more waits for the archive to grow (or to be complete: grow is then
// nil).
func (m *memSource) more() {
	var done bool
	m.b, done = m.grow.wait(len(m.b))
	if done {
		m.grow = nil
	}
}

func (m *memSource) Read(p []byte) (int, error) {
	m.need(min(len(p), 1))
	if m.off >= len(m.b) {
		return 0, io.EOF
	}
	n := copy(p, m.b[m.off:])
	m.off += n
	return n, nil
}

func (m *memSource) Discard(n int) (int, error) {
	m.need(n)
	k := min(n, len(m.b)-m.off)
	m.off += k
	if k < n {
		return k, io.EOF
	}
	return k, nil
}

func (m *memSource) Buffered() int { return len(m.b) - m.off }

// take returns the current entry's whole data from an archive in memory,
// without copying (the slice's capacity ends with it), when no checksum
// must be computed over it; ok is false otherwise.
func (c *cpioReader) take() (data []byte, ok bool, err error) {
	m, mem := c.r.(*memSource)
	if !mem || c.crc || c.err != nil {
		return nil, false, nil
	}
	m.need(int(min(c.remaining, math.MaxInt32)))
	if c.remaining > int64(m.Buffered()) {
		return nil, true, io.ErrUnexpectedEOF
	}
	n := int(c.remaining)
	data = m.b[m.off : m.off+n : m.off+n]
	m.off += n
	c.off += int64(n)
	c.remaining = 0
	return data, true, nil
}

// takeGrowing is take for an archive still being decompressed: it calls
// seen with the entry's data so far each time more of it arrives (the last
// call has all of it), then takes it. ok is false as for take.
func (c *cpioReader) takeGrowing(seen func(prefix []byte)) (data []byte, ok bool, err error) {
	m, mem := c.r.(*memSource)
	if !mem || c.crc || c.err != nil {
		return nil, false, nil
	}
	start, end := int64(m.off), int64(m.off)+c.remaining
	for have := start; ; {
		if avail := min(int64(len(m.b)), end); avail > have || avail == end {
			have = avail
			seen(m.b[start:have:have])
		}
		if have == end || m.grow == nil {
			break
		}
		m.more()
	}
	return c.take()
}

func newCpioReader(r byteSource, sizeOf func(int) (int64, error)) *cpioReader {
	return &cpioReader{r: r, sizeOf: sizeOf}
}

var (
	errNoTrailer = errors.New("payload ends without a cpio trailer")
	errChecksum  = errors.New("cpio checksum mismatch")
)

// Next skips what is left of the current entry and reads the next header. It
// returns io.EOF at the trailer, and an error wrapping io.ErrUnexpectedEOF
// when the stream ends first.
func (c *cpioReader) Next() (*cpioEntry, error) {
	if c.err != nil {
		return nil, c.err
	}
	if err := c.skipRest(); err != nil {
		return nil, err
	}
	magic := c.hdr[:6]
	if n, err := io.ReadFull(c.r, magic); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", errNoTrailer, io.ErrUnexpectedEOF)
		}
		return nil, noEOF(err)
	}
	c.off += 6
	switch string(magic) {
	case magicStripped:
		return c.nextStripped()
	case magicNewc, magicCRC:
	default:
		return nil, fmt.Errorf("bad cpio magic %q at payload offset %d", magic, c.off-6)
	}
	rest := c.hdr[6:newcHeaderSize]
	if _, err := io.ReadFull(c.r, rest); err != nil {
		return nil, noEOF(err)
	}
	c.off += int64(len(rest))
	var f [13]uint32
	for i := range f {
		v, ok := parseHex8(rest[8*i : 8*i+8])
		if !ok {
			return nil, fmt.Errorf("bad cpio header field %q at payload offset %d", rest[8*i:8*i+8], c.off-newcHeaderSize+6+int64(8*i))
		}
		f[i] = v
	}
	e := &cpioEntry{
		ino: f[0], mode: f[1], nlink: f[4], size: int64(f[6]),
		devMajor: f[7], devMinor: f[8], check: f[12],
	}
	namesize := f[11]
	if namesize == 0 || namesize > maxNameSize {
		return nil, fmt.Errorf("cpio name of %d bytes (limit %d)", int64(namesize)-1, maxNameSize-1)
	}
	name := make([]byte, namesize)
	if _, err := io.ReadFull(c.r, name); err != nil {
		return nil, noEOF(err)
	}
	c.off += int64(namesize)
	if name[namesize-1] != 0 {
		return nil, fmt.Errorf("cpio name %q is not NUL-terminated", name)
	}
	e.name = string(name[:namesize-1])
	if err := c.align(); err != nil {
		return nil, err
	}
	if e.name == cpioTrailer {
		return nil, io.EOF
	}
	c.remaining = e.size
	c.crc = string(magic) == magicCRC && e.mode&modeType == modeReg
	c.sum, c.want = 0, e.check
	return e, nil
}

func (c *cpioReader) nextStripped() (*cpioEntry, error) {
	b := c.hdr[6:14]
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, noEOF(err)
	}
	c.off += 8
	idx, ok := parseHex8(b)
	if !ok {
		return nil, fmt.Errorf("bad stripped cpio index %q", b)
	}
	if c.sizeOf == nil {
		return nil, errors.New("stripped cpio entry outside an RPM payload")
	}
	size, err := c.sizeOf(int(idx))
	if err != nil {
		return nil, err
	}
	if err := c.align(); err != nil {
		return nil, err
	}
	c.remaining, c.crc = size, false
	return &cpioEntry{stripped: true, index: int(idx), size: size}, nil
}

// Read reads the current entry's data; it returns io.EOF at its end and
// io.ErrUnexpectedEOF if the stream ends first.
func (c *cpioReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.r.Read(p)
	c.off += int64(n)
	c.remaining -= int64(n)
	if c.crc {
		for _, b := range p[:n] {
			c.sum += uint32(b)
		}
	}
	if c.remaining == 0 {
		if c.crc && c.sum != c.want {
			c.err = fmt.Errorf("%w: header %08x, data %08x", errChecksum, c.want, c.sum)
			return n, c.err
		}
		return n, nil
	}
	if err != nil {
		return n, noEOF(err)
	}
	return n, nil
}

// skipRest discards the unread data of the current entry and its padding.
func (c *cpioReader) skipRest() error {
	for c.remaining > 0 {
		// Read (not Discard) keeps the crc check on skipped data.
		var buf [4096]byte
		if _, err := c.Read(buf[:min(int64(len(buf)), c.remaining)]); err != nil {
			return err
		}
	}
	return c.align()
}

// align consumes the padding to the next 4-byte boundary of the archive.
func (c *cpioReader) align() error {
	n := int((4 - c.off%4) % 4)
	if n == 0 {
		return nil
	}
	m, err := c.r.Discard(n)
	c.off += int64(m)
	if err != nil {
		return noEOF(err)
	}
	return nil
}

func parseHex8(b []byte) (uint32, bool) {
	var v uint32
	for _, ch := range b {
		var d byte
		switch {
		case '0' <= ch && ch <= '9':
			d = ch - '0'
		case 'a' <= ch && ch <= 'f':
			d = ch - 'a' + 10
		case 'A' <= ch && ch <= 'F':
			d = ch - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}
