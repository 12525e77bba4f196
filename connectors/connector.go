// Package connectors defines how lienthong talks to a source database. Every
// source kind lienthong supports speaks SQL, so the core of a connector is
// small: list tables, run one rendered statement and stream its rows back as
// Arrow record batches of a schema the planner fixed. What a source can
// evaluate is decided by its sqlgen dialect, not by the connector.
package connectors

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/catalog"
	"lienthong/planner/sqlgen"
)

// BatchRows is how many rows a connector puts in one record batch. Large
// enough to amortise per-batch costs, small enough to keep memory bounded.
const BatchRows = 8192

// Connector is one connected source database.
type Connector interface {
	// Name is the source name SQL uses (dancu in dancu.citizens).
	Name() string
	Kind() catalog.Kind
	// Dialect renders SQL this source runs exactly as lienthong means it.
	Dialect() sqlgen.Dialect
	// Tables introspects the source: every table and view with its columns
	// mapped to Arrow types. PIN columns are marked by the caller (config).
	Tables(ctx context.Context) ([]*catalog.Table, error)
	// Query runs one statement rendered by sqlgen for this dialect and streams
	// its rows converted to schema (column i of the result into field i). The
	// reader must be released; cancelling ctx stops the source-side query.
	Query(ctx context.Context, q sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error)
	// Ping checks that the source answers (connection health).
	Ping(ctx context.Context) error
	Close() error
}

// ErrSourceUnavailable wraps every failure to reach a source (down, login
// refused, connect timeout); match it with errors.Is.
var ErrSourceUnavailable = errors.New("source unavailable")

// SourceError names the source a failure came from. It never carries row
// data: drivers' messages about values are not passed through verbatim.
type SourceError struct {
	Source string
	Op     string // "connect", "introspect", "query", "convert"
	Err    error
	// Data: the source refused a value of the data (SQLSTATE class 22: a
	// conversion, a range, a division): the query asked of some row's
	// value what it cannot give. A user's error, not the source's.
	Data bool
	// Refused: the source's own rules refused the request (an agency's
	// agent: a column it does not export, a purpose it does not allow).
	// The words are lienthong's, built from the refusal's reason and the
	// one name it concerns, never the source's text.
	Refused string
}

// ErrSourceData matches (errors.Is) a SourceError with Data set.
var ErrSourceData = errors.New("a value in the source's data does not fit the query")

// ErrSourceRefused matches (errors.Is) a SourceError with Refused set.
var ErrSourceRefused = errors.New("the source's own rules refused the request")

func (e *SourceError) Is(target error) bool {
	return e.Data && target == ErrSourceData || e.Refused != "" && target == ErrSourceRefused
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("source %s: %s: %v", e.Source, e.Op, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }
