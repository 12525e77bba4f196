package engine

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"lienthong/attempt"
	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner"
	"lienthong/planner/plan"
)

// The attempt vocabulary lives in package attempt (a leaf the audit log
// uses without the engine); these names keep the engine's API whole.
type (
	Outcome  = attempt.Outcome
	Attempt  = attempt.Attempt
	Observer = attempt.Observer
	Session  = attempt.Session
)

const (
	Started   = attempt.Started
	Succeeded = attempt.Succeeded
	Denied    = attempt.Denied
	Failed    = attempt.Failed
	Cancelled = attempt.Cancelled
)

// ErrAudit wraps an observer's failure.
var ErrAudit = errors.New("audit log unavailable: the query was not answered")

// AuditHealth is nil unless the observer can no longer record attempts
// (observers that can tell implement Healthy() error): every query is then
// refused with LT-AUDIT, and readiness checks should say so.
func (e *Engine) AuditHealth() error {
	if h, ok := e.observer.(interface{ Healthy() error }); ok {
		return h.Healthy()
	}
	return nil
}

// SetObserver installs the observer every later query reports to.
func (e *Engine) SetObserver(o Observer) { e.observer = o }

func newAttemptID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// describe fills what the plan touches.
func describe(a *Attempt, p *plan.Plan) {
	sources, tables, columns := map[string]bool{}, map[string]bool{}, map[string]bool{}
	pins := map[string]bool{}
	var scans []*plan.Scan
	for _, r := range p.Remotes {
		if r.Scan != nil {
			scans = append(scans, r.Scan)
		}
		if r.Query != nil {
			scans = append(scans, planner.Scans(r.Query)...)
		}
	}
	for _, s := range scans {
		t := s.Table
		sources[t.Source] = true
		tables[t.Source+"."+t.Name] = true
		for _, c := range s.Columns {
			columns[t.Source+"."+t.Name+"."+c] = true
		}
	}
	for _, pin := range planner.PINLiterals(p) {
		pins[pin] = true
	}
	a.Sources, a.Tables, a.Columns, a.FilterPINs = keys(sources), keys(tables), keys(columns), keys(pins)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FailedSource is the source err blames, if any.
func FailedSource(err error) string { return failedSource(err) }

func failedSource(err error) string {
	var se *connectors.SourceError
	var ue *catalog.UnavailableError
	switch {
	case errors.As(err, &se):
		return se.Source
	case errors.As(err, &ue):
		return ue.Source
	}
	return ""
}

// resultHasher hashes a result's Arrow IPC stream as it is delivered.
type resultHasher struct {
	h hash.Hash
	w *ipc.Writer
}

func newResultHasher(schema *arrow.Schema) *resultHasher {
	h := sha256.New()
	return &resultHasher{h: h, w: ipc.NewWriter(h, ipc.WithSchema(schema))}
}

func (r *resultHasher) add(rec arrow.RecordBatch) error { return r.w.Write(rec) }

func (r *resultHasher) sum() string {
	_ = r.w.Close()
	return hex.EncodeToString(r.h.Sum(nil))
}
