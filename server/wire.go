package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/engine"
)

// This file is what front-ends in packages of their own (server/mysqlwire)
// use of the server: they authenticate with its authenticator and run
// statements through the same admission, limits, timeout, shutdown,
// metrics and log line as HTTP and Flight SQL (startQuery and query).

// Meta is what a statement says about itself besides its SQL.
type Meta struct {
	Protocol string // the metrics and log label: "mysql"
	Purpose  string
	Case     string
	Remote   string
	// Params are the values of the statement's ? parameters, in order
	// (engine.QueryOptions.Params); nil: none.
	Params []any
	// Database is the source unqualified table names are read in (USE).
	Database string
}

// Query is a running statement of another front-end.
type Query struct{ q *query }

// Run admits and starts sqlText for p. The error is an *Error; on error
// the statement has been finished (logged, counted).
func (s *Server) Run(ctx context.Context, p Principal, m Meta, sqlText string) (*Query, error) {
	q, err := s.startQuery(ctx, p, reqMeta{proto: m.Protocol, purpose: m.Purpose, caseID: m.Case, remote: m.Remote, params: m.Params, database: m.Database}, sqlText)
	if err != nil {
		return nil, err
	}
	return &Query{q}, nil
}

// ID is the query's id (the log line's query_id).
func (q *Query) ID() string { return q.q.id }

// Schema is the result's schema.
func (q *Query) Schema() *arrow.Schema { return q.q.schema() }

// Next returns the next batch (valid until the following call), io.EOF at
// the end, or an *Error (a result limit, the source, a cancellation).
func (q *Query) Next() (arrow.RecordBatch, error) { return q.q.next() }

// Finish ends the query with err (nil or io.EOF: it succeeded) and returns
// what the client is told, nil for success. Safe to call more than once:
// the first call decides.
func (q *Query) Finish(err error) *Error {
	if err == io.EOF {
		err = nil
	}
	q.q.finish(err)
	return q.q.err
}

// Authenticate checks c with the server's authenticator; a refusal is
// counted and logged (without the credentials) under proto and returned
// as the *Error a client is told.
func (s *Server) Authenticate(ctx context.Context, proto, remote string, c Credentials) (Principal, *Error) {
	p, err := s.auth.Authenticate(ctx, c)
	if err != nil {
		s.metrics.add(mAuthFailures, 1, proto)
		e := toError(err)
		s.log.Warn("authentication refused", "protocol", proto, "remote", remote, "error_code", e.Code, "reason", e.Message)
		return Principal{}, e
	}
	return p, nil
}

// AuthRefused counts and logs a refusal a front-end decided itself (a
// cleartext password without TLS), as Authenticate does its own.
func (s *Server) AuthRefused(proto, remote, code, reason string) {
	s.metrics.add(mAuthFailures, 1, proto)
	s.log.Warn("authentication refused", "protocol", proto, "remote", remote, "error_code", code, "reason", reason)
}

// TLSConfig is the node's server TLS settings (nil without tls_cert). Its
// certificates come from GetConfigForClient, which returns a fresh config
// per handshake with those in force (ReloadTLS): a caller may change that
// config, and a clone of this one must keep (or wrap) the callback.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Engine is the engine queries run on; nil until SetEngine.
func (s *Server) Engine() *engine.Engine { return s.engine() }

// ClientError classifies any error into what clients see (the registry's
// code and a message without source or DuckDB text).
func ClientError(err error) *Error { return toError(err) }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }
