package engine

import (
	"context"
	"errors"

	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner"
	"lienthong/state"
)

// Error codes the engine decides beyond the planner's (planner/errors.go).
// ErrorCode is the one place that maps an error to its code; the audit log
// records what it says, and front-ends should report the same.
const (
	CodeCancelled     = "LT-CANCELLED"      // the query's context was cancelled (Ctrl-C, the client went away)
	CodeTimeout       = "LT-TIMEOUT"        // the query's deadline passed
	CodeAudit         = "LT-AUDIT"          // the audit log could not be written; nothing was answered
	CodeNoQuorum      = "LT-NO-QUORUM"      // the node's store could not reach a majority: the audit record (or charge) was not committed
	CodeSourceError   = "LT-SOURCE-ERROR"   // a source failed while running its part
	CodeSourceTimeout = "LT-SOURCE-TIMEOUT" // a source did not answer within its read or statement timeout
	CodeSourceBusy    = "LT-SOURCE-BUSY"    // a source already runs its max_concurrent statements
	CodeSourceRefused = "LT-SOURCE-REFUSED" // an agency's agent refused the request by its export rules
	CodeInternal      = "LT-INTERNAL"       // anything unclassified: a bug
)

// CancelledError ends a query whose context was cancelled or timed out.
// It wraps the context's cause, so errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded) holds.
type CancelledError struct{ Cause error }

func (e *CancelledError) Error() string {
	if errors.Is(e.Cause, context.DeadlineExceeded) {
		return CodeTimeout + ": the query ran past its time limit"
	}
	return CodeCancelled + ": the query was cancelled"
}

func (e *CancelledError) Unwrap() error { return e.Cause }

// cancelled is the error of a query whose ctx is done.
func cancelled(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = context.Canceled
	}
	return &CancelledError{Cause: cause}
}

// isCancelled says err ends an attempt as cancelled rather than failed.
func isCancelled(err error) bool {
	return errors.Is(err, context.Canceled)
}

// Message is what a client is told about err. Planner errors are built
// from the user's SQL, the catalog and the policy, never from data, and keep
// their text (positions included); every other class gets a fixed sentence
// naming at most the source, so no words of a source or of DuckDB (a
// value that failed a cast, a host, a database user) reach a client,
// whatever they said. The full cause is for the operator's log, redacted.
func Message(err error) string {
	var pe *planner.Error
	if errors.As(err, &pe) {
		return pe.Error()
	}
	src := failedSource(err)
	at := ""
	if src != "" {
		at = " in source " + src
	}
	code := ErrorCode(err)
	switch code {
	case string(planner.CodeType):
		return code + ": a value in the data does not fit the query's CAST, function or arithmetic" + at + "; the value is not shown"
	case CodeSourceTimeout:
		return code + ": source " + src + " did not answer within its read_timeout or statement_timeout; other sources are not affected"
	case CodeSourceBusy:
		return code + ": source " + src + " already runs its max_concurrent statements; try again shortly"
	case CodeSourceRefused:
		return code + ": the agency that runs source " + src + " refused the request: " + refusal(err) + "; ask that agency (or your operator) to export it for your purpose"
	case string(planner.CodeUnavailable):
		return code + ": source " + src + " is not reachable now; queries on other sources keep working, and lienthong reconnects by itself once it is back (its operator sees the cause with lienthong sources status)"
	case CodeSourceError:
		return code + ": source " + src + " failed while running its part of the query; the operator's log has its message"
	case CodeCancelled, CodeTimeout:
		return (&CancelledError{Cause: err}).Error() + at
	case CodeAudit:
		return code + ": the audit log could not be written, so nothing was answered; the operator's log says why"
	case CodeNoQuorum:
		return code + ": no quorum: this node cannot reach a majority of the cluster, so the query's audit record (or its privacy charge) was not committed and nothing was answered; retry on another node or when the cluster heals"
	}
	return CodeInternal + ": an internal error" + at + "; the operator's log has the details"
}

// refusal is the words of the refusal in err's chain.
func refusal(err error) string {
	for err != nil {
		if se, ok := err.(*connectors.SourceError); ok && se.Refused != "" {
			return se.Refused
		}
		err = errors.Unwrap(err)
	}
	return "by its export rules"
}

// ClientError is an engine error as a client sees it: Error() is Message,
// Unwrap gives the cause (so errors.Is/As and ErrorCode still classify),
// and Detail the cause's own text, for the operator's log only (redact it).
type ClientError struct{ cause error }

func (e *ClientError) Error() string  { return Message(e.cause) }
func (e *ClientError) Unwrap() error  { return e.cause }
func (e *ClientError) Detail() string { return e.cause.Error() }

// clientError wraps what the engine returns to front-ends; planner errors
// pass as they are (their text is the user's own SQL and the catalog).
func clientError(err error) error {
	var pe *planner.Error
	var ce *ClientError
	if err == nil || errors.As(err, &ce) || errors.As(err, &pe) && ErrorCode(err) == string(pe.Code) && !errors.Is(err, ErrResidual) {
		return err
	}
	return &ClientError{cause: err}
}

// ErrorCode is the stable code of err (empty for nil): the audit record's
// code and what a client is told. Classification is by type and sentinel
// (errors.Is/As), never by message text.
func ErrorCode(err error) string {
	var pe *planner.Error
	var se *connectors.SourceError
	var ue *catalog.UnavailableError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return string(pe.Code)
	case errors.Is(err, connectors.ErrSourceData):
		return string(planner.CodeType)
	case errors.Is(err, connectors.ErrSourceTimeout):
		return CodeSourceTimeout
	case errors.Is(err, connectors.ErrSourceBusy):
		return CodeSourceBusy
	case errors.Is(err, connectors.ErrSourceRefused):
		return CodeSourceRefused
	case errors.Is(err, context.Canceled):
		return CodeCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, state.ErrNoQuorum):
		return CodeNoQuorum
	case errors.Is(err, ErrAudit):
		return CodeAudit
	case errors.As(err, &ue), errors.Is(err, connectors.ErrSourceUnavailable):
		return string(planner.CodeUnavailable)
	case errors.As(err, &se):
		return CodeSourceError
	}
	return CodeInternal
}
