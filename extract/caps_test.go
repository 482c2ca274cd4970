package extract

import (
	"encoding/hex"
	"strings"
	"testing"
)

// The expected bytes were written by setcap (libcap 2.66) on this machine and
// read back with os.Getxattr("security.capability").
func TestCapXattr(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"cap_net_bind_service=ep", "01000002 00040000 00000000 00000000 00000000"},
		{"cap_sys_ptrace,cap_sys_admin=ep", "01000002 00002800 00000000 00000000 00000000"},
		{"=ep", "01000002 ffffffff 00000000 ff010000 00000000"},
		{"cap_setuid=eip", "01000002 80000000 80000000 00000000 00000000"},
		{"cap_chown+p cap_kill=i", "00000002 01000000 20000000 00000000 00000000"},
		{"cap_net_raw=p", "00000002 00200000 00000000 00000000 00000000"},
		{"cap_checkpoint_restore,cap_bpf=ep", "01000002 00000000 00000000 80010000 00000000"},
		{"all=p cap_setuid-p", "00000002 7fffffff 00000000 ff010000 00000000"},
		{"CAP_NET_BIND_SERVICE+ep", "01000002 00040000 00000000 00000000 00000000"},
		{"cap_net_admin,cap_net_raw=ep", "01000002 00300000 00000000 00000000 00000000"},
		{"10=ep", "01000002 00040000 00000000 00000000 00000000"},
		{"cap_net_raw=p cap_net_raw+e", "01000002 00200000 00000000 00000000 00000000"},
		{"cap_kill=ep cap_kill-e", "00000002 20000000 00000000 00000000 00000000"},
		{"cap_kill=ei cap_kill=+p", "00000002 20000000 00000000 00000000 00000000"},
		{"cap_kill=e", "01000002 00000000 00000000 00000000 00000000"},
	} {
		got, err := capXattr(tc.text)
		if err != nil {
			t.Errorf("capXattr(%q): %v", tc.text, err)
			continue
		}
		if h := hex.EncodeToString(got); h != strings.ReplaceAll(tc.want, " ", "") {
			t.Errorf("capXattr(%q) = %s, want %s", tc.text, h, tc.want)
		}
	}
}

// Empty capability sets ("=", rpm's %caps(=)) set no xattr.
func TestCapXattrEmpty(t *testing.T) {
	for _, text := range []string{"", "=", " ", "cap_kill=p cap_kill-p"} {
		got, err := capXattr(text)
		if err != nil || got != nil {
			t.Errorf("capXattr(%q) = %x, %v; want nil, nil", text, got, err)
		}
	}
}

func TestCapXattrErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"cap_bogus=ep", `unknown capability "cap_bogus"`},
		{"cap_kill", "no operator"},
		{"+ep", "needs a list of capabilities"},
		{"cap_kill=ex", `unknown flag 'x'`},
		{"cap_kill+", "without flags"},
		{"cap_kill,=ep", `unknown capability ""`},
		{"64=p", "unknown capability"},
	} {
		_, err := capXattr(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("capXattr(%q) error = %v, want it to contain %q", tc.text, err, tc.want)
		}
	}
}
