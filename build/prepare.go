package build

import (
	"context"
	"errors"
	"runtime"
	"sort"
	"sync"

	"github.com/smith-build/smith/elf"
	"github.com/smith-build/smith/extract"
	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/repo"
)

// preparer compresses the files the image will most likely hold while the
// build waits for its last packages to decompress: a cold build of nginx
// waits ~100 ms for openssl-libs' xz payload with one CPU idle, and then
// spent ~70 ms compressing its layer. Once few enough packages are left
// for a CPU to be idle, it applies the packages expanded so far to a
// scratch tree, takes the path closure there (or every file, without
// paths:) and compresses those files' blocks into b.prepared (an
// image.Prepared), which
// Layer then uses. A wrong guess costs CPU time, never a byte of the
// image: Prepared's blocks depend on file content alone.
type preparer struct {
	b        *builder
	pkgs     []*repo.Package
	prepared adder // b.prepared
	ctx      context.Context

	mu    sync.Mutex
	ready []*extract.Expanded // by index in pkgs
	left  int                 // packages not yet expanded
	// busy counts the packages being decompressed: read from the cache,
	// they keep no CPU waiting (and a warm build takes its layer from the
	// cache: compressing ahead would only cost).
	busy    int
	started bool
}

// adder is image.Prepared's Add.
type adder interface {
	Add(ctx context.Context, sum, data []byte)
}

// newPreparer returns nil when the build has nothing to prepare for.
func (b *builder) newPreparer(pkgs []*repo.Package) *preparer {
	if b.prepared == nil || len(pkgs) == 0 {
		return nil
	}
	return &preparer{b: b, pkgs: pkgs, prepared: b.prepared, ctx: b.prepCtx, ready: make([]*extract.Expanded, len(pkgs)), left: len(pkgs)}
}

// decoding records that a package is being decompressed (not read from
// the cache).
func (p *preparer) decoding() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy++
}

// expanded records package i (decoded: it was decompressed); the first
// time at most all CPUs but one are still expanding packages, one of them
// being decompressed, the preparing starts in the background.
func (p *preparer) expanded(i int, e *extract.Expanded, decoded bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready[i] = e
	p.left--
	if decoded {
		p.busy--
	}
	if p.started || p.busy == 0 || p.left > max(1, runtime.GOMAXPROCS(0)-1) {
		return
	}
	p.started = true
	ready := append([]*extract.Expanded(nil), p.ready...)
	p.b.inBackground(func() { p.prepare(ready) })
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
	files := p.b.likelyFiles(t)
	// Largest first: the layer's workers take the rest, and a large file
	// half done at the end would keep them waiting.
	sort.SliceStable(files, func(i, j int) bool { return len(files[i].Data) > len(files[j].Data) })
	for _, n := range files {
		if p.ctx.Err() != nil {
			return
		}
		p.prepared.Add(p.ctx, n.SHA256, n.Data)
	}
}

// likelyFiles returns the regular files of the partial tree t that the
// image will most likely hold: the path closure of paths: (roots missing
// from t left out), or every file.
func (b *builder) likelyFiles(t *fstree.Tree) []*fstree.Inode {
	var out []*fstree.Inode
	seen := map[*fstree.Inode]bool{}
	add := func(n *fstree.Inode) {
		if n != nil && n.Kind == fstree.File && len(n.SHA256) > 0 && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(b.cfg.Paths) == 0 {
		t.Walk("/", func(_ string, n *fstree.Inode) error {
			add(n)
			return nil
		})
		return out
	}
	roots := append([]string(nil), b.cfg.Paths...)
	if b.cfg.NSS {
		roots = append(roots, nssLibraries(t)...)
	}
	for range len(roots) + 1 {
		paths, err := elf.Closure(t, roots, elf.Options{})
		var nf *elf.NotFoundError
		if errors.As(err, &nf) {
			roots = deleteFirst(roots, nf.Path)
			continue
		}
		for _, p := range paths {
			n, _ := t.Lookup(p)
			add(n)
		}
		break
	}
	return out
}

func deleteFirst(list []string, s string) []string {
	for i, v := range list {
		if v == s {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}
