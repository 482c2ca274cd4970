package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/smith-build/smith/repo"
)

// progress reports downloads on stderr: a bar per file and one for the
// total when stderr is a terminal, else one summary line at the end of a
// successful build that downloaded anything. Warnings and -v lines must go
// through Writer while bars may be drawn, so that they print above them.
type progress struct {
	out  io.Writer
	term bool
	now  func() time.Time

	mu    sync.Mutex
	bars  *mpb.Progress // started with the first download, on a terminal
	total *mpb.Bar
	start time.Time
	// started is the size of the transfers begun (failed attempts taken
	// off again), expectLeft what Expect announced and has not started yet.
	started, expectLeft int64
	got                 int64 // bytes received by completed transfers
	files               int   // completed transfers
}

// newProgress returns the progress display for stderr (isTerminal says
// whether it is one).
func newProgress(stderr io.Writer, isTerminal bool, now func() time.Time) *progress {
	return &progress{out: stderr, term: isTerminal, now: now}
}

// isTerminal reports whether w is a terminal (mpb's own test).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && cupwriter.New(f, false).IsTerminal()
}

// Writer is where other stderr output goes while the display is in use.
func (p *progress) Writer() io.Writer { return progressWriter{p} }

type progressWriter struct{ p *progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	bars := w.p.bars
	w.p.mu.Unlock()
	if bars != nil {
		if n, err := bars.Write(b); err == nil {
			return n, nil
		}
	}
	return w.p.out.Write(b)
}

// Start implements repo.Progress.
func (p *progress) Start(name string, size int64) repo.Transfer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		p.start = p.now()
	}
	if size > 0 {
		p.started += size
		p.expectLeft -= min(size, p.expectLeft)
	}
	t := &transfer{p: p, size: size}
	if !p.term {
		return t
	}
	if p.bars == nil {
		p.bars = mpb.New(mpb.WithOutput(p.out), mpb.WithWidth(80), mpb.WithRefreshRate(150*time.Millisecond))
		p.total = p.bars.AddBar(0,
			mpb.BarPriority(math.MaxInt),
			mpb.PrependDecorators(decor.Name("total", decor.WC{W: 32, C: decor.DindentRight})),
			mpb.AppendDecorators(
				decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WC{W: 22}),
				decor.AverageSpeed(decor.SizeB1024(0), " % .1f", decor.WC{W: 14}),
			))
	}
	p.updateTotal()
	t.bar = p.bars.AddBar(0,
		mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(shorten(name, 31), decor.WC{W: 32, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WC{W: 22})))
	if size > 0 {
		t.bar.SetTotal(size, false)
	}
	return t
}

// Expect implements build.DownloadProgress.
func (p *progress) Expect(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expectLeft += bytes
	if p.total != nil {
		p.updateTotal()
	}
}

// updateTotal shows the total bar's target; mu is held.
func (p *progress) updateTotal() {
	if p.total != nil {
		p.total.SetTotal(p.started+p.expectLeft, false)
	}
}

// Finish ends the display: the bars are completed and removed, or the
// summary line printed, when ok says the build succeeded.
func (p *progress) Finish(ok bool) {
	p.mu.Lock()
	bars, total := p.bars, p.total
	p.bars = nil
	files, got, start := p.files, p.got, p.start
	p.mu.Unlock()
	if bars != nil {
		if ok {
			total.SetTotal(-1, true)
		} else {
			total.Abort(false)
		}
		bars.Wait()
		return
	}
	if ok && files > 0 && !p.term {
		d := p.now().Sub(start)
		rate := ""
		if d > 0 {
			rate = fmt.Sprintf(", %s/s", size(int64(float64(got)/d.Seconds())))
		}
		fmt.Fprintf(p.out, "downloaded %d files, %s in %.1fs%s\n", files, size(got), d.Seconds(), rate)
	}
}

type transfer struct {
	p    *progress
	bar  *mpb.Bar
	size int64
	n    int64
}

func (t *transfer) Add(n int) {
	t.n += int64(n)
	if t.bar != nil {
		t.bar.IncrBy(n)
		t.p.total.IncrBy(n)
	}
}

func (t *transfer) Done(err error) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		// A failed attempt: its bytes do not count.
		p.started -= max(t.size, 0)
		if t.bar != nil {
			t.bar.Abort(true)
			p.total.SetCurrent(max(p.total.Current()-t.n, 0))
			p.updateTotal()
		}
		return
	}
	p.files++
	p.got += t.n
	if t.size <= 0 {
		p.started += t.n
	}
	if t.bar != nil {
		t.bar.SetTotal(-1, true)
		p.updateTotal()
	}
}

// shorten keeps names to n runes for the bars.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// size formats a byte count as dnf does (binary units).
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
