// Package attempt describes query attempts for whoever must record them:
// who asked (Session), what the plan touched and how it ended (Attempt,
// Outcome), and the Observer interface the engine reports to. It is a leaf
// (it imports nothing of lienthong but the error registry) so the audit
// log, its reports and a cluster's replicated log can use it without
// pulling in the engine and DuckDB.
package attempt

import (
	"context"
	"time"

	"lienthong/errcode"
)

// Session is who runs a query and why; every attempt records it.
type Session struct {
	Principal string // authenticated user or service account
	Agency    string // the agency the principal acts for
	Purpose   string // the legal purpose declared for this request
	CaseID    string // the case or dossier that caused it
}

// Outcome is how a query attempt ended.
type Outcome string

const (
	Started   Outcome = "started"   // Begin: the query was planned and is about to read sources
	Succeeded Outcome = "succeeded" // every row was delivered
	Denied    Outcome = "denied"    // an access policy refused it
	Failed    Outcome = "failed"    // bad SQL, a source failure, a limit
	Cancelled Outcome = "cancelled" // the client stopped reading or cancelled
)

// OutcomeOf classifies an ended attempt from its error code ("" for
// success) and whether the client or its deadline cancelled it. Refusals
// of the access policy, its privacy budget and its verification rate limit
// are all denials: the policy, not a failure, decided.
func OutcomeOf(code string, cancelled bool) Outcome {
	switch {
	case cancelled:
		return Cancelled
	case code == "":
		return Succeeded
	case code == "LT-RATE-LIMIT" || errcode.Lookup(code).Class == errcode.Denied:
		return Denied
	}
	return Failed
}

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

// requestKey carries who runs a query, and its attempt, in the query's
// context to whatever reads sources on its behalf: the catalog views list
// what the session may see, an agency's agent is told who asks and why.
type requestKey struct{}

type request struct {
	session Session
	attempt string
}

// WithRequest returns ctx carrying session s and attempt ID id.
func WithRequest(ctx context.Context, s Session, id string) context.Context {
	return context.WithValue(ctx, requestKey{}, request{s, id})
}

// RequestFrom is the session and attempt ID ctx carries; false outside a
// query (a plan run by a test or a tool).
func RequestFrom(ctx context.Context) (s Session, id string, ok bool) {
	r, ok := ctx.Value(requestKey{}).(request)
	return r.session, r.attempt, ok
}
