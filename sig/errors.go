package sig

import (
	"fmt"
	"strings"
)

// UnsignedError reports data that carries no signature at all: a package
// without header signature tags, or an empty signature file. With gpgcheck
// (repo_gpgcheck) on, this is a failure; the fix is on the publisher's side.
type UnsignedError struct {
	// What was checked, e.g. "package header" or "detached signature".
	What string
}

func (e *UnsignedError) Error() string {
	return fmt.Sprintf("%s is not signed (no OpenPGP signature found); the publisher must sign it "+
		"(rpmsign --addsign, gpg --detach-sign --armor repomd.xml), or, if you trust the repository by other means, "+
		"turn gpgcheck / repo_gpgcheck off for it", e.What)
}

// LegacyOnlyError reports an RPM package whose only signatures are the
// legacy header+payload ones (RPMSIGTAG_PGP 1002 / RPMSIGTAG_GPG 1005),
// written by rpm before 4.0 or by "rpmsign --rpmv3" alone. They are not
// verified: re-sign the package with a current rpmsign.
type LegacyOnlyError struct {
	// KeyIDs of the legacy signatures, 16 hex digits each.
	KeyIDs []string
}

func (e *LegacyOnlyError) Error() string {
	return fmt.Sprintf("package has only a legacy header+payload signature (key %s) and no header signature; "+
		"re-sign it with a current rpmsign", strings.Join(e.KeyIDs, ", "))
}

// UnknownKeyError reports a signature made by a key that is not in the
// keyring (rpm's NOKEY). The fix is to add the right key (gpgkey=) or to
// find out why the repository is signed by someone else.
type UnknownKeyError struct {
	// KeyIDs of the signing keys, 16 lower-case hex digits each (the long
	// key ID, e.g. "4344591e1964c5fc"). For v6 signatures that name their
	// issuer only by fingerprint, the fingerprint in hex.
	KeyIDs []string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("signed with key %s, which is not in the keyring; import the repository's key (gpgkey=)",
		strings.Join(e.KeyIDs, ", "))
}

// BadSignatureError reports a signature that does not verify: the signed
// bytes were modified, the signature is corrupt, or a digest that the
// signature covers does not match. Never retry with the same bytes.
type BadSignatureError struct {
	// KeyID of the key the signature names (16 hex digits), if known.
	KeyID string
	// Reason says what failed, e.g. "RSA verification failure" or
	// "payload SHA256 digest mismatch".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *BadSignatureError) Error() string {
	var b strings.Builder
	b.WriteString("bad signature")
	if e.KeyID != "" {
		fmt.Fprintf(&b, " (key %s)", e.KeyID)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	b.WriteString("; the data was modified or corrupted in transit: fetch it again from another mirror")
	return b.String()
}

func (e *BadSignatureError) Unwrap() error { return e.Err }

// UntrustedKeyError reports a mathematically valid signature whose key may
// not be used for it: the key (or signing subkey) expired or was revoked,
// was created after the signature, has no valid binding to its primary key,
// or is not marked for signing (rpm's NOTTRUSTED).
type UntrustedKeyError struct {
	// KeyID of the signing key or subkey, 16 hex digits.
	KeyID string
	// Fingerprint of the certificate's primary key, hex.
	Fingerprint string
	// Reason, e.g. "subkey expired on 2022-04-12T00:00:15Z".
	Reason string
}

func (e *UntrustedKeyError) Error() string {
	msg := fmt.Sprintf("key %s", e.KeyID)
	if e.Fingerprint != "" {
		msg += fmt.Sprintf(" (certificate %s)", e.Fingerprint)
	}
	return msg + " may not be trusted for this signature: " + e.Reason +
		"; refresh the repository key (gpgkey=) from its publisher"
}

// UnsupportedError reports a signature or key this package does not verify,
// either because the algorithm is unknown to it or because the policy
// rejects it (SHA-1, DSA and RSA keys under 2048 bits need
// Policy.AllowLegacy).
type UnsupportedError struct {
	// KeyID of the signing key, if known.
	KeyID string
	// What is unsupported, e.g. "hash SHA1 (set AllowLegacy to accept it)".
	What string
}

func (e *UnsupportedError) Error() string {
	if e.KeyID != "" {
		return fmt.Sprintf("unsupported signature (key %s): %s", e.KeyID, e.What)
	}
	return "unsupported signature: " + e.What
}

// FormatError reports input that is not what it claims to be: a truncated
// RPM, a header with impossible counts, a key file with no key in it.
type FormatError struct {
	// What was being read, e.g. "rpm signature header".
	What string
	// Offset in the input where the problem was found, or -1.
	Offset int64
	Reason string
}

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: %s (at byte %d)", e.What, e.Reason, e.Offset)
	}
	return fmt.Sprintf("%s: %s", e.What, e.Reason)
}
