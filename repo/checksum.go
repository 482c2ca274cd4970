package repo

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// normalizeChecksumType maps the spellings found in repodata to one name:
// old createrepo and openSUSE write "sha" for SHA-1.
func normalizeChecksumType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	switch t {
	case "sha":
		return "sha1"
	case "sha-1", "sha-224", "sha-256", "sha-384", "sha-512":
		return strings.Replace(t, "-", "", 1)
	}
	return t
}

// newHash returns a hash for a normalised checksum type. MD5 is refused on
// purpose: it does not protect against a hostile mirror.
func newHash(typ string) (hash.Hash, error) {
	switch typ {
	case "sha1":
		return sha1.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported checksum type %q (want sha1, sha224, sha256, sha384 or sha512)", typ)
}

// validChecksum reports whether c names a supported algorithm and carries a
// hex value of the right length, so that a broken entry fails early with a
// clear message instead of as a mismatch after a download.
func validChecksum(c Checksum) error {
	h, err := newHash(c.Type)
	if err != nil {
		return err
	}
	if len(c.Value) != 2*h.Size() {
		return fmt.Errorf("%s checksum %q has %d hex digits, want %d", c.Type, c.Value, len(c.Value), 2*h.Size())
	}
	if _, err := hex.DecodeString(c.Value); err != nil {
		return fmt.Errorf("%s checksum %q is not hex", c.Type, c.Value)
	}
	return nil
}

// makeChecksum normalises a checksum read from metadata.
func makeChecksum(typ, value string) Checksum {
	return Checksum{Type: normalizeChecksumType(typ), Value: strings.ToLower(strings.TrimSpace(value))}
}

// hashReader hashes everything read through it.
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashReader) sum(typ string) Checksum {
	return Checksum{Type: typ, Value: hex.EncodeToString(h.h.Sum(nil))}
}

// String formats a checksum as type:hex.
func (c Checksum) String() string { return c.Type + ":" + c.Value }
