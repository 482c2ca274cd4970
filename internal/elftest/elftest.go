// Package elftest builds tiny but real ELF files for tests: an ELF header,
// program headers (PT_LOAD, PT_INTERP, PT_DYNAMIC), the interpreter path, a
// dynamic string table and a dynamic array. The files have no sections and
// no code; debug/elf, readelf and the path closure read them like real
// objects, and the knobs below make them malformed on purpose.
package elftest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// Dyn is one raw dynamic entry.
type Dyn struct {
	Tag elf.DynTag
	Val uint64
}

// Spec describes an object. The zero value is a 64-bit little-endian x86-64
// shared object with no dependencies.
type Spec struct {
	Class   elf.Class   // ELFCLASS64 (default) or ELFCLASS32
	Data    elf.Data    // ELFDATA2LSB (default) or ELFDATA2MSB
	Machine elf.Machine // default EM_X86_64, or EM_386 for ELFCLASS32
	Type    elf.Type    // default ET_DYN

	Interp  string   // PT_INTERP; empty means none
	Needed  []string // DT_NEEDED, in order
	RPath   string   // DT_RPATH; empty means absent
	RunPath string   // DT_RUNPATH; empty means absent
	Soname  string   // DT_SONAME; empty means absent
	Static  bool     // no PT_DYNAMIC at all

	// Knobs for malformed files; zero means "correct value".
	Extra     []Dyn  // raw entries appended after the generated ones, before DT_NULL
	StrSz     uint64 // replaces DT_STRSZ
	StrTab    uint64 // replaces DT_STRTAB (a virtual address)
	DynFilesz uint64 // replaces PT_DYNAMIC p_filesz
	DynOffset uint64 // replaces PT_DYNAMIC p_offset
	NoStrTab  bool   // omit DT_STRTAB
	NoDynNull bool   // omit the terminating DT_NULL
	Trailer   []byte // appended at the end of the file (e.g. to make contents unique)
	LoadVaddr uint64 // base address of the single PT_LOAD; default 0x10000

	// DebugOnly makes a separate debug file, as `objcopy --only-keep-debug`
	// does: the program headers stay, but the bytes they point at are
	// garbage, and section headers mark .interp and .dynamic SHT_NOBITS.
	DebugOnly bool
}

// Build returns the bytes of the object described by s.
func Build(s Spec) []byte {
	if s.Class == elf.ELFCLASSNONE {
		s.Class = elf.ELFCLASS64
	}
	if s.Data == elf.ELFDATANONE {
		s.Data = elf.ELFDATA2LSB
	}
	if s.Machine == elf.EM_NONE {
		s.Machine = elf.EM_X86_64
		if s.Class == elf.ELFCLASS32 {
			s.Machine = elf.EM_386
		}
	}
	if s.Type == elf.ET_NONE {
		s.Type = elf.ET_DYN
	}
	base := s.LoadVaddr
	if base == 0 {
		base = 0x10000
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if s.Data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	is64 := s.Class == elf.ELFCLASS64
	ehsize, phentsize, word := 52, 32, 4
	if is64 {
		ehsize, phentsize, word = 64, 56, 8
	}

	// String table: offset 0 is the empty string.
	var strtab bytes.Buffer
	strtab.WriteByte(0)
	str := func(v string) uint64 {
		off := uint64(strtab.Len())
		strtab.WriteString(v)
		strtab.WriteByte(0)
		return off
	}
	var dyns []Dyn
	for _, n := range s.Needed {
		dyns = append(dyns, Dyn{elf.DT_NEEDED, str(n)})
	}
	if s.Soname != "" {
		dyns = append(dyns, Dyn{elf.DT_SONAME, str(s.Soname)})
	}
	if s.RPath != "" {
		dyns = append(dyns, Dyn{elf.DT_RPATH, str(s.RPath)})
	}
	if s.RunPath != "" {
		dyns = append(dyns, Dyn{elf.DT_RUNPATH, str(s.RunPath)})
	}

	nph := 1
	if s.Interp != "" {
		nph++
	}
	if !s.Static {
		nph++
	}
	interpOff := ehsize + nph*phentsize
	strOff := interpOff
	if s.Interp != "" {
		strOff += len(s.Interp) + 1
	}
	dynOff := align(strOff+strtab.Len(), word)

	strsz := uint64(strtab.Len())
	if s.StrSz != 0 {
		strsz = s.StrSz
	}
	strAddr := base + uint64(strOff)
	if s.StrTab != 0 {
		strAddr = s.StrTab
	}
	if !s.NoStrTab {
		dyns = append(dyns, Dyn{elf.DT_STRTAB, strAddr})
	}
	dyns = append(dyns, Dyn{elf.DT_STRSZ, strsz})
	dyns = append(dyns, s.Extra...)
	if !s.NoDynNull {
		dyns = append(dyns, Dyn{elf.DT_NULL, 0})
	}
	dynSize := len(dyns) * 2 * word
	if s.Static {
		dynSize = 0
	}
	total := dynOff + dynSize
	out := make([]byte, total)

	// ELF header.
	copy(out, elf.ELFMAG)
	out[elf.EI_CLASS] = byte(s.Class)
	out[elf.EI_DATA] = byte(s.Data)
	out[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	bo.PutUint16(out[16:], uint16(s.Type))
	bo.PutUint16(out[18:], uint16(s.Machine))
	bo.PutUint32(out[20:], uint32(elf.EV_CURRENT))
	if is64 {
		bo.PutUint64(out[24:], base) // e_entry
		bo.PutUint64(out[32:], uint64(ehsize))
		bo.PutUint64(out[40:], 0) // e_shoff
		bo.PutUint16(out[52:], uint16(ehsize))
		bo.PutUint16(out[54:], uint16(phentsize))
		bo.PutUint16(out[56:], uint16(nph))
		bo.PutUint16(out[58:], 64) // e_shentsize
	} else {
		bo.PutUint32(out[24:], uint32(base))
		bo.PutUint32(out[28:], uint32(ehsize))
		bo.PutUint32(out[32:], 0)
		bo.PutUint16(out[40:], uint16(ehsize))
		bo.PutUint16(out[42:], uint16(phentsize))
		bo.PutUint16(out[44:], uint16(nph))
		bo.PutUint16(out[46:], 40)
	}

	ph := ehsize
	putPhdr := func(typ elf.ProgType, flags elf.ProgFlag, off, vaddr, filesz, memsz, alignment uint64) {
		b := out[ph:]
		if is64 {
			bo.PutUint32(b[0:], uint32(typ))
			bo.PutUint32(b[4:], uint32(flags))
			bo.PutUint64(b[8:], off)
			bo.PutUint64(b[16:], vaddr)
			bo.PutUint64(b[24:], vaddr)
			bo.PutUint64(b[32:], filesz)
			bo.PutUint64(b[40:], memsz)
			bo.PutUint64(b[48:], alignment)
		} else {
			bo.PutUint32(b[0:], uint32(typ))
			bo.PutUint32(b[4:], uint32(off))
			bo.PutUint32(b[8:], uint32(vaddr))
			bo.PutUint32(b[12:], uint32(vaddr))
			bo.PutUint32(b[16:], uint32(filesz))
			bo.PutUint32(b[20:], uint32(memsz))
			bo.PutUint32(b[24:], uint32(flags))
			bo.PutUint32(b[28:], uint32(alignment))
		}
		ph += phentsize
	}
	if s.Interp != "" {
		n := uint64(len(s.Interp) + 1)
		putPhdr(elf.PT_INTERP, elf.PF_R, uint64(interpOff), base+uint64(interpOff), n, n, 1)
		copy(out[interpOff:], s.Interp)
	}
	putPhdr(elf.PT_LOAD, elf.PF_R|elf.PF_W, 0, base, uint64(total), uint64(total), 0x1000)
	if !s.Static {
		off, filesz := uint64(dynOff), uint64(dynSize)
		if s.DynOffset != 0 {
			off = s.DynOffset
		}
		if s.DynFilesz != 0 {
			filesz = s.DynFilesz
		}
		putPhdr(elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, off, base+uint64(dynOff), filesz, filesz, uint64(word))
		copy(out[strOff:], strtab.Bytes())
		p := dynOff
		for _, d := range dyns {
			if is64 {
				bo.PutUint64(out[p:], uint64(d.Tag))
				bo.PutUint64(out[p+8:], d.Val)
			} else {
				bo.PutUint32(out[p:], uint32(d.Tag))
				bo.PutUint32(out[p+4:], uint32(d.Val))
			}
			p += 2 * word
		}
	}
	if s.DebugOnly {
		for i := interpOff; i < total; i++ {
			out[i] = 0xa5
		}
		out = appendDebugSections(out, bo, is64, base, s.Interp, interpOff, dynOff, dynSize)
	}
	return append(out, s.Trailer...)
}

// appendDebugSections appends a section header table (null, .shstrtab,
// .interp and .dynamic as SHT_NOBITS) and points the ELF header at it.
func appendDebugSections(out []byte, bo binary.ByteOrder, is64 bool, base uint64, interp string, interpOff, dynOff, dynSize int) []byte {
	names := "\x00.shstrtab\x00.interp\x00.dynamic\x00"
	type sh struct {
		name, typ          uint32
		flags, addr, off   uint64
		size, align, entsz uint64
	}
	strOff := uint64(len(out))
	out = append(out, names...)
	secs := []sh{
		{},
		{name: 1, typ: uint32(elf.SHT_STRTAB), off: strOff, size: uint64(len(names)), align: 1},
	}
	if interp != "" {
		secs = append(secs, sh{name: 11, typ: uint32(elf.SHT_NOBITS), flags: uint64(elf.SHF_ALLOC),
			addr: base + uint64(interpOff), off: uint64(interpOff), size: uint64(len(interp) + 1), align: 1})
	}
	secs = append(secs, sh{name: 19, typ: uint32(elf.SHT_NOBITS), flags: uint64(elf.SHF_ALLOC | elf.SHF_WRITE),
		addr: base + uint64(dynOff), off: uint64(dynOff), size: uint64(dynSize), align: 8})
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	shoff := len(out)
	for _, x := range secs {
		if is64 {
			b := make([]byte, 64)
			bo.PutUint32(b[0:], x.name)
			bo.PutUint32(b[4:], x.typ)
			bo.PutUint64(b[8:], x.flags)
			bo.PutUint64(b[16:], x.addr)
			bo.PutUint64(b[24:], x.off)
			bo.PutUint64(b[32:], x.size)
			bo.PutUint64(b[48:], x.align)
			bo.PutUint64(b[56:], x.entsz)
			out = append(out, b...)
		} else {
			b := make([]byte, 40)
			bo.PutUint32(b[0:], x.name)
			bo.PutUint32(b[4:], x.typ)
			bo.PutUint32(b[8:], uint32(x.flags))
			bo.PutUint32(b[12:], uint32(x.addr))
			bo.PutUint32(b[16:], uint32(x.off))
			bo.PutUint32(b[20:], uint32(x.size))
			bo.PutUint32(b[32:], uint32(x.align))
			bo.PutUint32(b[36:], uint32(x.entsz))
			out = append(out, b...)
		}
	}
	if is64 {
		bo.PutUint64(out[40:], uint64(shoff))
		bo.PutUint16(out[60:], uint16(len(secs)))
		bo.PutUint16(out[62:], 1)
	} else {
		bo.PutUint32(out[32:], uint32(shoff))
		bo.PutUint16(out[48:], uint16(len(secs)))
		bo.PutUint16(out[50:], 1)
	}
	return out
}

func align(n, a int) int { return (n + a - 1) &^ (a - 1) }
