package image

import (
	"bytes"
	"context"
	"hash/crc32"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// Prepared holds compressed blocks of files made before the layer that
// holds them: a build compresses the files it expects in its image while a
// CPU would otherwise wait for the last package to decompress, and Layer
// takes the blocks it finds instead of compressing them again (or waits
// for a block being made). It changes no byte of the layer: a file of at
// least gzipSegmentMin bytes is compressed in blocks that depend on its
// content alone (parallelGzip), named here by the content's sha256. A
// block is used only when the CRC-32 of the input it was made from matches
// the layer's, so a wrong digest from the caller costs time, not a corrupt
// layer. Safe for concurrent use.
type Prepared struct {
	level, blockSize int
	segMin           int // gzipSegmentMin; smaller in tests
	mu               sync.Mutex
	blocks           map[preparedKey]*preparedBlock
	encoders         []*flate.Writer // free, for Add
	used             atomic.Int64    // Used
}

type preparedKey struct {
	sum   [32]byte
	index int
}

// preparedBlock is one block, made or in the making (done is closed once
// out and err are set).
type preparedBlock struct {
	done chan struct{}
	crc  uint32 // of the dictionary and the input the block was made from
	out  []byte
	err  error
}

// NewPrepared returns an empty Prepared for Layer.
func NewPrepared() *Prepared {
	return newPrepared(layerLevel, gzipBlockSize, gzipSegmentMin)
}

func newPrepared(level, blockSize, segMin int) *Prepared {
	return &Prepared{level: level, blockSize: blockSize, segMin: segMin, blocks: map[preparedKey]*preparedBlock{}}
}

// Add compresses data, the first bytes of a file of size bytes whose
// content has the sha256 sum (all of them when len(data) == size), the
// way Layer compresses it, on the calling goroutine: the blocks data holds
// whole. Blocks already made or being made are skipped; files too small to
// be compressed on their own are ignored. It returns early once ctx is
// done.
func (p *Prepared) Add(ctx context.Context, sum []byte, size int, data []byte) {
	if size < p.segMin || len(sum) != 32 || len(data) > size {
		return
	}
	var enc *flate.Writer
	p.mu.Lock()
	if k := len(p.encoders); k > 0 {
		enc, p.encoders = p.encoders[k-1], p.encoders[:k-1]
	}
	p.mu.Unlock()
	for i, start := 0, 0; start < len(data) && ctx.Err() == nil; i, start = i+1, start+p.blockSize {
		end := min(start+p.blockSize, size)
		if end > len(data) {
			break
		}
		dict, in := data[max(0, start-gzipDictSize):start], data[start:end]
		b, mine := p.claim(sum, i)
		if !mine {
			continue
		}
		var out bytes.Buffer
		var err error
		enc, err = deflateBlock(enc, &out, p.level, dict, in, false)
		p.finish(b, inputCRC(dict, in), out.Bytes(), err)
	}
	if enc != nil {
		p.mu.Lock()
		p.encoders = append(p.encoders, enc)
		p.mu.Unlock()
	}
}

// block returns the compressed block index of the file whose sha256 is
// sum, with dictionary dict and input in: the prepared one when it was
// made from the same bytes (waiting for it if it is being made), else
// deflate's output.
func (p *Prepared) block(sum []byte, index int, dict, in []byte, deflate func() ([]byte, error)) ([]byte, error) {
	b, mine := p.claim(sum, index)
	if mine {
		// The output is the layer's block's own (never reused): kept for
		// another layer of the same files.
		out, err := deflate()
		p.finish(b, inputCRC(dict, in), out, err)
		return out, err
	}
	<-b.done
	if b.err == nil && b.out != nil && b.crc == inputCRC(dict, in) {
		p.used.Add(int64(len(in)))
		return b.out, nil
	}
	return deflate()
}

// Used returns how many bytes of file data Layer found compressed here
// (made by Add, or by an earlier Layer) instead of compressing them.
func (p *Prepared) Used() int64 { return p.used.Load() }

// claim returns the block, and whether the caller is to make it (it was
// not there).
func (p *Prepared) claim(sum []byte, index int) (*preparedBlock, bool) {
	k := preparedKey{index: index}
	copy(k.sum[:], sum)
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.blocks[k]; ok {
		return b, false
	}
	b := &preparedBlock{done: make(chan struct{})}
	p.blocks[k] = b
	return b, true
}

func (p *Prepared) finish(b *preparedBlock, crc uint32, out []byte, err error) {
	b.crc, b.out, b.err = crc, out, err
	close(b.done)
}

func inputCRC(dict, in []byte) uint32 {
	return crc32.Update(crc32.ChecksumIEEE(dict), crc32.IEEETable, in)
}
