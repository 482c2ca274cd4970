// Package registrytest runs Debian's real docker-registry (distribution 2.8)
// for tests: on 127.0.0.1 only, on a free port, with its storage in a
// temporary directory, optionally behind htpasswd basic auth, and stopped
// when the test ends. Tests skip (with a message saying what to install)
// when the binary is absent.
package registrytest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary is the registry executable looked up on PATH.
const Binary = "docker-registry"

// Options configure a registry.
type Options struct {
	// User and Password, when User is set, turn on htpasswd basic auth
	// (needs htpasswd from apache2-utils; the test skips without it).
	User, Password string
}

// Registry is a running docker-registry.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	// URL is "http://127.0.0.1:PORT".
	URL string
	// Dir holds config.yml, data/ and registry.log.
	Dir string

	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
}

// Available reports whether the registry binary is installed.
func Available() bool {
	_, err := exec.LookPath(Binary)
	return err == nil
}

// Start starts a registry and registers its shutdown with t.Cleanup. It
// skips the test when docker-registry (or, with auth, htpasswd) is missing
// and fails it when the registry does not come up.
func Start(t testing.TB, opt Options) *Registry {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		t.Skipf("%s not installed (apt-get install docker-registry): %v", Binary, err)
	}
	dir := t.TempDir()
	var auth string
	if opt.User != "" {
		htpasswd, err := exec.LookPath("htpasswd")
		if err != nil {
			t.Skipf("htpasswd not installed (apt-get install apache2-utils): %v", err)
		}
		// bcrypt (-B): the only hash docker-registry accepts.
		out, err := exec.Command(htpasswd, "-Bbn", opt.User, opt.Password).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		file := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(file, bytes.TrimSpace(out), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: registrytest\n    path: %s\n", file)
	}

	var lastErr error
	// The free port is found by binding and closing it; another process may
	// take it in between, so try a few ports.
	for attempt := 0; attempt < 5; attempt++ {
		r, err := start(t, bin, dir, auth)
		if err == nil {
			t.Cleanup(r.Stop)
			return r
		}
		lastErr = err
	}
	t.Fatalf("docker-registry did not start: %v", lastErr)
	return nil
}

func start(t testing.TB, bin, dir, auth string) (*Registry, error) {
	host, err := freeAddr()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, data, host, auth)
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "serve", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The registry reads no other configuration from the environment than
	// REGISTRY_*: drop those so that the host's settings cannot leak in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Registry{Host: host, URL: "http://" + host, Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return nil, fmt.Errorf("exited early; log:\n%s", r.Log())
		default:
		}
		resp, err := client.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.Stop()
	return nil, fmt.Errorf("no answer on %s/v2/ after 10s; log:\n%s", r.URL, r.Log())
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Stop kills the registry and waits for it to exit. It is safe to call more
// than once (Start registers it with t.Cleanup).
func (r *Registry) Stop() {
	r.stopOnce.Do(func() {
		if r.cmd.Process != nil {
			_ = r.cmd.Process.Kill()
		}
		<-r.done
	})
}

// Log returns what the registry has logged so far.
func (r *Registry) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.Dir, "registry.log"))
	return string(b)
}
