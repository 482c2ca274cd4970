package sig

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var genTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func genConfig(algo packet.PublicKeyAlgorithm, at time.Time, lifetime uint32) *packet.Config {
	return &packet.Config{
		Algorithm:       algo,
		RSABits:         2048,
		DefaultHash:     crypto.SHA256,
		Time:            func() time.Time { return at },
		KeyLifetimeSecs: lifetime,
	}
}

// generate makes a signing key as a repository owner would.
func generate(t testing.TB, algo packet.PublicKeyAlgorithm, lifetime uint32) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("Test Repo", "", "repo@example.org", genConfig(algo, genTime, lifetime))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func armoredPublic(t testing.TB, e *openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func mustGeneratedKeyring(t testing.TB) *Keyring {
	t.Helper()
	k, err := ParseKeyring(armoredPublic(t, generate(t, packet.PubKeyAlgoEd25519, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type signer func(w *bytes.Buffer, e *openpgp.Entity, msg []byte, cfg *packet.Config) error

var (
	signBinary signer = func(w *bytes.Buffer, e *openpgp.Entity, msg []byte, cfg *packet.Config) error {
		return openpgp.DetachSign(w, e, bytes.NewReader(msg), cfg)
	}
	signArmored signer = func(w *bytes.Buffer, e *openpgp.Entity, msg []byte, cfg *packet.Config) error {
		return openpgp.ArmoredDetachSign(w, e, bytes.NewReader(msg), cfg)
	}
	signText signer = func(w *bytes.Buffer, e *openpgp.Entity, msg []byte, cfg *packet.Config) error {
		return openpgp.ArmoredDetachSignText(w, e, bytes.NewReader(msg), cfg)
	}
)

func sign(t testing.TB, s signer, e *openpgp.Entity, msg []byte, at time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	cfg := genConfig(e.PrimaryKey.PubKeyAlgo, at, 0)
	if err := s(&buf, e, msg, cfg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGeneratedRepomd signs a copy of the distro repomd.xml with keys made
// here, as the repo_gpgcheck tests of issue 4 ask.
func TestGeneratedRepomd(t *testing.T) {
	needTestdata(t)
	repomd := readFile(t, td("distro/repo/repodata/repomd.xml"))
	sigAt := genTime.Add(time.Hour)

	for _, algo := range []packet.PublicKeyAlgorithm{packet.PubKeyAlgoEd25519, packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoRSA} {
		e := generate(t, algo, 0)
		k, err := ParseKeyring(armoredPublic(t, e))
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]signer{"binary": signBinary, "armored": signArmored, "text": signText} {
			asc := sign(t, s, e, repomd, sigAt)
			got, err := k.VerifyDetached(repomd, asc)
			if err != nil {
				t.Fatalf("%v %s: %v", algo, name, err)
			}
			if got.KeyID != keyID(e.PrimaryKey) || !got.Created.Equal(sigAt) {
				t.Errorf("%v %s: signer %+v", algo, name, got)
			}
			tampered := bytes.Replace(repomd, []byte("<revision>"), []byte("<revision>1"), 1)
			if _, err := k.VerifyDetached(tampered, asc); errKind(err) != "bad" {
				t.Errorf("%v %s: tampered repomd.xml: got %v, want *BadSignatureError", algo, name, err)
			}
		}
	}

	e := generate(t, packet.PubKeyAlgoEd25519, 0)
	k, _ := ParseKeyring(armoredPublic(t, e))
	other := generate(t, packet.PubKeyAlgoEd25519, 0)
	good := sign(t, signBinary, e, repomd, sigAt)
	foreign := sign(t, signBinary, other, repomd, sigAt)

	// A text signature does not care about CRLF vs LF.
	text := sign(t, signText, e, repomd, sigAt)
	if _, err := k.VerifyDetached(bytes.ReplaceAll(repomd, []byte("\n"), []byte("\r\n")), text); err != nil {
		t.Errorf("text signature over CRLF copy: %v", err)
	}

	// Signed by a key that is not in the keyring: the error names it.
	_, err := k.VerifyDetached(repomd, foreign)
	var unknown *UnknownKeyError
	if !errors.As(err, &unknown) || len(unknown.KeyIDs) != 1 || unknown.KeyIDs[0] != keyID(other.PrimaryKey) {
		t.Errorf("foreign key: got %v", err)
	}

	// Several signatures (key rotation): one good one is enough; unknown
	// ones are ignored; a bad one by a known key fails everything.
	if _, err := k.VerifyDetached(repomd, append(bytes.Clone(foreign), good...)); err != nil {
		t.Errorf("foreign+good: %v", err)
	}
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-5] ^= 1
	if _, err := k.VerifyDetached(repomd, append(bytes.Clone(good), corrupt...)); errKind(err) != "bad" {
		t.Errorf("good+corrupt: got %v, want bad", err)
	}

	// Expiring key: valid when it signed; refused once Now is past expiry.
	exp := generate(t, packet.PubKeyAlgoEd25519, 86400)
	ek, _ := ParseKeyring(armoredPublic(t, exp))
	asc := sign(t, signBinary, exp, repomd, sigAt)
	if _, err := ek.VerifyDetached(repomd, asc); err != nil {
		t.Errorf("expiring key, no Now: %v", err)
	}
	if _, err := ek.WithPolicy(Policy{Now: sigAt}).VerifyDetached(repomd, asc); err != nil {
		t.Errorf("expiring key, Now before expiry: %v", err)
	}
	if _, err := ek.WithPolicy(Policy{Now: genTime.Add(48 * time.Hour)}).VerifyDetached(repomd, asc); errKind(err) != "untrusted" {
		t.Errorf("expired key with Now: got %v, want untrusted", err)
	}
	late := signRaw(t, exp.PrivateKey, repomd, genTime.Add(72*time.Hour))
	if _, err := ek.VerifyDetached(repomd, late); errKind(err) != "untrusted" {
		t.Errorf("signature made after expiry: got %v, want untrusted", err)
	}
	early := signRaw(t, exp.PrivateKey, repomd, genTime.Add(-time.Hour))
	if _, err := ek.VerifyDetached(repomd, early); errKind(err) != "untrusted" {
		t.Errorf("signature older than its key: got %v, want untrusted", err)
	}

	// Signing subkey, then revoked.
	withSub := generate(t, packet.PubKeyAlgoEd25519, 0)
	if err := withSub.AddSigningSubkey(genConfig(packet.PubKeyAlgoEd25519, genTime, 0)); err != nil {
		t.Fatal(err)
	}
	sub := withSub.Subkeys[len(withSub.Subkeys)-1]
	cfg := genConfig(packet.PubKeyAlgoEd25519, sigAt, 0)
	cfg.SigningKeyId = sub.PublicKey.KeyId
	var sbuf bytes.Buffer
	if err := openpgp.DetachSign(&sbuf, withSub, bytes.NewReader(repomd), cfg); err != nil {
		t.Fatal(err)
	}
	sk, _ := ParseKeyring(armoredPublic(t, withSub))
	got, err := sk.VerifyDetached(repomd, sbuf.Bytes())
	if err != nil || got.KeyID != keyID(sub.PublicKey) || got.PrimaryFingerprint == got.Fingerprint {
		t.Errorf("subkey signature: %+v, %v", got, err)
	}
	if err := withSub.RevokeSubkey(&withSub.Subkeys[len(withSub.Subkeys)-1], packet.KeyCompromised, "lost", genConfig(packet.PubKeyAlgoEd25519, sigAt.Add(time.Hour), 0)); err != nil {
		t.Fatal(err)
	}
	rk, _ := ParseKeyring(armoredPublic(t, withSub))
	if _, err := rk.VerifyDetached(repomd, sbuf.Bytes()); errKind(err) != "untrusted" || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked (compromised) subkey: got %v, want untrusted", err)
	}

	// Not signatures at all.
	for name, asc := range map[string][]byte{
		"empty":      nil,
		"whitespace": []byte(" \n"),
	} {
		if _, err := k.VerifyDetached(repomd, asc); errKind(err) != "unsigned" {
			t.Errorf("%s .asc: got %v, want unsigned", name, err)
		}
	}
	for name, asc := range map[string][]byte{
		"text":         []byte("hello"),
		"key not sig":  armoredPublic(t, e),
		"garbage":      {0x88, 0x03, 4, 0, 1},
		"bad armor":    []byte("-----BEGIN PGP SIGNATURE-----\n\n!!!!\n-----END PGP SIGNATURE-----\n"),
		"message":      []byte("-----BEGIN PGP MESSAGE-----\n\nowE=\n-----END PGP MESSAGE-----\n"),
		"binary magic": {0xff, 0xff},
	} {
		if _, err := k.VerifyDetached(repomd, asc); errKind(err) != "bad" {
			t.Errorf("%s .asc: got %v, want bad", name, err)
		}
	}
}

func TestLibdnfSignedRepomd(t *testing.T) {
	needTestdata(t)
	const dir = "real/repodata/libdnf-gpg-signed-repomd/"
	k := keyring(t, dir+"signing_key.pub")
	repomd := readFile(t, td(dir+"repodata/repomd.xml"))
	good := readFile(t, td(dir+"repodata/repomd.xml.asc"))
	wrong := readFile(t, td(dir+"wrong-asc/repomd.xml.asc"))

	// The good signature is RSA/SHA1 (2014): legacy only.
	if _, err := k.VerifyDetached(repomd, good); errKind(err) != "unsupported" || !strings.Contains(err.Error(), "SHA1") {
		t.Errorf("default policy: got %v, want unsupported SHA1", err)
	}
	lk := k.WithPolicy(Policy{AllowLegacy: true})
	s, err := lk.VerifyDetached(repomd, good)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != "19489d8145a37ede" || s.Hash != "SHA1" || len(s.UserIDs) != 1 || s.UserIDs[0] != "libhif test key <test@email.com>" {
		t.Errorf("signer %+v", s)
	}
	if _, err := lk.VerifyDetached(append(bytes.Clone(repomd), ' '), good); errKind(err) != "bad" {
		t.Errorf("modified repomd.xml: got %v, want bad", err)
	}
	// wrong-asc is a clear-signed copy of repomd.xml by another key
	// (17acba8dfa970e17, not in signing_key.pub).
	if _, err := lk.VerifyDetached(repomd, wrong); errKind(err) != "unknown-key" || !strings.Contains(err.Error(), "17acba8dfa970e17") {
		t.Errorf("wrong-asc: got %v, want unknown key 17acba8dfa970e17", err)
	}
	if _, err := k.VerifyDetached(repomd, wrong); err == nil {
		t.Error("wrong-asc verified under the default policy")
	}
}

// TestOpenSUSE11Repomd: a v3 DSA/SHA1 signature (2008) by a key that has
// expired since. Decision: judged at signing time (Policy.Now zero) it
// verifies under AllowLegacy; with Now set it is refused, as current dnf
// does (librepo skips signatures whose key has expired; rpm-sequoia
// reports "certificate is not alive").
func TestOpenSUSE11Repomd(t *testing.T) {
	needTestdata(t)
	for _, dir := range []string{"opensuse-11.0-update", "opensuse-obs-virtualbox-11.1", "opensuse-obs-zypp-svn-11.1", "opensuse-10.2-updates-subset"} {
		t.Run(dir, func(t *testing.T) {
			base := "real/repodata/" + dir + "/repodata/"
			k := keyring(t, base+"repomd.xml.key")
			repomd := readFile(t, td(base+"repomd.xml"))
			asc := readFile(t, td(base+"repomd.xml.asc"))
			if _, err := k.VerifyDetached(repomd, asc); errKind(err) != "unsupported" {
				t.Errorf("default policy: got %v, want unsupported", err)
			}
			lk := k.WithPolicy(Policy{AllowLegacy: true})
			s, err := lk.VerifyDetached(repomd, asc)
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm != "DSA" || s.Hash != "SHA1" {
				t.Errorf("signer %+v", s)
			}
			if dir == "opensuse-11.0-update" && (s.KeyID != "a84edae89c800aca" || s.Version != 3) {
				t.Errorf("signer %+v", s)
			}
			now := k.WithPolicy(Policy{AllowLegacy: true, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
			_, err = now.VerifyDetached(repomd, asc)
			if expired := !k.Keys()[0].Expires.IsZero(); expired {
				if errKind(err) != "untrusted" || !strings.Contains(err.Error(), "expired") {
					t.Errorf("Now=2026: got %v, want untrusted (expired)", err)
				}
			} else if err != nil {
				t.Errorf("Now=2026, key without expiry: %v", err)
			}
			if _, err := lk.VerifyDetached(bytes.Replace(repomd, []byte("<data"), []byte("<data "), 1), asc); errKind(err) != "bad" {
				t.Errorf("modified repomd.xml: got %v, want bad", err)
			}
		})
	}
}

// TestClearSignedRepomd: libzypp's Delta test repository publishes a
// clear-signed copy of repomd.xml as repomd.xml.asc (DSA/SHA1, key expired
// 2013). We verify the embedded text's signature and require the text to
// be repomd.xml.
func TestClearSignedRepomd(t *testing.T) {
	needTestdata(t)
	const base = "real/repodata/libzypp-delta-clearsigned/repodata/"
	k := keyring(t, base+"repomd.xml.key").WithPolicy(Policy{AllowLegacy: true})
	repomd := readFile(t, td(base+"repomd.xml"))
	asc := readFile(t, td(base+"repomd.xml.asc"))
	s, err := k.VerifyDetached(repomd, asc)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != "d6214ac84d2dabf2" || s.Algorithm != "DSA" {
		t.Errorf("signer %+v", s)
	}
	// gpg --verify repomd.xml.asc repomd.xml says "Good signature" for any
	// repomd.xml; we do not.
	if _, err := k.VerifyDetached(bytes.Replace(repomd, []byte("other.xml.gz"), []byte("other.xml.gx"), 1), asc); errKind(err) != "bad" {
		t.Errorf("different repomd.xml: got %v, want bad", err)
	}
	// Line-ending and trailing-blank differences are not changes under the
	// cleartext rules.
	if _, err := k.VerifyDetached(bytes.ReplaceAll(repomd, []byte("\n"), []byte(" \r\n")), asc); err != nil {
		t.Errorf("CRLF copy: %v", err)
	}
	// The signed text itself tampered with.
	if _, err := k.VerifyDetached(bytes.Replace(repomd, []byte("other.xml.gz"), []byte("other.xml.gx"), 1),
		bytes.Replace(asc, []byte("other.xml.gz"), []byte("other.xml.gx"), 1)); errKind(err) != "bad" {
		t.Errorf("tampered clear-signed text: got %v, want bad", err)
	}
	if _, err := k.WithPolicy(Policy{AllowLegacy: true, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}).VerifyDetached(repomd, asc); errKind(err) != "untrusted" {
		t.Errorf("Now=2026: got %v, want untrusted", err)
	}
	// A generated key's clear signature over the distro repomd.xml.
	e := generate(t, packet.PubKeyAlgoEd25519, 0)
	gk, _ := ParseKeyring(armoredPublic(t, e))
	distro := readFile(t, td("distro/repo/repodata/repomd.xml"))
	var buf bytes.Buffer
	w, err := clearsignEncode(&buf, e)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(distro)
	w.Close()
	if _, err := gk.VerifyDetached(distro, buf.Bytes()); err != nil {
		t.Errorf("generated clear signature: %v", err)
	}
}

func clearsignEncode(w io.Writer, e *openpgp.Entity) (io.WriteCloser, error) {
	return clearsign.Encode(w, e.PrivateKey, genConfig(e.PrimaryKey.PubKeyAlgo, genTime.Add(time.Hour), 0))
}

func keyID(pk *packet.PublicKey) string { return fmt.Sprintf("%016x", pk.KeyId) }

// signRaw makes a binary signature at any time, even one go-crypto's
// high-level API refuses (before the key existed, after it expired).
func signRaw(t testing.TB, priv *packet.PrivateKey, msg []byte, at time.Time) []byte {
	t.Helper()
	id := priv.KeyId
	s := &packet.Signature{
		Version:      4,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   priv.PubKeyAlgo,
		Hash:         crypto.SHA256,
		CreationTime: at,
		IssuerKeyId:  &id,
	}
	cfg := genConfig(priv.PubKeyAlgo, at, 0)
	h, err := s.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(msg)
	if err := s.Sign(h, priv, cfg); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
