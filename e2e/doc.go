// Package e2e holds the end-to-end tests of smith: they build the smith
// binary once, run it the way a user does (the README's cat example, bad
// inputs, another user, another time zone and umask), unpack the images it
// writes and run them under bwrap.
//
// Tests that need a tool (bwrap, setpriv, createrepo_c, dnf, skopeo, umoci)
// or the shared test bed (../shared, or $SMITH_SHARED) skip with a message
// when it is missing, except under CI=true, where a missing tool is a
// failure: CI must run them all.
package e2e
