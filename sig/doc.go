// Package sig verifies the OpenPGP signatures of the repository trust
// chain: repomd.xml against its detached repomd.xml.asc (repo_gpgcheck),
// and RPM packages against their header signatures (gpgcheck), with the
// keys the repository configuration names (gpgkey=). It is a leaf: it
// imports no other smith package, reads no clock, file or environment.
//
// Contract:
//
//   - ParseKeyring reads public keys, armored or binary, several per file.
//     Keys are validated the way rpm-sequoia does: a certificate needs a
//     valid self-signature; subkeys need a valid binding signature (and
//     signing subkeys a valid back-signature, CVE-2021-3521); invalid
//     parts are dropped, not fatal.
//   - Keyring.VerifyDetached checks repomd.xml.asc (binary, armored, or a
//     clear-signed copy of repomd.xml) over repomd.xml.
//   - Keyring.VerifyRPM checks a package's header signatures (v3, v4 and
//     v6 OpenPGP signatures in tags 267/268/278) over the main header and
//     the header digests, and returns a reader that replays the whole file
//     and authenticates the payload against the payload digest of the
//     signed header when it reaches EOF.
//
// Accepted by default: RSA ≥ 2048 bits, ECDSA, EdDSA/Ed25519/Ed448,
// ML-DSA+EdDSA and SLH-DSA keys; SHA-2 and SHA-3 hashes. Policy.AllowLegacy
// adds SHA-1, DSA and RSA 1024–2047 (CentOS ≤ 7, openSUSE ≤ 11).
// Key validity (creation, expiry, revocation, signing capability) is
// judged at the signature's creation time, and also at Policy.Now when the
// caller sets it (dnf's behaviour: an expired key verifies nothing).
//
// When several signatures are present (key rotation, rpm 6's v4+v6
// signatures), the data is accepted if at least one verifies with a
// trusted key and none by a key in the keyring fails. This is stricter
// than gpg and librepo (which accept any good signature) and more lenient
// than "rpmkeys -K" (which also fails on a signature by a missing key).
//
// Errors callers branch on: *UnsignedError, *LegacyOnlyError,
// *UnknownKeyError, *BadSignatureError, *UntrustedKeyError,
// *UnsupportedError, *FormatError.
package sig
