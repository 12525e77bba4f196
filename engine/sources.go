package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/planner"
	"lienthong/planner/sqlgen"
	"lienthong/state"
)

// Breaker states of a source (see srcState).
const (
	BreakerClosed   = "closed"    // queries run
	BreakerOpen     = "open"      // known down: queries fail at once until the cool-down ends
	BreakerHalfOpen = "half-open" // the cool-down ended: one probe is under way
)

// srcState is what the engine keeps per configured source: its connection
// (made in the background or when a query needs it, never delaying queries
// on other sources), a bulkhead of max_concurrent statement slots, and a
// circuit breaker. After breaker_failures consecutive failures to connect
// or to answer in time, the breaker opens: queries fail at once naming the
// source (LT-SOURCE-DOWN) for breaker_cooldown; then one query or health
// probe goes through, and its outcome closes or reopens it.
type srcState struct {
	cfg config.Source
	// def is the source as the sources machine holds it (as written);
	// unusable, when set, why this node cannot complete it (a dsn_env
	// not set here, an agent's file missing): every connect fails so.
	def      config.Source
	unusable error

	mu         sync.Mutex
	conn       connectors.Connector // nil until connected
	connecting chan struct{}        // non-nil while a connect attempt runs
	failures   int
	state      string
	openUntil  time.Time
	lastErr    string // the cause's own text, for the operator
	lastReason string // the same as clients may see it (publicReason)

	slots   chan struct{}
	waiters atomic.Int32
	retired atomic.Bool // no longer in force: no new statement starts
}

func newSrcState(sc config.Source) *srcState {
	sc = sc.WithDefaults()
	return &srcState{cfg: sc, state: BreakerClosed, slots: make(chan struct{}, sc.MaxConcurrent)}
}

// admit asks the breaker whether a statement may go to the source; probe
// says this one decides whether an open breaker closes.
func (s *srcState) admit() (probe bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case BreakerOpen:
		if wait := time.Until(s.openUntil); wait > 0 {
			return false, s.downError(fmt.Sprintf("next attempt in %s", wait.Round(100*time.Millisecond)))
		}
		s.state = BreakerHalfOpen
		return true, nil
	case BreakerHalfOpen:
		return false, s.downError("a probe is under way")
	}
	return false, nil
}

// ErrSourceDown is wrapped by the error of a query refused because the
// source's breaker is open; it also matches connectors.ErrSourceUnavailable.
var ErrSourceDown = errors.New("source down")

type downError struct{ msg string }

func (e *downError) Error() string   { return e.msg }
func (e *downError) Unwrap() []error { return []error{ErrSourceDown, connectors.ErrSourceUnavailable} }

func (s *srcState) downError(when string) error {
	return &connectors.SourceError{Source: s.cfg.Name, Op: "connect", Err: &downError{fmt.Sprintf(
		"source unavailable: down after %d consecutive failures (last: %s); %s (breaker_cooldown = %s)",
		s.failures, s.lastReason, when, s.cfg.BreakerCooldown.Duration)}}
}

// sourceFault reports whether err blames the source's reachability
// (connect, silence, timeouts), which is what the breaker counts.
func sourceFault(err error) bool {
	return errors.Is(err, connectors.ErrSourceUnavailable) || errors.Is(err, connectors.ErrSourceTimeout)
}

// report tells the breaker how a statement, connect or probe ended: err nil
// (the source answered, even with an SQL error), a source fault, or
// anything else (cancelled by the client: says nothing about the source).
func (s *srcState) report(probe bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Whatever ends while half-open decides, so the state cannot stick.
	probe = probe || s.state == BreakerHalfOpen
	switch {
	case err == nil || !sourceFault(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		s.failures, s.state = 0, BreakerClosed
	case sourceFault(err):
		s.failures++
		s.lastErr, s.lastReason = reason(err), publicReason(err)
		if probe || s.state == BreakerOpen || s.failures >= s.cfg.BreakerFailures {
			s.state, s.openUntil = BreakerOpen, time.Now().Add(s.cfg.BreakerCooldown.Duration)
		}
	case probe:
		// The probe was abandoned: the next statement probes again.
		s.state, s.openUntil = BreakerOpen, time.Now()
	}
}

// probed reports a health probe's outcome: it decides an open breaker,
// and counts like a statement while the breaker is closed.
func (s *srcState) probed(err error) {
	s.mu.Lock()
	probe := s.state != BreakerClosed
	s.mu.Unlock()
	s.report(probe, err)
}

// acquire takes one of the source's statement slots. A healthy source's
// statements wait up to queue_timeout for one; a suspect one's (a failure
// since its last success) do not wait at all: their wait would hold the
// node's query slots (server max_concurrent) for nothing.
func (s *srcState) acquire(ctx context.Context) (func(), error) {
	var once sync.Once
	release := func() { once.Do(func() { <-s.slots }) }
	select {
	case s.slots <- struct{}{}:
		return release, nil
	default:
	}
	busy := func() error {
		return &connectors.SourceError{Source: s.cfg.Name, Op: "query", Err: fmt.Errorf(
			"%w: the source already runs max_concurrent = %d statements and none ended within queue_timeout = %s; retry later or raise max_concurrent in its [[sources]] entry",
			connectors.ErrSourceBusy, cap(s.slots), s.cfg.QueueTimeout.Duration)}
	}
	s.mu.Lock()
	suspect := s.failures > 0 || s.state != BreakerClosed
	s.mu.Unlock()
	if suspect {
		return nil, busy()
	}
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	t := time.NewTimer(s.cfg.QueueTimeout.Duration)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, busy()
	case <-ctx.Done():
		return nil, &connectors.SourceError{Source: s.cfg.Name, Op: "query", Err: ctx.Err()}
	}
}

// guarded is a source's connector as queries see it: every statement goes
// through the breaker, a slot and statement_timeout.
type guarded struct {
	connectors.Connector
	s *srcState
}

func (g *guarded) Query(ctx context.Context, q sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error) {
	s := g.s
	if s.retired.Load() {
		return nil, &connectors.SourceError{Source: s.cfg.Name, Op: "query", Err: fmt.Errorf(
			"%w: the source was replaced or removed as this query started; run it again", connectors.ErrSourceUnavailable)}
	}
	probe, err := s.admit()
	if err != nil {
		return nil, err
	}
	release, err := s.acquire(ctx)
	if err != nil {
		if probe { // busy says nothing about the source's health
			s.report(true, context.Canceled)
		}
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout.Duration)
	r, err := g.Connector.Query(sctx, q, schema)
	if err != nil {
		err = g.classify(ctx, sctx, err)
		cancel()
		release()
		s.report(probe, err)
		return nil, err
	}
	s.report(probe, nil)
	return &guardedReader{RecordReader: r, g: g, parent: ctx, ctx: sctx, cancel: cancel, release: release}, nil
}

// classify names statement_timeout when it is what stopped the statement.
func (g *guarded) classify(parent, sctx context.Context, err error) error {
	if parent.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		return &connectors.SourceError{Source: g.s.cfg.Name, Op: "query",
			Err: &connectors.TimeoutError{Setting: "statement_timeout", After: g.s.cfg.StatementTimeout.Duration}}
	}
	return err
}

type guardedReader struct {
	array.RecordReader
	g           *guarded
	parent, ctx context.Context
	cancel      context.CancelFunc
	release     func()
	once        sync.Once
	reported    atomic.Bool
}

func (r *guardedReader) Err() error {
	err := r.RecordReader.Err()
	if err == nil {
		return nil
	}
	err = r.g.classify(r.parent, r.ctx, err)
	if sourceFault(err) && !r.reported.Swap(true) {
		r.g.s.report(false, err) // died or fell silent mid-stream
	}
	return err
}

func (r *guardedReader) Release() {
	r.RecordReader.Release()
	r.once.Do(func() {
		r.cancel()
		r.release()
	})
}

// SourceState is what the engine knows of one source right now.
type SourceState struct {
	Name string
	Kind catalog.Kind
	// Connected: the engine holds a connection; Connecting: an attempt
	// is under way (at start-up, or for a query that needs the source).
	Connected, Connecting bool
	Breaker               string // BreakerClosed, BreakerOpen or BreakerHalfOpen
	// Failures is the count of consecutive failures; LastError the last
	// one's first line (no data: connector errors carry none).
	Failures  int
	LastError string
	// Running statements, those waiting for a slot, and the
	// max_concurrent bound.
	Running, Waiting, MaxConcurrent int
}

// SourceStates lists every configured source's state, in config order.
func (e *Engine) SourceStates() []SourceState {
	srcs := e.sourceList()
	out := make([]SourceState, 0, len(srcs))
	for _, s := range srcs {
		s.mu.Lock()
		st := SourceState{Name: s.cfg.Name, Kind: s.cfg.Kind, Connected: s.conn != nil, Connecting: s.connecting != nil,
			Breaker: s.state, Failures: s.failures, LastError: s.lastErr, Running: len(s.slots), Waiting: int(s.waiters.Load()), MaxConcurrent: cap(s.slots)}
		if st.Breaker == BreakerOpen && !time.Now().Before(s.openUntil) {
			st.Breaker = BreakerHalfOpen // the next statement probes
		}
		s.mu.Unlock()
		out = append(out, st)
	}
	return out
}

func (e *Engine) source(name string) *srcState {
	e.srcMu.RLock()
	defer e.srcMu.RUnlock()
	return e.srcs[strings.ToLower(name)]
}

// sourceList is the sources in force now, in order.
func (e *Engine) sourceList() []*srcState {
	e.srcMu.RLock()
	defer e.srcMu.RUnlock()
	return e.order
}

// connectingReason marks a source in the catalog whose first connection
// has not completed yet.
const connectingReason = "connecting"

// stillConnecting reports whether the catalog knows nothing of source
// yet beyond that it is connecting.
func (e *Engine) stillConnecting(source string) bool {
	src := e.Catalog().Source(source)
	return src != nil && src.Unavailable == connectingReason
}

// startConnect begins connecting and introspecting s in the background
// (once: callers share an attempt under way) and returns a channel closed
// when it ends, the snapshot then published.
func (e *Engine) startConnect(s *srcState) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connecting != nil {
		return s.connecting
	}
	ch := make(chan struct{})
	s.connecting = ch
	go func() {
		src := e.introspect(context.Background(), s)
		if e.source(s.cfg.Name) == s && (s.unusable == nil || e.stillConnecting(s.cfg.Name)) {
			// Not for a source replaced or removed meanwhile; and a node
			// that cannot complete a source's settings does not overwrite
			// what a node that can has published.
			e.publish(src)
		}
		s.mu.Lock()
		s.connecting = nil
		s.mu.Unlock()
		close(ch)
	}()
	return ch
}

// introspect connects s if it has no connection and lists its tables.
func (e *Engine) introspect(ctx context.Context, s *srcState) *catalog.Source {
	sc := s.cfg
	src := &catalog.Source{Name: sc.Name, Kind: sc.Kind}
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		cctx, cancel := context.WithTimeout(ctx, sc.ConnectTimeout.Duration)
		c, err := s.open(cctx)
		cancel()
		if err != nil {
			s.report(false, orCtxErr(ctx, err))
			src.Unavailable = publicReason(err)
			return src
		}
		if conn = s.keep(c); conn == nil {
			src.Unavailable = retiredReason
			return src
		}
	}
	cctx, cancel := context.WithTimeout(ctx, sc.ConnectTimeout.Duration+30*time.Second)
	tables, err := conn.Tables(cctx)
	cancel()
	s.report(false, orCtxErr(ctx, err))
	if err != nil {
		src.Unavailable = publicReason(err)
	}
	for _, t := range tables {
		t.Source = sc.Name
		applyTableConfig(t, sc)
		src.Tables = append(src.Tables, t)
	}
	sort.Slice(src.Tables, func(a, b int) bool { return src.Tables[a].Name < src.Tables[b].Name })
	return src
}

// orCtxErr is ctx's error when ctx ended (the failure then says nothing
// about the source), else err.
func orCtxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// publish makes a new snapshot with src replacing its namesake. A source
// whose listing cannot be recorded (a column type the catalog cannot
// write) is published as unavailable, saying why, rather than lost.
func (e *Engine) publish(src *catalog.Source) {
	put := func(src *catalog.Source) error {
		cmd, err := state.New(catalog.OpPutSource, time.Now(), src)
		if err == nil {
			_, err = e.state.Propose(context.Background(), cmd)
		}
		return err
	}
	if err := put(src); err != nil {
		_ = put(&catalog.Source{Name: src.Name, Kind: src.Kind, Unavailable: "its catalog could not be recorded: " + err.Error()})
	}
}

// awaitSources waits for the sources sqlText names that the catalog does
// not list as connected: those still connecting, and those down whose
// breaker lets an attempt through (a reconnect, bounded by
// connect_timeout). Sources the query does not name are never waited for.
func (e *Engine) awaitSources(sqlText string) {
	snap := e.Catalog()
	var waits []<-chan struct{}
	for _, name := range referencedSources(snap, sqlText) {
		s := e.source(name)
		if s == nil {
			continue
		}
		s.mu.Lock()
		var ch <-chan struct{} = s.connecting
		s.mu.Unlock()
		if ch == nil {
			probe, err := s.admit()
			if err != nil {
				continue // open: the planner reports the source down
			}
			// When probe is set (half-open), the reconnect below is the
			// probe: report treats its outcome so.
			_ = probe
			ch = e.startConnect(s)
		}
		waits = append(waits, ch)
	}
	for _, ch := range waits {
		<-ch
	}
}

// referencedSources lists the unavailable sources of snap that sqlText
// qualifies a table with (nil when none is unavailable: the common case
// costs no parse).
func referencedSources(snap *catalog.Snapshot, sqlText string) []string {
	down := map[string]bool{}
	for _, s := range snap.Sources {
		if s.Unavailable != "" {
			down[strings.ToLower(s.Name)] = true
		}
	}
	if len(down) == 0 {
		return nil
	}
	stmt, err := planner.Parse(sqlText)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		if t, ok := n.(sqlparser.TableName); ok {
			q := strings.ToLower(t.Qualifier.String())
			if down[q] && !seen[q] {
				seen[q] = true
				out = append(out, q)
			}
		}
		return true, nil
	}, stmt)
	return out
}

// WaitCatalog waits until every source's connection attempt under way
// (those engine.New starts) has ended, or ctx ends, and returns the
// snapshot. Listing the catalog calls it; queries need not.
func (e *Engine) WaitCatalog(ctx context.Context) *catalog.Snapshot {
	for _, s := range e.sourceList() {
		s.mu.Lock()
		ch := s.connecting
		s.mu.Unlock()
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return e.Catalog()
		}
	}
	return e.Catalog()
}
