// Package duckstream runs a DuckDB statement as a stream of Arrow record
// batches on a duckdb-go connection (the residual, and DuckDB, Parquet and
// CSV sources): duckdb-go materialises every result before its first row.
package duckstream

// The one place lienthong reaches inside duckdb-go.
//
// The residual must stream (issue 11, "Memory is not bounded"): duckdb-go
// v2.10506.0 executes every statement with duckdb_pending_prepared, which
// materialises the whole result before the first chunk, and offers no
// streaming option. Its bindings (duckdb-go-bindings) do stream
// (PendingPreparedStreaming, FetchChunk, DataChunkToArrowArray), but need
// the connection handle, and the residual's connection has to be
// duckdb-go's: the remotes' Arrow views (Arrow.RegisterView) and the
// lt_pseudonym UDF are registered on it. duckdb-go keeps that handle in the
// unexported field Conn.conn (a mapping.Connection, which is an alias of
// bindings.Connection), so it is read here by reflection. checkConnField
// verifies the field's name and type once, at package start; if a
// duckdb-go upgrade changes them, Handle returns an error (never a
// crash) and TestDuckDBConnField fails.

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// errConnField says the duckdb-go in the build does not keep its handle
// where this file expects it.
var errConnField = checkConnField()

func checkConnField() error {
	f, ok := reflect.TypeFor[duckdb.Conn]().FieldByName("conn")
	if !ok {
		return errors.New("duckstream: duckdb-go's Conn has no field conn: the streaming residual needs internal/duckstream/conn.go updated for this duckdb-go")
	}
	if f.Type != reflect.TypeFor[bindings.Connection]() {
		return fmt.Errorf("duckstream: duckdb-go's Conn.conn is a %s, not a bindings.Connection: the streaming residual needs internal/duckstream/conn.go updated for this duckdb-go", f.Type)
	}
	return nil
}

// Handle is the bindings' handle of a duckdb-go connection, as
// handed to sql.Conn.Raw.
func Handle(dc any) (bindings.Connection, error) {
	if errConnField != nil {
		return bindings.Connection{}, errConnField
	}
	c, ok := dc.(*duckdb.Conn)
	if !ok || c == nil {
		return bindings.Connection{}, fmt.Errorf("duckstream: residual connection is a %T, not a *duckdb.Conn", dc)
	}
	f := reflect.ValueOf(c).Elem().FieldByName("conn")
	h := *(*bindings.Connection)(unsafe.Pointer(f.UnsafeAddr()))
	if h.Ptr == nil {
		return bindings.Connection{}, errors.New("duckstream: residual connection is closed")
	}
	return h, nil
}
