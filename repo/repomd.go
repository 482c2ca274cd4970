package repo

import (
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
)

// maxRepomdSize bounds repomd.xml and metalink documents (and mirrorlists
// and signatures), which are a few KB in practice.
const maxRepomdSize = 4 << 20

// repomd is the part of repomd.xml smith uses.
type repomd struct {
	Revision string
	Files    map[string]mdFile // by data type: "primary", "filelists", ...
	Types    []string          // data types in document order
}

// mdFile is one <data> entry.
type mdFile struct {
	Type         string
	Location     string // href, relative to the repository base
	Base         string // xml:base, if any
	Checksum     Checksum
	OpenChecksum Checksum
	Size         int64
	OpenSize     int64
	Timestamp    int64
}

// Wire types for repomd.xml. encoding/xml matches these names in any
// namespace, which is what we want; the document is small, so the
// reflection cost does not matter.
type xmlRepomd struct {
	XMLName  xml.Name    `xml:"repomd"`
	Revision string      `xml:"revision"`
	Data     []xmlMDData `xml:"data"`
}

type xmlMDData struct {
	Type         string      `xml:"type,attr"`
	Checksum     xmlChecksum `xml:"checksum"`
	OpenChecksum xmlChecksum `xml:"open-checksum"`
	Location     struct {
		Href string `xml:"href,attr"`
		Base string `xml:"http://www.w3.org/XML/1998/namespace base,attr"`
	} `xml:"location"`
	Size      string `xml:"size"`
	OpenSize  string `xml:"open-size"`
	Timestamp string `xml:"timestamp"`
}

type xmlChecksum struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// parseRepomd decodes repomd.xml. file names it in errors.
func parseRepomd(data []byte, file string) (*repomd, error) {
	if len(data) > maxRepomdSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxRepomdSize)
	}
	var x xmlRepomd
	d := newSmallXMLDecoder(data)
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("%s: not a repomd.xml: %w", file, err)
	}
	md := &repomd{Revision: strings.TrimSpace(x.Revision), Files: make(map[string]mdFile, len(x.Data))}
	for i, dd := range x.Data {
		f := mdFile{
			Type:         strings.TrimSpace(dd.Type),
			Location:     strings.TrimSpace(dd.Location.Href),
			Base:         strings.TrimSpace(dd.Location.Base),
			Checksum:     makeChecksum(dd.Checksum.Type, dd.Checksum.Value),
			OpenChecksum: makeChecksum(dd.OpenChecksum.Type, dd.OpenChecksum.Value),
		}
		var err error
		if f.Size, err = parseOptInt(dd.Size); err != nil {
			return nil, fmt.Errorf("%s: <data type=%q>: size: %w", file, f.Type, err)
		}
		if f.OpenSize, err = parseOptInt(dd.OpenSize); err != nil {
			return nil, fmt.Errorf("%s: <data type=%q>: open-size: %w", file, f.Type, err)
		}
		if f.Timestamp, err = parseOptInt(dd.Timestamp); err != nil {
			// Some generators write fractional timestamps; the value is
			// informational, so do not fail on it.
			f.Timestamp = 0
		}
		if f.Type == "" {
			return nil, fmt.Errorf("%s: <data> #%d has no type", file, i+1)
		}
		if _, dup := md.Files[f.Type]; dup {
			return nil, fmt.Errorf("%s: two <data type=%q> entries", file, f.Type)
		}
		md.Files[f.Type] = f
		md.Types = append(md.Types, f.Type)
	}
	return md, nil
}

// checkUsable validates an entry we are about to download and parse.
func (f mdFile) checkUsable(file string) error {
	if f.Location == "" {
		return fmt.Errorf("%s: <data type=%q> has no location", file, f.Type)
	}
	if err := safeRelPath(f.Location); err != nil && f.Base == "" {
		return fmt.Errorf("%s: <data type=%q>: %w", file, f.Type, err)
	}
	if err := validChecksum(f.Checksum); err != nil {
		return fmt.Errorf("%s: <data type=%q>: %w", file, f.Type, err)
	}
	return nil
}

// safeRelPath refuses locations that would leave the repository when
// joined to a local base directory.
func safeRelPath(p string) error {
	if strings.Contains(p, "://") {
		return nil // absolute URL, resolved elsewhere
	}
	c := path.Clean(p)
	if path.IsAbs(p) || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("location %q leaves the repository", p)
	}
	return nil
}

func parseOptInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	return n, nil
}

// refuseCharset makes encoding/xml reject non-UTF-8 documents with a clear
// message instead of its generic one.
func refuseCharset(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q (only UTF-8)", label)
}

// metalink is what a mirrormanager metalink tells us: mirrors of
// repomd.xml and the checksums repomd.xml may have.
type metalink struct {
	BaseURLs []string   // mirror base URLs, best preference first
	Hashes   []Checksum // acceptable repomd.xml checksums (current and alternates)
}

type xmlMetalink struct {
	Files []struct {
		Name         string            `xml:"name,attr"`
		Verification []xmlMetalinkHash `xml:"verification>hash"`
		Alternates   []struct {
			Verification []xmlMetalinkHash `xml:"verification>hash"`
		} `xml:"alternates>alternate"`
		URLs []struct {
			Protocol   string `xml:"protocol,attr"`
			Preference string `xml:"preference,attr"`
			Value      string `xml:",chardata"`
		} `xml:"resources>url"`
	} `xml:"files>file"`
}

type xmlMetalinkHash struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// parseMetalink decodes a metalink document for repomd.xml. Only http and
// https mirrors are kept; rsync and ftp are not something we speak.
func parseMetalink(data []byte, file string) (*metalink, error) {
	if len(data) > maxRepomdSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxRepomdSize)
	}
	var x xmlMetalink
	d := newSmallXMLDecoder(data)
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("%s: not a metalink: %w", file, err)
	}
	ml := &metalink{}
	for _, f := range x.Files {
		if f.Name != "repomd.xml" {
			continue
		}
		addHashes := func(hs []xmlMetalinkHash) {
			for _, h := range hs {
				c := makeChecksum(h.Type, h.Value)
				if validChecksum(c) == nil {
					ml.Hashes = append(ml.Hashes, c)
				}
			}
		}
		addHashes(f.Verification)
		for _, a := range f.Alternates {
			addHashes(a.Verification)
		}
		type mirror struct {
			url  string
			pref int
		}
		var ms []mirror
		for _, u := range f.URLs {
			v := strings.TrimSpace(u.Value)
			low := strings.ToLower(v)
			if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") {
				continue
			}
			v = strings.TrimSuffix(v, "repodata/repomd.xml")
			pref, _ := strconv.Atoi(u.Preference)
			ms = append(ms, mirror{v, pref})
		}
		// Higher preference first; ties keep document order.
		slices.SortStableFunc(ms, func(a, b mirror) int { return b.pref - a.pref })
		for _, m := range ms {
			ml.BaseURLs = append(ml.BaseURLs, m.url)
		}
	}
	if len(ml.BaseURLs) == 0 {
		return nil, fmt.Errorf("%s: no http(s) mirror for repomd.xml", file)
	}
	return ml, nil
}

// verifyMetalink checks repomd.xml against the metalink's hashes using the
// strongest algorithm the metalink offers.
func (ml *metalink) verify(data []byte, file, from string) error {
	for _, typ := range []string{"sha512", "sha384", "sha256", "sha224", "sha1"} {
		var want []Checksum
		for _, h := range ml.Hashes {
			if h.Type == typ {
				want = append(want, h)
			}
		}
		if len(want) == 0 {
			continue
		}
		h, _ := newHash(typ)
		h.Write(data)
		got := fmt.Sprintf("%x", h.Sum(nil))
		for _, w := range want {
			if w.Value == got {
				return nil
			}
		}
		return &ChecksumError{File: file, Expected: want[0], Actual: Checksum{Type: typ, Value: got}, URL: from}
	}
	return nil
}

// parseMirrorlist reads a mirrorlist: one base URL per line, '#' comments.
func parseMirrorlist(data []byte, file string) ([]string, error) {
	var urls []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		low := strings.ToLower(line)
		if strings.HasPrefix(low, "http://") || strings.HasPrefix(low, "https://") || strings.HasPrefix(low, "file://") {
			urls = append(urls, line)
		}
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%s: no mirror URL in the mirrorlist", file)
	}
	return urls, nil
}
