package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRepomdReal(t *testing.T) {
	root := sharedTestdata(t)
	var files []string
	for _, pat := range []string{"distro/repo*/repodata/repomd.xml", "real/repodata/*/repodata/repomd.xml", "real/repodata/createrepo_c-small/*/repodata/repomd.xml", "real/repodata/fedora-32-repomd-metalink/repomd.xml"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		files = append(files, m...)
	}
	if len(files) < 15 {
		t.Fatalf("only %d repomd.xml files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		md, err := parseRepomd(data, f)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := md.Files["primary"]
		if !ok {
			if strings.Contains(f, "libdnf-gpg") {
				continue // sqlite only
			}
			t.Fatalf("%s: no primary among %v", f, md.Types)
		}
		if err := p.checkUsable(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if strings.Contains(f, "opensuse") && p.Checksum.Type != "sha1" {
			t.Errorf("%s: checksum type %q, want sha (sha1)", f, p.Checksum.Type)
		}
	}
}

func TestParseRepomdErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`<notrepomd/>`: "not a repomd.xml",
		`<repomd><data type="primary"/><data type="primary"/></repomd>`: "two <data",
		`<repomd><data><location href="x"/></data></repomd>`:            "has no type",
		`<repomd><data type="primary"><size>-1</size></data></repomd>`:  "invalid number",
		`<?xml version="1.0" encoding="latin1"?><repomd/>`:              "unsupported XML encoding",
	} {
		if _, err := parseRepomd([]byte(doc), "repomd.xml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", doc, want, err)
		}
	}
	for loc, ok := range map[string]bool{
		"repodata/x-primary.xml.gz": true,
		"./repodata/x":              true,
		"../x":                      false,
		"repodata/../../x":          false,
		"/etc/passwd":               false,
		"https://h/x":               true,
	} {
		if got := safeRelPath(loc) == nil; got != ok {
			t.Errorf("safeRelPath(%q) ok = %v", loc, got)
		}
	}
}

func TestParseMetalinkReal(t *testing.T) {
	f := filepath.Join(sharedTestdata(t, "real", "repodata", "fedora-32-repomd-metalink"), "metalink.xml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	ml, err := parseMetalink(data, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.BaseURLs) < 5 {
		t.Fatalf("%d mirrors", len(ml.BaseURLs))
	}
	for _, u := range ml.BaseURLs {
		if !strings.HasPrefix(u, "http") || !strings.HasSuffix(u, "/x86_64/") {
			t.Errorf("mirror %q", u)
		}
	}
	if ml.BaseURLs[0] != "http://fedora.tu-chemnitz.de/pub/linux/fedora/linux/updates/32/Everything/x86_64/" {
		t.Errorf("first mirror %q, want the preference-100 one", ml.BaseURLs[0])
	}
	var sha256s int
	for _, h := range ml.Hashes {
		if h.Type == "sha256" {
			sha256s++
		}
	}
	if sha256s != 4 {
		t.Errorf("%d sha256 hashes, want 4 (current and 3 alternates)", sha256s)
	}
	// The repomd.xml beside it is from another day: the metalink must
	// refuse it.
	repomd, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "repomd.xml"))
	if err := ml.verify(repomd, "repomd.xml", "test"); err == nil {
		t.Error("a repomd.xml the metalink does not list was accepted")
	}
}
