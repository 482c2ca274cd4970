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

// gzipHeader is klauspost's (and Go's) gzip header with nothing set: no
// name, no mtime, XFL 0 (as written for levels other than 1 and 9) and OS
// 255 (unknown).
const gzipHeader = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

// parallelGzip is a gzip writer that compresses fixed-size blocks of its
// input on up to GOMAXPROCS goroutines, in the manner of pigz: every block
// but the last ends with a sync flush, so the raw DEFLATE outputs
// concatenate into one stream behind one header. The bytes depend only on
// the input and the level, never on scheduling or the number of CPUs.
type parallelGzip struct {
	w         io.Writer
	level     int
	blockSize int // gzipBlockSize; smaller in tests

	crc  uint32
	size uint32 // the input size modulo 2^32, as the trailer records it

	cur     *gzipBlock   // filling
	pending []*gzipBlock // compressing or compressed, in stream order
	free    []*gzipBlock
	// encoders holds at most one flate writer per CPU (nil until first
	// needed); taking one is the permission to compress.
	encoders   chan *flate.Writer
	maxPending int

	wroteHeader, closed bool
	err                 error
}

// gzipBlock is one block: its input preceded by its dictionary, and its
// raw DEFLATE output once done is signalled.
type gzipBlock struct {
	buf  []byte // buf[:dict] is the dictionary, buf[dict:] the input
	dict int
	last bool
	out  bytes.Buffer
	err  error
	done chan struct{}
}

func newParallelGzip(w io.Writer, level, blockSize int) *parallelGzip {
	workers := runtime.GOMAXPROCS(0)
	z := &parallelGzip{
		w:         w,
		level:     level,
		blockSize: blockSize,
		// Two blocks per worker: one compressing, one waiting, so that
		// workers do not idle while a finished block is written out.
		maxPending: 2 * workers,
		encoders:   make(chan *flate.Writer, workers),
		cur:        &gzipBlock{done: make(chan struct{}, 1)},
	}
	for i := 0; i < workers; i++ {
		z.encoders <- nil
	}
	return z
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
		z.crc = crc32.Update(z.crc, crc32.IEEETable, p[n:n+k])
		z.size += uint32(k)
		n += k
	}
	return n, nil
}

// send starts compressing the current block and makes the next one,
// writing out finished blocks while too many are pending.
func (z *parallelGzip) send(last bool) error {
	for len(z.pending) >= z.maxPending {
		z.writeHead()
	}
	if z.err != nil {
		return z.err
	}
	b := z.cur
	b.last = last
	z.pending = append(z.pending, b)
	go z.compress(b)
	if last {
		z.cur = nil
		return nil
	}
	var next *gzipBlock
	if k := len(z.free); k > 0 {
		next, z.free = z.free[k-1], z.free[:k-1]
	} else {
		// Allocated whole: the stream is longer than a block, so this one
		// will most likely fill up. (The first block grows as needed, so
		// that a small layer allocates little.)
		next = &gzipBlock{buf: make([]byte, 0, gzipDictSize+z.blockSize), done: make(chan struct{}, 1)}
	}
	// A copy of the dictionary, as b's buffer is reused once b is
	// written, which may be before next is compressed.
	next.buf = append(next.buf[:0], b.buf[max(0, len(b.buf)-gzipDictSize):]...)
	next.dict = len(next.buf)
	z.cur = next
	return nil
}

// compress runs on its own goroutine; it touches only b and the encoders.
func (z *parallelGzip) compress(b *gzipBlock) {
	enc := <-z.encoders
	b.out.Reset()
	// Room for the output unless it compresses worse than 2:1: a block
	// grown by doubling would be copied and allocated several times.
	b.out.Grow((len(b.buf) - b.dict) / 2)
	b.err = nil
	dict := b.buf[:b.dict]
	if enc == nil {
		enc, b.err = flate.NewWriterDict(&b.out, z.level, dict)
	} else {
		// Resetting gives the same bytes as a new writer (tested), and
		// saves allocating and clearing the encoder's tables per block.
		enc.ResetDict(&b.out, dict)
	}
	if b.err == nil {
		_, b.err = enc.Write(b.buf[b.dict:])
	}
	if b.err == nil {
		if b.last {
			b.err = enc.Close()
		} else {
			b.err = enc.Flush()
		}
	}
	if b.err != nil {
		enc = nil // its state is unknown: the next block makes a new one
	}
	z.encoders <- enc
	b.done <- struct{}{}
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
		z.err = z.write(b.out.Bytes())
	}
	z.free = append(z.free, b)
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
