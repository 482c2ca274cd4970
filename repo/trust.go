package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/smith-build/smith/internal/redact"
	"github.com/smith-build/smith/sig"
)

// The trust chain, as dnf builds it:
//
//	gpgkey ──► repomd.xml.asc ──► repomd.xml ──► primary.xml ──► package checksum
//	gpgkey ──────────────────────────────────────► package header signature ──► payload digest
//
// repo_gpgcheck=1 verifies repomd.xml's detached signature before a byte of
// it is parsed; every other metadata file is then pinned by repomd.xml's
// checksums. gpgcheck=1 verifies each package's header signature and, in
// the same pass over the file, the payload digest that signed header
// carries, before Index.Open returns the package: the extractor never sees
// bytes that were not signed. Keys are judged at the current time
// (Options.Now; sig.Policy.Now), as dnf does: a key that has expired or was
// revoked verifies nothing, even packages it signed while valid. SHA-1,
// DSA and short RSA keys are refused (sig.Policy.AllowLegacy is off), as
// the crypto policies of current Fedora and EL refuse them.

// maxKeyFile bounds a gpgkey file.
const maxKeyFile = 16 << 20

// SignatureError reports a package or repomd.xml whose OpenPGP signature
// does not verify against its repository's keys (gpgcheck,
// repo_gpgcheck). Err is one of package sig's typed errors
// (*sig.UnsignedError, *sig.UnknownKeyError, *sig.BadSignatureError, ...),
// which name the signing key.
type SignatureError struct {
	// File is the package NEVRA or "repodata/repomd.xml".
	File string
	// Repo is the repository ID.
	Repo string
	// URL is where the bytes came from (printed redacted), if remote.
	URL string
	// Keys lists the key IDs of the repository's gpgkey certificates.
	Keys []string
	Err  error
}

func (e *SignatureError) Error() string {
	var b strings.Builder
	what := "package " + e.File
	if e.File == repomdRel {
		what = e.File
	}
	fmt.Fprintf(&b, "%s of repository %s", what, e.Repo)
	if e.URL != "" {
		fmt.Fprintf(&b, " (from %s)", redact.URL(e.URL))
	}
	fmt.Fprintf(&b, " fails the signature check: %v", e.Err)
	if len(e.Keys) > 0 {
		fmt.Fprintf(&b, " [the repository's gpgkey holds key %s]", strings.Join(e.Keys, ", "))
	}
	return b.String()
}

func (e *SignatureError) Unwrap() error { return e.Err }

const repomdRel = "repodata/repomd.xml"

// keyring is a repository's parsed gpgkey files.
type keyring struct {
	kr  *sig.Keyring
	ids []string
	// digest is the sha256 of the key files read (see Repo.PackageTrust).
	digest string
}

// loadKeys reads the repository's gpgkey files: file:// URLs and paths
// from disk, http(s) URLs through the repository's own client and
// credentials (as dnf does) and the cache (like metadata, kept for
// metadata_expire).
func (f *fetcher) loadKeys(ctx context.Context) (*keyring, error) {
	var files [][]byte
	var ids []string
	all := sha256.New()
	for _, k := range f.src.GPGKeys {
		data, err := f.readKey(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("gpgkey %s: %w", redact.URL(k), err)
		}
		one, err := sig.ParseKeyring(data)
		if err != nil {
			return nil, fmt.Errorf("gpgkey %s: %w", redact.URL(k), err)
		}
		for _, ki := range one.Keys() {
			ids = append(ids, ki.KeyID)
		}
		files = append(files, data)
		fmt.Fprintf(all, "%d\n", len(data))
		all.Write(data)
	}
	kr, err := sig.ParseKeyring(files...)
	if err != nil {
		return nil, fmt.Errorf("gpgkey: %w", err)
	}
	return &keyring{kr: kr.WithPolicy(sig.Policy{Now: f.now()}), ids: ids, digest: hex.EncodeToString(all.Sum(nil))}, nil
}

func (f *fetcher) readKey(ctx context.Context, loc string) ([]byte, error) {
	if b, ok := remoteFile(loc); ok {
		data, _, err := f.readMeta(ctx, b, "", "gpgkey", false)
		return data, err
	}
	b, err := parseBase(loc)
	if err != nil {
		return nil, err
	}
	if !b.isLocal() {
		return nil, fmt.Errorf("unsupported key location %q", redact.URL(loc))
	}
	fh, err := os.Open(b.local)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return readLimited(fh, maxKeyFile, b.local)
}

// verifyRepomd checks repomd.xml against its detached signature.
func (f *fetcher) verifyRepomd(ctx context.Context, keys *keyring, b base, data []byte, force bool) error {
	const rel = repomdRel + ".asc"
	from := b.at(repomdRel)
	if b.isLocal() {
		from = filepath.Join(b.local, filepath.FromSlash(repomdRel))
	}
	asc, _, err := f.readMeta(ctx, b, rel, rel, force)
	if err != nil {
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return &SignatureError{File: repomdRel, Repo: f.src.ID, URL: from, Keys: keys.ids,
				Err: fmt.Errorf("repo_gpgcheck is on, but %s: the repository is not signed (turn repo_gpgcheck off only if you trust it by other means)", err)}
		}
		return err
	}
	if _, err := keys.kr.VerifyDetached(data, asc); err != nil {
		return &SignatureError{File: repomdRel, Repo: f.src.ID, URL: from, Keys: keys.ids, Err: err}
	}
	return nil
}

// checkRPM is a blob.check: the package's header signature against the
// repository's keys, then the payload against the signed header's digest.
func (k *keyring) checkRPM(r io.Reader) error {
	_, rd, err := k.kr.VerifyRPM(r)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rd)
	return err
}

// PackageTrust says what Open checks, beyond p's checksum, before it
// returns p's bytes: "gpg:" and a digest of the repository's key files when
// gpgcheck is on, "checksum" when only the checksum is. ok is false for
// local .rpm files and packages of no loaded repository. Whoever caches
// what it derives from a package keys the entry by p's checksum and this,
// so that an entry made without a signature check never serves a build
// that asks for one.
func (ix *Index) PackageTrust(p *Package) (trust string, ok bool) {
	if slices.Contains(ix.Local, p) || p.Checksum.Value == "" {
		return "", false
	}
	r := ix.repo(p)
	if r == nil {
		return "", false
	}
	if r.Source.GPGCheck && r.keys != nil {
		return "gpg:" + r.keys.digest, true
	}
	return "checksum", true
}
