package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

// RemoteOptions configure reading images from registries (and the platform
// chosen from a multi-platform image anywhere, and the image chosen from a
// local layout).
type RemoteOptions struct {
	// Platform is chosen from image indexes (manifest lists). The zero value
	// means linux and the architecture smith was built for; callers pass
	// the --arch or host platform.
	Platform v1.Platform
	// Tag chooses the image of a local OCI layout or docker save archive by
	// name (Open, UploadFile): the layout's index.json entry whose
	// org.opencontainers.image.ref.name annotation equals Tag, or, when none
	// does and Tag is a bare tag (no ':', '/' or '@'), the one whose name
	// ends in ":"+Tag ("fedora:40" for Tag "40", as skopeo's oci:DIR:NAME
	// stores it); in a docker save archive, the image with such a RepoTag.
	// Several entries of that one name (one per platform) are chosen from
	// by Platform; several names matching a bare Tag are an error. "latest"
	// in a layout or archive whose images have no names at all, and the
	// empty Tag anywhere, choose as before: the image named latest, or the
	// only one (or by Platform). Registry references carry their own tag:
	// Push, Download and remote sources ignore this one.
	Tag string
	// Insecure skips TLS certificate verification (-k). Plain HTTP is asked
	// for with an http:// URL, never implied.
	Insecure bool
	// Transport replaces the HTTP transport (nil: go-containerregistry's
	// default, which honours the proxy environment variables).
	Transport http.RoundTripper
	// Keychain supplies credentials when the URL has none (nil:
	// authn.DefaultKeychain, i.e. ~/.docker/config.json and credential
	// helpers).
	Keychain authn.Keychain
	// UserAgent is sent with every request when set.
	UserAgent string

	// retry overrides go-containerregistry's retry backoff (tests set a
	// fast one so that fault tests do not sleep).
	retry *remote.Backoff
}

func (o RemoteOptions) platform() v1.Platform {
	p := o.Platform
	if p.OS == "" {
		p.OS = "linux"
	}
	if p.Architecture == "" {
		p.Architecture = runtime.GOARCH
	}
	return p
}

// remoteRef is a parsed registry reference with its credentials kept apart.
type remoteRef struct {
	ref  name.Reference
	auth *authn.Basic // nil: none in the URL
	// secrets are the strings that must never appear in an error.
	secrets []string
}

// String is the reference without credentials, for messages.
func (r *remoteRef) String() string { return r.ref.Name() }

// remoteSchemes are the prefixes that make a source a registry image.
var remoteSchemes = []string{"https://", "http://", "docker://"}

// IsRemote reports whether src names a registry image (https://, http://
// or docker://) rather than a local file or directory.
func IsRemote(src string) bool {
	for _, s := range remoteSchemes {
		if strings.HasPrefix(strings.ToLower(src), s) {
			return true
		}
	}
	return false
}

// digestSuffix matches "@algorithm:hex" at the end of a reference.
var digestSuffix = regexp.MustCompile(`@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

// parseRemote parses "[scheme://][user[:password]@]host[:port]/repo[:tag|@digest]".
// An http:// scheme selects plain HTTP. The tag defaults to latest. The
// password may contain '@', '/' and ':' (the last '@' before the host ends
// it); percent-escapes in user and password are decoded, as url.Parse does.
func parseRemote(s string) (*remoteRef, error) {
	rest := s
	var opts []name.Option
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "http://"):
		rest = s[len("http://"):]
		opts = append(opts, name.Insecure)
	case strings.HasPrefix(lower, "https://"):
		rest = s[len("https://"):]
	case strings.HasPrefix(lower, "docker://"):
		rest = s[len("docker://"):]
	}
	r := &remoteRef{}
	digest := digestSuffix.FindString(rest)
	rest = rest[:len(rest)-len(digest)]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		rest = rest[at+1:]
		r.secrets = append(r.secrets, userinfo)
		user, pass, hasPass := strings.Cut(userinfo, ":")
		if hasPass {
			r.secrets = append(r.secrets, pass)
		}
		r.auth = &authn.Basic{Username: unescape(user), Password: unescape(pass)}
		if r.auth.Password != pass && r.auth.Password != "" {
			r.secrets = append(r.secrets, r.auth.Password)
		}
		if r.auth.Password == "" {
			r.secrets = nil // nothing secret to hide
		}
	}
	rest = strings.TrimSuffix(rest, "/")
	host, repo, ok := strings.Cut(rest, "/")
	if !ok || host == "" || repo == "" {
		return nil, fmt.Errorf("registry reference %q: want host/repository[:tag|@digest]", redactString(rest+digest, r.secrets))
	}
	if strings.EqualFold(host, "registry-1.docker.io") || strings.EqualFold(host, "index.docker.io") {
		// The canonical name, so that "fedora" becomes "library/fedora".
		host = name.DefaultRegistry
	}
	ref, err := name.ParseReference(host+"/"+repo+digest, opts...)
	if err != nil {
		return nil, fmt.Errorf("registry reference %q: %w", host+"/"+repo+digest, redact(err, r.secrets))
	}
	r.ref = ref
	return r, nil
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// isDockerHub reports whether ref is on Docker Hub, which gets Docker media
// types.
func isDockerHub(ref name.Reference) bool {
	switch strings.ToLower(ref.Context().RegistryStr()) {
	case name.DefaultRegistry, "docker.io", "registry-1.docker.io":
		return true
	}
	return false
}

// remoteOptions turns o (and the credentials of r) into go-containerregistry
// options.
func remoteOptions(ctx context.Context, r *remoteRef, o RemoteOptions) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(o.platform())}
	t := o.Transport
	if t == nil {
		t = remote.DefaultTransport
	}
	if o.Insecure {
		if ht, ok := t.(*http.Transport); ok {
			ht = ht.Clone()
			if ht.TLSClientConfig == nil {
				ht.TLSClientConfig = &tls.Config{}
			}
			ht.TLSClientConfig.InsecureSkipVerify = true
			t = ht
		}
	}
	opts = append(opts, remote.WithTransport(t))
	if r.auth != nil {
		opts = append(opts, remote.WithAuth(r.auth))
	} else {
		kc := o.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		opts = append(opts, remote.WithAuthFromKeychain(kc))
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	if o.retry != nil {
		opts = append(opts, remote.WithRetryBackoff(*o.retry))
	}
	return opts
}

// redactError hides secrets in an error's message. It keeps the chain for
// errors.Is/As, but Error() never shows a secret.
type redactError struct {
	msg string
	err error
}

func (e *redactError) Error() string { return e.msg }
func (e *redactError) Unwrap() error { return e.err }

func redact(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := redactString(err.Error(), secrets)
	if msg == err.Error() {
		return err
	}
	return &redactError{msg: msg, err: err}
}

func redactString(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
			if q := url.QueryEscape(sec); q != sec {
				s = strings.ReplaceAll(s, q, "xxxxx")
			}
		}
	}
	return s
}

// Open returns the image that src names:
//   - https://host/repo[:tag|@digest] (or http:// for plain HTTP, or
//     docker://), with credentials from the URL's userinfo or the keychain;
//   - a .tar.gz or .tar of an OCI image layout (smith's output, smith
//     download, skopeo's oci-archive);
//   - an OCI image layout directory;
//   - a docker save tarball (plain or gzip-compressed).
//
// The image of a local layout or archive is the one opt.Tag names (see
// RemoteOptions.Tag); when none is, the error lists the names there are.
// From an image index, the manifest for opt.Platform is chosen; when there
// is none the error lists the platforms the index has. Blobs are verified
// against their digests and sizes as they are read (registry images are
// read lazily; Unpack and the writers read them).
func Open(ctx context.Context, src string, opt RemoteOptions) (v1.Image, error) {
	if IsRemote(src) {
		r, err := parseRemote(src)
		if err != nil {
			return nil, err
		}
		img, _, err := remoteImage(ctx, r, opt)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", r, explain(err, r))
		}
		return img, nil
	}
	img, err := openLocal(src, opt.platform(), opt.Tag)
	if errors.Is(err, os.ErrNotExist) && !strings.Contains(src, "://") {
		// A source that is not a file may have been meant as a registry.
		return nil, fmt.Errorf("open %s: %w (a registry image needs an https:// or http:// URL)", src, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", src, err)
	}
	return img, nil
}

// remoteImage resolves r to one image (choosing the platform from an index)
// and returns it with the platform of its index entry, if any, once
// checkImage accepts it.
func remoteImage(ctx context.Context, r *remoteRef, opt RemoteOptions) (v1.Image, *v1.Platform, error) {
	img, platform, err := resolveRemote(ctx, r, opt)
	if err != nil {
		return nil, nil, err
	}
	if err := checkImage(img); err != nil {
		return nil, nil, redact(err, r.secrets)
	}
	return img, platform, nil
}

// checkImage checks of an image from a registry what readImage checks of
// a layout's: an image manifest whose config is an image config, a JSON
// object with one diff_id per layer. It fetches the config (digest and
// size checked), which every use of the image needs anyway.
func checkImage(img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d, err)
	}
	if err := checkConfigType(d, m); err != nil {
		return err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	_, err = configDiffIDs(d, m, raw)
	return err
}

// resolveRemote is remoteImage before the image is checked.
func resolveRemote(ctx context.Context, r *remoteRef, opt RemoteOptions) (v1.Image, *v1.Platform, error) {
	ropts := remoteOptions(ctx, r, opt)
	desc, err := remote.Get(r.ref, ropts...)
	if err != nil {
		return nil, nil, redact(err, r.secrets)
	}
	switch {
	case desc.MediaType.IsImage():
		if desc.MediaType.IsSchema1() {
			return nil, nil, fmt.Errorf("manifest %s: Docker schema 1 manifests are not supported", desc.Digest)
		}
		img, err := desc.Image()
		return img, nil, redact(err, r.secrets)
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, nil, redact(err, r.secrets)
		}
		for depth := 0; ; depth++ {
			im, err := idx.IndexManifest()
			if err != nil {
				return nil, nil, redact(err, r.secrets)
			}
			i, err := matchPlatform(im.Manifests, opt.platform())
			if err != nil {
				return nil, nil, fmt.Errorf("image index %s: %w", desc.Digest, err)
			}
			d := im.Manifests[i]
			if d.MediaType.IsIndex() && depth < 4 {
				if idx, err = idx.ImageIndex(d.Digest); err != nil {
					return nil, nil, redact(err, r.secrets)
				}
				continue
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, nil, redact(err, r.secrets)
			}
			return img, d.Platform, nil
		}
	}
	return nil, nil, fmt.Errorf("manifest %s has media type %q: not an image", desc.Digest, desc.MediaType)
}

// openLocal opens a layout file or directory, or a docker save tarball,
// choosing its image by tag and platform (see RemoteOptions.Tag).
func openLocal(src string, platform v1.Platform, tag string) (v1.Image, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		l, err := readLayoutDir(src, &platform, tag)
		if err != nil {
			return nil, err
		}
		return l.Image, nil
	}
	kind, err := sniffArchive(src)
	if err != nil {
		return nil, err
	}
	switch kind {
	case archiveOCI:
		l, err := readLayoutTarFile(src, &platform, tag)
		if err != nil {
			return nil, err
		}
		return l.Image, nil
	case archiveDocker:
		opener := func() (io.ReadCloser, error) { return openMaybeGzip(src) }
		t, err := dockerTag(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("docker archive: %w", err)
		}
		img, err := tarball.Image(opener, t)
		if err != nil {
			return nil, fmt.Errorf("docker archive: %w", err)
		}
		return img, nil
	}
	return nil, errors.New("neither an OCI image layout (no oci-layout, index.json) nor a docker save archive (no manifest.json)")
}

type archiveKind int

const (
	archiveUnknown archiveKind = iota
	archiveOCI
	archiveDocker
)

// sniffArchive reads the tar headers of path (gzip-compressed or not): an
// OCI layout has oci-layout, index.json and blobs/, a docker save archive
// has manifest.json; recent docker save archives have both, and are read as
// OCI layouts.
func sniffArchive(path string) (archiveKind, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return archiveUnknown, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	kind := archiveUnknown
	for entries := 0; entries < maxEntries; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return archiveUnknown, fmt.Errorf("not a tar archive: %w", err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "./"), "/")
		switch {
		case name == "oci-layout", name == "index.json", strings.HasPrefix(name, "blobs/"):
			// smith's layouts start with blobs/: no need to read on.
			return archiveOCI, nil
		case name == "manifest.json":
			kind = archiveDocker
		}
	}
	return kind, nil
}

// openMaybeGzip opens path, decompressing it when it starts with the gzip
// magic bytes.
func openMaybeGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, err
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return f.Close() }}, nil
	}
	return &readCloser{Reader: br, close: f.Close}, nil
}
