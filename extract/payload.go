package extract

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"
	"github.com/xi2/xz"

	"github.com/smith-build/smith/internal/bytesize"
)

// Payload compressor names, as rpm spells them in PAYLOADCOMPRESSOR.
const (
	compGzip  = "gzip"
	compXZ    = "xz"
	compZstd  = "zstd"
	compBzip2 = "bzip2"
	compLZMA  = "lzma"
	compNone  = "none"
)

// Decoder memory bounds, checked before the decoders allocate their
// windows. rpm's largest settings are zstd --long (window 2^27) and xz/lzma
// -9 (64 MiB dictionary); a stream asking for more is hostile or not from
// rpm.
const (
	maxZstdWindow = 1 << 27
	maxXZDict     = 1 << 26
	maxLZMADict   = 1 << 26
)

// sniff names the compressor from the payload's first bytes, or "" when they
// say nothing. Legacy .lzma has no magic; its usual first bytes (properties
// 0x5d = lc3 lp0 pb2, then a little-endian power-of-two dictionary size) are
// checked only when the tag is absent or says otherwise.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return compGzip
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		return compXZ
	case bytes.HasPrefix(head, []byte("\x28\xb5\x2f\xfd")):
		return compZstd
	case bytes.HasPrefix(head, []byte("BZh")):
		return compBzip2
	case bytes.HasPrefix(head, []byte("07070")):
		return compNone
	}
	return ""
}

func looksLZMA(head []byte) bool {
	if len(head) < 5 || head[0] != 0x5d {
		return false
	}
	dict := uint32(head[1]) | uint32(head[2])<<8 | uint32(head[3])<<16 | uint32(head[4])<<24
	return dict != 0 && dict&(dict-1) == 0
}

// normalizeCompressor maps tag spellings to our names ("" when unknown).
func normalizeCompressor(tag string) string {
	switch tag {
	case "gzip", "xz", "zstd", "bzip2", "lzma":
		return tag
	case "", "none", "identity":
		return compNone
	}
	return ""
}

// chooseCompressor decides how to decompress the payload: the magic bytes
// win over the tag (a repacked or mislabelled payload still extracts), the
// tag is used for lzma, which has no magic.
func chooseCompressor(tag string, head []byte) (string, error) {
	if c := sniff(head); c != "" {
		return c, nil
	}
	if looksLZMA(head) {
		return compLZMA, nil
	}
	if normalizeCompressor(tag) == compLZMA {
		return compLZMA, nil
	}
	if len(head) == 0 {
		return "", fmt.Errorf("payload missing (the file ends after the header): %w", io.ErrUnexpectedEOF)
	}
	return "", fmt.Errorf("%w: payload compressor %q with leading bytes %x", ErrUnsupported, tag, head)
}

// decompressor wraps r for comp. The returned close function releases
// decoder resources (zstd keeps goroutines) and must always be called.
func decompressor(comp string, r io.Reader) (io.Reader, func(), error) {
	return (*Decoders)(nil).decompressor(comp, r)
}

// Decoders keeps decompressors alive between the packages of one build.
// Why: a zstd decoder allocates and clears its whole window for every
// stream (8 MiB at rpm's level 19), which was a fifth of a cat build's CPU;
// a reused decoder keeps its buffers. Not safe for concurrent use; Close
// releases it.
type Decoders struct {
	zstd *zstd.Decoder
	// zstdAll decodes whole payloads (DecodeAll), bounded by zstdAllMax,
	// and by the output buffer's capacity when zstdAllCap.
	zstdAll    *zstd.Decoder
	zstdAllMax int64
	zstdAllCap bool
}

// Close releases the decoders' resources.
func (d *Decoders) Close() {
	if d == nil {
		return
	}
	for _, z := range []**zstd.Decoder{&d.zstd, &d.zstdAll} {
		if *z != nil {
			(*z).Close()
			*z = nil
		}
	}
}

// decodeAllZstd decompresses a whole zstd payload, at most limit bytes
// (more is ErrTooLarge), reusing d's decoder when d is not nil. capTo,
// when positive, bounds the output further, to what the package's header
// allows: a payload over it is handed back (errStreaming) for the
// streaming decoder to bound exactly. (The decoder's own size bound would
// also cap the window it accepts, and rpm's zstd windows are larger than
// most payloads: the output buffer's capacity bounds the output instead.)
func (d *Decoders) decodeAllZstd(in []byte, limit int64, capTo, hint int) ([]byte, error) {
	useCap := capTo > 0
	var z *zstd.Decoder
	switch {
	case d != nil && d.zstdAll != nil && d.zstdAllMax == limit:
		z = d.zstdAll
		if d.zstdAllCap != useCap {
			if err := z.ResetWithOptions(nil, zstd.WithDecodeAllCapLimit(useCap)); err != nil {
				return nil, err
			}
			d.zstdAllCap = useCap
		}
	default:
		var err error
		z, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxZstdWindow),
			zstd.WithDecoderMaxMemory(uint64(limit)),
			zstd.WithDecodeAllCapLimit(useCap))
		if err != nil {
			return nil, err
		}
		if d != nil {
			if d.zstdAll != nil {
				d.zstdAll.Close()
			}
			d.zstdAll, d.zstdAllMax, d.zstdAllCap = z, limit, useCap
		} else {
			defer z.Close()
		}
	}
	size := max(hint, 64)
	if useCap {
		size = capTo
	}
	out, err := z.DecodeAll(in, make([]byte, 0, size))
	switch {
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		// A window larger than the limit may still hold a payload within
		// it: the streaming decoder bounds the output, not the window.
		return nil, errStreaming
	case useCap && err != nil:
		// Past the capacity, the decoder reports a size error of one
		// kind or another; the streaming decoder tells which it was.
		return nil, errStreaming
	case errors.Is(err, zstd.ErrDecoderSizeExceeded) || int64(len(out)) > limit:
		return nil, ErrTooLarge
	}
	return out, err
}

// decompressor is the package-level decompressor, reusing d's decoders
// when d is not nil.
func (d *Decoders) decompressor(comp string, r io.Reader) (io.Reader, func(), error) {
	if comp == compZstd && d != nil {
		if d.zstd == nil {
			zr, err := newZstd(r)
			if err != nil {
				return nil, func() {}, err
			}
			d.zstd = zr
			return zr, func() {}, nil
		}
		if err := d.zstd.Reset(r); err != nil {
			return nil, func() {}, fmt.Errorf("zstd payload: %w", err)
		}
		return d.zstd, func() {}, nil
	}
	nop := func() {}
	switch comp {
	case compGzip:
		// klauspost's gzip is a drop-in for compress/gzip, about twice as
		// fast; it reads from r as an io.ByteReader, so no extra buffer.
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("gzip payload: %w", noEOF(err))
		}
		return zr, func() { zr.Close() }, nil
	case compXZ:
		// xi2/xz (a port of XZ Embedded) bounds the dictionary, where
		// ulikunitz/xz allocates whatever a block header asks for (up to
		// 1.5 GiB), and allocates almost nothing per block.
		xr, err := xz.NewReader(r, maxXZDict)
		if err != nil {
			return nil, nop, fmt.Errorf("xz payload: %w", noEOF(err))
		}
		return xr, nop, nil
	case compZstd:
		zr, err := newZstd(r)
		if err != nil {
			return nil, nop, err
		}
		return zr, zr.Close, nil
	case compBzip2:
		return bzip2.NewReader(r), nop, nil
	case compLZMA:
		lr, err := lzma.ReaderConfig{DictCap: maxLZMADict}.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("lzma payload: %w", noEOF(err))
		}
		return lr, nop, nil
	case compNone:
		return r, nop, nil
	}
	return nil, nop, fmt.Errorf("%w: payload compressor %q", ErrUnsupported, comp)
}

// limitReader counts the decompressed bytes and fails once they pass the
// limit: an error, not a quiet EOF, so a decompression bomb cannot pass for
// a short payload.
type limitReader struct {
	r     io.Reader
	n     int64 // bytes read so far
	limit int64
	over  func() error // the error past the limit; nil: ErrTooLarge with the --max-size hint
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n >= l.limit {
		// Probe one byte: a payload that ends exactly at the limit is fine.
		var b [1]byte
		if m, err := l.r.Read(b[:]); m == 0 {
			return 0, err
		}
		if l.over != nil {
			return 0, l.over()
		}
		return 0, fmt.Errorf("%w %s", ErrTooLarge, bytesize.Hint(l.limit))
	}
	if int64(len(p)) > l.limit-l.n {
		p = p[:l.limit-l.n]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

// newZstd makes the payload zstd decoder: one decoder goroutine (the tree
// is filled sequentially anyway, and a synchronous decoder keeps the memory
// at one window) and a bounded window.
func newZstd(r io.Reader) (*zstd.Decoder, error) {
	zr, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(maxZstdWindow))
	if err != nil {
		return nil, fmt.Errorf("zstd payload: %w", err)
	}
	return zr, nil
}
