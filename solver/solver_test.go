package solver

import (
	"context"
	"strings"
	"testing"

	"github.com/smith-build/smith/repo"
)

// The rules of the solver, one small repository each. Every case runs with
// the packages in their written order and shuffled: the result must not
// change. want lists NEVRAs (sorted); err is the exact error text.
var solverCases = []struct {
	name  string
	repo  string
	req   Request
	want  string
	err   string
	calls []string // expected FileProviders calls
	// differs says why the local libsolv (0.7.23) answers otherwise.
	differs string
}{
	// --- versions ---
	{
		name: "highest version",
		repo: `
A 1-1 x86_64
A 2-1 x86_64
A 1.10-1 x86_64`,
		req:  Request{Specs: []string{"A"}},
		want: "A-2-1.x86_64",
	},
	{
		name: "epoch beats version",
		repo: `
A 1:1.0-1 x86_64
A 2.0-1 x86_64`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1:1.0-1.x86_64",
	},
	{
		name: "tilde and caret",
		repo: `
A 1.0~rc1-1 x86_64
A 1.0-1 x86_64
A 1.0^git1-1 x86_64`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1.0^git1-1.x86_64",
	},
	{
		name: "versioned requirement picks the best version in range",
		repo: `
A 1-1 x86_64
  req: B < 3
B 1-1 x86_64
B 2-1 x86_64
B 3-1 x86_64`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-2-1.x86_64",
	},
	{
		name: "requirement without release matches every release",
		repo: `
A 1-1 x86_64
  req: B = 2
B 2-7 x86_64
B 3-1 x86_64`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-2-7.x86_64",
	},
	{
		name: "implicit name = EVR provide",
		repo: `
A 1-1 x86_64
  req: B = 2-1
B 2-1 x86_64`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-2-1.x86_64",
	},
	{
		name: "unversioned provide satisfies a versioned requirement",
		repo: `
A 1-1 x86_64
  req: cap >= 5
B 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-1-1.x86_64",
	},
	{
		name: "versioned provide",
		repo: `
A 1-1 x86_64
  req: cap >= 2
B 1-1 x86_64
  prv: cap = 1
C 1-1 x86_64
  prv: cap = 2`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		name: "providers of different names: first name wins",
		repo: `
A 1-1 x86_64
  req: webserver
nginx 1-1 x86_64
  prv: webserver
busybox 1-1 x86_64
  prv: webserver`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 busybox-1-1.x86_64",
	},
	{
		name: "a provider already chosen is preferred",
		repo: `
A 1-1 x86_64
  req: webserver
nginx 1-1 x86_64
  prv: webserver
busybox 1-1 x86_64
  prv: webserver`,
		req:  Request{Specs: []string{"A", "nginx"}},
		want: "A-1-1.x86_64 nginx-1-1.x86_64",
	},
	{
		name: "rpmlib requirements are provided by rpm",
		repo: `
A 1-1 x86_64
  pre: rpmlib(PayloadIsZstd) <= 5.4.18-1
  req: rpmlib(CompressedFileNames) <= 3.0.4-1`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64",
	},
	// --- architectures ---
	{
		name: "target arch and noarch only",
		repo: `
A 1-1 x86_64
  req: B
A 1-1 i686
B 1-1 noarch
C 1-1 aarch64`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-1-1.noarch",
	},
	{
		name: "foreign arch is not a candidate",
		repo: `
A 1-1 x86_64
  req: C
C 1-1 aarch64`,
		req: Request{Specs: []string{"A"}},
		err: "nothing provides C needed by A-1-1.x86_64 (from repo test)",
	},
	{
		name: "i686 target takes the best compatible arch",
		repo: `
A 1-1 i386
A 1-1 i686
A 1-1 x86_64`,
		req:  Request{Specs: []string{"A"}, Arch: "i686"},
		want: "A-1-1.i686",
	},
	{
		name: "best arch beats best version",
		repo: `
A 1-1 i686
A 2-1 i586`,
		req:  Request{Specs: []string{"A"}, Arch: "i686"},
		want: "A-1-1.i686",
	},
	{
		// As libsolv: the i686 build satisfies the second request too.
		name: "multilib by explicit name.arch",
		repo: `
glibc 2.36-9 x86_64
glibc 2.36-9 i686
  req: glibc-common = 2.36-9
glibc-common 2.36-9 x86_64
  req: glibc = 2.36-9`,
		req:  Request{Specs: []string{"glibc.i686", "glibc"}},
		want: "glibc-2.36-9.i686 glibc-common-2.36-9.x86_64",
	},
	{
		name: "multilib: both builds when both are needed",
		repo: `
glibc 2.36-9 x86_64
  prv: libc.so.6()(64bit)
glibc 2.36-9 i686
  prv: libc.so.6
app 1-1 x86_64
  req: libc.so.6()(64bit)`,
		req:  Request{Specs: []string{"glibc.i686", "app"}},
		want: "app-1-1.x86_64 glibc-2.36-9.i686 glibc-2.36-9.x86_64",
	},
	{
		name: "explicit arch pulls its own arch's libraries",
		repo: `
glibc 2.36-9 x86_64
glibc 2.36-9 i686
  req: libgcc_s.so.1
libgcc 1-1 x86_64
  prv: libgcc_s.so.1()(64bit)
libgcc 1-1 i686
  prv: libgcc_s.so.1`,
		req: Request{Specs: []string{"glibc-2.36-9.i686"}},
		// libgcc.i686 comes in lock-step with libgcc.x86_64 (libsolv's
		// inferior-arch rule); glibc is exempt, its arch was asked for.
		want: "glibc-2.36-9.i686 libgcc-1-1.i686 libgcc-1-1.x86_64",
	},
	{
		name: "inferior arch without a lock-step partner",
		repo: `
glibc 2.36-9 i686
  req: libfoo.so.1
libfoo 1-1 i686
  prv: libfoo.so.1
libfoo 2-1 x86_64
  prv: libfoo.so.1()(64bit)`,
		req:  Request{Specs: []string{"glibc.i686"}},
		want: "glibc-2.36-9.i686 libfoo-1-1.i686",
	},
	{
		name: "inferior arch needs its lock-step partner",
		repo: `
glibc 2.36-9 i686
  req: libfoo.so.1
libfoo 1-1 i686
  prv: libfoo.so.1
libfoo 1-1 x86_64
  prv: libfoo.so.1()(64bit)
  req: gone`,
		req: Request{Specs: []string{"glibc.i686"}},
		err: "nothing provides gone needed by libfoo-1-1.x86_64 (from repo test)",
	},
	{
		// As libsolv: an arch-neutral dependency goes to the best arch.
		name: "plain dependency of an i686 package prefers the target arch",
		repo: `
glibc 2.36-9 i686
  req: libgcc
libgcc 1-1 x86_64
libgcc 1-1 i686`,
		req:  Request{Specs: []string{"glibc.i686"}},
		want: "glibc-2.36-9.i686 libgcc-1-1.x86_64",
	},
	{
		name: "two versions of one name and color conflict",
		repo: `
A 1-1 x86_64
A 2-1 x86_64
B 1-1 x86_64
  req: A = 1`,
		req: Request{Specs: []string{"B", "A-2-1"}},
		err: "cannot install both A-1-1.x86_64 and A-2-1.x86_64",
	},
	// --- obsoletes ---
	{
		name: "obsoleting provider preferred",
		repo: `
app 1-1 x86_64
  req: libcrypt.so.1()(64bit)
libcrypt 2.17-1 x86_64
  prv: libcrypt.so.1()(64bit)
libxcrypt 4.4-1 x86_64
  prv: libcrypt.so.1()(64bit)
  obs: libcrypt < 4`,
		req:  Request{Specs: []string{"app"}},
		want: "app-1-1.x86_64 libxcrypt-4.4-1.x86_64",
	},
	{
		name: "obsoleted package not beside its obsoleter",
		repo: `
libcrypt 2.17-1 x86_64
libxcrypt 4.4-1 x86_64
  obs: libcrypt < 4`,
		req: Request{Specs: []string{"libcrypt", "libxcrypt"}},
		err: "libxcrypt-4.4-1.x86_64 obsoletes libcrypt-2.17-1.x86_64",
	},
	{
		name: "obsoletes match names, not provides",
		repo: `
A 1-1 x86_64
  obs: cap
B 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A", "B"}},
		want: "A-1-1.x86_64 B-1-1.x86_64",
	},
	{
		name: "obsoletes version range",
		repo: `
A 1-1 x86_64
  obs: B < 2
B 2-1 x86_64`,
		req:  Request{Specs: []string{"A", "B"}},
		want: "A-1-1.x86_64 B-2-1.x86_64",
	},
	// --- conflicts and backtracking ---
	{
		name: "conflict between requests",
		repo: `
coreutils 9.1-12 x86_64
  con: coreutils-single
coreutils-single 9.1-12 x86_64`,
		req: Request{Specs: []string{"coreutils", "coreutils-single"}},
		err: "coreutils-9.1-12.x86_64 conflicts with coreutils-single-9.1-12.x86_64",
	},
	{
		name: "versioned conflict steers the version",
		repo: `
A 1-1 x86_64
  con: B >= 2
B 1-1 x86_64
B 2-1 x86_64`,
		req:  Request{Specs: []string{"A", "B"}},
		want: "A-1-1.x86_64 B-1-1.x86_64",
	},
	{
		name: "backtrack to an older version",
		repo: `
A 1-1 x86_64
  req: B
B 1-1 x86_64
B 2-1 x86_64
  req: C
C 1-1 x86_64
  con: A`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 B-1-1.x86_64",
	},
	{
		name: "backtrack to another provider",
		repo: `
A 1-1 x86_64
  req: X
P 1-1 x86_64
  prv: X
  req: R
Q 1-1 x86_64
  prv: X
R 1-1 x86_64
  req: S
S 1-1 x86_64
  con: A`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.x86_64 Q-1-1.x86_64",
	},
	{
		name: "backtrack across two choices",
		repo: `
top 1-1 noarch
  req: X
  req: Y
X1 1-1 noarch
  prv: X
  con: Y2
X2 1-1 noarch
  prv: X
  con: Y1
Y1 1-1 noarch
  prv: Y
  con: X1
Y2 1-1 noarch
  prv: Y`,
		req:  Request{Specs: []string{"top"}},
		want: "X2-1-1.noarch Y2-1-1.noarch top-1-1.noarch",
	},
	{
		name: "pigeonhole: unsolvable after search",
		repo: `
top 1-1 noarch
  req: (a1 or a2)
  req: (b1 or b2)
  req: (c1 or c2)
a1 1-1 noarch
  con: b1
  con: c1
a2 1-1 noarch
  con: b2
  con: c2
b1 1-1 noarch
  con: c1
b2 1-1 noarch
  con: c2
c1 1-1 noarch
c2 1-1 noarch`,
		req: Request{Specs: []string{"top"}},
		err: "a1-1-1.noarch conflicts with b1-1-1.noarch",
	},
	// --- rich dependencies ---
	{
		name: "rich or",
		repo: `
A 1-1 noarch
  req: (nginx-mimetypes or mailcap)
nginx-mimetypes 1-1 noarch
mailcap 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch mailcap-1-1.noarch",
	},
	{
		name: "rich and",
		repo: `
A 1-1 noarch
  req: (B and C >= 2)
B 1-1 noarch
C 1-1 noarch
C 2-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch B-1-1.noarch C-2-1.noarch",
	},
	{
		name: "rich if: condition absent",
		repo: `
A 1-1 noarch
  req: (B if C)
B 1-1 noarch
C 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch",
	},
	{
		name: "rich if: condition present",
		repo: `
A 1-1 noarch
  req: (B if C)
B 1-1 noarch
C 1-1 noarch`,
		req:  Request{Specs: []string{"A", "C"}},
		want: "A-1-1.noarch B-1-1.noarch C-1-1.noarch",
	},
	{
		// (B or not C) and (D or C): the choice between C and D goes by
		// name, as in libsolv, and then B is needed.
		name: "rich if else",
		repo: `
A 1-1 noarch
  req: (B if C else D)
B 1-1 noarch
C 1-1 noarch
D 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch B-1-1.noarch C-1-1.noarch",
	},
	{
		name: "rich if else: else branch",
		repo: `
A 1-1 noarch
  req: (B if C else D)
B 1-1 noarch
  con: A
C 1-1 noarch
D 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch D-1-1.noarch",
	},
	{
		name: "rich unless",
		repo: `
A 1-1 noarch
  req: (B unless C)
B 1-1 noarch
C 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch B-1-1.noarch",
	},
	{
		name: "rich unless excludes its condition",
		repo: `
A 1-1 noarch
  req: (B unless C)
B 1-1 noarch
C 1-1 noarch`,
		req: Request{Specs: []string{"A", "C"}},
		err: `A-1-1.noarch requires (B unless C), but none of the providers can be installed`,
	},
	{
		name: "rich unless else",
		repo: `
A 1-1 noarch
  req: (B unless C else D)
B 1-1 noarch
C 1-1 noarch
D 1-1 noarch`,
		req:  Request{Specs: []string{"A", "C"}},
		want: "A-1-1.noarch C-1-1.noarch D-1-1.noarch",
	},
	{
		name: "rich with",
		repo: `
A 1-1 noarch
  req: (pyfoo >= 1 with pyfoo < 2)
P1 1-1 noarch
  prv: pyfoo = 1.5
P2 1-1 noarch
  prv: pyfoo = 2.5
P0 1-1 noarch
  prv: pyfoo = 0.5`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch P1-1-1.noarch",
	},
	{
		name: "rich without",
		repo: `
A 1-1 noarch
  req: (cap without cap-legacy)
B 1-1 noarch
  prv: cap
  prv: cap-legacy
C 1-1 noarch
  prv: cap`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch C-1-1.noarch",
	},
	{
		name: "rich nested",
		repo: `
A 1-1 noarch
  req: ((B and C) or (D if E else F))
B 1-1 noarch
C 1-1 noarch
  con: A
D 1-1 noarch
E 1-1 noarch
F 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch D-1-1.noarch E-1-1.noarch",
	},
	{
		name: "rich conflict",
		repo: `
A 1-1 noarch
  con: (B and C)
B 1-1 noarch
C 1-1 noarch`,
		req: Request{Specs: []string{"A", "B", "C"}},
		err: "A-1-1.noarch conflicts with (B and C)",
	},
	{
		name: "rich conflict allows half",
		repo: `
A 1-1 noarch
  con: (B and C)
B 1-1 noarch
C 1-1 noarch`,
		req:  Request{Specs: []string{"A", "B"}},
		want: "A-1-1.noarch B-1-1.noarch",
	},
	{
		name: "malformed rich dependency",
		repo: `
A 1-1 noarch
  req: (B and or C)
B 1-1 noarch`,
		req: Request{Specs: []string{"A"}},
		err: `A-1-1.noarch (from repo test) cannot be installed: (B and or C): rich dependency "(B and or C)": missing dependency name before "or" at offset 7`,
	},
	// --- weak dependencies ---
	{
		name: "recommends installed",
		repo: `
A 1-1 noarch
  rec: B
  rec: missing
B 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch B-1-1.noarch",
	},
	{
		name: "recommends ignored with NoWeak",
		repo: `
A 1-1 noarch
  rec: B
B 1-1 noarch`,
		req:  Request{Specs: []string{"A"}, NoWeak: true},
		want: "A-1-1.noarch",
	},
	{
		name: "uninstallable recommendation skipped",
		repo: `
A 1-1 noarch
  rec: B
  rec: C
B 1-1 noarch
  req: nothing-has-this
C 1-1 noarch
  con: A`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch",
	},
	{
		name: "recommendation decides a choice",
		repo: `
A 1-1 noarch
  req: cap
  rec: Q
P 1-1 noarch
  prv: cap
Q 1-1 noarch
  prv: cap`,
		req:  Request{Specs: []string{"A"}, NoWeak: true},
		want: "A-1-1.noarch Q-1-1.noarch",
	},
	{
		name: "rich recommends with condition",
		repo: `
A 1-1 noarch
  rec: (langpack-en if A)
  rec: (langpack-de if B)
langpack-en 1-1 noarch
langpack-de 1-1 noarch
B 1-1 noarch`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch langpack-en-1-1.noarch",
	},
	{
		// Without f this is (c and d): c cannot be installed, d can.
		// libsolv 0.7.23 never looked at c's requirements (the condition
		// of an else was not followed) and installs c as well.
		name: "recommended condition of an else is checked",
		repo: `
e 2-1 x86_64
  rec: (f unless c else d)
c 1-1 x86_64
  req: nothing-provides-this
d 1-1 x86_64`,
		req:     Request{Specs: []string{"e"}},
		want:    "d-1-1.x86_64 e-2-1.x86_64",
		differs: "fixed in libsolv 0.7.25 (pool_add_pos_literals_complex_dep)",
	},
	{
		name: "supplements",
		repo: `
A 1-1 noarch
B 1-1 noarch
S 1-1 noarch
  sup: (A and B)
T 1-1 noarch
  sup: (A and C)
U 1-1 noarch
  sup: (C if A)
C 1-1 noarch`,
		req:  Request{Specs: []string{"A", "B"}},
		want: "A-1-1.noarch B-1-1.noarch S-1-1.noarch",
	},
	{
		name: "simple supplements",
		repo: `
A 1-1 noarch
S 1-1 noarch
  sup: A`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch S-1-1.noarch",
	},
	{
		name: "supplements ignored with NoWeak",
		repo: `
A 1-1 noarch
S 1-1 noarch
  sup: A`,
		req:  Request{Specs: []string{"A"}, NoWeak: true},
		want: "A-1-1.noarch",
	},
	{
		name: "suggests and enhances are not installed",
		repo: `
A 1-1 noarch
  sug: B
B 1-1 noarch
E 1-1 noarch
  enh: A`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch",
	},
	// --- file dependencies ---
	{
		name: "file dependency from primary",
		repo: `
A 1-1 noarch
  req: /bin/sh
bash 1-1 x86_64
  file: /usr/bin/bash
  prv: /bin/sh
dash 1-1 x86_64
  file: /bin/sh`,
		req:  Request{Specs: []string{"A"}},
		want: "A-1-1.noarch bash-1-1.x86_64",
	},
	{
		name: "file dependency from filelists",
		repo: `
A 1-1 noarch
  req: /usr/share/nginx/html
  req: /usr/bin/cat
nginx-filesystem 1-1 noarch
  flfile: /usr/share/nginx/html
coreutils 1-1 x86_64
  file: /usr/bin/cat`,
		req:   Request{Specs: []string{"A"}},
		want:  "A-1-1.noarch coreutils-1-1.x86_64 nginx-filesystem-1-1.noarch",
		calls: []string{"/usr/share/nginx/html"},
	},
	{
		name: "missing file",
		repo: `
A 1-1 noarch
  req: /nope`,
		req:   Request{Specs: []string{"A"}},
		err:   "nothing provides /nope needed by A-1-1.noarch (from repo test)",
		calls: []string{"/nope"},
	},
	// --- specs ---
	{
		name: "spec forms",
		repo: `
A 1-1 x86_64
A 2-1 x86_64
B 1:3-4 noarch
C 1-1 x86_64
  prv: libc.so.6()(64bit)
D 1-1 x86_64
  file: /usr/bin/d
E 5-1 x86_64
E 6-1 x86_64`,
		req:  Request{Specs: []string{"A-1", "B-1:3-4.noarch", "libc.so.6()(64bit)", "/usr/bin/d", "E < 6"}},
		want: "A-1-1.x86_64 B-1:3-4.noarch C-1-1.x86_64 D-1-1.x86_64 E-5-1.x86_64",
	},
	{
		name: "glob spec installs every matching name",
		repo: `
lib-a 1-1 x86_64
lib-b 1-1 x86_64
libz 1-1 x86_64`,
		req:  Request{Specs: []string{"lib-*"}},
		want: "lib-a-1-1.x86_64 lib-b-1-1.x86_64",
	},
	{
		name: "spec only for another arch",
		repo: `
libnvme 1.0-4 i686`,
		req: Request{Specs: []string{"libnvme"}},
		err: `no package provides "libnvme" (excluded, or only for other architectures: libnvme.i686)`,
	},
	{
		name: "unknown spec",
		repo: `
A 1-1 x86_64`,
		req: Request{Specs: []string{"nosuch"}},
		err: `no package provides "nosuch"`,
	},
	{
		name: "two independent problems",
		repo: `
A 1-1 x86_64
  req: gone-a
B 1-1 x86_64
  req: gone-b
C 1-1 x86_64`,
		req: Request{Specs: []string{"A", "C", "B"}},
		err: "nothing provides gone-a needed by A-1-1.x86_64 (from repo test)\nnothing provides gone-b needed by B-1-1.x86_64 (from repo test)",
	},
	{
		name: "exclude",
		repo: `
A 1-1 x86_64
  req: cap
B 1-1 x86_64
  prv: cap
C 1-1 x86_64
  prv: cap`,
		req:  Request{Specs: []string{"A"}, Exclude: []string{"B*"}},
		want: "A-1-1.x86_64 C-1-1.x86_64",
	},
	{
		name: "exclude leaves nothing",
		repo: `
A 1-1 x86_64
  req: B
B 1-1 x86_64`,
		req: Request{Specs: []string{"A"}, Exclude: []string{"B"}},
		err: "nothing provides B needed by A-1-1.x86_64 (from repo test)",
	},
}

func TestSolverRules(t *testing.T) {
	for _, tc := range solverCases {
		t.Run(tc.name, func(t *testing.T) {
			idx := parseRepo(t, tc.repo)
			req := tc.req
			if req.Arch == "" {
				req.Arch = "x86_64"
			}
			sol, err := Solve(context.Background(), idx, req)
			calls := idx.fileCalls
			got := result(sol, err)
			want := tc.want
			if tc.err != "" {
				want = "error: " + tc.err
			}
			if got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			if err == nil {
				checkSolution(t, idx, sol)
			}
			if tc.calls != nil && strings.Join(calls, " ") != strings.Join(tc.calls, " ") {
				t.Errorf("FileProviders calls %q, want %q", calls, tc.calls)
			}
			for seed := uint64(1); seed <= 8; seed++ {
				sol, err := Solve(context.Background(), idx.shuffled(seed), req)
				if r := result(sol, err); r != got {
					t.Fatalf("shuffled (seed %d): %s\nunshuffled: %s", seed, r, got)
				}
			}
		})
	}
}

func TestInstallLocalPackage(t *testing.T) {
	idx := parseRepo(t, `
lib 1-1 x86_64
lib 2-1 x86_64`)
	local := parseRepo(t, `
myapp 1-1 aarch64 @commandline
  req: lib < 2`).pkgs[0]
	sol, err := Solve(context.Background(), idx, Request{Install: []*repo.Package{local}, Arch: "x86_64"})
	if got := result(sol, err); got != "lib-1-1.x86_64 myapp-1-1.aarch64" {
		t.Fatalf("got %s", got)
	}
	if r := sol.Reasons[local]; r.Kind != Requested || r.Spec != "" {
		t.Errorf("reason %v", r)
	}
}

func TestEmptyArch(t *testing.T) {
	if _, err := Solve(context.Background(), parseRepo(t, "A 1-1 x86_64"), Request{Specs: []string{"A"}}); err == nil {
		t.Error("want an error for an empty Arch")
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Solve(ctx, parseRepo(t, "A 1-1 x86_64"), Request{Specs: []string{"A"}, Arch: "x86_64"})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v", err)
	}
}
