//go:build unix

package engine

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive advisory lock on f without waiting. Locks
// belong to the open file description: two engines exclude each other
// whether they are in one process or two, and the kernel drops the lock
// when its process dies, however it dies.
func tryLock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

// ownedByMe says fi (a sibling spill directory) is this user's: another
// user's directories are theirs to sweep.
func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

const oNoFollow = syscall.O_NOFOLLOW
