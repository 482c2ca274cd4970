package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterruptedMessage: a build stopped by SIGINT (main's context
// cancelled) says "smith: interrupted", not "...: context canceled".
func TestInterruptedMessage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done() // hangs until the client gives up
	}))
	defer srv.Close()
	go func() {
		<-arrived
		cancel() // what signal.NotifyContext does on SIGINT
	}()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smith.yaml"), []byte("package: coreutils\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(ctx, []string{"-d", dir, "-i", filepath.Join(dir, "out.tar.gz"), "--cache-dir", filepath.Join(dir, "cache"), "--repo", srv.URL + "/"}, envOf(nil), &out, &errb)
	if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); code == 0 || lines[len(lines)-1] != "smith: interrupted" {
		t.Errorf("exit %d, stderr %q; want \"smith: interrupted\"", code, errb.String())
	}
}
