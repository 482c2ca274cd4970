package repo

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/xi2/xz"

	"github.com/smith-build/smith/internal/bytesize"
)

// maxXZDict bounds the dictionary an xz block may ask for (xz -9 uses 64 MiB).
const maxXZDict = 1 << 26

// Magic numbers of the formats repodata comes in.
const (
	magicGzip  = "\x1f\x8b"
	magicXZ    = "\xfd7zXZ\x00"
	magicZstd  = "\x28\xb5\x2f\xfd"
	magicBzip2 = "BZh"
	magicZck   = "\x00ZCK1"
)

// compression returns the format of a stream from its first bytes, falling
// back to the file name's extension only when the bytes say nothing. The
// bytes win because the checksum has already vouched for them, while
// extensions lie (servers that transparently decompress, renamed files).
func compression(head []byte, name string) string {
	switch {
	case bytes.HasPrefix(head, []byte(magicGzip)):
		return "gzip"
	case bytes.HasPrefix(head, []byte(magicXZ)):
		return "xz"
	case bytes.HasPrefix(head, []byte(magicZstd)):
		return "zstd"
	case bytes.HasPrefix(head, []byte(magicBzip2)):
		return "bzip2"
	case bytes.HasPrefix(head, []byte(magicZck)):
		return "zck"
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if bytes.HasPrefix(trimmed, []byte("<")) {
		return "plain"
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".gz":
		return "gzip"
	case ".xz":
		return "xz"
	case ".zst", ".zstd":
		return "zstd"
	case ".bz2":
		return "bzip2"
	case ".zck":
		return "zck"
	}
	return "plain"
}

// decompressor wraps r in the decompressor its content needs, limiting the
// decompressed size to limit bytes (decompression bombs). name is used for
// the extension fallback and in errors.
func decompressor(r io.Reader, name string, limit int64) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(8)
	var dr io.Reader
	closer := func() {}
	switch c := compression(head, name); c {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		dr, closer = zr, func() { zr.Close() }
	case "xz":
		// xi2/xz bounds the dictionary: ulikunitz/xz allocates whatever
		// a block header declares (up to 4 GiB). createrepo_c uses xz -9
		// at most (64 MiB), the same bound as extract's payloads.
		xr, err := xz.NewReader(br, maxXZDict)
		if err != nil {
			return nil, fmt.Errorf("%s: xz: %w", name, err)
		}
		dr = xr
	case "zstd":
		// One goroutine and a bounded window: metadata is small enough,
		// and a hostile frame must not make us allocate gigabytes.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(128<<20), zstd.WithDecoderMaxMemory(uint64(limit)))
		if err != nil {
			return nil, fmt.Errorf("%s: zstd: %w", name, err)
		}
		dr, closer = zr, zr.Close
	case "bzip2":
		dr = bzip2.NewReader(br)
	case "zck":
		return nil, fmt.Errorf("%s: zchunk files are not supported; the repository also carries gzip/xz/zstd metadata, use that", name)
	default:
		dr = br
	}
	return &limitReader{r: dr, left: limit, limit: limit, close: closer}, nil
}

// limitReader fails, rather than truncating silently like io.LimitReader,
// once more than limit bytes come out of a decompressor.
type limitReader struct {
	r     io.Reader
	left  int64
	limit int64
	close func()
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Probe for one more byte: exactly limit bytes is fine.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, l.tooLarge()
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, xz.ErrMemlimit):
		err = fmt.Errorf("decompressing: xz: the stream needs a dictionary over %d MiB (a hostile or unusual file)", maxXZDict>>20)
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		// The frame header declares a size over the limit.
		err = l.tooLarge()
	default:
		// No file name: the reader's consumer (the XML scanner) adds it.
		err = fmt.Errorf("decompressing: %w", err)
	}
	return n, err
}

// tooLarge gives the limit as the --max-size (Options.MaxMetadataSize)
// that would raise it: only the user can tell genuine metadata that large
// from a bomb.
func (l *limitReader) tooLarge() error {
	return fmt.Errorf("exceeds the size limit %s: decompresses to more than %d bytes", bytesize.Hint(l.limit), l.limit)
}

func (l *limitReader) Close() error {
	l.close()
	return nil
}
