package repo

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// The hermetic fixture: a four-package primary.xml (one src package that
// must be skipped), a filelists.xml with a file primary.xml does not list,
// and the three package files whose checksums primary.xml carries (sha256,
// sha1 spelled "sha", sha512). Tests build a repository from it in
// t.TempDir(), so they run without ../shared.
const fixturePrimary = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="4">
<package type="rpm">
  <name>hello</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="2.0" rel="1.el9"/>
  <checksum type="sha256" pkgid="YES">296ed7a0eb402f2ead1e61164b004148a25c52c1df4d5dcfec8419307fcdebbc</checksum>
  <summary>Hello &amp; goodbye</summary>
  <description><![CDATA[A <friendly> greeting.]]></description>
  <size package="20" installed="10" archive="20"/>
  <location href="Packages/h/hello-2.0-1.el9.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:provides>
      <rpm:entry name="hello" flags="EQ" epoch="0" ver="2.0" rel="1.el9"/>
      <rpm:entry name="greeter"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="/bin/sh" pre="1"/>
      <rpm:entry name="libc.so.6(GLIBC_2.34)(64bit)"/>
      <rpm:entry name="(coreutils &gt;= 9 or busybox)"/>
      <rpm:entry name="tzdata" flags="GE" epoch="1" ver="2024a" rel="1"/>
    </rpm:requires>
    <rpm:conflicts><rpm:entry name="hello-legacy" flags="LT" epoch="0" ver="2"/></rpm:conflicts>
    <rpm:obsoletes><rpm:entry name="hello-old" flags="LE" epoch="0" ver="1.9"/></rpm:obsoletes>
    <rpm:recommends><rpm:entry name="hello-doc"/></rpm:recommends>
    <rpm:suggests><rpm:entry name="hello-fr"/></rpm:suggests>
    <rpm:supplements><rpm:entry name="(hello-base and lang)"/></rpm:supplements>
    <rpm:enhances><rpm:entry name="shell" flags="GT" epoch="0" ver="1"/></rpm:enhances>
    <file>/usr/bin/hello</file>
    <file type="dir">/etc/hello</file>
  </format>
</package>
<package type="rpm">
  <name>hello</name>
  <arch>src</arch>
  <version epoch="0" ver="2.0" rel="1.el9"/>
  <checksum type="sha256" pkgid="YES">0000000000000000000000000000000000000000000000000000000000000000</checksum>
  <location href="SRPMS/hello-2.0-1.el9.src.rpm"/>
  <format/>
</package>
<!-- a comment between packages -->
<package type="rpm">
  <name>tzdata</name>
  <arch>noarch</arch>
  <version epoch="1" ver="2024a" rel="1"/>
  <checksum type="sha" pkgid="YES">99c94427072578215c4c9c948989e2d838e2eec3</checksum>
  <size package="21"/>
  <location href="Packages/t/tzdata-2024a-1.noarch.rpm"/>
  <format>
    <rpm:provides><rpm:entry name="tzdata" flags="EQ" epoch="1" ver="2024a" rel="1"/></rpm:provides>
  </format>
</package>
<package type="rpm">
  <name>empty</name>
  <arch>noarch</arch>
  <version ver="1" rel="0"/>
  <checksum type="sha512" pkgid="YES">cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e</checksum>
  <location href="Packages/e/empty-1-0.noarch.rpm"/>
</package>
</metadata>
`

// fixturePrimaryBzip2 is fixturePrimary compressed with bzip2 -9 (Go has no
// bzip2 writer). Regenerate after editing fixturePrimary:
//
//	go test -run TestFixtureBzip2 -v ./repo/ prints the expected text; save
//	it as p.xml and run: bzip2 -9 -c p.xml | base64 -w 76
const fixturePrimaryBzip2 = `
QlpoOTFBWSZTWdeuo+QAAcTfgFAQcWP//7/mfiq/7//wUAR57W47uNWkoDRhKIQaqfptEaMk9TRP
1NMIANIzTSM0nqehBFPKYKafpoKagwQGgMmQZNGgYhpphIkTVPTVPGoCfpNAE09DU0HoaBAbakNB
zAmJoMJkyZMjCYJppkYmAIYBJETTIIMmTIVPKfoRkmh6gDIDQGEgRlQkmCSmgF+NRvzEuFpLH34b
7+6SPMbaXJjkEvL1QuWwqqQoRqCUkGp2ZjgO7qfbDuoV49k7vSS7/d4QUkDrdyM4d2TuzkrU0Hse
LfxXXMQFYaXaw6YgQOMkp4Di+vea7Q+mzCV2i+ErUI7BGMmvFxAVOOzkPqeZiksWA6hydwwb0X98
Ah0u7L/pP/K0FjEVOvFZs/G5q1KIMlW558kUC6Hoj6PRmdNnBiSkwxoAaB52W3Hrc+SkGBL4XMMA
eGsqAJCscUwCYIKIsjtRnMhqk4xGudVhTIrpQYwXW98myOCNJ9VYBIgiR2YqFrQQYUksja8JIo6w
b5KcFmEXnGTaXVMWwpsp3m2l0TuZgHtuGTQXDB+foStSE8ck5NgxzusdvOlBEyKDMnfSePcWduVU
vEzKcPVEgFR5t9zDMW9lVEFQwDsDBB2UaYNjgCaXXrK0W9nhRJyfPELjgJjTyJcIdVQTSnlgFnHJ
ZXEQEm2xyRAbjVTH0hhgxBQqKy7TMrzWRJqy/AlhSpSjXsTccF/lv/duz09f283BKzUvJHtbIrvf
+NT2PNQkbJLRt3RIM9bfHBsOfKsugIXjI7eePCdKGlIyJ5+WYU/aS+QpdCEX4S2rSHQHMDuw2KhU
B5BVsv6/Dz1O3zW8MKS9qwDqWeL8d+c/c3Th+xdSlgYVfPgczztoE0DAahiD+xJbAJsVRbTVrJyW
Xjy8TuHJXZHHRittbOEc3+RRVrjPvGGGyFEnVVcpA5yugr0BoIcl1vBhvrFy5kum+l5nIigKkKVY
EQeEA+a7v4Ho8QLjrZxOtjfGQqSkiCU/gwKJp5V+XfvPI1HdCYigtPVokuKK4xydh4OolYXW3jZn
yaMWRrMd7S9DG23TAWoTMMRpnY1JXoiVH9M4P0rEL192wvZIHC0cB64nrcHOwqoETVF4dA1yDpzG
1pM2KIMMVlWJX2yL0lE8AcDss4grxX/R1CrnQiY9SZmWcmQrixC6BdjuC9IQwSOCKIQ6oTsX+Ks2
hKusgkzFoy3oUwoEiTMqh5EDwORtIEWAGHQZMHQMTCAYILc85jhQDeyc54PmjMNeRPIKzMGPFAwb
SaQjgg0I8A2lhUYNsjvgIY0QrZmBzC1KBMssxIRWGvuhvBG02JNttttttt4LUbaFaXSDVt4ncqGN
XdM7DolEpYjNFpdocX5TsNp2gW0gTllfLc4KgaMFbQDE3lBLKt2fQrkaIOBdvyKHxHHBRypcb7BG
INoG5sDPZ7pGiFwmPq1NDkEnP+LuSKcKEhr11HyA
`

const fixtureFilelists = `<?xml version="1.0" encoding="UTF-8"?>
<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="4">
<package pkgid="296ed7a0eb402f2ead1e61164b004148a25c52c1df4d5dcfec8419307fcdebbc" name="hello" arch="x86_64">
  <version epoch="0" ver="2.0" rel="1.el9"/>
  <file>/usr/bin/hello</file>
  <file type="dir">/etc/hello</file>
  <file>/usr/share/hello/greeting.txt</file>
  <file>/usr/share/hello/greeting.txt</file>
</package>
<package pkgid="0000000000000000000000000000000000000000000000000000000000000000" name="hello" arch="src">
  <version epoch="0" ver="2.0" rel="1.el9"/>
  <file>hello.spec</file>
</package>
<package pkgid="not-the-checksum" name="tzdata" arch="noarch">
  <version epoch="1" ver="2024a" rel="1"/>
  <file>/usr/share/zoneinfo/UTC</file>
  <file type="dir">/etc/hello</file>
</package>
</filelists>
`

// fixturePackages are the package files by location.
var fixturePackages = map[string]string{
	"Packages/h/hello-2.0-1.el9.x86_64.rpm": "hello package bytes\n",
	"Packages/t/tzdata-2024a-1.noarch.rpm":  "tzdata package bytes\n",
	"Packages/e/empty-1-0.noarch.rpm":       "",
}

// compressFixture compresses data in one of the formats repodata uses and
// returns the file extension.
func compressFixture(t testing.TB, comp string, data string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	switch comp {
	case "plain":
		return []byte(data), ""
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write([]byte(data))
		w.Close()
		return buf.Bytes(), ".gz"
	case "xz":
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
		w.Close()
		return buf.Bytes(), ".xz"
	case "zstd":
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
		w.Close()
		return buf.Bytes(), ".zst"
	case "bzip2":
		if data != fixturePrimary {
			t.Fatalf("bzip2 is only available for fixturePrimary")
		}
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(fixturePrimaryBzip2), ""))
		if err != nil {
			t.Fatal(err)
		}
		return b, ".bz2"
	}
	t.Fatalf("unknown compression %q", comp)
	return nil, ""
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeFixtureRepo writes the fixture repository into dir with primary.xml
// compressed as comp (filelists.xml as gzip, or plain for "plain").
func writeFixtureRepo(t testing.TB, dir, comp string) {
	t.Helper()
	for loc, body := range fixturePackages {
		writeFile(t, filepath.Join(dir, loc), []byte(body))
	}
	prim, ext := compressFixture(t, comp, fixturePrimary)
	flComp := "gzip"
	if comp == "plain" {
		flComp = "plain"
	}
	fl, flExt := compressFixture(t, flComp, fixtureFilelists)
	primLoc := "repodata/" + sha256hex(prim) + "-primary.xml" + ext
	flLoc := "repodata/" + sha256hex(fl) + "-filelists.xml" + flExt
	writeFile(t, filepath.Join(dir, primLoc), prim)
	writeFile(t, filepath.Join(dir, flLoc), fl)
	repomd := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>42</revision>
  <data type="primary">
    <checksum type="sha256">%s</checksum>
    <open-checksum type="sha256">%s</open-checksum>
    <location href="%s"/>
    <size>%d</size>
  </data>
  <data type="filelists">
    <checksum type="sha256">%s</checksum>
    <location href="%s"/>
  </data>
</repomd>
`, sha256hex(prim), sha256hex([]byte(fixturePrimary)), primLoc, len(prim), sha256hex(fl), flLoc)
	writeFile(t, filepath.Join(dir, "repodata", "repomd.xml"), []byte(repomd))
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
