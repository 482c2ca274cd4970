package sig

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// testdata is the repository root's sibling "shared" (../../shared/testdata
// from this package), which holds real packages, keys and repodata.
var testdata = filepath.Join("..", "..", "shared", "testdata")

func needTestdata(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(testdata); err != nil {
		t.Skipf("shared test data not found at %s (it is the repository's sibling ../shared/testdata): %v", testdata, err)
	}
}

func td(parts ...string) string { return filepath.Join(append([]string{testdata}, parts...)...) }

const rpmOrgKeys = "real/rpms/synthetic/rpm-org/keys"

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyring parses key files named relative to testdata.
func keyring(t testing.TB, files ...string) *Keyring {
	t.Helper()
	var data [][]byte
	for _, f := range files {
		data = append(data, readFile(t, td(f)))
	}
	k, err := ParseKeyring(data...)
	if err != nil {
		t.Fatalf("ParseKeyring(%v): %v", files, err)
	}
	return k
}

// verifyRPM runs VerifyRPM over b and drains the replay reader. It returns
// the result, the error of VerifyRPM or, if that succeeded, the error the
// reader reported at EOF (nil for a clean EOF), and whether the replayed
// bytes were identical to b.
func verifyRPM(t testing.TB, k *Keyring, b []byte) (*RPMResult, error, bool) {
	t.Helper()
	res, rr, err := k.VerifyRPM(bytes.NewReader(b))
	if err != nil {
		if rr != nil || res != nil {
			t.Errorf("VerifyRPM returned a result or reader with error %v", err)
		}
		return nil, err, false
	}
	h := sha256.New()
	_, err = io.Copy(h, rr)
	want := sha256.Sum256(b)
	return res, err, bytes.Equal(h.Sum(nil), want[:])
}

// errKind names the typed error an error is, for table tests.
func errKind(err error) string {
	var (
		unsigned    *UnsignedError
		legacy      *LegacyOnlyError
		unknown     *UnknownKeyError
		bad         *BadSignatureError
		untrusted   *UntrustedKeyError
		unsupported *UnsupportedError
		format      *FormatError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &unsigned):
		return "unsigned"
	case errors.As(err, &legacy):
		return "legacy-only"
	case errors.As(err, &unknown):
		return "unknown-key"
	case errors.As(err, &bad):
		return "bad"
	case errors.As(err, &untrusted):
		return "untrusted"
	case errors.As(err, &unsupported):
		return "unsupported"
	case errors.As(err, &format):
		return "format"
	}
	return "other: " + err.Error()
}
