package sig

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	_ "crypto/sha512" // registers SHA-384/512 for crypto.Hash
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// RPM file layout and tags (rpm's include/rpm/rpmtag.h and
// docs/manual/format_v4.md, format_v6.md).
const (
	leadSize = 96

	tagHeaderSignatures = 62
	tagHeaderImmutable  = 63

	sigTagDSA      = 267 // RPMSIGTAG_DSA: header-only DSA/ECDSA signature
	sigTagRSA      = 268 // RPMSIGTAG_RSA: header-only RSA/EdDSA signature
	sigTagSHA1     = 269 // RPMSIGTAG_SHA1: header SHA-1, hex
	sigTagSHA256   = 273 // RPMSIGTAG_SHA256: header SHA-256, hex
	sigTagOpenPGP  = 278 // RPMSIGTAG_OPENPGP: rpm ≥ 4.20 / v6 signatures, base64 each
	sigTagSHA3_256 = 279 // RPMSIGTAG_SHA3_256: header SHA3-256, hex
	sigTagReserved = 999 // RPMSIGTAG_RESERVED (v6 packages)
	sigTagPGP      = 1002
	sigTagGPG      = 1005

	hdrTagPayloadDigest     = 5092 // RPMTAG_PAYLOADSHA256 (PAYLOADDIGEST before rpm 6)
	hdrTagPayloadDigestAlgo = 5093
	hdrTagRPMFormat         = 5114
	hdrTagPayloadSHA512     = 5121
	hdrTagPayloadSHA3_256   = 5123

	typeInt32       = 4
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
)

// Limits from rpm's lib/header.cc (hdrblobVerifyLengths, headerMaxbytes):
// a larger header is refused before any of it is buffered, and buffers grow
// only as bytes actually arrive.
const (
	maxSigTags     = 32
	maxSigData     = 64 << 20
	maxHeaderTags  = 0xffff
	maxHeaderData  = 0x0fffffff
	maxHeaderBytes = 256 << 20
)

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
)

// RPMResult reports what VerifyRPM checked.
type RPMResult struct {
	// Signer is the header signature that verified.
	Signer *Signer
	// Signatures lists every header signature found, verified or not.
	Signatures []SignatureStatus
	// HeaderDigests names the header digests from the signature header
	// that matched, e.g. ["SHA256", "SHA1"].
	HeaderDigests []string
	// PayloadCheck says how the returned reader authenticates the
	// payload when it reaches EOF: "SHA256 payload digest" (the digest is
	// in the signed header; rpm ≥ 4.14), "legacy header+payload
	// signature", or "" when nothing covers the payload (rpm < 4.14
	// packages whose legacy signature is absent or by an unknown key):
	// then only the per-file digests of the verified header protect the
	// files, and the extractor must check them.
	PayloadCheck string
	// HeaderOffset and PayloadOffset are byte offsets of the main header
	// and of the payload in the package.
	HeaderOffset, PayloadOffset int64
}

// SignatureStatus is the verdict on one header signature.
type SignatureStatus struct {
	// Tag is the signature header tag it came from: 267, 268 or 278.
	Tag int
	// Version, Algorithm, Hash, KeyID and Created describe the signature
	// packet; they are empty if it could not be parsed.
	Version   int
	Algorithm string
	Hash      string
	KeyID     string
	Created   time.Time
	// Err is nil if the signature verified, else a typed error.
	Err error
}

// VerifyRPM reads an RPM package's lead, signature header (and its padding)
// and main header from r, and verifies the header-only OpenPGP signatures
// (RPMSIGTAG_RSA 268 / RPMSIGTAG_DSA 267, or the RPMSIGTAG_OPENPGP 278
// signatures of rpm ≥ 4.20 and v6 packages, in which case rpm ignores 267
// and 268 and so does this) over the main header — the bytes from its magic
// through the end of its data store — and the header digests
// (RPMSIGTAG_SHA256, SHA3_256, SHA1) that the signature header carries.
//
// Signature versions 3, 4 and 6 are verified. When several signatures are
// present, at least one must verify with a trusted key and none by a key in
// the keyring may fail; signatures by unknown keys or with algorithms the
// policy refuses are then ignored (listed in RPMResult.Signatures). The
// IMA/fs-verity file signatures (274, 276) are not checked (rpm checks them
// only at install time, in a kernel plugin).
//
// On success it returns a reader that yields every byte read so far,
// then the rest of r, so the caller can extract the package as if nothing
// had been read. That reader also authenticates the payload: it hashes it
// and, at EOF, returns a *BadSignatureError instead of io.EOF if the
// payload digest from the signed header (or, for old packages, the legacy
// header+payload signature) does not match. A caller that stops reading
// before EOF has not verified the payload; see RPMResult.PayloadCheck.
//
// Errors: *UnsignedError (no signature), *LegacyOnlyError (only the legacy
// 1002/1005 signatures), *UnknownKeyError (rpm's NOKEY), *BadSignatureError
// (wrong signature, digest mismatch, corrupt signature),
// *UntrustedKeyError (expired, revoked, or not a signing key),
// *UnsupportedError (algorithm or hash refused), *FormatError (not an RPM,
// truncated, or sizes beyond rpm's limits). On error the returned reader is
// nil.
func (k *Keyring) VerifyRPM(r io.Reader) (*RPMResult, io.Reader, error) {
	rd := &prefixReader{r: r}
	if err := rd.fill(leadSize, "rpm lead"); err != nil {
		return nil, nil, err
	}
	lead := rd.buf.Bytes()
	if !bytes.Equal(lead[:4], leadMagic) {
		return nil, nil, &FormatError{What: "rpm lead", Offset: 0, Reason: "not an RPM package (bad magic)"}
	}
	if st := binary.BigEndian.Uint16(lead[78:80]); st != 5 {
		return nil, nil, &FormatError{What: "rpm lead", Offset: 78, Reason: fmt.Sprintf("signature type %d: only header-style signatures (5, rpm ≥ 2.1) are supported", st)}
	}

	sigStart := rd.n()
	sigh, err := rd.readHeader("rpm signature header", maxSigTags, maxSigData)
	if err != nil {
		return nil, nil, err
	}
	// The main header will grow rd.buf; keep the signature header's own copy.
	sigh.index, sigh.data = bytes.Clone(sigh.index), bytes.Clone(sigh.data)
	if pad := (8 - (rd.n()-sigStart)%8) % 8; pad != 0 {
		if err := rd.fill(int(pad), "rpm signature header padding"); err != nil {
			return nil, nil, err
		}
	}
	hdrStart := rd.n()
	hdr, err := rd.readHeader("rpm header", maxHeaderTags, maxHeaderData)
	if err != nil {
		return nil, nil, err
	}
	if err := hdr.checkRegion(tagHeaderImmutable, true); err != nil {
		if errors.Is(err, errNoRegion) {
			// Pre-rpm-4 layout: rpm would digest an empty region, so no
			// header signature can bind this header.
			if sigh.has(sigTagRSA) || sigh.has(sigTagDSA) || sigh.has(sigTagOpenPGP) {
				return nil, nil, &BadSignatureError{Reason: "the header has no immutable region (rpm v3 package layout), so its header signature cannot cover it"}
			}
		} else {
			return nil, nil, err
		}
	}
	// Nothing is appended to rd.buf from here on, so slices of it stay valid.
	headerBytes := rd.buf.Bytes()[hdrStart:]

	res := &RPMResult{HeaderOffset: hdrStart, PayloadOffset: rd.n()}

	// rpm 6 ignores tags ≥ 1000 in v6 packages (format_v6.md).
	v6 := (sigh.has(sigTagReserved) && sigh.has(sigTagSHA3_256)) || hdr.int32(hdrTagRPMFormat) >= 6

	// Header digests: cheap, and a mismatch means corruption whatever the
	// signatures say.
	for _, d := range []struct {
		tag  uint32
		name string
		h    func() hash.Hash
	}{
		{sigTagSHA3_256, "SHA3-256", func() hash.Hash { return sha3.New256() }},
		{sigTagSHA256, "SHA256", sha256.New},
		{sigTagSHA1, "SHA1", sha1.New},
	} {
		want, ok, err := sigh.str(d.tag)
		if err != nil {
			return nil, nil, &BadSignatureError{Reason: fmt.Sprintf("header %s digest tag %d", d.name, d.tag), Err: err}
		}
		if !ok {
			continue
		}
		h := d.h()
		h.Write(headerBytes)
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
			return nil, nil, &BadSignatureError{Reason: fmt.Sprintf("header %s digest mismatch: the signature header says %s, the header is %s", d.name, want, got)}
		}
		res.HeaderDigests = append(res.HeaderDigests, d.name)
	}

	// Header signatures.
	type rawSig struct {
		tag int
		pkt []byte
		err error
	}
	var raws []rawSig
	if sigh.has(sigTagOpenPGP) {
		strs, err := sigh.strings(sigTagOpenPGP)
		if err != nil {
			raws = append(raws, rawSig{tag: sigTagOpenPGP, err: err})
		}
		for _, s := range strs {
			b, err := base64.StdEncoding.DecodeString(s)
			raws = append(raws, rawSig{tag: sigTagOpenPGP, pkt: b, err: err})
		}
	} else {
		for _, tag := range []uint32{sigTagRSA, sigTagDSA} {
			if !sigh.has(tag) {
				continue
			}
			b, err := sigh.bin(tag)
			raws = append(raws, rawSig{tag: int(tag), pkt: b, err: err})
		}
	}
	if len(raws) == 0 {
		var legacyIDs []string
		for _, tag := range []uint32{sigTagPGP, sigTagGPG} {
			if v6 || !sigh.has(tag) {
				continue
			}
			id := "(unparseable)"
			if b, err := sigh.bin(tag); err == nil {
				if s, err := parseOnePacket(b); err == nil {
					id = s.keyID()
				}
			}
			legacyIDs = append(legacyIDs, id)
		}
		if len(legacyIDs) > 0 {
			return nil, nil, &LegacyOnlyError{KeyIDs: legacyIDs}
		}
		return nil, nil, &UnsignedError{What: "package header"}
	}
	var signers []*Signer
	var errs []error
	for _, raw := range raws {
		st := SignatureStatus{Tag: raw.tag}
		var signer *Signer
		err := raw.err
		if err != nil {
			err = &BadSignatureError{Reason: fmt.Sprintf("signature tag %d is malformed", raw.tag), Err: err}
		} else {
			var s *signature
			s, err = parseOnePacket(raw.pkt)
			if err != nil {
				err = asSigError(err)
			} else {
				st.Version, st.Algorithm, st.Hash, st.KeyID, st.Created = s.version, algoName(s.algo), hashName(s.hash), s.keyID(), s.created
				var h hash.Hash
				if h, err = s.newHash(); err == nil {
					h.Write(headerBytes)
					signer, err = k.check(s, h, packet.SigTypeBinary)
				}
			}
		}
		st.Err = err
		res.Signatures = append(res.Signatures, st)
		signers = append(signers, signer)
		errs = append(errs, err)
	}
	signer, err := combine(signers, errs)
	if err != nil {
		return nil, nil, err
	}
	res.Signer = signer

	// Payload: the digests in the (now authenticated) main header, or the
	// legacy header+payload signature.
	pv := &payloadVerifier{r: r, offset: rd.n()}
	algo := crypto.SHA256
	if v := hdr.int32(hdrTagPayloadDigestAlgo); v > 0 {
		a, ok := hashByID[byte(v)]
		if !ok || v > 255 {
			return nil, nil, &UnsupportedError{What: fmt.Sprintf("payload digest algorithm %d", v)}
		}
		algo = a
	}
	if strs, err := hdr.strings(hdrTagPayloadDigest); err == nil && len(strs) > 0 {
		pv.add(algo, strs[0])
	}
	if s, ok, err := hdr.str(hdrTagPayloadSHA512); err == nil && ok {
		pv.add(crypto.SHA512, s)
	}
	if s, ok, err := hdr.str(hdrTagPayloadSHA3_256); err == nil && ok {
		pv.add(crypto.SHA3_256, s)
	}
	if len(pv.digests) > 0 {
		var names []string
		for _, d := range pv.digests {
			names = append(names, hashName(d.algo))
		}
		res.PayloadCheck = strings.Join(names, "+") + " payload digest"
	} else if !v6 {
		for _, tag := range []uint32{sigTagPGP, sigTagGPG} {
			if !sigh.has(tag) {
				continue
			}
			b, err := sigh.bin(tag)
			if err != nil {
				continue
			}
			s, err := parseOnePacket(b)
			if err != nil || k.hashAllowed(s.hash) != "" || !slices.ContainsFunc(k.candidates(s), func(ky *key) bool { return k.keyAllowed(ky.pk) == "" }) {
				continue // unknown or refused: the payload stays uncovered
			}
			h, err := s.newHash()
			if err != nil {
				continue
			}
			h.Write(headerBytes)
			pv.legacy = append(pv.legacy, legacySig{s: s, h: h, k: k})
		}
		if len(pv.legacy) > 0 {
			res.PayloadCheck = "legacy header+payload signature"
		}
	}
	for _, d := range pv.digests {
		if d.err != nil {
			return nil, nil, d.err
		}
	}
	return res, io.MultiReader(bytes.NewReader(rd.buf.Bytes()), pv), nil
}

func parseOnePacket(b []byte) (*signature, error) {
	pkts, err := splitPackets(b)
	if err != nil {
		return nil, err
	}
	if len(pkts) != 1 {
		return nil, fmt.Errorf("%d OpenPGP packets where one signature was expected", len(pkts))
	}
	return parseSignature(pkts[0])
}

// prefixReader reads exact amounts from r and keeps everything it read.
type prefixReader struct {
	r   io.Reader
	buf bytes.Buffer
}

func (p *prefixReader) n() int64 { return int64(p.buf.Len()) }

// fill appends exactly n more bytes. bytes.Buffer grows with what arrives,
// so a header that claims more than the stream holds costs no more
// memory than the stream.
func (p *prefixReader) fill(n int, what string) error {
	start := p.n()
	got, err := io.CopyN(&p.buf, p.r, int64(n))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &FormatError{What: what, Offset: start, Reason: fmt.Sprintf("truncated: %d of %d bytes", got, n)}
		}
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

// header is a parsed header structure (signature or main header).
type header struct {
	what    string
	il, dl  uint32
	index   []byte // il entries of 16 bytes
	data    []byte // dl bytes
	entries map[uint32]entry
}

type entry struct {
	tag, typ, off, count uint32
}

var errNoRegion = errors.New("no immutable region")

func (p *prefixReader) readHeader(what string, maxTags, maxData uint32) (*header, error) {
	start := p.n()
	if err := p.fill(16, what); err != nil {
		return nil, err
	}
	intro := p.buf.Bytes()[start:]
	if !bytes.Equal(intro[:8], headerMagic) {
		return nil, &FormatError{What: what, Offset: start, Reason: "bad header magic"}
	}
	il := binary.BigEndian.Uint32(intro[8:12])
	dl := binary.BigEndian.Uint32(intro[12:16])
	if il < 1 || il > maxTags {
		return nil, &FormatError{What: what, Offset: start + 8, Reason: fmt.Sprintf("%d tags is out of range (1..%d)", il, maxTags)}
	}
	if dl > maxData {
		return nil, &FormatError{What: what, Offset: start + 12, Reason: fmt.Sprintf("%d data bytes is out of range (max %d)", dl, maxData)}
	}
	size := uint64(il)*16 + uint64(dl)
	if size+8 >= maxHeaderBytes {
		return nil, &FormatError{What: what, Offset: start, Reason: fmt.Sprintf("header of %d bytes is too large", size)}
	}
	if err := p.fill(int(size), what); err != nil {
		return nil, err
	}
	b := p.buf.Bytes()[start+16:]
	h := &header{what: what, il: il, dl: dl, index: b[:il*16], data: b[il*16:], entries: make(map[uint32]entry, il)}
	for i := uint32(0); i < il; i++ {
		e := h.entry(i)
		if _, dup := h.entries[e.tag]; !dup {
			h.entries[e.tag] = e
		}
	}
	return h, nil
}

func (h *header) entry(i uint32) entry {
	b := h.index[i*16:]
	return entry{
		tag:   binary.BigEndian.Uint32(b[0:4]),
		typ:   binary.BigEndian.Uint32(b[4:8]),
		off:   binary.BigEndian.Uint32(b[8:12]),
		count: binary.BigEndian.Uint32(b[12:16]),
	}
}

// checkRegion validates the immutable region the way rpm's
// hdrblobVerifyRegion does; in package files it must span the whole header.
func (h *header) checkRegion(regionTag uint32, exact bool) error {
	first := h.entry(0)
	if first.tag != regionTag {
		return errNoRegion
	}
	if first.typ != typeBin || first.count != 16 {
		return &FormatError{What: h.what, Offset: -1, Reason: fmt.Sprintf("region tag %d has type %d count %d", first.tag, first.typ, first.count)}
	}
	if uint64(first.off)+16 > uint64(h.dl) {
		return &FormatError{What: h.what, Offset: -1, Reason: "region trailer is outside the data"}
	}
	t := h.data[first.off : first.off+16]
	trailer := entry{
		tag:   binary.BigEndian.Uint32(t[0:4]),
		typ:   binary.BigEndian.Uint32(t[4:8]),
		off:   -binary.BigEndian.Uint32(t[8:12]), // stored negated
		count: binary.BigEndian.Uint32(t[12:16]),
	}
	if trailer.tag != regionTag || trailer.typ != typeBin || trailer.count != 16 || trailer.off%16 != 0 {
		return &FormatError{What: h.what, Offset: -1, Reason: "bad region trailer"}
	}
	ril, rdl := trailer.off/16, first.off+16
	if ril > h.il || rdl > h.dl {
		return &FormatError{What: h.what, Offset: -1, Reason: "region does not fit in the header"}
	}
	if exact && (ril != h.il || rdl != h.dl) {
		return &FormatError{What: h.what, Offset: -1, Reason: fmt.Sprintf("immutable region (%d tags, %d bytes) does not span the header (%d tags, %d bytes)", ril, rdl, h.il, h.dl)}
	}
	return nil
}

func (h *header) has(tag uint32) bool { _, ok := h.entries[tag]; return ok }

// bin returns a BIN tag's bytes.
func (h *header) bin(tag uint32) ([]byte, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, errors.New("missing")
	}
	if e.typ != typeBin {
		return nil, fmt.Errorf("tag %d has type %d, want BIN", tag, e.typ)
	}
	if uint64(e.off)+uint64(e.count) > uint64(len(h.data)) {
		return nil, fmt.Errorf("tag %d data lies outside the header", tag)
	}
	return h.data[e.off : e.off+e.count], nil
}

// str returns a STRING tag's value; ok is false when the tag is absent.
func (h *header) str(tag uint32) (string, bool, error) {
	e, ok := h.entries[tag]
	if !ok {
		return "", false, nil
	}
	if e.typ != typeString || e.count != 1 {
		return "", true, fmt.Errorf("tag %d has type %d count %d, want one STRING", tag, e.typ, e.count)
	}
	strs, err := h.cstrings(e.off, 1)
	if err != nil {
		return "", true, fmt.Errorf("tag %d: %w", tag, err)
	}
	return strs[0], true, nil
}

// strings returns a STRING_ARRAY tag's values.
func (h *header) strings(tag uint32) ([]string, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	if e.typ != typeStringArray {
		return nil, fmt.Errorf("tag %d has type %d, want STRING_ARRAY", tag, e.typ)
	}
	return h.cstrings(e.off, e.count)
}

func (h *header) cstrings(off, count uint32) ([]string, error) {
	if count > uint32(len(h.data)) { // each string needs at least its NUL
		return nil, errors.New("string count exceeds the data")
	}
	var out []string
	rest := h.data
	if uint64(off) > uint64(len(rest)) {
		return nil, errors.New("string lies outside the header")
	}
	rest = rest[off:]
	for range count {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return nil, errors.New("unterminated string")
		}
		out = append(out, string(rest[:i]))
		rest = rest[i+1:]
	}
	return out, nil
}

// int32 returns the first value of an INT32 tag, or -1.
func (h *header) int32(tag uint32) int64 {
	e, ok := h.entries[tag]
	if !ok || e.typ != typeInt32 || e.count < 1 || uint64(e.off)+4 > uint64(len(h.data)) {
		return -1
	}
	return int64(binary.BigEndian.Uint32(h.data[e.off:]))
}

// payloadVerifier streams the payload, hashing it, and checks the digests
// (or legacy signatures) at EOF.
type payloadVerifier struct {
	r       io.Reader
	offset  int64
	digests []payloadDigest
	legacy  []legacySig
	done    bool
	err     error
}

type payloadDigest struct {
	algo crypto.Hash
	want string
	h    hash.Hash
	err  error
}

type legacySig struct {
	s *signature
	h hash.Hash
	k *Keyring
}

func (p *payloadVerifier) add(algo crypto.Hash, want string) {
	d := payloadDigest{algo: algo, want: strings.ToLower(want)}
	if !algo.Available() {
		d.err = &UnsupportedError{What: "payload digest " + hashName(algo)}
	} else if _, err := hex.DecodeString(want); err != nil || len(want) != 2*algo.Size() {
		d.err = &BadSignatureError{Reason: fmt.Sprintf("the header's payload %s digest %q is malformed", hashName(algo), want)}
	} else {
		d.h = algo.New()
	}
	p.digests = append(p.digests, d)
}

func (p *payloadVerifier) Read(b []byte) (int, error) {
	if p.done {
		return 0, p.err
	}
	n, err := p.r.Read(b)
	if n > 0 {
		for _, d := range p.digests {
			d.h.Write(b[:n])
		}
		for _, l := range p.legacy {
			l.h.Write(b[:n])
		}
	}
	if err == io.EOF {
		p.done = true
		p.err = p.finish()
		return n, p.err
	}
	return n, err
}

func (p *payloadVerifier) finish() error {
	for _, d := range p.digests {
		if got := hex.EncodeToString(d.h.Sum(nil)); got != d.want {
			return &BadSignatureError{Reason: fmt.Sprintf("payload %s digest mismatch: the signed header says %s, the payload is %s (the package was modified or truncated)", hashName(d.algo), d.want, got)}
		}
	}
	for _, l := range p.legacy {
		if _, err := l.k.check(l.s, l.h, packet.SigTypeBinary); err != nil {
			var bad *BadSignatureError
			if errors.As(err, &bad) {
				return &BadSignatureError{KeyID: bad.KeyID, Reason: "legacy header+payload signature does not verify (the payload was modified or truncated)", Err: bad.Err}
			}
		}
	}
	return io.EOF
}
