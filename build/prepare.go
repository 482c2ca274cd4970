package build

import (
	"context"
	"errors"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/smith-build/smith/elf"
	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/image"
	"github.com/smith-build/smith/repo"
)

// preparer compresses the files the image will most likely hold while the
// build waits for its last packages to decompress: a cold build of nginx
// waits ~100 ms for openssl-libs' xz payload with one CPU idle, and then
// spent ~70 ms compressing its layer. Once few enough packages are left
// for a CPU to be idle, it applies the packages expanded so far to a
// scratch tree, takes the path closure there (or every file, without
// paths:) and compresses those files' blocks into b.prepared (an
// image.Prepared); then the large ELF files of the packages still being
// decoded, as they arrive. Layer uses what it finds there. A wrong guess
// costs CPU time, never a byte of the image: Prepared's blocks depend on
// file content alone.
type preparer struct {
	b        *builder
	pkgs     []*repo.Package
	prepared adder // b.prepared
	ctx      context.Context

	mu    sync.Mutex
	ready []*extract.Expanded // by index in pkgs
	left  int                 // packages not yet expanded
	// decoded marks the packages being (or that were) decompressed; busy
	// counts those not expanded yet. Read from the cache, packages keep no
	// CPU waiting (and a warm build takes its layer from the cache:
	// compressing ahead would only cost).
	decoded []bool
	busy    int
	started bool
	// applied marks the packages the scratch tree holds (set at the start).
	applied []bool
	// want tells which files of the packages still decoding the image
	// likely needs, by path (set once the scratch tree's closure is known;
	// nil: every large ELF file).
	want func(path string) bool
	// growing are the large ELF files of packages being decoded, as far
	// as they have arrived (extract.Options.Growing), by sha256.
	growing map[[32]byte]*growingFile
	// wake is signalled when a file grows or a package is expanded.
	wake chan struct{}
}

// growingFile is a file arriving as its package is decoded.
type growingFile struct {
	path      string
	pkg, size int
	data      []byte // what has arrived
	handed    int    // len(data) when last given to Add
}

// adder is image.Prepared's Add.
type adder interface {
	Add(ctx context.Context, sum []byte, size int, data []byte)
}

// newPreparer returns nil when the build has nothing to prepare for.
func (b *builder) newPreparer(pkgs []*repo.Package) *preparer {
	if b.prepared == nil || len(pkgs) == 0 {
		return nil
	}
	return &preparer{b: b, pkgs: pkgs, prepared: b.prepared, ctx: b.prepCtx, ready: make([]*extract.Expanded, len(pkgs)), left: len(pkgs), decoded: make([]bool, len(pkgs)),
		growing: map[[32]byte]*growingFile{}, wake: make(chan struct{}, 1)}
}

// signal wakes prepare if it waits.
func (p *preparer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// grower returns the extract.Options.Growing of package i: it records the
// package's large ELF files as they arrive (libraries the image will
// likely need; a wrong guess costs CPU only).
func (p *preparer) grower(i int) func(path string, sum []byte, size int, data []byte) {
	if p == nil {
		return nil
	}
	return func(path string, sum []byte, size int, data []byte) {
		if size < image.SegmentMin || len(data) < 4 || string(data[:4]) != "\x7fELF" {
			return
		}
		p.mu.Lock()
		k := [32]byte(sum)
		f := p.growing[k]
		if f == nil {
			f = &growingFile{path: path, pkg: i, size: size}
			p.growing[k] = f
		}
		f.data = data
		p.mu.Unlock()
		p.signal()
	}
}

// decoding records that package i is being decompressed (not read from
// the cache).
func (p *preparer) decoding(i int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.decoded[i] = true
	p.busy++
}

// expanded records package i (nil if it failed). The first time a CPU is
// idle while a package is still being decompressed, the preparing starts
// in the background.
func (p *preparer) expanded(i int, e *extract.Expanded) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready[i] = e
	p.left--
	if p.decoded[i] {
		p.busy--
	}
	// A CPU is idle once fewer packages are left than CPUs can expand at
	// once: the workers bound that too, so that on many CPUs the guess
	// waits for most packages rather than starting from an empty tree.
	if !p.started && p.busy > 0 && p.left <= max(1, min(runtime.GOMAXPROCS(0), workers)-1) {
		p.started = true
		ready := append([]*extract.Expanded(nil), p.ready...)
		p.applied = make([]bool, len(ready))
		for i, e := range ready {
			p.applied[i] = e != nil
		}
		p.b.inBackground(func() { p.prepare(ready) })
	}
	p.signal()
}

func (p *preparer) prepare(ready []*extract.Expanded) {
	t := fstree.New()
	for i, e := range ready {
		if e == nil {
			continue
		}
		if p.ctx.Err() != nil {
			return
		}
		if _, err := extract.Apply(p.ctx, t, e, extract.Options{Name: p.pkgs[i].NEVRA(), MaxBytes: p.b.opt.MaxSize}); err != nil {
			return // the build will say why
		}
	}
	files, want := p.b.likelyFiles(t)
	p.mu.Lock()
	p.want = want
	p.mu.Unlock()
	// Largest first: the layer's workers take the rest, and a large file
	// half done at the end would keep them waiting.
	sort.SliceStable(files, func(i, j int) bool { return len(files[i].Data) > len(files[j].Data) })
	for _, n := range files {
		if p.ctx.Err() != nil {
			return
		}
		p.prepared.Add(p.ctx, n.SHA256, len(n.Data), n.Data)
	}
	// Then the files of the packages still being decoded, block by block
	// as they arrive, until the last package is expanded.
	for p.ctx.Err() == nil {
		sum, size, data, ok, more := p.nextGrowing()
		if ok {
			p.prepared.Add(p.ctx, sum[:], size, data)
			continue
		}
		if !more {
			return
		}
		select {
		case <-p.wake:
		case <-p.ctx.Done():
		}
	}
}

// growStep is how much a growing file must have grown before it is given
// to Add again (which compresses the blocks it holds whole).
const growStep = 256 << 10

// nextGrowing returns a growing file of a package the scratch tree does
// not hold that has grown enough since it was last handed out (ok), and
// whether more may come (a package is still being decoded).
func (p *preparer) nextGrowing() (sum [32]byte, size int, data []byte, ok, more bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, f := range p.growing {
		if p.applied[f.pkg] || p.want != nil && !p.want(f.path) {
			delete(p.growing, k)
			continue
		}
		if len(f.data)-f.handed >= growStep || (len(f.data) == f.size && f.handed < f.size) {
			f.handed = len(f.data)
			return k, f.size, f.data, true, true
		}
	}
	return sum, 0, nil, false, p.busy > 0
}

// likelyFiles returns the regular files of the partial tree t that the
// image will most likely hold: the path closure of paths: (roots missing
// from t left out), or every file. want picks, by path, the files of the
// packages t lacks that the closure would take: those named like a library
// or interpreter it did not find (libcrypto.so.3.0.7 for libcrypto.so.3).
// It is nil (all of them) without paths:, or when a root was left out,
// since what that root needs is unknown.
func (b *builder) likelyFiles(t *fstree.Tree) (files []*fstree.Inode, want func(path string) bool) {
	seen := map[*fstree.Inode]bool{}
	add := func(n *fstree.Inode) {
		if n != nil && n.Kind == fstree.File && len(n.SHA256) > 0 && !seen[n] {
			seen[n] = true
			files = append(files, n)
		}
	}
	if len(b.cfg.Paths) == 0 {
		t.Walk("/", func(_ string, n *fstree.Inode) error {
			add(n)
			return nil
		})
		return files, nil
	}
	roots := append([]string(nil), b.cfg.Paths...)
	if b.cfg.NSS {
		roots = append(roots, nssLibraries(t)...)
	}
	dropped := false
	missing := map[string]bool{}
	for range len(roots) + 1 {
		clear(missing)
		paths, err := elf.Closure(t, roots, elf.Options{Missing: func(name string) { missing[path.Base(name)] = true }})
		var nf *elf.NotFoundError
		if errors.As(err, &nf) {
			if k := slices.Index(roots, nf.Path); k >= 0 {
				// roots is this function's own copy.
				roots, dropped = slices.Delete(roots, k, k+1), true
				continue
			}
		}
		for _, p := range paths {
			n, _ := t.Lookup(p)
			add(n)
		}
		break
	}
	if dropped {
		return files, nil
	}
	return files, func(p string) bool {
		base := path.Base(p)
		for name := range missing {
			if base == name || strings.HasPrefix(base, name+".") {
				return true
			}
		}
		return false
	}
}
