//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package lockfile

import (
	"errors"
	"os"
	"syscall"
)

func lock(f *os.File) error {
	if err := flock(f); err != nil && !noLocks(err) {
		return err
	}
	return nil
}

func flock(f *os.File) error {
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

// noLocks reports an error saying the file system has no flock(2).
func noLocks(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)
}

func removeIfStale(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	switch err := flock(f); {
	case err == nil:
		return os.RemoveAll(p)
	case errors.Is(err, syscall.EWOULDBLOCK):
		return nil // a live writer's
	case noLocks(err):
		return removeIfOld(p)
	default:
		return err
	}
}
