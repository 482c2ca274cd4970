package rpmfixture

import (
	"bytes"
	"fmt"
)

// Entry is one raw cpio member. Tests that need a payload rpm would never
// write (names with "..", absolute names, data on the wrong hardlink
// member, a size that lies) set Spec.Entries; the header is still built
// from Spec.Files.
type Entry struct {
	Name  string // written verbatim, e.g. "./usr/bin/cat"
	Mode  uint32 // type and permission bits
	Data  []byte
	Ino   uint32
	Nlink uint32
	// Magic is "070701" (default), "070702" (with checksum) or "07070X"
	// (stripped: only Index is written, then Data).
	Magic string
	Index int // file index, for stripped entries
	// Size, when not negative, is written as the header's size instead of
	// len(Data): a payload that claims more (or less) than it holds.
	Size int64
	// Check overrides the 070702 checksum when non-zero.
	Check uint32
}

// NewEntry returns an Entry with Size unset (-1).
func NewEntry(name string, mode uint32, data []byte) Entry {
	return Entry{Name: name, Mode: mode, Data: data, Nlink: 1, Size: -1}
}

// WriteCpio serializes entries followed by the trailer (unless noTrailer).
func WriteCpio(entries []Entry, noTrailer bool) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		writeEntry(&b, e)
	}
	if !noTrailer {
		writeEntry(&b, Entry{Name: "TRAILER!!!", Nlink: 1, Size: -1})
	}
	return b.Bytes()
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

func writeEntry(b *bytes.Buffer, e Entry) {
	magic := e.Magic
	if magic == "" {
		magic = "070701"
	}
	if magic == "07070X" {
		fmt.Fprintf(b, "07070X%08x", e.Index)
		pad4(b)
		b.Write(e.Data)
		pad4(b)
		return
	}
	size := int64(len(e.Data))
	if e.Size >= 0 {
		size = e.Size
	}
	check := e.Check
	if magic == "070702" && check == 0 {
		for _, c := range e.Data {
			check += uint32(c)
		}
	}
	fmt.Fprintf(b, "%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		magic, e.Ino, e.Mode, 0, 0, e.Nlink, 0, size, 0, 1, 0, 0, len(e.Name)+1, check)
	b.WriteString(e.Name)
	b.WriteByte(0)
	pad4(b)
	b.Write(e.Data)
	pad4(b)
}
