package repo

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// xmlScanner is a small streaming XML tokenizer for repodata. encoding/xml
// spends most of its time building tokens, attribute slices and namespace
// maps we never look at; primary.xml of a big repository is tens of MB, so
// this scanner returns slices of its buffer instead and leaves decoding to
// the caller, who only converts the few values it keeps.
//
// What it does check: tags are balanced, there is one root element, no text
// outside it, tokens and nesting are bounded, entities are the predefined
// ones or character references. What it does not: DTDs (skipped, so their
// entities are unknown and rejected), namespace URIs (prefixes are stripped
// from element names: "rpm:entry" and "entry" are the same element, which is
// what lets us read both createrepo output and prefix-less re-serialisations).
type xmlScanner struct {
	r    io.Reader
	buf  []byte
	pos  int // next unread byte in buf
	end  int // end of valid data in buf
	eof  bool
	rerr error
	// consumed counts bytes dropped from the front of buf, so errors can
	// give a byte offset into the document.
	consumed int64

	maxToken int
	maxDepth int
	file     string // for error messages

	stack    []string
	rootSeen bool
	intern   map[string]string

	// The current token; slices are valid until the next call to next.
	kind       tokKind
	name       []byte // local name, prefix stripped
	attrs      []byte // raw attributes of a start tag
	text       []byte // raw character data (entities not decoded unless cdata)
	cdata      bool
	pendingEnd bool // a self-closing tag was returned; its end comes next

	started bool     // the prolog has been checked
	scratch []byte   // reused by readText
	names   []string // distinct element names seen, see elemName
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokStart
	tokEnd
	tokText
)

const (
	defaultMaxToken = 16 << 20
	defaultMaxDepth = 64
	// textChunk is the size past which character data is returned in
	// pieces rather than growing the buffer: descriptions may be large
	// and we usually skip them.
	textChunk = 1 << 20
)

func newXMLScanner(r io.Reader, file string) *xmlScanner {
	return &xmlScanner{
		r:        r,
		buf:      make([]byte, 256<<10),
		maxToken: defaultMaxToken,
		maxDepth: defaultMaxDepth,
		file:     file,
		intern:   make(map[string]string, 1024),
	}
}

// errorf formats a syntax error with the file name and byte offset.
func (s *xmlScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: offset %d: %s", s.file, s.consumed+int64(s.pos), fmt.Sprintf(format, args...))
}

// fill reads more input into buf, keeping buf[pos:end]. It returns io.EOF
// when the input is exhausted and no byte was added.
func (s *xmlScanner) fill() error {
	if s.eof {
		return io.EOF
	}
	if s.rerr != nil {
		return s.rerr
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.consumed += int64(s.pos)
		s.pos, s.end = 0, n
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.maxToken {
			return s.errorf("XML token larger than %d bytes (corrupt or hostile metadata)", s.maxToken)
		}
		nb := make([]byte, min(2*len(s.buf), s.maxToken))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for i := 0; i < 100; i++ {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
			if n == 0 {
				return io.EOF
			}
			return nil
		}
		if err != nil {
			s.rerr = fmt.Errorf("%s: %w", s.file, err)
			if n == 0 {
				return s.rerr
			}
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	s.rerr = fmt.Errorf("%s: %w", s.file, io.ErrNoProgress)
	return s.rerr
}

// ensure makes at least n unread bytes available; false at end of input.
func (s *xmlScanner) ensure(n int) (bool, error) {
	for s.end-s.pos < n {
		if err := s.fill(); err == io.EOF {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return true, nil
}

// index returns the offset, relative to pos, of the first c at or after
// relative offset from, reading more input as needed; -1 at end of input.
func (s *xmlScanner) index(from int, c byte) (int, error) {
	for {
		if i := bytes.IndexByte(s.buf[s.pos+from:s.end], c); i >= 0 {
			return from + i, nil
		}
		from = s.end - s.pos
		if err := s.fill(); err == io.EOF {
			return -1, nil
		} else if err != nil {
			return -1, err
		}
	}
}

// indexSeq is index for a multi-byte terminator such as "-->".
func (s *xmlScanner) indexSeq(from int, seq string) (int, error) {
	for {
		if i := bytes.Index(s.buf[s.pos+from:s.end], []byte(seq)); i >= 0 {
			return from + i, nil
		}
		from = max(from, s.end-s.pos-len(seq)+1)
		if err := s.fill(); err == io.EOF {
			return -1, nil
		} else if err != nil {
			return -1, err
		}
	}
}

// next advances to the next start tag, end tag or text. Comments,
// processing instructions and the DOCTYPE are skipped. At the end of input
// it returns kind tokEOF, or an error when elements are still open.
func (s *xmlScanner) next() error {
	s.cdata = false
	if s.pendingEnd {
		s.pendingEnd = false
		s.kind = tokEnd
		s.stack = s.stack[:len(s.stack)-1]
		return nil
	}
	if !s.started {
		s.started = true
		if err := s.prolog(); err != nil {
			return err
		}
	}
	for {
		if s.pos >= s.end {
			if err := s.fill(); err == io.EOF {
				return s.finish()
			} else if err != nil {
				return err
			}
		}
		if s.buf[s.pos] != '<' {
			return s.scanText()
		}
		ok, err := s.ensure(2)
		if err != nil {
			return err
		}
		if !ok {
			return s.errorf("unexpected end of file after '<'")
		}
		switch s.buf[s.pos+1] {
		case '/':
			return s.scanEndTag()
		case '?':
			if err := s.skipTo(2, "?>"); err != nil {
				return err
			}
		case '!':
			handled, err := s.scanBang()
			if err != nil || handled {
				return err
			}
		default:
			return s.scanStartTag()
		}
	}
}

// prolog skips a byte order mark and checks the XML declaration's
// encoding: we read bytes as UTF-8 and must not silently misread another
// encoding.
func (s *xmlScanner) prolog() error {
	if _, err := s.ensure(3); err != nil {
		return err
	}
	if bytes.HasPrefix(s.buf[s.pos:s.end], []byte("\xef\xbb\xbf")) {
		s.pos += 3
	}
	if ok, err := s.ensure(6); err != nil || !ok || !bytes.HasPrefix(s.buf[s.pos:s.end], []byte("<?xml")) || !isSpaceByte(s.buf[s.pos+5]) {
		return err
	}
	end, err := s.indexSeq(5, "?>")
	if err != nil || end < 0 {
		return err // the main loop reports the unterminated declaration
	}
	decl := s.buf[s.pos+5 : s.pos+end]
	if i := bytes.Index(decl, []byte("encoding")); i >= 0 {
		it := attrIter{rest: decl[i:]}
		if _, v, ok := it.next(); ok {
			switch strings.ToLower(string(v)) {
			case "utf-8", "utf8", "us-ascii", "ascii":
			default:
				return s.errorf("unsupported XML encoding %q (only UTF-8)", v)
			}
		}
	}
	return nil
}

// finish checks the document is complete at the end of input.
func (s *xmlScanner) finish() error {
	if len(s.stack) > 0 {
		return s.errorf("unexpected end of file inside <%s> (truncated file?)", s.stack[len(s.stack)-1])
	}
	if !s.rootSeen {
		return s.errorf("no root element (empty or truncated file?)")
	}
	s.kind = tokEOF
	return nil
}

func (s *xmlScanner) skipTo(from int, seq string) error {
	i, err := s.indexSeq(from, seq)
	if err != nil {
		return err
	}
	if i < 0 {
		return s.errorf("unexpected end of file: unterminated markup, want %q", seq)
	}
	s.pos += i + len(seq)
	return nil
}

// scanBang handles "<!": comments, CDATA and DOCTYPE. It reports whether a
// token (CDATA text) was produced.
func (s *xmlScanner) scanBang() (bool, error) {
	ok, err := s.ensure(9)
	if err != nil {
		return false, err
	}
	rest := s.buf[s.pos:s.end]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		return false, s.skipTo(4, "-->")
	case ok && bytes.HasPrefix(rest, []byte("<![CDATA[")):
		if len(s.stack) == 0 {
			return false, s.errorf("CDATA outside the root element")
		}
		i, err := s.indexSeq(9, "]]>")
		if err != nil {
			return false, err
		}
		if i < 0 {
			return false, s.errorf("unexpected end of file inside CDATA")
		}
		s.kind, s.cdata = tokText, true
		s.text = s.buf[s.pos+9 : s.pos+i]
		s.pos += i + 3
		return true, nil
	case ok && bytes.HasPrefix(rest, []byte("<!DOCTYPE")):
		if s.rootSeen {
			return false, s.errorf("DOCTYPE after the root element")
		}
		// Skip to the '>' that closes the declaration, past any internal
		// subset in brackets and quoted literals.
		depth, quote := 0, byte(0)
		for i := 9; ; i++ {
			if ok, err := s.ensure(i + 1); err != nil {
				return false, err
			} else if !ok {
				return false, s.errorf("unexpected end of file inside DOCTYPE")
			}
			c := s.buf[s.pos+i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '[':
				depth++
			case c == ']':
				depth--
			case c == '>' && depth <= 0:
				s.pos += i + 1
				return false, nil
			}
		}
	}
	return false, s.errorf("unsupported markup %q", truncateBytes(rest, 12))
}

func (s *xmlScanner) scanText() error {
	var text []byte
	from := 0
	for {
		if i := bytes.IndexByte(s.buf[s.pos+from:s.end], '<'); i >= 0 {
			text = s.buf[s.pos : s.pos+from+i]
			break
		}
		from = s.end - s.pos
		if from >= textChunk {
			// A long run of text: hand it out in pieces instead of
			// growing the buffer, but never split an entity reference.
			text = s.buf[s.pos:s.end]
			if k := bytes.LastIndexByte(text, '&'); k > 0 && bytes.IndexByte(text[k:], ';') < 0 {
				text = text[:k]
			}
			break
		}
		if err := s.fill(); err == io.EOF {
			text = s.buf[s.pos:s.end]
			break
		} else if err != nil {
			return err
		}
	}
	s.pos += len(text)
	if len(s.stack) == 0 && !isSpace(text) {
		return s.errorf("text outside the root element: %q", truncateBytes(text, 20))
	}
	s.kind, s.text = tokText, text
	return nil
}

func (s *xmlScanner) scanEndTag() error {
	i, err := s.index(2, '>')
	if err != nil {
		return err
	}
	if i < 0 {
		return s.errorf("unexpected end of file inside an end tag")
	}
	raw := bytes.TrimRight(s.buf[s.pos+2:s.pos+i], " \t\r\n")
	name := localName(raw)
	if len(s.stack) == 0 {
		return s.errorf("unexpected end tag </%s>", raw)
	}
	if top := s.stack[len(s.stack)-1]; top != string(name) {
		return s.errorf("end tag </%s> does not match <%s>", raw, top)
	}
	s.stack = s.stack[:len(s.stack)-1]
	s.kind, s.name = tokEnd, name
	s.pos += i + 1
	return nil
}

func (s *xmlScanner) scanStartTag() error {
	// Name: up to whitespace, '/' or '>'.
	n := 1
name:
	for {
		for ; s.pos+n < s.end; n++ {
			switch s.buf[s.pos+n] {
			case ' ', '\t', '\n', '\r', '/', '>':
				break name
			case '<', '"', '\'', '=':
				return s.errorf("invalid character %q in element name", s.buf[s.pos+n])
			}
		}
		if ok, err := s.ensure(n + 1); err != nil {
			return err
		} else if !ok {
			return s.errorf("unexpected end of file inside a start tag")
		}
	}
	if n == 1 {
		return s.errorf("empty element name")
	}
	// Attributes: up to the '>' outside quotes.
	i := n
attrs:
	for {
		for s.pos+i < s.end {
			switch c := s.buf[s.pos+i]; c {
			case '"', '\'':
				j, err := s.index(i+1, c)
				if err != nil {
					return err
				}
				if j < 0 {
					return s.errorf("unexpected end of file inside an attribute value")
				}
				i = j + 1
			case '<':
				return s.errorf("'<' inside a start tag")
			case '>':
				break attrs
			default:
				i++
			}
		}
		if ok, err := s.ensure(i + 1); err != nil {
			return err
		} else if !ok {
			return s.errorf("unexpected end of file inside a start tag")
		}
	}
	self := s.buf[s.pos+i-1] == '/' && i-1 >= n
	attrEnd := i
	if self {
		attrEnd = i - 1
	}
	if s.rootSeen && len(s.stack) == 0 {
		return s.errorf("second root element <%s>", s.buf[s.pos+1:s.pos+n])
	}
	if len(s.stack) >= s.maxDepth {
		return s.errorf("elements nested deeper than %d (corrupt or hostile metadata)", s.maxDepth)
	}
	s.rootSeen = true
	s.name = localName(s.buf[s.pos+1 : s.pos+n])
	s.attrs = s.buf[s.pos+n : s.pos+attrEnd]
	s.stack = append(s.stack, s.elemName(s.name))
	s.kind = tokStart
	s.pendingEnd = self
	s.pos += i + 1
	return nil
}

// localName strips a namespace prefix.
func localName(b []byte) []byte {
	if i := bytes.LastIndexByte(b, ':'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// str returns b as an interned string: names, architectures, versions and
// dependency names repeat thousands of times in primary.xml, and sharing
// them saves both allocations and memory. The table lives and dies with
// one scanner.
func (s *xmlScanner) str(b []byte) string {
	if v, ok := s.intern[string(b)]; ok {
		return v
	}
	v := string(b)
	s.intern[v] = v
	return v
}

// elemName returns an element name for the open-element stack. The few
// distinct names of a document are kept in a small list: cheaper than a
// map lookup on every tag.
func (s *xmlScanner) elemName(b []byte) string {
	for _, n := range s.names {
		if n == string(b) {
			return n
		}
	}
	n := string(b)
	if len(s.names) < 64 {
		s.names = append(s.names, n)
	}
	return n
}

// skip consumes the rest of the element whose start tag was just returned.
func (s *xmlScanner) skip() error {
	depth := len(s.stack)
	for len(s.stack) >= depth {
		if err := s.next(); err != nil {
			return err
		}
		if s.kind == tokEOF {
			return s.errorf("unexpected end of file")
		}
	}
	return nil
}

// readText returns the character data of the element whose start tag was
// just returned, and consumes its end tag. Child elements are an error:
// the elements we read text from have none. At most limit bytes are kept.
func (s *xmlScanner) readText(limit int, intern bool) (string, error) {
	acc := s.scratch[:0]
	for {
		if err := s.next(); err != nil {
			return "", err
		}
		switch s.kind {
		case tokEnd:
			s.scratch = acc
			if intern {
				return s.str(acc), nil
			}
			return string(acc), nil
		case tokStart:
			return "", s.errorf("unexpected element <%s> inside text", s.name)
		case tokText:
			if len(acc)+len(s.text) > limit {
				return "", s.errorf("text longer than %d bytes", limit)
			}
			var err error
			if acc, err = appendText(acc, s.text, s.cdata); err != nil {
				return "", s.errorf("%v", err)
			}
		default:
			return "", s.errorf("unexpected end of file")
		}
	}
}

func appendText(dst, text []byte, cdata bool) ([]byte, error) {
	if cdata {
		return append(dst, text...), nil
	}
	return unescape(dst, text)
}

// attrIter walks the raw attribute text of a start tag.
type attrIter struct {
	rest []byte
	err  error
}

// next returns the next attribute name (as written, prefix included) and
// raw value (entities not decoded).
func (it *attrIter) next() (name, value []byte, ok bool) {
	b := trimSpaceLeft(it.rest)
	if len(b) == 0 {
		return nil, nil, false
	}
	eq := bytes.IndexByte(b, '=')
	if eq <= 0 {
		it.err = fmt.Errorf("malformed attribute %q", truncateBytes(b, 20))
		return nil, nil, false
	}
	name = bytes.TrimRight(b[:eq], " \t\r\n")
	b = trimSpaceLeft(b[eq+1:])
	if len(b) == 0 || (b[0] != '"' && b[0] != '\'') {
		it.err = fmt.Errorf("attribute %s: value is not quoted", name)
		return nil, nil, false
	}
	end := bytes.IndexByte(b[1:], b[0])
	if end < 0 {
		it.err = fmt.Errorf("attribute %s: unterminated value", name)
		return nil, nil, false
	}
	value = b[1 : 1+end]
	it.rest = b[2+end:]
	if len(it.rest) > 0 && !isSpaceByte(it.rest[0]) {
		it.err = fmt.Errorf("attribute %s: no space before the next attribute", name)
		return nil, nil, false
	}
	return name, value, true
}

// attrString decodes an attribute value into a string, interned when the
// value is likely to repeat.
func (s *xmlScanner) attrString(v []byte, intern bool) (string, error) {
	if bytes.IndexByte(v, '&') >= 0 {
		d, err := unescape(nil, v)
		if err != nil {
			return "", s.errorf("%v", err)
		}
		v = d
	}
	if intern {
		return s.str(v), nil
	}
	return string(v), nil
}

// unescape appends text with entity and character references decoded.
func unescape(dst, text []byte) ([]byte, error) {
	for {
		i := bytes.IndexByte(text, '&')
		if i < 0 {
			return append(dst, text...), nil
		}
		dst = append(dst, text[:i]...)
		text = text[i:]
		semi := bytes.IndexByte(text, ';')
		if semi < 0 || semi > 12 {
			return nil, fmt.Errorf("unterminated entity reference %q", truncateBytes(text, 12))
		}
		ref := text[1:semi]
		text = text[semi+1:]
		switch string(ref) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			if len(ref) < 2 || ref[0] != '#' {
				return nil, fmt.Errorf("unknown entity &%s;", ref)
			}
			var n uint64
			var err error
			if ref[1] == 'x' {
				n, err = strconv.ParseUint(string(ref[2:]), 16, 32)
			} else {
				n, err = strconv.ParseUint(string(ref[1:]), 10, 32)
			}
			r := rune(n)
			if err != nil || n == 0 || n > utf8.MaxRune || !utf8.ValidRune(r) {
				return nil, fmt.Errorf("invalid character reference &%s;", ref)
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isSpace(b []byte) bool {
	for _, c := range b {
		if !isSpaceByte(c) {
			return false
		}
	}
	return true
}

func trimSpaceLeft(b []byte) []byte {
	for len(b) > 0 && isSpaceByte(b[0]) {
		b = b[1:]
	}
	return b
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
