package sig

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func keyIDs(k *Keyring) []string {
	var ids []string
	for _, ki := range k.Keys() {
		ids = append(ids, ki.KeyID)
	}
	return ids
}

func TestParseKeyring(t *testing.T) {
	needTestdata(t)
	cases := []struct {
		name  string
		files []string
		ids   []string // primary key IDs, in order
	}{
		{"armored", []string{"distro/RPM-GPG-KEY-testbed"}, []string{"5de6817caf487ead"}},
		{"binary", []string{rpmOrgKeys + "/rpm.org-rsa-2048-test.pgp"}, []string{"4344591e1964c5fc"}},
		{"several per file", []string{"real/rpms/synthetic/rpm-rs/keys/rpm-testkey-v4-keyring.asc"}, nil},
		{"v6 keys", []string{"real/rpms/synthetic/rpm-rs/keys/rpm-testkey-v6-keyring.asc"}, nil},
		{"same key twice merges", []string{rpmOrgKeys + "/rpm.org-rsa-2048-test.pub", rpmOrgKeys + "/rpm.org-rsa-2048-test.pgp"}, []string{"4344591e1964c5fc"}},
		// Two different keys with the same 64-bit key ID: both are kept.
		{"key ID collision", []string{rpmOrgKeys + "/keyidcollision1.pub", rpmOrgKeys + "/keyidcollision2.pub"}, []string{"42655a75156b3de0", "42655a75156b3de0"}},
		{"DSA with ElGamal subkey", []string{"real/keys/cavaliergopher-centos/RPM-GPG-KEY-CentOS-5"}, []string{"a8a447dce8562897"}},
		{"ML-DSA-87 v6", []string{rpmOrgKeys + "/rpm.org-v6-mldsa87-test.asc"}, []string{"aed054589cbf8584"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := keyring(t, c.files...)
			got := keyIDs(k)
			if c.ids != nil && !slices.Equal(got, c.ids) {
				t.Errorf("key IDs %v, want %v", got, c.ids)
			}
			if c.ids == nil && len(got) < 2 {
				t.Errorf("key IDs %v, want several", got)
			}
		})
	}

	// Two armored blocks in one file (as some RPM-GPG-KEY files are).
	both := append(readFile(t, td("distro/RPM-GPG-KEY-testbed")), readFile(t, td(rpmOrgKeys+"/alice.asc"))...)
	k, err := ParseKeyring(both)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(k); !slices.Equal(got, []string{"5de6817caf487ead", "b3a771bfeb04e625"}) {
		t.Errorf("concatenated armor: %v", got)
	}
	alice := k.Keys()[1]
	if alice.CanSign || len(alice.Subkeys) != 1 || !alice.Subkeys[0].CanSign || alice.UserIDs[0] != "Alice <alice@example.org>" {
		t.Errorf("alice: %+v", alice)
	}
}

// TestBadBindings: CVE-2021-3521 keys carry a subkey whose binding
// signature is missing or made by another key; type-confusion.asc binds a
// subkey with a signature of the wrong algorithm. The primary key stays
// usable, the subkey is dropped, and a signature by it says why.
func TestBadBindings(t *testing.T) {
	needTestdata(t)
	for _, f := range []string{"CVE-2021-3521-badbind.asc", "CVE-2021-3521-nosubsig.asc", "CVE-2021-3521-nosubsig-last.asc", "type-confusion.asc"} {
		t.Run(f, func(t *testing.T) {
			k := keyring(t, rpmOrgKeys+"/"+f)
			ki := k.Keys()
			if len(ki) != 1 || ki[0].KeyID != "4344591e1964c5fc" {
				t.Fatalf("keys %+v", ki)
			}
			for _, s := range ki[0].Subkeys {
				if s.CanSign {
					t.Errorf("subkey %s may sign", s.KeyID)
				}
			}
			// The primary still verifies what it signed.
			if _, err, _ := verifyRPM(t, k, readFile(t, td("real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-signed.rpm"))); err != nil {
				t.Errorf("primary key signature: %v", err)
			}
		})
	}
	k := keyring(t, rpmOrgKeys+"/CVE-2021-3521-badbind.asc")
	if d := k.Keys()[0].Dropped; len(d) != 1 || !strings.Contains(d[0], "185e6146f00650f8") {
		t.Errorf("dropped %v", d)
	}
	// A signature claiming the dropped subkey.
	s := &signature{version: 4, sigType: packet.SigTypeBinary, issuer: 0x185e6146f00650f8}
	if _, err := k.check(s, nil, packet.SigTypeBinary); errKind(err) != "untrusted" || !strings.Contains(err.Error(), "binding") {
		t.Errorf("signature by dropped subkey: %v", err)
	}
}

func TestParseKeyringErrors(t *testing.T) {
	e := generate(t, packet.PubKeyAlgoEd25519, 0)
	var secret bytes.Buffer
	w, _ := armor.Encode(&secret, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var binSecret bytes.Buffer
	if err := e.SerializePrivate(&binSecret, nil); err != nil {
		t.Fatal(err)
	}
	pub := armoredPublic(t, e)
	for name, data := range map[string][]byte{
		"empty":            nil,
		"text":             []byte("not a key\n"),
		"armored secret":   secret.Bytes(),
		"binary secret":    binSecret.Bytes(),
		"truncated":        pub[:len(pub)/2],
		"signature only":   sign(t, signArmored, e, []byte("x"), genTime),
		"no self-sig":      primaryOnly(t, e),
		"user ID first":    {0xb4, 0x01, 'x'},
		"huge length":      {0x99, 0xff, 0xff},
		"partial length":   {0xc6, 0xe1, 0x00},
		"IMA X.509 cert":   []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		"broken armor CRC": bytes.Replace(pub, []byte("\n="), []byte("\n=AAAA"), 1),
	} {
		t.Run(name, func(t *testing.T) {
			k, err := ParseKeyring(data)
			if err == nil {
				t.Fatalf("accepted: %v", keyIDs(k))
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FormatError", err)
			}
			if strings.Contains(name, "secret") && !strings.Contains(err.Error(), "secret") {
				t.Errorf("error %v does not say why", err)
			}
		})
	}
	if _, err := ParseKeyring(pub, []byte("junk")); err == nil || !strings.Contains(err.Error(), "key file 2") {
		t.Errorf("second file bad: %v", err)
	}
	if _, err := ParseKeyring(); err == nil {
		t.Error("no files accepted")
	}
}

// primaryOnly serializes just the primary key packet, without user IDs or
// self-signatures.
func primaryOnly(t *testing.T, e *openpgp.Entity) []byte {
	var buf bytes.Buffer
	if err := e.PrimaryKey.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
