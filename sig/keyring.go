package sig

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Policy says which signatures a Keyring accepts beyond the modern default
// (SHA-2/SHA-3 hashes; RSA keys of 2048 bits or more, ECDSA, EdDSA, Ed25519,
// Ed448, ML-DSA+EdDSA, SLH-DSA keys).
type Policy struct {
	// AllowLegacy also accepts SHA-1 signatures, DSA keys and RSA keys of
	// 1024 to 2047 bits, as signed CentOS ≤ 7 and openSUSE ≤ 11 packages
	// and repositories. MD5 and RIPEMD-160 are never accepted.
	AllowLegacy bool
	// Now, when set, is the current time: a key that has expired or was
	// revoked by Now is refused even for signatures it made while valid,
	// and signatures past their own expiry are refused, as dnf (librepo
	// and rpm-sequoia) does. When zero, keys are judged only at each
	// signature's creation time, so the verdict never depends on the
	// clock and old package sets keep verifying (the reproducible mode).
	Now time.Time
}

// Keyring holds OpenPGP public keys (certificates with their subkeys) that
// signatures are checked against. It is immutable and safe for concurrent
// use.
type Keyring struct {
	certs  []*cert
	byID   map[uint64][]*key
	policy Policy
}

// cert is one certificate: a primary key, its valid self-signatures and
// the subkeys bound to it.
type cert struct {
	primary  *key
	userIDs  []string
	subkeys  []*key
	rejected []rejectedKey
}

// key is a primary key or a subkey together with the self-signature that
// currently defines it (the newest valid one) and its revocations.
type key struct {
	cert        *cert
	pk          *packet.PublicKey
	isPrimary   bool
	binding     *packet.Signature // nil for a primary key certified only by v3 signatures
	bindingTime time.Time
	revocations []*packet.Signature
}

// rejectedKey is a subkey that was dropped (no valid binding signature,
// unparseable), kept so that a signature by it can say why it is refused.
type rejectedKey struct {
	keyID  uint64
	reason string
}

// KeyInfo describes a certificate in a Keyring, for listings and messages.
type KeyInfo struct {
	Fingerprint string // hex, lower case
	KeyID       string // 16 hex digits
	Algorithm   string // "RSA", "EdDSA", ...
	Bits        int    // key size where meaningful, else 0
	Created     time.Time
	Expires     time.Time // zero: never
	UserIDs     []string  // empty for subkeys
	CanSign     bool
	Subkeys     []KeyInfo
	// Dropped lists parts of the certificate that were ignored and why
	// (e.g. a subkey without a valid binding signature).
	Dropped []string
}

// ParseKeyring reads public keys. Each argument is one key file: ASCII
// armored (one or more "PGP PUBLIC KEY BLOCK"s, text around them ignored,
// as in RPM-GPG-KEY-* files) or binary (one or more certificates back to
// back, as in a .gpg keyring). Every certificate must carry a valid
// self-signature; subkeys without a valid binding signature (and, for
// signing subkeys, a valid back-signature) are dropped, as are user IDs
// without a valid self-certification. Self-signatures may use SHA-1
// regardless of Policy: they were made by the key's owner over their own
// key, which the user already chose to trust. Secret keys are refused.
// The keyring starts with the zero Policy; see WithPolicy.
func ParseKeyring(data ...[]byte) (*Keyring, error) {
	k := &Keyring{byID: map[uint64][]*key{}}
	for i, d := range data {
		certs, err := parseKeyFile(d)
		if err != nil {
			if len(data) > 1 {
				return nil, fmt.Errorf("key file %d: %w", i+1, err)
			}
			return nil, err
		}
	next:
		for _, c := range certs {
			for _, o := range k.certs {
				if bytes.Equal(o.primary.pk.Fingerprint, c.primary.pk.Fingerprint) {
					// The same certificate again, perhaps with a new
					// subkey or a refreshed expiry: merge.
					o.merge(c)
					continue next
				}
			}
			k.certs = append(k.certs, c)
		}
	}
	if len(k.certs) == 0 {
		return nil, &FormatError{What: "keyring", Offset: -1, Reason: "no public key found"}
	}
	for _, c := range k.certs {
		k.byID[c.primary.pk.KeyId] = append(k.byID[c.primary.pk.KeyId], c.primary)
		for _, s := range c.subkeys {
			k.byID[s.pk.KeyId] = append(k.byID[s.pk.KeyId], s)
		}
	}
	return k, nil
}

// merge adds what o knows about the same certificate to c.
func (c *cert) merge(o *cert) {
	c.primary.mergeSigs(o.primary)
	for _, u := range o.userIDs {
		if !slices.Contains(c.userIDs, u) {
			c.userIDs = append(c.userIDs, u)
		}
	}
	for _, s := range o.subkeys {
		i := slices.IndexFunc(c.subkeys, func(x *key) bool { return bytes.Equal(x.pk.Fingerprint, s.pk.Fingerprint) })
		if i >= 0 {
			c.subkeys[i].mergeSigs(s)
			continue
		}
		s.cert = c
		c.subkeys = append(c.subkeys, s)
		c.rejected = slices.DeleteFunc(c.rejected, func(r rejectedKey) bool { return r.keyID == s.pk.KeyId })
	}
	for _, r := range o.rejected {
		if !slices.ContainsFunc(c.subkeys, func(x *key) bool { return x.pk.KeyId == r.keyID }) {
			c.rejected = append(c.rejected, r)
		}
	}
}

func (ky *key) mergeSigs(o *key) {
	if o.binding != nil && (ky.binding == nil || o.bindingTime.After(ky.bindingTime)) {
		ky.binding, ky.bindingTime = o.binding, o.bindingTime
	}
	ky.revocations = append(ky.revocations, o.revocations...)
}

// WithPolicy returns a keyring with the same keys and policy p.
func (k *Keyring) WithPolicy(p Policy) *Keyring {
	c := *k
	c.policy = p
	return &c
}

// Policy returns the keyring's policy.
func (k *Keyring) Policy() Policy { return k.policy }

// Keys describes the certificates in the keyring, in the order they were
// read.
func (k *Keyring) Keys() []KeyInfo {
	var out []KeyInfo
	for _, c := range k.certs {
		ki := c.primary.info()
		ki.UserIDs = slices.Clone(c.userIDs)
		for _, s := range c.subkeys {
			ki.Subkeys = append(ki.Subkeys, s.info())
		}
		for _, r := range c.rejected {
			if r.keyID == 0 {
				ki.Dropped = append(ki.Dropped, "a subkey: "+r.reason)
			} else {
				ki.Dropped = append(ki.Dropped, fmt.Sprintf("subkey %016x: %s", r.keyID, r.reason))
			}
		}
		out = append(out, ki)
	}
	return out
}

func (ky *key) info() KeyInfo {
	ki := KeyInfo{
		Fingerprint: hex.EncodeToString(ky.pk.Fingerprint),
		KeyID:       fmt.Sprintf("%016x", ky.pk.KeyId),
		Algorithm:   algoName(ky.pk.PubKeyAlgo),
		Created:     ky.pk.CreationTime,
		CanSign:     ky.signingCapable() == "",
	}
	if bits, err := ky.pk.BitLength(); err == nil {
		ki.Bits = int(bits)
	}
	if ky.binding != nil && ky.binding.KeyLifetimeSecs != nil && *ky.binding.KeyLifetimeSecs != 0 {
		ki.Expires = ky.pk.CreationTime.Add(time.Duration(*ky.binding.KeyLifetimeSecs) * time.Second)
	}
	return ki
}

// signingCapable returns "" if the key may make data signatures, else why
// not. A primary key without key flags (old keys) may sign; a subkey must
// be flagged for signing, since go-crypto checks the subkey's
// back-signature only when it is.
func (ky *key) signingCapable() string {
	if !ky.pk.PubKeyAlgo.CanSign() {
		return algoName(ky.pk.PubKeyAlgo) + " keys cannot sign"
	}
	if ky.isPrimary {
		if ky.binding != nil && ky.binding.FlagsValid && !ky.binding.FlagSign {
			return "the primary key is not marked for signing (only certification); the signature must come from a signing subkey"
		}
		return ""
	}
	if ky.binding == nil || !ky.binding.FlagsValid || !ky.binding.FlagSign {
		return "the subkey is not marked for signing"
	}
	return ""
}

const (
	armorPublicKey  = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	armorPrivateKey = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
)

// maxKeyFile bounds one key file. Real ones are a few KiB; a keyring with
// every Fedora key is under 1 MiB.
const maxKeyFile = 16 << 20

func parseKeyFile(d []byte) ([]*cert, error) {
	if len(d) > maxKeyFile {
		return nil, &FormatError{What: "key file", Offset: -1, Reason: fmt.Sprintf("%d bytes is too large for a key file", len(d))}
	}
	if bytes.Contains(d, []byte(armorPrivateKey)) {
		return nil, &FormatError{What: "key file", Offset: -1, Reason: "contains a secret key; give the public key (gpg --export --armor)"}
	}
	trimmed := bytes.TrimLeft(d, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0]&0x80 != 0 {
		return parseKeyPackets(trimmed)
	}
	var certs []*cert
	rest := d
	for {
		i := bytes.Index(rest, []byte(armorPublicKey))
		if i < 0 {
			break
		}
		block, err := armor.Decode(bytes.NewReader(rest[i:]))
		if err != nil {
			return nil, &FormatError{What: "armored public key", Offset: -1, Reason: err.Error()}
		}
		body, err := readAllLimit(block.Body, maxKeyFile)
		if err != nil {
			return nil, &FormatError{What: "armored public key", Offset: -1, Reason: err.Error()}
		}
		cs, err := parseKeyPackets(body)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
		rest = rest[i+len(armorPublicKey):]
	}
	if len(certs) == 0 {
		return nil, &FormatError{What: "key file", Offset: -1, Reason: "no OpenPGP public key found (expected an armored \"PGP PUBLIC KEY BLOCK\" or binary key packets)"}
	}
	return certs, nil
}

// component collects the packets that follow a primary key, a user ID or a
// subkey.
type component struct {
	pkt  rawPacket
	sigs []rawPacket
}

type certPackets struct {
	primary component
	userIDs []*component
	subkeys []*component
}

func parseKeyPackets(b []byte) ([]*cert, error) {
	pkts, err := splitPackets(b)
	if err != nil {
		return nil, &FormatError{What: "public key", Offset: -1, Reason: err.Error()}
	}
	var groups []*certPackets
	var cur *certPackets
	var last *component // where signatures attach; nil after a user attribute
	for _, p := range pkts {
		switch p.tag {
		case tagSecretKey, tagSecretSubkey:
			return nil, &FormatError{What: "key file", Offset: -1, Reason: "contains a secret key; give the public key (gpg --export)"}
		case tagPublicKey:
			cur = &certPackets{primary: component{pkt: p}}
			groups = append(groups, cur)
			last = &cur.primary
		case tagUserID, tagPublicSubkey, tagUserAttribute, tagSignature:
			if cur == nil {
				return nil, &FormatError{What: "public key", Offset: -1, Reason: fmt.Sprintf("packet of type %d before any public key packet", p.tag)}
			}
			switch p.tag {
			case tagUserID:
				last = &component{pkt: p}
				cur.userIDs = append(cur.userIDs, last)
			case tagPublicSubkey:
				last = &component{pkt: p}
				cur.subkeys = append(cur.subkeys, last)
			case tagUserAttribute:
				last = nil
			case tagSignature:
				if last != nil {
					last.sigs = append(last.sigs, p)
				}
			}
		default:
			// trust, marker and padding packets carry nothing we use
		}
	}
	var certs []*cert
	var firstErr error
	for _, g := range groups {
		c, err := buildCert(g)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, &FormatError{What: "public key", Offset: -1, Reason: "no public key packet found"}
	}
	return certs, nil
}

func parsePublicKey(p rawPacket) (*packet.PublicKey, error) {
	pkt, err := packet.Read(bytes.NewReader(p.full))
	if err != nil {
		return nil, err
	}
	pk, ok := pkt.(*packet.PublicKey)
	if !ok {
		return nil, errors.New("not a public key packet")
	}
	return pk, nil
}

func buildCert(g *certPackets) (*cert, error) {
	pk, err := parsePublicKey(g.primary.pkt)
	if err != nil {
		return nil, &FormatError{What: "public key", Offset: -1, Reason: "unusable primary key: " + err.Error()}
	}
	keyID := fmt.Sprintf("%016x", pk.KeyId)
	c := &cert{}
	primary := &key{cert: c, pk: pk, isPrimary: true}
	c.primary = primary

	// Self-signatures: direct-key signatures and user ID certifications
	// by the primary key. Third-party certifications are ignored.
	var selfSigs []*packet.Signature
	selfV3 := false
	for _, sp := range g.primary.sigs {
		s, err := parseSignature(sp)
		if err != nil || !s.issuedBy(pk) {
			continue
		}
		switch s.sigType {
		case packet.SigTypeDirectSignature:
			if s.v4 != nil && pk.VerifyDirectKeySignature(s.v4) == nil {
				selfSigs = append(selfSigs, s.v4)
			}
		case packet.SigTypeKeyRevocation:
			if s.v4 != nil && pk.VerifyRevocationSignature(s.v4) == nil {
				primary.revocations = append(primary.revocations, s.v4)
			}
		}
	}
	for _, u := range g.userIDs {
		pu, err := packet.Read(bytes.NewReader(u.pkt.full))
		if err != nil {
			continue
		}
		uid, ok := pu.(*packet.UserId)
		if !ok {
			continue
		}
		certified := false
		for _, sp := range u.sigs {
			s, err := parseSignature(sp)
			if err != nil || !s.issuedBy(pk) {
				continue
			}
			switch s.sigType {
			case packet.SigTypeGenericCert, packet.SigTypePersonaCert, packet.SigTypeCasualCert, packet.SigTypePositiveCert:
			default:
				continue
			}
			if s.v4 != nil {
				if pk.VerifyUserIdSignature(uid.Id, pk, s.v4) == nil {
					selfSigs = append(selfSigs, s.v4)
					certified = true
				}
			} else if s.verifyV3Cert(pk, []byte(uid.Id)) == nil {
				certified = true
				selfV3 = true
			}
		}
		if certified {
			c.userIDs = append(c.userIDs, uid.Id)
		}
	}
	if len(selfSigs) == 0 && !selfV3 {
		return nil, &FormatError{What: "public key " + keyID, Offset: -1, Reason: "no valid self-signature (neither a user ID certification nor a direct-key signature verifies)"}
	}
	primary.binding, primary.bindingTime = newest(selfSigs)

	for _, sk := range g.subkeys {
		sub, err := parsePublicKey(sk.pkt)
		if err != nil {
			c.rejected = append(c.rejected, rejectedKey{reason: "unusable: " + err.Error()})
			continue
		}
		ky := &key{cert: c, pk: sub}
		var bindings []*packet.Signature
		var why string
		for _, sp := range sk.sigs {
			s, err := parseSignature(sp)
			if err != nil || s.v4 == nil || !s.issuedBy(pk) {
				continue
			}
			switch s.sigType {
			case packet.SigTypeSubkeyBinding:
				if err := pk.VerifyKeySignature(sub, s.v4); err == nil {
					bindings = append(bindings, s.v4)
				} else {
					why = err.Error()
				}
			case packet.SigTypeSubkeyRevocation:
				if pk.VerifySubkeyRevocationSignature(s.v4, sub) == nil {
					ky.revocations = append(ky.revocations, s.v4)
				}
			}
		}
		if len(bindings) == 0 {
			reason := "no valid binding signature from its primary key"
			if why != "" {
				reason += " (" + why + ")"
			}
			c.rejected = append(c.rejected, rejectedKey{keyID: sub.KeyId, reason: reason})
			continue
		}
		ky.binding, ky.bindingTime = newest(bindings)
		if i := slices.IndexFunc(c.subkeys, func(x *key) bool { return bytes.Equal(x.pk.Fingerprint, sub.Fingerprint) }); i >= 0 {
			c.subkeys[i].mergeSigs(ky) // the same subkey listed twice
			continue
		}
		c.subkeys = append(c.subkeys, ky)
	}
	c.rejected = slices.DeleteFunc(c.rejected, func(r rejectedKey) bool {
		return slices.ContainsFunc(c.subkeys, func(x *key) bool { return x.pk.KeyId == r.keyID })
	})
	return c, nil
}

func newest(sigs []*packet.Signature) (*packet.Signature, time.Time) {
	var best *packet.Signature
	for _, s := range sigs {
		if best == nil || s.CreationTime.After(best.CreationTime) {
			best = s
		}
	}
	if best == nil {
		return nil, time.Time{}
	}
	return best, best.CreationTime
}

// issuedBy reports whether the signature names pk as its issuer.
func (s *signature) issuedBy(pk *packet.PublicKey) bool {
	if len(s.issuerFP) > 0 {
		return bytes.Equal(s.issuerFP, pk.Fingerprint)
	}
	return s.issuer == pk.KeyId
}

// verifyV3Cert verifies a v3 user ID certification (RFC 4880 5.2.4: the
// key, then the user ID without the v4 length prefix).
func (s *signature) verifyV3Cert(pk *packet.PublicKey, uid []byte) error {
	if !s.hash.Available() {
		return errors.New("hash unavailable")
	}
	h := s.hash.New()
	if err := pk.SerializeForHash(h); err != nil {
		return err
	}
	h.Write(uid)
	return s.verifyV3(pk, h)
}

// candidates returns the keys a signature may have been made by.
func (k *Keyring) candidates(s *signature) []*key {
	var out []*key
	if len(s.issuerFP) > 0 {
		for _, ks := range k.byID {
			for _, ky := range ks {
				if bytes.Equal(ky.pk.Fingerprint, s.issuerFP) {
					out = append(out, ky)
				}
			}
		}
		return out
	}
	return k.byID[s.issuer]
}

// rejectedReason says why a signature's key ID names a subkey that was
// dropped, or "".
func (k *Keyring) rejectedReason(s *signature) (string, string) {
	for _, c := range k.certs {
		for _, r := range c.rejected {
			if r.keyID != 0 && r.keyID == s.issuer {
				return hex.EncodeToString(c.primary.pk.Fingerprint), "subkey " + fmt.Sprintf("%016x", r.keyID) + " was dropped: " + r.reason
			}
		}
	}
	return "", ""
}

// hashAllowed applies the policy to a data signature's hash.
func (k *Keyring) hashAllowed(h crypto.Hash) string {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA224, crypto.SHA3_256, crypto.SHA3_512:
		return ""
	case crypto.SHA1:
		if k.policy.AllowLegacy {
			return ""
		}
		return "hash SHA1 is refused (set Policy.AllowLegacy to accept pre-2014 signatures)"
	}
	return "hash " + hashName(h) + " is not accepted"
}

// keyAllowed applies the policy to the signing key's algorithm and size.
func (k *Keyring) keyAllowed(pk *packet.PublicKey) string {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, err := pk.BitLength()
		if err != nil {
			return err.Error()
		}
		switch {
		case bits >= 2048:
			return ""
		case bits >= 1024 && k.policy.AllowLegacy:
			return ""
		case bits >= 1024:
			return fmt.Sprintf("RSA key of %d bits is refused (set Policy.AllowLegacy to accept keys under 2048 bits)", bits)
		}
		return fmt.Sprintf("RSA key of %d bits is too weak", bits)
	case packet.PubKeyAlgoDSA:
		if k.policy.AllowLegacy {
			return ""
		}
		return "DSA keys are refused (set Policy.AllowLegacy to accept them)"
	case packet.PubKeyAlgoECDSA, packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519, packet.PubKeyAlgoEd448,
		packet.PubKeyAlgoMldsa65Ed25519, packet.PubKeyAlgoMldsa87Ed448,
		packet.PubKeyAlgoSlhdsaShake128s, packet.PubKeyAlgoSlhdsaShake128f, packet.PubKeyAlgoSlhdsaShake256s:
		return ""
	}
	return algoName(pk.PubKeyAlgo) + " keys cannot make signatures"
}

// validAt says why ky may not be trusted for a signature made at t (and,
// if the policy sets Now, at Now), or "".
func (k *Keyring) validAt(ky *key, t time.Time) string {
	c := ky.cert
	if why := keyValid(c.primary, "key", t, k.policy.Now); why != "" {
		return why
	}
	if !ky.isPrimary {
		if why := keyValid(ky, "subkey", t, k.policy.Now); why != "" {
			return why
		}
	}
	return ky.signingCapable()
}

func keyValid(ky *key, what string, t, now time.Time) string {
	if ky.pk.CreationTime.After(t) {
		return fmt.Sprintf("the %s was created on %s, after the signature (%s)", what, ky.pk.CreationTime.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	for _, r := range ky.revocations {
		hard := r.RevocationReason == nil || (*r.RevocationReason != packet.KeySuperseded && *r.RevocationReason != packet.KeyRetired)
		if hard {
			return fmt.Sprintf("the %s was revoked on %s", what, r.CreationTime.UTC().Format(time.RFC3339))
		}
		// A superseded or retired key keeps its earlier signatures.
		if !r.CreationTime.After(t) {
			return fmt.Sprintf("the %s was retired on %s, before the signature", what, r.CreationTime.UTC().Format(time.RFC3339))
		}
	}
	if b := ky.binding; b != nil {
		if b.KeyLifetimeSecs != nil && *b.KeyLifetimeSecs != 0 {
			exp := ky.pk.CreationTime.Add(time.Duration(*b.KeyLifetimeSecs) * time.Second)
			if !t.Before(exp) {
				return fmt.Sprintf("the %s expired on %s, before the signature (%s)", what, exp.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
			}
			if !now.IsZero() && !now.Before(exp) {
				return fmt.Sprintf("the %s expired on %s", what, exp.UTC().Format(time.RFC3339))
			}
		}
		if b.SigLifetimeSecs != nil && *b.SigLifetimeSecs != 0 {
			exp := b.CreationTime.Add(time.Duration(*b.SigLifetimeSecs) * time.Second)
			if !t.Before(exp) || (!now.IsZero() && !now.Before(exp)) {
				return fmt.Sprintf("the %s's self-signature expired on %s", what, exp.UTC().Format(time.RFC3339))
			}
		}
	}
	return ""
}

// Signer describes who made a signature that verified.
type Signer struct {
	// KeyID of the key that made the signature (a subkey, if one did),
	// 16 lower-case hex digits.
	KeyID string
	// Fingerprint of that key, hex.
	Fingerprint string
	// PrimaryFingerprint is the fingerprint of the certificate's primary
	// key, which is what "rpmkeys --list" and dnf print.
	PrimaryFingerprint string
	// UserIDs of the certificate, e.g. "Fedora <fedora-41-primary@fedoraproject.org>".
	UserIDs []string
	// Algorithm and Hash as rpm prints them: "RSA"/"EdDSA", "SHA256".
	Algorithm string
	Hash      string
	// Version of the signature packet: 3, 4 or 6.
	Version int
	// Created is the signature's creation time.
	Created time.Time
}

func (s *Signer) String() string {
	return fmt.Sprintf("V%d %s/%s signature, key ID %s (%s)", s.Version, s.Algorithm, s.Hash, s.KeyID, s.PrimaryFingerprint)
}

// check verifies one signature over the data already written into h (from
// s.newHash). types lists the acceptable signature types. The error is
// one of the package's typed errors.
func (k *Keyring) check(s *signature, h hash.Hash, types ...packet.SignatureType) (*Signer, error) {
	if !slices.Contains(types, s.sigType) {
		return nil, &BadSignatureError{KeyID: s.keyID(), Reason: fmt.Sprintf("signature type %#02x is not a signature over data", byte(s.sigType))}
	}
	cands := k.candidates(s)
	if len(cands) == 0 {
		if fp, why := k.rejectedReason(s); why != "" {
			return nil, &UntrustedKeyError{KeyID: s.keyID(), Fingerprint: fp, Reason: why}
		}
		return nil, &UnknownKeyError{KeyIDs: []string{s.keyID()}}
	}
	if why := k.hashAllowed(s.hash); why != "" {
		return nil, &UnsupportedError{KeyID: s.keyID(), What: why}
	}
	var bad, untrusted, unsupported error
	for _, ky := range cands {
		if why := k.keyAllowed(ky.pk); why != "" {
			unsupported = &UnsupportedError{KeyID: s.keyID(), What: why}
			continue
		}
		hc, err := cloneHash(h)
		if err != nil {
			return nil, err
		}
		if err := s.verify(ky.pk, hc); err != nil {
			bad = &BadSignatureError{KeyID: s.keyID(), Reason: algoName(s.algo) + "/" + hashName(s.hash) + " signature does not verify", Err: err}
			continue
		}
		if why := k.validAt(ky, s.created); why != "" {
			untrusted = &UntrustedKeyError{KeyID: s.keyID(), Fingerprint: hex.EncodeToString(ky.cert.primary.pk.Fingerprint), Reason: why}
			continue
		}
		if s.v4 != nil && !k.policy.Now.IsZero() && s.v4.SigExpired(k.policy.Now) {
			untrusted = &UntrustedKeyError{KeyID: s.keyID(), Fingerprint: hex.EncodeToString(ky.cert.primary.pk.Fingerprint), Reason: "the signature has expired"}
			continue
		}
		return &Signer{
			KeyID:              fmt.Sprintf("%016x", ky.pk.KeyId),
			Fingerprint:        hex.EncodeToString(ky.pk.Fingerprint),
			PrimaryFingerprint: hex.EncodeToString(ky.cert.primary.pk.Fingerprint),
			UserIDs:            slices.Clone(ky.cert.userIDs),
			Algorithm:          algoName(s.algo),
			Hash:               hashName(s.hash),
			Version:            s.version,
			Created:            s.created,
		}, nil
	}
	// A key-ID collision can make several candidates; report the most
	// telling failure.
	switch {
	case untrusted != nil:
		return nil, untrusted
	case bad != nil:
		return nil, bad
	}
	return nil, unsupported
}

func cloneHash(h hash.Hash) (hash.Hash, error) {
	if c, ok := h.(hash.Cloner); ok {
		return c.Clone()
	}
	return nil, errors.New("hash cannot be cloned")
}

// combine applies the multi-signature rule shared by packages and
// repository metadata: the data is accepted when at least one signature
// verifies with a trusted key and no signature by a key in the keyring
// fails. Signatures by unknown keys, or with algorithms the policy
// refuses, are ignored when another one verifies (key rotation, PQC
// transition). When none verifies, the most serious failure is returned.
func combine(signers []*Signer, errs []error) (*Signer, error) {
	var good *Signer
	for _, s := range signers {
		if s != nil {
			good = s
			break
		}
	}
	var bad, untrusted, unsupported, other error
	var unknown []string
	for _, err := range errs {
		var be *BadSignatureError
		var ue *UntrustedKeyError
		var se *UnsupportedError
		var ke *UnknownKeyError
		switch {
		case err == nil:
		case errors.As(err, &be):
			if bad == nil {
				bad = err
			}
		case errors.As(err, &ue):
			if untrusted == nil {
				untrusted = err
			}
		case errors.As(err, &se):
			if unsupported == nil {
				unsupported = err
			}
		case errors.As(err, &ke):
			for _, id := range ke.KeyIDs {
				if !slices.Contains(unknown, id) {
					unknown = append(unknown, id)
				}
			}
		default:
			if other == nil {
				other = err
			}
		}
	}
	if bad != nil {
		return nil, bad
	}
	if good != nil {
		return good, nil
	}
	switch {
	case untrusted != nil:
		return nil, untrusted
	case other != nil:
		return nil, other
	case unsupported != nil:
		return nil, unsupported
	case len(unknown) > 0:
		return nil, &UnknownKeyError{KeyIDs: unknown}
	}
	return nil, &UnsignedError{What: "data"}
}
