package engine

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"lienthong/attempt"
	"lienthong/catalog"
	"lienthong/internal/duckstream"
	"lienthong/planner"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// querySeq numbers residual executions, to name their views apart.
var querySeq atomic.Int64

// Query plans and starts sql. The caller reads the result and must Release
// it; cancelling ctx stops every source query.
func (e *Engine) Query(ctx context.Context, sqlText string, opt QueryOptions) (*Result, error) {
	res, err := e.query(ctx, sqlText, opt)
	return res, clientError(err)
}

func (e *Engine) query(ctx context.Context, sqlText string, opt QueryOptions) (*Result, error) {
	a := &Attempt{ID: newAttemptID(), Start: time.Now(), Session: opt.Session, SQL: auditedSQL(sqlText, opt.Params)}
	ctx = attempt.WithRequest(ctx, opt.Session, a.ID) // catalog views and agents see who asks
	obs := e.observer
	fail := func(err error) (*Result, error) {
		if obs == nil {
			return nil, err
		}
		a.ErrorCode, a.FailedSource, a.Duration = ErrorCode(err), failedSource(err), time.Since(a.Start)
		a.Outcome = attempt.OutcomeOf(a.ErrorCode, isCancelled(err))
		if aerr := obs.End(context.WithoutCancel(ctx), a); aerr != nil {
			return nil, fmt.Errorf("%w: %w (while reporting: %v)", ErrAudit, aerr, err)
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
			return nil, fmt.Errorf("%w: %w", ErrAudit, err)
		}
	}
	res, err := e.runWatched(ctx, snap, p, opt.Progress)
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
	return e.runWatched(ctx, snap, p, nil)
}

// runWatched is Run, reporting the sources' progress to prog (nil: none).
func (e *Engine) runWatched(ctx context.Context, snap *catalog.Snapshot, p *plan.Plan, prog *Progress) (*Result, error) {
	res, err := e.run(ctx, snap, p, false, prog)
	if err != nil || p.Privacy == nil {
		return res, err
	}
	pr := newPrivateReader(res.inner, p.Privacy)
	res.inner, res.schema = pr, pr.Schema()
	return res, nil
}

// run executes p; with profile the residual's result is DuckDB's EXPLAIN
// ANALYZE text instead of the rows; pr (nil: none) watches its streams.
func (e *Engine) run(ctx context.Context, snap *catalog.Snapshot, p *plan.Plan, profile bool, pr *Progress) (*Result, error) {
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
		schema := schemaOf(rm.Columns)
		if src := snap.Source(rm.Source); src != nil && src.Kind == catalog.CatalogViews {
			s := newStream(ctx, rm.ID, schema)
			s.source = rm.Source
			s.open = func(ctx context.Context) (array.RecordReader, error) { return e.openCatalogView(ctx, rm, schema) }
			streams = append(streams, s)
			byID[rm.ID] = s
			continue
		}
		conn, err := e.conn(rm.Source)
		if err != nil {
			stopAll()
			return nil, err
		}
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
	pr.watch(p, streams, e.policy.Current() != nil)
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

// auditedSQL is the statement as the audit log records it: the text as
// received and, when it has parameters, their values.
func auditedSQL(sqlText string, params []any) string {
	if params == nil {
		return sqlText
	}
	return sqlText + "\n-- params: " + planner.ParamsText(params)
}
