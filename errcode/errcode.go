// Package errcode is the registry of every error code a client of
// lienthong can see: its class, and what each front-end says with it (the
// HTTP status, the gRPC code, the MySQL errno and SQLSTATE the wire
// protocol will send, the CLI's exit code) and a hint. Packages decide
// which code an error has (engine.ErrorCode, server.toError); everything
// a front-end derives from the code comes from here, so the audit log,
// HTTP, Flight SQL and the CLI agree. A leaf package: it imports nothing
// of lienthong.
package errcode

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// Class groups codes by whose problem it is.
type Class string

const (
	User        Class = "user"        // the request is wrong: fix the SQL or the call
	Denied      Class = "denied"      // the access policy or authentication refuses it
	Limit       Class = "limit"       // a configured bound: try a smaller request or later
	Source      Class = "source"      // a source failed, timed out or is down
	Unavailable Class = "unavailable" // the node cannot serve now (busy, starting, stopping, audit log, no quorum)
	Cancelled   Class = "cancelled"   // the client or its deadline stopped it
	Internal    Class = "internal"    // a bug
)

// Entry is one code.
type Entry struct {
	Code     string
	Class    Class
	HTTP     int
	GRPC     codes.Code
	MySQL    uint16 // errno for the MySQL wire protocol
	SQLState string
	Exit     int // the CLI's exit status
	Hint     string
}

// CLI exit statuses by class.
const (
	ExitUser      = 1
	ExitDenied    = 3
	ExitSource    = 4
	ExitLimit     = 5
	ExitCancelled = 130 // as a shell reports SIGINT
	ExitInternal  = 70  // EX_SOFTWARE
)

var entries = []Entry{
	{"LT-SYNTAX", User, http.StatusBadRequest, codes.InvalidArgument, 1064, "42000", ExitUser, "the SQL does not parse; the message gives the line and column"},
	{"LT-UNKNOWN", User, http.StatusBadRequest, codes.InvalidArgument, 1146, "42S02", ExitUser, "a source, table or column is unknown (or not granted); the message suggests the closest name"},
	{"LT-NO-DATABASE", User, http.StatusBadRequest, codes.InvalidArgument, 1046, "3D000", ExitUser, "a table is named without its source: write source.table (on the MySQL front-end, USE source first)"},
	{"LT-AMBIGUOUS", User, http.StatusBadRequest, codes.InvalidArgument, 1052, "23000", ExitUser, "qualify the column with its table"},
	{"LT-READONLY", User, http.StatusBadRequest, codes.InvalidArgument, 1290, "HY000", ExitUser, "lienthong only runs queries"},
	{"LT-UNSUPPORTED", User, http.StatusBadRequest, codes.InvalidArgument, 1235, "42000", ExitUser, "valid SQL lienthong does not run yet; the message says what to write instead"},
	{"LT-TYPE", User, http.StatusBadRequest, codes.InvalidArgument, 1366, "22007", ExitUser, "operands or a value of the data do not fit the query's types, casts or functions"},
	{"LT-BAD-REQUEST", User, http.StatusBadRequest, codes.InvalidArgument, 1047, "08S01", ExitUser, "the request itself is malformed"},
	{"LT-DENIED", Denied, http.StatusForbidden, codes.PermissionDenied, 1142, "42000", ExitDenied, "the access policy does not allow it; the message names the missing grant"},
	{"LT-AUTH", Denied, http.StatusUnauthorized, codes.Unauthenticated, 1045, "28000", ExitDenied, "send a valid token or client certificate"},
	{"LT-FORBIDDEN", Denied, http.StatusForbidden, codes.PermissionDenied, 1044, "42000", ExitDenied, "authenticated, but not allowed this call"},
	{"LT-BUDGET", Denied, http.StatusTooManyRequests, codes.ResourceExhausted, 1226, "42000", ExitDenied, "the principal's privacy budget for the period is spent; it renews with the period"},
	{"LT-RATE-LIMIT", Limit, http.StatusTooManyRequests, codes.ResourceExhausted, 1226, "42000", ExitLimit, "too many calls of a rate-limited kind (pin_verify); retry after the time the message gives"},
	{"LT-LIMIT", Limit, http.StatusBadRequest, codes.InvalidArgument, 1105, "54000", ExitLimit, "the statement is past a size limit of the [limits] config, or needs more memory than duckdb_memory_limit even spilling to disk"},
	{"LT-RESULT-LIMIT", Limit, http.StatusBadRequest, codes.ResourceExhausted, 1105, "54000", ExitLimit, "the result is past max_result_rows or max_result_bytes: aggregate or add LIMIT"},
	{"LT-SOURCE-DOWN", Source, http.StatusBadGateway, codes.Unavailable, 1429, "HY000", ExitSource, "a source the query needs is not reachable; other sources keep working"},
	{"LT-SOURCE-ERROR", Source, http.StatusBadGateway, codes.Unavailable, 1105, "HY000", ExitSource, "a source failed while running its part; the operator's log has its message"},
	{"LT-SOURCE", Source, http.StatusBadGateway, codes.Unavailable, 1105, "HY000", ExitSource, "what audit logs written before December 2026 say for LT-SOURCE-ERROR; read, never sent"},
	{"LT-SOURCE-REFUSED", Denied, http.StatusForbidden, codes.PermissionDenied, 1142, "42000", ExitDenied, "the agency that runs the source refused the request by its own export rules (a column or table it does not export, a purpose it does not allow, its rate limit); the message names which"},
	{"LT-SOURCE-TIMEOUT", Source, http.StatusGatewayTimeout, codes.DeadlineExceeded, 3024, "HY000", ExitSource, "a source did not answer within its read_timeout or statement_timeout"},
	{"LT-SOURCE-BUSY", Source, http.StatusServiceUnavailable, codes.Unavailable, 1040, "08004", ExitSource, "a source already runs its max_concurrent statements; retry shortly"},
	{"LT-BUSY", Unavailable, http.StatusServiceUnavailable, codes.Unavailable, 1040, "08004", ExitSource, "every query slot and the queue are taken; retry shortly"},
	{"LT-NOT-READY", Unavailable, http.StatusServiceUnavailable, codes.Unavailable, 1053, "08S01", ExitSource, "the node is starting"},
	{"LT-SHUTTING-DOWN", Unavailable, http.StatusServiceUnavailable, codes.Unavailable, 1053, "08S01", ExitSource, "the node is stopping; use another node"},
	{"LT-NO-QUORUM", Unavailable, http.StatusServiceUnavailable, codes.Unavailable, 1105, "HY000", ExitSource, "this node cannot reach a majority of the cluster, so the change (or the audit record) was not committed; retry on another node or when the cluster heals"},
	{"LT-AUDIT", Unavailable, http.StatusServiceUnavailable, codes.Unavailable, 1105, "HY000", ExitSource, "the audit log could not be written, so nothing was answered"},
	{"LT-TIMEOUT", Cancelled, http.StatusGatewayTimeout, codes.DeadlineExceeded, 3024, "HY000", ExitCancelled, "the query ran past its time limit (query_timeout)"},
	{"LT-CANCELLED", Cancelled, 499, codes.Canceled, 1317, "70100", ExitCancelled, "the query was cancelled (Ctrl-C, or the client went away)"},
	{"LT-INTERNAL", Internal, http.StatusInternalServerError, codes.Internal, 1105, "HY000", ExitInternal, "a bug: please report it with the request id"},
}

var byCode = func() map[string]Entry {
	m := make(map[string]Entry, len(entries))
	for _, e := range entries {
		m[e.Code] = e
	}
	return m
}()

// Lookup returns the entry of code; an unregistered code is treated as
// LT-INTERNAL (and the registry's test fails for any code the packages
// use but do not register).
func Lookup(code string) Entry {
	if e, ok := byCode[code]; ok {
		return e
	}
	return byCode["LT-INTERNAL"]
}

// Registered reports whether code is in the registry.
func Registered(code string) bool {
	_, ok := byCode[code]
	return ok
}

// All lists every entry, in registry order (docs/sql.md lists them).
func All() []Entry { return append([]Entry(nil), entries...) }
