package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	lduckdb "lienthong/connectors/duckdb"
	"lienthong/planner"
)

// The residual: the in-process DuckDB that runs what no source can, and
// what its errors may tell a client.

// openResidual opens the residual's DuckDB with the settings every
// connection of it needs.
func openResidual() (*sql.DB, error) {
	c, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		// Insertion order is irrelevant to SQL results without ORDER BY, and
		// dropping it lets DuckDB stream more.
		if _, err := execer.ExecContext(context.Background(), "SET preserve_insertion_order = false", nil); err != nil {
			return err
		}
		// DuckDB's arrow scan crashes the process (SIGSEGV) when a filter on
		// a column is pushed into the scan and the unused_columns optimizer
		// then drops every projected column, e.g. SELECT COUNT(*) FROM
		// (SELECT id FROM v WHERE upper(pin) = 'x'). The remotes already
		// carry only the columns a query needs, so keeping them costs little.
		_, err := execer.ExecContext(context.Background(), "SET disabled_optimizers = 'unused_columns'", nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// quoted matches what DuckDB quotes in its messages: values ('Nguyễn...')
// as well as names.
var quoted = regexp.MustCompile(`'(?:[^']|'')*'|"(?:[^"]|"")*"`)

// residualError keeps DuckDB's explanation but drops every quoted string
// in it: a conversion error would otherwise echo the row value that failed
// ("Could not convert string 'Nguyễn Văn An' to INT64"), and no error may
// carry citizen data.
func residualError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i] // the rest is DuckDB's echo of the SQL and a caret
	}
	msg = quoted.ReplaceAllString(msg, "'…'")
	if le := memoryLimitError(err); le != nil {
		return fmt.Errorf("%w: %w (DuckDB: %s)", ErrResidual, le, msg) // the client gets le's text only
	}
	if lduckdb.IsDataError(err) {
		// A value in the data did not fit what the query asked of it (a
		// CAST, a function's argument): the user's to fix, not a bug. The
		// message is fixed: DuckDB's names the value.
		pe := &planner.Error{Code: planner.CodeType, Msg: "a value in the data does not fit the query's CAST, function or arithmetic; the value is not shown"}
		return fmt.Errorf("%w: %w", ErrResidual, pe)
	}
	return fmt.Errorf("%w: %s", ErrResidual, msg)
}

// ErrResidual wraps failures of the DuckDB residual (a cast that fails on
// some row, a division error...); the message never quotes values.
var ErrResidual = errors.New("query failed in the engine")
