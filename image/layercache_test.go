package image

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/smith-build/smith/fstree"
)

// memCache is a LayerCache in memory that counts its calls.
type memCache struct {
	gz             map[string][]byte
	digest, diffID map[string]string
	gets, puts     int
}

func newMemCache() *memCache {
	return &memCache{gz: map[string][]byte{}, digest: map[string]string{}, diffID: map[string]string{}}
}

func (c *memCache) Get(k string) ([]byte, string, string, bool) {
	c.gets++
	g, ok := c.gz[k]
	return g, c.digest[k], c.diffID[k], ok
}

func (c *memCache) Put(k string, gz []byte, d, id string) {
	c.puts++
	c.gz[k], c.digest[k], c.diffID[k] = gz, d, id
}

// layerParts is what a layer is: its hashes and compressed bytes.
type layerParts struct {
	digest, diffID string
	gz             []byte
}

func layerOf(t *testing.T, tree *fstree.Tree, opt LayerOptions) layerParts {
	t.Helper()
	l, err := Layer(tree, opt)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	id, _ := l.DiffID()
	rc, _ := l.Compressed()
	gz, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return layerParts{d.Hex, id.Hex, gz}
}

func (p layerParts) equal(q layerParts) bool {
	return p.digest == q.digest && p.diffID == q.diffID && bytes.Equal(p.gz, q.gz)
}

// cacheTrees are a one-block layer and one of several parallel gzip
// blocks.
func cacheTrees(t *testing.T) map[string]*fstree.Tree {
	small := fstree.New()
	if _, err := small.WriteFile("/a/b", []byte("hello, hello, hello"), 0o644, fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	if err := small.Symlink("b", "/a/c", fstree.Owner{}, ""); err != nil {
		t.Fatal(err)
	}
	big := fstree.New()
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, gzipBlockSize)
	rng.Read(random)
	for p, data := range map[string][]byte{
		"/usr/lib/random": random,
		"/usr/share/text": pgzipInput("text", 2*gzipBlockSize, 2),
	} {
		if _, err := big.WriteFile(p, data, 0o644, fstree.Owner{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]*fstree.Tree{"small": small, "big": big}
}

// A cached layer is the layer compressed anew: the same digest, diffID
// and bytes. The first Layer misses and Puts, the second hits.
func TestLayerCache(t *testing.T) {
	for name, tree := range cacheTrees(t) {
		t.Run(name, func(t *testing.T) {
			want := layerOf(t, tree, LayerOptions{})
			c := newMemCache()
			for i := 0; i < 2; i++ {
				if got := layerOf(t, tree, LayerOptions{Cache: c}); !got.equal(want) {
					t.Errorf("round %d: %s %s, want %s %s", i, got.digest, got.diffID, want.digest, want.diffID)
				}
			}
			if len(c.gz) != 1 || c.gets != 2 || c.puts != 1 {
				t.Errorf("cache: %d entries, %d gets, %d puts", len(c.gz), c.gets, c.puts)
			}
			for key := range c.gz {
				if !bytes.Equal(c.gz[key], want.gz) || c.digest[key] != want.digest || c.diffID[key] != want.diffID {
					t.Errorf("the entry under %s is not the layer", key)
				}
			}
		})
	}
}

// The content key tells trees apart by everything that goes into the
// layer: a file's content (same size), mode, owner, xattr, a link target,
// a hardlink; and a file whose SHA256 is given keys as one whose data is
// hashed. A false hit would serve another tree's layer.
func TestLayerCacheContentKey(t *testing.T) {
	build := func(mutate func(tr *fstree.Tree, n *fstree.Inode)) *fstree.Tree {
		tr := fstree.New()
		if err := tr.Mkdir("/a", 0o755, fstree.Owner{}, ""); err != nil {
			t.Fatal(err)
		}
		n, err := tr.WriteFile("/a/f", []byte("hello world"), 0o644, fstree.Owner{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Symlink("f", "/a/l", fstree.Owner{}, ""); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(tr, n)
		}
		return tr
	}
	c := newMemCache()
	base := layerOf(t, build(nil), LayerOptions{Cache: c})
	for name, mutate := range map[string]func(tr *fstree.Tree, n *fstree.Inode){
		"content":  func(_ *fstree.Tree, n *fstree.Inode) { n.Data = []byte("hello WORLD") },
		"mode":     func(_ *fstree.Tree, n *fstree.Inode) { n.Mode = 0o755 },
		"owner":    func(_ *fstree.Tree, n *fstree.Inode) { n.Owner.UID = 10 },
		"xattr":    func(_ *fstree.Tree, n *fstree.Inode) { n.Xattrs = map[string][]byte{"user.x": []byte("1")} },
		"target":   func(tr *fstree.Tree, _ *fstree.Inode) { tr.Remove("/a/l"); tr.Symlink("g", "/a/l", fstree.Owner{}, "") },
		"hardlink": func(tr *fstree.Tree, n *fstree.Inode) { tr.Link(n, "/a/h") },
	} {
		want := layerOf(t, build(mutate), LayerOptions{})
		got := layerOf(t, build(mutate), LayerOptions{Cache: c})
		if !got.equal(want) || got.equal(base) {
			t.Errorf("%s: the cache served another tree's layer", name)
		}
	}
	// A known digest keys like a computed one: a hit.
	puts := c.puts
	got := layerOf(t, build(func(_ *fstree.Tree, n *fstree.Inode) {
		sum := sha256.Sum256(n.Data)
		n.SHA256 = sum[:]
	}), LayerOptions{Cache: c})
	if !got.equal(base) || c.puts != puts {
		t.Errorf("a file with its SHA256 given missed the cache (%d puts, %d before)", c.puts, puts)
	}
}

// A layer from the cache reads back as the tree.
func TestLayerCacheHitReadable(t *testing.T) {
	tree := cacheTrees(t)["small"]
	c := newMemCache()
	layerOf(t, tree, LayerOptions{Cache: c})
	l, err := Layer(tree, LayerOptions{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if c.gets != 2 || c.puts != 1 {
		t.Fatalf("not a hit: %d gets, %d puts", c.gets, c.puts)
	}
	_, hdrs := readLayer(t, l)
	if len(hdrs) != 3 { // a/, a/b, a/c
		t.Errorf("%d entries read back, want 3", len(hdrs))
	}
}

// The key names the compressor version go.mod pins: a new klauspost/compress
// must not reuse layers the old one compressed.
func TestLayerCacheKeyCompressor(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/klauspost/compress (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/klauspost/compress")
	}
	if want := "klauspost-compress-" + string(m[1]); layerCompressor != want {
		t.Errorf("layerCompressor is %q, go.mod pins %q: update it (and so the cache keys)", layerCompressor, want)
	}
	k := LayerCacheKey("abc")
	if !regexp.MustCompile(`^abc-[a-z0-9.-]+$`).MatchString(k) {
		t.Errorf("key %q: want the diffID then file-name-safe characters", k)
	}
	for _, part := range []string{fmt.Sprintf("gzip%d", layerLevel), fmt.Sprintf("b%d", gzipBlockSize), layerCompressor} {
		if !strings.Contains(k, part) {
			t.Errorf("key %q lacks %q", k, part)
		}
	}
}
