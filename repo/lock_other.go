//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package repo

import "os"

func lockFile(*os.File) error { return nil }

func removeIfStale(p string) error { return removeIfOld(p) }
