package engine

import (
	"context"
	"errors"

	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner"
)

// Error codes the engine decides beyond the planner's (planner/errors.go).
// ErrorCode is the one place that maps an error to its code; the audit log
// records what it says, and front-ends should report the same.
const (
	CodeCancelled   = "LT-CANCELLED"    // the query's context was cancelled (Ctrl-C, the client went away)
	CodeTimeout     = "LT-TIMEOUT"      // the query's deadline passed
	CodeAudit       = "LT-AUDIT"        // the audit log could not be written; nothing was answered
	CodeSourceError = "LT-SOURCE-ERROR" // a source failed while running its part
	CodeInternal    = "LT-INTERNAL"     // anything unclassified: a bug
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
	case errors.Is(err, context.Canceled):
		return CodeCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, ErrAudit):
		return CodeAudit
	case errors.As(err, &ue), errors.Is(err, connectors.ErrSourceUnavailable):
		return string(planner.CodeUnavailable)
	case errors.As(err, &se):
		return CodeSourceError
	}
	return CodeInternal
}
