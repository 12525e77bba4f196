//go:build !unix

package engine

import (
	"errors"
	"os"
)

// Without flock no directory can be known abandoned: none is swept.
func tryLock(*os.File) error { return errors.ErrUnsupported }

func ownedByMe(os.FileInfo) bool { return false }

const oNoFollow = 0
