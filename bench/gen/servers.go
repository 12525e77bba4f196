package gen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// pgDSN returns dsn (URL or keyword/value form) pointing at database db.
func pgDSN(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("postgres DSN: %w", err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	var kept []string
	for _, f := range strings.Fields(dsn) {
		if !strings.HasPrefix(f, "dbname=") {
			kept = append(kept, f)
		}
	}
	return strings.Join(append(kept, "dbname="+db), " "), nil
}

// createPGDatabase creates database db unless it exists.
func createPGDatabase(ctx context.Context, adminDSN, db string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var one int
	err = conn.QueryRow(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", db).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()+" ENCODING 'UTF8' TEMPLATE template0")
	}
	if err != nil {
		return fmt.Errorf("postgres: create database %s: %w", db, err)
	}
	return nil
}

const pgBatch = 1024

// pgSink loads tables with COPY (pgx CopyFrom), which pulls rows from a
// channel the generator pushes batches into. Keys and indexes are built
// after the load, which is faster than maintaining them row by row.
type pgSink struct {
	conn *pgx.Conn
	t    *table

	batch [][]any
	ch    chan [][]any
	done  chan error
	open  bool // ch not yet closed
}

func newPGSink(ctx context.Context, dsn string) (*pgSink, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &pgSink{conn: conn}, nil
}

type chanSource struct {
	ch  <-chan [][]any
	cur [][]any
	i   int
}

func (c *chanSource) Next() bool {
	c.i++
	for c.i >= len(c.cur) {
		b, ok := <-c.ch
		if !ok {
			return false
		}
		c.cur, c.i = b, 0
	}
	return true
}

func (c *chanSource) Values() ([]any, error) { return c.cur[c.i], nil }
func (c *chanSource) Err() error             { return nil }

func (s *pgSink) begin(ctx context.Context, t *table) error {
	q := pgx.Identifier{t.name}.Sanitize()
	if _, err := s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+q); err != nil {
		return err
	}
	if _, err := s.conn.Exec(ctx, createTable("postgres", q, t, false, dquote)); err != nil {
		return err
	}
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	s.t = t
	s.ch, s.done, s.open = make(chan [][]any, 2), make(chan error, 1), true
	src := &chanSource{ch: s.ch, i: -1}
	go func() {
		_, err := s.conn.CopyFrom(ctx, pgx.Identifier{t.name}, names, src)
		if err != nil {
			for range s.ch { // unblock the writer
			}
		}
		s.done <- err
	}()
	return nil
}

func (s *pgSink) write(row []val) error {
	r := make([]any, len(row))
	for i, c := range s.t.cols {
		v := row[i]
		switch {
		case v.null:
		case c.typ == cText:
			r[i] = v.s
		case c.typ == cDate:
			r[i] = dateTime(int32(v.i))
		case c.typ == cDecimal:
			r[i] = pgtype.Numeric{Int: big.NewInt(v.i), Exp: -2, Valid: true}
		default:
			r[i] = v.i
		}
	}
	s.batch = append(s.batch, r)
	if len(s.batch) == pgBatch {
		s.ch <- s.batch
		s.batch = nil
	}
	return nil
}

func (s *pgSink) finish() error {
	if !s.open {
		return nil
	}
	if len(s.batch) > 0 {
		s.ch <- s.batch
		s.batch = nil
	}
	close(s.ch)
	s.open = false
	return <-s.done
}

func (s *pgSink) end(ctx context.Context) error {
	if err := s.finish(); err != nil {
		return fmt.Errorf("postgres: copy %s: %w", s.t.name, err)
	}
	q := pgx.Identifier{s.t.name}.Sanitize()
	stmts := []string{fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", q, dquote(s.t.key))}
	for _, ix := range s.t.indexes {
		stmts = append(stmts, fmt.Sprintf("CREATE INDEX ON %s (%s)", q, dquote(ix)))
	}
	stmts = append(stmts, "ANALYZE "+q)
	for _, st := range stmts {
		if _, err := s.conn.Exec(ctx, st); err != nil {
			return fmt.Errorf("postgres: %s: %w", st, err)
		}
	}
	return nil
}

func (s *pgSink) close() error {
	s.batch = nil
	s.finish()
	return s.conn.Close(context.Background())
}

// mysqlDSN parses dsn and points it at database db.
func mysqlDSN(dsn, db string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("mysql DSN: %w", err)
	}
	cfg.DBName = db
	return cfg.FormatDSN(), nil
}

func createMySQLDatabase(ctx context.Context, dsn, db string) error {
	admin, err := mysqlDSN(dsn, "")
	if err != nil {
		return err
	}
	conn, err := sql.Open("mysql", admin)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+bquote(db)+" CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("mysql: create database %s: %w", db, err)
	}
	return nil
}

// mysqlBatch rows per multi-row INSERT (prepared once per table).
const mysqlBatch = 1000

type mysqlSink struct {
	db *sql.DB

	t     *table
	tx    *sql.Tx
	stmt  *sql.Stmt
	args  []any
	nrows int
}

func newMySQLSink(ctx context.Context, dsn string) (*mysqlSink, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return &mysqlSink{db: db}, nil
}

func (s *mysqlSink) begin(ctx context.Context, t *table) error {
	q := bquote(t.name)
	if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+q); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, createTable("mysql", q, t, true, bquote)); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, insertSQL(q, t, mysqlBatch, bquote))
	if err != nil {
		tx.Rollback()
		return err
	}
	s.t, s.tx, s.stmt, s.nrows = t, tx, stmt, 0
	s.args = make([]any, 0, mysqlBatch*len(t.cols))
	return nil
}

func (s *mysqlSink) write(row []val) error {
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
			s.args = append(s.args, decimalString(v.i))
		default:
			s.args = append(s.args, v.i)
		}
	}
	s.nrows++
	if s.nrows == mysqlBatch {
		if _, err := s.stmt.Exec(s.args...); err != nil {
			return fmt.Errorf("mysql: insert %s: %w", s.t.name, err)
		}
		s.args, s.nrows = s.args[:0], 0
	}
	return nil
}

func (s *mysqlSink) end(ctx context.Context) error {
	s.stmt.Close()
	if s.nrows > 0 {
		if _, err := s.tx.ExecContext(ctx, insertSQL(bquote(s.t.name), s.t, s.nrows, bquote), s.args...); err != nil {
			return fmt.Errorf("mysql: insert %s: %w", s.t.name, err)
		}
	}
	err := s.tx.Commit()
	s.tx = nil
	if err != nil {
		return err
	}
	for _, ix := range s.t.indexes {
		q := fmt.Sprintf("CREATE INDEX %s ON %s (%s)", bquote(ix), bquote(s.t.name), bquote(ix))
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mysql: %s: %w", q, err)
		}
	}
	return nil
}

func (s *mysqlSink) close() error {
	if s.tx != nil {
		s.tx.Rollback()
	}
	return s.db.Close()
}
