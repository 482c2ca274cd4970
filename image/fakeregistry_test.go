package image

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fakeRegistry serves manifests (by tag or digest) and blobs from maps a
// test fills: the registry API as far as pulling needs it, with nothing
// checked, so that a test can serve what a real registry would refuse.
type fakeRegistry struct {
	mu        sync.Mutex
	manifests map[string][]byte // by tag and by digest
	blobs     map[string][]byte // by digest
}

func (r *fakeRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	manifests, blobs := r.manifests, r.blobs
	r.mu.Unlock()
	p := req.URL.Path
	if p == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	const prefix = "/v2/smith/fuzz/"
	kind, ref, ok := strings.Cut(strings.TrimPrefix(p, prefix), "/")
	var body []byte
	switch {
	case !strings.HasPrefix(p, prefix) || !ok:
	case kind == "manifests":
		body = manifests[ref]
		if body != nil {
			w.Header().Set("Content-Type", mediaTypeOf(body))
			w.Header().Set("Docker-Content-Digest", digestOf(body).String())
		}
	case kind == "blobs":
		body = blobs[ref]
	}
	if body == nil {
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}`, http.StatusNotFound)
		return
	}
	if req.Method != http.MethodHead {
		w.Write(body)
	}
}

// mediaTypeOf is a manifest's own mediaType, or what its shape says.
func mediaTypeOf(doc []byte) string {
	var m struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	json.Unmarshal(doc, &m)
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return "application/vnd.oci.image.index.v1+json"
	}
	return "application/vnd.oci.image.manifest.v1+json"
}

func digestOf(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A registry image is checked as a layout's is before smith uses it: a
// manifest without an image config, or with more layers than diff_ids, is
// refused by Open with a message saying so.
func TestOpenRegistryChecksImage(t *testing.T) {
	layer := fuzzLayerBlob(t)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	desc := func(mt string, b []byte) string {
		return `{"mediaType":"` + mt + `","digest":"` + digestOf(b).String() + `","size":` + itoa(len(b)) + `}`
	}
	reg := &fakeRegistry{}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	ref := "http://" + strings.TrimPrefix(srv.URL, "http://") + "/smith/fuzz:latest"
	for _, c := range []struct{ manifest, want string }{
		{`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`, `config media type "" is not an image config`},
		{`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + desc("application/vnd.oci.image.config.v1+json", config) +
			`,"layers":[` + desc("application/vnd.oci.image.layer.v1.tar+gzip", layer.data) + `]}`, "1 layers but the config has 0 diff_ids"},
	} {
		reg.mu.Lock()
		reg.manifests = map[string][]byte{"latest": []byte(c.manifest)}
		reg.blobs = map[string][]byte{digestOf(config).String(): config, digestOf(layer.data).String(): layer.data}
		reg.mu.Unlock()
		opt := testOpts()
		_, err := Open(context.Background(), ref, opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open: %v, want %q", err, c.want)
		}
	}
}
