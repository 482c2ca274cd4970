package sig

import (
	"bytes"
	"crypto"
	"crypto/dsa" // deprecated, but old CentOS/openSUSE keys are DSA (Policy.AllowLegacy)
	"crypto/rsa"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGP packet tags this package looks at (RFC 9580 section 5).
const (
	tagSignature     = 2
	tagSecretKey     = 5
	tagPublicKey     = 6
	tagSecretSubkey  = 7
	tagUserID        = 13
	tagPublicSubkey  = 14
	tagUserAttribute = 17
)

// maxPacket bounds one key or signature packet. The largest legitimate ones
// are ML-DSA-87 keys (about 2.6 KiB) and SLH-DSA signatures (about 30 KiB).
const maxPacket = 1 << 20

// rawPacket is one OpenPGP packet split off a byte slice: its tag, its body,
// and the full encoding (header and body), which go-crypto's packet.Read
// wants.
type rawPacket struct {
	tag  byte
	body []byte
	full []byte
}

// splitPackets cuts b into packets. It refuses partial body lengths (only
// literal and encrypted data use them, never keys or signatures) and
// packets longer than maxPacket.
func splitPackets(b []byte) ([]rawPacket, error) {
	var out []rawPacket
	for off := 0; off < len(b); {
		p, n, err := splitPacket(b[off:])
		if err != nil {
			return out, fmt.Errorf("packet at byte %d: %w", off, err)
		}
		out = append(out, p)
		off += n
	}
	return out, nil
}

func splitPacket(b []byte) (rawPacket, int, error) {
	if len(b) < 2 {
		return rawPacket{}, 0, errors.New("truncated packet header")
	}
	ctb := b[0]
	if ctb&0x80 == 0 {
		return rawPacket{}, 0, fmt.Errorf("not an OpenPGP packet (first octet %#02x)", ctb)
	}
	var tag byte
	var hdr, length int
	if ctb&0x40 == 0 { // old format
		tag = (ctb >> 2) & 0x0f
		switch ctb & 3 {
		case 0:
			hdr, length = 2, int(b[1])
		case 1:
			if len(b) < 3 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			hdr, length = 3, int(binary.BigEndian.Uint16(b[1:3]))
		case 2:
			if len(b) < 5 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			l := binary.BigEndian.Uint32(b[1:5])
			if l > maxPacket {
				return rawPacket{}, 0, fmt.Errorf("packet length %d too large", l)
			}
			hdr, length = 5, int(l)
		default: // indeterminate: the rest of the input
			hdr, length = 1, len(b)-1
		}
	} else { // new format
		tag = ctb & 0x3f
		switch o := b[1]; {
		case o < 192:
			hdr, length = 2, int(o)
		case o < 224:
			if len(b) < 3 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			hdr, length = 3, (int(o)-192)<<8+int(b[2])+192
		case o == 255:
			if len(b) < 6 {
				return rawPacket{}, 0, errors.New("truncated packet header")
			}
			l := binary.BigEndian.Uint32(b[2:6])
			if l > maxPacket {
				return rawPacket{}, 0, fmt.Errorf("packet length %d too large", l)
			}
			hdr, length = 6, int(l)
		default:
			return rawPacket{}, 0, fmt.Errorf("packet of type %d uses partial body lengths, "+
				"which keys and signatures never do (is this a signed message rather than a signature?)", tag)
		}
	}
	if length > maxPacket {
		return rawPacket{}, 0, fmt.Errorf("packet length %d too large", length)
	}
	if len(b)-hdr < length {
		return rawPacket{}, 0, fmt.Errorf("truncated packet: %d bytes of %d", len(b)-hdr, length)
	}
	n := hdr + length
	return rawPacket{tag: tag, body: b[hdr:n], full: b[:n]}, n, nil
}

// signature is a parsed signature packet of any version. go-crypto parses
// v4 and v6; v3 signatures (still written by rpm for most distribution
// packages, and by old gpg for repomd.xml) are parsed here.
type signature struct {
	version  int
	sigType  packet.SignatureType
	algo     packet.PublicKeyAlgorithm
	hash     crypto.Hash
	created  time.Time
	issuer   uint64 // 0 if the signature names its issuer only by fingerprint
	issuerFP []byte
	v4       *packet.Signature // v4 and v6
	v3       *sigV3
}

type sigV3 struct {
	hashed [5]byte // signature type and creation time: the hashed trailer
	tag16  [2]byte
	mpis   [][]byte
}

func (s *signature) keyID() string {
	if s.issuer != 0 || len(s.issuerFP) == 0 {
		return fmt.Sprintf("%016x", s.issuer)
	}
	return hex.EncodeToString(s.issuerFP)
}

// parseSignature parses one signature packet body (tag 2).
func parseSignature(p rawPacket) (*signature, error) {
	if p.tag != tagSignature {
		return nil, fmt.Errorf("packet of type %d where a signature (type 2) was expected", p.tag)
	}
	if len(p.body) == 0 {
		return nil, errors.New("empty signature packet")
	}
	switch p.body[0] {
	case 2, 3: // version 2 is the same format as 3 (RFC 4880 5.2)
		return parseSignatureV3(p.body)
	case 4, 6:
	default:
		return nil, &UnsupportedError{What: fmt.Sprintf("signature packet version %d", p.body[0])}
	}
	pkt, err := packet.Read(bytes.NewReader(p.full))
	if err != nil {
		var unsupported pgperrors.UnsupportedError
		if errors.As(err, &unsupported) {
			return nil, &UnsupportedError{What: string(unsupported)}
		}
		return nil, err
	}
	ps, ok := pkt.(*packet.Signature)
	if !ok {
		return nil, errors.New("not a signature packet")
	}
	s := &signature{
		version:  ps.Version,
		sigType:  ps.SigType,
		algo:     ps.PubKeyAlgo,
		hash:     ps.Hash,
		created:  ps.CreationTime,
		issuerFP: ps.IssuerFingerprint,
		v4:       ps,
	}
	if ps.IssuerKeyId != nil {
		s.issuer = *ps.IssuerKeyId
	} else if len(ps.IssuerFingerprint) == 20 { // v4 fingerprint: key ID is its low 64 bits
		s.issuer = binary.BigEndian.Uint64(ps.IssuerFingerprint[12:])
	} else if len(ps.IssuerFingerprint) == 32 { // v6 fingerprint: key ID is its high 64 bits
		s.issuer = binary.BigEndian.Uint64(ps.IssuerFingerprint[:8])
	}
	if s.issuer == 0 && len(s.issuerFP) == 0 {
		return nil, errors.New("signature names no issuer")
	}
	return s, nil
}

// hashByID maps OpenPGP hash algorithm IDs (RFC 9580 9.5) to crypto.Hash.
var hashByID = map[byte]crypto.Hash{
	1:  crypto.MD5,
	2:  crypto.SHA1,
	3:  crypto.RIPEMD160,
	8:  crypto.SHA256,
	9:  crypto.SHA384,
	10: crypto.SHA512,
	11: crypto.SHA224,
	12: crypto.SHA3_256,
	14: crypto.SHA3_512,
}

func parseSignatureV3(b []byte) (*signature, error) {
	// version, hashed length (5), type, time[4], key ID[8], pk algo, hash algo, tag[2]
	if len(b) < 19 {
		return nil, errors.New("truncated v3 signature")
	}
	if b[1] != 5 {
		return nil, fmt.Errorf("v3 signature with hashed length %d (must be 5)", b[1])
	}
	s := &signature{
		version: int(b[0]),
		sigType: packet.SignatureType(b[2]),
		created: time.Unix(int64(binary.BigEndian.Uint32(b[3:7])), 0),
		issuer:  binary.BigEndian.Uint64(b[7:15]),
		algo:    packet.PublicKeyAlgorithm(b[15]),
		v3:      &sigV3{},
	}
	copy(s.v3.hashed[:], b[2:7])
	copy(s.v3.tag16[:], b[17:19])
	h, ok := hashByID[b[16]]
	if !ok {
		return nil, &UnsupportedError{KeyID: s.keyID(), What: fmt.Sprintf("hash algorithm %d", b[16])}
	}
	s.hash = h
	var nmpi int
	switch s.algo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		nmpi = 1
	case packet.PubKeyAlgoDSA:
		nmpi = 2
	default:
		return nil, &UnsupportedError{KeyID: s.keyID(), What: fmt.Sprintf("v3 signature with public-key algorithm %d", s.algo)}
	}
	rest := b[19:]
	for range nmpi {
		if len(rest) < 2 {
			return nil, errors.New("truncated v3 signature MPI")
		}
		bits := int(binary.BigEndian.Uint16(rest))
		n := (bits + 7) / 8
		if len(rest)-2 < n {
			return nil, errors.New("truncated v3 signature MPI")
		}
		s.v3.mpis = append(s.v3.mpis, rest[2:2+n])
		rest = rest[2+n:]
	}
	return s, nil
}

// newHash returns the hash to feed the signed data into, salted for v6
// signatures.
func (s *signature) newHash() (hash.Hash, error) {
	if s.v4 != nil {
		h, err := s.v4.PrepareVerify()
		if err != nil {
			return nil, &UnsupportedError{KeyID: s.keyID(), What: err.Error()}
		}
		return h, nil
	}
	if !s.hash.Available() {
		return nil, &UnsupportedError{KeyID: s.keyID(), What: "hash " + s.hash.String()}
	}
	return s.hash.New(), nil
}

// verify checks the signature over the data already written to h (from
// newHash) with pk. It consumes h.
func (s *signature) verify(pk *packet.PublicKey, h hash.Hash) error {
	if s.v4 != nil {
		return pk.VerifySignature(h, s.v4)
	}
	return s.verifyV3(pk, h)
}

func (s *signature) verifyV3(pk *packet.PublicKey, h hash.Hash) error {
	if pk.PubKeyAlgo != s.algo && !(isRSA(pk.PubKeyAlgo) && isRSA(s.algo)) {
		return errors.New("public key and signature use different algorithms")
	}
	h.Write(s.v3.hashed[:])
	digest := h.Sum(nil)
	if digest[0] != s.v3.tag16[0] || digest[1] != s.v3.tag16[1] {
		return errors.New("hash tag doesn't match")
	}
	switch pub := pk.PublicKey.(type) {
	case *rsa.PublicKey:
		sigBytes := s.v3.mpis[0]
		// MPIs drop leading zeros; PKCS#1 wants the signature as long as the modulus.
		if k := (pub.N.BitLen() + 7) / 8; len(sigBytes) < k {
			padded := make([]byte, k)
			copy(padded[k-len(sigBytes):], sigBytes)
			sigBytes = padded
		}
		if err := rsa.VerifyPKCS1v15(pub, s.hash, digest, sigBytes); err != nil {
			return errors.New("RSA verification failure")
		}
		return nil
	case *dsa.PublicKey:
		if n := (pub.Q.BitLen() + 7) / 8; len(digest) > n {
			digest = digest[:n]
		}
		r := new(big.Int).SetBytes(s.v3.mpis[0])
		ss := new(big.Int).SetBytes(s.v3.mpis[1])
		if !dsa.Verify(pub, digest, r, ss) {
			return errors.New("DSA verification failure")
		}
		return nil
	}
	return fmt.Errorf("v3 signature with key algorithm %d", pk.PubKeyAlgo)
}

func isRSA(a packet.PublicKeyAlgorithm) bool {
	return a == packet.PubKeyAlgoRSA || a == packet.PubKeyAlgoRSASignOnly
}

// algoName names public-key algorithms the way rpm prints them.
func algoName(a packet.PublicKeyAlgorithm) string {
	switch a {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		return "RSA"
	case packet.PubKeyAlgoDSA:
		return "DSA"
	case packet.PubKeyAlgoECDSA:
		return "ECDSA"
	case packet.PubKeyAlgoEdDSA:
		return "EdDSA"
	case packet.PubKeyAlgoEd25519:
		return "Ed25519"
	case packet.PubKeyAlgoEd448:
		return "Ed448"
	case packet.PubKeyAlgoMldsa65Ed25519:
		return "ML-DSA-65+Ed25519"
	case packet.PubKeyAlgoMldsa87Ed448:
		return "ML-DSA-87+Ed448"
	case packet.PubKeyAlgoSlhdsaShake128s, packet.PubKeyAlgoSlhdsaShake128f, packet.PubKeyAlgoSlhdsaShake256s:
		return "SLH-DSA"
	}
	return fmt.Sprintf("algorithm %d", a)
}

// hashName names hash algorithms the way rpm prints them ("SHA256").
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA1:
		return "SHA1"
	case crypto.SHA224:
		return "SHA224"
	case crypto.SHA256:
		return "SHA256"
	case crypto.SHA384:
		return "SHA384"
	case crypto.SHA512:
		return "SHA512"
	case crypto.SHA3_256:
		return "SHA3-256"
	case crypto.SHA3_512:
		return "SHA3-512"
	}
	return h.String()
}

// readAllLimit reads r to EOF, failing beyond limit bytes.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	return b, nil
}
