package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Config is what smith puts into the image configuration.
type Config struct {
	Entrypoint, Cmd, Env  []string
	WorkingDir, User      string
	ExposedPorts, Volumes map[string]struct{}
	Labels                map[string]string
	// Architecture, OS and Variant use OCI names (amd64, arm64/v8, 386,
	// ppc64le, s390x; see ArchToOCI). OS defaults to linux.
	Architecture, OS, Variant string
	// Created is the image creation time; the zero value leaves "created"
	// out of the config and of the history.
	Created time.Time
}

// historyCreatedBy marks the history entries of the layers smith adds.
const historyCreatedBy = "smith"

// Build returns an OCI image of parent's layers (nil: none) followed by
// layers, with cfg applied over the parent's configuration.
//
// The parent's layers keep their bytes and digests; Docker layer media types
// are mapped to the OCI ones. A layer whose DiffID the parent already has is
// not added again. The parent's config is the base: every configuration field
// it has is kept (including ones smith does not know), and the non-empty
// fields of cfg replace it, except that Env is merged by variable name and
// ExposedPorts, Volumes and Labels are merged by key (cfg wins). As in a
// Dockerfile, setting Entrypoint without Cmd drops the parent's Cmd, which
// was written for the parent's entrypoint. "created" is cfg.Created or
// absent, never the parent's. The parent's history is kept and each added
// layer gets one entry.
func Build(parent v1.Image, layers []v1.Layer, cfg Config) (v1.Image, error) {
	top := map[string]json.RawMessage{}
	var (
		all      []v1.Layer
		descs    []v1.Descriptor
		diffIDs  []v1.Hash
		history  []json.RawMessage
		seenDiff = map[v1.Hash]bool{}
	)
	if parent != nil {
		p, err := parentParts(parent)
		if err != nil {
			return nil, fmt.Errorf("parent image: %w", err)
		}
		top = p.config
		all, descs, diffIDs, history = p.layers, p.descs, p.diffIDs, p.history
		for _, d := range diffIDs {
			seenDiff[d] = true
		}
	}

	var added int
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if seenDiff[diffID] {
			continue // the parent has it already
		}
		desc, err := describeLayer(l)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if mt := ociLayerType(desc.MediaType); mt != desc.MediaType {
			desc.MediaType = mt
			l = &retypedLayer{Layer: l, mediaType: mt, diffID: diffID}
		}
		seenDiff[diffID] = true
		all = append(all, l)
		descs = append(descs, desc)
		diffIDs = append(diffIDs, diffID)
		added++
	}

	if err := applyConfig(top, cfg); err != nil {
		return nil, err
	}
	for range added {
		h := map[string]string{"created_by": historyCreatedBy}
		if !cfg.Created.IsZero() {
			h["created"] = formatTime(cfg.Created)
		}
		history = append(history, mustJSON(h))
	}
	if len(history) > 0 {
		top["history"] = mustJSON(history)
	} else {
		delete(top, "history")
	}
	if diffIDs == nil {
		diffIDs = []v1.Hash{}
	}
	top["rootfs"] = mustJSON(v1.RootFS{Type: "layers", DiffIDs: diffIDs})

	rawConfig, err := marshal(top)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if descs == nil {
		descs = []v1.Descriptor{}
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{
			MediaType: types.OCIConfigJSON,
			Size:      int64(len(rawConfig)),
			Digest:    sha256Hash(rawConfig),
		},
		Layers: descs,
	}
	rawManifest, err := marshal(m)
	if err != nil {
		return nil, fmt.Errorf("image manifest: %w", err)
	}
	return newImage(rawManifest, rawConfig, types.OCIManifestSchema1, all, diffIDs)
}

type parentInfo struct {
	config  map[string]json.RawMessage
	layers  []v1.Layer
	descs   []v1.Descriptor
	diffIDs []v1.Hash
	history []json.RawMessage
}

// parentParts takes the parent apart: its raw config as a map (so that
// fields smith does not model survive), its layers with their manifest
// descriptors, and their DiffIDs from its config.
func parentParts(img v1.Image) (*parentInfo, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if !m.Config.MediaType.IsConfig() {
		return nil, fmt.Errorf("config media type %q: not a container image", m.Config.MediaType)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	p := &parentInfo{config: map[string]json.RawMessage{}}
	if err := json.Unmarshal(raw, &p.config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if p.config == nil {
		// "null" unmarshals into a nil map (found by FuzzLayoutJSON).
		return nil, errors.New("config: not a JSON object")
	}
	var cf struct {
		RootFS  v1.RootFS         `json:"rootfs"`
		History []json.RawMessage `json:"history"`
	}
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(m.Layers) || len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers in the manifest, %d in Layers(), %d diff_ids in the config",
			len(m.Layers), len(layers), len(cf.RootFS.DiffIDs))
	}
	for i, l := range layers {
		d := m.Layers[i]
		d.MediaType = ociLayerType(d.MediaType)
		p.layers = append(p.layers, &retypedLayer{Layer: l, mediaType: d.MediaType, diffID: cf.RootFS.DiffIDs[i]})
		p.descs = append(p.descs, d)
	}
	p.diffIDs = cf.RootFS.DiffIDs
	p.history = cf.History
	if len(p.history) == 0 && len(layers) > 0 {
		// Keep history and layers in step for tools that pair them up.
		for range layers {
			p.history = append(p.history, mustJSON(map[string]string{"comment": "parent layer"}))
		}
	}
	return p, nil
}

// ociLayerType maps Docker layer media types to the OCI ones for the same
// bytes.
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	}
	return mt
}

// retypedLayer is a layer under its OCI media type, with a known DiffID (for
// a parent's layer, from the parent's config: it is not recomputed by
// decompressing).
type retypedLayer struct {
	v1.Layer
	mediaType types.MediaType
	diffID    v1.Hash
}

func (l *retypedLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *retypedLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }

func describeLayer(l v1.Layer) (v1.Descriptor, error) {
	var d v1.Descriptor
	var err error
	if d.MediaType, err = l.MediaType(); err != nil {
		return d, err
	}
	if d.Size, err = l.Size(); err != nil {
		return d, err
	}
	if d.Digest, err = l.Digest(); err != nil {
		return d, err
	}
	return d, nil
}

// applyConfig writes cfg over the (parent's) raw config top.
func applyConfig(top map[string]json.RawMessage, cfg Config) error {
	sec := map[string]json.RawMessage{}
	if raw, ok := top["config"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &sec); err != nil {
			return fmt.Errorf("parent config: config: %w", err)
		}
	}

	var parentArch, parentOS, parentVariant string
	_ = unmarshalField(top, "architecture", &parentArch)
	_ = unmarshalField(top, "os", &parentOS)
	_ = unmarshalField(top, "variant", &parentVariant)
	arch, osName, variant := cfg.Architecture, cfg.OS, cfg.Variant
	if arch == "" {
		arch, variant = parentArch, parentVariant
	} else if parentArch != "" && (parentArch != arch || !sameVariant(arch, parentVariant, variant)) {
		return fmt.Errorf("architecture %s does not match the parent image's %s",
			platformName(arch, variant), platformName(parentArch, parentVariant))
	}
	if osName == "" {
		osName = parentOS
	}
	if osName == "" {
		osName = "linux"
	} else if parentOS != "" && parentOS != osName {
		return fmt.Errorf("OS %s does not match the parent image's %s", osName, parentOS)
	}
	if arch == "" {
		return errors.New("image config: no architecture: set Config.Architecture (see ArchToOCI)")
	}
	top["architecture"] = mustJSON(arch)
	top["os"] = mustJSON(osName)
	if variant != "" {
		top["variant"] = mustJSON(variant)
	} else {
		delete(top, "variant")
	}
	if cfg.Created.IsZero() {
		delete(top, "created")
	} else {
		top["created"] = mustJSON(formatTime(cfg.Created))
	}

	if len(cfg.Entrypoint) > 0 {
		sec["Entrypoint"] = mustJSON(cfg.Entrypoint)
		if len(cfg.Cmd) == 0 {
			delete(sec, "Cmd")
		}
	}
	if len(cfg.Cmd) > 0 {
		sec["Cmd"] = mustJSON(cfg.Cmd)
	}
	if len(cfg.Env) > 0 {
		var env []string
		if err := unmarshalField(sec, "Env", &env); err != nil {
			return fmt.Errorf("parent config: Env: %w", err)
		}
		sec["Env"] = mustJSON(mergeEnv(env, cfg.Env))
	}
	if cfg.WorkingDir != "" {
		sec["WorkingDir"] = mustJSON(cfg.WorkingDir)
	}
	if cfg.User != "" {
		sec["User"] = mustJSON(cfg.User)
	}
	for _, f := range []struct {
		key string
		set map[string]struct{}
	}{{"ExposedPorts", cfg.ExposedPorts}, {"Volumes", cfg.Volumes}} {
		if len(f.set) == 0 {
			continue
		}
		merged := map[string]json.RawMessage{}
		if err := unmarshalField(sec, f.key, &merged); err != nil {
			return fmt.Errorf("parent config: %s: %w", f.key, err)
		}
		for k := range f.set {
			merged[k] = json.RawMessage("{}")
		}
		sec[f.key] = mustJSON(merged)
	}
	if len(cfg.Labels) > 0 {
		merged := map[string]string{}
		if err := unmarshalField(sec, "Labels", &merged); err != nil {
			return fmt.Errorf("parent config: Labels: %w", err)
		}
		for k, v := range cfg.Labels {
			merged[k] = v
		}
		sec["Labels"] = mustJSON(merged)
	}
	if len(sec) > 0 {
		top["config"] = mustJSON(sec)
	} else {
		delete(top, "config")
	}
	return nil
}

// sameVariant reports whether two variants of arch name the same platform;
// arm64 without a variant is v8.
func sameVariant(arch, a, b string) bool {
	if arch == "arm64" {
		if a == "" {
			a = "v8"
		}
		if b == "" {
			b = "v8"
		}
	}
	return a == b
}

func platformName(arch, variant string) string {
	if variant == "" {
		return arch
	}
	return arch + "/" + variant
}

// mergeEnv sets each K=V of add in env: a variable already there keeps its
// position with the new value, a new one is appended.
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i] = kv
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func unmarshalField(m map[string]json.RawMessage, key string, v any) error {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil
	}
	return json.Unmarshal(raw, v)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// formatTime renders t in UTC, so the local time zone never shows.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// marshal is json.Marshal without HTML escaping (a Cmd with "&&" stays
// readable) and without the encoder's trailing newline. Maps come out with
// sorted keys.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// mustJSON marshals values that cannot fail (strings, string slices and
// maps, RawMessages already validated by Unmarshal).
func mustJSON(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		panic(fmt.Sprintf("image: marshal %T: %v", v, err))
	}
	return b
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// img is an image whose manifest and config are in memory and whose layers
// are known; both Build and the layout readers return one.
type img struct {
	rawManifest, rawConfig []byte
	mediaType              types.MediaType
	manifest               *v1.Manifest
	config                 *v1.ConfigFile
	layers                 []v1.Layer
	digests, diffIDs       []v1.Hash
}

var _ v1.Image = (*img)(nil)

func newImage(rawManifest, rawConfig []byte, mt types.MediaType, layers []v1.Layer, diffIDs []v1.Hash) (*img, error) {
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	i := &img{rawManifest: rawManifest, rawConfig: rawConfig, mediaType: mt, manifest: m, config: cf, layers: layers, diffIDs: diffIDs}
	for _, d := range m.Layers {
		i.digests = append(i.digests, d.Digest)
	}
	if len(layers) != len(m.Layers) || len(diffIDs) != len(layers) {
		return nil, fmt.Errorf("%d layers, %d in the manifest, %d diff_ids", len(layers), len(m.Layers), len(diffIDs))
	}
	return i, nil
}

func (i *img) Layers() ([]v1.Layer, error)               { return append([]v1.Layer(nil), i.layers...), nil }
func (i *img) MediaType() (types.MediaType, error)       { return i.mediaType, nil }
func (i *img) Size() (int64, error)                      { return int64(len(i.rawManifest)), nil }
func (i *img) ConfigName() (v1.Hash, error)              { return sha256Hash(i.rawConfig), nil }
func (i *img) RawConfigFile() ([]byte, error)            { return i.rawConfig, nil }
func (i *img) Digest() (v1.Hash, error)                  { return sha256Hash(i.rawManifest), nil }
func (i *img) RawManifest() ([]byte, error)              { return i.rawManifest, nil }
func (i *img) ConfigFile() (*v1.ConfigFile, error)       { return i.config.DeepCopy(), nil }
func (i *img) Manifest() (*v1.Manifest, error)           { return i.manifest.DeepCopy(), nil }
func (i *img) LayerByDigest(h v1.Hash) (v1.Layer, error) { return i.find(h, i.digests, "digest") }
func (i *img) LayerByDiffID(h v1.Hash) (v1.Layer, error) { return i.find(h, i.diffIDs, "diffID") }

func (i *img) find(h v1.Hash, hs []v1.Hash, what string) (v1.Layer, error) {
	for k, x := range hs {
		if x == h {
			return i.layers[k], nil
		}
	}
	return nil, fmt.Errorf("image has no layer with %s %s", what, h)
}
