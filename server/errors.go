package server

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"lienthong/engine"
	"lienthong/errcode"
	"lienthong/planner"
)

// Error codes the server adds to the planner's (docs/sql.md lists those).
const (
	CodeAuth         = "LT-AUTH"          // missing or invalid credentials (401)
	CodeForbidden    = "LT-FORBIDDEN"     // authenticated, not allowed (403)
	CodeBadRequest   = "LT-BAD-REQUEST"   // malformed request (400)
	CodeBusy         = "LT-BUSY"          // every slot and the queue are taken (503)
	CodeTimeout      = "LT-TIMEOUT"       // query_timeout passed (504)
	CodeResultLimit  = "LT-RESULT-LIMIT"  // max_result_rows or max_result_bytes passed (400)
	CodeCancelled    = "LT-CANCELLED"     // the client cancelled or went away
	CodeShuttingDown = "LT-SHUTTING-DOWN" // the node is stopping (503)
	CodeNotReady     = "LT-NOT-READY"     // the engine is still starting (503)
	CodeSourceError  = "LT-SOURCE-ERROR"  // a source failed while running its part (502)
	CodeInternal     = "LT-INTERNAL"      // a bug (500)
)

// Codes of a source's resource limits (docs/configuration.md).
const (
	CodeSourceTimeout = "LT-SOURCE-TIMEOUT" // a source did not answer within its read_timeout or statement_timeout (504)
	CodeSourceBusy    = "LT-SOURCE-BUSY"    // a source already runs its max_concurrent statements (503)
)

// Error is what clients receive: a stable code, a message saying what to
// do, and the position in the SQL when there is one.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	// Source names the source the failure came from, when one did.
	Source string `json:"source,omitempty"`

	status int
	cause  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d, column %d)", e.Code, e.Message, e.Line, e.Column)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// HTTPStatus is the status an HTTP response carries for e (the error
// registry's, unless the error set its own).
func (e *Error) HTTPStatus() int {
	if e.status != 0 {
		return e.status
	}
	return errcode.Lookup(e.Code).HTTP
}

// GRPCCode is the gRPC status code a Flight response carries for e.
func (e *Error) GRPCCode() codes.Code { return errcode.Lookup(e.Code).GRPC }

// GRPCStatus lets grpc-go send e with its code.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.GRPCCode(), e.Error()) }

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), status: status}
}

// outcome is the metrics label for an error class.
func (e *Error) outcome() string {
	switch e.Code {
	case CodeTimeout, CodeSourceTimeout:
		return "timeout"
	case CodeSourceBusy:
		return "busy"
	}
	switch errcode.Lookup(e.Code).Class {
	case errcode.Unavailable:
		return "busy"
	case errcode.Cancelled:
		return "cancelled"
	case errcode.Limit:
		return "limit"
	case errcode.Source:
		return "source_error"
	case errcode.Internal:
		return "internal_error"
	case errcode.Denied:
		return "denied"
	}
	return "user_error"
}

// toError classifies any error from the engine into what clients see.
func toError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		if ae.Forbidden {
			return &Error{Code: CodeForbidden, Message: ae.Msg, status: http.StatusForbidden, cause: err}
		}
		return &Error{Code: CodeAuth, Message: ae.Msg, status: http.StatusUnauthorized, cause: err}
	}
	var pe *planner.Error
	if errors.As(err, &pe) {
		return &Error{Code: string(pe.Code), Message: pe.Msg, Line: pe.Line, Column: pe.Col, cause: err}
	}
	// Everything else gets the engine's fixed message for its class: no
	// words of a source or of DuckDB (values, hosts, users) reach a client.
	code := engine.ErrorCode(err)
	msg := strings.TrimPrefix(engine.Message(err), code+": ")
	return &Error{Code: code, Message: msg, Source: engine.FailedSource(err), cause: err}
}

// logRedact strips what could be data from an error message before it is
// logged: quoted text and runs of 4 or more digits (PINs, dates, amounts).
// Clients get the full message; logs never do.
func logRedact(msg string) string {
	msg = quotedRe.ReplaceAllString(msg, "'…'")
	return digitsRe.ReplaceAllString(msg, "#")
}

var (
	quotedRe = regexp.MustCompile(`'[^']*'|"[^"]*"`)
	digitsRe = regexp.MustCompile(`[0-9]{4,}`)
)
