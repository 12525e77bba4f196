package gen

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"

	"github.com/duckdb/duckdb-go/v2"
)

// duckSink appends into a DuckDB database through the Appender API. With
// parquetDir set it is a staging area instead: each finished table is copied
// to parquetDir/<table>.parquet and dropped.
type duckSink struct {
	conn       driver.Conn
	connector  *duckdb.Connector // closed by close() when owned
	schema     string
	parquetDir string
	scratch    string // database file removed by close()

	t    *table
	app  *duckdb.Appender
	args []driver.Value
}

func newDuckSink(ctx context.Context, c *duckdb.Connector, own bool, schema string) (*duckSink, error) {
	conn, err := c.Connect(ctx)
	if err != nil {
		if own {
			c.Close()
		}
		return nil, err
	}
	s := &duckSink{conn: conn, schema: schema}
	if own {
		s.connector = c
	}
	return s, nil
}

func (s *duckSink) exec(ctx context.Context, q string) error {
	_, err := s.conn.(driver.ExecerContext).ExecContext(ctx, q, nil)
	return err
}

func (s *duckSink) begin(ctx context.Context, t *table) error {
	q := dquote(s.schema) + "." + dquote(t.name)
	if err := s.exec(ctx, "DROP TABLE IF EXISTS "+q); err != nil {
		return err
	}
	if err := s.exec(ctx, createTable("duckdb", q, t, false, dquote)); err != nil {
		return err
	}
	app, err := duckdb.NewAppenderFromConn(s.conn, s.schema, t.name)
	if err != nil {
		return err
	}
	s.t, s.app = t, app
	s.args = make([]driver.Value, len(t.cols))
	return nil
}

func (s *duckSink) write(row []val) error {
	for i, c := range s.t.cols {
		v := row[i]
		switch {
		case v.null:
			s.args[i] = nil
		case c.typ == cText:
			s.args[i] = v.s
		case c.typ == cDate:
			s.args[i] = dateTime(int32(v.i))
		default:
			// Integers, and DECIMAL(p,2) as its unscaled value: the appender
			// stores an integer argument as a DECIMAL's raw hundredths.
			s.args[i] = v.i
		}
	}
	return s.app.AppendRow(s.args...)
}

func (s *duckSink) end(ctx context.Context) error {
	err := s.app.Close()
	s.app = nil
	if err != nil || s.parquetDir == "" {
		return err
	}
	q := dquote(s.schema) + "." + dquote(s.t.name)
	path := filepath.Join(s.parquetDir, s.t.name+".parquet")
	if err := s.exec(ctx, fmt.Sprintf("COPY %s TO %s (FORMAT parquet)", q, squote(path))); err != nil {
		return err
	}
	return s.exec(ctx, "DROP TABLE "+q)
}

func (s *duckSink) close() error {
	if s.app != nil {
		s.app.Close()
		s.app = nil
	}
	err := s.conn.Close()
	if s.connector != nil {
		if cerr := s.connector.Close(); err == nil {
			err = cerr
		}
	}
	if s.scratch != "" {
		os.Remove(s.scratch)
		os.Remove(s.scratch + ".wal")
	}
	return err
}
