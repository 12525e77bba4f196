//go:build !unix

package dp

import (
	"errors"
	"os"
)

// Without flock two processes could both spend the same budget, so
// OpenLedger refuses to run (haveFlock is false) rather than risk it.
func flock(*os.File, bool) error {
	return errors.New("dp: file locking is not supported on this platform")
}

func funlock(*os.File) error { return nil }

const haveFlock = false
