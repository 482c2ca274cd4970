package extract

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// capNames is the Linux capability table (include/uapi/linux/capability.h),
// indexed by capability number. It is the set "all" and "=ep" expand to: a
// fixed table rather than the running kernel's CAP_LAST_CAP, so the result
// does not depend on the build machine.
var capNames = [...]string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner",
	"cap_fsetid", "cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap",
	"cap_linux_immutable", "cap_net_bind_service", "cap_net_broadcast",
	"cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
	"cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice",
	"cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod",
	"cap_lease", "cap_audit_write", "cap_audit_control", "cap_setfcap",
	"cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
	"cap_checkpoint_restore",
}

// vfs_cap_data (revision 2) constants from linux/capability.h.
const (
	vfsCapRevision2             = 0x02000000
	vfsCapFlagsEffective        = 0x000001
	xattrCapabilitySize         = 20
	allCaps              uint64 = 1<<len(capNames) - 1
)

// capSets are the three capability sets of a file, one bit per capability.
type capSets struct{ effective, permitted, inheritable uint64 }

// parseCaps parses the libcap text form rpm stores in FILECAPS (what
// cap_from_text accepts and cap_to_text writes): whitespace-separated
// clauses, each a comma-separated list of capability names (or "all", or
// nothing, meaning all) followed by one or more operator+flags groups:
// "cap_net_bind_service=ep", "cap_a,cap_b+ep", "=ep", "cap_x=eip",
// "all=p cap_setuid-p".
func parseCaps(text string) (capSets, error) {
	var s capSets
	for _, clause := range strings.Fields(text) {
		i := strings.IndexAny(clause, "=+-")
		if i < 0 {
			return s, fmt.Errorf("capability clause %q has no operator (=, + or -)", clause)
		}
		var list uint64
		if i == 0 {
			// libcap: an empty list means all capabilities, but only for "=".
			if clause[0] != '=' {
				return s, fmt.Errorf("capability clause %q: %c needs a list of capabilities", clause, clause[0])
			}
			list = allCaps
		} else {
			for _, name := range strings.Split(clause[:i], ",") {
				bits, err := capBits(name)
				if err != nil {
					return s, fmt.Errorf("capability clause %q: %w", clause, err)
				}
				list |= bits
			}
		}
		ops := clause[i:]
		for len(ops) > 0 {
			op := ops[0]
			j := 1
			for j < len(ops) && strings.IndexByte("eip", ops[j]) >= 0 {
				j++
			}
			flags := ops[1:j]
			if j < len(ops) && strings.IndexByte("=+-", ops[j]) < 0 {
				return s, fmt.Errorf("capability clause %q: unknown flag %q", clause, ops[j])
			}
			if op != '=' && flags == "" {
				return s, fmt.Errorf("capability clause %q: %c without flags", clause, op)
			}
			if op == '=' {
				s.effective &^= list
				s.permitted &^= list
				s.inheritable &^= list
			}
			for _, f := range flags {
				set := &s.permitted
				switch f {
				case 'e':
					set = &s.effective
				case 'i':
					set = &s.inheritable
				}
				if op == '-' {
					*set &^= list
				} else {
					*set |= list
				}
			}
			ops = ops[j:]
		}
	}
	return s, nil
}

// capBits returns the bit of one capability name (case-insensitive, as
// libcap) or number, or all bits for "all".
func capBits(name string) (uint64, error) {
	n := strings.ToLower(name)
	if n == "all" {
		return allCaps, nil
	}
	for i, c := range capNames {
		if n == c {
			return 1 << i, nil
		}
	}
	// libcap accepts plain numbers for capabilities it has no name for.
	if v, err := strconv.ParseUint(n, 10, 8); err == nil && v < 64 {
		return 1 << v, nil
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// capXattr encodes caps as the security.capability xattr value the kernel
// and setcap use: struct vfs_cap_data revision 2, little-endian, the
// effective set reduced to one flag (set when any effective bit is, as
// libcap's cap_set_file does). Empty sets yield no xattr at all: rpm's
// %caps(=) means "no capabilities", and an all-zero xattr would only be
// noise in image layers that rootless unpackers cannot even set.
func capXattr(text string) ([]byte, error) {
	s, err := parseCaps(text)
	if err != nil {
		return nil, err
	}
	if s == (capSets{}) {
		return nil, nil
	}
	magic := uint32(vfsCapRevision2)
	if s.effective != 0 {
		magic |= vfsCapFlagsEffective
	}
	b := make([]byte, xattrCapabilitySize)
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(s.permitted))
	binary.LittleEndian.PutUint32(b[8:], uint32(s.inheritable))
	binary.LittleEndian.PutUint32(b[12:], uint32(s.permitted>>32))
	binary.LittleEndian.PutUint32(b[16:], uint32(s.inheritable>>32))
	return b, nil
}
