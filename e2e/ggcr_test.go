package e2e

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// v1Image exposes the image read back from the archive as a
// go-containerregistry v1.Image (for validate.Image), straight from the
// archive's blobs rather than through smith's own reader.
func (im *image) v1Image() (v1.Image, error) {
	return partial.CompressedToImage(&ggcrCore{im})
}

type ggcrCore struct{ im *image }

func (c *ggcrCore) RawConfigFile() ([]byte, error) { return c.im.rawConfig, nil }
func (c *ggcrCore) RawManifest() ([]byte, error)   { return c.im.rawMan, nil }
func (c *ggcrCore) MediaType() (types.MediaType, error) {
	return types.MediaType(c.im.desc.MediaType), nil
}

func (c *ggcrCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	b, ok := c.im.files["blobs/sha256/"+strings.TrimPrefix(h.String(), "sha256:")]
	if !ok || h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s not in the archive", h)
	}
	mt := types.MediaType("")
	for _, l := range c.im.manifest.Layers {
		if l.Digest == h.String() {
			mt = types.MediaType(l.MediaType)
		}
	}
	return &ggcrLayer{h: h, b: b, mt: mt}, nil
}

type ggcrLayer struct {
	h  v1.Hash
	b  []byte
	mt types.MediaType
}

func (l *ggcrLayer) Digest() (v1.Hash, error)            { return l.h, nil }
func (l *ggcrLayer) Size() (int64, error)                { return int64(len(l.b)), nil }
func (l *ggcrLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *ggcrLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
