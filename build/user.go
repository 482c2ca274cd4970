package build

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultID is the uid and gid a microcontainer runs as unless smith.yaml
// says otherwise (the original smith's choice).
const DefaultID = 10

// The accounts every smith /etc/passwd and /etc/group start with, as in the
// original smith.
var (
	defaultUsers = []account{
		{"root", 0}, {"daemon", 1}, {"bin", 2}, {"sys", 3},
	}
	defaultGroups = []account{
		{"root", 0}, {"daemon", 1}, {"bin", 2}, {"sys", 3}, {"adm", 4}, {"tty", 5},
	}
)

type account struct {
	name string
	id   int
}

func idOf(list []account, name string) int {
	for _, a := range list {
		if a.name == name {
			return a.id
		}
	}
	return -1
}

func nameOf(list []account, id int) string {
	for _, a := range list {
		if a.id == id {
			return a.name
		}
	}
	return ""
}

// Group is a supplementary group of the run-as user.
type Group struct {
	Name string
	GID  int
}

// RunAs is who the container runs as and who owns its files.
type RunAs struct {
	UID, GID    int
	User, Group string
	// Named is true when user or group was given by name: the name has to
	// be resolvable inside the container, so smith writes /etc/passwd and
	// /etc/group (nss is turned on).
	Named bool
	// Groups are the supplementary groups, each with its gid (the primary
	// gid + 1, + 2, ...), the run-as user a member of each.
	Groups []Group
}

// ResolveUser applies the original smith's user rules:
//
//	""          10:10   smith:smith
//	"root"      0:10    root:smith
//	"root:root" 0:0     root:root
//	"foo:bar"   10:10   foo:bar
//	"1000:1000" 1000:1000 smith:smith
//
// Known names (root, daemon, bin, sys; groups also adm, tty) get their fixed
// ids; other names get 10. root: true means 0:0 whatever user says.
func ResolveUser(user string, root bool, groups []string) (RunAs, error) {
	if root {
		user = "root:root"
	}
	u, g, _ := strings.Cut(user, ":")
	if strings.Contains(g, ":") {
		return RunAs{}, fmt.Errorf("user: %q is not user[:group]", user)
	}
	r := RunAs{UID: idOf(defaultUsers, u), GID: idOf(defaultGroups, g)}
	if n, err := strconv.Atoi(u); err == nil {
		if n < 0 {
			return RunAs{}, fmt.Errorf("user: negative uid in %q", user)
		}
		r.UID, u = n, nameOf(defaultUsers, n)
	} else if u != "" {
		r.Named = true
	}
	if n, err := strconv.Atoi(g); err == nil {
		if n < 0 {
			return RunAs{}, fmt.Errorf("user: negative gid in %q", user)
		}
		r.GID, g = n, nameOf(defaultGroups, n)
	} else if g != "" {
		r.Named = true
	}
	if r.UID == -1 {
		r.UID = DefaultID
	}
	if r.GID == -1 {
		r.GID = DefaultID
	}
	if u == "" {
		u = "smith"
	}
	if g == "" {
		g = "smith"
	}
	r.User, r.Group = u, g
	next := r.GID
	seen := map[string]bool{g: true}
	for _, name := range groups {
		if seen[name] {
			continue
		}
		seen[name] = true
		if id := idOf(defaultGroups, name); id >= 0 {
			r.Groups = append(r.Groups, Group{Name: name, GID: id})
			continue
		}
		next++
		// The original wrote nothing for a gid that collided with a default
		// group (e.g. root:root plus groups: [mock] gave mock gid 1): skip
		// over those instead.
		for nameOf(defaultGroups, next) != "" {
			next++
		}
		r.Groups = append(r.Groups, Group{Name: name, GID: next})
	}
	return r, nil
}

// OCIUser is the config's User field: numeric, so that it works whether or
// not /etc/passwd exists in the image.
func (r RunAs) OCIUser() string { return fmt.Sprintf("%d:%d", r.UID, r.GID) }

// passwd renders /etc/passwd: the default accounts plus the run-as user
// unless it is one of them.
func (r RunAs) passwd() []byte {
	var b strings.Builder
	have := false
	for _, a := range defaultUsers {
		fmt.Fprintf(&b, "%s:x:%d:%d:%s:/write:\n", a.name, a.id, a.id, a.name)
		have = have || a.id == r.UID
	}
	if !have {
		fmt.Fprintf(&b, "%s:x:%d:%d:%s:/write:\n", r.User, r.UID, r.GID, r.User)
	}
	return []byte(b.String())
}

// group renders /etc/group: the default groups (the run-as user added as a
// member of those it is in), the primary group unless it is a default one,
// then the supplementary groups.
func (r RunAs) group() []byte {
	member := map[int]bool{}
	for _, g := range r.Groups {
		member[g.GID] = true
	}
	var b strings.Builder
	have := false
	for _, a := range defaultGroups {
		m := ""
		if member[a.id] {
			m = r.User
		}
		fmt.Fprintf(&b, "%s:x:%d:%s\n", a.name, a.id, m)
		have = have || a.id == r.GID
	}
	if !have {
		fmt.Fprintf(&b, "%s:x:%d:\n", r.Group, r.GID)
	}
	for _, g := range r.Groups {
		if idOf(defaultGroups, g.Name) >= 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:x:%d:%s\n", g.Name, g.GID, r.User)
	}
	return []byte(b.String())
}

const nsswitchConf = "passwd:     files\nshadow:     files\ngroup:      files\nhosts:      files dns\n"
