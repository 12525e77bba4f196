package chain

import (
	"os"
	"syscall"
)

// fdatasync flushes a file's data (the head file never changes size).
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
