package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lienthong/config"
	"lienthong/connectors"
)

// applyTimeouts bounds every read and write on the source's sockets by
// s.ReadTimeout (a server that accepts and goes silent fails instead of
// hanging the query) and asks the server to stop statements running longer
// than s.StatementTimeout (the engine cancels them too).
func applyTimeouts(cc *pgx.ConnConfig, s config.Source) *connectors.Deadlines {
	d := &connectors.Deadlines{ReadTimeout: s.ReadTimeout.Duration, WriteTimeout: s.ReadTimeout.Duration}
	cc.DialFunc = d.DialContext
	return d
}

// brokenBeforeStream reports whether err left the connection dead before
// any row was read: such a statement is retried once on a fresh connection
// (a restarted server or a network blip killed a pooled connection).
func brokenBeforeStream(conn *pgconn.PgConn, err error) bool {
	return connLost(conn, err) || err != nil && !errors.Is(err, connectors.ErrSourceTimeout) && pgconn.SafeToRetry(err)
}

// connLost reports whether err is the connection breaking (closed or
// reset by the server or the network, the server ending the session)
// rather than the server refusing a statement, a timeout of ours or a
// cancellation.
func connLost(conn *pgconn.PgConn, err error) bool {
	if err == nil || errors.Is(err, connectors.ErrSourceTimeout) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity == "FATAL" || pe.Severity == "PANIC"
	}
	return conn.IsClosed()
}
