package gen

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// sqliteBatch rows go into one multi-row INSERT: fewer statement executions,
// well under SQLite's limit of 32766 parameters.
const sqliteBatch = 256

// sqliteSink writes a SQLite file in one transaction. Dates are stored as
// 'YYYY-MM-DD' text in DATE columns; DECIMAL(p,2) columns would get REAL
// values (NUMERIC affinity).
type sqliteSink struct {
	db *sql.DB
	tx *sql.Tx

	t     *table
	stmt  *sql.Stmt
	args  []any
	nrows int
}

func newSQLiteSink(ctx context.Context, path string) (*sqliteSink, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	// The file is written once from scratch: no journal is needed.
	for _, p := range []string{"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", "PRAGMA cache_size=-32768"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			db.Close()
			return nil, err
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &sqliteSink{db: db, tx: tx}, nil
}

func insertSQL(qualified string, t *table, rows int, quote func(string) string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + qualified + " (")
	for i, c := range t.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c.name))
	}
	b.WriteString(") VALUES ")
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", len(t.cols)), ",") + ")"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	return b.String()
}

func (s *sqliteSink) begin(ctx context.Context, t *table) error {
	q := dquote(t.name)
	if _, err := s.tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+q); err != nil {
		return err
	}
	if _, err := s.tx.ExecContext(ctx, createTable("sqlite", q, t, true, dquote)); err != nil {
		return err
	}
	stmt, err := s.tx.PrepareContext(ctx, insertSQL(q, t, sqliteBatch, dquote))
	if err != nil {
		return err
	}
	s.t, s.stmt, s.nrows = t, stmt, 0
	s.args = make([]any, 0, sqliteBatch*len(t.cols))
	return nil
}

func (s *sqliteSink) write(row []val) error {
	for i, c := range s.t.cols {
		v := row[i]
		switch {
		case v.null:
			s.args = append(s.args, nil)
		case c.typ == cText:
			s.args = append(s.args, v.s)
		case c.typ == cDate:
			s.args = append(s.args, dateString(int32(v.i)))
		case c.typ == cDecimal:
			s.args = append(s.args, float64(v.i)/100)
		default:
			s.args = append(s.args, v.i)
		}
	}
	s.nrows++
	if s.nrows == sqliteBatch {
		if _, err := s.stmt.Exec(s.args...); err != nil {
			return err
		}
		s.args, s.nrows = s.args[:0], 0
	}
	return nil
}

func (s *sqliteSink) end(ctx context.Context) error {
	s.stmt.Close()
	if s.nrows > 0 {
		if _, err := s.tx.ExecContext(ctx, insertSQL(dquote(s.t.name), s.t, s.nrows, dquote), s.args...); err != nil {
			return err
		}
	}
	for _, ix := range s.t.indexes {
		q := fmt.Sprintf("CREATE INDEX %s ON %s (%s)", dquote(s.t.name+"_"+ix), dquote(s.t.name), dquote(ix))
		if _, err := s.tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteSink) close() error {
	err := s.tx.Commit()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}
