//go:build duckdb_arrow

// Package duckdb is the connector for DuckDB files and for Parquet and CSV
// files read through an in-memory DuckDB (one view per file). Results come
// from DuckDB's Arrow interface and are cast to the planner's schema.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	dd "github.com/duckdb/duckdb-go/v2"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
	"lienthong/internal/duckstream"
	"lienthong/planner/sqlgen"
)

// Connector is one DuckDB database (a file, or in memory over Parquet/CSV files).
type Connector struct {
	name string
	kind catalog.Kind
	db   *sql.DB
	dc   *dd.Connector
	// schema is the DuckDB schema whose tables are exposed (main by default).
	schema string
	// files maps view name to file for parquet row estimates.
	files map[string]string
	mem   memory.Allocator
}

var _ connectors.Connector = (*Connector)(nil)

// Open opens a DuckDB file read-only, or for parquet/csv an in-memory DuckDB
// with a view per file matched by s.Path (a glob) named after the file.
func Open(ctx context.Context, s config.Source) (*Connector, error) {
	path, err := filepath.Abs(s.Path)
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	c := &Connector{name: s.Name, kind: s.Kind, mem: memory.DefaultAllocator, schema: "main"}
	if s.Kind == catalog.DuckDB && s.Schema != "" {
		c.schema = s.Schema
	}
	dsn := ""
	var views []string
	switch s.Kind {
	case catalog.DuckDB:
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("duckdb file %s does not exist: %w", path, fs.ErrNotExist)
			}
			return nil, arrowconv.Unavailable(s.Name, err)
		}
		dsn = path + "?access_mode=read_only"
	case catalog.Parquet, catalog.CSV:
		matches, err := filepath.Glob(path)
		if err != nil {
			return nil, arrowconv.Unavailable(s.Name, fmt.Errorf("bad glob %s: %w", path, err))
		}
		if len(matches) == 0 {
			return nil, arrowconv.Unavailable(s.Name, fmt.Errorf("no %s file matches %s: %w", s.Kind, path, fs.ErrNotExist))
		}
		sort.Strings(matches)
		c.files = map[string]string{}
		for _, m := range matches {
			name := strings.TrimSuffix(filepath.Base(m), filepath.Ext(m))
			if prev, dup := c.files[name]; dup {
				return nil, &connectors.SourceError{Source: s.Name, Op: "connect",
					Err: fmt.Errorf("files %s and %s would both be table %q", prev, m, name)}
			}
			c.files[name] = m
			reader := "read_parquet(" + literal(m) + ")"
			if s.Kind == catalog.CSV {
				// NULL is an unquoted empty field or an unquoted \N; a
				// quoted field is always a value, so "" is the empty
				// string (DuckDB reads it as NULL unless told). This is
				// how lienthong writes CSV (cmd/lienthong/format.go).
				reader = "read_csv(" + literal(m) + ", header = true, auto_detect = true, allow_quoted_nulls = false, nullstr = ['', '\\N'])"
			}
			views = append(views, "CREATE VIEW "+sqlgen.Quote(sqlgen.DuckDB, name)+" AS SELECT * FROM "+reader)
		}
	default:
		return nil, &connectors.SourceError{Source: s.Name, Op: "connect", Err: fmt.Errorf("kind %s is not read by DuckDB", s.Kind)}
	}
	settings := append([]string(nil), sessionSettings...)
	if s.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+literal(s.MemoryLimit))
	}
	if s.SpillDirectory != "" {
		settings = append(settings, "SET temp_directory = "+literal(s.SpillDirectory))
	}
	c.dc, err = dd.NewConnector(dsn, func(ex driver.ExecerContext) error {
		for _, set := range settings {
			if _, err := ex.ExecContext(context.Background(), set, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	c.db = sql.OpenDB(c.dc)
	for _, v := range views {
		if _, err := c.db.ExecContext(ctx, v); err != nil {
			c.Close()
			return nil, arrowconv.Unavailable(s.Name, err)
		}
	}
	if err := c.db.PingContext(ctx); err != nil {
		c.Close()
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	return c, nil
}

// sessionSettings are pinned on every connection: the settings that change
// what rendered SQL means (collation of string comparisons, / on integers,
// NULL placement and direction of an ORDER BY key written without them,
// implicit casts, the calendar of date parts). They are DuckDB's defaults
// today; pinning keeps them so whatever a later version or an extension
// changes. TimeZone makes Arrow timestamps with time zone carry "UTC".
var sessionSettings = []string{
	"SET TimeZone = 'UTC'",
	"SET Calendar = 'gregorian'",
	"SET default_collation = ''",
	"SET integer_division = false",
	"SET default_null_order = 'NULLS_LAST'",
	"SET default_order = 'ASCENDING'",
	"SET old_implicit_casting = false",
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SetAllocator sets the allocator for record batches (tests check leaks).
func (c *Connector) SetAllocator(mem memory.Allocator) { c.mem = mem }

func (c *Connector) Name() string            { return c.name }
func (c *Connector) Kind() catalog.Kind      { return c.kind }
func (c *Connector) Dialect() sqlgen.Dialect { return sqlgen.DuckDB }

func (c *Connector) Close() error {
	err := c.db.Close()
	return errors.Join(err, c.dc.Close())
}

func (c *Connector) Ping(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return arrowconv.Unavailable(c.name, err)
	}
	return nil
}

const tablesSQL = `
SELECT c.table_name, t.table_type, c.column_name, c.data_type, c.is_nullable
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_catalog = current_database() AND c.table_schema = ?
ORDER BY c.table_name, c.ordinal_position`

// Tables lists the tables and views of the configured schema.
func (c *Connector) Tables(ctx context.Context) ([]*catalog.Table, error) {
	rows, err := c.db.QueryContext(ctx, tablesSQL, c.schema)
	if err != nil {
		return nil, &connectors.SourceError{Source: c.name, Op: "introspect", Err: err}
	}
	defer rows.Close()
	var out []*catalog.Table
	var t *catalog.Table
	for rows.Next() {
		var tbl, ttype, col, dtype, nullable string
		if err := rows.Scan(&tbl, &ttype, &col, &dtype, &nullable); err != nil {
			return nil, &connectors.SourceError{Source: c.name, Op: "introspect", Err: err}
		}
		if t == nil || t.RemoteName != tbl {
			t = &catalog.Table{Source: c.name, Name: tbl, RemoteName: tbl, RowEstimate: -1}
			if c.schema != "main" {
				t.RemoteSchema = c.schema
			}
			out = append(out, t)
		}
		t.Columns = append(t.Columns, catalog.Column{Name: col, Type: ArrowType(dtype), SourceType: dtype, Nullable: nullable == "YES"})
	}
	if err := rows.Err(); err != nil {
		return nil, &connectors.SourceError{Source: c.name, Op: "introspect", Err: err}
	}
	rows.Close()
	c.estimate(ctx, out)
	return out, nil
}

// estimate fills row estimates: DuckDB's own for tables, the footer's row
// count for Parquet files. Failures leave -1: estimates are advisory.
func (c *Connector) estimate(ctx context.Context, tables []*catalog.Table) {
	for _, t := range tables {
		var n sql.NullInt64
		var err error
		switch {
		case c.kind == catalog.Parquet && c.files[t.RemoteName] != "":
			err = c.db.QueryRowContext(ctx, "SELECT sum(num_rows)::BIGINT FROM parquet_file_metadata("+literal(c.files[t.RemoteName])+")").Scan(&n)
		case c.kind == catalog.DuckDB:
			err = c.db.QueryRowContext(ctx, "SELECT estimated_size FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?", c.schema, t.RemoteName).Scan(&n)
		default:
			continue
		}
		if err == nil && n.Valid {
			t.RowEstimate = n.Int64
		}
	}
}

var decimalRe = regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`)

// ArrowType maps a DuckDB type name to Arrow. Types without an exact Arrow
// counterpart here (UHUGEINT, INTERVAL, TIME, UUID, nested types...) are
// read as text.
func ArrowType(t string) arrow.DataType {
	t = strings.ToUpper(strings.TrimSpace(t))
	if m := decimalRe.FindStringSubmatch(t); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}
	}
	switch t {
	case "TINYINT":
		return arrow.PrimitiveTypes.Int8
	case "SMALLINT", "UTINYINT":
		return arrow.PrimitiveTypes.Int16
	case "INTEGER", "USMALLINT":
		return arrow.PrimitiveTypes.Int32
	case "BIGINT", "UINTEGER":
		return arrow.PrimitiveTypes.Int64
	case "UBIGINT":
		return &arrow.Decimal128Type{Precision: 20, Scale: 0}
	case "HUGEINT":
		return &arrow.Decimal128Type{Precision: 38, Scale: 0}
	case "FLOAT":
		return arrow.PrimitiveTypes.Float32
	case "DOUBLE":
		return arrow.PrimitiveTypes.Float64
	case "BOOLEAN":
		return arrow.FixedWidthTypes.Boolean
	case "DATE":
		return arrow.FixedWidthTypes.Date32
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		// TIMESTAMP_NS values with sub-microsecond digits fail to convert
		// rather than being truncated.
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case "TIMESTAMP WITH TIME ZONE":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case "BLOB":
		return arrow.BinaryTypes.Binary
	}
	return arrow.BinaryTypes.String
}

// Query runs q on a dedicated connection, streaming its result as Arrow.
func (c *Connector) Query(ctx context.Context, q sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, c.queryErr(ctx, err)
	}
	var src array.RecordReader
	err = conn.Raw(func(d any) error {
		// Streamed chunk by chunk: duckdb-go's own Arrow query computes
		// the whole result before its first row.
		h, err := duckstream.Handle(d)
		if err != nil {
			return err
		}
		src, err = duckstream.Stream(ctx, h, q.SQL)
		return err
	})
	if err != nil {
		conn.Close()
		return nil, c.queryErr(ctx, err)
	}
	if n := len(src.Schema().Fields()); n != len(schema.Fields()) {
		src.Release()
		conn.Close()
		return nil, &connectors.SourceError{Source: c.name, Op: "query",
			Err: fmt.Errorf("statement returns %d columns, schema has %d", n, len(schema.Fields()))}
	}
	b, err := arrowconv.NewBuilder(c.mem, schema, c.name)
	if err != nil {
		src.Release()
		conn.Close()
		return nil, err
	}
	r := &reader{c: c, ctx: ctx, src: src, conn: conn}
	r.InitState(b)
	return r, nil
}

func (c *Connector) queryErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return &connectors.SourceError{Source: c.name, Op: "query", Err: err, Data: IsDataError(err)}
}

// IsDataError reports a DuckDB error about a value of the data (a CAST or
// function argument that does not fit, a range, a division): the query's
// fault, SQLSTATE class 22 elsewhere. The residual uses it too.
func IsDataError(err error) bool {
	var de *dd.Error
	if !errors.As(err, &de) {
		return false
	}
	switch de.Type {
	case dd.ErrorTypeConversion, dd.ErrorTypeOutOfRange, dd.ErrorTypeInvalidInput,
		dd.ErrorTypeDivideByZero, dd.ErrorTypeDecimal, dd.ErrorTypeMismatchType:
		return true
	}
	return false
}
