package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/smith-build/smith/dep"
	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/internal/elftest"
	"github.com/smith-build/smith/internal/rpmfixture"
	"github.com/smith-build/smith/repo"
)

// addRecorder records what the preparer compresses.
type addRecorder struct {
	mu      sync.Mutex
	data    map[[32]byte][]byte // whole files
	partial int                 // calls with part of a file
}

func (r *addRecorder) Add(_ context.Context, sum []byte, size int, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(data) < size {
		r.partial++
		return
	}
	if s := sha256.Sum256(data); !bytes.Equal(s[:], sum) {
		panic("a digest that is not the data's")
	}
	r.data[[32]byte(sum)] = data
}

func (r *addRecorder) has(data []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.data[sha256.Sum256(data)]
	return ok
}

// padded is an ELF object grown to size bytes (what follows its headers
// and sections is not read).
func padded(s elftest.Spec, size int) []byte {
	b := elftest.Build(s)
	return append(b, make([]byte, size-len(b))...)
}

// The preparer starts once only one package is left to expand (two CPUs),
// when that one is being decompressed, and compresses the closure of
// paths: within the packages expanded so far (the root and the library it
// needs, not the library nobody needs; a root that is not there yet is
// left out rather than failing the guess), then the large ELF files of
// the package being decoded that the closure missed, as they arrive, until
// it is expanded.
func TestPreparer(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	app := padded(elftest.Spec{Type: elf.ET_EXEC, Needed: []string{"libbig.so.1", "libpending.so.1"}}, 200<<10)
	big := padded(elftest.Spec{Soname: "libbig.so.1"}, 300<<10)
	other := padded(elftest.Spec{Soname: "libother.so.1"}, 300<<10)
	specs := []rpmfixture.Spec{
		{Name: "libbig", Files: []rpmfixture.File{{Path: "/usr/lib64/libbig.so.1", Mode: 0o755, Data: big}}},
		{Name: "other", Files: []rpmfixture.File{{Path: "/usr/lib64/libother.so.1", Mode: 0o755, Data: other}}},
		{Name: "app", Files: []rpmfixture.File{{Path: "/usr/bin/app", Mode: 0o755, Data: app}}},
		{Name: "pending", Files: []rpmfixture.File{{Path: "/usr/lib64/libpending.so.1.2", Mode: 0o755, Data: big[:len(big)-1]}}},
	}
	var pkgs []*repo.Package
	var exps []*extract.Expanded
	for _, s := range specs {
		s.Version, s.Release, s.Compressor = "1", "1", "zstd"
		rpm, err := rpmfixture.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		e, err := extract.Expand(context.Background(), bytes.NewReader(rpm), extract.Options{})
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, &repo.Package{Name: s.Name, EVR: dep.EVR{Version: "1", Release: "1"}, Arch: "x86_64"})
		exps = append(exps, e)
	}

	// Package 3 is decoded last; its library libpending.so.1.2 (for
	// app's libpending.so.1) and an ELF file no one needs arrive as it
	// grows.
	pending := big[:len(big)-1]
	unused := padded(elftest.Spec{Soname: "libunused.so.1"}, 200<<10)
	for _, c := range []struct {
		paths []string
		want  [][]byte
	}{
		{[]string{"/usr/bin/app"}, [][]byte{app, big, pending}},
		// A root not there yet: what it needs is unknown, so every
		// large ELF file of the decoding package is taken.
		{[]string{"/usr/bin/app", "/usr/bin/not-yet"}, [][]byte{app, big, pending, unused}},
		{nil, [][]byte{app, big, other, pending, unused}},
	} {
		rec := &addRecorder{data: map[[32]byte][]byte{}}
		b := &builder{cfg: &Config{Paths: c.paths}, prepCtx: context.Background(), prepared: image.NewPrepared()}
		p := b.newPreparer(pkgs)
		p.prepared = rec
		p.decoding(3) // package 3 is being decompressed, the others come from the cache
		for _, i := range []int{0, 1} {
			p.expanded(i, exps[i])
		}
		b.cacheWrites.Wait()
		if len(rec.data) != 0 {
			t.Fatalf("paths %q: started with two packages left", c.paths)
		}
		p.expanded(2, exps[2])
		// Package 3's files arrive: handed out as they grow, while the
		// preparing waits for the package to be expanded.
		grow := p.grower(3)
		for _, n := range []int{100 << 10, 280 << 10, len(pending)} {
			sum := sha256.Sum256(pending)
			grow("/usr/lib64/libpending.so.1.2", sum[:], len(pending), pending[:n])
			sum = sha256.Sum256(unused)
			grow("/usr/lib64/libunused.so.1", sum[:], len(unused), unused[:min(n, len(unused))])
		}
		p.expanded(3, exps[3])
		b.cacheWrites.Wait()
		var got []int
		for _, d := range [][]byte{app, big, other, pending, unused} {
			if rec.has(d) {
				got = append(got, len(d))
			}
		}
		var want []int
		for _, d := range c.want {
			want = append(want, len(d))
		}
		sort.Ints(got)
		sort.Ints(want)
		if !slices.Equal(got, want) {
			t.Errorf("paths %q: prepared files of sizes %v, want %v", c.paths, got, want)
		}
	}

	// All read from the cache (a warm build): nothing is prepared.
	rec := &addRecorder{data: map[[32]byte][]byte{}}
	b := &builder{cfg: &Config{}, prepCtx: context.Background(), prepared: image.NewPrepared()}
	p := b.newPreparer(pkgs)
	p.prepared = rec
	for i, e := range exps {
		p.expanded(i, e)
	}
	b.cacheWrites.Wait()
	if len(rec.data) != 0 {
		t.Errorf("a warm build prepared %d files", len(rec.data))
	}
}
