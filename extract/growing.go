package extract

import "sync"

// growingPayload is a payload being decompressed on one goroutine while
// another reads it (Expand checks file digests as the xz decoder goes,
// off the decoder's CPU): the bytes so far, which never change once
// published, and whether they are complete.
type growingPayload struct {
	mu   sync.Mutex
	cond sync.Cond
	b    []byte
	done bool
}

func newGrowingPayload() *growingPayload {
	g := &growingPayload{}
	g.cond.L = &g.mu
	return g
}

// publish makes b (a longer prefix of the payload) readable.
func (g *growingPayload) publish(b []byte) {
	g.mu.Lock()
	g.b = b
	g.mu.Unlock()
	g.cond.Broadcast()
}

// finish ends the payload at b: complete, or cut short by an error (nil
// then, for the reader to see what it had and stop).
func (g *growingPayload) finish(b []byte) {
	g.mu.Lock()
	if b != nil {
		g.b = b
	}
	g.done = true
	g.mu.Unlock()
	g.cond.Broadcast()
}

// wait returns the payload once it holds more than n bytes or is finished,
// and whether it is.
func (g *growingPayload) wait(n int) ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.b) <= n && !g.done {
		g.cond.Wait()
	}
	return g.b, g.done
}
