// Package sqlite is the SQLite connector (modernc.org/sqlite, pure Go). The
// file is opened read-only and never created; LIKE is made case-sensitive
// on every connection, as lienthong's LIKE is.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "modernc.org/sqlite" // registers driver "sqlite"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
	"lienthong/planner/sqlgen"
)

// Connector is one SQLite file.
type Connector struct {
	name string
	db   *sql.DB
	mem  memory.Allocator
}

var _ connectors.Connector = (*Connector)(nil)

// Open opens s.Path read-only; a missing file is an error, not a new database.
func Open(ctx context.Context, s config.Source) (*Connector, error) {
	path, err := filepath.Abs(s.Path)
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, arrowconv.Unavailable(s.Name, fmt.Errorf("sqlite file %s does not exist: %w", path, fs.ErrNotExist))
		}
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	if st.IsDir() {
		return nil, arrowconv.Unavailable(s.Name, fmt.Errorf("sqlite path %s is a directory", path))
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "case_sensitive_like(1)")
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	// Reading sqlite_master proves the file is a database we can read.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		db.Close()
		return nil, arrowconv.Unavailable(s.Name, fmt.Errorf("sqlite file %s: %w", path, err))
	}
	return &Connector{name: s.Name, db: db, mem: memory.DefaultAllocator}, nil
}

// SetAllocator sets the allocator for record batches (tests check leaks).
func (c *Connector) SetAllocator(mem memory.Allocator) { c.mem = mem }

func (c *Connector) Name() string            { return c.name }
func (c *Connector) Kind() catalog.Kind      { return catalog.SQLite }
func (c *Connector) Dialect() sqlgen.Dialect { return sqlgen.SQLite }
func (c *Connector) Close() error            { return c.db.Close() }

func (c *Connector) Ping(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return arrowconv.Unavailable(c.name, err)
	}
	return nil
}

// Tables lists tables and views with their declared column types.
func (c *Connector) Tables(ctx context.Context) ([]*catalog.Table, error) {
	rows, err := c.db.QueryContext(ctx, `
SELECT m.name, m.type, p.name, p.type, p."notnull", p.pk
FROM sqlite_master m, pragma_table_info(m.name) p
WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, p.cid`)
	if err != nil {
		return nil, &connectors.SourceError{Source: c.name, Op: "introspect", Err: err}
	}
	defer rows.Close()
	var out []*catalog.Table
	var t *catalog.Table
	for rows.Next() {
		var tbl, kind, col, decl string
		var notnull, pk int
		if err := rows.Scan(&tbl, &kind, &col, &decl, &notnull, &pk); err != nil {
			return nil, &connectors.SourceError{Source: c.name, Op: "introspect", Err: err}
		}
		if t == nil || t.RemoteName != tbl {
			t = &catalog.Table{Source: c.name, Name: tbl, RemoteName: tbl, RowEstimate: -1}
			out = append(out, t)
		}
		// An INTEGER PRIMARY KEY is the rowid: never NULL even if not declared so.
		nn := notnull == 1 || (pk == 1 && strings.EqualFold(decl, "INTEGER"))
		t.Columns = append(t.Columns, catalog.Column{Name: col, Type: ArrowType(decl), SourceType: decl, Nullable: !nn})
	}
	if err := rows.Err(); err != nil {
		return nil, &connectors.SourceError{Source: c.name, Op: "introspect", Err: err}
	}
	return out, nil
}

var precScale = regexp.MustCompile(`^\s*(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$`)

// ArrowType maps a declared type by SQLite's affinity rules, refined for
// the types whose stored text lienthong can read exactly: DECIMAL(p,s),
// DATE, DATETIME/TIMESTAMP and BOOL*. Other NUMERIC-affinity declarations
// are read as text, which keeps any stored value exact.
func ArrowType(decl string) arrow.DataType {
	u := strings.ToUpper(strings.TrimSpace(decl))
	switch {
	case strings.Contains(u, "INT"):
		return arrow.PrimitiveTypes.Int64
	case strings.Contains(u, "CHAR"), strings.Contains(u, "CLOB"), strings.Contains(u, "TEXT"):
		return arrow.BinaryTypes.String
	case strings.Contains(u, "BLOB"):
		return arrow.BinaryTypes.Binary
	case u == "":
		return arrow.BinaryTypes.String
	case strings.Contains(u, "REAL"), strings.Contains(u, "FLOA"), strings.Contains(u, "DOUB"):
		return arrow.PrimitiveTypes.Float64
	}
	if m := precScale.FindStringSubmatch(u); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		if p >= 1 && p <= 38 && s <= p {
			return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}
		}
	}
	switch {
	case u == "DATE":
		return arrow.FixedWidthTypes.Date32
	case strings.HasPrefix(u, "DATETIME"), strings.HasPrefix(u, "TIMESTAMP"):
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case strings.HasPrefix(u, "BOOL"):
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}

// Query runs q and streams its rows into schema.
func (c *Connector) Query(ctx context.Context, q sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error) {
	rows, err := c.db.QueryContext(ctx, q.SQL)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: err}
	}
	r, err := arrowconv.NewRowsReader(ctx, c.mem, rows, schema, c.name, arrowconv.RowsOptions{
		WrapErr: func(err error) error {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return &connectors.SourceError{Source: c.name, Op: "query", Err: err}
		},
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}
