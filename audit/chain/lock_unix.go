//go:build unix

package chain

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock, failing if another process
// holds it. It is released when the file is closed.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
