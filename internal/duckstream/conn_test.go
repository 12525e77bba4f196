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

// Every row arrives, in several batches, and a failure of the statement
// is an error of the reader, not a short result.
func TestStreamGivesEveryRowAndErrors(t *testing.T) {
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
		r, err := Stream(context.Background(), h, "SELECT range AS x FROM range(1000000)")
		if err != nil {
			return err
		}
		var rows, batches int64
		for r.Next() {
			rows += r.RecordBatch().NumRows()
			batches++
		}
		err = r.Err()
		r.Release()
		if err != nil || rows != 1_000_000 || batches < 2 {
			t.Fatalf("%d rows in %d batches, %v", rows, batches, err)
		}
		r, err = Stream(context.Background(), h, "SELECT CAST('x' AS INT)")
		if err == nil {
			for r.Next() {
			}
			err = r.Err()
			r.Release()
		}
		if err == nil {
			t.Fatal("a failing statement must end with an error")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
