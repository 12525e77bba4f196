package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Peer runs queries on the PostgreSQL hub, whose foreign tables reach every
// agency through postgres_fdw, mysql_fdw and file_fdw.
type Peer struct {
	conn    *pgx.Conn
	timeout time.Duration
}

// OpenPeer connects to the hub and sets statement_timeout.
func OpenPeer(ctx context.Context, dsn string, timeout time.Duration) (*Peer, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	if _, err := c.Exec(ctx, fmt.Sprintf("SET statement_timeout = %d", timeout.Milliseconds())); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("peer: %w", err)
	}
	return &Peer{conn: c, timeout: timeout}, nil
}

func (p *Peer) Close() error { return p.conn.Close(context.Background()) }

// Version is the hub's PostgreSQL version.
func (p *Peer) Version(ctx context.Context) string {
	var v string
	_ = p.conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v
}

// Run runs sql on the hub and reads every row; a statement cancelled by
// statement_timeout is reported as Timeout.
func (p *Peer) Run(ctx context.Context, sql string) Outcome {
	var o Outcome
	ctx, cancel := context.WithTimeout(ctx, p.timeout+30*time.Second)
	defer cancel()
	var conv time.Duration
	start := time.Now()
	rows, err := p.conn.Query(ctx, sql)
	if err == nil {
		for rows.Next() {
			vals, verr := rows.Values()
			if verr != nil {
				err = verr
				break
			}
			t := time.Now()
			r := make(Row, len(vals))
			for i, v := range vals {
				if r[i], verr = ValueCell(v); verr != nil {
					break
				}
			}
			conv += time.Since(t)
			if verr != nil {
				err = verr
				break
			}
			o.Rows = append(o.Rows, r)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	o.Elapsed = time.Since(start) - conv
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57014" { // query_canceled
		o.Timeout = true
		o.Rows = nil
		return o
	}
	o.Err = err
	return o
}

// Explain returns the hub's plan for sql (EXPLAIN VERBOSE shows the SQL
// each foreign server receives).
func (p *Peer) Explain(ctx context.Context, sql string) (string, error) {
	rows, err := p.conn.Query(ctx, "EXPLAIN (VERBOSE, COSTS OFF) "+sql)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		out += line + "\n"
	}
	return out, rows.Err()
}
