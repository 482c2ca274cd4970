package repo

import (
	"io"
	"sync"
)

// readAhead runs the reads of r (a decompressor) in its own goroutine, a few
// buffers ahead of the consumer (the XML scanner), so that decompression
// and parsing use two cores. Close stops the goroutine; it must be called.
type readAhead struct {
	full  chan chunk
	free  chan []byte
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	cur   []byte
	buf   []byte // the buffer cur points into, returned to free when used up
	err   error
	ended bool
}

type chunk struct {
	buf []byte
	n   int
	err error
}

const (
	readAheadBuffers = 4
	readAheadSize    = 256 << 10
)

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{
		full: make(chan chunk, readAheadBuffers),
		free: make(chan []byte, readAheadBuffers),
		done: make(chan struct{}),
	}
	for i := 0; i < readAheadBuffers; i++ {
		ra.free <- make([]byte, readAheadSize)
	}
	ra.wg.Add(1)
	go func() {
		defer ra.wg.Done()
		defer close(ra.full)
		for {
			var b []byte
			select {
			case b = <-ra.free:
			case <-ra.done:
				return
			}
			n, err := io.ReadFull(r, b)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			select {
			case ra.full <- chunk{b, n, err}:
			case <-ra.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.buf != nil {
			ra.free <- ra.buf
			ra.buf = nil
		}
		if ra.ended {
			return 0, ra.err
		}
		c, ok := <-ra.full
		if !ok {
			ra.ended = true
			if ra.err == nil {
				ra.err = io.EOF
			}
			return 0, ra.err
		}
		ra.buf, ra.cur = c.buf, c.buf[:c.n]
		if c.err != nil {
			ra.ended, ra.err = true, c.err
		}
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the reading goroutine and waits for it, so that the
// underlying reader can be closed safely afterwards.
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.done) })
	ra.wg.Wait()
	return nil
}
