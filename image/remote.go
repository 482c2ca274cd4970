package image

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	urlredact "github.com/smith-build/smith/internal/redact"
)

// PushOptions configure Push and UploadFile.
type PushOptions struct {
	RemoteOptions
	// Docker pushes Docker v2 schema 2 media types (-d) instead of OCI
	// ones. Docker Hub (docker.io, index.docker.io, registry-1.docker.io)
	// always gets them.
	Docker bool
}

// DockerHint ends the error of a push whose OCI manifest the registry
// refused.
const DockerHint = "retry with -d to push Docker media types"

// Push uploads img to ref ("https://[user:pass@]host/repo[:tag]", http://
// for plain HTTP; the tag defaults to latest) and returns the digest of the
// manifest the registry now has. Blobs the registry has are not uploaded
// again.
//
// The manifest is pushed with OCI media types, or converted to Docker v2
// schema 2 ones when opt.Docker is set or the registry is Docker Hub. (An
// image that has Docker media types already, such as one read from a docker
// save archive, is pushed as it is.) The
// conversion rewrites the manifest (so its digest changes) but not the
// config or the layers, whose digests stay. When the registry refuses an OCI
// manifest, the error ends with DockerHint.
func Push(ctx context.Context, img v1.Image, ref string, opt PushOptions) (v1.Hash, error) {
	r, err := parseRemote(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if _, ok := r.ref.(name.Digest); ok {
		return v1.Hash{}, fmt.Errorf("push %s: push to a tag, not a digest", r)
	}
	docker := opt.Docker || isDockerHub(r.ref)
	if docker {
		if img, err = toDocker(img); err != nil {
			return v1.Hash{}, fmt.Errorf("push %s: %w", r, err)
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", r, err)
	}
	if err := remote.Write(r.ref, img, remoteOptions(ctx, r, opt.RemoteOptions)...); err != nil {
		err = explain(redact(err, r.secrets), r)
		if !docker && refusedManifest(err) {
			return v1.Hash{}, fmt.Errorf("push %s: %w; the registry refused the OCI manifest: %s", r, err, DockerHint)
		}
		return v1.Hash{}, fmt.Errorf("push %s: %w", r, err)
	}
	return digest, nil
}

// explain adds what to do to registry errors whose cause is clear.
func explain(err error, r *remoteRef) error {
	var cerr *tls.CertificateVerificationError
	if errors.As(err, &cerr) {
		return fmt.Errorf("%w; use -k to skip TLS certificate verification", err)
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	switch terr.StatusCode {
	case http.StatusUnauthorized:
		if r.auth != nil {
			return fmt.Errorf("%w; authentication failed: check the user and password in the URL", err)
		}
		return fmt.Errorf("%w; authentication required: put user:password@ in the URL, or log in with docker login", err)
	case http.StatusForbidden:
		return fmt.Errorf("%w; access denied for these credentials", err)
	}
	return err
}

// refusedManifest reports whether err is a registry refusing a manifest
// upload for what it is (not for auth, not for a missing blob).
func refusedManifest(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.Request == nil || terr.Request.Method != http.MethodPut ||
		!strings.Contains(terr.Request.URL.Path, "/manifests/") {
		return false
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestInvalidErrorCode, transport.UnsupportedErrorCode:
			return true
		case transport.ManifestBlobUnknownErrorCode, transport.BlobUnknownErrorCode,
			transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return false
		}
	}
	return terr.StatusCode == http.StatusBadRequest || terr.StatusCode == http.StatusUnsupportedMediaType
}

// toDocker returns img with Docker v2 schema 2 media types: the same config
// and layer bytes under a new manifest (annotations, which schema 2 lacks,
// are dropped). A Docker image is returned as it is.
func toDocker(img v1.Image) (v1.Image, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	if mt == types.DockerManifestSchema2 {
		return img, nil
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	var cf struct {
		RootFS v1.RootFS `json:"rootfs"`
	}
	if err := json.Unmarshal(rawConfig, &cf); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(m.Layers) || len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers in the manifest, %d in the image, %d diff_ids in the config",
			len(m.Layers), len(layers), len(cf.RootFS.DiffIDs))
	}
	dm := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: m.Config.Size, Digest: m.Config.Digest},
		Layers:        make([]v1.Descriptor, len(m.Layers)),
	}
	retyped := make([]v1.Layer, len(layers))
	for i, d := range m.Layers {
		lt, err := dockerLayerType(d.MediaType)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		dm.Layers[i] = v1.Descriptor{MediaType: lt, Size: d.Size, Digest: d.Digest, URLs: d.URLs}
		retyped[i] = &retypedLayer{Layer: layers[i], mediaType: lt, diffID: cf.RootFS.DiffIDs[i]}
	}
	raw, err := marshal(dm)
	if err != nil {
		return nil, err
	}
	return newImage(raw, rawConfig, types.DockerManifestSchema2, retyped, cf.RootFS.DiffIDs)
}

func dockerLayerType(mt types.MediaType) (types.MediaType, error) {
	switch mt {
	case types.OCILayer, types.DockerLayer:
		return types.DockerLayer, nil
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer:
		return types.DockerUncompressedLayer, nil
	case types.OCIRestrictedLayer, types.DockerForeignLayer:
		return types.DockerForeignLayer, nil
	case types.OCIUncompressedRestrictedLayer:
		return types.DockerForeignLayer, nil
	}
	return "", fmt.Errorf("media type %s has no Docker equivalent: push with OCI media types (without -d)", mt)
}

// downloadJobs is how many layers Download fetches at once.
const downloadJobs = 4

// Download fetches the image ref names (from an index, the manifest for
// opt.Platform) with its config and layers into memory, and checks every
// blob against its descriptor's digest and size. The manifest is kept byte
// for byte, so its digest is the one the registry has. The Layout names the
// image "latest" and carries the index entry's platform, ready for
// WriteLayoutTarGz.
func Download(ctx context.Context, ref string, opt RemoteOptions) (*Layout, error) {
	r, err := parseRemote(ref)
	if err != nil {
		return nil, err
	}
	l, err := download(ctx, r, opt)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", r, explain(redact(err, r.secrets), r))
	}
	return l, nil
}

func download(ctx context.Context, r *remoteRef, opt RemoteOptions) (*Layout, error) {
	// Cancelled on the first failed layer, to stop the others.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	img, platform, err := remoteImage(ctx, r, opt)
	if err != nil {
		return nil, err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	mt := m.MediaType
	if mt == "" {
		if mt, err = img.MediaType(); err != nil {
			return nil, err
		}
	}
	if !mt.IsImage() || !m.Config.MediaType.IsConfig() {
		return nil, fmt.Errorf("manifest media type %q, config media type %q: not a container image", mt, m.Config.MediaType)
	}
	s := &memStore{blobs: map[v1.Hash][]byte{}}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if err := checkBlob(m.Config, rawConfig); err != nil {
		return nil, err
	}
	var cf struct {
		RootFS v1.RootFS `json:"rootfs"`
	}
	if err := json.Unmarshal(rawConfig, &cf); err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest has %d layers, config has %d diff_ids", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	var total int64
	for _, d := range m.Layers {
		if d.Size < 0 || d.Size > maxLayoutBytes-total {
			return nil, fmt.Errorf("layers larger than the limit of %d bytes", int64(maxLayoutBytes))
		}
		total += d.Size
	}

	// Fetch the layers, a few at a time; the first error stops the rest.
	datas := make([][]byte, len(m.Layers))
	errs := make([]error, len(m.Layers))
	sem := make(chan struct{}, downloadJobs)
	var wg sync.WaitGroup
	for i, d := range m.Layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			datas[i], errs[i] = fetchLayer(img, d)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the first real failure, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			first = err
			break
		}
	}
	if first == nil {
		first = errors.Join(errs...)
	}
	if first != nil {
		return nil, first
	}

	layers := make([]v1.Layer, len(m.Layers))
	for i, d := range m.Layers {
		s.blobs[d.Digest] = datas[i]
		layers[i] = &blobLayer{store: s, desc: d, diffID: cf.RootFS.DiffIDs[i]}
	}
	got, err := newImage(rawManifest, rawConfig, mt, layers, cf.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	return &Layout{
		Image:       got,
		Annotations: map[string]string{AnnotationRefName: RefLatest},
		Platform:    platform,
	}, nil
}

// fetchLayer reads a layer's blob, checking size and digest. The transport
// checks them too; this check gives the typed *DigestError.
func fetchLayer(img v1.Image, d v1.Descriptor) ([]byte, error) {
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return nil, blobErr(d, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, blobErr(d, err)
	}
	defer rc.Close()
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return nil, blobErr(d, err)
	}
	var buf bytes.Buffer
	if d.Size < 64<<20 {
		buf.Grow(int(d.Size))
	}
	n, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(rc, d.Size+1))
	if err != nil {
		if n == d.Size {
			// All bytes came and the transport's own check failed: say
			// which way.
			if cerr := checkSum(h, d.Digest); cerr != nil {
				return nil, blobErr(d, cerr)
			}
		}
		return nil, blobErr(d, fmt.Errorf("after %d of %d bytes: %w", n, d.Size, err))
	}
	if n != d.Size {
		return nil, blobErr(d, fmt.Errorf("%d bytes, descriptor says %d", n, d.Size))
	}
	if err := checkSum(h, d.Digest); err != nil {
		return nil, blobErr(d, err)
	}
	return buf.Bytes(), nil
}

// checkBlob checks b against d's size and digest.
func checkBlob(d v1.Descriptor, b []byte) error {
	if int64(len(b)) != d.Size {
		return blobErr(d, fmt.Errorf("%d bytes, descriptor says %d", len(b), d.Size))
	}
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return blobErr(d, err)
	}
	h.Write(b)
	if err := checkSum(h, d.Digest); err != nil {
		return blobErr(d, err)
	}
	return nil
}

// DownloadFile is `smith download -r REF -i FILE`: Download, then FILE is
// replaced atomically with smith's gzip-compressed OCI layout tar. On any
// error FILE is left as it was and no partial file remains.
func DownloadFile(ctx context.Context, ref, file string, opt RemoteOptions) error {
	l, err := Download(ctx, ref, opt)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(file, func(w io.Writer) error { return WriteLayoutTarGz(w, *l, time.Time{}) }); err != nil {
		return fmt.Errorf("download %s: %w", urlredact.URL(ref), err)
	}
	return nil
}

// UploadFile is `smith upload -i FILE -r REF [-d]`: FILE (smith's output,
// or any local source Open accepts, its image chosen by opt.Tag as Open
// does) is pushed to REF as Push does.
func UploadFile(ctx context.Context, file, ref string, opt PushOptions) error {
	img, err := openLocal(file, opt.platform(), opt.Tag)
	if err != nil {
		return fmt.Errorf("upload %s: %w", file, err)
	}
	if _, err := Push(ctx, img, ref, opt); err != nil {
		return fmt.Errorf("upload %s: %w", file, err)
	}
	return nil
}
