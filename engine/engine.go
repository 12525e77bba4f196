// Package engine runs plans: it opens the sources, keeps the catalog
// snapshot, streams each remote fragment from its source and runs the
// residual in an embedded DuckDB over those streams.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/attempt"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/internal/defence"
	"lienthong/planner"
	"lienthong/planner/plan"
	"lienthong/policy"
	"lienthong/policy/dp"
	"lienthong/state"
)

// Engine is one node's query runner over the configured sources.
type Engine struct {
	cfg *config.Config
	loc *time.Location
	// state applies every change of the catalog, the policy and the
	// privacy budgets, one at a time: the engine's own state.Local, or the
	// node's store (a cluster replicates the same commands). The machines
	// are registered with it.
	state   state.Store
	catalog *catalog.Machine
	policy  *policy.Machine
	ledger  *dp.Ledger // nil: no privacy_ledger configured
	// ownLedger: the engine opened the ledger and closes it.
	ownLedger bool

	// The sources in force (the sources machine's), completed on this
	// node: srcs by lower-case name, order as they were added. srcMu
	// guards both and closed; reconcile replaces them as the sources
	// change.
	srcMu    sync.RWMutex
	srcs     map[string]*srcState
	order    []*srcState
	closed   bool
	sources  *SourceSet
	dir      string       // where relative paths in sources start (the config file's directory)
	memLimit string       // a file source's DuckDB memory_limit unless it sets one
	spillSeq atomic.Int64 // numbers the sources' spill subdirectories

	residual *sql.DB // in-memory DuckDB that runs residual fragments
	spillMu  sync.Mutex
	spill    *spillDir // the residual's spill directory, removed by Close
	observer Observer  // the audit log; nil: none
	verifies verifyLimiter
}

// Machines are the engine's parts of the node's replicated state: the
// access policy, the catalog and the privacy budget ledger.
type Machines struct {
	Policy  *policy.Machine
	Catalog *catalog.Machine
	Sources *SourceSet
	Ledger  *dp.Ledger // nil without a privacy_ledger
}

// NewMachines makes the engine's machines for cfg and registers them with
// ms: no policy and no sources in force yet (the engine seeds them), and
// the privacy ledger file opened (the caller closes it).
func NewMachines(cfg *config.Config, ms *state.Machines) (*Machines, error) {
	cat := catalog.NewMachine(&catalog.Snapshot{Version: 1})
	m := &Machines{Policy: &policy.Machine{}, Catalog: cat, Sources: NewSourceSet(cat)}
	if cfg.PrivacyLedger != "" {
		l, err := dp.OpenLedger(cfg.PrivacyLedger)
		if err != nil {
			return nil, fmt.Errorf("privacy ledger: %w", err)
		}
		m.Ledger = l
	}
	ms.Register("policy", m.Policy)
	ms.Register("catalog", m.Catalog)
	ms.Register("sources", m.Sources)
	if m.Ledger != nil {
		ms.Register("budget", m.Ledger)
	}
	return m, nil
}

// Options say where an engine's state lives.
type Options struct {
	// State is the node's store and Machines the engine's machines
	// registered with it (NewMachines); the node closes the ledger. Unset:
	// the engine keeps its own state.Local.
	State    state.Store
	Machines *Machines
}

// New starts connecting every source in the background and returns at
// once: no source, however slow, delays the engine or queries on other
// sources. Until its connection completes a source is listed as
// unavailable ("connecting"); a query that names it waits for that
// connection (at most its connect_timeout plus introspection). A source
// that cannot be reached is listed as unavailable and queries that touch
// it fail naming it.
func New(ctx context.Context, cfg *config.Config) (*Engine, error) {
	return Open(ctx, cfg, Options{})
}

// Open is New with the node's state (Options).
func Open(ctx context.Context, cfg *config.Config, opt Options) (*Engine, error) {
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	own := opt.Machines == nil
	if own {
		ms := state.NewMachines()
		if opt.Machines, err = NewMachines(cfg, ms); err != nil {
			return nil, err
		}
		opt.State = state.NewLocalOn(ms)
	}
	m := opt.Machines
	closeLedger := func() {
		if own && m.Ledger != nil {
			m.Ledger.Close()
		}
	}
	db, err := openResidual()
	if err != nil {
		closeLedger()
		return nil, fmt.Errorf("engine: starting DuckDB: %w", err)
	}
	e := &Engine{cfg: cfg, loc: loc, srcs: map[string]*srcState{}, residual: db, state: opt.State, policy: m.Policy, catalog: m.Catalog,
		sources: m.Sources, ledger: m.Ledger, ownLedger: own}
	if cfg.Policy != "" {
		// A seed: in force unless a policy already is (in a cluster, the
		// one the cluster put in force stays; docs/cluster.md).
		if err := e.proposePolicy(ctx, true); err != nil {
			db.Close()
			closeLedger()
			return nil, err
		}
	}
	if err := registerPseudonym(db, e.pseudonymKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("engine: %w", err)
	}
	// Memory is bounded by default, and what outgrows it spills to a
	// directory of this process's own (issue 11).
	tmp := cfg.DuckDBTempDirectory
	if tmp != "" && !filepath.IsAbs(tmp) && cfg.Path != "" {
		tmp = filepath.Join(filepath.Dir(cfg.Path), tmp) // like every path of the file
	}
	memLimit := cmpOr(cfg.DuckDBMemoryLimit, defaultMemoryLimit())
	if err := e.ConfigureResidual(memLimit, cmpOr(tmp, os.TempDir())); err != nil {
		e.Close()
		return nil, err
	}
	e.memLimit = memLimit
	if cfg.Path != "" {
		e.dir = filepath.Dir(cfg.Path)
	}
	if err := e.seedSources(ctx); err != nil {
		e.Close()
		return nil, err
	}
	// From here on the engine follows the sources in force, whoever
	// changes them (sourceset.go).
	e.sources.onChange(e.reconcile)
	return e, nil
}

// Catalog returns the current snapshot.
func (e *Engine) Catalog() *catalog.Snapshot { return e.catalog.Current() }

// Refresh re-reads every source's tables into a new snapshot (REFRESH
// CATALOG), connecting those without a connection, all at once; a source
// whose breaker is open is listed as down without another attempt.
// Queries already planned keep the snapshot they bound against.
func (e *Engine) Refresh(ctx context.Context) error {
	srcs := e.sourceList()
	results := make([]*catalog.Source, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.admit(); err != nil {
				// Known down: listed so, without waiting for it again.
				results[i] = &catalog.Source{Name: s.cfg.Name, Kind: s.cfg.Kind, Unavailable: publicReason(err)}
				return
			}
			results[i] = e.introspect(ctx, s)
		}()
	}
	wg.Wait()
	// What was read of a source replaced meanwhile is not its catalog.
	cur := results[:0]
	for i, s := range srcs {
		if e.source(s.cfg.Name) == s {
			cur = append(cur, results[i])
		}
	}
	cmd, err := state.New(catalog.OpSet, time.Now(), cur)
	if err != nil {
		return err
	}
	_, err = e.state.Propose(ctx, cmd)
	return err
}

// reason shortens a connection error to what a user needs to see.
func reason(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// sensitiveColumns are the special categories of personal data (Decree
// 13/2023) lienthong recognises by name when the config says nothing.
var sensitiveColumns = regexp.MustCompile(`(?i)^(ethnicity|ethnicity_code|religion|diagnosis|diagnosis_code|blood_type|health_.*)$`)

func applyTableConfig(t *catalog.Table, sc config.Source) {
	pin := sc.PINColumn
	if t.PINColumn != "" {
		// The connector knows it (an agency's agent: the agency says).
		pin = t.PINColumn
	}
	tc, has := sc.Tables[t.Name]
	if has && tc.PINColumn != "" {
		pin = tc.PINColumn
	}
	t.PINColumn = ""
	for i := range t.Columns {
		c := &t.Columns[i]
		if strings.EqualFold(c.Name, pin) && c.Type.ID() == arrow.STRING {
			t.PINColumn = c.Name
		}
		c.Sensitive = sensitiveColumns.MatchString(c.Name)
		for _, s := range tc.Sensitive {
			if strings.EqualFold(s, c.Name) {
				c.Sensitive = true
			}
		}
	}
}

// Close releases every connection.
func (e *Engine) Close() error {
	var errs []error
	e.srcMu.Lock()
	e.closed = true
	srcs := e.order
	e.srcMu.Unlock()
	for _, s := range srcs {
		s.retired.Store(true) // a connect still under way closes what it opens
		errs = append(errs, s.closeConn())
	}
	if e.residual != nil {
		errs = append(errs, e.residual.Close())
	}
	errs = append(errs, e.releaseSpill())
	if e.ownLedger && e.ledger != nil {
		errs = append(errs, e.ledger.Close())
	}
	return errors.Join(errs...)
}

// QueryOptions steer one query.
type QueryOptions struct {
	Session Session
	// NoPushdown runs everything but plain scans in DuckDB (for testing
	// that pushdown never changes an answer).
	NoPushdown bool
	// MinReduceProbe and DisableRules are passed to the planner
	// (planner.Options): tests force semi-join reduction on small data and
	// turn rules off one at a time.
	MinReduceProbe float64
	DisableRules   []string
	// Params are the values of the statement's parameters (?), in order,
	// bound as literals of their own type (planner.Options.Params).
	Params []any
	// Progress, when set, is filled with the query's sources as they are
	// read, for a progress line (progress.go).
	Progress *Progress
	// Database is the source of unqualified table names
	// (planner.Options.Database).
	Database string
}

// ReloadPolicy reads the access policy file again. A file with any error is
// refused as a whole and the policy in force stays.
func (e *Engine) ReloadPolicy() error { return e.proposePolicy(context.Background(), false) }

// proposePolicy proposes the policy file; a seed only if none is in force.
func (e *Engine) proposePolicy(ctx context.Context, seed bool) error {
	text, err := os.ReadFile(e.cfg.Policy)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return e.applyPolicy(ctx, e.cfg.Policy, text, seed)
}

// ApplyPolicy proposes a whole policy file (text, its errors citing
// path): checked as a whole where it is applied; a file with an error
// changes nothing and its error (with its line) is returned. A bare file
// name is taken beside this node's own policy file, where the file's
// relative key files then resolve (each node resolves key references on
// its own).
func (e *Engine) ApplyPolicy(ctx context.Context, path string, text []byte) error {
	if filepath.Base(path) == path && e.cfg.Policy != "" {
		path = filepath.Join(filepath.Dir(e.cfg.Policy), path)
	}
	return e.applyPolicy(ctx, path, text, false)
}

// applyPolicy proposes text; a seed is put in force only when no policy
// is.
func (e *Engine) applyPolicy(ctx context.Context, path string, text []byte, seed bool) error {
	cmd, err := policy.SetCommand(time.Now(), path, text)
	if seed {
		cmd, err = policy.SeedCommand(time.Now(), path, text)
	}
	if err != nil {
		return err
	}
	_, err = e.state.Propose(ctx, cmd)
	return err
}

// PolicyInForce is the policy file in force (its path and text; empty
// when none) and the parsed policy (nil when none).
func (e *Engine) PolicyInForce() (path, text string, p *policy.Policy) {
	path, text = e.policy.File()
	return path, text, e.policy.Current()
}

func (e *Engine) pseudonymKey(purpose string) ([]byte, bool) {
	p := e.policy.Current()
	if p == nil {
		return nil, false
	}
	return p.Key(purpose)
}

// Plan plans sql against the current snapshot, under the access policy
// when one is in force.
func (e *Engine) Plan(sqlText string, opt QueryOptions) (*plan.Plan, *catalog.Snapshot, error) {
	e.awaitSources(sqlText)
	snap := e.Catalog()
	if mentionsCatalogViews(sqlText) {
		snap = withCatalogViews(snap)
	}
	l := e.cfg.Limits
	popt := planner.Options{Now: time.Now().In(e.loc), NoPushdown: opt.NoPushdown, MinReduceProbe: opt.MinReduceProbe, Disable: opt.DisableRules, Params: opt.Params, Database: opt.Database,
		Limits: planner.Limits{MaxExpressionDepth: l.MaxExpressionDepth, MaxInList: l.MaxInList, MaxExpressions: l.MaxExpressions, MaxTables: l.MaxTables}}
	if pol := e.policy.Current(); pol != nil {
		s := opt.Session
		access, err := pol.Resolve(s.Principal, s.Purpose, s.CaseID)
		if err != nil {
			denied := &planner.Error{Code: planner.CodeDenied, Msg: err.Error()}
			// Without a purpose (or case) the catalog views still answer,
			// as GET /v1/catalog does: planned over a snapshot holding
			// them alone, so no source's table can be read this way.
			if s.Purpose == "" && mentionsCatalogViews(sqlText) {
				views := withCatalogViews(&catalog.Snapshot{Version: snap.Version})
				if p, err := planner.Plan(views, sqlText, popt); err == nil {
					return p, views, nil
				}
			}
			return nil, snap, denied
		}
		popt.Access = access
	}
	p, err := planner.Plan(snap, sqlText, popt)
	if err != nil {
		return nil, snap, err
	}
	return p, snap, nil
}

func (e *Engine) conn(name string) (connectors.Connector, error) {
	s := e.source(name)
	if s == nil {
		return nil, &catalog.UnavailableError{Source: name, Reason: "not in the config"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil, &catalog.UnavailableError{Source: name, Reason: "not connected"}
	}
	return &guarded{Connector: s.conn, s: s}, nil
}

// Ping checks that source answers, through the engine's own connection
// (connecting first when the source has none, e.g. it was down at
// start-up; the catalog then lists its tables). It returns how long the
// check took. The health monitor calls it; a ping is a probe of the
// source's breaker: its outcome closes or opens it.
func (e *Engine) Ping(ctx context.Context, source string) (time.Duration, error) {
	s := e.source(source)
	if s == nil {
		return 0, &catalog.UnavailableError{Source: source, Reason: "not in the config"}
	}
	sc := s.cfg
	ctx, cancel := context.WithTimeout(ctx, sc.ConnectTimeout.Duration)
	defer cancel()
	start := time.Now()
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		nc, err := s.open(ctx)
		if err != nil {
			s.probed(err)
			return time.Since(start), err
		}
		if c = s.keep(nc); c == nil {
			return time.Since(start), &catalog.UnavailableError{Source: source, Reason: retiredReason}
		}
	}
	err := c.Ping(ctx)
	if err != nil && ctx.Err() != nil && !sourceFault(err) {
		err = &connectors.SourceError{Source: source, Op: "connect", Err: &connectors.TimeoutError{Setting: "connect_timeout", After: sc.ConnectTimeout.Duration}}
	}
	s.probed(err)
	if err == nil {
		if src := e.Catalog().Source(source); src != nil && src.Unavailable != "" {
			e.startConnect(s) // back: list its tables
		}
	}
	return time.Since(start), err
}

// SourceNames lists the sources in force, in the order they were added.
func (e *Engine) SourceNames() []string {
	srcs := e.sourceList()
	out := make([]string, len(srcs))
	for i, s := range srcs {
		out[i] = s.cfg.Name
	}
	return out
}

// Explain plans sql and describes the plan; with analyze it also runs the
// query (discarding rows) and reports rows, bytes and time per remote.
// EXPLAIN ANALYZE reads sources, so it is audited like a query (its
// result is the profile, so it has no result hash).
func (e *Engine) Explain(ctx context.Context, sqlText string, analyze bool, opt QueryOptions) (string, error) {
	out, err := e.explain(ctx, sqlText, analyze, opt)
	return out, clientError(err)
}

func (e *Engine) explain(ctx context.Context, sqlText string, analyze bool, opt QueryOptions) (string, error) {
	if !analyze {
		p, snap, err := e.Plan(sqlText, opt)
		if err != nil {
			return "", err
		}
		return planner.Explain(snap, p, nil, 0, 0)
	}
	start := time.Now()
	a := &Attempt{ID: newAttemptID(), Start: start, Session: opt.Session, SQL: "EXPLAIN ANALYZE " + auditedSQL(sqlText, opt.Params)}
	ctx = attempt.WithRequest(ctx, opt.Session, a.ID)
	obs := e.observer
	end := func(res *Result, err error) error {
		if obs == nil {
			return err
		}
		a.ErrorCode, a.FailedSource, a.Duration = ErrorCode(err), failedSource(err), time.Since(start)
		a.Outcome = attempt.OutcomeOf(a.ErrorCode, isCancelled(err))
		if res != nil {
			a.RowsPerSource = map[string]int64{}
			for _, s := range res.streams {
				a.RowsPerSource[s.source] += s.rows.Load()
			}
		}
		if aerr := obs.End(context.WithoutCancel(ctx), a); aerr != nil {
			return fmt.Errorf("%w: %w", ErrAudit, aerr)
		}
		return err
	}
	p, snap, err := e.Plan(sqlText, opt)
	if err != nil {
		return "", end(nil, err)
	}
	if p.Privacy != nil {
		// The profile counts rows per operator: exact figures about the
		// citizens the noise protects.
		return "", end(nil, &planner.Error{Code: planner.CodeDenied, Msg: "EXPLAIN ANALYZE is refused for queries over aggregate-only tables: its row counts are exact; use EXPLAIN"})
	}
	if err := e.admit(p, opt.Session, a); err != nil {
		return "", end(nil, err)
	}
	if obs != nil {
		describe(a, p)
		a.Outcome = Started
		if err := obs.Begin(ctx, a); err != nil {
			return "", fmt.Errorf("%w: %w", ErrAudit, err)
		}
	}
	// The residual runs under DuckDB's EXPLAIN ANALYZE: the rows are
	// discarded anyway, and its profile gives time and rows per operator.
	res, err := e.run(ctx, snap, p, true, nil)
	if err != nil {
		return "", end(nil, err)
	}
	var rows int64
	var profile strings.Builder
	for res.Next() {
		rec := res.RecordBatch()
		rows += rec.NumRows()
		if p.Root != nil && rec.NumCols() == 2 {
			if col, ok := rec.Column(1).(*array.String); ok {
				for i := 0; i < col.Len(); i++ {
					profile.WriteString(col.Value(i))
				}
			}
		}
	}
	err = res.Err()
	res.Release()
	if err := end(res, err); err != nil {
		return "", err
	}
	if p.Root != nil {
		rows = -1 // DuckDB's profile below counts them per operator
	}
	stats := res.Stats()
	secured := e.policy.Current() != nil && defence.On(defence.ExplainCounts)
	if secured {
		hideRestricted(p, stats)
	}
	out, err := planner.Explain(snap, p, stats, float64(time.Since(start).Microseconds())/1000, rows)
	if err != nil || profile.Len() == 0 {
		return out, err
	}
	if secured {
		// Per-operator row counts include rows the principal may not see.
		return out + "Residual operators: not shown under an access policy (their row counts include rows it hides)\n", nil
	}
	return out + "Residual operators (DuckDB EXPLAIN ANALYZE):\n" + redactProfile(profile.String()), nil
}

// hideRestricted marks the remotes that read a table the principal sees
// only part of.
func hideRestricted(p *plan.Plan, stats map[int]planner.RemoteStats) {
	restricted := map[string]bool{}
	for _, t := range p.Restricted {
		restricted[t] = true
	}
	for _, r := range p.Remotes {
		var scans []*plan.Scan
		if r.Scan != nil {
			scans = append(scans, r.Scan)
		}
		if r.Query != nil {
			scans = append(scans, planner.Scans(r.Query)...)
		}
		for _, s := range scans {
			if restricted[s.Table.Source+"."+s.Table.Name] {
				st := stats[r.ID]
				st.Hidden = true
				stats[r.ID] = st
			}
		}
	}
}

// profileValue matches what DuckDB's profile prints of values: quoted
// strings, and long digit runs (dynamic join filters print the build
// side's keys, PINs among them, wrapped over several lines). Row counts
// ("1000000 Rows") stay.
var profileValue = regexp.MustCompile(`'(?:[^']|'')*'|[0-9]{6,}( ?[Rr]ows)?`)

// redactProfile removes values from DuckDB's EXPLAIN ANALYZE text.
func redactProfile(text string) string {
	return profileValue.ReplaceAllStringFunc(text, func(v string) string {
		if strings.HasSuffix(strings.ToLower(v), "rows") {
			return v
		}
		return "…"
	})
}

// CatalogFor is the catalog as the session's principal may see it: only
// tables it holds a reading grant on for the session's purpose (any of its
// purposes when none is declared), and of those only the granted columns.
// Without a policy it is the whole catalog. Every front-end's listing
// (HTTP, Flight SQL, the shell) goes through here.
func (e *Engine) CatalogFor(ctx context.Context, s Session) (*catalog.Snapshot, error) {
	snap := e.WaitCatalog(ctx)
	pol := e.policy.Current()
	if pol == nil || !defence.On(defence.Catalog) {
		return snap, nil
	}
	accs, err := pol.Accesses(s.Principal, s.Purpose)
	if err != nil {
		return nil, &planner.Error{Code: planner.CodeDenied, Msg: err.Error()}
	}
	out := &catalog.Snapshot{Version: snap.Version}
	for _, src := range snap.Sources {
		vs := &catalog.Source{Name: src.Name, Kind: src.Kind, Unavailable: src.Unavailable}
		for _, t := range src.Tables {
			names := make([]string, len(t.Columns))
			sensitive := map[string]bool{}
			for i, c := range t.Columns {
				names[i] = c.Name
				sensitive[c.Name] = c.Sensitive
			}
			visible := map[string]bool{}
			for _, a := range accs {
				ta, err := a.Table(t.Source, t.Name, names, sensitive)
				if err != nil || ta.VerifyOnly {
					continue
				}
				for c := range ta.Columns {
					visible[c] = true
				}
			}
			if len(visible) == 0 {
				continue
			}
			vt := *t
			vt.Columns = nil
			for _, c := range t.Columns {
				if visible[strings.ToLower(c.Name)] {
					vt.Columns = append(vt.Columns, c)
				}
			}
			vs.Tables = append(vs.Tables, &vt)
		}
		if len(vs.Tables) > 0 {
			out.Sources = append(out.Sources, vs)
		}
	}
	return out, nil
}
