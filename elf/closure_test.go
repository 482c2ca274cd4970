package elf

import (
	delf "debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/smith-build/smith/fstree"
	"github.com/smith-build/smith/internal/elftest"
)

// ent is one entry of a hand-built tree.
type ent struct {
	path   string
	kind   fstree.Kind
	data   []byte
	target string
	mode   fs.FileMode
}

func dir(p string) ent { return ent{path: p, kind: fstree.Dir, mode: 0o755} }
func file(p, data string) ent {
	return ent{path: p, kind: fstree.File, data: []byte(data), mode: 0o644}
}
func link(p, target string) ent { return ent{path: p, kind: fstree.Symlink, target: target} }
func obj(p string, s elftest.Spec) ent {
	return ent{path: p, kind: fstree.File, data: elftest.Build(s), mode: 0o755}
}

// lib is a 0644 shared library: the mode must not matter.
func lib(p string, s elftest.Spec) ent {
	e := obj(p, s)
	e.mode = 0o644
	return e
}

func mkTree(t testing.TB, ents []ent) *fstree.Tree {
	t.Helper()
	tree := fstree.New()
	for _, e := range ents {
		var err error
		switch e.kind {
		case fstree.Dir:
			err = tree.Mkdir(e.path, e.mode, fstree.Owner{}, "")
		case fstree.File:
			_, err = tree.WriteFile(e.path, e.data, e.mode, fstree.Owner{}, "")
		case fstree.Symlink:
			err = tree.Symlink(e.target, e.path, fstree.Owner{}, "")
		}
		if err != nil {
			t.Fatalf("building tree: %s: %v", e.path, err)
		}
	}
	return tree
}

const ld64 = "/lib64/ld-linux-x86-64.so.2"

// base is a small EL9-like layout: usrmerge links, the loader and libc
// behind a soname link.
func base() []ent {
	return []ent{
		link("/lib64", "usr/lib64"),
		link("/lib", "usr/lib"),
		link("/bin", "usr/bin"),
		link("/sbin", "usr/sbin"),
		dir("/usr/lib"),
		obj("/usr/lib64/ld-linux-x86-64.so.2", elftest.Spec{}),
		link("/usr/lib64/libc.so.6", "libc-2.36.so"),
		lib("/usr/lib64/libc-2.36.so", elftest.Spec{Interp: ld64, Needed: []string{"ld-linux-x86-64.so.2"}}),
	}
}

// libcSet is what anything linked against libc through the default
// directories pulls in.
var libcSet = []string{"/lib64", "/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib64/libc-2.36.so", "/usr/lib64/libc.so.6"}

func exe(needed ...string) elftest.Spec {
	return elftest.Spec{Type: delf.ET_EXEC, Interp: ld64, Needed: needed}
}

func with(a []string, b ...string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

type closureCase struct {
	name    string
	tree    []ent // added after base()
	noBase  bool
	roots   []string
	opt     Options
	want    []string
	warns   []string // exact, in order; entries starting with "~" are regexps
	wantErr string   // regexp
}

func runCases(t *testing.T, cases []closureCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ents := tc.tree
			if !tc.noBase {
				ents = append(base(), tc.tree...)
			}
			tree := mkTree(t, ents)
			var warns []string
			opt := tc.opt
			opt.Warn = func(m string) { warns = append(warns, m) }
			got, err := Closure(tree, tc.roots, opt)
			if tc.wantErr != "" {
				if err == nil || !regexp.MustCompile(tc.wantErr).MatchString(err.Error()) {
					t.Fatalf("error = %v, want match for %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Closure: %v", err)
			}
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("closure:\n got %q\nwant %q", got, want)
			}
			if len(warns) != len(tc.warns) {
				t.Fatalf("warnings:\n got %q\nwant %q", warns, tc.warns)
			}
			for i, w := range tc.warns {
				if re, ok := strings.CutPrefix(w, "~"); ok {
					if !regexp.MustCompile(re).MatchString(warns[i]) {
						t.Errorf("warning %d = %q, want match for %q", i, warns[i], re)
					}
				} else if warns[i] != w {
					t.Errorf("warning %d = %q, want %q", i, warns[i], w)
				}
			}
			// Every result must be in canonical-parent form and copyable.
			dst := fstree.New()
			cp := fstree.NewCopier(tree, dst)
			for _, p := range got {
				if rd, err := tree.RealDir(p); err != nil || rd != p {
					t.Errorf("%s is not in RealDir form (%q, %v)", p, rd, err)
				}
				if err := cp.Copy(p); err != nil {
					t.Errorf("copy %s: %v", p, err)
				}
			}
			// The order of roots must not matter.
			rev := slices.Clone(tc.roots)
			slices.Reverse(rev)
			opt.Warn = nil
			if again, err := Closure(tree, rev, opt); err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("roots reversed: %q, %v", again, err)
			}
		})
	}
}

func TestClosureSymlinks(t *testing.T) {
	runCases(t, []closureCase{
		{
			name:  "cat: interp through /lib64, libc through its soname link",
			tree:  []ent{obj("/usr/bin/cat", exe("libc.so.6"))},
			roots: []string{"/usr/bin/cat"},
			want:  with(libcSet, "/usr/bin/cat"),
		},
		{
			name:  "root through a directory link keeps the link, the soname link and the file",
			roots: []string{"/lib64/libc.so.6"},
			want:  libcSet,
		},
		{
			name: "chain of directory links and a relative file link",
			tree: []ent{
				link("/a", "b"),
				link("/b", "c/d"),
				dir("/c/d"),
				link("/c/d/x", "../y/z"),
				file("/c/y/z", "data"),
			},
			roots: []string{"/a/x"},
			want:  []string{"/a", "/b", "/c/d/x", "/c/y/z"},
		},
		{
			name: "dot-dot after a directory link climbs from its target and keeps the target",
			tree: []ent{
				link("/opt/l", "/srv/deep/dir"),
				dir("/srv/deep/dir"),
				file("/srv/deep/f", "data"),
				file("/opt/f", "decoy"),
			},
			roots: []string{"/opt/l/../f"},
			want:  []string{"/opt/l", "/srv/deep/dir", "/srv/deep/f"},
		},
		{
			name:  "dangling symlink root is kept and warned about",
			tree:  []ent{link("/usr/bin/gone", "../libexec/gone")},
			roots: []string{"/usr/bin/gone"},
			want:  []string{"/usr/bin/gone"},
			warns: []string{"dangling symlink /usr/bin/gone -> ../libexec/gone (kept)"},
		},
		{
			name:  "dangling link in the middle of a chain keeps the chain",
			tree:  []ent{link("/usr/bin/a", "b"), link("/usr/bin/b", "/nowhere/c")},
			roots: []string{"/bin/a"},
			want:  []string{"/bin", "/usr/bin/a", "/usr/bin/b"},
			warns: []string{"dangling symlink /usr/bin/b -> /nowhere/c (kept)"},
		},
		{
			name:  "symlink loop",
			tree:  []ent{link("/x", "y"), link("/y", "x")},
			roots: []string{"/x"},
			want:  []string{"/x", "/y"},
			warns: []string{"/x: too many levels of symbolic links"},
		},
		{
			name:    "missing root",
			roots:   []string{"/usr/bin/nosuch"},
			wantErr: `^path "/usr/bin/nosuch" not found in the installed packages$`,
		},
		{
			name:    "missing root behind a dangling directory link",
			tree:    []ent{link("/opt/app", "/nowhere")},
			roots:   []string{"/usr/lib64/libc.so.6", "/opt/app/bin/x"},
			wantErr: `^path "/opt/app/bin/x" not found in the installed packages$`,
		},
		{
			name: "symlink to a file outside, from the root",
			tree: []ent{
				link("/usr/bin/sh", "bash"),
				obj("/usr/bin/bash", exe("libc.so.6")),
			},
			roots: []string{"/bin/sh"},
			want:  with(libcSet, "/bin", "/usr/bin/sh", "/usr/bin/bash"),
		},
	})
}

func TestClosureLibrarySearch(t *testing.T) {
	runCases(t, []closureCase{
		{
			name: "0644 library is still followed",
			tree: []ent{
				obj("/usr/bin/app", exe("libfoo.so.1")),
				lib("/usr/lib64/libfoo.so.1", elftest.Spec{Needed: []string{"libbar.so.2"}}),
				lib("/usr/lib64/libbar.so.2", elftest.Spec{Needed: []string{"libc.so.6"}}),
			},
			roots: []string{"/usr/bin/app"},
			want:  with(libcSet, "/usr/bin/app", "/lib64", "/usr/lib64/libfoo.so.1", "/usr/lib64/libbar.so.2"),
		},
		{
			name: "32-bit program takes 32-bit libraries, skipping the 64-bit one first in line",
			tree: []ent{
				obj("/usr/bin/prog32", elftest.Spec{Class: delf.ELFCLASS32, Type: delf.ET_EXEC, Interp: "/lib/ld-linux.so.2", Needed: []string{"libc.so.6"}}),
				obj("/usr/lib/ld-linux.so.2", elftest.Spec{Class: delf.ELFCLASS32}),
				lib("/usr/lib/libc.so.6", elftest.Spec{Class: delf.ELFCLASS32, Needed: []string{"ld-linux.so.2"}}),
			},
			roots: []string{"/usr/bin/prog32"},
			opt:   Options{LibraryPath: []string{"/usr/lib64"}},
			want:  []string{"/lib", "/usr/bin/prog32", "/usr/lib/ld-linux.so.2", "/usr/lib/libc.so.6"},
		},
		{
			name: "64-bit program skips an x32 candidate (same machine, 32-bit class) in /lib64",
			tree: []ent{
				obj("/usr/bin/app", exe("libx.so")),
				lib("/usr/lib64/libx.so", elftest.Spec{Class: delf.ELFCLASS32, Machine: delf.EM_X86_64}),
				lib("/usr/lib/libx.so", elftest.Spec{Needed: []string{"libc.so.6"}}),
			},
			roots: []string{"/usr/bin/app"},
			want:  with(libcSet, "/usr/bin/app", "/lib", "/usr/lib/libx.so"),
		},
		{
			name: "wrong machine and wrong byte order are skipped",
			tree: []ent{
				obj("/usr/bin/app", exe("libm.so.6")),
				lib("/opt/arm/libm.so.6", elftest.Spec{Machine: delf.EM_AARCH64}),
				lib("/opt/msb/libm.so.6", elftest.Spec{Data: delf.ELFDATA2MSB}),
				dir("/opt/dir/libm.so.6"),
				lib("/opt/good/libm.so.6", elftest.Spec{Needed: []string{"libc.so.6"}}),
				lib("/usr/lib64/libm.so.6", elftest.Spec{Soname: "loses"}),
				file("/etc/ld.so.conf", "/opt/arm\n/opt/msb\n/opt/bad\n/opt/dir\n/opt/good\n"),
				file("/opt/bad/libm.so.6", "INPUT(not an ELF file)"),
				file("/etc/ld.so.cache", "cache"),
			},
			roots: []string{"/usr/bin/app"},
			want:  with(libcSet, "/usr/bin/app", "/opt/good/libm.so.6", "/etc/ld.so.cache"),
		},
		{
			name: "$ORIGIN, ${ORIGIN} and $LIB, with the root reached through a link",
			tree: []ent{
				link("/usr/bin/app", "../../opt/app/bin/app"),
				obj("/opt/app/bin/app", elftest.Spec{Type: delf.ET_EXEC, Interp: ld64,
					Needed: []string{"liba.so", "libb.so", "libc.so.6"}, RunPath: "$ORIGIN/../lib:${ORIGIN}/../$LIB"}),
				lib("/opt/app/lib/liba.so", elftest.Spec{}),
				lib("/opt/app/lib64/libb.so", elftest.Spec{}),
				lib("/usr/lib64/liba.so", elftest.Spec{Soname: "decoy"}),
				lib("/usr/lib/liba.so", elftest.Spec{Soname: "decoy: /usr/bin/../lib would be the link's origin"}),
			},
			roots: []string{"/usr/bin/app"},
			want:  with(libcSet, "/usr/bin/app", "/opt/app/bin/app", "/opt/app/lib/liba.so", "/opt/app/lib64/libb.so"),
		},
		{
			name: "$ORIGIN of a library is the directory it was found in",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"libplug.so"}, RunPath: "/opt/plugins"}),
				link("/opt/plugins/libplug.so", "../real/libplug.so"),
				lib("/opt/real/libplug.so", elftest.Spec{Needed: []string{"libhelper.so"}, RunPath: "$ORIGIN/helpers"}),
				lib("/opt/plugins/helpers/libhelper.so", elftest.Spec{}),
				lib("/opt/real/helpers/libhelper.so", elftest.Spec{Soname: "decoy"}),
			},
			roots: []string{"/usr/bin/app"},
			want:  []string{"/usr/bin/app", "/opt/plugins/libplug.so", "/opt/real/libplug.so", "/opt/plugins/helpers/libhelper.so"},
		},
		{
			name: "$PLATFORM entries and relative entries are skipped, unknown tokens kept",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"liba.so"}, RunPath: "/p/$PLATFORM:rel/dir:/d/$ORIGINAL:/d/$"}),
				lib("/p/$PLATFORM/liba.so", elftest.Spec{}),
				lib("/usr/bin/rel/dir/liba.so", elftest.Spec{}),
				lib("/d/$ORIGINAL/liba.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			want:  []string{"/usr/bin/app", "/d/$ORIGINAL/liba.so"},
		},
		{
			name: "RPATH before LibraryPath",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"libz.so"}, RPath: "/r"}),
				lib("/r/libz.so", elftest.Spec{}),
				lib("/lp/libz.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			opt:   Options{LibraryPath: []string{"/lp"}},
			want:  []string{"/usr/bin/app", "/r/libz.so"},
		},
		{
			name: "LibraryPath before RUNPATH",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"libz.so"}, RunPath: "/u"}),
				lib("/u/libz.so", elftest.Spec{}),
				lib("/lp/libz.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			opt:   Options{LibraryPath: []string{"/lp"}},
			want:  []string{"/usr/bin/app", "/lp/libz.so"},
		},
		{
			name: "RUNPATH disables RPATH",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"libz.so"}, RPath: "/r", RunPath: "/u"}),
				lib("/r/libz.so", elftest.Spec{}),
				lib("/u/libz.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			want:  []string{"/usr/bin/app", "/u/libz.so"},
		},
		{
			name: "RPATH of the program serves its libraries' needs",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"liba.so"}, RPath: "/priv"}),
				lib("/priv/liba.so", elftest.Spec{Needed: []string{"libb.so"}}),
				lib("/priv/libb.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			want:  []string{"/usr/bin/app", "/priv/liba.so", "/priv/libb.so"},
		},
		{
			name: "a loader with RUNPATH does not pass RPATH on",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"liba.so"}, RPath: "/priv"}),
				lib("/priv/liba.so", elftest.Spec{Needed: []string{"libb.so"}, RunPath: "/elsewhere"}),
				lib("/priv/libb.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			want:  []string{"/usr/bin/app", "/priv/liba.so"},
			warns: []string{"/priv/liba.so: needed library libb.so not found"},
		},
		{
			name: "RPATH passes through a loader with RUNPATH to the objects it loads",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"liba.so"}, RPath: "/priv"}),
				lib("/priv/liba.so", elftest.Spec{Needed: []string{"libb.so"}, RunPath: "/run", RPath: "/ignored"}),
				lib("/run/libb.so", elftest.Spec{Needed: []string{"libc2.so", "libd.so"}}),
				lib("/priv/libc2.so", elftest.Spec{}),
				lib("/ignored/libd.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			want:  []string{"/usr/bin/app", "/priv/liba.so", "/run/libb.so", "/priv/libc2.so"},
			warns: []string{"/run/libb.so: needed library libd.so not found"},
		},
		{
			name: "ld.so.conf with include, comments and hwcap; no cache in the tree",
			tree: []ent{
				obj("/usr/bin/app", exe("libone.so", "libtwo.so", "libc.so.6")),
				file("/etc/ld.so.conf", "# local dirs\ninclude ld.so.conf.d/*.conf\nhwcap 0 nosegneg\n/opt/one   # trailing comment\n"),
				file("/etc/ld.so.conf.d/b.conf", "/opt/two=libc6\n"),
				file("/etc/ld.so.conf.d/a.conf", "include /etc/more.d/*.conf\n/usr/lib64\n"),
				file("/etc/ld.so.conf.d/skip.txt", "/opt/never\n"),
				file("/etc/more.d/x.conf", "/opt/three\ninclude /etc/ld.so.conf\n"),
				lib("/opt/one/libone.so", elftest.Spec{Soname: "loses"}),
				lib("/opt/three/libone.so", elftest.Spec{}),
				lib("/opt/one/libtwo.so", elftest.Spec{Soname: "loses"}),
				lib("/opt/two/libtwo.so", elftest.Spec{Needed: []string{"libone.so"}}),
				lib("/opt/never/libtwo.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			want:  with(libcSet, "/usr/bin/app", "/opt/three/libone.so", "/opt/two/libtwo.so"),
			warns: []string{"/opt/three/libone.so, /opt/two/libtwo.so found through /etc/ld.so.conf, but the tree has no /etc/ld.so.cache: the loader will not find them at run time unless LD_LIBRARY_PATH names their directories"},
		},
		{
			name: "DT_NEEDED loop terminates",
			tree: []ent{
				obj("/usr/bin/app", exe("liba.so")),
				lib("/usr/lib64/liba.so", elftest.Spec{Needed: []string{"libb.so"}}),
				lib("/usr/lib64/libb.so", elftest.Spec{Needed: []string{"liba.so", "libc.so.6"}}),
			},
			roots: []string{"/usr/bin/app"},
			want:  with(libcSet, "/usr/bin/app", "/usr/lib64/liba.so", "/usr/lib64/libb.so"),
		},
		{
			name: "missing library and missing interpreter are warnings naming the file",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Interp: "/lib/ld-musl-x86_64.so.1", Needed: []string{"libnope.so.1", "libc.so.6"}}),
			},
			roots: []string{"/usr/bin/app"},
			want:  with(libcSet, "/usr/bin/app"),
			warns: []string{
				"/usr/bin/app: program interpreter /lib/ld-musl-x86_64.so.1 not found",
				"/usr/bin/app: needed library libnope.so.1 not found",
			},
		},
		{
			name: "DT_NEEDED with a slash is a path",
			tree: []ent{
				obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"/opt/x/libabs.so"}}),
				link("/opt/x", "y"),
				lib("/opt/y/libabs.so", elftest.Spec{}),
			},
			roots: []string{"/usr/bin/app"},
			want:  []string{"/usr/bin/app", "/opt/x", "/opt/y/libabs.so"},
		},
		{
			name: "separate debug files pull nothing and warn about nothing",
			tree: []ent{
				lib("/usr/lib/debug/usr/bin/app-1.0.debug", elftest.Spec{Type: delf.ET_EXEC, Interp: ld64, Needed: []string{"libnope.so"}, DebugOnly: true}),
				lib("/usr/lib/debug/usr/lib/libx.so.debug", elftest.Spec{Class: delf.ELFCLASS32, Needed: []string{"libnope.so"}, DebugOnly: true}),
			},
			roots: []string{"/usr/lib/debug"},
			want: []string{"/usr/lib/debug", "/usr/lib/debug/usr", "/usr/lib/debug/usr/bin", "/usr/lib/debug/usr/bin/app-1.0.debug",
				"/usr/lib/debug/usr/lib", "/usr/lib/debug/usr/lib/libx.so.debug"},
		},
		{
			name:  "static program and relocatable object pull nothing",
			tree:  []ent{obj("/usr/bin/static", elftest.Spec{Type: delf.ET_EXEC, Static: true}), obj("/usr/lib64/x.o", elftest.Spec{Type: delf.ET_REL, Needed: []string{"libnope.so"}})},
			roots: []string{"/usr/bin/static", "/usr/lib64/x.o"},
			want:  []string{"/usr/bin/static", "/usr/lib64/x.o"},
		},
	})
}

func TestClosureScripts(t *testing.T) {
	shell := []ent{
		link("/usr/bin/sh", "bash"),
		obj("/usr/bin/bash", exe("libtinfo.so.6", "libc.so.6")),
		link("/usr/lib64/libtinfo.so.6", "libtinfo.so.6.4"),
		lib("/usr/lib64/libtinfo.so.6.4", elftest.Spec{Needed: []string{"libc.so.6"}}),
		obj("/usr/bin/env", exe("libc.so.6")),
	}
	bashSet := with(libcSet, "/usr/bin/bash", "/usr/lib64/libtinfo.so.6", "/usr/lib64/libtinfo.so.6.4")
	envSet := with(libcSet, "/usr/bin/env")
	runCases(t, []closureCase{
		{
			name:  "#!/bin/sh through two links",
			tree:  append(shell, file("/usr/bin/hello", "#!/bin/sh\necho hello\n")),
			roots: []string{"/usr/bin/hello"},
			want:  with(bashSet, "/usr/bin/hello", "/bin", "/usr/bin/sh"),
		},
		{
			name:  "#! with spaces and an argument",
			tree:  append(shell, file("/usr/libexec/x", "#!  /usr/bin/bash -e  \n")),
			roots: []string{"/usr/libexec/x"},
			want:  with(bashSet, "/usr/libexec/x"),
		},
		{
			name:  "#!/usr/bin/env bash",
			tree:  append(shell, file("/usr/local/bin/tool", "#!/usr/bin/env bash\n")),
			roots: []string{"/usr/local/bin/tool"},
			want:  with(with(bashSet, envSet...), "/usr/local/bin/tool"),
		},
		{
			name: "#!/usr/bin/env -S with assignments takes the first command in PATH order",
			tree: append(shell,
				file("/usr/bin/tool", "#!/usr/bin/env -S LC_ALL=C -u HOME python3 -u\n"),
				link("/usr/bin/python3", "python3.11"),
				file("/usr/bin/python3.11", "#!/usr/bin/bash\n"),
				file("/usr/sbin/python3", "later in PATH"),
			),
			roots: []string{"/usr/bin/tool"},
			want:  with(with(bashSet, envSet...), "/usr/bin/tool", "/usr/bin/python3", "/usr/bin/python3.11"),
		},
		{
			name:  "custom Path",
			tree:  append(shell, file("/app/run", "#!/usr/bin/env node\n"), obj("/opt/node/bin/node", exe("libc.so.6")), obj("/usr/bin/node", exe())),
			roots: []string{"/app/run"},
			opt:   Options{Path: []string{"/opt/node/bin", "/usr/bin"}},
			want:  with(envSet, "/app/run", "/opt/node/bin/node"),
		},
		{
			name:  "missing interpreter and missing env command warn",
			tree:  append(shell, file("/usr/bin/a", "#!/usr/bin/python3\n"), file("/usr/bin/b", "#!/usr/bin/env perl\n"), file("/usr/bin/c", "#!\n")),
			roots: []string{"/usr/bin/a", "/usr/bin/b", "/usr/bin/c"},
			want:  with(envSet, "/usr/bin/a", "/usr/bin/b", "/usr/bin/c"),
			warns: []string{
				"/usr/bin/a: script interpreter /usr/bin/python3 not found",
				"/usr/bin/b: perl (run by /usr/bin/env) not found in /usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
				"/usr/bin/c: script has no interpreter after #!",
			},
		},
		{
			name:  "CRLF script: the warning escapes the carriage return",
			tree:  append(shell, file("/usr/bin/dos", "#!/bin/bash\r\necho\r\n")),
			roots: []string{"/usr/bin/dos"},
			want:  []string{"/usr/bin/dos"},
			warns: []string{`/usr/bin/dos: script interpreter /bin/bash\x0d not found`},
		},
		{
			name:  "script loop terminates",
			tree:  []ent{file("/x", "#!/y\n"), file("/y", "#!/x\n")},
			roots: []string{"/x"},
			want:  []string{"/x", "/y"},
		},
	})
}

func TestClosureGlobsAndDirectories(t *testing.T) {
	mods := []ent{
		obj("/usr/sbin/nginx", exe("libc.so.6")),
		lib("/usr/lib64/nginx/modules/ngx_a.so", elftest.Spec{Needed: []string{"libxml.so.2"}}),
		lib("/usr/lib64/nginx/modules/ngx_b.so", elftest.Spec{Needed: []string{"libc.so.6"}}),
		file("/usr/lib64/nginx/modules/README", "not a module"),
		lib("/usr/lib64/libxml.so.2", elftest.Spec{Needed: []string{"libc.so.6"}}),
		file("/usr/share/doc/a/x.conf", ""),
		file("/usr/share/doc/a/b/y.conf", ""),
		file("/usr/share/doc/z.conf", ""),
		file("/usr/share/doc/.hidden.conf", ""),
		file("/usr/share/doc/a/b/keep.txt", ""),
		link("/usr/share/doc/linked", "a"),
	}
	runCases(t, []closureCase{
		{
			name:  "star in the last component",
			tree:  mods,
			roots: []string{"/usr/lib64/nginx/modules/*.so"},
			want:  with(libcSet, "/usr/lib64/nginx/modules/ngx_a.so", "/usr/lib64/nginx/modules/ngx_b.so", "/usr/lib64/libxml.so.2"),
		},
		{
			name:  "star in a middle component, through a directory link",
			tree:  mods,
			roots: []string{"/lib6?/nginx/*/ngx_[a]*"},
			want:  with(libcSet, "/usr/lib64/nginx/modules/ngx_a.so", "/usr/lib64/libxml.so.2"),
		},
		{
			name:  "double star matches zero or more directories, not through links",
			tree:  mods,
			roots: []string{"/usr/share/**/*.conf"},
			want:  []string{"/usr/share/doc/.hidden.conf", "/usr/share/doc/a/b/y.conf", "/usr/share/doc/a/x.conf", "/usr/share/doc/z.conf"},
		},
		{
			name:    "glob without a match",
			tree:    mods,
			roots:   []string{"/usr/lib64/nginx/modules/*.so", "/usr/lib64/httpd/modules/*.so"},
			wantErr: `^path "/usr/lib64/httpd/modules/\*\.so" not found in the installed packages$`,
		},
		{
			name:    "bad pattern",
			tree:    mods,
			roots:   []string{"/usr/[a"},
			wantErr: `^path "/usr/\[a": syntax error in pattern$`,
		},
		{
			name: "a directory is taken recursively; its links keep their targets",
			tree: []ent{
				dir("/etc/nginx/conf.d"),
				file("/etc/nginx/nginx.conf", "user nginx;"),
				link("/etc/nginx/mime.types", "../mime.types"),
				file("/etc/mime.types", "text/html html"),
				link("/etc/nginx/html", "/usr/share/nginx/html"),
				file("/usr/share/nginx/html/index.html", "<html>"),
				link("/etc/nginx/gone", "nowhere"),
				lib("/etc/nginx/plugin.so", elftest.Spec{Needed: []string{"libc.so.6"}}),
				file("/etc/nginx/hook", "#!/bin/sh\n"),
				link("/usr/bin/sh", "dash"),
				obj("/usr/bin/dash", exe("libc.so.6")),
				file("/etc/other", "not taken"),
			},
			roots: []string{"/etc/nginx"},
			want: with(libcSet, "/etc/nginx", "/etc/nginx/conf.d", "/etc/nginx/nginx.conf", "/etc/nginx/mime.types", "/etc/mime.types",
				"/etc/nginx/html", "/usr/share/nginx/html", "/etc/nginx/gone", "/etc/nginx/plugin.so", "/etc/nginx/hook",
				"/bin", "/usr/bin/sh", "/usr/bin/dash"),
			warns: []string{"dangling symlink /etc/nginx/gone -> nowhere (kept)"},
		},
		{
			name:  "a directory reached through a link, and a nested root",
			tree:  []ent{file("/usr/lib/x/a", "a"), file("/usr/lib/x/y/b", "b")},
			roots: []string{"/lib/x", "/usr/lib/x/y"},
			want:  []string{"/lib", "/usr/lib/x", "/usr/lib/x/a", "/usr/lib/x/y", "/usr/lib/x/y/b"},
		},
	})
}

func TestClosureMalformed(t *testing.T) {
	good := elftest.Spec{Type: delf.ET_EXEC, Needed: []string{"libc.so.6"}}
	mal := func(mod func(s *elftest.Spec)) []byte {
		s := good
		mod(&s)
		return elftest.Build(s)
	}
	valid := elftest.Build(good)
	cases := []struct {
		name string
		data []byte
		warn string // regexp; empty means no warning and libc found
	}{
		{"huge DT_STRSZ is clamped to the segment", mal(func(s *elftest.Spec) { s.StrSz = 1 << 62 }), ""},
		{"DT_NEEDED offset beyond the string table", mal(func(s *elftest.Spec) {
			s.Extra = []elftest.Dyn{{Tag: delf.DT_NEEDED, Val: 1 << 40}}
		}), `DT_NEEDED string offset 0x10000000000 outside the string table`},
		{"DT_STRSZ cuts the string", mal(func(s *elftest.Spec) { s.StrSz = 3 }), `DT_NEEDED string at 0x1 is not terminated`},
		{"DT_STRTAB outside every segment", mal(func(s *elftest.Spec) { s.StrTab = 0xdead0000 }), `DT_STRTAB address 0xdead0000 is not in the file image`},
		{"no DT_STRTAB", mal(func(s *elftest.Spec) { s.NoStrTab = true }), `no DT_STRTAB`},
		{"huge PT_DYNAMIC size", mal(func(s *elftest.Spec) { s.DynFilesz = 1 << 60 }), `DYNAMIC segment .* extends beyond the end of the file`},
		{"PT_DYNAMIC offset beyond the file", mal(func(s *elftest.Spec) { s.DynOffset = 1 << 32 }), `DYNAMIC segment .* extends beyond the end of the file`},
		{"no DT_NULL: the array ends with the segment", mal(func(s *elftest.Spec) { s.NoDynNull = true }), ""},
		{"huge PT_INTERP", mal(func(s *elftest.Spec) { s.Interp = strings.Repeat("/x", 3000) }), `PT_INTERP of 6000 bytes`},
		{"truncated header", valid[:40], `malformed ELF file`},
		{"truncated program headers", valid[:100], `malformed ELF file`},
		{"magic only", []byte("\x7fELF"), `malformed ELF file`},
		{"empty DT_NEEDED", mal(func(s *elftest.Spec) { s.Needed = []string{""} }), `empty DT_NEEDED`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tree := mkTree(t, append(base(), ent{path: "/usr/bin/bad", kind: fstree.File, data: tc.data, mode: 0o755}))
			var warns []string
			got, err := Closure(tree, []string{"/usr/bin/bad"}, Options{Warn: func(m string) { warns = append(warns, m) }})
			if err != nil {
				t.Fatal(err)
			}
			if tc.warn == "" {
				if len(warns) != 0 || !reflect.DeepEqual(got, with(libcSet, "/usr/bin/bad")) {
					t.Fatalf("got %q, warnings %q", got, warns)
				}
				return
			}
			if !reflect.DeepEqual(got, []string{"/usr/bin/bad"}) {
				t.Errorf("got %q", got)
			}
			re := regexp.MustCompile("^/usr/bin/bad: malformed ELF file: .*" + strings.TrimPrefix(tc.warn, "malformed ELF file"))
			if len(warns) != 1 || !re.MatchString(warns[0]) {
				t.Errorf("warnings %q, want one matching %q", warns, re)
			}
		})
	}
}

func TestClosureBounds(t *testing.T) {
	// Thousands of DT_NEEDED entries and path entries are refused before any
	// search: the work an object causes stays bounded.
	var needed []string
	for i := range maxNeeded + 1 {
		needed = append(needed, "lib"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26)+".so")
	}
	tree := mkTree(t, []ent{
		obj("/a", elftest.Spec{Needed: needed}),
		obj("/b", elftest.Spec{Needed: []string{"libq.so"}, RunPath: strings.Repeat("/d:", maxPathEntries+1)}),
	})
	var warns []string
	got, err := Closure(tree, []string{"/a", "/b"}, Options{Warn: func(m string) { warns = append(warns, m) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/a: malformed ELF file: more than 1024 DT_NEEDED entries",
		"/b: malformed ELF file: more than 256 DT_RUNPATH entries",
	}
	if !reflect.DeepEqual(got, []string{"/a", "/b"}) || !reflect.DeepEqual(warns, want) {
		t.Errorf("got %q, warnings %q", got, warns)
	}
}

func TestClosureConfLimits(t *testing.T) {
	var dirs, incs strings.Builder
	for i := range maxConfDirs + 1 {
		fmt.Fprintf(&dirs, "/d%d\n", i)
	}
	for range maxConfInclude + 1 {
		incs.WriteString("include /none/*.conf\n")
	}
	for _, tc := range []struct {
		name, conf, warn string
	}{
		{"directories", dirs.String(), "/etc/ld.so.conf: more than 1024 directories in ld.so.conf files; ignoring the rest"},
		{"includes", incs.String(), "/etc/ld.so.conf: more than 1024 include patterns in ld.so.conf files; ignoring the rest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := mkTree(t, append(base(), file("/etc/ld.so.conf", tc.conf), obj("/usr/bin/app", exe("libc.so.6"))))
			var warns []string
			got, err := Closure(tree, []string{"/usr/bin/app"}, Options{Warn: func(m string) { warns = append(warns, m) }})
			if err != nil || !reflect.DeepEqual(got, with(libcSet, "/usr/bin/app")) || !reflect.DeepEqual(warns, []string{tc.warn}) {
				t.Errorf("got %q, %v, warnings %q", got, err, warns)
			}
		})
	}
}

func TestClosureConfDoubleStar(t *testing.T) {
	// ldconfig expands include patterns with glob(3): `**` is `*`, one
	// directory level only.
	tree := mkTree(t, append(base(),
		file("/etc/ld.so.conf", "include /etc/ld/**/x.conf\n"),
		file("/etc/ld/a/x.conf", "/opt/a\n"),
		file("/etc/ld/a/b/x.conf", "/opt/b\n"),
		obj("/usr/bin/app", exe("liba.so", "libb.so")),
		lib("/opt/a/liba.so", elftest.Spec{}),
		lib("/opt/b/libb.so", elftest.Spec{}),
		file("/etc/ld.so.cache", ""),
	))
	var warns []string
	got, err := Closure(tree, []string{"/usr/bin/app"}, Options{Warn: func(m string) { warns = append(warns, m) }})
	if err != nil || !reflect.DeepEqual(got, with(libcSet[:2], "/usr/bin/app", "/opt/a/liba.so", "/etc/ld.so.cache")) ||
		!reflect.DeepEqual(warns, []string{"/usr/bin/app: needed library libb.so not found"}) {
		t.Errorf("got %q, %v, warnings %q", got, err, warns)
	}
}

func TestNotFoundError(t *testing.T) {
	_, err := Closure(fstree.New(), []string{"/nope"}, Options{})
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Path != "/nope" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %#v", err)
	}
	if _, err := Closure(fstree.New(), []string{""}, Options{}); !errors.As(err, &nf) || nf.Path != "" {
		t.Fatalf("empty root: %v", err)
	}
	if got, err := Closure(fstree.New(), nil, Options{}); err != nil || len(got) != 0 {
		t.Fatalf("no roots: %q, %v", got, err)
	}
	if _, err := Closure(nil, nil, Options{}); err == nil {
		t.Fatal("nil tree accepted")
	}
}

func TestExpandDST(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		class    delf.Class
		ok       bool
	}{
		{"$ORIGIN/../lib", "/o/../lib", delf.ELFCLASS64, true},
		{"${ORIGIN}/x", "/o/x", delf.ELFCLASS64, true},
		{"/usr/$LIB", "/usr/lib64", delf.ELFCLASS64, true},
		{"/usr/${LIB}/x", "/usr/lib/x", delf.ELFCLASS32, true},
		{"/a/$PLATFORM", "", delf.ELFCLASS64, false},
		{"/a/${PLATFORM}/b", "", delf.ELFCLASS64, false},
		{"/a/$ORIGINX", "/a/$ORIGINX", delf.ELFCLASS64, true},
		{"/a/${ORIGIN", "/a/${ORIGIN", delf.ELFCLASS64, true},
		{"/a$", "/a$", delf.ELFCLASS64, true},
	} {
		got, ok := expandDST(tc.in, "/o", tc.class)
		if got != tc.want || ok != tc.ok {
			t.Errorf("expandDST(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestShebang(t *testing.T) {
	for _, tc := range []struct{ in, interp, arg, env string }{
		{"#!/bin/sh\n", "/bin/sh", "", ""},
		{"#! /usr/bin/env  python3 \nx", "/usr/bin/env", "python3", "python3"},
		{"#!/usr/bin/env -S perl -w\n", "/usr/bin/env", "-S perl -w", "perl"},
		{"#!/usr/bin/env -Sruby\n", "/usr/bin/env", "-Sruby", "ruby"},
		{"#!/usr/bin/env -i A=1 -u B -C /tmp node\n", "/usr/bin/env", "-i A=1 -u B -C /tmp node", "node"},
		{"#!/bin/bash\r\n", "/bin/bash\r", "", ""},
		{"#!" + strings.Repeat("x", 300) + "\n", strings.Repeat("x", 254), "", ""},
	} {
		interp, arg := shebang([]byte(tc.in))
		if interp != tc.interp || arg != tc.arg || envCommand(arg) != tc.env {
			t.Errorf("shebang(%q) = %q, %q, env %q", tc.in, interp, arg, envCommand(arg))
		}
	}
}

// Missing hears of every library and interpreter the tree lacks, as the
// file names them, and of nothing found.
func TestClosureMissing(t *testing.T) {
	tree := mkTree(t, append(base(),
		obj("/usr/bin/app", elftest.Spec{Type: delf.ET_EXEC, Interp: "/lib/ld-musl-x86_64.so.1", Needed: []string{"libnope.so.1", "liba.so", "libc.so.6"}}),
		lib("/usr/lib64/liba.so", elftest.Spec{Needed: []string{"libdeep.so.2", "/opt/abs/libabs.so"}}),
	))
	var missing []string
	if _, err := Closure(tree, []string{"/usr/bin/app"}, Options{Missing: func(n string) { missing = append(missing, n) }}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(missing)
	if want := []string{"/lib/ld-musl-x86_64.so.1", "/opt/abs/libabs.so", "libdeep.so.2", "libnope.so.1"}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing %q, want %q", missing, want)
	}
}
