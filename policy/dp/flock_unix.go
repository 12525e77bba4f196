//go:build unix

package dp

import (
	"os"
	"syscall"
)

// flock takes an advisory lock on f, waiting for it. Locks belong to the
// open file description, so two Ledgers on one path exclude each other
// whether they are in one process or two.
func flock(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func funlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

const haveFlock = true
