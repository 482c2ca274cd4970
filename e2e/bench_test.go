package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkBuildVsDnf is `make bench`: the README's cat example built from
// the shared distro repository by smith (cold cache: a fresh --cache-dir
// each time) against `dnf --installroot install coreutils` on the same
// repository (a fresh installroot each time, so its cache is cold too), in
// one run, SMITH_BENCH_N (default 5) alternating runs each. It prints the
// median wall time of both, the ratio smith/dnf and the peak RSS of both.
//
// The target (issue 2): smith ≤ 0.25 × dnf's wall time, and smith's peak
// RSS ≤ dnf's. This is a report, not a pass/fail test.
//
// Run it with: make bench (or go test -run '^$' -bench BuildVsDnf -benchtime 1x ./e2e).
func BenchmarkBuildVsDnf(b *testing.B) {
	repo := distroRepo(b)
	n := 5
	if s := os.Getenv("SMITH_BENCH_N"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	_, haveDnf := haveTool("dnf")
	if haveDnf && os.Getuid() != 0 {
		b.Log("dnf --installroot needs root: timing smith only")
		haveDnf = false
	}

	dir := filepath.Join(scratch(b), "cat")
	writeCatDir(b, dir, "")
	smithOnce := func(i int) result {
		home := scratch(b)
		out := filepath.Join(home, "cat.tar.gz")
		r := smith(b, runOpts{dir: dir, env: cleanEnv(home)}, append(archArgs(), "--repo", repo, "--cache-dir", filepath.Join(home, "cache"), "-i", out)...)
		if r.code != 0 {
			b.Fatalf("smith run %d: %s", i, r)
		}
		return r
	}
	dnfOnce := func(i int) result {
		root := filepath.Join(scratch(b), "root")
		r := run(b, runOpts{env: os.Environ()}, append(dnfArgs(repo, root), "coreutils")...)
		if r.code != 0 {
			b.Fatalf("dnf run %d: %s", i, r)
		}
		return r
	}

	for range b.N {
		var sm, dn []result
		for i := range n {
			// Alternate which goes first, so neither always meets the
			// page cache warmed by the other.
			if i%2 == 0 {
				sm = append(sm, smithOnce(i))
				if haveDnf {
					dn = append(dn, dnfOnce(i))
				}
			} else {
				if haveDnf {
					dn = append(dn, dnfOnce(i))
				}
				sm = append(sm, smithOnce(i))
			}
		}
		// A warm rebuild for information: the same cache dir twice.
		warmHome := scratch(b)
		warm := func() result {
			r := smith(b, runOpts{dir: dir, env: cleanEnv(warmHome)}, append(archArgs(), "--repo", repo, "--cache-dir", filepath.Join(warmHome, "cache"), "-i", filepath.Join(warmHome, "cat.tar.gz"))...)
			if r.code != 0 {
				b.Fatalf("smith warm: %s", r)
			}
			return r
		}
		warm()
		w := warm()

		smed, srss, scpu := median(sm), peak(sm), medianCPU(sm)
		fmt.Printf("smith (cold cache): median %v wall, %v CPU over %d runs, peak RSS %s\n", smed.Round(time.Millisecond), scpu.Round(time.Millisecond), n, mib(srss))
		fmt.Printf("smith (warm cache): %v wall, %v CPU, peak RSS %s\n", w.wall.Round(time.Millisecond), w.cpu.Round(time.Millisecond), mib(w.maxRSS))
		b.ReportMetric(smed.Seconds(), "smith-s")
		b.ReportMetric(float64(srss)/(1<<20), "smith-MiB")
		if !haveDnf {
			fmt.Println("dnf: not measured (not installed, or not root)")
			continue
		}
		dmed, drss, dcpu := median(dn), peak(dn), medianCPU(dn)
		ratio := smed.Seconds() / dmed.Seconds()
		fmt.Printf("dnf --installroot:  median %v wall, %v CPU over %d runs, peak RSS %s\n", dmed.Round(time.Millisecond), dcpu.Round(time.Millisecond), n, mib(drss))
		fmt.Printf("ratio smith/dnf wall time: %.3f (target <= 0.25: %s)\n", ratio, verdict(ratio <= 0.25))
		// CPU time is steadier than wall time on a loaded machine; a
		// report, not the target.
		fmt.Printf("ratio smith/dnf CPU time:  %.3f\n", scpu.Seconds()/dcpu.Seconds())
		if load, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Printf("load average during the run: %s", load)
		}
		fmt.Printf("peak RSS smith/dnf: %s / %s (target smith <= dnf: %s)\n", mib(srss), mib(drss), verdict(srss <= drss))
		b.ReportMetric(dmed.Seconds(), "dnf-s")
		b.ReportMetric(float64(drss)/(1<<20), "dnf-MiB")
		b.ReportMetric(ratio, "ratio")
	}
}

func median(rs []result) time.Duration {
	return medianOf(rs, func(r result) time.Duration { return r.wall })
}

func medianCPU(rs []result) time.Duration {
	return medianOf(rs, func(r result) time.Duration { return r.cpu })
}

func medianOf(rs []result, f func(result) time.Duration) time.Duration {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	slices.Sort(ds)
	if len(ds)%2 == 1 {
		return ds[len(ds)/2]
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
}

func peak(rs []result) int64 {
	var m int64
	for _, r := range rs {
		m = max(m, r.maxRSS)
	}
	return m
}

func mib(b int64) string {
	if b == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
