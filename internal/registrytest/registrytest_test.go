package registrytest

import (
	"net/http"
	"testing"
)

func status(t *testing.T, url, user, pass string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStart(t *testing.T) {
	r := Start(t, Options{})
	if got := status(t, r.URL+"/v2/", "", ""); got != http.StatusOK {
		t.Fatalf("GET /v2/: %d", got)
	}
	r.Stop()
	r.Stop() // idempotent
	if got := status(t, r.URL+"/v2/", "", ""); got != -1 {
		t.Errorf("GET /v2/ after Stop: %d", got)
	}
}

func TestStartAuth(t *testing.T) {
	r := Start(t, Options{User: "tb", Password: "s3cret"})
	for _, c := range []struct {
		user, pass string
		want       int
	}{
		{"", "", http.StatusUnauthorized},
		{"tb", "wrong", http.StatusUnauthorized},
		{"tb", "s3cret", http.StatusOK},
	} {
		if got := status(t, r.URL+"/v2/", c.user, c.pass); got != c.want {
			t.Errorf("GET /v2/ as %q: %d, want %d", c.user, got, c.want)
		}
	}
}
