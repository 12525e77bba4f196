package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner"
	"lienthong/planner/plan"
)

// Outcome is how a query attempt ended.
type Outcome string

const (
	Started   Outcome = "started"   // Begin: the query was planned and is about to read sources
	Succeeded Outcome = "succeeded" // every row was delivered
	Denied    Outcome = "denied"    // an access policy refused it
	Failed    Outcome = "failed"    // bad SQL, a source failure, a limit
	Cancelled Outcome = "cancelled" // the client stopped reading or cancelled
)

// Attempt describes one query attempt for the audit log. It never holds
// result data: only what was asked, by whom, what it touched and how much
// it returned, plus a hash that lets a response be proven later.
type Attempt struct {
	ID      string
	Start   time.Time
	Session Session
	SQL     string
	// Sources, Tables (source.table) and Columns (source.table.column) the
	// plan reads, sorted.
	Sources, Tables, Columns []string
	// FilterPINs are PIN literals the query compared PIN columns with; an
	// observer must store them only as keyed hashes.
	FilterPINs []string

	Outcome   Outcome
	ErrorCode string // stable code of the error (LT-...), empty on success
	// FailedSource names the source a failure came from, when the error
	// says (a source that was down or failed while running its part).
	FailedSource string
	Rows         int64 // rows delivered to the client
	Bytes        int64 // Arrow bytes delivered
	// RowsPerSource counts rows read from each source.
	RowsPerSource map[string]int64
	Duration      time.Duration
	// ResultSHA256 is the SHA-256 of the result's Arrow IPC stream (schema
	// and every batch in order), set when the outcome is Succeeded.
	ResultSHA256 string
	// Epsilon and Delta are the privacy budget spent (differentially
	// private answers from aggregate-only tables); zero otherwise.
	Epsilon, Delta float64
}

// Observer learns of every query attempt. Begin is called before any source
// is read; End when the attempt ends (for attempts refused before planning
// completes, only End). An error from either fails the query: if the audit
// cannot be written, nothing is answered (fail closed). A result reports
// success (a nil Err at the end of the stream) only after End returned.
type Observer interface {
	Begin(ctx context.Context, a *Attempt) error
	End(ctx context.Context, a *Attempt) error
}

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

// deniedCode reports codes that mean the policy refused the attempt.
func deniedCode(code string) bool {
	switch planner.Code(code) {
	case planner.CodeDenied, planner.CodeBudget, planner.CodeRateLimit:
		return true
	}
	return false
}

// failedSource is the source err blames, if any.
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
