package dep

import (
	"encoding/json"
	"strings"
	"testing"
)

func mustRel(t testing.TB, s string) Relation {
	t.Helper()
	r, err := ParseRelation(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMatchesInline(t *testing.T) {
	tests := []struct {
		req, prov string
		want      bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"a >= 1.2", "a", true},                  // unversioned provide matches any version
		{"a", "a = 1.2", true},                   // unversioned require matches any version
		{"glibc = 2.14", "glibc = 2.14-5", true}, // no release on one side: not compared
		{"glibc = 2.14-5", "glibc = 2.14", true},
		{"glibc = 2.14-4", "glibc = 2.14-5", false},
		{"glibc > 2.14", "glibc = 2.14-5", false},
		{"glibc >= 2.14", "glibc = 2.14-5", true},
		{"openssl-libs >= 1:3.0.0", "openssl-libs = 1:3.0.19-2.el9", true},
		{"openssl-libs >= 1:3.0.0", "openssl-libs = 3.1.0-1.el9", false}, // missing epoch is 0
		{"openssl-libs >= 3.1", "openssl-libs = 1:3.0.19-2.el9", true},
		{"a < 2", "a > 3", false},
		{"a < 2", "a < 1", true},
		{"a > 2", "a < 3", true},
		{"a <> 2", "a = 2", false},
		{"a <> 2", "a = 3", true},
		{"a = 0:1.0", "a = 1.0", true},
	}
	for _, tt := range tests {
		req, prov := mustRel(t, tt.req), mustRel(t, tt.prov)
		if got := req.Matches(prov); got != tt.want {
			t.Errorf("(%s).Matches(%s) = %v, want %v", req, prov, got, tt.want)
		}
		if got := Overlap(prov, req); got != tt.want {
			t.Errorf("Overlap(%s, %s) = %v, want %v (not symmetric)", prov, req, got, tt.want)
		}
	}
}

func TestMatchesEVR(t *testing.T) {
	evr := ParseEVR("9.1-6.el9")
	for s, want := range map[string]bool{
		"coreutils < 9.1-12.el9": true,
		"coreutils > 9.1-6.el9":  false,
		"coreutils = 9.1":        true,
		"coreutils":              true,
		"coreutils >= 1:1":       false,
	} {
		if got := mustRel(t, s).MatchesEVR(evr); got != want {
			t.Errorf("(%s).MatchesEVR(%s) = %v, want %v", s, evr, got, want)
		}
	}
}

// TestMatchesRPMUpstream runs the 182 provide/require cases of rpm's
// rpmdepmatch.at.
func TestMatchesRPMUpstream(t *testing.T) {
	var data struct {
		Cases []struct {
			Provide, Require []string
			ExpectedMatch    int  `json:"expected_match"`
			RPM418           bool `json:"rpm_4_18_result"`
		}
	}
	if err := json.NewDecoder(openVector(t, "depmatch/rpm-upstream-depmatch.json")).Decode(&data); err != nil {
		t.Fatal(err)
	}
	if len(data.Cases) != 182 {
		t.Errorf("read %d cases, want 182", len(data.Cases))
	}
	for _, c := range data.Cases {
		prov, req := mustRel(t, strings.Join(c.Provide, " ")), mustRel(t, strings.Join(c.Require, " "))
		want := c.ExpectedMatch == 1
		if want != c.RPM418 {
			t.Errorf("vector %v/%v: expected and rpm 4.18 results differ", c.Provide, c.Require)
		}
		if got := req.Matches(prov); got != want {
			t.Errorf("require %q matches provide %q = %v, want %v", req, prov, got, want)
		}
	}
}

func TestParseFlag(t *testing.T) {
	for s, want := range map[string]Flag{
		"": Any, "EQ": EQ, "LT": LT, "GT": GT, "LE": LE, "GE": GE,
		"=": EQ, "==": EQ, "<": LT, ">": GT, "<=": LE, "=<": LE, ">=": GE, "=>": GE, "<>": LT | GT,
	} {
		got, err := ParseFlag(s)
		if err != nil || got != want {
			t.Errorf("ParseFlag(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseFlag("GTE"); err == nil {
		t.Error("ParseFlag(GTE): want an error")
	}
}

func TestRelationString(t *testing.T) {
	tests := []struct {
		r    Relation
		want string
	}{
		{Relation{Name: "bash"}, "bash"},
		{Relation{Name: "name", Flags: GE, EVR: EVR{"1", "2", "3"}}, "name >= 1:2-3"},
		{Relation{Name: "filesystem", Flags: GE, EVR: EVR{"0", "3", ""}}, "filesystem >= 3"},
		{Relation{Name: "x", Flags: GE, EVR: EVR{"0", "", "1"}}, "x >= 0:-1"},
		{Relation{Name: "a", Flags: LT, EVR: EVR{Version: "2"}}, "a < 2"},
		{Relation{Name: "a", Flags: LE, EVR: EVR{Version: "2"}}, "a <= 2"},
		{Relation{Name: "a", Flags: EQ, EVR: EVR{Version: "2", Release: "1.el9"}}, "a = 2-1.el9"},
		{Relation{Name: "a", Flags: LT | GT, EVR: EVR{Version: "2"}}, "a <> 2"},
		{Relation{Name: "(a or b)"}, "(a or b)"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestParseRelationErrors(t *testing.T) {
	for _, s := range []string{"", "a >=", "a GE 1", "a b c d", "a ~ 1"} {
		if _, err := ParseRelation(s); err == nil {
			t.Errorf("ParseRelation(%q): want an error", s)
		}
	}
}

func TestArch(t *testing.T) {
	for goarch, rpm := range map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "ppc64le": "ppc64le", "s390x": "s390x", "wasm": ""} {
		if got := ArchFromGo(goarch); got != rpm {
			t.Errorf("ArchFromGo(%q) = %q, want %q", goarch, got, rpm)
		}
	}
	for rpm, goarch := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i586": "386", "i386": "386", "noarch": "", "ppc64le": "ppc64le", "s390x": "s390x"} {
		if got := ArchToGo(rpm); got != goarch {
			t.Errorf("ArchToGo(%q) = %q, want %q", rpm, got, goarch)
		}
	}
	for target, want := range map[string]string{
		"x86_64":  "x86_64 noarch",
		"i686":    "i686 i586 i486 i386 noarch",
		"aarch64": "aarch64 noarch",
		"ppc64le": "ppc64le noarch",
		"s390x":   "s390x noarch",
		"noarch":  "noarch",
	} {
		if got := strings.Join(CompatibleArches(target), " "); got != want {
			t.Errorf("CompatibleArches(%q) = %q, want %q", target, got, want)
		}
	}
	if !Is64Bit("x86_64") || !Is64Bit("s390x") || Is64Bit("i686") || !Is64Bit("aarch64") {
		t.Error("Is64Bit wrong")
	}
}
