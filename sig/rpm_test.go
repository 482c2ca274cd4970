package sig

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDistroRepoPackages(t *testing.T) {
	needTestdata(t)
	k := keyring(t, "distro/RPM-GPG-KEY-testbed")
	files, err := filepath.Glob(td("distro/repo/Packages/*/*.rpm"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no packages under %s: %v", td("distro/repo/Packages"), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b := readFile(t, f)
			res, err, same := verifyRPM(t, k, b)
			if strings.HasPrefix(filepath.Base(f), "webapp-demo-") {
				var unsigned *UnsignedError
				if !errors.As(err, &unsigned) {
					t.Fatalf("webapp-demo is unsigned: got %v, want *UnsignedError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !same {
				t.Error("replayed bytes differ from the file")
			}
			if res.Signer.KeyID != "5de6817caf487ead" || res.Signer.Algorithm != "RSA" || res.Signer.Hash != "SHA512" || res.Signer.Version != 4 {
				t.Errorf("signer = %v", res.Signer)
			}
			if res.Signer.PrimaryFingerprint != "edfa61f1ed705ca70236c73e5de6817caf487ead" {
				t.Errorf("primary fingerprint = %s", res.Signer.PrimaryFingerprint)
			}
			if res.PayloadCheck != "SHA256 payload digest" {
				t.Errorf("PayloadCheck = %q", res.PayloadCheck)
			}
			if len(res.HeaderDigests) == 0 || res.HeaderDigests[0] != "SHA256" {
				t.Errorf("HeaderDigests = %v", res.HeaderDigests)
			}
			if res.HeaderOffset <= leadSize || res.PayloadOffset <= res.HeaderOffset {
				t.Errorf("offsets %d, %d", res.HeaderOffset, res.PayloadOffset)
			}
		})
	}
}

type rpmCase struct {
	pkg    string   // relative to testdata
	keys   []string // relative to testdata
	legacy bool
	now    time.Time
	// want is an errKind; for "ok" also check the signer.
	want      string
	keyID     string // signer key ID, or the key ID the error must name
	algo      string // "RSA/SHA256"
	version   int
	payload   string // PayloadCheck
	errSubstr string
}

func runRPMCases(t *testing.T, cases []rpmCase) {
	t.Helper()
	for _, c := range cases {
		name := filepath.Base(c.pkg) + "/" + strings.Join(func() []string {
			var s []string
			for _, k := range c.keys {
				s = append(s, filepath.Base(k))
			}
			return s
		}(), "+")
		if c.legacy {
			name += "/legacy"
		}
		if !c.now.IsZero() {
			name += "/now"
		}
		t.Run(name, func(t *testing.T) {
			k := keyring(t, c.keys...).WithPolicy(Policy{AllowLegacy: c.legacy, Now: c.now})
			b := readFile(t, td(c.pkg))
			res, err, same := verifyRPM(t, k, b)
			if got := errKind(err); got != c.want {
				t.Fatalf("got %s (%v), want %s", got, err, c.want)
			}
			if c.errSubstr != "" && (err == nil || !strings.Contains(err.Error(), c.errSubstr)) {
				t.Errorf("error %v does not mention %q", err, c.errSubstr)
			}
			if err != nil {
				if c.keyID != "" && !strings.Contains(err.Error(), c.keyID) {
					t.Errorf("error %v does not name key %s", err, c.keyID)
				}
				return
			}
			if !same {
				t.Error("replayed bytes differ from the file")
			}
			if c.keyID != "" && res.Signer.KeyID != c.keyID {
				t.Errorf("signer key %s, want %s", res.Signer.KeyID, c.keyID)
			}
			if c.algo != "" && res.Signer.Algorithm+"/"+res.Signer.Hash != c.algo {
				t.Errorf("signer algorithm %s/%s, want %s", res.Signer.Algorithm, res.Signer.Hash, c.algo)
			}
			if c.version != 0 && res.Signer.Version != c.version {
				t.Errorf("signature version %d, want %d", res.Signer.Version, c.version)
			}
			if c.payload != "" && res.PayloadCheck != c.payload {
				t.Errorf("PayloadCheck %q, want %q", res.PayloadCheck, c.payload)
			}
		})
	}
}

func TestRPMOrgPackages(t *testing.T) {
	needTestdata(t)
	const dir = "real/rpms/synthetic/rpm-org/"
	rsa := rpmOrgKeys + "/rpm.org-rsa-2048-test.pub"
	runRPMCases(t, []rpmCase{
		{pkg: dir + "hello-2.0-1.x86_64-signed.rpm", keys: []string{rsa}, want: "ok", keyID: "4344591e1964c5fc", algo: "RSA/SHA256", version: 4, payload: "SHA256 payload digest"},
		// The same key as a binary (.pgp) key file.
		{pkg: dir + "hello-2.0-1.x86_64-signed.rpm", keys: []string{rpmOrgKeys + "/rpm.org-rsa-2048-test.pgp"}, want: "ok", keyID: "4344591e1964c5fc"},
		{pkg: dir + "hello-2.0-1.x86_64-signed.rpm", keys: []string{"distro/RPM-GPG-KEY-testbed"}, want: "unknown-key", keyID: "4344591e1964c5fc"},
		// rpm -K: "Header V3 RSA/SHA256 Signature ... OK".
		{pkg: dir + "hello-2.0-1.x86_64-v3-signed.rpm", keys: []string{rsa}, want: "ok", keyID: "4344591e1964c5fc", algo: "RSA/SHA256", version: 3},
		// Signing subkey of a certify-only primary (rpmsigdig.at "signed with a good subkey").
		{pkg: dir + "hello-2.0-1.x86_64-signed-with-subkey.rpm", keys: []string{rpmOrgKeys + "/alice.asc"}, want: "ok", keyID: "1f71177215217ee0", algo: "RSA/SHA512"},
		// rpm: NOTTRUSTED "Subkey ... expired on 2022-04-12" / "has been revoked".
		{pkg: dir + "hello-2.0-1.x86_64-signed-with-subkey.rpm", keys: []string{rpmOrgKeys + "/alice-expired-subkey.asc"}, want: "untrusted", keyID: "1f71177215217ee0", errSubstr: "expired on 2022-04-12"},
		{pkg: dir + "hello-2.0-1.x86_64-signed-with-subkey.rpm", keys: []string{rpmOrgKeys + "/alice-revoked-subkey.asc"}, want: "untrusted", keyID: "1f71177215217ee0", errSubstr: "revoked"},
		{pkg: dir + "hello-2.0-1.x86_64-signed-with-subkey.rpm", keys: []string{rsa}, want: "unknown-key", keyID: "1f71177215217ee0"},
		// EdDSA subkey added to the rpm.org key later; the two key files merge.
		{pkg: dir + "hello-2.0-1.x86_64-signed-with-new-subkey.rpm", keys: []string{rsa, rpmOrgKeys + "/rpm.org-rsa-2048-add-subkey.asc"}, want: "ok", keyID: "6323c42711450b6c", algo: "EdDSA/SHA512"},
		{pkg: dir + "hello-2.0-1.x86_64-signed-with-new-subkey.rpm", keys: []string{rsa}, want: "unknown-key", keyID: "6323c42711450b6c"},
		// IMA file signatures are not part of the header signature (rpm -K: OK).
		{pkg: dir + "hello-2.0-1.x86_64-badima.rpm", keys: []string{rsa}, want: "ok", keyID: "4344591e1964c5fc", algo: "RSA/SHA512"},
		// Header intact, payload corrupted: the replay reader fails at EOF.
		{pkg: dir + "hello-2.0-1.x86_64-corrupted.rpm", keys: []string{rsa}, want: "bad", errSubstr: "payload SHA256 digest mismatch"},
		{pkg: dir + "hello-2.0-1.x86_64.rpm", keys: []string{rsa}, want: "unsigned"},
		{pkg: dir + "hello-2.0-1.i686.rpm", keys: []string{rsa}, want: "unsigned"},
		// rpm v3 package layout (no immutable region), unsigned.
		{pkg: dir + "hello-1.0-1.x86_64.rpm-v3", keys: []string{rsa}, want: "unsigned"},
		// Tag 278 holds a v6 ML-DSA-87+Ed448 and a v4 RSA/SHA512 signature;
		// 268 (ignored when 278 exists) a v4 RSA/SHA256 one.
		{pkg: dir + "hello-2.0-1.x86_64-signed-mldsa87.rpm", keys: []string{rsa}, want: "ok", keyID: "4344591e1964c5fc", algo: "RSA/SHA512", version: 4},
		{pkg: dir + "hello-2.0-1.x86_64-signed-mldsa87.rpm", keys: []string{rpmOrgKeys + "/rpm.org-v6-mldsa87-test.asc"}, want: "ok", keyID: "db11ab41d7ae9cd3", algo: "ML-DSA-87+Ed448/SHA512", version: 6},
		{pkg: dir + "hello-2.0-1.x86_64-signed-mldsa87.rpm", keys: []string{"distro/RPM-GPG-KEY-testbed"}, want: "unknown-key", keyID: "4344591e1964c5fc"},
		{pkg: dir + "hlinktest-1.0-1.noarch-v3sig.rpm", keys: []string{rsa}, want: "ok", keyID: "4344591e1964c5fc", payload: "SHA256+SHA512+SHA3-256 payload digest"},
	})
}

func TestRPMRSPackages(t *testing.T) {
	needTestdata(t)
	const dir = "real/rpms/synthetic/rpm-rs/"
	const keys = dir + "keys/"
	runRPMCases(t, []rpmCase{
		{pkg: dir + "v4/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v4-ed25519.asc"}, want: "ok", keyID: "522e846427933839", algo: "EdDSA/SHA512", version: 4},
		{pkg: dir + "v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v4-rsa4096.asc"}, want: "ok", keyID: "e964f9fb30d073b5", algo: "RSA/SHA512"},
		{pkg: dir + "v4/signed/rpm-basic-with-rsa4096-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v4-ed25519.asc"}, want: "unknown-key", keyID: "e964f9fb30d073b5"},
		// rpm 4.18 cannot parse ECDSA; rpm-sequoia (and go-crypto) can.
		{pkg: dir + "v4/signed/rpm-basic-with-ecdsa-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v4-ecdsa-nistp256.asc"}, want: "ok", keyID: "105c3db6d139a931", algo: "ECDSA/SHA256"},
		{pkg: dir + "v4/signed/rpm-basic-with-ima-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v4-ed25519.asc"}, want: "ok", keyID: "522e846427933839"},
		// v6 packages: only tag 278, v6 signatures by v6 keys.
		{pkg: dir + "v6/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v6-ed25519.asc"}, want: "ok", algo: "Ed25519/SHA512", version: 6},
		{pkg: dir + "v6/signed/rpm-basic-with-rsa4k-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v6-rsa4k.asc"}, want: "ok", algo: "RSA/SHA512", version: 6},
		{pkg: dir + "v6/signed/rpm-basic-with-mldsa65-ed25519-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v6-mldsa65-ed25519.asc"}, want: "ok", algo: "ML-DSA-65+Ed25519/SHA512", version: 6},
		{pkg: dir + "v6/signed/rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v6-keyring.asc"}, want: "ok", version: 6},
		{pkg: dir + "v6/signed/rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v6-rsa4k.asc"}, want: "ok", algo: "RSA/SHA512"},
		{pkg: dir + "v6/rpm-basic-2.3.4-5.el9.noarch.rpm", keys: []string{keys + "rpm-testkey-v6-keyring.asc"}, want: "unsigned"},
	})
}

func TestOpenSUSEPackages(t *testing.T) {
	needTestdata(t)
	const dir = "real/rpms/distro/opensuse/"
	const keys = "real/keys/distribution-gpg-keys/opensuse/"
	old, k2022 := keys+"RPM-GPG-KEY-openSUSE", keys+"RPM-GPG-KEY-openSUSE-2022"
	var cases []rpmCase
	for _, p := range []string{
		"tmpwatch-2.11-6.6.x86_64.rpm", "mc-4.8.21-2.1.x86_64.rpm", "python3-greenlet-0.4.15-1.5.x86_64.rpm",
		"tasque-0.1.12-12.7.x86_64.rpm", "ruby2.6-rubygem-fast_gettext-2.0.1-1.1.x86_64.rpm",
		"texlive-codepage-doc-2018.151.svn21126-38.1.noarch.rpm",
		"xtables-addons-kmp-default-2.14_k4.12.14_lp151.16-lp151.3.10.x86_64.rpm",
	} {
		cases = append(cases, rpmCase{pkg: dir + p, keys: []string{old}, want: "ok", keyID: "b88b2fd43dbdc284", algo: "RSA/SHA256", version: 3, payload: "SHA256 payload digest"})
	}
	cases = append(cases,
		// No payload digest (rpm < 4.14): the legacy header+payload signature covers the payload.
		rpmCase{pkg: dir + "mc-4.8.15-10.3.1.x86_64.rpm", keys: []string{old}, want: "ok", keyID: "b88b2fd43dbdc284", payload: "legacy header+payload signature"},
		rpmCase{pkg: dir + "freeradius-server-3.2.3-3.1.x86_64.rpm", keys: []string{k2022}, want: "ok", keyID: "35a2f86e29b700a4", algo: "RSA/SHA512"},
		rpmCase{pkg: dir + "freeradius-server-3.2.3-3.1.x86_64.rpm", keys: []string{old}, want: "unknown-key", keyID: "35a2f86e29b700a4"},
		rpmCase{pkg: dir + "python311-pytest-xprocess-0.23.0-2.4.noarch.rpm", keys: []string{old, k2022}, want: "unknown-key", keyID: "ea649fe2969a1c06"},
		rpmCase{pkg: dir + "bcc-lua-0.10.0-86.12.x86_64.rpm", keys: []string{old, k2022}, want: "unknown-key", keyID: "88eb5d66e2c0098c"},
		// This copy of the 3dbdc284 key expired on 2024-05-02. Judged at
		// the signature's time it is fine; with Now set (dnf and
		// rpm-sequoia's behaviour) it verifies nothing any more.
		rpmCase{pkg: dir + "tmpwatch-2.11-6.6.x86_64.rpm", keys: []string{old}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), want: "untrusted", keyID: "b88b2fd43dbdc284", errSubstr: "expired on 2024-05-02"},
		rpmCase{pkg: dir + "freeradius-server-3.2.3-3.1.x86_64.rpm", keys: []string{k2022}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), want: "ok"},
	)
	runRPMCases(t, cases)
}

func TestCentOSPackages(t *testing.T) {
	needTestdata(t)
	const dir = "real/rpms/distro/centos/"
	const keys = "real/keys/cavaliergopher-centos/RPM-GPG-KEY-CentOS-"
	runRPMCases(t, []rpmCase{
		{pkg: dir + "centos-release-6-0.el6.centos.5.x86_64.rpm", keys: []string{keys + "6"}, want: "ok", keyID: "0946fca2c105b9de", algo: "RSA/SHA256", version: 3, payload: "legacy header+payload signature"},
		{pkg: dir + "centos-release-6-0.el6.centos.5.i686.rpm", keys: []string{keys + "6"}, want: "ok", keyID: "0946fca2c105b9de"},
		{pkg: dir + "centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm", keys: []string{keys + "7"}, want: "ok", keyID: "24c6a8a7f4a80eb5", algo: "RSA/SHA256", version: 3},
		{pkg: dir + "epel-release-7-5.noarch.rpm", keys: []string{keys + "7"}, want: "ok", keyID: "24c6a8a7f4a80eb5"},
		{pkg: dir + "centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm", keys: []string{keys + "6"}, want: "unknown-key", keyID: "24c6a8a7f4a80eb5"},
		// EL6 RSA/SHA1: refused unless legacy is allowed.
		{pkg: dir + "libproxy-bin-0.3.0-4.el6_3.x86_64.rpm", keys: []string{keys + "6"}, want: "unsupported", errSubstr: "SHA1"},
		{pkg: dir + "libproxy-bin-0.3.0-4.el6_3.x86_64.rpm", keys: []string{keys + "6"}, legacy: true, want: "ok", algo: "RSA/SHA1"},
		// CentOS 3-5: DSA/SHA1 (rpm 4.18 refuses to import these keys at all).
		{pkg: dir + "centos-release-5-0.0.el5.centos.2.x86_64.rpm", keys: []string{keys + "5"}, want: "unsupported"},
		{pkg: dir + "centos-release-5-0.0.el5.centos.2.x86_64.rpm", keys: []string{keys + "5"}, legacy: true, want: "ok", keyID: "a8a447dce8562897", algo: "DSA/SHA1"},
		{pkg: dir + "centos-release-4-0.1.x86_64.rpm", keys: []string{keys + "4"}, legacy: true, want: "ok", keyID: "a53d0bab443e1821"},
		{pkg: dir + "centos-release-3.1-1.i386.rpm", keys: []string{keys + "3"}, legacy: true, want: "ok", keyID: "7049e44d025e513b"},
		// Only a legacy header+payload signature.
		{pkg: dir + "centos-release-as-2.1AS-4.noarch.rpm", keys: []string{keys + "2"}, legacy: true, want: "legacy-only", keyID: "2802e89216ff0e46"},
		{pkg: dir + "crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm", keys: []string{"real/keys/distribution-gpg-keys/redhat/RPM-GPG-KEY-redhat8-release"}, want: "ok", keyID: "199e2f91fd431d51"},
	})
}

// sigTagRange returns where a signature header tag's data lies in the file.
func sigTagRange(t *testing.T, b []byte, tag uint32) (int, int) {
	t.Helper()
	p := &prefixReader{r: bytes.NewReader(b)}
	if err := p.fill(leadSize, "lead"); err != nil {
		t.Fatal(err)
	}
	h, err := p.readHeader("sig", maxSigTags, maxSigData)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := h.entries[tag]
	if !ok {
		t.Fatalf("no tag %d", tag)
	}
	start := leadSize + 16 + int(h.il)*16 + int(e.off)
	return start, start + int(e.count)
}

func TestTamperedPackages(t *testing.T) {
	needTestdata(t)
	k := keyring(t, "distro/RPM-GPG-KEY-testbed")
	orig := readFile(t, td("distro/repo/Packages/h/hello-sh-1.0-1.el9.noarch.rpm"))
	res, err, _ := verifyRPM(t, k, orig)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(orig)) }
	sigStart, sigEnd := sigTagRange(t, orig, sigTagRSA)
	cases := []struct {
		name, want, substr string
		b                  []byte
	}{
		{"signature MPI flipped", "bad", "does not verify", mod(func(b []byte) []byte { b[sigEnd-10] ^= 1; return b })},
		{"signature packet truncated", "bad", "", mod(func(b []byte) []byte {
			copy(b[sigStart+2:sigEnd], make([]byte, sigEnd-sigStart-2))
			return b
		})},
		{"header byte flipped", "bad", "header SHA256 digest mismatch", mod(func(b []byte) []byte { b[res.HeaderOffset+200] ^= 0x20; return b })},
		{"payload byte flipped", "bad", "payload SHA256 digest mismatch", mod(func(b []byte) []byte { b[len(b)-10] ^= 1; return b })},
		{"payload truncated", "bad", "payload SHA256 digest mismatch", orig[:len(orig)-100]},
		{"payload extended", "bad", "payload SHA256 digest mismatch", append(bytes.Clone(orig), 0)},
		{"header truncated", "format", "truncated", orig[:res.HeaderOffset+100]},
		{"lead only", "format", "truncated", orig[:leadSize]},
		{"not an rpm", "format", "bad magic", mod(func(b []byte) []byte { b[0] = 'x'; return b })},
		{"empty", "format", "truncated", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err, _ := verifyRPM(t, k, c.b)
			if got := errKind(err); got != c.want {
				t.Fatalf("got %s (%v), want %s", got, err, c.want)
			}
			if c.substr != "" && !strings.Contains(err.Error(), c.substr) {
				t.Errorf("error %q does not mention %q", err, c.substr)
			}
		})
	}

	// rpm's own corruption tests (rpmsigdig.at "corrupted signed" 1, 2.2, 3)
	// on hello-2.0-1.x86_64-signed.rpm: zeroes in the signature, the
	// header, the payload.
	rk := keyring(t, rpmOrgKeys+"/rpm.org-rsa-2048-test.pub")
	hello := readFile(t, td("real/rpms/synthetic/rpm-org/hello-2.0-1.x86_64-signed.rpm"))
	for _, off := range []int{264, 5555, 7777} {
		b := bytes.Clone(hello)
		copy(b[off:off+6], make([]byte, 6))
		_, err, _ := verifyRPM(t, rk, b)
		if got := errKind(err); got != "bad" {
			t.Errorf("zeroes at %d: got %s (%v), want bad", off, got, err)
		}
	}

	// Legacy header+payload signature as the payload check (no payload digest).
	sk := keyring(t, "real/keys/distribution-gpg-keys/opensuse/RPM-GPG-KEY-openSUSE")
	mc := readFile(t, td("real/rpms/distro/opensuse/mc-4.8.15-10.3.1.x86_64.rpm"))
	mc[len(mc)-1000] ^= 1
	_, err, _ = verifyRPM(t, sk, mc)
	if got := errKind(err); got != "bad" || !strings.Contains(err.Error(), "legacy header+payload signature") {
		t.Errorf("tampered mc-4.8.15 payload: got %s (%v)", got, err)
	}
}

// TestHugeCounts checks that a header claiming huge sizes is refused
// before anything is allocated for it, and that a claim the stream does not
// back costs no more than the stream.
func TestHugeCounts(t *testing.T) {
	k := mustGeneratedKeyring(t)
	lead := make([]byte, leadSize)
	copy(lead, leadMagic)
	binary.BigEndian.PutUint16(lead[78:], 5)
	hdr := func(il, dl uint32) []byte {
		b := bytes.Clone(headerMagic)
		b = binary.BigEndian.AppendUint32(b, il)
		return binary.BigEndian.AppendUint32(b, dl)
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"sig tags", append(bytes.Clone(lead), hdr(0xffffffff, 16)...)},
		{"sig data", append(bytes.Clone(lead), hdr(1, 0xffffffff)...)},
		{"sig zero tags", append(bytes.Clone(lead), hdr(0, 0)...)},
		{"sig data claimed, absent", append(bytes.Clone(lead), hdr(32, maxSigData)...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := k.VerifyRPM(bytes.NewReader(c.b))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want *FormatError", err)
			}
		})
	}
	allocs := testing.AllocsPerRun(5, func() {
		_, _, _ = k.VerifyRPM(io.MultiReader(bytes.NewReader(lead), bytes.NewReader(hdr(32, maxSigData))))
	})
	if allocs > 100 {
		t.Errorf("%v allocations for a 64 MiB claim backed by nothing", allocs)
	}
}

// TestCrossCheckRPMKeys compares verdicts with rpm's own "rpmkeys -K" when
// it is installed (rpm 4.18 here: no ECDSA, no v6, no DSA key import, and
// it accepts SHA-1, so legacy is allowed on our side).
func TestCrossCheckRPMKeys(t *testing.T) {
	needTestdata(t)
	if _, err := exec.LookPath("rpmkeys"); err != nil {
		t.Skip("rpmkeys not installed")
	}
	keys := []string{
		"distro/RPM-GPG-KEY-testbed",
		rpmOrgKeys + "/rpm.org-rsa-2048-test.pub",
		"real/keys/distribution-gpg-keys/opensuse/RPM-GPG-KEY-openSUSE",
		"real/keys/distribution-gpg-keys/opensuse/RPM-GPG-KEY-openSUSE-2022",
		"real/keys/cavaliergopher-centos/RPM-GPG-KEY-CentOS-6",
		"real/keys/cavaliergopher-centos/RPM-GPG-KEY-CentOS-7",
		"real/rpms/synthetic/rpm-rs/keys/rpm-testkey-v4-ed25519.asc",
		"real/rpms/synthetic/rpm-rs/keys/rpm-testkey-v4-rsa4096.asc",
	}
	db := t.TempDir()
	for _, kf := range keys {
		if out, err := exec.Command("rpmkeys", "--dbpath", db, "--import", td(kf)).CombinedOutput(); err != nil {
			t.Fatalf("rpmkeys --import %s: %v\n%s", kf, err, out)
		}
	}
	k := keyring(t, keys...).WithPolicy(Policy{AllowLegacy: true})
	var pkgs []string
	for _, g := range []string{
		"distro/repo/Packages/*/*.rpm",
		"real/rpms/synthetic/rpm-org/hello-2.0*.rpm",
		"real/rpms/distro/opensuse/*.rpm",
		"real/rpms/distro/centos/centos-release-[67]*.rpm",
		"real/rpms/distro/centos/epel-release-7-5.noarch.rpm",
		"real/rpms/distro/centos/libproxy-bin-0.3.0-4.el6_3.x86_64.rpm",
		"real/rpms/synthetic/rpm-rs/v4/signed/rpm-basic-with-[er]*.rpm",
	} {
		m, _ := filepath.Glob(td(g))
		pkgs = append(pkgs, m...)
	}
	for _, p := range pkgs {
		out, _ := exec.Command("rpmkeys", "--dbpath", db, "-K", p).CombinedOutput()
		rpmOK := strings.Contains(string(out), " signatures OK") && !strings.Contains(string(out), "NOT OK")
		_, err, _ := verifyRPM(t, k, readFile(t, p))
		if (err == nil) != rpmOK {
			t.Errorf("%s: rpmkeys -K says %q, we say %v", filepath.Base(p), strings.TrimSpace(string(out)), err)
		}
	}
}
