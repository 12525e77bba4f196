// Package mysql is the MySQL/MariaDB connector (go-sql-driver/mysql).
// Every connection is forced into one known session: UTC times, utf8mb4,
// backslash escapes on and ANSI_QUOTES off (sqlgen quotes identifiers with
// backticks and escapes backslashes in literals).
package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	drv "github.com/go-sql-driver/mysql"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
	"lienthong/planner/sqlgen"
)

// sessionSQLMode is fixed rather than edited from the server's: no
// NO_BACKSLASH_ESCAPES, no ANSI_QUOTES, no PIPES_AS_CONCAT, whatever the
// server default says.
const sessionSQLMode = "'NO_ENGINE_SUBSTITUTION'"

// driverLog receives go-sql-driver's own messages (connection resets, bad
// idle connections...), which it would otherwise print as plain text lines
// on stderr, in the middle of a node's JSON log.
var driverLog atomic.Pointer[slog.Logger]

// SetLogger sends the driver's messages to l (at warn level, as message
// "mysql driver"); nil sends them to slog.Default(). It applies to every
// connector, open or not.
func SetLogger(l *slog.Logger) {
	driverLog.Store(l)
	_ = drv.SetLogger(driverLogger{})
}

type driverLogger struct{}

// Print never quotes a value: the driver logs network errors and
// connection events only.
func (driverLogger) Print(v ...any) {
	l := driverLog.Load()
	if l == nil {
		l = slog.Default()
	}
	l.Warn("mysql driver", "message", strings.TrimSpace(fmt.Sprint(v...)))
}

// pinSQL has the last word on every new connection. The driver sends the
// DSN's own parameters (system variables, in one SET, in map order) after
// ours, so a DSN holding SQL_MODE=... or Time_Zone=... in another letter
// case could otherwise win.
const pinSQL = "SET SESSION sql_mode = " + sessionSQLMode + ", time_zone = '+00:00', NAMES utf8mb4 COLLATE utf8mb4_bin"

// pinnedConnector runs pinSQL on each connection it makes.
type pinnedConnector struct{ driver.Connector }

func (p pinnedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := p.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := c.(driver.ExecerContext)
	if !ok {
		c.Close()
		return nil, errors.New("mysql driver connection cannot execute statements")
	}
	if _, err := ex.ExecContext(ctx, pinSQL, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Connector is one MySQL or MariaDB source.
type Connector struct {
	name string
	db   *sql.DB
	dbn  string
	mem  memory.Allocator

	deadlines *connectors.Deadlines
	maxIdle   int
}

var _ connectors.Connector = (*Connector)(nil)

// ParseDSN accepts the Go driver form user:pass@tcp(host:port)/db?params
// or a mysql://user:pass@host:port/db?params URL.
func ParseDSN(dsn string) (*drv.Config, error) {
	if !strings.HasPrefix(dsn, "mysql://") {
		return drv.ParseDSN(dsn)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "3306")
	}
	// Parameters go through the driver's own parser; user and password are
	// set directly so characters such as '@' or '/' in them need no escaping.
	cfg, err := drv.ParseDSN("tcp(" + host + ")/" + url.PathEscape(strings.TrimPrefix(u.Path, "/")) + "?" + u.RawQuery)
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	return cfg, nil
}

// Open connects within s.ConnectTimeout and checks the login.
func Open(ctx context.Context, s config.Source) (*Connector, error) {
	timeout := s.ConnectTimeout.Duration
	if timeout <= 0 {
		timeout = config.DefaultConnectTimeout
	}
	cfg, err := ParseDSN(s.DSN)
	if err != nil {
		// The DSN may hold a password: say only that it is malformed.
		return nil, arrowconv.Unavailable(s.Name, errors.New("malformed mysql dsn"))
	}
	if cfg.DBName == "" {
		return nil, &connectors.SourceError{Source: s.Name, Op: "connect", Err: errors.New("mysql dsn names no database")}
	}
	cfg.Logger = driverLogger{}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Timeout = timeout
	cfg.InterpolateParams = false
	if err := cfg.Apply(drv.Charset("utf8mb4", "utf8mb4_bin")); err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = sessionSQLMode
	deadlines := applyTimeouts(cfg, s)
	conn, err := drv.NewConnector(cfg)
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	db := sql.OpenDB(pinnedConnector{conn})
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Enough idle connections for the source's statement slots and the
	// KILL that may follow one, so a steady load does not redial.
	maxIdle := s.WithDefaults().MaxConcurrent + 1
	db.SetMaxIdleConns(maxIdle)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	return &Connector{name: s.Name, db: db, dbn: cfg.DBName, mem: memory.DefaultAllocator, deadlines: deadlines, maxIdle: maxIdle}, nil
}

// SetAllocator sets the allocator for record batches (tests check leaks).
func (c *Connector) SetAllocator(mem memory.Allocator) { c.mem = mem }

func (c *Connector) Name() string            { return c.name }
func (c *Connector) Kind() catalog.Kind      { return catalog.MySQL }
func (c *Connector) Dialect() sqlgen.Dialect { return sqlgen.MySQL }
func (c *Connector) Close() error            { return c.db.Close() }

func (c *Connector) Ping(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return arrowconv.Unavailable(c.name, err)
	}
	return nil
}

// redact keeps the server's message only for errors that cannot quote row
// data (unknown objects, syntax, interruption, access).
func (c *Connector) redact(op string, err error) error {
	var me *drv.MySQLError
	if errors.As(err, &me) {
		msg := "MySQL error " + strconv.Itoa(int(me.Number))
		switch me.Number {
		case 1044, 1045, 1046, 1049, 1054, 1064, 1142, 1143, 1146, 1149, 1317, 1305, 1630, 3024, 1028, 1969:
			msg += ": " + me.Message
		}
		err = &arrowconv.Redacted{Msg: msg, Err: err}
	}
	if c.lost(err) {
		// The source became unreachable under the statement (the
		// breaker counts it); the statement did not fail.
		return connectors.ConnLost(c.name, op, err)
	}
	data := errors.As(err, &me) && me.SQLState[0] == '2' && me.SQLState[1] == '2'
	return &connectors.SourceError{Source: c.name, Op: op, Err: c.timeoutCause(err), Data: data}
}

const tablesSQL = `
SELECT c.TABLE_NAME, t.TABLE_TYPE, t.TABLE_ROWS, c.COLUMN_NAME, c.COLUMN_TYPE, c.DATA_TYPE,
       c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.IS_NULLABLE
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = ?
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`

// Tables lists the tables and views of the DSN's database.
func (c *Connector) Tables(ctx context.Context) ([]*catalog.Table, error) {
	rows, err := c.db.QueryContext(ctx, tablesSQL, c.dbn)
	if err != nil {
		return nil, c.redact("introspect", err)
	}
	defer rows.Close()
	var out []*catalog.Table
	var t *catalog.Table
	for rows.Next() {
		var tbl, ttype, col, ctype, dtype, nullable string
		var est, prec, scale sql.NullInt64
		if err := rows.Scan(&tbl, &ttype, &est, &col, &ctype, &dtype, &prec, &scale, &nullable); err != nil {
			return nil, c.redact("introspect", err)
		}
		if t == nil || t.RemoteName != tbl {
			e := int64(-1)
			if est.Valid && ttype == "BASE TABLE" {
				e = est.Int64
			}
			t = &catalog.Table{Source: c.name, Name: tbl, RemoteName: tbl, RowEstimate: e}
			out = append(out, t)
		}
		t.Columns = append(t.Columns, catalog.Column{Name: col, Type: ArrowType(dtype, ctype, prec.Int64, scale.Int64),
			SourceType: ctype, Nullable: nullable == "YES"})
	}
	if err := rows.Err(); err != nil {
		return nil, c.redact("introspect", err)
	}
	return out, nil
}

// ArrowType maps information_schema DATA_TYPE/COLUMN_TYPE to Arrow.
// tinyint(1) stays int8: it is a boolean only where the catalog says so.
func ArrowType(dataType, columnType string, prec, scale int64) arrow.DataType {
	unsigned := strings.Contains(columnType, "unsigned")
	switch strings.ToLower(dataType) {
	case "tinyint":
		if unsigned {
			return arrow.PrimitiveTypes.Int16
		}
		return arrow.PrimitiveTypes.Int8
	case "smallint":
		if unsigned {
			return arrow.PrimitiveTypes.Int32
		}
		return arrow.PrimitiveTypes.Int16
	case "mediumint":
		return arrow.PrimitiveTypes.Int32
	case "int", "integer":
		if unsigned {
			return arrow.PrimitiveTypes.Int64
		}
		return arrow.PrimitiveTypes.Int32
	case "bigint":
		if unsigned {
			return &arrow.Decimal128Type{Precision: 20, Scale: 0}
		}
		return arrow.PrimitiveTypes.Int64
	case "year":
		return arrow.PrimitiveTypes.Int16
	case "decimal", "numeric":
		if prec >= 1 && prec <= 38 && scale >= 0 && scale <= prec {
			return &arrow.Decimal128Type{Precision: int32(prec), Scale: int32(scale)}
		}
		return arrow.BinaryTypes.String
	case "float", "double", "real":
		return arrow.PrimitiveTypes.Float64
	case "date":
		return arrow.FixedWidthTypes.Date32
	case "datetime":
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit", "geometry":
		return arrow.BinaryTypes.Binary
	}
	// char, varchar, *text, enum, set, json, time, uuid, inet...
	return arrow.BinaryTypes.String
}

// session takes a pooled connection and asks for its id (KILL needs it).
// That is the statement's first exchange with the server, and nothing of
// it has run yet: a connection that died while idle and passed the
// driver's check before reuse (which sees a socket the server closed, not
// one that will be reset when used) is found broken here, and the
// exchange is tried once more on a fresh connection. The pool's other
// idle connections went through the same blip or restart: they are
// dropped first, so the retry dials.
func (c *Connector) session(ctx context.Context) (*sql.Conn, int64, error) {
	for attempt := 0; ; attempt++ {
		conn, err := c.db.Conn(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, &connectors.SourceError{Source: c.name, Op: "query", Err: ctx.Err()}
			}
			return nil, 0, arrowconv.Unavailable(c.name, err)
		}
		var id int64
		err = conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id)
		if err == nil {
			return conn, id, nil
		}
		conn.Close() // a broken one is not returned to the pool
		if ctx.Err() != nil {
			return nil, 0, &connectors.SourceError{Source: c.name, Op: "query", Err: ctx.Err()}
		}
		if attempt > 0 || !c.lost(err) {
			return nil, 0, c.redact("query", err)
		}
		c.db.SetMaxIdleConns(0)
		c.db.SetMaxIdleConns(c.maxIdle)
	}
}

// lost reports whether err is the connection breaking (closed or reset by
// the server or the network, the session killed or the server shutting
// down) rather than the server refusing a statement or a timeout of ours.
func (c *Connector) lost(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(c.timeoutCause(err), connectors.ErrSourceTimeout) {
		return false
	}
	var me *drv.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1053 || me.Number == 1927 // ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED
	}
	return errors.Is(err, drv.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// Query runs q on a dedicated connection. Cancelling ctx (or releasing the
// reader early) KILLs the query from another connection: the driver only
// closes its socket, and the server would run the query to its end.
func (c *Connector) Query(ctx context.Context, q sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error) {
	conn, id, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	qctx, stop := context.WithCancel(ctx)
	killed := make(chan struct{})
	unwatch := context.AfterFunc(qctx, func() {
		defer close(killed)
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Error ignored: the query may have ended by itself meanwhile.
		_, _ = c.db.ExecContext(kctx, fmt.Sprintf("KILL QUERY %d", id))
	})
	// finish runs before the rows are closed: an unfinished query is killed
	// and the kill awaited, so it can never hit a later query.
	finish := func(exhausted bool) {
		if exhausted && unwatch() {
			stop()
			return
		}
		stop()
		<-killed
	}
	rows, err := conn.QueryContext(qctx, q.SQL)
	if err != nil {
		finish(false)
		conn.Close()
		if ctx.Err() != nil {
			return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: ctx.Err()}
		}
		return nil, c.redact("query", err)
	}
	r, err := arrowconv.NewRowsReader(ctx, c.mem, rows, schema, c.name, arrowconv.RowsOptions{
		OnClose:    finish,
		AfterClose: func() { conn.Close() },
		WrapErr: func(err error) error {
			if ctx.Err() != nil {
				return &connectors.SourceError{Source: c.name, Op: "query", Err: ctx.Err()}
			}
			return c.redact("query", err)
		},
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}
