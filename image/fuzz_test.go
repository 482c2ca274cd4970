package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/smith-build/smith/fstree"
)

// Placeholders of FuzzLayoutJSON's inputs. The fuzzer cannot compute
// digests, so the JSON it mutates names blobs by placeholder and the target
// substitutes the real digest, size or DiffID before parsing: mutations of
// the JSON then reach the parsers instead of failing the digest check.
const (
	phManifest = "@M@" // in index.json: `"digest":"sha256:…","size":N` of the manifest
	phConfig   = "@C@" // in the manifest: the same for the config
	phLayer    = "@L@" // in the manifest: the same for the layer
	phDiffID   = "@D@" // in the config: the layer's DiffID
)

// FuzzLayoutJSON parses index.json, an image manifest and an image config
// as an OCI layout holding them (plus one real layer) would be read, then
// uses whatever is accepted: its config, its layers unpacked into a tree,
// as the parent of a new image, and written out again. Nothing may panic,
// and an accepted image must be usable.
func FuzzLayoutJSON(f *testing.F) {
	layer := fuzzLayerBlob(f)
	const (
		ociIndex    = `application/vnd.oci.image.index.v1+json`
		ociManifest = `application/vnd.oci.image.manifest.v1+json`
		ociConfig   = `application/vnd.oci.image.config.v1+json`
		ociLayer    = `application/vnd.oci.image.layer.v1.tar+gzip`
		dockerList  = `application/vnd.docker.distribution.manifest.list.v2+json`
		dockerMan   = `application/vnd.docker.distribution.manifest.v2+json`
		dockerCfg   = `application/vnd.docker.container.image.v1+json`
		dockerLayer = `application/vnd.docker.image.rootfs.diff.tar.gzip`
	)
	manifest := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"` + ociConfig + `",` + phConfig +
		`},"layers":[{"mediaType":"` + ociLayer + `",` + phLayer + `}]}`
	config := `{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin"],"Entrypoint":["/usr/bin/cat"],` +
		`"ExposedPorts":{"80/tcp":{}},"Labels":{"a":"b"},"User":"10:10"},"rootfs":{"type":"layers","diff_ids":["` + phDiffID + `"]},` +
		`"history":[{"created_by":"smith"}]}`
	index := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[{"mediaType":"` + ociManifest + `",` + phManifest +
		`,"annotations":{"org.opencontainers.image.ref.name":"latest"},"platform":{"architecture":"amd64","os":"linux"}}]}`
	f.Add(index, manifest, config)
	// Docker media types, no annotation, no platform.
	f.Add(`{"schemaVersion":2,"manifests":[{"mediaType":"`+dockerMan+`",`+phManifest+`}]}`,
		`{"schemaVersion":2,"mediaType":"`+dockerMan+`","config":{"mediaType":"`+dockerCfg+`",`+phConfig+
			`},"layers":[{"mediaType":"`+dockerLayer+`",`+phLayer+`}]}`,
		`{"architecture":"arm64","variant":"v8","os":"linux","rootfs":{"type":"layers","diff_ids":["`+phDiffID+`"]}}`)
	// A nested index (a multi-platform layout) and an attestation.
	f.Add(`{"schemaVersion":2,"manifests":[{"mediaType":"`+dockerList+`",`+phManifest+`}]}`,
		`{"schemaVersion":2,"manifests":[{"mediaType":"`+ociManifest+`",`+phConfig+`,"platform":{"architecture":"unknown","os":"unknown"}}]}`,
		config)
	// Null and empty fields, a config with nothing smith knows.
	f.Add(`{"schemaVersion":2,"manifests":[{"mediaType":"`+ociManifest+`",`+phManifest+`,"annotations":null}]}`,
		`{"schemaVersion":2,"config":{"mediaType":"`+ociConfig+`",`+phConfig+`},"layers":[]}`,
		`{"rootfs":{"type":"layers","diff_ids":[]},"config":null,"history":null,"x-unknown":[1,{"a":null}]}`)
	f.Add("{}", "{}", "{}")

	f.Fuzz(func(t *testing.T, index, manifest, config string) {
		s := &memStore{blobs: map[v1.Hash][]byte{}}
		config = strings.ReplaceAll(config, phDiffID, layer.diffID.String())
		cfgDesc := s.put([]byte(config))
		manifest = strings.ReplaceAll(manifest, phConfig, cfgDesc)
		manifest = strings.ReplaceAll(manifest, phLayer, s.put(layer.data))
		index = strings.ReplaceAll(index, phManifest, s.put([]byte(manifest)))
		rawLayout := []byte(`{"imageLayoutVersion":"1.0.0"}`)

		for _, platform := range []*v1.Platform{nil, {OS: "linux", Architecture: "amd64"}} {
			for _, tag := range []string{"", RefLatest, "v2"} {
				l, err := assemble(s, rawLayout, []byte(index), platform, tag)
				if err != nil {
					continue
				}
				useImage(t, l)
			}
		}
	})
}

// put stores b as a blob and returns its descriptor fields as JSON.
func (s *memStore) put(b []byte) string {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	s.blobs[h] = b
	return fmt.Sprintf(`"digest":%q,"size":%d`, h.String(), len(b))
}

type fuzzLayer struct {
	data   []byte
	diffID v1.Hash
}

// fuzzLayerBlob is a small gzip layer smith wrote, with its DiffID.
func fuzzLayerBlob(f testing.TB) fuzzLayer {
	tree := fstree.New()
	if _, err := tree.WriteFile("/usr/bin/cat", []byte("\x7fELF"), 0o755, fstree.Owner{}, ""); err != nil {
		f.Fatal(err)
	}
	if err := tree.Symlink("usr/bin", "/bin", fstree.Owner{}, ""); err != nil {
		f.Fatal(err)
	}
	l, err := Layer(tree, LayerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		f.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		f.Fatal(err)
	}
	diffID, err := l.DiffID()
	if err != nil {
		f.Fatal(err)
	}
	return fuzzLayer{data: data, diffID: diffID}
}

// useImage does with an accepted layout what smith does with a parent or
// source image; errors are fine, panics and hangs are not.
func useImage(t *testing.T, l *ReadLayout) {
	t.Helper()
	if l.Image == nil {
		t.Fatal("assemble returned no image and no error")
	}
	if _, err := l.Image.Manifest(); err != nil {
		t.Fatalf("accepted manifest does not parse again: %v", err)
	}
	if _, err := l.Image.Digest(); err != nil {
		t.Fatalf("digest of an accepted image: %v", err)
	}
	if cf, err := ConfigOf(l.Image); err == nil {
		_ = Inherit(Config{}, cf)
	}
	if err := Unpack(context.Background(), l.Image, fstree.New()); err == nil {
		if _, err := l.Image.ConfigFile(); err != nil {
			t.Fatalf("unpacked an image whose config does not parse: %v", err)
		}
	}
	img, err := Build(l.Image, nil, Config{Architecture: "amd64", Env: []string{"A=1"}, Labels: map[string]string{"x": "y"}})
	if err != nil {
		return
	}
	var buf bytes.Buffer
	if err := WriteLayoutTarGz(&buf, Layout{Image: img, Extras: l.Extras}, time.Time{}); err != nil {
		return
	}
	// What smith writes from an accepted parent reads back.
	if _, err := readLayoutTar(bytes.NewReader(buf.Bytes()), nil, ""); err != nil {
		t.Fatalf("an image built on an accepted parent does not read back: %v", err)
	}
}
