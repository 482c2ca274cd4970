package extract

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/bytesize"
)

// Expanded is a package with its payload decompressed: what Package needs
// from an .rpm, in a form that costs no decompression to extract again.
// Expand makes one; Apply extracts it; WriteTo and ParseExpanded store it
// (smith keeps them in its cache, so that a second build of the same
// packages does not decompress them again).
//
// An Expanded holds no more trust than the bytes it came from: signature
// and checksum checks happen before Expand.
type Expanded struct {
	// Header is the main header structure, as in the package.
	Header []byte
	// Payload is the decompressed payload (the cpio archive and whatever
	// the compressed stream held after it).
	Payload []byte
	// Compressor is the payload's compressor in the package ("xz", ...).
	Compressor string
}

// ErrBadExpanded reports stored Expanded bytes that are damaged or not in
// this version's format.
var ErrBadExpanded = errors.New("damaged or foreign expanded package")

// Expand reads one .rpm from r and decompresses its payload into memory
// (at most opt.MaxBytes), checking what the decompressor checks (read to
// its end). The header and file list are validated as Package does, and
// the regular files' data against the header's digests (verifyFiles);
// everything else in the cpio archive is Apply's to check.
func Expand(ctx context.Context, r io.Reader, opt Options) (*Expanded, error) {
	x := newExtractor(nil, opt)
	e, err := x.expand(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", x.label(), err)
	}
	return e, nil
}

func (x *extractor) expand(ctx context.Context, r io.Reader) (*Expanded, error) {
	br, h, err := readPackageHeaders(r)
	if err != nil {
		return nil, err
	}
	if err := x.prepare(h); err != nil {
		return nil, err
	}
	comp, err := x.payloadCompressor(h, br)
	if err != nil {
		return nil, err
	}
	hint := min(x.payloadBound, x.payloadMax, maxPresize)
	payload, verified, err := x.expandInMemory(ctx, comp, &br, hint)
	if err != nil {
		return nil, err
	}
	if payload == nil {
		dr, closeDR, err := x.decompress(comp, br)
		if err != nil {
			return nil, err
		}
		defer closeDR()
		if payload, err = readAll(ctxReader{ctx, dr}, hint); err != nil {
			return nil, payloadError("while decompressing", err)
		}
	}
	if !verified {
		if err := x.verifyFiles(ctx, &memSource{b: payload}); err != nil {
			return nil, err
		}
	}
	return &Expanded{Header: h.raw(), Payload: payload, Compressor: x.info.Payload}, nil
}

// expandInMemory decompresses xz and zstd payloads whole, from a buffer
// into a buffer: xz with decodeXZ, our in-memory decoder; zstd with
// DecodeAll, a quarter faster than the streaming reader. It returns nil
// (and *br reading the same bytes again) for other payloads and for xz
// streams decodeXZ leaves to the streaming decoder. An xz payload's file
// digests are checked on another goroutine as it is decoded (verified is
// then true): the decoder is a build's critical path, and checking after
// it would add ~5 ms per 5 MB to it.
func (x *extractor) expandInMemory(ctx context.Context, comp string, br **bufio.Reader, hint int64) (payload []byte, verified bool, err error) {
	if comp != compXZ && comp != compZstd {
		return nil, false, nil
	}
	// A compressed payload is not much larger than the decompressed one
	// may be (neither format expands data by more than a few bytes per
	// block).
	in, err := io.ReadAll(io.LimitReader(*br, x.opt.MaxBytes+1<<20))
	if err != nil {
		return nil, false, payloadError("while reading", err)
	}
	var out []byte
	if comp == compZstd {
		// Bounded by MaxBytes and, when the header's bound is small
		// enough to allocate up front, by that bound (slack aside: no
		// real payload comes near it).
		capTo := 0
		if b := x.payloadBound + zstdCapSlack; b < x.payloadMax && b <= maxPresize {
			capTo = int(b)
		}
		out, err = x.opt.Decoders.decodeAllZstd(in, x.opt.MaxBytes, capTo, int(hint))
		if err == nil && int64(len(out)) > x.payloadMax {
			err = ErrTooLarge
		}
	} else {
		var verr error
		out, verr, err = x.decodeXZVerifying(ctx, in, hint)
		if err == nil {
			if verr != nil {
				return nil, false, verr
			}
			verified = true
		}
	}
	switch {
	case errors.Is(err, errStreaming):
		*br = bufio.NewReaderSize(bytes.NewReader(in), 64<<10)
		return nil, false, nil
	case errors.Is(err, ErrTooLarge):
		return nil, false, x.tooLarge()
	case err != nil:
		return nil, false, fmt.Errorf("%s payload: %w", comp, err)
	}
	return out, verified, nil
}

// decodeXZVerifying runs decodeXZ and, on another goroutine, verifyFiles
// over its output as it grows. A digest mismatch stops the decoder. The
// verifier's result (verr) counts only when the decoder succeeded: after
// errStreaming the payload is decoded and verified again.
func (x *extractor) decodeXZVerifying(ctx context.Context, in []byte, hint int64) (out []byte, verr, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := newGrowingPayload()
	verrc := make(chan error, 1)
	go func() {
		err := x.verifyFiles(ctx, &memSource{grow: g})
		if err != nil {
			cancel()
		}
		verrc <- err
	}()
	out, err = decodeXZ(ctx, in, x.payloadMax, int(hint), g.publish)
	g.finish(out)
	verr = <-verrc
	if err != nil && verr != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The verifier stopped the decoder: its error is the one to tell.
		return nil, verr, nil
	}
	return out, verr, err
}

// verifyFiles checks the data of the payload's regular files against the
// header's digests. Expand does it, not Apply: as the package is
// decompressed, and once, however often the stored Expanded is applied
// later. Every other check is Apply's. With the payload still growing,
// each file is checked as soon as all of it has arrived, and
// Options.Growing is told about its parts before that.
func (x *extractor) verifyFiles(ctx context.Context, src *memSource) error {
	cr := newCpioReader(src, x.files.strippedSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return payloadError("in its cpio archive", err)
		}
		idx, label, err := x.lookup(e)
		if err != nil {
			return err
		}
		f := &x.files.files[idx]
		// Hardlink members without the data carry size 0; the member
		// that has it is checked. Size disagreements are Apply's to report.
		if f.digest == "" || f.mode&modeType != modeReg || f.flags&fileFlagGhost != 0 || e.size != f.size {
			continue
		}
		var data []byte
		var ok bool
		if src.grow != nil {
			data, ok, err = x.takeGrowing(cr, f)
		} else {
			data, ok, err = cr.take()
		}
		if !ok {
			// A crc-format archive: the reader sums what it hands out.
			data, err = io.ReadAll(cr)
		}
		if err != nil {
			return payloadError("at entry "+label, err)
		}
		if err := checkDigest(x.files.algo, f.digest, data); err != nil {
			return fmt.Errorf("entry %s: %w", label, err)
		}
	}
}

// takeGrowing takes file f's data from an archive still growing, telling
// Options.Growing about each new part when f has a sha256 digest.
func (x *extractor) takeGrowing(cr *cpioReader, f *fileInfo) ([]byte, bool, error) {
	var sum []byte
	if x.opt.Growing != nil && x.files.algo == algoSHA256 {
		if s, err := hex.DecodeString(f.digest); err == nil && len(s) == sha256.Size {
			sum = s
		}
	}
	return cr.takeGrowing(func(prefix []byte) {
		if sum != nil {
			x.opt.Growing(f.path, sum, int(f.size), prefix)
		}
	})
}

// readAll reads r to its end into a buffer of capacity size at first (the
// payload the header promises, bounded: a lying header must not cost
// much). A full buffer grows only once a probe shows more data: a payload
// that fills it exactly costs no second buffer.
func readAll(r io.Reader, size int64) ([]byte, error) {
	buf := make([]byte, 0, max(size, 512))
	for {
		if len(buf) == cap(buf) {
			var probe [1]byte
			n, err := io.ReadFull(r, probe[:])
			if n == 0 {
				if err == io.EOF {
					return buf, nil
				}
				return buf, err
			}
			buf = append(buf, probe[0]) // grows the buffer
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// maxPresize bounds the payload buffer allocated before data arrives.
const maxPresize = 16 << 20

// zstdCapSlack is the room left beyond payloadBound in a zstd payload's
// buffer: a payload that needs more is decoded again by the streaming
// decoder, bounded by payloadMax.
const zstdCapSlack = 64 << 10

// ctxReader stops a long decompression when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Apply extracts an expanded package into tree exactly as Package extracts
// the .rpm it came from (Info.Payload names the original compressor),
// except that the files' digests are not checked again: Expand did (a
// stored Expanded is protected by its CRC). The tree's file data are
// slices of e.Payload, not copies: e must not be changed afterwards.
func Apply(ctx context.Context, tree *fstree.Tree, e *Expanded, opt Options) (*Info, error) {
	x := newExtractor(tree, opt)
	x.digestsChecked = true
	if err := x.apply(ctx, e); err != nil {
		return nil, fmt.Errorf("extract %s: %w", x.label(), err)
	}
	return x.info, nil
}

func (x *extractor) apply(ctx context.Context, e *Expanded) error {
	h, err := readHeader(bufio.NewReader(bytes.NewReader(e.Header)), "header", false)
	if err != nil {
		return err
	}
	if err := x.prepare(h); err != nil {
		return err
	}
	x.info.Payload = e.Compressor
	if int64(len(e.Payload)) > x.opt.MaxBytes {
		return fmt.Errorf("%w %s: %d bytes", ErrTooLarge, bytesize.Hint(x.opt.MaxBytes), len(e.Payload))
	}
	if err := x.fillFrom(ctx, &memSource{b: e.Payload}); err != nil {
		return err
	}
	x.info.PayloadBytes = int64(len(e.Payload))
	return x.finish()
}

// label names the package in errors: Options.Name, else the NEVRA once
// the header is read.
func (x *extractor) label() string {
	switch {
	case x.opt.Name != "":
		return x.opt.Name
	case x.info.Name != "":
		return x.info.NEVRA()
	}
	return "rpm"
}

// The stored form: magic, then uvarint-prefixed compressor, header and
// payload, then the CRC-32C of everything before it (big-endian). The CRC
// catches a damaged file (a crash mid-write, a bad disk); it does not stop
// someone who can write the file, who could as well rewrite the checksum.
var expandedMagic = []byte("smith-expanded-1\n")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxCompressorName bounds the compressor field of stored bytes.
const maxCompressorName = 16

// WriteTo writes e in its stored form.
func (e *Expanded) WriteTo(w io.Writer) (int64, error) {
	cw := &crcWriter{w: w}
	size := func(b []byte) []byte { return binary.AppendUvarint(nil, uint64(len(b))) }
	for _, part := range [][]byte{
		expandedMagic,
		size([]byte(e.Compressor)), []byte(e.Compressor),
		size(e.Header), e.Header,
		size(e.Payload), e.Payload,
	} {
		if _, err := cw.Write(part); err != nil {
			return cw.n, err
		}
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], cw.crc)
	m, err := w.Write(sum[:])
	return cw.n + int64(m), err
}

type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// ParseExpanded reads the stored form written by WriteTo. The result's
// slices alias data. Errors wrap ErrBadExpanded.
func ParseExpanded(data []byte) (*Expanded, error) {
	bad := func(why string) (*Expanded, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadExpanded, why)
	}
	if !bytes.HasPrefix(data, expandedMagic) {
		return bad("no smith-expanded-1 magic")
	}
	if len(data) < len(expandedMagic)+4 {
		return bad("truncated")
	}
	body, sum := data[:len(data)-4], data[len(data)-4:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum) {
		return bad("CRC-32C mismatch")
	}
	rest := body[len(expandedMagic):]
	field := func(limit uint64) ([]byte, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > limit || n > uint64(len(rest)-k) {
			return nil, false
		}
		f := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		return f, true
	}
	comp, ok := field(maxCompressorName)
	if !ok {
		return bad("compressor field")
	}
	hdr, ok := field(uint64(len(rest)))
	if !ok {
		return bad("header field")
	}
	payload, ok := field(uint64(len(rest)))
	if !ok {
		return bad("payload field")
	}
	if len(rest) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(rest)))
	}
	return &Expanded{Header: hdr, Payload: payload, Compressor: string(comp)}, nil
}
