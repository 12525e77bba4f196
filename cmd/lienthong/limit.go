package main

import (
	"flag"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/config"
	"lienthong/server"
)

// A result printed to a terminal is bounded, as a server's is (issue 11):
// by the [server] table's max_result_rows and max_result_bytes, or, where
// it sets none, by these. Output to a pipe or a file streams unbounded.
const (
	terminalMaxRows  = 10_000
	terminalMaxBytes = 64 << 20
)

// codeResultLimit is the registry's code for a result past its limit.
const codeResultLimit = "LT-RESULT-LIMIT"

// maxRowsFlag registers --max-rows; -1 means not given.
func maxRowsFlag(fs *flag.FlagSet) *int64 {
	return fs.Int64("max-rows", -1, fmt.Sprintf("print at most N rows of a result, then stop with %s (0: no limit; default on a terminal: [server] max_result_rows, else %d; piped or redirected: no limit)", codeResultLimit, terminalMaxRows))
}

// resultLimit bounds what a session prints of one result; zero fields
// bound nothing. rowsFrom and bytesFrom say where a bound came from.
type resultLimit struct {
	rows, bytes         int64
	rowsFrom, bytesFrom string
}

// outputLimit is the limit of a command's output: srv's limits (or the
// terminal defaults) on a terminal, none otherwise; --max-rows N (maxRows
// >= 0) sets the rows bound either way, and 0 lifts every bound.
func outputLimit(srv *config.Server, maxRows int64, terminal bool) resultLimit {
	var l resultLimit
	if terminal {
		l = resultLimit{rows: terminalMaxRows, bytes: terminalMaxBytes,
			rowsFrom:  "the terminal's default; [server] max_result_rows sets another",
			bytesFrom: "the terminal's default; [server] max_result_bytes sets another"}
		if srv != nil && srv.MaxResultRows > 0 {
			l.rows, l.rowsFrom = srv.MaxResultRows, "[server] max_result_rows, on a terminal"
		}
		if srv != nil && srv.MaxResultBytes > 0 {
			l.bytes, l.bytesFrom = int64(srv.MaxResultBytes), "[server] max_result_bytes, on a terminal"
		}
	}
	switch {
	case maxRows == 0:
		return resultLimit{}
	case maxRows > 0:
		l.rows, l.rowsFrom = maxRows, "--max-rows"
	}
	return l
}

// check returns what of rec may be printed after rows rows of size bytes:
// rec itself, or its first rows (the caller releases a slice it was
// given), with the error that ends the result when rec passes the limit.
func (l resultLimit) check(rec arrow.RecordBatch, rows, size int64) (arrow.RecordBatch, error) {
	if l.bytes > 0 && size+server.BatchBytes(rec) > l.bytes {
		return rec.NewSlice(0, 0), &limitError{rows: rows, msg: fmt.Sprintf("the result is larger than %d bytes (%s)", l.bytes, l.bytesFrom)}
	}
	if l.rows > 0 && rows+rec.NumRows() > l.rows {
		return rec.NewSlice(0, l.rows-rows), &limitError{rows: l.rows, msg: fmt.Sprintf("the result has more than %d rows (%s)", l.rows, l.rowsFrom)}
	}
	return rec, nil
}

// limitError ends a result cut at the CLI's limit: its first rows were
// printed, the rest not. It says how to get the rest.
type limitError struct {
	rows int64 // printed
	msg  string
}

func (e *limitError) Error() string {
	return fmt.Sprintf("%s: %s; only the first %d rows are shown. For the rest: add a LIMIT (or filter, aggregate), "+
		"redirect or pipe the output (unlimited: it streams), or pass --max-rows N (0: no limit)", codeResultLimit, e.msg, e.rows)
}
