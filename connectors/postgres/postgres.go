// Package postgres is the PostgreSQL connector (pgx/v5). Rows are read with
// pgconn directly: integer, float, boolean, date, timestamp, text and bytea
// columns in binary format straight into Arrow builders, every other type in
// text format (numeric, uuid, json...), so nothing is rounded on the way.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
	"lienthong/planner/sqlgen"
)

// Connector is one PostgreSQL source.
type Connector struct {
	name   string
	schema string
	pool   *pgxpool.Pool
	mem    memory.Allocator
}

var _ connectors.Connector = (*Connector)(nil)

// Open connects to s.DSN within s.ConnectTimeout and checks the login.
func Open(ctx context.Context, s config.Source) (*Connector, error) {
	timeout := s.ConnectTimeout.Duration
	if timeout <= 0 {
		timeout = config.DefaultConnectTimeout
	}
	cfg, err := pgxpool.ParseConfig(s.DSN)
	if err != nil {
		// The DSN may hold a password: say only that it is malformed.
		return nil, arrowconv.Unavailable(s.Name, errors.New("malformed postgres dsn"))
	}
	cc := cfg.ConnConfig
	cc.ConnectTimeout = timeout
	schema := s.Schema
	if schema == "" {
		schema = "public"
	}
	// Every setting rendered SQL or decoding depends on is pinned in the
	// startup packet, as postgres_fdw does, so it overrides the database's
	// and role's defaults and the DSN's options: an agency database left
	// with standard_conforming_strings = off must not turn a quoted literal
	// into SQL (sqlgen also writes backslashes in the E'' form, which reads
	// the same under either setting).
	for k, v := range sessionParams(schema) {
		cc.RuntimeParams[k] = v
	}
	// The engine only reads.
	cc.RuntimeParams["default_transaction_read_only"] = "on"
	// A pooler or proxy may drop startup parameters: the server reports
	// these back (ParameterStatus), so a session that did not take them is
	// refused rather than used.
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pg := conn.PgConn()
		for _, k := range reportedParams {
			if got, want := pg.ParameterStatus(k), sessionParams(schema)[k]; !strings.EqualFold(strings.ReplaceAll(got, " ", ""), strings.ReplaceAll(want, " ", "")) {
				return fmt.Errorf("the server did not take session setting %s (reports %q, need %q)", k, got, want)
			}
		}
		return nil
	}
	// A cancelled context must stop the server-side query, not only close
	// our socket (PostgreSQL would run pg_sleep or a long scan to the end).
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 2 * time.Second}
	}
	applyTimeouts(cc, s)
	// Room for every statement slot (max_concurrent) and a ping or
	// introspection beside them: a smaller pool would queue statements
	// the bulkhead let through.
	if need := int32(s.WithDefaults().MaxConcurrent + 1); cfg.MaxConns < need {
		cfg.MaxConns = need
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	return &Connector{name: s.Name, schema: schema, pool: pool, mem: memory.DefaultAllocator}, nil
}

// sessionParams are the settings every connection starts with. search_path
// puts pg_catalog first, so nothing in the source's schema can shadow a
// built-in function or operator the rendered SQL names (tables are always
// schema-qualified). IntervalStyle is iso_8601 (not postgres_fdw's
// postgres) because intervals are read as their text and lienthong's text
// for them is ISO 8601; interval input reads alike under both.
func sessionParams(schema string) map[string]string {
	return map[string]string{
		"standard_conforming_strings": "on",
		"backslash_quote":             "safe_encoding",
		"client_encoding":             "UTF8",
		"search_path":                 "pg_catalog, " + sqlgen.Quote(sqlgen.Postgres, schema),
		"DateStyle":                   "ISO, YMD",
		"IntervalStyle":               "iso_8601",
		"TimeZone":                    "UTC",
		"extra_float_digits":          "3",
		"transform_null_equals":       "off",
		"bytea_output":                "hex",
		"application_name":            "lienthong",
	}
}

// reportedParams are the pinned settings the server reports in
// ParameterStatus (GUC_REPORT in every supported version).
var reportedParams = []string{"standard_conforming_strings", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone"}

// SetAllocator sets the allocator for record batches (tests check leaks).
func (c *Connector) SetAllocator(mem memory.Allocator) { c.mem = mem }

func (c *Connector) Name() string            { return c.name }
func (c *Connector) Kind() catalog.Kind      { return catalog.Postgres }
func (c *Connector) Dialect() sqlgen.Dialect { return sqlgen.Postgres }

func (c *Connector) Ping(ctx context.Context) error {
	if err := c.pool.Ping(ctx); err != nil {
		return arrowconv.Unavailable(c.name, err)
	}
	return nil
}

func (c *Connector) Close() error {
	c.pool.Close()
	return nil
}

// redact keeps PostgreSQL's message only for error classes that cannot
// quote row data (syntax, undefined objects, cancellation, resources).
func (c *Connector) redact(op string, err error) error {
	var pe *pgconn.PgError
	err = redactPg(err)
	if op == "query" && isConnErr(err) {
		return arrowconv.Unavailable(c.name, err)
	}
	return &connectors.SourceError{Source: c.name, Op: op, Err: err, Data: errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22")}
}

func redactPg(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := "SQLSTATE " + pe.Code
		switch pe.Code[:2] {
		case "42", "57", "53", "08", "3D", "3F", "25", "28", "0A":
			msg += ": " + pe.Message
		}
		err = &arrowconv.Redacted{Msg: msg, Err: err}
	}
	return err
}

// stmtErr is redact's for a statement's failure on conn: a connection
// that broke under it means the source became unreachable (the breaker
// counts it), not that the statement failed.
func (c *Connector) stmtErr(conn *pgconn.PgConn, err error) error {
	if connLost(conn, err) {
		return connectors.ConnLost(c.name, "query", redactPg(err))
	}
	return c.redact("query", err)
}

func isConnErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

const tablesSQL = `
SELECT c.relname, c.relkind::text, c.reltuples::float8, a.attname,
       format_type(a.atttypid, a.atttypmod),
       COALESCE(bt.typname, t.typname),
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       t.typcategory::text, NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull))
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname, a.attnum`

// Tables lists the tables and views of the configured schema (readable ones).
func (c *Connector) Tables(ctx context.Context) ([]*catalog.Table, error) {
	rows, err := c.pool.Query(ctx, tablesSQL, c.schema)
	if err != nil {
		return nil, c.redact("introspect", err)
	}
	defer rows.Close()
	var out []*catalog.Table
	var t *catalog.Table
	for rows.Next() {
		var rel, kind, col, format, typ, cat string
		var tuples float64
		var typmod int32
		var nullable bool
		if err := rows.Scan(&rel, &kind, &tuples, &col, &format, &typ, &typmod, &cat, &nullable); err != nil {
			return nil, c.redact("introspect", err)
		}
		if t == nil || t.RemoteName != rel {
			est := int64(tuples)
			// reltuples is -1 before the first ANALYZE (PG14+) and meaningless for views.
			if tuples < 0 || kind == "v" {
				est = -1
			}
			t = &catalog.Table{Source: c.name, Name: rel, RemoteSchema: c.schema, RemoteName: rel, RowEstimate: est}
			out = append(out, t)
		}
		t.Columns = append(t.Columns, catalog.Column{Name: col, Type: ArrowType(typ, typmod), SourceType: format, Nullable: nullable})
	}
	if err := rows.Err(); err != nil {
		return nil, c.redact("introspect", err)
	}
	return out, nil
}

// ArrowType maps a PostgreSQL type (pg_type.typname of the base type and the
// column's typmod) to the Arrow type lienthong reads it as. Types without an
// exact Arrow counterpart (numeric without precision, uuid, json, arrays,
// intervals...) are read as their PostgreSQL text form, losing nothing.
func ArrowType(typname string, typmod int32) arrow.DataType {
	switch typname {
	case "int2":
		return arrow.PrimitiveTypes.Int16
	case "int4":
		return arrow.PrimitiveTypes.Int32
	case "int8":
		return arrow.PrimitiveTypes.Int64
	case "float4":
		return arrow.PrimitiveTypes.Float32
	case "float8":
		return arrow.PrimitiveTypes.Float64
	case "bool":
		return arrow.FixedWidthTypes.Boolean
	case "date":
		return arrow.FixedWidthTypes.Date32
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case "timestamptz":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case "bytea":
		return arrow.BinaryTypes.Binary
	case "numeric":
		if typmod >= 4 {
			p := (typmod - 4) >> 16 & 0xffff
			s := (typmod - 4) & 0x7ff
			if s > 0x3ff { // PG15 allows negative scales, stored in 11 bits
				s -= 0x800
			}
			if p >= 1 && p <= 38 && s >= 0 && s <= p {
				return &arrow.Decimal128Type{Precision: p, Scale: s}
			}
		}
		return arrow.BinaryTypes.String
	}
	return arrow.BinaryTypes.String
}

// binaryOIDs are read in binary format; everything else as text.
var binaryOIDs = map[uint32]bool{
	oidBool: true, oidBytea: true, oidName: true, oidInt8: true, oidInt2: true, oidInt4: true,
	oidText: true, oidFloat4: true, oidFloat8: true, oidBpchar: true, oidVarchar: true,
	oidDate: true, oidTimestamp: true, oidTimestamptz: true,
}

const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
)

// Query runs q on a pooled connection and streams its rows into schema.
func (c *Connector) Query(ctx context.Context, q sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error) {
	pc, err := c.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: ctx.Err()}
		}
		return nil, arrowconv.Unavailable(c.name, err)
	}
	pg := pc.Conn().PgConn()
	sd, err := pg.Prepare(ctx, "", q.SQL, nil)
	if err != nil && ctx.Err() == nil && brokenBeforeStream(pg, err) {
		// Nothing was read and nothing ran (Prepare only parses): once
		// more on a fresh connection. The pool's other idle connections
		// went through the same blip or restart, and one idle for less
		// than a second is handed out unchecked: Reset drops them all
		// (those in use are closed when released), so the retry dials.
		pc.Release()
		c.pool.Reset()
		if pc, err = c.pool.Acquire(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: ctx.Err()}
			}
			return nil, arrowconv.Unavailable(c.name, err)
		}
		pg = pc.Conn().PgConn()
		sd, err = pg.Prepare(ctx, "", q.SQL, nil)
	}
	if err != nil {
		pc.Release()
		if ctx.Err() != nil {
			return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: ctx.Err()}
		}
		return nil, c.stmtErr(pg, err)
	}
	if len(sd.Fields) != len(schema.Fields()) {
		pc.Release()
		return nil, &connectors.SourceError{Source: c.name, Op: "query",
			Err: fmt.Errorf("statement returns %d columns, schema has %d", len(sd.Fields), len(schema.Fields()))}
	}
	b, err := arrowconv.NewBuilder(c.mem, schema, c.name)
	if err != nil {
		pc.Release()
		return nil, err
	}
	formats := make([]int16, len(sd.Fields))
	decs := make([]decoder, len(sd.Fields))
	for i, f := range sd.Fields {
		if binaryOIDs[f.DataTypeOID] {
			formats[i] = 1 // binary
		}
		decs[i] = newDecoder(f.DataTypeOID, formats[i], b, i)
	}
	rr := pg.ExecPrepared(ctx, "", nil, nil, formats)
	r := &reader{c: c, ctx: ctx, pc: pc, rr: rr, decs: decs}
	r.InitState(b)
	return r, nil
}

// names of the decoders' errors never include values.
var errWire = errors.New("malformed value on the wire")
