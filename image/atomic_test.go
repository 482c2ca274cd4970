package image

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A temporary file a live writer holds is not stale: CleanStaleTemps,
// called by another build of the same output meanwhile, leaves it alone,
// and the write completes.
func TestCleanStaleTempsSparesLiveWriters(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock(2)")
	}
	for _, format := range []string{FormatOCIArchive, FormatOCIDir} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "image")
			started, release := make(chan struct{}), make(chan struct{})
			errc := make(chan error, 1)
			go func() {
				if format == FormatOCIArchive {
					errc <- WriteFileAtomic(out, func(w io.Writer) error {
						fmt.Fprint(w, strings.Repeat("x", 2<<20))
						close(started)
						<-release
						return nil
					})
					return
				}
				// oci-dir: hold the temporary directory by writing the
				// layout of an image whose layer blocks until released.
				img := imageOf(t, &blockingLayer{memLayer: tarLayer(t, fileEntry("a", "a", 0o644, 0)).(*memLayer), started: started, release: release})
				errc <- WriteOutput(out, FormatOCIDir, Layout{Image: img}, time.Time{})
			}()
			<-started
			temps, _ := filepath.Glob(filepath.Join(dir, ".image.smith-tmp-*"))
			if len(temps) != 1 {
				t.Fatalf("temporary files: %q", temps)
			}
			if err := CleanStaleTemps(dir, "image"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(temps[0]); err != nil {
				t.Errorf("a live writer's temporary file was removed: %v", err)
			}
			close(release)
			if err := <-errc; err != nil {
				t.Fatalf("the write failed: %v", err)
			}
			if _, err := os.Stat(out); err != nil {
				t.Error(err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".image.smith-tmp-*")); len(left) != 0 {
				t.Errorf("left behind: %q", left)
			}
		})
	}
}

// blockingLayer signals started and waits for release when its compressed
// stream is first read.
type blockingLayer struct {
	*memLayer
	once             sync.Once
	started, release chan struct{}
}

func (l *blockingLayer) Compressed() (io.ReadCloser, error) {
	l.once.Do(func() {
		close(l.started)
		<-l.release
	})
	return l.memLayer.Compressed()
}

// Many writers of one target, each cleaning stale temporary files first as
// build does: every write succeeds, the target always holds one complete
// version, and nothing is left behind.
func TestWriteFileAtomicConcurrent(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "image.tar.gz")
	const writers, rounds = 8, 25
	content := func(i int) string { return strings.Repeat(fmt.Sprintf("writer %d\n", i), 50000) }
	var wg sync.WaitGroup
	errs := make(chan error, 3*writers*rounds)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := CleanStaleTemps(dir, "image.tar.gz"); err != nil {
					errs <- err
				}
				errs <- WriteFileAtomic(out, func(w io.Writer) error {
					_, err := io.WriteString(w, content(i))
					return err
				})
				b, err := os.ReadFile(out)
				if err != nil {
					errs <- err
					continue
				}
				ok := false
				for j := range writers {
					ok = ok || string(b) == content(j)
				}
				if !ok {
					errs <- fmt.Errorf("torn image of %d bytes", len(b))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("directory holds %d entries", len(es))
	}
}
