package repo

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// maxXMLDepth bounds how deeply the elements of repomd.xml and metalink
// documents may nest: real ones go 4 or 5 levels deep, while encoding/xml
// keeps every open element, so a document of nothing but start tags costs
// about 20 times its size in memory.
const maxXMLDepth = 64

// depthLimiter feeds an xml.Decoder the raw tokens of another, failing
// once elements nest deeper than maxXMLDepth. The outer decoder still
// matches end tags and translates name spaces.
type depthLimiter struct {
	d     *xml.Decoder
	depth int
}

func (l *depthLimiter) Token() (xml.Token, error) {
	t, err := l.d.RawToken()
	switch t.(type) {
	case xml.StartElement:
		l.depth++
		if l.depth > maxXMLDepth {
			return nil, fmt.Errorf("elements nested more than %d deep (line %d): not what a repository serves", maxXMLDepth, l.lineOf())
		}
	case xml.EndElement:
		l.depth--
	}
	return t, err
}

func (l *depthLimiter) lineOf() int {
	line, _ := l.d.InputPos()
	return line
}

// newSmallXMLDecoder returns a decoder for a small metadata document
// (repomd.xml, a metalink): no foreign charsets, a leading BOM skipped, and
// elements nested at most maxXMLDepth deep.
func newSmallXMLDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	d.CharsetReader = refuseCharset
	return xml.NewTokenDecoder(&depthLimiter{d: d})
}
