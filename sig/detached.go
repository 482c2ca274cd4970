package sig

import (
	"bytes"
	"fmt"
	"hash"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

const (
	armorSignature     = "-----BEGIN PGP SIGNATURE-----"
	armorSignedMessage = "-----BEGIN PGP SIGNED MESSAGE-----"
	armorMessage       = "-----BEGIN PGP MESSAGE-----"
)

// maxSignatureFile bounds a .asc file. A clear-signed repomd.xml is the
// largest legitimate one (tens of KiB).
const maxSignatureFile = 16 << 20

// VerifyDetached checks a detached signature (repomd.xml.asc) over signed
// (repomd.xml). sig may be ASCII armored ("PGP SIGNATURE") or binary, and
// may hold several signatures (key rotation): the rule is that of VerifyRPM
// — at least one must verify with a trusted key and none by a known key may
// fail. Binary (0x00) and text (0x01) signatures are accepted; text ones
// are checked over signed with line endings made CRLF, as OpenPGP
// requires.
//
// A clear-signed message ("PGP SIGNED MESSAGE", as some old SUSE
// repositories publish as repomd.xml.asc) is accepted too: its signature is
// verified over the text it embeds, and that text must be signed itself —
// compared line by line with trailing blanks and CR ignored, as the
// cleartext framework defines, and allowing the final newline that the
// framework cannot carry. gpg instead verifies the embedded text and
// silently ignores the file it was given ("not a detached signature"),
// which would accept any repomd.xml next to a valid .asc.
func (k *Keyring) VerifyDetached(signed []byte, sig []byte) (*Signer, error) {
	if len(sig) > maxSignatureFile {
		return nil, &FormatError{What: "signature file", Offset: -1, Reason: fmt.Sprintf("%d bytes is too large", len(sig))}
	}
	trimmed := bytes.TrimLeft(sig, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &UnsignedError{What: "detached signature file (empty)"}
	}
	var body []byte
	switch {
	case trimmed[0]&0x80 != 0:
		body = trimmed
	case bytes.Contains(sig, []byte(armorSignedMessage)):
		return k.verifyClearSigned(signed, sig)
	case bytes.Contains(sig, []byte(armorSignature)):
		i := bytes.Index(sig, []byte(armorSignature))
		block, err := armor.Decode(bytes.NewReader(sig[i:]))
		if err != nil {
			return nil, &BadSignatureError{Reason: "cannot decode the armored signature", Err: err}
		}
		body, err = readAllLimit(block.Body, maxSignatureFile)
		if err != nil {
			return nil, &BadSignatureError{Reason: "cannot decode the armored signature", Err: err}
		}
	case bytes.Contains(sig, []byte(armorMessage)):
		return nil, &BadSignatureError{Reason: "the file is an OpenPGP message, not a detached signature"}
	default:
		return nil, &BadSignatureError{Reason: "the file is neither an OpenPGP signature nor armored text"}
	}
	return k.verifyPackets(body, func(s *signature, h hash.Hash) {
		if s.sigType == packet.SigTypeText {
			h = openpgp.NewCanonicalTextHash(h)
		}
		h.Write(signed)
	}, packet.SigTypeBinary, packet.SigTypeText)
}

// verifyPackets checks every signature packet in body; write feeds the
// signed data into each signature's hash.
func (k *Keyring) verifyPackets(body []byte, write func(*signature, hash.Hash), types ...packet.SignatureType) (*Signer, error) {
	pkts, err := splitPackets(body)
	if err != nil {
		return nil, &BadSignatureError{Reason: "corrupt signature", Err: err}
	}
	if len(pkts) == 0 {
		return nil, &UnsignedError{What: "detached signature file"}
	}
	var signers []*Signer
	var errs []error
	for _, p := range pkts {
		if p.tag != tagSignature {
			return nil, &BadSignatureError{Reason: fmt.Sprintf("not a detached signature: found an OpenPGP packet of type %d", p.tag)}
		}
		s, err := parseSignature(p)
		if err != nil {
			errs = append(errs, asSigError(err))
			continue
		}
		h, err := s.newHash()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		write(s, h)
		signer, err := k.check(s, h, types...)
		signers = append(signers, signer)
		errs = append(errs, err)
	}
	return combine(signers, errs)
}

// asSigError keeps typed errors and makes parse failures BadSignatureError.
func asSigError(err error) error {
	switch err.(type) {
	case *UnsupportedError, *BadSignatureError:
		return err
	}
	return &BadSignatureError{Reason: "corrupt signature packet", Err: err}
}

func (k *Keyring) verifyClearSigned(signed, msg []byte) (*Signer, error) {
	block, _ := clearsign.Decode(msg)
	if block == nil || block.ArmoredSignature == nil {
		return nil, &BadSignatureError{Reason: "cannot decode the clear-signed message"}
	}
	if !sameText(block.Plaintext, signed) {
		return nil, &BadSignatureError{Reason: "the clear-signed .asc embeds a text that differs from the file it should sign"}
	}
	body, err := readAllLimit(block.ArmoredSignature.Body, maxSignatureFile)
	if err != nil {
		return nil, &BadSignatureError{Reason: "cannot decode the clear-signed message's signature", Err: err}
	}
	// block.Bytes is the text in the canonical form the signature covers.
	return k.verifyPackets(body, func(_ *signature, h hash.Hash) { h.Write(block.Bytes) },
		packet.SigTypeText, packet.SigTypeBinary)
}

// sameText compares a clear-signed text with a file under the cleartext
// framework's rules: per line, trailing spaces, tabs and CR do not count;
// the file may end with one newline more.
func sameText(clear, file []byte) bool {
	a := bytes.Split(clear, []byte("\n"))
	b := bytes.Split(file, []byte("\n"))
	if len(b) == len(a)+1 && len(bytes.TrimRight(b[len(b)-1], " \t\r")) == 0 {
		b = b[:len(a)]
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(bytes.TrimRight(a[i], " \t\r"), bytes.TrimRight(b[i], " \t\r")) {
			return false
		}
	}
	return true
}
