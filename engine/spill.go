package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"lienthong/planner"
	"lienthong/planner/sqlgen"
)

// The residual's spill directory (issue 11: spill files on every exit
// path). Each engine spills into a directory of its own,
// <duckdb_temp_directory>/lienthong-spill-*, holding a lock file flock'd
// for the engine's life. Close removes the directory; a process that dies
// without closing (SIGKILL, the OOM killer, a power cut) leaves it, and
// the kernel drops its lock. The next engine to start on the same
// temp directory sweeps every sibling whose lock it can take: its owner
// is gone. A live engine's lock cannot be taken, so its directory stays.

const (
	spillPrefix = "lienthong-spill-"
	spillLock   = "lock"
	// A directory is made under this prefix (never swept: it has no lock
	// yet) and renamed to spillPrefix once its lock is held, so a sweeper
	// never meets a directory whose owner has not locked it yet.
	spillStaging = ".lienthong-spill-new-"
)

type spillDir struct {
	path string
	lock *os.File // holds the flock; closing it releases it
}

// newSpillDir makes and locks a spill directory under base.
func newSpillDir(base string) (*spillDir, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp(base, spillStaging)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(staging, spillLock), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err == nil {
		err = tryLock(f)
		if errors.Is(err, errors.ErrUnsupported) {
			err = nil // no flock here: Close still removes it
		}
	}
	path := filepath.Join(base, spillPrefix+strings.TrimPrefix(filepath.Base(staging), spillStaging))
	if err == nil {
		err = os.Rename(staging, path)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.RemoveAll(staging)
		return nil, err
	}
	return &spillDir{path: path, lock: f}, nil
}

// remove deletes the directory, then drops its lock.
func (d *spillDir) remove() error {
	err := os.RemoveAll(d.path)
	return errors.Join(err, d.lock.Close())
}

// sweepSpill removes the spill directories under base that no live
// engine holds (all but keep). It returns what it removed. A directory
// without a lock file is one of a lienthong before the lock (or one whose
// creation was cut short): nobody can hold it, it goes too.
func sweepSpill(base, keep string) []string {
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var removed []string
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), spillStaging) && ent.IsDir() {
			// Its maker died between mkdir and rename (or is in that
			// instant now: hence the age).
			if fi, err := ent.Info(); err == nil && ownedByMe(fi) && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(filepath.Join(base, ent.Name()))
			}
			continue
		}
		if !strings.HasPrefix(ent.Name(), spillPrefix) || !ent.IsDir() {
			continue // not ours, or a symlink (never followed)
		}
		path := filepath.Join(base, ent.Name())
		if path == keep {
			continue
		}
		fi, err := os.Lstat(path)
		if err != nil || !fi.IsDir() || !ownedByMe(fi) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(path, spillLock), os.O_RDWR|oNoFollow, 0)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			continue
		default:
			if tryLock(f) != nil {
				f.Close() // held: its engine is alive (or no flock here)
				continue
			}
		}
		// Ours now: nobody else can take it while f holds the lock.
		if os.RemoveAll(path) == nil {
			removed = append(removed, path)
		}
		if f != nil {
			f.Close()
		}
	}
	return removed
}

// ConfigureResidual bounds the residual DuckDB: memoryLimit (e.g. "4GB")
// caps its memory, and tempDirectory is where it spills joins, sorts and
// aggregations that outgrow it: a locked subdirectory of it of this
// engine's own is made (lienthong-spill-*), removed by Close, and the
// directories of engines that died without closing are swept. Empty
// values keep what is set (New sets 25% of RAM and the system's temporary
// directory).
func (e *Engine) ConfigureResidual(memoryLimit, tempDirectory string) error {
	ctx := context.Background()
	set := func(name, value string) error {
		if _, err := e.residual.ExecContext(ctx, "SET "+name+" = "+sqlgen.QuoteString(sqlgen.DuckDB, value)); err != nil {
			return fmt.Errorf("engine: %s %q: %w", name, value, err)
		}
		return nil
	}
	if memoryLimit != "" {
		if err := set("memory_limit", memoryLimit); err != nil {
			return err
		}
	}
	// DuckDB's allocator (its own jemalloc, linked in) keeps the pages a
	// query freed until more allocations come: an idle node stayed at its
	// peak (RSS 345 MB after a 256MB-limit sort, 73 MB before). Its
	// background threads give them back within about a second. The
	// setting is the process's, for every DuckDB in it.
	if err := set("allocator_background_threads", "true"); err != nil {
		return err
	}
	if tempDirectory == "" {
		return nil
	}
	d, err := newSpillDir(tempDirectory)
	if err != nil {
		return fmt.Errorf("engine: temp_directory: %w", err)
	}
	if err := set("temp_directory", d.path); err != nil {
		d.remove()
		return err
	}
	e.spillMu.Lock()
	old := e.spill
	e.spill = d
	e.spillMu.Unlock()
	if old != nil {
		old.remove()
	}
	sweepSpill(tempDirectory, d.path)
	return nil
}

// SpillDirectory is the residual's spill directory ("" once closed).
func (e *Engine) SpillDirectory() string {
	e.spillMu.Lock()
	defer e.spillMu.Unlock()
	if e.spill == nil {
		return ""
	}
	return e.spill.path
}

func (e *Engine) releaseSpill() error {
	e.spillMu.Lock()
	defer e.spillMu.Unlock()
	if e.spill == nil {
		return nil
	}
	err := e.spill.remove()
	e.spill = nil
	return err
}

// memoryLimitError is what a client is told when the residual needs more
// memory than memory_limit even spilling (DuckDB's Out of Memory Error, or
// a full temp directory, which DuckDB reports as one): a limit of the
// user's query, with a fixed message, nil for any other error.
func memoryLimitError(err error) error {
	var de *duckdb.Error
	if !errors.As(err, &de) || de.Type != duckdb.ErrorTypeOutOfMemory {
		return nil
	}
	return &planner.Error{Code: planner.CodeLimit, Msg: "the query needs more memory than the engine's duckdb_memory_limit allows, even spilling to duckdb_temp_directory; filter or aggregate more, or sort or join fewer rows, or ask the operator to raise duckdb_memory_limit (docs/configuration.md, \"Memory\")"}
}

// defaultMemoryLimit is 25% of the machine's RAM (MemTotal), or "" (DuckDB's
// own default, 80%) where that cannot be read.
func defaultMemoryLimit() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil && kb > 0 {
				return fmt.Sprintf("%dMB", kb/4/1024)
			}
		}
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
