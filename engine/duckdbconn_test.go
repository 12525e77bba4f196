package engine

import (
	"context"
	"testing"
)

// A duckdb-go upgrade that moves or retypes Conn.conn breaks the streaming
// residual: this says so, and the handle read from a live connection works.
func TestDuckDBConnField(t *testing.T) {
	if errDuckDBConn != nil {
		t.Fatal(errDuckDBConn)
	}
	db, err := openResidual()
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
		h, err := residualHandle(dc)
		if err != nil {
			return err
		}
		r, err := streamResidual(context.Background(), h, "SELECT 42 AS x")
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
	if _, err := residualHandle(42); err == nil {
		t.Fatal("a non-duckdb connection must be refused")
	}
}
