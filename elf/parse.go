package elf

import (
	"bytes"
	delf "debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
)

// info is what the closure needs from one ELF object.
type info struct {
	class   delf.Class
	data    delf.Data
	machine delf.Machine

	interp     string
	needed     []string // distinct, in order
	rpath      []string // DT_RPATH entries (split on ':'), raw
	runpath    []string // DT_RUNPATH entries, raw
	hasRunpath bool     // a DT_RUNPATH tag is present (it disables DT_RPATH)
}

const maxInterp = 4096 // PATH_MAX

func isELF(b []byte) bool {
	return len(b) >= 4 && string(b[:4]) == delf.ELFMAG
}

// ident reads class, byte order and machine from an ELF header without
// parsing the rest, to test library candidates cheaply.
func ident(b []byte) (delf.Class, delf.Data, delf.Machine, bool) {
	if !isELF(b) || len(b) < 20 {
		return 0, 0, 0, false
	}
	class, data := delf.Class(b[delf.EI_CLASS]), delf.Data(b[delf.EI_DATA])
	var m uint16
	switch data {
	case delf.ELFDATA2LSB:
		m = binary.LittleEndian.Uint16(b[18:])
	case delf.ELFDATA2MSB:
		m = binary.BigEndian.Uint16(b[18:])
	default:
		return 0, 0, 0, false
	}
	return class, data, delf.Machine(m), true
}

// compatible reports whether a library candidate can satisfy a DT_NEEDED of
// an object like in (ld.so skips candidates of another class or machine).
func compatible(b []byte, in *info) bool {
	class, data, machine, ok := ident(b)
	return ok && class == in.class && data == in.data && machine == in.machine
}

// segment returns the bytes of a program header's file image, validated
// against the file.
func segment(b []byte, p *delf.Prog) ([]byte, error) {
	if p.Off > uint64(len(b)) || p.Filesz > uint64(len(b))-p.Off {
		return nil, fmt.Errorf("%v segment (offset %#x, size %#x) extends beyond the end of the file (size %#x)", p.Type, p.Off, p.Filesz, len(b))
	}
	return b[p.Off : p.Off+p.Filesz], nil
}

// parse reads the ELF header, PT_INTERP and the dynamic section of b. It
// reads the dynamic array through PT_DYNAMIC and the string table through
// the PT_LOAD segment that maps DT_STRTAB, as the loader does (section
// headers may be absent; they only serve to recognise separate debug
// files). Every offset, size and count is checked
// against the file before use, so a hostile file costs at most a pass over
// its own bytes.
func parse(b []byte) (*info, error) {
	f, err := delf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	in := &info{class: f.Class, data: f.Data, machine: f.Machine}
	if f.Class != delf.ELFCLASS32 && f.Class != delf.ELFCLASS64 {
		return nil, fmt.Errorf("unknown ELF class %v", f.Class)
	}
	if f.Type != delf.ET_EXEC && f.Type != delf.ET_DYN {
		return in, nil // relocatable objects and core files load nothing
	}
	var interp, dyn *delf.Prog
	var loads []*delf.Prog
	for _, p := range f.Progs {
		switch {
		case p.Type == delf.PT_INTERP && interp == nil:
			interp = p
		case p.Type == delf.PT_DYNAMIC && dyn == nil:
			dyn = p
		case p.Type == delf.PT_LOAD:
			loads = append(loads, p)
		}
	}
	if (interp != nil && inNobits(f, interp.Vaddr)) || (dyn != nil && inNobits(f, dyn.Vaddr)) {
		// A separate debug file (objcopy --only-keep-debug): the program
		// headers are the original's, the bytes they point at are not.
		return in, nil
	}
	if interp != nil {
		s, err := segment(b, interp)
		if err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		if len(s) == 0 || len(s) > maxInterp {
			return nil, fmt.Errorf("PT_INTERP of %d bytes", len(s))
		}
		in.interp = string(s)
	}
	if dyn == nil {
		return in, nil // static
	}
	d, err := segment(b, dyn)
	if err != nil {
		return nil, err
	}
	entsize := 16
	if f.Class == delf.ELFCLASS32 {
		entsize = 8
	}
	var (
		strtab, strsz        uint64
		haveStrtab, haveSize bool
		needed, rpath, runp  []uint64
	)
entries:
	for off := 0; off+entsize <= len(d); off += entsize {
		var tag, val uint64
		if entsize == 16 {
			tag, val = f.ByteOrder.Uint64(d[off:]), f.ByteOrder.Uint64(d[off+8:])
		} else {
			tag, val = uint64(f.ByteOrder.Uint32(d[off:])), uint64(f.ByteOrder.Uint32(d[off+4:]))
		}
		switch delf.DynTag(tag) {
		case delf.DT_NULL:
			break entries
		case delf.DT_NEEDED:
			needed = append(needed, val)
		case delf.DT_RPATH:
			rpath = append(rpath, val)
		case delf.DT_RUNPATH:
			runp = append(runp, val)
		case delf.DT_STRTAB:
			strtab, haveStrtab = val, true
		case delf.DT_STRSZ:
			strsz, haveSize = val, true
		}
	}
	in.hasRunpath = len(runp) > 0
	if len(needed)+len(rpath)+len(runp) == 0 {
		return in, nil
	}
	if !haveStrtab {
		return nil, fmt.Errorf("dynamic section has string references but no DT_STRTAB")
	}
	tab, err := stringTable(b, loads, strtab)
	if err != nil {
		return nil, err
	}
	if haveSize && strsz < uint64(len(tab)) {
		tab = tab[:strsz]
	}
	str := func(what string, off uint64) (string, error) {
		if off >= uint64(len(tab)) {
			return "", fmt.Errorf("%s string offset %#x outside the string table (%#x bytes)", what, off, len(tab))
		}
		s := tab[off:]
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			return "", fmt.Errorf("%s string at %#x is not terminated inside the string table", what, off)
		}
		return string(s[:i]), nil
	}
	seen := map[string]bool{}
	for _, off := range needed {
		s, err := str("DT_NEEDED", off)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, fmt.Errorf("empty DT_NEEDED entry")
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		if len(in.needed) == maxNeeded {
			return nil, fmt.Errorf("more than %d DT_NEEDED entries", maxNeeded)
		}
		in.needed = append(in.needed, s)
	}
	split := func(what string, offs []uint64) ([]string, error) {
		var out []string
		for _, off := range offs {
			s, err := str(what, off)
			if err != nil {
				return nil, err
			}
			for _, e := range strings.Split(s, ":") {
				if e == "" {
					continue
				}
				if len(out) == maxPathEntries {
					return nil, fmt.Errorf("more than %d %s entries", maxPathEntries, what)
				}
				out = append(out, e)
			}
		}
		return out, nil
	}
	if in.rpath, err = split("DT_RPATH", rpath); err != nil {
		return nil, err
	}
	if in.runpath, err = split("DT_RUNPATH", runp); err != nil {
		return nil, err
	}
	return in, nil
}

// inNobits reports whether addr lies in an allocated SHT_NOBITS section:
// memory that has no bytes in this file.
func inNobits(f *delf.File, addr uint64) bool {
	for _, s := range f.Sections {
		if s.Type == delf.SHT_NOBITS && s.Flags&delf.SHF_ALLOC != 0 && addr >= s.Addr && addr-s.Addr < s.Size {
			return true
		}
	}
	return false
}

// stringTable maps the virtual address of DT_STRTAB to file bytes through the
// PT_LOAD segment that contains it, and returns the bytes from there to the
// end of that segment's file image.
func stringTable(b []byte, loads []*delf.Prog, addr uint64) ([]byte, error) {
	for _, p := range loads {
		if addr < p.Vaddr || addr-p.Vaddr >= p.Filesz {
			continue
		}
		seg, err := segment(b, p)
		if err != nil {
			return nil, err
		}
		return seg[addr-p.Vaddr:], nil
	}
	return nil, fmt.Errorf("DT_STRTAB address %#x is not in the file image of any PT_LOAD segment", addr)
}
