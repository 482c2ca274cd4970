package extract_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/rpmfixture"
)

// viaExpanded extracts rpm the long way round: Expand, store, parse the
// stored bytes, Apply.
func viaExpanded(rpm []byte, opt extract.Options) (*fstree.Tree, *extract.Info, error) {
	e, err := extract.Expand(context.Background(), bytes.NewReader(rpm), opt)
	if err != nil {
		return nil, nil, err
	}
	var stored bytes.Buffer
	if _, err := e.WriteTo(&stored); err != nil {
		return nil, nil, err
	}
	back, err := extract.ParseExpanded(stored.Bytes())
	if err != nil {
		return nil, nil, err
	}
	tree := fstree.New()
	info, err := extract.Apply(context.Background(), tree, back, opt)
	return tree, info, err
}

// disagreement compares what Package made of rpm (tree, info, err) with
// what viaExpanded makes of it: both fail, or both make the same tree
// (dump, owning packages, ghosts) and info. It returns "" when they agree.
func disagreement(rpm []byte, opt extract.Options, tree *fstree.Tree, info *extract.Info, err error) string {
	t2, i2, err2 := viaExpanded(rpm, opt)
	switch {
	case err != nil && err2 != nil:
		return ""
	case err != nil:
		return fmt.Sprintf("Package failed (%v), Expand+Apply did not", err)
	case err2 != nil:
		return fmt.Sprintf("Expand+Apply failed (%v), Package did not", err2)
	}
	if d1, d2 := tree.Dump(), t2.Dump(); d1 != d2 {
		return fmt.Sprintf("trees differ:\n%s\nvs\n%s", d1, d2)
	}
	if !reflect.DeepEqual(info, i2) {
		return fmt.Sprintf("info %+v vs %+v", info, i2)
	}
	if !reflect.DeepEqual(tree.Ghosts(), t2.Ghosts()) {
		return fmt.Sprintf("ghosts %v vs %v", tree.Ghosts(), t2.Ghosts())
	}
	// Inode.SHA256, where set, is the data's digest.
	for _, t := range []*fstree.Tree{tree, t2} {
		bad := ""
		t.Walk("/", func(p string, n *fstree.Inode) error {
			if n.SHA256 != nil {
				if sum := sha256.Sum256(n.Data); !bytes.Equal(sum[:], n.SHA256) {
					bad = p
				}
			}
			return nil
		})
		if bad != "" {
			return fmt.Sprintf("%s: SHA256 is not the data's digest", bad)
		}
	}
	owners := func(t *fstree.Tree) map[string]string {
		m := map[string]string{}
		t.Walk("/", func(p string, n *fstree.Inode) error { m[p] = n.Package; return nil })
		return m
	}
	if o1, o2 := owners(tree), owners(t2); !reflect.DeepEqual(o1, o2) {
		return fmt.Sprintf("owning packages %v vs %v", o1, o2)
	}
	return ""
}

// checked runs Package and, when Expand+Apply disagrees with it, replaces
// its error with one that says so (wrapping nothing, so that tests
// expecting a sentinel or an exact message fail too).
func checked(rpm []byte, opt extract.Options, tree *fstree.Tree, info *extract.Info, err error) (*fstree.Tree, *extract.Info, error) {
	if d := disagreement(rpm, opt, tree, info, err); d != "" {
		return tree, nil, fmt.Errorf("Package and Expand+Apply disagree: %s", d)
	}
	return tree, info, err
}

func TestExpandedRoundTrip(t *testing.T) {
	for _, c := range compressors {
		s := demo()
		s.Compressor = c
		rpm := mustBuild(t, s)
		e, err := extract.Expand(context.Background(), bytes.NewReader(rpm), extract.Options{})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if e.Compressor != c {
			t.Errorf("%s: compressor %q", c, e.Compressor)
		}
		tree, info, err := viaExpanded(rpm, extract.Options{})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		checkDemo(t, tree)
		if info.Payload != c || info.PayloadBytes != int64(len(e.Payload)) {
			t.Errorf("%s: info %+v, payload %d bytes", c, info, len(e.Payload))
		}
	}
}

// Any change to the stored bytes is caught: every single-byte flip and
// every truncation of a small package's stored form.
func TestParseExpandedDamage(t *testing.T) {
	rpm := mustBuild(t, demo())
	e, err := extract.Expand(context.Background(), bytes.NewReader(rpm), extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := e.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	if _, err := extract.ParseExpanded(good); err != nil {
		t.Fatal(err)
	}
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x40
		if _, err := extract.ParseExpanded(bad); !errors.Is(err, extract.ErrBadExpanded) {
			t.Fatalf("flip at %d: %v", i, err)
		}
	}
	for n := range len(good) {
		if _, err := extract.ParseExpanded(good[:n]); !errors.Is(err, extract.ErrBadExpanded) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

// A decompression bomb fails in Expand as in Package.
func TestExpandBomb(t *testing.T) {
	s := demo()
	s.Compressor = "xz"
	_, err := extract.Expand(context.Background(), bytes.NewReader(mustBuild(t, s)), extract.Options{MaxBytes: 100})
	if !errors.Is(err, extract.ErrTooLarge) {
		t.Errorf("err = %v", err)
	}
}

func TestExpandCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := extract.Expand(ctx, bytes.NewReader(mustBuild(t, demo())), extract.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func FuzzParseExpanded(f *testing.F) {
	rpm, err := rpmfixture.Build(demo())
	if err != nil {
		f.Fatal(err)
	}
	e, err := extract.Expand(context.Background(), bytes.NewReader(rpm), extract.Options{})
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	e.WriteTo(&b)
	f.Add(b.Bytes())
	f.Add([]byte("smith-expanded-1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := extract.ParseExpanded(data)
		if err != nil {
			if !errors.Is(err, extract.ErrBadExpanded) {
				t.Fatalf("error %v does not wrap ErrBadExpanded", err)
			}
			return
		}
		// Whatever parses must apply or fail cleanly.
		extract.Apply(context.Background(), fstree.New(), e, extract.Options{MaxBytes: 1 << 20})
	})
}

// FuzzApplyExpanded feeds Apply arbitrary headers and payloads (a stored
// entry with a valid CRC can hold anything).
func FuzzApplyExpanded(f *testing.F) {
	for _, c := range []string{"none", "gzip"} {
		s := demo()
		s.Compressor = c
		rpm, err := rpmfixture.Build(s)
		if err != nil {
			f.Fatal(err)
		}
		e, err := extract.Expand(context.Background(), bytes.NewReader(rpm), extract.Options{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e.Header, e.Payload)
	}
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		tree := fstree.New()
		info, err := extract.Apply(context.Background(), tree, &extract.Expanded{Header: header, Payload: payload, Compressor: "none"}, extract.Options{MaxBytes: 1 << 20})
		if err == nil && info == nil {
			t.Fatal("no info and no error")
		}
	})
}

// Files of packages with SHA-256 file digests carry them in the tree.
func TestInodeSHA256(t *testing.T) {
	tree, _, err := extractBytes(mustBuild(t, demo()), extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := tree.Lookup("/usr/bin/demo")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(n.Data); !bytes.Equal(n.SHA256, sum[:]) {
		t.Errorf("SHA256 %x, want %x", n.SHA256, sum)
	}
}

// Expand tells Growing about an xz package's files as they are decoded:
// prefixes of the file, each longer than the last, ending with all of it,
// under the file's sha256. A digest mismatch still fails Expand.
func TestExpandGrowing(t *testing.T) {
	mk := func(n int, seed byte) []byte {
		b := make([]byte, n)
		x := uint32(seed) + 1
		for i := range b {
			x = x*1664525 + 1013904223
			b[i] = byte(x>>24) & 0x3f // compressible, not trivially
		}
		return b
	}
	files := map[string][]byte{"/usr/lib64/a": mk(300<<10, 1), "/usr/lib64/b": []byte("small\n"), "/usr/lib64/c": mk(1500<<10, 2)}
	spec := func(digestOfC string) rpmfixture.Spec {
		s := rpmfixture.Spec{Name: "grow", Version: "1", Release: "1", Compressor: "xz"}
		for _, p := range []string{"/usr/lib64/a", "/usr/lib64/b", "/usr/lib64/c"} {
			f := rpmfixture.File{Path: p, Mode: 0o755, Data: files[p]}
			if p == "/usr/lib64/c" {
				f.Digest = digestOfC
			}
			s.Files = append(s.Files, f)
		}
		return s
	}
	rpm, err := rpmfixture.Build(spec(""))
	if err != nil {
		t.Fatal(err)
	}
	calls := map[[32]byte]int{}
	seen := map[[32]byte]int{} // bytes seen so far
	var problems []string
	opt := extract.Options{Growing: func(path string, sum []byte, size int, data []byte) {
		k := [32]byte(sum)
		if want, ok := files[path]; !ok || len(want) != size {
			problems = append(problems, fmt.Sprintf("%s: not a file of the package, or not of %d bytes", path, size))
		}
		calls[k]++
		if len(data) <= seen[k] && len(data) != size {
			problems = append(problems, fmt.Sprintf("%x: %d bytes after %d", sum[:4], len(data), seen[k]))
		}
		seen[k] = len(data)
		if len(data) == size && sha256.Sum256(data) != k {
			problems = append(problems, fmt.Sprintf("%x: whole data of another digest", sum[:4]))
		}
	}}
	if _, err := extract.Expand(context.Background(), bytes.NewReader(rpm), opt); err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	for p, data := range files {
		k := sha256.Sum256(data)
		if seen[k] != len(data) {
			t.Errorf("%s: saw %d of %d bytes", p, seen[k], len(data))
		}
	}
	if c := calls[sha256.Sum256(files["/usr/lib64/c"])]; c < 3 {
		t.Errorf("the 1.5 MB file was seen in %d steps: not as it was decoded", c)
	}

	bad, err := rpmfixture.Build(spec(fmt.Sprintf("%x", sha256.Sum256([]byte("other")))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := extract.Expand(context.Background(), bytes.NewReader(bad), opt); !errors.Is(err, extract.ErrDigestMismatch) {
		t.Errorf("digest mismatch: %v", err)
	}
}
