package duckstream

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// A duckdb-go upgrade that moves or retypes Conn.conn breaks the streaming
// residual: this says so, and the handle read from a live connection works.
func TestDuckDBConnField(t *testing.T) {
	if errConnField != nil {
		t.Fatal(errConnField)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		h, err := Handle(dc)
		if err != nil {
			return err
		}
		r, err := Stream(context.Background(), h, "SELECT 42 AS x")
		if err != nil {
			return err
		}
		defer r.Release()
		if !r.Next() || r.RecordBatch().NumRows() != 1 || r.Next() || r.Err() != nil {
			t.Fatalf("want one row, err %v", r.Err())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Handle(42); err == nil {
		t.Fatal("a non-duckdb connection must be refused")
	}
}
