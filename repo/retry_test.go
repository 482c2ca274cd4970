package repo

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// retryServer answers /f with the given responses in turn (status and
// Retry-After; 0 is 200 "ok"), then 200, and records when each request
// arrived.
type retryServer struct {
	*httptest.Server
	mu    sync.Mutex
	plan  []retryStep
	times []time.Time
}

type retryStep struct {
	status int
	after  string // Retry-After, "" for none
}

func newRetryServer(t *testing.T, plan ...retryStep) *retryServer {
	rs := &retryServer{plan: plan}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.times = append(rs.times, time.Now())
		var step retryStep
		if len(rs.plan) > 0 {
			step, rs.plan = rs.plan[0], rs.plan[1:]
		}
		rs.mu.Unlock()
		if step.after != "" {
			w.Header().Set("Retry-After", step.after)
		}
		if step.status != 0 {
			http.Error(w, http.StatusText(step.status), step.status)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(rs.Close)
	return rs
}

// gaps returns the time between consecutive requests.
func (rs *retryServer) gaps() []time.Duration {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(rs.times); i++ {
		g = append(g, rs.times[i].Sub(rs.times[i-1]))
	}
	return g
}

// fetchOK GETs /f from rs through a fetcher made with opt.
func fetchOK(ctx context.Context, t *testing.T, rs *retryServer, opt Options) error {
	t.Helper()
	f, err := newFetcher(Source{ID: "x"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseBase(rs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.readSmall(ctx, b, "f", "f")
	if err == nil && string(data) != "ok" {
		t.Fatalf("got %q", data)
	}
	return err
}

// TestRetryAfter: a 503 or 429 with Retry-After waits what the server asks
// for instead of the backoff, capped at the request timeout, and a
// cancelled context ends the wait.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	// The backoff of these tests is 1 ms, so a wait of a second can only
	// come from the header.
	base := Options{retryDelay: time.Millisecond}

	t.Run("delta-seconds", func(t *testing.T) {
		t.Parallel()
		rs := newRetryServer(t, retryStep{http.StatusServiceUnavailable, "1"})
		if err := fetchOK(context.Background(), t, rs, base); err != nil {
			t.Fatal(err)
		}
		if g := rs.gaps(); len(g) != 1 || g[0] < 900*time.Millisecond {
			t.Errorf("gaps between requests %v, want one of about 1 s", g)
		}
	})
	t.Run("HTTP-date by the injected clock", func(t *testing.T) {
		t.Parallel()
		// A backoff of an hour: only the header can make this finish, and
		// only a date read against Options.Now makes it 1 s, not decades.
		now := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		rs := newRetryServer(t, retryStep{http.StatusServiceUnavailable, now.Add(time.Second).Format(http.TimeFormat)})
		opt := base
		opt.retryDelay = time.Hour
		opt.Now = func() time.Time { return now }
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := fetchOK(ctx, t, rs, opt); err != nil {
			t.Fatalf("%v (was Retry-After ignored?)", err)
		}
		if g := rs.gaps(); len(g) != 1 || g[0] < 900*time.Millisecond {
			t.Errorf("gaps between requests %v, want one of about 1 s", g)
		}
	})
	t.Run("429 then a date in the past", func(t *testing.T) {
		t.Parallel()
		rs := newRetryServer(t,
			retryStep{http.StatusTooManyRequests, "0"},
			retryStep{http.StatusTooManyRequests, "Sun, 06 Nov 1994 08:49:37 GMT"})
		opt := base
		opt.retryDelay = time.Hour
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := fetchOK(ctx, t, rs, opt); err != nil {
			t.Fatal(err)
		}
		if g := rs.gaps(); len(g) != 2 {
			t.Errorf("gaps %v, want 3 requests", g)
		}
	})
	t.Run("huge value capped at the timeout", func(t *testing.T) {
		t.Parallel()
		rs := newRetryServer(t, retryStep{http.StatusServiceUnavailable, "86400"},
			retryStep{http.StatusServiceUnavailable, "99999999999999999999999"})
		opt := base
		opt.Timeout = 200 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := fetchOK(ctx, t, rs, opt); err != nil {
			t.Fatalf("%v (was the wait capped?)", err)
		}
		if g := rs.gaps(); len(g) != 2 || g[0] < 190*time.Millisecond || g[1] < 190*time.Millisecond {
			t.Errorf("gaps between requests %v, want two of about 200 ms", g)
		}
	})
	t.Run("ignored unless 429 or 503, or unreadable", func(t *testing.T) {
		t.Parallel()
		rs := newRetryServer(t, retryStep{http.StatusInternalServerError, "3600"},
			retryStep{http.StatusServiceUnavailable, "in a while"})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := fetchOK(ctx, t, rs, base); err != nil {
			t.Fatal(err)
		}
		if g := rs.gaps(); len(g) != 2 {
			t.Errorf("gaps %v, want 3 requests", g)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		t.Parallel()
		rs := newRetryServer(t, retryStep{http.StatusServiceUnavailable, "3600"})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		done := make(chan error, 1)
		go func() { done <- fetchOK(ctx, t, rs, base) }()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			// The wait is capped at DefaultTimeout (30 s): still waiting
			// means the cancellation was not seen.
			t.Fatal("the wait did not stop when the context was cancelled")
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(1994, 11, 6, 8, 49, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"007", 7 * time.Second, true},
		{"9223372036", 9223372036 * time.Second, true},
		{"9223372037", math.MaxInt64, true}, // past a Duration: saturates
		{"99999999999999999999999999", math.MaxInt64, true},
		{"Sun, 06 Nov 1994 08:49:37 GMT", 37 * time.Second, true},  // IMF-fixdate
		{"Sunday, 06-Nov-94 08:49:37 GMT", 37 * time.Second, true}, // RFC 850
		{"Sun Nov  6 08:49:37 1994", 37 * time.Second, true},       // asctime
		{"Sun, 06 Nov 1994 08:48:00 GMT", 0, true},                 // in the past
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"+3", 0, false},
		{"1 2", 0, false},
		{"soon", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 PST", 0, false},
	} {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
