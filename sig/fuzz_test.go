package sig

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzKeyring is a keyring with a few real keys, so that fuzzed signatures
// can reach the verification code and not only the key lookup.
func fuzzKeyring(f *testing.F) *Keyring {
	var data [][]byte
	for _, k := range []string{
		"distro/RPM-GPG-KEY-testbed",
		rpmOrgKeys + "/rpm.org-rsa-2048-test.pub",
		"real/keys/distribution-gpg-keys/opensuse/RPM-GPG-KEY-openSUSE",
	} {
		if b, err := os.ReadFile(td(k)); err == nil {
			data = append(data, b)
		}
	}
	if len(data) == 0 {
		return mustGeneratedKeyring(f)
	}
	k, err := ParseKeyring(data...)
	if err != nil {
		f.Fatal(err)
	}
	return k.WithPolicy(Policy{AllowLegacy: true})
}

func FuzzVerifyRPM(f *testing.F) {
	k := fuzzKeyring(f)
	for _, g := range []string{
		"distro/repo/Packages/h/*.rpm",
		"real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-*.rpm",
		"real/rpms/synthetic/rpm-rs/v6/signed/*.rpm",
		"real/rpms/distro/opensuse/mc-4.8.15*.rpm",
		"real/rpms/synthetic/scancode-truncated/*.rpm",
	} {
		files, _ := filepath.Glob(td(g))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// The headers are what matters; keep seeds small.
			if len(b) > 16<<10 {
				b = b[:16<<10]
			}
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add(append(bytes.Clone(leadMagic), make([]byte, 200)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, r, err := k.VerifyRPM(bytes.NewReader(b))
		if err != nil {
			if res != nil || r != nil {
				t.Fatal("result with error")
			}
			return
		}
		var buf bytes.Buffer
		_, _ = io.Copy(&buf, r)
		if !bytes.Equal(buf.Bytes(), b) {
			t.Fatal("replay differs from input")
		}
	})
}

func FuzzParseKeyring(f *testing.F) {
	for _, g := range []string{
		"distro/RPM-GPG-KEY-testbed",
		rpmOrgKeys + "/*",
		"real/rpms/synthetic/rpm-rs/keys/*",
		"real/keys/cavaliergopher-centos/*",
		"real/repodata/*/repodata/repomd.xml.key",
	} {
		files, _ := filepath.Glob(td(g))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(armorPublicKey + "\n\n" + "mQ==\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Add([]byte{0x99, 0x00, 0x01, 0x04})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeyring(b)
		if err != nil {
			return
		}
		for _, ki := range k.Keys() {
			if ki.Fingerprint == "" || len(ki.KeyID) != 16 {
				t.Fatalf("key info %+v", ki)
			}
		}
		_, _ = k.VerifyDetached([]byte("data"), b)
	})
}

func FuzzVerifyDetached(f *testing.F) {
	k := fuzzKeyring(f)
	for _, g := range []string{
		"real/repodata/*/repodata/repomd.xml.asc",
		"real/repodata/libdnf-gpg-signed-repomd/wrong-asc/repomd.xml.asc",
	} {
		files, _ := filepath.Glob(td(g))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(armorSignedMessage + "\nHash: SHA256\n\nx\n" + armorSignature + "\n\n-----END PGP SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = k.VerifyDetached([]byte("<repomd/>\n"), b)
	})
}
