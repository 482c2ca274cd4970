package solver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/smith-build/smith/repo"
)

// libsolvBatch runs testdata/libsolv_batch.py (libsolv through python3-solv)
// over many requests at once, skipping when python3-solv is missing.
func libsolvBatch(t *testing.T, weak bool, repos []string, requests [][]string) map[string]struct {
	Install []string
	Error   string
} {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import solv").Run(); err != nil {
		t.Skipf("python3-solv not installed: %v", err)
	}
	args := []string{"testdata/libsolv_batch.py"}
	if !weak {
		args = append(args, "--no-weak")
	}
	for _, id := range repos {
		args = append(args, id+"="+filepath.Join(shared, cs9Repos[id]))
	}
	var in bytes.Buffer
	for _, r := range requests {
		in.WriteString(strings.Join(r, "|") + "\n")
	}
	cmd := exec.Command(py, args...)
	cmd.Stdin = &in
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("libsolv_batch.py: %v", err)
	}
	var res map[string]struct {
		Install []string
		Error   string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// compareWithLibsolv solves every request and reports disagreements.
func compareWithLibsolv(t *testing.T, idx *repo.Index, repos []string, requests [][]string, weak bool) (agree, differ int) {
	want := libsolvBatch(t, weak, repos, requests)
	for _, r := range requests {
		key := strings.Join(r, "|")
		w, ok := want[key]
		if !ok {
			t.Fatalf("no libsolv answer for %q", key)
		}
		sol, err := Solve(context.Background(), idx, Request{Specs: r, Arch: "x86_64", NoWeak: !weak})
		if w.Error != "" {
			var u *Unsolvable
			if errors.As(err, &u) {
				agree++
			} else {
				differ++
				t.Errorf("%s (weak=%v): libsolv: %s; we: %v", key, weak, w.Error, err)
			}
			continue
		}
		if err != nil {
			differ++
			t.Errorf("%s (weak=%v): libsolv solves, we: %v", key, weak, err)
			continue
		}
		var got []string
		for _, p := range sol.Packages {
			got = append(got, p.NEVRA()+"@"+p.Repo)
		}
		slices.Sort(got)
		slices.Sort(w.Install)
		if slices.Equal(got, w.Install) {
			agree++
			continue
		}
		differ++
		var extra, missing []string
		for _, g := range got {
			if !slices.Contains(w.Install, g) {
				extra = append(extra, g)
			}
		}
		for _, x := range w.Install {
			if !slices.Contains(got, x) {
				missing = append(missing, x)
			}
		}
		t.Errorf("%s (weak=%v): only ours %v; only libsolv %v", key, weak, extra, missing)
	}
	return agree, differ
}

// TestBaseOSNamesLibsolv installs package names of CentOS Stream 9 BaseOS
// (every SMITH_BASEOS_STRIDE-th, default 4; 1 checks all 883) on their own,
// with and without weak dependencies, and compares each answer with
// libsolv's.
func TestBaseOSNamesLibsolv(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	stride := 4
	if s := os.Getenv("SMITH_BASEOS_STRIDE"); s != "" {
		stride, _ = strconv.Atoi(s)
	}
	idx := cs9Index(t, []string{"baseos"})
	var names []string
	for _, p := range idx.Packages() {
		names = append(names, p.Name)
	}
	names = sortUnique(names)
	var requests [][]string
	for i := 0; i < len(names); i += max(stride, 1) {
		requests = append(requests, []string{names[i]})
	}
	// And pairs, which meet each other's conflicts and choices.
	r := rand.New(rand.NewPCG(1, 2))
	for range len(requests) / 2 {
		requests = append(requests, []string{names[r.IntN(len(names))], names[r.IntN(len(names))]})
	}
	for _, weak := range []bool{true, false} {
		agree, differ := compareWithLibsolv(t, idx, []string{"baseos"}, requests, weak)
		t.Logf("weak=%v: %d agree, %d differ", weak, agree, differ)
	}
}

// TestAppStreamSampleLibsolv does the same for a sample of CentOS Stream 9
// AppStream names (every SMITH_APPSTREAM_STRIDE-th, default 100) solved
// against BaseOS + AppStream (18,774 packages).
func TestAppStreamSampleLibsolv(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	stride := 100
	if s := os.Getenv("SMITH_APPSTREAM_STRIDE"); s != "" {
		stride, _ = strconv.Atoi(s)
	}
	idx := cs9Index(t, []string{"baseos", "appstream"})
	var names []string
	for _, p := range idx.Repos[1].Packages {
		names = append(names, p.Name)
	}
	names = sortUnique(names)
	var requests [][]string
	for i := 0; i < len(names); i += max(stride, 1) {
		requests = append(requests, []string{names[i]})
	}
	for _, weak := range []bool{true, false} {
		agree, differ := compareWithLibsolv(t, idx, []string{"baseos", "appstream"}, requests, weak)
		t.Logf("weak=%v: %d agree, %d differ", weak, agree, differ)
	}
}
