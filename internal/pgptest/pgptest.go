// Package pgptest makes OpenPGP signing keys for tests that sign
// repository metadata: a fresh EdDSA key, its armored public key and
// armored detached signatures (SHA-256), as a repository owner would make
// them. It is for tests only.
package pgptest

import (
	"bytes"
	"crypto"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is a signing key made for one test.
type Key struct {
	Entity *openpgp.Entity
	// Public is the armored public key.
	Public []byte
}

// NewKey makes a fresh EdDSA signing key.
func NewKey(t testing.TB) *Key {
	t.Helper()
	e, err := openpgp.NewEntity("smith test", "", "test@example.invalid",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &Key{Entity: e, Public: buf.Bytes()}
}

// Sign returns an armored detached signature of data (repomd.xml.asc).
func (k *Key) Sign(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, k.Entity, bytes.NewReader(data), &packet.Config{DefaultHash: crypto.SHA256}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
