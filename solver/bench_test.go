package solver

import (
	"context"
	"testing"
)

func BenchmarkSolveCoreutils(b *testing.B) {
	idx := testbed(b)
	req := Request{Specs: []string{"coreutils"}, Arch: "x86_64"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Solve(context.Background(), idx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSolveCS9 solves on CentOS Stream 9 BaseOS + AppStream (18,774
// packages), the size of a real build.
func BenchmarkSolveCS9(b *testing.B) {
	idx := cs9Index(b, []string{"baseos", "appstream"})
	for _, spec := range []string{"coreutils", "httpd"} {
		b.Run(spec, func(b *testing.B) {
			req := Request{Specs: []string{spec}, Arch: "x86_64"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Solve(context.Background(), idx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
