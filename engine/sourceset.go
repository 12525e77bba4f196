package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/state"
)

// The sources machine's commands. Their bodies are SourcesBody. A node's
// own [[sources]] are a seed (put in force only if the sources were never
// set); add, replace and remove come from the operator API and change
// every node's sources at once. Each applies whole or not at all.
const (
	OpSourcesSeed    = "sources.seed"
	OpSourcesAdd     = "sources.add"
	OpSourcesReplace = "sources.replace"
	OpSourcesRemove  = "sources.remove"
)

// SourcesBody is the body of a sources command: the sources as written
// (add, replace, seed) or the names to remove.
type SourcesBody struct {
	Sources []config.Source `json:"sources,omitempty"`
	Names   []string        `json:"names,omitempty"`
}

// SourceSet is the machine that holds the sources in force, as written:
// what each node connects to once it has completed them itself (dsn_env
// read from its own environment, relative paths from its own config
// file's directory). Apply checks only what reads nothing of the node,
// so every node decides alike. It also keeps the catalog's list of
// sources in step, in the same command: a source added is listed as
// connecting, one removed is no longer listed.
type SourceSet struct {
	catalog *catalog.Machine

	mu      sync.Mutex
	set     bool // the sources were set once (a seed no longer applies)
	sources []config.Source
	// changed is told, after each applied command or restore, what is in
	// force now. It must not block: it runs where commands are applied.
	changed func([]config.Source)
}

// sourceSetState is the machine's snapshot.
type sourceSetState struct {
	Set     bool            `json:"set"`
	Sources []config.Source `json:"sources"`
}

// NewSourceSet makes an empty sources machine that keeps cat in step.
func NewSourceSet(cat *catalog.Machine) *SourceSet { return &SourceSet{catalog: cat} }

// InForce is the sources in force, as written, in the order they were
// added.
func (m *SourceSet) InForce() []config.Source {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sources)
}

// onChange sets the engine's hook and gives it what is in force now.
func (m *SourceSet) onChange(f func([]config.Source)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changed = f
	f(slices.Clone(m.sources))
}

// Apply applies one sources command.
func (m *SourceSet) Apply(c state.Command) (any, error) {
	var b SourcesBody
	if err := json.Unmarshal(c.Body, &b); err != nil {
		return nil, fmt.Errorf("sources: reading %s: %w", c.Op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	index := map[string]int{}
	for i, s := range m.sources {
		index[strings.ToLower(s.Name)] = i
	}
	next := slices.Clone(m.sources)
	var put []string // sources the catalog lists anew
	switch c.Op {
	case OpSourcesSeed, OpSourcesAdd, OpSourcesReplace:
		if len(b.Sources) == 0 {
			return nil, fmt.Errorf("sources: %s names no source", c.Op)
		}
		if c.Op == OpSourcesSeed && m.set {
			return nil, nil // the cluster's sources stay (docs/cluster.md)
		}
		seen := map[string]bool{}
		for _, s := range b.Sources {
			if err := config.CheckSource(s); err != nil {
				return nil, err
			}
			key := strings.ToLower(s.Name)
			if seen[key] {
				return nil, fmt.Errorf("source %q is given twice", s.Name)
			}
			seen[key] = true
			i, exists := index[key]
			switch {
			case c.Op == OpSourcesReplace && !exists:
				return nil, fmt.Errorf("source %q is not in force: add it instead", s.Name)
			case c.Op == OpSourcesAdd && exists:
				return nil, fmt.Errorf("source %q is already in force: replace it, or remove it first", s.Name)
			case exists && reflect.DeepEqual(next[i], s):
				continue // unchanged: the catalog keeps what it knows
			case exists:
				next[i] = s
			default:
				next = append(next, s)
			}
			put = append(put, s.Name)
		}
	case OpSourcesRemove:
		if len(b.Names) == 0 {
			return nil, fmt.Errorf("sources: %s names no source", c.Op)
		}
		gone := map[string]bool{}
		for _, n := range b.Names {
			if _, ok := index[strings.ToLower(n)]; !ok {
				return nil, fmt.Errorf("source %q is not in force", n)
			}
			gone[strings.ToLower(n)] = true
		}
		next = slices.DeleteFunc(next, func(s config.Source) bool { return gone[strings.ToLower(s.Name)] })
	default:
		return nil, fmt.Errorf("sources: unknown command %q", c.Op)
	}
	m.set, m.sources = true, next
	m.catalog.Follow(kinds(next), put, connectingReason)
	if m.changed != nil {
		m.changed(slices.Clone(next))
	}
	return nil, nil
}

// kinds is each source's kind by name, in order.
func kinds(srcs []config.Source) []catalog.Source {
	out := make([]catalog.Source, len(srcs))
	for i, s := range srcs {
		out[i] = catalog.Source{Name: s.Name, Kind: s.Kind}
	}
	return out
}

// Snapshot is the sources in force.
func (m *SourceSet) Snapshot() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return json.Marshal(sourceSetState{Set: m.set, Sources: m.sources})
}

// Restore puts a snapshot's sources in force (the catalog restores its
// own part from the same snapshot).
func (m *SourceSet) Restore(b []byte) error {
	var st sourceSetState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("sources: reading snapshot: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set, m.sources = st.Set, st.Sources
	if m.changed != nil {
		m.changed(slices.Clone(m.sources))
	}
	return nil
}

// seedSources proposes the config's sources as a seed: in force unless
// the sources were set before (on a cluster, the cluster's stay).
func (e *Engine) seedSources(ctx context.Context) error {
	seed := e.cfg.SourceDefs
	if seed == nil {
		seed = e.cfg.Sources // a config built in code, not read from a file
	}
	if len(seed) == 0 {
		return nil
	}
	cmd, err := state.New(OpSourcesSeed, time.Now(), SourcesBody{Sources: seed})
	if err == nil {
		_, err = e.state.Propose(ctx, cmd)
	}
	if err != nil {
		return fmt.Errorf("engine: putting the config's sources in force: %w", err)
	}
	return nil
}

// reconcile makes the engine's sources those in force: a source added or
// whose settings changed gets a new state and starts connecting in the
// background; one removed or replaced is retired. It runs where the
// sources machine applies commands, so it only swaps and starts.
func (e *Engine) reconcile(defs []config.Source) {
	e.srcMu.Lock()
	defer e.srcMu.Unlock()
	if e.closed {
		return
	}
	next := make(map[string]*srcState, len(defs))
	order := make([]*srcState, 0, len(defs))
	var start []*srcState
	for _, d := range defs {
		key := strings.ToLower(d.Name)
		s := e.srcs[key]
		if s == nil || !reflect.DeepEqual(s.def, d) {
			s = e.newSource(d)
			start = append(start, s)
		}
		next[key] = s
		order = append(order, s)
	}
	for key, old := range e.srcs {
		if next[key] != old {
			go old.retire()
		}
	}
	e.srcs, e.order = next, order
	for _, s := range start {
		e.startConnect(s)
	}
}

// newSource completes d on this node. A DuckDB, Parquet or CSV source
// runs work pushed to it in a DuckDB of its own: bounded like the
// residual unless the source says otherwise, spilling inside this
// process's spill directory (one subdirectory each: two databases must
// not share temp files) so every exit path removes its files too.
func (e *Engine) newSource(d config.Source) *srcState {
	sc, err := d.Resolve(e.dir)
	sc.MemoryLimit = cmpOr(sc.MemoryLimit, e.memLimit)
	sc.SpillDirectory = filepath.Join(e.SpillDirectory(), fmt.Sprintf("source-%d", e.spillSeq.Add(1)-1))
	s := newSrcState(sc)
	s.def = d
	if err != nil {
		s.unusable = &connectors.SourceError{Source: d.Name, Op: "connect", Err: &settingsError{err}}
	}
	return s
}

// open connects the source.
func (s *srcState) open(ctx context.Context) (connectors.Connector, error) {
	if s.unusable != nil {
		return nil, s.unusable
	}
	return openSource(ctx, s.cfg)
}

// retiredReason: the source was replaced or removed while it connected.
const retiredReason = "replaced or removed"

// keep makes c the source's connection unless it has one already (c is
// closed, that one returned) or it was retired meanwhile (c is closed, nil
// returned): a connect that ends after retire must not leave a connection
// nobody closes.
func (s *srcState) keep(c connectors.Connector) connectors.Connector {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired.Load() {
		c.Close()
		return nil
	}
	if s.conn == nil {
		s.conn = c
	} else {
		c.Close()
	}
	return s.conn
}

// retire closes the connection of a source no longer in force once the
// statements running on it end (it takes every slot, waiting at most
// statement_timeout): a query already under way finishes.
func (s *srcState) retire() {
	s.retired.Store(true)
	deadline := time.NewTimer(s.cfg.StatementTimeout.Duration)
	defer deadline.Stop()
fill:
	for range cap(s.slots) {
		select {
		case s.slots <- struct{}{}:
		case <-deadline.C:
			break fill
		}
	}
	_ = s.closeConn()
}

// closeConn closes the source's connection, if it has one.
func (s *srcState) closeConn() error {
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close()
}

// settingsError: this node cannot complete a source's settings.
type settingsError struct{ err error }

func (e *settingsError) Error() string { return e.err.Error() }
func (e *settingsError) Unwrap() []error {
	return []error{e.err, connectors.ErrSourceUnavailable}
}

// SourcesInForce is the sources in force as written (what the operator
// API shows; no secret is there: a dsn with a password never is).
func (e *Engine) SourcesInForce() []config.Source { return e.sources.InForce() }

// ChangeSources proposes one change of the sources in force (op is
// OpSourcesAdd or OpSourcesReplace with srcs, OpSourcesRemove with
// names), applied on every node of a cluster or on none. A source added
// or replaced must also complete on this node (dsn_env set, files
// there): every node needs what it names.
func (e *Engine) ChangeSources(ctx context.Context, op string, srcs []config.Source, names []string) error {
	for _, s := range srcs {
		if _, err := s.Resolve(e.dir); err != nil {
			return fmt.Errorf("on this node: %w", err)
		}
	}
	cmd, err := state.New(op, time.Now(), SourcesBody{Sources: srcs, Names: names})
	if err != nil {
		return err
	}
	_, err = e.state.Propose(ctx, cmd)
	return err
}
