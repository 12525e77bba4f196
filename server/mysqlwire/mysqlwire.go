// Package mysqlwire is a node's MySQL wire protocol front-end ([server]
// mysql_addr): the mysql and mariadb command-line clients, go-sql-driver
// and BI tools' MySQL data sources connect to it. It speaks the protocol
// with vitess's go/mysql server and runs every statement through package
// server (Server.Run), so a MySQL query is admitted, limited, timed out,
// audited and logged exactly as an HTTP or Flight SQL one; what clients
// send on connect and while browsing (SET, SHOW, USE, @@variables) is
// answered here from the principal's own catalog.
//
// It lives under server/ because it is one of the server's front-ends and
// only uses the server's public API; it is a package of its own so that
// vitess's protocol code stays out of package server.
package mysqlwire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/replication"
	"vitess.io/vitess/go/mysql/sqlerror"
	"vitess.io/vitess/go/sqltypes"
	vtlog "vitess.io/vitess/go/vt/log"
	"vitess.io/vitess/go/vt/vtenv"

	"lienthong/engine"
	"lienthong/errcode"
	"lienthong/server"
)

// ServerVersion is what clients read as @@version: a MySQL 8.0 they can
// talk to, marked as lienthong.
const ServerVersion = "8.0.40-lienthong"

// protocol is the metrics and log label of this front-end.
const protocol = "mysql"

// rowsPerPacketBatch bounds the rows converted at once: a source's Arrow
// batch can be large, and the client gets rows as they are converted.
const rowsPerPacketBatch = 1024

// handshakeTimeout bounds a connection's login (a var for the tests).
var handshakeTimeout = 30 * time.Second

// Enabled reports whether cfg turns the front-end on.
func Enabled(cfg *server.Config) bool {
	return cfg.MySQLAddr != "" && cfg.MySQLAddr != "off"
}

// Server is the MySQL front-end of one server.Server.
type Server struct {
	srv *server.Server
	cfg *server.Config
	log *slog.Logger
	env *vtenv.Environment
	l   *mysql.Listener

	mu    sync.Mutex
	conns map[uint32]*mysql.Conn
	done  chan struct{}
}

// Start listens on cfg.MySQLAddr and serves srv's engine.
func Start(srv *server.Server, cfg *server.Config) (*Server, error) {
	env, err := vtenv.New(vtenv.Options{MySQLServerVersion: "8.0.40"})
	if err != nil {
		return nil, err
	}
	// vitess logs handshake and parse failures with the client's text in
	// them; this package logs what an operator needs instead.
	vtlog.SwapLogger(slog.New(slog.DiscardHandler))
	s := &Server{srv: srv, cfg: cfg, log: srv.Logger(), env: env, conns: map[uint32]*mysql.Conn{}, done: make(chan struct{})}
	ln, err := net.Listen("tcp", cfg.MySQLAddr)
	if err != nil {
		return nil, fmt.Errorf("mysql_addr %s: %w", cfg.MySQLAddr, err)
	}
	l, err := mysql.NewListenerWithConfig(mysql.ListenerConfig{
		Listener:           ln,
		AuthServer:         &authServer{s: s},
		Handler:            s,
		ConnReadBufferSize: 16 << 10,
		// Rows are flushed to the client at least this often while a
		// result streams (and whenever the write buffer fills).
		FlushDelay: 50 * time.Millisecond,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	l.ServerVersion = ServerVersion
	// A client has handshakeTimeout to log in: one that connects and says
	// nothing must not hold its connection (and goroutine) forever.
	l.PreHandleFunc = func(_ context.Context, conn net.Conn, _ uint32) (net.Conn, error) {
		return conn, conn.SetDeadline(time.Now().Add(handshakeTimeout))
	}
	if t := srv.TLSConfig(); t != nil {
		// No ALPN on the MySQL port: the clone, and the per-handshake
		// config the server's GetConfigForClient makes with the
		// certificates in force (they are re-read on ReloadTLS).
		mt := t.Clone()
		mt.NextProtos = nil
		if get := t.GetConfigForClient; get != nil {
			mt.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				c, err := get(hello)
				if c != nil {
					c.NextProtos = nil
				}
				return c, err
			}
		}
		l.TLSConfig.Store(mt)
		// With require_client_cert every connection must be TLS (the
		// handshake then requires the certificate).
		l.RequireSecureTransport = cfg.RequireClientCert
	}
	s.l = l
	go func() {
		l.Accept()
		close(s.done)
	}()
	s.log.Info("listening", "mysql", l.Addr().String(), "tls", srv.TLSConfig() != nil, "cleartext_loopback", cfg.MySQLAllowCleartextLoopback)
	return s, nil
}

// Addr is host:port the front-end listens on.
func (s *Server) Addr() string { return s.l.Addr().String() }

// Stop stops accepting connections; connections already open stay (their
// queries drain with the server's Shutdown) until Close.
func (s *Server) Stop() {
	s.l.Shutdown()
}

// Close stops accepting and closes every connection (after the server's
// Shutdown, which has ended their queries).
func (s *Server) Close() {
	s.l.Shutdown()
	<-s.done
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// session is one connection's state.
type session struct {
	p       server.Principal
	purpose string
	caseID  string
	db      string // USE; "" for none
	// vars are the user variables (SET @x = …), as parameter values
	// (string, int64, float64, json.Number, bool) for EXECUTE … USING.
	vars map[string]any
	// named are SQL-level prepared statements (PREPARE name FROM '…').
	named map[string]string
}

// engineSession is the session as the engine knows it.
func (ss *session) engineSession() engine.Session {
	return engine.Session{Principal: ss.p.Name, Agency: ss.p.Agency, Purpose: ss.purpose, CaseID: ss.caseID}
}

// sess is c's session, made from the handshake's principal on first use
// (vitess runs the DSN's "USE db" before ConnectionReady).
func sess(c *mysql.Conn) *session {
	if ss, ok := c.ClientData.(*session); ok {
		return ss
	}
	g, ok := c.UserData.(*principalData)
	if !ok {
		return nil
	}
	ss := &session{p: g.p, vars: map[string]any{}, purpose: g.purpose, caseID: g.caseID}
	if a := c.Attributes; a != nil {
		if v, ok := a["lienthong_purpose"]; ok {
			ss.purpose = v
		}
		if v, ok := a["lienthong_case"]; ok {
			ss.caseID = v
		}
	}
	c.ClientData = ss
	return ss
}

// NewConnection implements mysql.Handler.
func (s *Server) NewConnection(c *mysql.Conn) {}

// ConnectionReady implements mysql.Handler: the handshake authenticated
// the principal; purpose and case may come as connection attributes.
func (s *Server) ConnectionReady(c *mysql.Conn) {
	sess(c)
	// Logged in: no deadline between statements (query_timeout bounds
	// each one).
	_ = c.GetRawConn().SetDeadline(time.Time{})
	s.mu.Lock()
	s.conns[c.ConnectionID] = c
	s.mu.Unlock()
}

// ConnectionClosed implements mysql.Handler.
func (s *Server) ConnectionClosed(c *mysql.Conn) {
	s.mu.Lock()
	delete(s.conns, c.ConnectionID)
	s.mu.Unlock()
}

// ComResetConnection implements mysql.Handler: the session's settings go,
// the principal stays.
func (s *Server) ComResetConnection(c *mysql.Conn) {
	if ss := sess(c); ss != nil {
		ss.purpose, ss.caseID, ss.db = "", "", ""
		clear(ss.vars)
		clear(ss.named)
	}
}

// Env implements mysql.Handler.
func (s *Server) Env() *vtenv.Environment { return s.env }

// WarningCount implements mysql.Handler.
func (s *Server) WarningCount(c *mysql.Conn) uint16 { return 0 }

// ComQuery implements mysql.Handler: the session statements are answered
// here, everything else runs on the engine.
func (s *Server) ComQuery(c *mysql.Conn, sqlText string, callback func(*sqltypes.Result) error) error {
	ss := sess(c)
	if ss == nil {
		return wireError(&server.Error{Code: server.CodeAuth, Message: "the connection is not authenticated"})
	}
	if handled, err := s.local(c, ss, sqlText, callback); handled {
		return err
	}
	return s.run(c, ss, sqlText, nil, callback)
}

// run streams one statement's result from the engine, a batch at a time;
// params are its ? parameters' values (nil: none sent).
func (s *Server) run(c *mysql.Conn, ss *session, sqlText string, params []any, callback func(*sqltypes.Result) error) (ret error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// KILL QUERY from another connection of the principal (the mysql
	// client's Ctrl-C) cancels this context.
	c.UpdateCancelCtx(cancel)
	defer c.UpdateCancelCtx(nil)
	q, err := s.srv.Run(ctx, ss.p, server.Meta{Protocol: protocol, Purpose: ss.purpose, Case: ss.caseID, Remote: c.RemoteAddr().String(), Params: params, Database: ss.db}, sqlText)
	if err != nil {
		return wireError(server.ClientError(err))
	}
	// A panic below must still end the query (its slot, its log line);
	// vitess would only close the connection.
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic serving a MySQL query", "query_id", q.ID(), "panic", fmt.Sprint(v))
			ret = wireError(q.Finish(fmt.Errorf("mysqlwire: panic: %v", v)))
		}
	}()
	fields, enc := resultFields(q.Schema())
	err = callback(&sqltypes.Result{Fields: fields})
	for err == nil {
		b, nerr := q.Next()
		if nerr != nil {
			err = nerr
			break
		}
		n := int(b.NumRows())
		for lo := 0; lo < n && err == nil; lo += rowsPerPacketBatch {
			hi := min(lo+rowsPerPacketBatch, n)
			err = callback(&sqltypes.Result{Rows: enc.rows(b, lo, hi)})
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if e := q.Finish(err); e != nil {
		return wireError(e)
	}
	return nil
}

// wireError is e as a MySQL error packet: the registry's errno and
// SQLSTATE, and the client's message (code first, as on every front-end).
func wireError(e *server.Error) error {
	reg := errcode.Lookup(e.Code)
	return sqlerror.NewSQLError(sqlerror.ErrorCode(reg.MySQL), reg.SQLState, e.Error())
}

func errorf(code, format string, args ...any) error {
	return wireError(&server.Error{Code: code, Message: fmt.Sprintf(format, args...)})
}

// ComQueryMulti implements mysql.Handler (the listener does not enable
// multi-query mode, so vitess calls ComQuery per statement).
func (s *Server) ComQueryMulti(c *mysql.Conn, sql string, callback func(qr sqltypes.QueryResponse, more bool, firstPacket bool) error) error {
	return errorf("LT-UNSUPPORTED", "multi-statement mode is not supported; send one statement at a time")
}

var errReplication = &server.Error{Code: "LT-UNSUPPORTED", Message: "lienthong is not a replication source"}

// ComRegisterReplica implements mysql.Handler.
func (s *Server) ComRegisterReplica(c *mysql.Conn, replicaHost string, replicaPort uint16, replicaUser string, replicaPassword string) error {
	return wireError(errReplication)
}

// ComBinlogDump implements mysql.Handler.
func (s *Server) ComBinlogDump(c *mysql.Conn, logFile string, binlogPos uint32) error {
	return wireError(errReplication)
}

// ComBinlogDumpGTID implements mysql.Handler.
func (s *Server) ComBinlogDumpGTID(c *mysql.Conn, logFile string, logPos uint64, gtidSet replication.GTIDSet, flags uint16) error {
	return wireError(errReplication)
}

// kill cancels the running query of connection id (KILL QUERY), or also
// closes it (KILL [CONNECTION]), if the connection is the principal's.
func (s *Server) kill(c *mysql.Conn, ss *session, id uint64, closeConn bool) error {
	s.mu.Lock()
	target := s.conns[uint32(id)]
	s.mu.Unlock()
	var ts *session
	if target != nil && uint64(target.ConnectionID) == id {
		ts = sess(target)
	}
	if ts == nil || ts.p != ss.p {
		// Other principals' connections are not told apart from none.
		return errorf("LT-UNKNOWN", "no connection %d of yours", id)
	}
	target.CancelCtx()
	if closeConn {
		target.MarkForClose()
	}
	return nil
}

// isLoopback reports whether addr is a loopback address.
func isLoopback(addr net.Addr) bool {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
