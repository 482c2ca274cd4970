//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package repo

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock(2) on f, held until f is
// closed or the process ends. On a file system without locks it succeeds
// without one: cleanStaleTemps then falls back to the file's age.
func lockFile(f *os.File) error {
	if err := flockFile(f); err != nil && !noLocks(err) {
		return err
	}
	return nil
}

func flockFile(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

func noLocks(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)
}

// removeIfStale removes the temporary file p unless its writer still holds
// its lock. The removal happens under the lock, so a writer that created p
// but has not locked it yet notices (see createLockedTemp).
func removeIfStale(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	switch err := flockFile(f); {
	case err == nil:
		return os.Remove(p)
	case errors.Is(err, syscall.EWOULDBLOCK):
		return nil // a live writer's
	case noLocks(err):
		return removeIfOld(p)
	default:
		return err
	}
}
