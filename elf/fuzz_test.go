package elf

import (
	delf "debug/elf"
	"fmt"
	"slices"
	"testing"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/elftest"
)

// FuzzClosure puts arbitrary bytes in a tree as a program, as a library
// that a valid program needs, and arbitrary text as /etc/ld.so.conf. The
// closure must neither panic nor hang, and its result must keep its
// contract.
func FuzzClosure(f *testing.F) {
	seeds := []elftest.Spec{
		{Type: delf.ET_EXEC, Interp: ld64, Needed: []string{"libc.so.6", "libfuzz.so"}, RunPath: "$ORIGIN/../lib:/opt/$LIB"},
		{Class: delf.ELFCLASS32, Interp: "/lib/ld-linux.so.2", Needed: []string{"libc.so.6"}, RPath: "${ORIGIN}"},
		{Data: delf.ELFDATA2MSB, Machine: delf.EM_PPC64, Needed: []string{"libfuzz.so"}},
		{Needed: []string{"libfuzz.so"}, StrSz: 1 << 62},
		{Needed: []string{"libc.so.6"}, StrTab: 1},
		{Needed: []string{"libc.so.6"}, DynFilesz: 1 << 40},
		{Needed: []string{"libc.so.6"}, NoDynNull: true},
		{Extra: []elftest.Dyn{{Tag: delf.DT_NEEDED, Val: 1 << 33}, {Tag: delf.DT_RUNPATH, Val: 3}}},
		{Type: delf.ET_EXEC, Static: true, Interp: "/usr/bin/fuzz"},
	}
	// More DT_NEEDED entries than an object may have, and two that need
	// each other (with the fuzzed library needing itself, a loop).
	var many []string
	for i := range maxNeeded + 8 {
		many = append(many, fmt.Sprintf("lib%d.so", i))
	}
	seeds = append(seeds,
		elftest.Spec{Needed: many},
		elftest.Spec{Needed: []string{"libfuzz.so", "libc.so.6"}, Soname: "libfuzz.so", RunPath: "$ORIGIN:$ORIGIN/.."},
	)
	for _, s := range seeds {
		f.Add(elftest.Build(s), "include ld.so.conf.d/*.conf\n/opt/lib\n")
	}
	f.Add([]byte("#!/usr/bin/env -S python3 -u\n"), "include /etc/ld.so.conf\n")
	f.Add([]byte("#!/usr/bin/fuzz\n"), "include *\n/usr/lib64=libc6, /opt:x\n")
	f.Add([]byte("\x7fELF\x02\x01\x01"), "")
	f.Fuzz(func(t *testing.T, data []byte, conf string) {
		ents := append(base(),
			obj("/usr/bin/app", exe("libfuzz.so")),
			ent{path: "/usr/bin/fuzz", kind: fstree.File, data: data, mode: 0o755},
			ent{path: "/usr/lib64/libfuzz.so", kind: fstree.File, data: data, mode: 0o644},
			file("/etc/ld.so.conf", conf),
			link("/usr/bin/env", "fuzz"),
			link("/usr/bin/python3", "fuzz"),
		)
		tree := mkTree(t, ents)
		got, err := Closure(tree, []string{"/usr/bin/app", "/usr/bin/fuzz"}, Options{Warn: func(string) {}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("result not sorted and unique: %q", got)
		}
		for _, p := range got {
			if rd, err := tree.RealDir(p); err != nil || rd != p {
				t.Fatalf("%s is not in RealDir form", p)
			}
		}
	})
}
