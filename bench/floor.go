package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/duckdb/duckdb-go/v2"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"lienthong/catalog"
	"lienthong/config"
)

// Floor is the co-located lower bound: the query on one DuckDB file holding
// every agency's tables (the generator's oracle), plus the time to extract,
// concurrently and with the sources' own drivers, just the rows and columns
// the query needs from each source.
type Floor struct {
	oracle *sql.DB
	conn   *sql.Conn
	arrow  *duckdb.Arrow

	sources map[string]config.Source
	mu      sync.Mutex
	pgIdle  map[string][]*pgx.Conn
	mysql   map[string]*sql.DB
	duck    map[string]*sql.DB // csv, parquet and duckdb sources
}

// OpenFloor opens the oracle read-only and prepares connections to the
// sources named in the lienthong config.
func OpenFloor(ctx context.Context, oraclePath, cfgPath string) (*Floor, error) {
	c, err := duckdb.NewConnector(oraclePath+"?access_mode=read_only", nil)
	if err != nil {
		return nil, fmt.Errorf("floor: oracle: %w", err)
	}
	f := &Floor{oracle: sql.OpenDB(c), sources: map[string]config.Source{}, pgIdle: map[string][]*pgx.Conn{},
		mysql: map[string]*sql.DB{}, duck: map[string]*sql.DB{}}
	f.conn, err = f.oracle.Conn(ctx)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.conn.Raw(func(dc any) error {
		var err error
		f.arrow, err = duckdb.NewArrowFromConn(dc.(driver.Conn))
		return err
	}); err != nil {
		f.Close()
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		f.Close()
		return nil, err
	}
	for _, s := range cfg.Sources {
		f.sources[s.Name] = s
		switch s.Kind {
		case catalog.MySQL:
			db, err := sql.Open("mysql", s.DSN)
			if err != nil {
				f.Close()
				return nil, err
			}
			f.mysql[s.Name] = db
		case catalog.CSV, catalog.Parquet, catalog.DuckDB:
			db, err := openDuckSource(ctx, s)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("floor: source %s: %w", s.Name, err)
			}
			f.duck[s.Name] = db
		}
	}
	return f, nil
}

// openDuckSource opens a file source the way lienthong's DuckDB connector
// does: a view per CSV or Parquet file named after the file, or the DuckDB
// file read-only.
func openDuckSource(ctx context.Context, s config.Source) (*sql.DB, error) {
	if s.Kind == catalog.DuckDB {
		c, err := duckdb.NewConnector(s.Path+"?access_mode=read_only", nil)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(c), nil
	}
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	files, err := filepath.Glob(s.Path)
	if err != nil || len(files) == 0 {
		db.Close()
		return nil, fmt.Errorf("no file matches %s", s.Path)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		reader := "read_parquet(" + sqlString(file) + ")"
		if s.Kind == catalog.CSV {
			reader = "read_csv(" + sqlString(file) + ", header = true, auto_detect = true)"
		}
		if _, err := db.ExecContext(ctx, `CREATE VIEW "`+name+`" AS SELECT * FROM `+reader); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (f *Floor) Close() error {
	var errs []error
	for _, conns := range f.pgIdle {
		for _, c := range conns {
			errs = append(errs, c.Close(context.Background()))
		}
	}
	for _, db := range f.mysql {
		errs = append(errs, db.Close())
	}
	for _, db := range f.duck {
		errs = append(errs, db.Close())
	}
	if f.conn != nil {
		errs = append(errs, f.conn.Close())
	}
	if f.oracle != nil {
		errs = append(errs, f.oracle.Close())
	}
	return errors.Join(errs...)
}

// Oracle is the oracle database (for template parameters).
func (f *Floor) Oracle() *sql.DB { return f.oracle }

// DuckDBVersion is the oracle's DuckDB version.
func (f *Floor) DuckDBVersion(ctx context.Context) string {
	var v string
	_ = f.oracle.QueryRowContext(ctx, "SELECT version()").Scan(&v)
	return v
}

// Query runs sql on the oracle through DuckDB's Arrow interface and reads
// every batch.
func (f *Floor) Query(ctx context.Context, sql string) Outcome {
	var o Outcome
	var conv time.Duration
	start := time.Now()
	rdr, err := f.arrow.QueryContext(ctx, sql)
	if err != nil {
		o.Err = err
		return o
	}
	for rdr.Next() {
		t := time.Now()
		o.Rows, err = ArrowRows(o.Rows, rdr.RecordBatch())
		conv += time.Since(t)
		if err != nil {
			break
		}
	}
	if err == nil {
		err = rdr.Err()
	}
	rdr.Release()
	o.Err = err
	o.Elapsed = time.Since(start) - conv
	return o
}

// ExtractResult is one timed extraction: every statement run concurrently.
type ExtractResult struct {
	Elapsed time.Duration
	Rows    []int64 // per statement
	Bytes   []int64 // per statement: the bytes of the values as received
}

// a runner runs one extraction statement on a connection acquired before
// the clock starts, reading and discarding every row.
type runner struct {
	run     func(ctx context.Context) (rows, bytes int64, err error)
	release func()
}

// Extract runs every statement concurrently on its source and discards the
// rows; connections are acquired before the clock starts, as lienthong's
// pools are warm.
func (f *Floor) Extract(ctx context.Context, stmts []Extract) (ExtractResult, error) {
	var res ExtractResult
	runners := make([]runner, len(stmts))
	defer func() {
		for _, r := range runners {
			if r.release != nil {
				r.release()
			}
		}
	}()
	for i, st := range stmts {
		r, err := f.prepare(ctx, st)
		if err != nil {
			return res, fmt.Errorf("floor: %s: %w", st.Source, err)
		}
		runners[i] = r
	}
	res.Rows = make([]int64, len(stmts))
	res.Bytes = make([]int64, len(stmts))
	errs := make([]error, len(stmts))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Rows[i], res.Bytes[i], errs[i] = runners[i].run(ctx)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	for i, err := range errs {
		if err != nil {
			return res, fmt.Errorf("floor: %s: %s: %w", stmts[i].Source, stmts[i].SQL, err)
		}
	}
	return res, nil
}

func (f *Floor) prepare(ctx context.Context, st Extract) (runner, error) {
	src, ok := f.sources[st.Source]
	if !ok {
		return runner{}, fmt.Errorf("no source %s in the config", st.Source)
	}
	switch src.Kind {
	case catalog.Postgres:
		conn, err := f.pgConn(ctx, src)
		if err != nil {
			return runner{}, err
		}
		return runner{
			run: func(ctx context.Context) (int64, int64, error) {
				rr := conn.PgConn().ExecParams(ctx, st.SQL, nil, nil, nil, nil)
				var n, b int64
				for rr.NextRow() {
					n++
					for _, v := range rr.Values() {
						b += int64(len(v))
					}
				}
				_, err := rr.Close()
				return n, b, err
			},
			release: func() { f.pgPut(src.Name, conn) },
		}, nil
	case catalog.MySQL:
		conn, err := f.mysql[src.Name].Conn(ctx)
		if err != nil {
			return runner{}, err
		}
		return runner{
			run: func(ctx context.Context) (int64, int64, error) {
				rows, err := conn.QueryContext(ctx, st.SQL)
				if err != nil {
					return 0, 0, err
				}
				defer rows.Close()
				cols, err := rows.Columns()
				if err != nil {
					return 0, 0, err
				}
				raw := make([]sql.RawBytes, len(cols))
				dest := make([]any, len(cols))
				for i := range raw {
					dest[i] = &raw[i]
				}
				var n, b int64
				for rows.Next() {
					if err := rows.Scan(dest...); err != nil {
						return n, b, err
					}
					n++
					for _, v := range raw {
						b += int64(len(v))
					}
				}
				return n, b, rows.Err()
			},
			release: func() { conn.Close() },
		}, nil
	case catalog.CSV, catalog.Parquet, catalog.DuckDB:
		conn, err := f.duck[src.Name].Conn(ctx)
		if err != nil {
			return runner{}, err
		}
		var ar *duckdb.Arrow
		if err := conn.Raw(func(dc any) error {
			var err error
			ar, err = duckdb.NewArrowFromConn(dc.(driver.Conn))
			return err
		}); err != nil {
			conn.Close()
			return runner{}, err
		}
		return runner{
			run: func(ctx context.Context) (int64, int64, error) {
				rdr, err := ar.QueryContext(ctx, st.SQL)
				if err != nil {
					return 0, 0, err
				}
				defer rdr.Release()
				var n, b int64
				for rdr.Next() {
					rec := rdr.RecordBatch()
					n += rec.NumRows()
					for _, col := range rec.Columns() {
						b += int64(arrayBytes(col))
					}
				}
				return n, b, rdr.Err()
			},
			release: func() { conn.Close() },
		}, nil
	}
	return runner{}, fmt.Errorf("source kind %s is not supported by the floor", src.Kind)
}

func arrayBytes(a arrow.Array) int {
	n := 0
	for _, buf := range a.Data().Buffers() {
		if buf != nil {
			n += buf.Len()
		}
	}
	return n
}

func (f *Floor) pgConn(ctx context.Context, src config.Source) (*pgx.Conn, error) {
	f.mu.Lock()
	idle := f.pgIdle[src.Name]
	if n := len(idle); n > 0 {
		c := idle[n-1]
		f.pgIdle[src.Name] = idle[:n-1]
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()
	return pgx.Connect(ctx, src.DSN)
}

func (f *Floor) pgPut(name string, c *pgx.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pgIdle[name] = append(f.pgIdle[name], c)
}

var reduceBy = regexp.MustCompile(`AND (\w+)\.(\w+) IN \(distinct (\w+) of remote (\d+)\)`)

// PlanExtract builds the floor's extraction statements from lienthong's
// remotes as EXPLAIN ANALYZE reported them: each remote's statement, and
// for a remote lienthong reduced at run time, the same statement with the
// same key filter. The floor fetches those keys before its clock starts (it
// knows them in advance, so every statement runs at once), which keeps it a
// lower bound for a plan that reduces. display holds the statements with
// each key list abbreviated, for the report.
func (f *Floor) PlanExtract(ctx context.Context, reads []SourceRead) (stmts, display []Extract, err error) {
	byID := map[int]*SourceRead{}
	for i := range reads {
		byID[reads[i].Remote] = &reads[i]
	}
	final := map[int]string{}
	short := map[int]string{}
	var resolve func(id, depth int) error
	resolve = func(id, depth int) error {
		if _, done := final[id]; done {
			return nil
		}
		r := byID[id]
		if r == nil || depth > len(reads) {
			return fmt.Errorf("floor: remote %d not in the plan (or a reduction cycle)", id)
		}
		m := reduceBy.FindStringSubmatch(r.ReduceBy)
		if r.ReducedKeys < 0 || m == nil {
			final[id], short[id] = r.SQL, r.SQL
			return nil
		}
		from, _ := strconv.Atoi(m[4])
		if err := resolve(from, depth+1); err != nil {
			return err
		}
		keys, err := f.Keys(ctx, byID[from].Source, final[from], m[3])
		if err != nil {
			return fmt.Errorf("floor: keys for remote %d: %w", id, err)
		}
		kind := f.sources[r.Source].Kind
		final[id] = addInFilter(kind, r.SQL, m[1], m[2], keyList(kind, keys))
		short[id] = addInFilter(kind, r.SQL, m[1], m[2], fmt.Sprintf("<%d keys fetched before the clock starts>", len(keys)))
		return nil
	}
	for _, r := range reads {
		if err := resolve(r.Remote, 0); err != nil {
			return nil, nil, err
		}
		stmts = append(stmts, Extract{Source: r.Source, SQL: final[r.Remote]})
		display = append(display, Extract{Source: r.Source, SQL: short[r.Remote]})
	}
	return stmts, display, nil
}

// addInFilter adds "alias.col IN (list)" to a scan statement (SELECT ...
// FROM t AS a [WHERE ...]), quoting names for the source's dialect.
func addInFilter(kind catalog.Kind, stmt, alias, col, list string) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	if kind == catalog.MySQL {
		q = func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	}
	cond := q(alias) + "." + q(col) + " IN (" + list + ")"
	if strings.Contains(stmt, " WHERE ") {
		return stmt + " AND (" + cond + ")"
	}
	return stmt + " WHERE " + cond
}

// keyList renders keys as string literals (NULL when there are none, as
// lienthong does: no row can match).
func keyList(kind catalog.Kind, keys []string) string {
	if len(keys) == 0 {
		return "NULL"
	}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		k = strings.ReplaceAll(k, "'", "''")
		if kind == catalog.MySQL {
			k = strings.ReplaceAll(k, `\`, `\\`)
		}
		b.WriteString("'" + k + "'")
	}
	return b.String()
}

// Keys runs stmt on source and returns the distinct non-NULL values of its
// column col, as text.
func (f *Floor) Keys(ctx context.Context, source, stmt, col string) ([]string, error) {
	src, ok := f.sources[source]
	if !ok {
		return nil, fmt.Errorf("no source %s", source)
	}
	set := map[string]bool{}
	switch src.Kind {
	case catalog.Postgres:
		conn, err := f.pgConn(ctx, src)
		if err != nil {
			return nil, err
		}
		defer f.pgPut(src.Name, conn)
		rr := conn.PgConn().ExecParams(ctx, stmt, nil, nil, nil, nil)
		idx := -1
		for i, fd := range rr.FieldDescriptions() {
			if strings.EqualFold(fd.Name, col) {
				idx = i
			}
		}
		for rr.NextRow() {
			if idx >= 0 && rr.Values()[idx] != nil {
				set[string(rr.Values()[idx])] = true
			}
		}
		if _, err := rr.Close(); err != nil {
			return nil, err
		}
		if idx < 0 {
			return nil, fmt.Errorf("statement has no column %s", col)
		}
	default:
		var db *sql.DB
		if src.Kind == catalog.MySQL {
			db = f.mysql[src.Name]
		} else {
			db = f.duck[src.Name]
		}
		if db == nil {
			return nil, fmt.Errorf("source kind %s is not supported by the floor", src.Kind)
		}
		rows, err := db.QueryContext(ctx, stmt)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return nil, err
		}
		idx := -1
		for i, c := range cols {
			if strings.EqualFold(c, col) {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("statement has no column %s", col)
		}
		vals := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return nil, err
			}
			if vals[idx].Valid {
				set[vals[idx].String] = true
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}
