package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestMaxSizeFlag(t *testing.T) {
	if _, cli := parse(t, "--max-size", "512M"); cli.Build.MaxSize != 512<<20 {
		t.Errorf("build --max-size: %d", cli.Build.MaxSize)
	}
	if _, cli := parse(t, "resolve", "--max-size=1G", "x"); cli.Resolve.MaxSize != 1<<30 {
		t.Errorf("resolve --max-size: %d", cli.Resolve.MaxSize)
	}
	opt, err := (&BuildCmd{MaxSize: 4 << 10}).options(&Globals{env: envOf(nil)})
	if err != nil || opt.MaxSize != 4<<10 {
		t.Errorf("options: MaxSize %d, %v", opt.MaxSize, err)
	}
	code, out, errs := runCLI(t, nil, "--max-size", "1.5G")
	if code != 1 || out != "" || errs != "smith: --max-size: size \"1.5G\": want a whole number of bytes, optionally with K, M, G or T (binary units), e.g. 512M or 8G\n" {
		t.Errorf("bad value: exit %d, %q, %q", code, out, errs)
	}
}

// A build whose metadata decompresses past --max-size fails with one line
// naming the file and the flag.
func TestMaxSizeBuild(t *testing.T) {
	repoDir, err := filepath.Abs("../../testdata/repo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "repodata", "repomd.xml")); err != nil {
		t.Skipf("committed test repository missing: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smith.yaml"), []byte("package: coreutils\npaths: [/usr/bin/cat]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, map[string]string{"HOME": dir}, "-q", "-d", dir, "-i", filepath.Join(dir, "out.tar.gz"),
		"--repo", repoDir, "--cache-dir", filepath.Join(dir, "cache"), "--max-size", "4K")
	want := regexp.MustCompile(`(?m)^smith: repo repo: [0-9a-f]{64}-primary\.xml\.gz: exceeds the size limit \(--max-size 4K\): decompresses to more than 4096 bytes\n\z`)
	if code != 1 || out != "" || !want.MatchString(errs) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %s", code, out, errs, want)
	}
}
