package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"lienthong/catalog"
	lduckdb "lienthong/connectors/duckdb"
	"lienthong/internal/duckstream"
	"lienthong/planner"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

func openResidual() (*sql.DB, error) {
	c, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		// Insertion order is irrelevant to SQL results without ORDER BY, and
		// dropping it lets DuckDB stream more.
		if _, err := execer.ExecContext(context.Background(), "SET preserve_insertion_order = false", nil); err != nil {
			return err
		}
		// DuckDB's arrow scan crashes the process (SIGSEGV) when a filter on
		// a column is pushed into the scan and the unused_columns optimizer
		// then drops every projected column, e.g. SELECT COUNT(*) FROM
		// (SELECT id FROM v WHERE upper(pin) = 'x'). The remotes already
		// carry only the columns a query needs, so keeping them costs little.
		_, err := execer.ExecContext(context.Background(), "SET disabled_optimizers = 'unused_columns'", nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// querySeq numbers residual executions, to name their views apart.
var querySeq atomic.Int64

// prefetchDepth is how many batches each remote may read ahead of DuckDB,
// so every source works at once while memory stays bounded.
const prefetchDepth = 4

// stream reads one remote's batches on its own goroutine.
type stream struct {
	id     int
	source string
	schema *arrow.Schema
	ch     chan arrow.RecordBatch
	ctx    context.Context // cancelled by the query's context or by Release
	query  context.Context // the query's own context
	open   func(ctx context.Context) (array.RecordReader, error)
	cancel context.CancelFunc
	done   chan struct{}

	cur     arrow.RecordBatch
	err     error // set before ch closes
	started bool  // run was started (set before any reader exists)
	// stopped is set when the reader let go of the stream (Release);
	// stoppedFirst says it happened before run ended, so whatever error
	// the source gave is the echo of that and not a failure.
	stopped      atomic.Bool
	stoppedFirst bool
	refs         atomic.Int64

	// collect, when set, reads this remote's join keys for another
	// remote's semi-join reduction before anything is handed on.
	collect *keyCollector
	keys    atomic.Int64 // keys the scan was reduced by; -1 when not

	start                 time.Time
	rows, bytes, batches  atomic.Int64
	wallMicros            atomic.Int64
	releaseOnce, doneOnce sync.Once
}

// newStream prepares a remote's stream; run starts it.
func newStream(parent context.Context, id int, schema *arrow.Schema) *stream {
	ctx, cancel := context.WithCancel(parent)
	s := &stream{id: id, schema: schema, ch: make(chan arrow.RecordBatch, prefetchDepth), query: parent, cancel: cancel, done: make(chan struct{}), start: time.Now()}
	s.ctx = ctx
	s.refs.Store(1)
	s.keys.Store(-1)
	return s
}

// Limits of semi-join reduction: a builder with more rows or distinct keys
// than this hands its rows on and the other side is read unreduced.
const (
	maxReduceRows = 1_000_000
	maxReduceKeys = 50_000
)

// keyCollector gathers the distinct values of one column of a builder.
type keyCollector struct {
	col   int
	ready chan struct{}
	keys  []any // nil when there were too many
}

// add records the keys of one batch; false once there are too many.
func (k *keyCollector) add(set map[any]struct{}, rec arrow.RecordBatch) bool {
	col := rec.Column(k.col)
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			continue // NULL never joins
		}
		switch a := col.(type) {
		case *array.String:
			set[strings.Clone(a.Value(i))] = struct{}{}
		case *array.Int64:
			set[a.Value(i)] = struct{}{}
		case *array.Int32:
			set[int64(a.Value(i))] = struct{}{}
		case *array.Int16:
			set[int64(a.Value(i))] = struct{}{}
		case *array.Int8:
			set[int64(a.Value(i))] = struct{}{}
		default:
			return false
		}
	}
	return len(set) <= maxReduceKeys
}

func sortedKeys(set map[any]struct{}) []any {
	keys := make([]any, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		switch a := keys[i].(type) {
		case string:
			return a < keys[j].(string)
		case int64:
			return a < keys[j].(int64)
		}
		return false
	})
	return keys
}

func (s *stream) run(ctx context.Context, open func(ctx context.Context) (array.RecordReader, error)) {
	defer close(s.done)
	defer close(s.ch)
	defer func() { s.stoppedFirst = s.stopped.Load() }()
	defer func() { s.wallMicros.Store(time.Since(s.start).Microseconds()) }()
	if s.collect != nil {
		// Whatever happens, the remote waiting for these keys goes on.
		defer func() {
			select {
			case <-s.collect.ready:
			default:
				close(s.collect.ready)
			}
		}()
	}
	src, err := open(ctx)
	if err != nil {
		s.err = err
		return
	}
	defer src.Release()
	if !src.Schema().Equal(s.schema) {
		s.err = fmt.Errorf("internal: remote %d returned schema %s, planned %s", s.id, src.Schema(), s.schema)
		return
	}
	if s.collect != nil {
		// Read ahead of DuckDB until the keys are known: the other side
		// cannot start before, and DuckDB may want that side first.
		var held []arrow.RecordBatch
		set := map[any]struct{}{}
		ok := true
		var rows int64
		for ok && src.Next() {
			rec := src.RecordBatch()
			rec.Retain()
			held = append(held, rec)
			rows += rec.NumRows()
			ok = rows <= maxReduceRows && s.collect.add(set, rec)
		}
		if ok && src.Err() == nil {
			s.collect.keys = sortedKeys(set)
		}
		close(s.collect.ready)
		for i, rec := range held {
			if !s.send(ctx, rec) {
				for _, r := range held[i+1:] {
					r.Release()
				}
				return
			}
		}
		if ok {
			s.err = src.Err()
			return
		}
	}
	for src.Next() {
		rec := src.RecordBatch()
		rec.Retain()
		if !s.send(ctx, rec) {
			return
		}
	}
	s.err = src.Err()
	if s.err == nil && ctx.Err() != nil {
		// A reader may end quietly when its context is cancelled: that
		// is not the end of the data.
		s.err = ctx.Err()
	}
}

// send hands one batch on, counting it; false when the query was cancelled.
func (s *stream) send(ctx context.Context, rec arrow.RecordBatch) bool {
	s.rows.Add(rec.NumRows())
	s.batches.Add(1)
	for _, col := range rec.Columns() {
		s.bytes.Add(int64(arraySize(col.Data())))
	}
	select {
	case s.ch <- rec:
		return true
	case <-ctx.Done():
		rec.Release()
		s.err = ctx.Err()
		return false
	}
}

func arraySize(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += b.Len()
		}
	}
	for _, c := range d.Children() {
		n += arraySize(c)
	}
	return n
}

func (s *stream) Schema() *arrow.Schema { return s.schema }

func (s *stream) Next() bool {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	rec, ok := <-s.ch
	if !ok {
		// run closes ch just before done: wait, so that Err, asked next,
		// sees how the stream ended. Without this a failed stream read in
		// that moment ended as a clean, empty success.
		<-s.done
		return false
	}
	s.cur = rec
	return true
}

func (s *stream) RecordBatch() arrow.RecordBatch { return s.cur }
func (s *stream) Record() arrow.RecordBatch      { return s.cur }

// Err is the stream's failure once it has ended. A stream stopped because
// its reader stopped early (DuckDB's LIMIT was satisfied, Release) ends
// cleanly whatever its source said about being cancelled; a stream whose
// query was cancelled ends with a cancellation error, never cleanly.
func (s *stream) Err() error {
	select {
	case <-s.done:
	default:
		return nil
	}
	if s.query.Err() != nil {
		return cancelled(s.query)
	}
	if s.stoppedFirst {
		return nil // we stopped reading
	}
	return s.err
}

func (s *stream) Retain() { s.refs.Add(1) }

// Release stops the source query (if still running) and frees buffered
// batches.
func (s *stream) Release() {
	if s.refs.Add(-1) > 0 {
		return
	}
	s.releaseOnce.Do(func() {
		s.stopped.Store(true)
		s.cancel()
		if !s.started {
			return
		}
		if s.cur != nil {
			s.cur.Release()
			s.cur = nil
		}
		for rec := range s.ch {
			rec.Release()
		}
		<-s.done
	})
}

// Result is a running query: a stream of record batches with the plan it
// runs and, once read to the end, per-remote statistics.
type Result struct {
	Plan     *plan.Plan
	Snapshot *catalog.Snapshot
	schema   *arrow.Schema
	inner    array.RecordReader
	streams  []*stream
	cur      arrow.RecordBatch
	cleanup  func()
	released bool
	rows     int64
	bytes    int64

	// Audit: the attempt is ended exactly once, when the stream ends,
	// fails or is released early.
	attempt *Attempt
	obs     Observer
	ctx     context.Context // for the audit: never cancelled
	query   context.Context // the query's context
	hasher  *resultHasher
	endErr  error
	// finished is set when the stream ended; endErr is then its error.
	finished bool
}

func (r *Result) Schema() *arrow.Schema { return r.schema }

func (r *Result) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.released || r.endErr != nil || r.finished {
		return false
	}
	if !r.inner.Next() {
		r.finished = true
		if err := r.streamErr(); err != nil {
			r.end(Failed, err)
		} else {
			r.end(Succeeded, nil)
		}
		return false
	}
	rec := r.inner.RecordBatch()
	r.rows += rec.NumRows()
	for _, col := range rec.Columns() {
		r.bytes += int64(arraySize(col.Data()))
	}
	// Same columns, the names the user asked for.
	r.cur = array.NewRecordBatch(r.schema, rec.Columns(), rec.NumRows())
	if r.hasher != nil {
		if err := r.hasher.add(r.cur); err != nil {
			r.end(Failed, err)
			return false
		}
	}
	return true
}

// end reports the attempt's outcome once; a failure to write it fails the
// result, so a client never sees success that was not audited.
func (r *Result) end(o Outcome, err error) {
	if r.obs == nil || r.attempt == nil {
		if err != nil && r.endErr == nil {
			r.endErr = err
		}
		return
	}
	a := r.attempt
	r.attempt = nil
	a.Outcome, a.ErrorCode, a.FailedSource = o, ErrorCode(err), failedSource(err)
	if o == Failed && isCancelled(err) {
		a.Outcome = Cancelled
	}
	a.Rows, a.Bytes, a.Duration = r.rows, r.bytes, time.Since(a.Start)
	a.RowsPerSource = map[string]int64{}
	for _, s := range r.streams {
		a.RowsPerSource[s.source] += s.rows.Load()
	}
	if o == Succeeded {
		a.ResultSHA256 = r.hasher.sum()
	}
	if aerr := r.obs.End(r.ctx, a); aerr != nil {
		r.endErr = fmt.Errorf("%w: %v", ErrAudit, aerr)
	} else if err != nil {
		r.endErr = err
	}
}

func (r *Result) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *Result) Record() arrow.RecordBatch      { return r.cur }

func (r *Result) Err() error {
	if r.endErr != nil || r.finished {
		// Once the stream has ended its outcome is fixed: a context
		// cancelled after a complete result does not unmake it.
		return clientError(r.endErr)
	}
	return clientError(r.streamErr())
}

func (r *Result) streamErr() error {
	if r.query != nil && r.query.Err() != nil {
		// Whatever the residual or a source made of it (DuckDB says
		// "Interrupted", a source its own words), the query was cancelled.
		return cancelled(r.query)
	}
	if err := r.inner.Err(); err != nil {
		if r.cleanup != nil { // the residual's reader: DuckDB's message
			// A source that failed mid-stream surfaces through DuckDB
			// (as an error of its own class): report the source's.
			for _, s := range r.streams {
				if serr := s.Err(); serr != nil {
					return serr
				}
			}
			return residualError(err)
		}
		return err
	}
	for _, s := range r.streams {
		if err := s.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Result) Retain() {}

// Release stops every source query still running and frees the residual.
func (r *Result) Release() {
	if r.released {
		return
	}
	if r.attempt != nil {
		r.end(Cancelled, context.Canceled)
	}
	r.released = true
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.inner.Release()
	if r.cleanup != nil {
		r.cleanup()
	}
}

// Rows is how many rows the result has returned so far.
func (r *Result) Rows() int64 { return r.rows }

// Stats reports rows, bytes and time read from each remote.
func (r *Result) Stats() map[int]planner.RemoteStats {
	out := map[int]planner.RemoteStats{}
	for _, s := range r.streams {
		out[s.id] = planner.RemoteStats{Rows: s.rows.Load(), Bytes: s.bytes.Load(), Batches: s.batches.Load(), WallMillis: float64(s.wallMicros.Load()) / 1000, Keys: s.keys.Load()}
	}
	return out
}

func schemaOf(cols []plan.Column) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.Name, Type: c.Type, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// Query plans and starts sql. The caller reads the result and must Release
// it; cancelling ctx stops every source query.
func (e *Engine) Query(ctx context.Context, sqlText string, opt QueryOptions) (*Result, error) {
	res, err := e.query(ctx, sqlText, opt)
	return res, clientError(err)
}

func (e *Engine) query(ctx context.Context, sqlText string, opt QueryOptions) (*Result, error) {
	a := &Attempt{ID: newAttemptID(), Start: time.Now(), Session: opt.Session, SQL: sqlText}
	obs := e.observer
	fail := func(err error) (*Result, error) {
		if obs == nil {
			return nil, err
		}
		a.Outcome, a.ErrorCode, a.FailedSource, a.Duration = Failed, ErrorCode(err), failedSource(err), time.Since(a.Start)
		switch {
		case isCancelled(err):
			a.Outcome = Cancelled
		case deniedCode(a.ErrorCode):
			a.Outcome = Denied
		}
		if aerr := obs.End(context.WithoutCancel(ctx), a); aerr != nil {
			return nil, fmt.Errorf("%w: %v (while reporting: %v)", ErrAudit, aerr, err)
		}
		return nil, err
	}
	p, snap, err := e.Plan(sqlText, opt)
	if err != nil {
		return fail(err)
	}
	describe(a, p)
	if err := e.admit(p, opt.Session, a); err != nil {
		return fail(err)
	}
	if obs != nil {
		a.Outcome = Started
		if err := obs.Begin(ctx, a); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAudit, err)
		}
	}
	res, err := e.Run(ctx, snap, p)
	if err != nil {
		return fail(err)
	}
	if obs != nil {
		res.attempt, res.obs, res.ctx = a, obs, context.WithoutCancel(ctx)
		res.hasher = newResultHasher(res.schema)
	}
	return res, nil
}

// Run executes a planned statement. A differentially private plan's
// result is its noisy released groups (the budget is spent by Query).
func (e *Engine) Run(ctx context.Context, snap *catalog.Snapshot, p *plan.Plan) (*Result, error) {
	res, err := e.run(ctx, snap, p, false)
	if err != nil || p.Privacy == nil {
		return res, err
	}
	pr := newPrivateReader(res.inner, p.Privacy)
	res.inner, res.schema = pr, pr.Schema()
	return res, nil
}

// run executes p; with profile the residual's result is DuckDB's EXPLAIN
// ANALYZE text instead of the rows.
func (e *Engine) run(ctx context.Context, snap *catalog.Snapshot, p *plan.Plan, profile bool) (*Result, error) {
	var streams []*stream
	stopAll := func() {
		for _, s := range streams {
			s.Release()
		}
	}
	byID := map[int]*stream{}
	for _, rm := range p.Remotes {
		st, _, err := planner.RemoteStatement(snap, rm)
		if err != nil {
			stopAll()
			return nil, err
		}
		conn, err := e.conn(rm.Source)
		if err != nil {
			stopAll()
			return nil, err
		}
		schema := schemaOf(rm.Columns)
		s := newStream(ctx, rm.ID, schema)
		s.source = rm.Source
		s.open = func(ctx context.Context) (array.RecordReader, error) {
			if rm.ReduceBy != nil {
				b := byID[rm.ReduceBy.From].collect
				select {
				case <-b.ready:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				if b.keys != nil {
					rst, err := planner.ReducedStatement(snap, rm, b.keys)
					if err != nil {
						return nil, err
					}
					st = rst
					s.keys.Store(int64(len(b.keys)))
				}
			}
			return conn.Query(ctx, st, schema)
		}
		streams = append(streams, s)
		byID[rm.ID] = s
	}
	for _, rm := range p.Remotes {
		if k := rm.ReduceBy; k != nil && byID[k.From].collect == nil {
			b := byID[k.From]
			b.collect = &keyCollector{col: b.schema.FieldIndices(k.FromColumn)[0], ready: make(chan struct{})}
		}
	}
	for _, s := range streams {
		s.started = true
		go s.run(s.ctx, s.open)
	}
	res := &Result{Plan: p, Snapshot: snap, schema: schemaOf(p.Columns), streams: streams, query: ctx}
	if p.Single != nil {
		res.inner = streams[0]
		return res, nil
	}
	// Views live in the shared DuckDB's catalog: each query names its own.
	prefix := fmt.Sprintf("_lt_q%d_", querySeq.Add(1))
	p.ViewPrefix = prefix // EXPLAIN ANALYZE names the views as DuckDB's profile does
	view := func(id int) string { return sqlgen.PrefixedViewName(prefix, id) }
	st, err := planner.ResidualStatement(p, view)
	if err != nil {
		stopAll()
		return nil, err
	}
	conn, err := e.residual.Conn(ctx)
	if err != nil {
		stopAll()
		if ctx.Err() != nil {
			return nil, cancelled(ctx)
		}
		return nil, fmt.Errorf("engine: residual connection: %w", err)
	}
	var ar *duckdb.Arrow
	var handle bindings.Connection
	if err := conn.Raw(func(dc any) error {
		var err error
		if ar, err = duckdb.NewArrowFromConn(dc.(driver.Conn)); err != nil {
			return err
		}
		if !profile {
			handle, err = duckstream.Handle(dc)
		}
		return err
	}); err != nil {
		conn.Close()
		stopAll()
		return nil, err
	}
	var releases []func()
	cleanup := func() {
		for _, rel := range releases {
			rel()
		}
		for _, s := range streams {
			// Views hold the streams; dropping them lets the connection be
			// reused by the next query.
			_, _ = conn.ExecContext(context.Background(), "DROP VIEW IF EXISTS "+sqlgen.Quote(sqlgen.DuckDB, view(s.id)))
		}
		conn.Close()
		for _, s := range streams {
			s.Release()
		}
	}
	for _, s := range streams {
		// The exported C stream retains s and releases it when freed.
		rel, err := ar.RegisterView(s, view(s.id))
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("engine: registering remote %d: %w", s.id, err)
		}
		releases = append(releases, rel)
	}
	var rdr array.RecordReader
	if profile {
		// EXPLAIN ANALYZE's result is one row of text: duckdb-go's
		// materialising query is fine for it.
		rdr, err = ar.QueryContext(ctx, "EXPLAIN ANALYZE "+st.SQL)
	} else {
		// The rows stream: DuckDB computes a chunk when it is read.
		rdr, err = duckstream.Stream(ctx, handle, st.SQL)
	}
	if err != nil {
		cleanup()
		if ctx.Err() != nil {
			return nil, cancelled(ctx)
		}
		// A source failure surfaces through DuckDB; report the source's own.
		for _, s := range streams {
			if serr := s.Err(); serr != nil {
				return nil, serr
			}
		}
		return nil, residualError(err)
	}
	res.inner = rdr
	res.cleanup = cleanup
	res.schema = rdr.Schema()
	if !profile {
		res.schema = renameSchema(rdr.Schema(), p.Columns)
	}
	return res, nil
}

// quoted matches what DuckDB quotes in its messages: values ('Nguyễn...')
// as well as names.
var quoted = regexp.MustCompile(`'(?:[^']|'')*'|"(?:[^"]|"")*"`)

// residualError keeps DuckDB's explanation but drops every quoted string
// in it: a conversion error would otherwise echo the row value that failed
// ("Could not convert string 'Nguyễn Văn An' to INT64"), and no error may
// carry citizen data.
func residualError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i] // the rest is DuckDB's echo of the SQL and a caret
	}
	msg = quoted.ReplaceAllString(msg, "'…'")
	if lduckdb.IsDataError(err) {
		// A value in the data did not fit what the query asked of it (a
		// CAST, a function's argument): the user's to fix, not a bug. The
		// message is fixed: DuckDB's names the value.
		pe := &planner.Error{Code: planner.CodeType, Msg: "a value in the data does not fit the query's CAST, function or arithmetic; the value is not shown"}
		return fmt.Errorf("%w: %w", ErrResidual, pe)
	}
	return fmt.Errorf("%w: %s", ErrResidual, msg)
}

// ErrResidual wraps failures of the DuckDB residual (a cast that fails on
// some row, a division error...); the message never quotes values.
var ErrResidual = errors.New("query failed in the engine")

// renameSchema keeps DuckDB's column types under the user's column names.
func renameSchema(s *arrow.Schema, cols []plan.Column) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i := range fields {
		f := s.Field(i)
		if i < len(cols) {
			f.Name = cols[i].Name
		}
		f.Nullable = true
		fields[i] = f
	}
	return arrow.NewSchema(fields, nil)
}
