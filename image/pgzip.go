package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"runtime"

	"github.com/klauspost/compress/flate"
)

// gzipBlockSize is the uncompressed size of the blocks parallelGzip
// compresses independently. It is part of the output format (the blocks'
// boundaries show in the bytes), so it must not depend on the machine.
// A stream of at most one block comes out byte for byte as klauspost's
// gzip writer at the same level writes it, so small layers kept their
// digests. The size barely matters to the ratio: on 10 MB of ELF files,
// 256 KiB to 4 MiB blocks all came within 0.03% of sequential gzip.
const gzipBlockSize = 1 << 20

// gzipDictSize is the DEFLATE window: each block is primed with the last
// this many bytes before it, so matches reach back across block boundaries
// as they would in one sequential stream.
const gzipDictSize = 32 << 10

// gzipSegmentMin is the size from which a file's data is compressed on its
// own: its blocks start where the data starts and the first is primed with
// nothing, so that they depend on the file's content alone and can be
// compressed before the layer exists (Prepared). Part of the output format,
// like gzipBlockSize. Smaller files stay in the blocks around them, where
// headers and small files share a dictionary.
const gzipSegmentMin = 128 << 10

// SegmentMin is the smallest file Prepared.Add compresses.
const SegmentMin = gzipSegmentMin

// The bytes after a file are primed with the file's last gzipDictSize
// bytes: a file compressed on its own must be at least that long.
var _ = [gzipSegmentMin - gzipDictSize]struct{}{}

// gzipHeader is klauspost's (and Go's) gzip header with nothing set: no
// name, no mtime, XFL 0 (as written for levels other than 1 and 9) and OS
// 255 (unknown).
const gzipHeader = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

// parallelGzip is a gzip writer that compresses blocks of its input on up
// to GOMAXPROCS goroutines, in the manner of pigz: every block but the
// last ends with a sync flush, so the raw DEFLATE outputs concatenate into
// one stream behind one header. The input is cut into blocks of blockSize
// bytes, primed with the gzipDictSize bytes before them, except the data
// of files announced with File: a file of at least segMin bytes is cut
// into blocks of its own, from its first byte, the first primed with
// nothing and the others with the file's preceding bytes. The bytes depend
// only on the input, the files announced and the level, never on
// scheduling, on the number of CPUs or on what Prepared held.
type parallelGzip struct {
	w         io.Writer
	level     int
	blockSize int // gzipBlockSize; smaller in tests
	segMin    int // gzipSegmentMin; smaller in tests
	prepared  *Prepared

	crc  uint32
	size uint32 // the input size modulo 2^32, as the trailer records it

	cur *gzipBlock // filling (nil while a file's data is written)
	// fileLeft counts the bytes of the announced file still to be written;
	// file is the file's data, which they are.
	file     []byte
	fileLeft int

	pending []*gzipBlock // compressing or compressed, in stream order
	free    []*gzipBlock
	// encoders holds at most one flate writer per CPU (nil until first
	// needed); taking one is the permission to compress.
	encoders   chan *flate.Writer
	maxPending int

	wroteHeader, closed bool
	err                 error
}

// gzipBlock is one block: its input and dictionary, and its raw DEFLATE
// output once done is signalled.
type gzipBlock struct {
	// buf is the storage of a block of the stream (buf[:dict] the
	// dictionary, buf[dict:] the input); a file's block has none, its
	// in and dictionary are slices of the file.
	buf      []byte
	dict     int
	dictData []byte
	in       []byte
	last     bool
	// sum and index name a file's block in Prepared (sum nil: none).
	sum   []byte
	index int
	out   bytes.Buffer
	res   []byte // the output: out's bytes or Prepared's
	err   error
	done  chan struct{}
}

func newParallelGzip(w io.Writer, level, blockSize, segMin int, prepared *Prepared) *parallelGzip {
	workers := runtime.GOMAXPROCS(0)
	z := &parallelGzip{
		w:         w,
		level:     level,
		blockSize: blockSize,
		segMin:    max(segMin, gzipDictSize),
		prepared:  prepared,
		// Two blocks per worker: one compressing, one waiting, so that
		// workers do not idle while a finished block is written out.
		maxPending: 2 * workers,
		encoders:   make(chan *flate.Writer, workers),
		cur:        &gzipBlock{done: make(chan struct{}, 1)},
	}
	for i := 0; i < workers; i++ {
		z.encoders <- nil
	}
	if prepared != nil && (prepared.level != level || prepared.blockSize != blockSize) {
		z.prepared = nil // compressed another way: of no use
	}
	return z
}

// File announces that the next len(data) bytes written are data, a file's
// content whose sha256 is sum (nil when not known; only then is Prepared
// consulted). Files smaller than segMin are written as any other bytes.
func (z *parallelGzip) File(data, sum []byte) {
	if z.err != nil || z.closed || z.fileLeft > 0 || len(data) < z.segMin {
		return
	}
	// The stream's bytes so far end a block (unless there are none since
	// the last one).
	if len(z.cur.buf) > z.cur.dict {
		if z.err = z.send(false); z.err != nil {
			return
		}
	}
	z.freeBlock(z.cur)
	z.cur = nil
	if len(sum) != 32 {
		sum = nil
	}
	for i, start := 0, 0; start < len(data); i, start = i+1, start+z.blockSize {
		end := min(start+z.blockSize, len(data))
		b := &gzipBlock{
			dictData: data[max(0, start-gzipDictSize):start],
			in:       data[start:end],
			sum:      sum,
			index:    i,
			done:     make(chan struct{}, 1),
		}
		if z.err = z.enqueue(b); z.err != nil {
			return
		}
	}
	z.file, z.fileLeft = data, len(data)
}

func (z *parallelGzip) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, errors.New("gzip: write after close")
	}
	n := 0
	for n < len(p) {
		if z.fileLeft > 0 {
			// The file's blocks are queued already: these bytes are its
			// data, to be counted only.
			k := min(z.fileLeft, len(p)-n)
			z.account(p[n : n+k])
			n += k
			if z.fileLeft -= k; z.fileLeft == 0 {
				z.cur = z.newBlock(z.file[max(0, len(z.file)-gzipDictSize):])
				z.file = nil
			}
			continue
		}
		// A full block is sent only once more input arrives, so that the
		// last block is always the one Close compresses with a final
		// DEFLATE block.
		if len(z.cur.buf)-z.cur.dict == z.blockSize {
			if err := z.send(false); err != nil {
				return n, err
			}
		}
		k := min(z.blockSize-(len(z.cur.buf)-z.cur.dict), len(p)-n)
		z.cur.buf = append(z.cur.buf, p[n:n+k]...)
		z.account(p[n : n+k])
		n += k
	}
	return n, nil
}

func (z *parallelGzip) account(p []byte) {
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p)
	z.size += uint32(len(p))
}

// send starts compressing the current block and makes the next one.
func (z *parallelGzip) send(last bool) error {
	b := z.cur
	b.last = last
	b.dictData, b.in = b.buf[:b.dict], b.buf[b.dict:]
	if err := z.enqueue(b); err != nil {
		return err
	}
	if last {
		z.cur = nil
		return nil
	}
	z.cur = z.newBlock(b.buf[max(0, len(b.buf)-gzipDictSize):])
	return nil
}

// enqueue starts compressing b, writing out finished blocks while too many
// are pending.
func (z *parallelGzip) enqueue(b *gzipBlock) error {
	for len(z.pending) >= z.maxPending {
		z.writeHead()
	}
	if z.err != nil {
		return z.err
	}
	z.pending = append(z.pending, b)
	go z.compress(b)
	return nil
}

// newBlock returns an empty block of the stream primed with dict.
func (z *parallelGzip) newBlock(dict []byte) *gzipBlock {
	var next *gzipBlock
	if k := len(z.free); k > 0 {
		next, z.free = z.free[k-1], z.free[:k-1]
	} else {
		// Allocated whole: the stream is longer than a block, so this one
		// will most likely fill up. (The first block grows as needed, so
		// that a small layer allocates little.)
		next = &gzipBlock{buf: make([]byte, 0, gzipDictSize+z.blockSize), done: make(chan struct{}, 1)}
	}
	// A copy of the dictionary, as the block it comes from is reused once
	// written, which may be before next is compressed.
	next.buf = append(next.buf[:0], dict...)
	next.dict = len(next.buf)
	return next
}

// freeBlock keeps b's storage for a later block of the stream.
func (z *parallelGzip) freeBlock(b *gzipBlock) {
	if b != nil && cap(b.buf) > 0 {
		z.free = append(z.free, b)
	}
}

// compress runs on its own goroutine; it touches only b, the encoders and
// Prepared.
func (z *parallelGzip) compress(b *gzipBlock) {
	deflate := func() ([]byte, error) {
		enc := <-z.encoders
		var err error
		enc, err = deflateBlock(enc, &b.out, z.level, b.dictData, b.in, b.last)
		z.encoders <- enc
		return b.out.Bytes(), err
	}
	if b.sum != nil && z.prepared != nil {
		b.res, b.err = z.prepared.block(b.sum, b.index, b.dictData, b.in, deflate)
	} else {
		b.res, b.err = deflate()
	}
	b.done <- struct{}{}
}

// deflateBlock compresses in primed with dict into out (reset first) as
// raw DEFLATE ending with a sync flush, or a final block when last. enc is
// reused when not nil (resetting gives the same bytes as a new writer,
// tested, and saves allocating and clearing its tables); the encoder to
// reuse next is returned, nil after an error (its state is unknown).
func deflateBlock(enc *flate.Writer, out *bytes.Buffer, level int, dict, in []byte, last bool) (*flate.Writer, error) {
	out.Reset()
	// Room for the output unless it compresses worse than 2:1: a buffer
	// grown by doubling would be copied and allocated several times.
	out.Grow(len(in) / 2)
	var err error
	if enc == nil {
		enc, err = flate.NewWriterDict(out, level, dict)
	} else {
		enc.ResetDict(out, dict)
	}
	if err == nil {
		_, err = enc.Write(in)
	}
	if err == nil {
		if last {
			err = enc.Close()
		} else {
			err = enc.Flush()
		}
	}
	if err != nil {
		return nil, err
	}
	return enc, nil
}

// writeHead waits for the first pending block and writes it out (unless
// an error stopped the stream: it is still waited for, so that no
// goroutine outlives Close).
func (z *parallelGzip) writeHead() {
	b := z.pending[0]
	<-b.done
	copy(z.pending, z.pending[1:])
	z.pending = z.pending[:len(z.pending)-1]
	if z.err == nil {
		z.err = b.err
	}
	if z.err == nil && !z.wroteHeader {
		z.wroteHeader = true
		z.err = z.write([]byte(gzipHeader))
	}
	if z.err == nil {
		z.err = z.write(b.res)
	}
	z.freeBlock(b)
}

func (z *parallelGzip) write(p []byte) error {
	n, err := z.w.Write(p)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	return err
}

// Close compresses what is left as the final block, writes every block
// and the trailer. It does not close the underlying writer.
func (z *parallelGzip) Close() error {
	if z.closed {
		return z.err
	}
	z.closed = true
	if z.err == nil && z.fileLeft > 0 {
		z.err = errors.New("gzip: closed before the announced file's data was written")
	}
	if z.err == nil {
		z.err = z.send(true)
	}
	for len(z.pending) > 0 {
		z.writeHead()
	}
	if z.err != nil {
		return z.err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:], z.size)
	z.err = z.write(trailer[:])
	return z.err
}
