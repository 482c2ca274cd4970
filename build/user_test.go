package build

import (
	"reflect"
	"testing"
)

func TestResolveUser(t *testing.T) {
	tests := []struct {
		user        string
		root        bool
		groups      []string
		uid, gid    int
		u, g        string
		named       bool
		extraGroups []Group
	}{
		// The reference table.
		{user: "", uid: 10, gid: 10, u: "smith", g: "smith"},
		{user: "root", uid: 0, gid: 10, u: "root", g: "smith", named: true},
		{user: "root:root", uid: 0, gid: 0, u: "root", g: "root", named: true},
		{user: "foo:bar", uid: 10, gid: 10, u: "foo", g: "bar", named: true},
		{user: "1000:1000", uid: 1000, gid: 1000, u: "smith", g: "smith"},
		{root: true, uid: 0, gid: 0, u: "root", g: "root", named: true},
		{user: "foo:bar", root: true, uid: 0, gid: 0, u: "root", g: "root", named: true},
		// The original's own test table (nss_test.go).
		{user: "0:0", uid: 0, gid: 0, u: "root", g: "root"},
		{user: "daemon:daemon", uid: 1, gid: 1, u: "daemon", g: "daemon", named: true},
		{user: "1:1", uid: 1, gid: 1, u: "daemon", g: "daemon"},
		{user: "smith:0", uid: 10, gid: 0, u: "smith", g: "root", named: true},
		{user: "0:smith", uid: 0, gid: 10, u: "root", g: "smith", named: true},
		{user: "foo:1000", uid: 10, gid: 1000, u: "foo", g: "smith", named: true},
		{user: "1000:bar", uid: 1000, gid: 10, u: "smith", g: "bar", named: true},
		// Groups: gid+1, gid+2, ...; default groups keep their ids.
		{user: "1000:1000", groups: []string{"mock", "wheel", "mock"}, uid: 1000, gid: 1000, u: "smith", g: "smith",
			extraGroups: []Group{{"mock", 1001}, {"wheel", 1002}}},
		{groups: []string{"adm", "web"}, uid: 10, gid: 10, u: "smith", g: "smith",
			extraGroups: []Group{{"adm", 4}, {"web", 11}}},
		// A computed gid never collides with a default group.
		{user: "root:root", groups: []string{"mock"}, uid: 0, gid: 0, u: "root", g: "root", named: true,
			extraGroups: []Group{{"mock", 6}}},
	}
	for _, tt := range tests {
		r, err := ResolveUser(tt.user, tt.root, tt.groups)
		if err != nil {
			t.Errorf("%q root=%v: %v", tt.user, tt.root, err)
			continue
		}
		want := RunAs{UID: tt.uid, GID: tt.gid, User: tt.u, Group: tt.g, Named: tt.named, Groups: tt.extraGroups}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("%q root=%v groups=%v:\n got %+v\nwant %+v", tt.user, tt.root, tt.groups, r, want)
		}
	}
	for _, bad := range []string{"a:b:c", "-1", "0:-5"} {
		if _, err := ResolveUser(bad, false, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestNSSFiles(t *testing.T) {
	r, err := ResolveUser("app:web", false, []string{"mock", "adm"})
	if err != nil {
		t.Fatal(err)
	}
	wantPasswd := "root:x:0:0:root:/write:\ndaemon:x:1:1:daemon:/write:\nbin:x:2:2:bin:/write:\nsys:x:3:3:sys:/write:\n" +
		"app:x:10:10:app:/write:\n"
	if got := string(r.passwd()); got != wantPasswd {
		t.Errorf("passwd:\n%s\nwant:\n%s", got, wantPasswd)
	}
	wantGroup := "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:app\ntty:x:5:\nweb:x:10:\nmock:x:11:app\n"
	if got := string(r.group()); got != wantGroup {
		t.Errorf("group:\n%s\nwant:\n%s", got, wantGroup)
	}
	if r.OCIUser() != "10:10" {
		t.Errorf("OCIUser = %q", r.OCIUser())
	}
	root, _ := ResolveUser("root", false, nil)
	if got := string(root.passwd()); got != wantPasswd[:len(wantPasswd)-len("app:x:10:10:app:/write:\n")] {
		t.Errorf("root passwd has an extra line:\n%s", got)
	}
}
