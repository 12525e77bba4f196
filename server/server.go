// Package server is a node's network face: an Arrow Flight SQL endpoint and
// an HTTP API over one engine, with authentication (argon2id-hashed bearer
// tokens, mutual TLS), TLS, admission control, per-query limits,
// cancellation that reaches the sources, metrics and graceful shutdown.
//
// Logs never carry SQL text, result data or error messages that could quote
// either: a query is logged as the SHA-256 of its text, its length, who ran
// it for what purpose, its outcome, rows and duration.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"

	connmysql "lienthong/connectors/mysql"
	"lienthong/engine"
	"lienthong/internal/certs"
	"lienthong/state"
	"lienthong/tokens"
)

// Options are what a Server needs besides its Config.
type Options struct {
	// Logger receives structured logs; default JSON on stderr at the
	// config's log_level.
	Logger *slog.Logger
	// Auth overrides the tokens file (tests, and later the policy store).
	Auth Authenticator
	// State, with Tokens, is the node's store and the tokens machine
	// registered with it: the tokens file is proposed there (a seed at
	// start, in force unless principals already are). Unset: the server
	// keeps its own state.Local.
	State  state.Store
	Tokens *tokens.Machine
	// Cluster is the node's membership for /v1/cluster and /readyz; nil:
	// the node is on its own.
	Cluster Cluster
}

// Cluster is what the server needs of the node's cluster membership. The
// node implements it; the server does not know how the cluster agrees.
type Cluster interface {
	// Status is the cluster as this node sees it (JSON-encodable).
	Status(ctx context.Context) (any, error)
	// Join adds the node listening at addr; Remove takes node id out.
	Join(ctx context.Context, addr string) error
	Remove(ctx context.Context, id string) error
	// Quorum is nil while this node can reach a majority, else an error
	// saying why not.
	Quorum() error
}

// Server serves one engine over HTTP and Flight SQL.
type Server struct {
	cfg  *Config
	log  *slog.Logger
	auth Authenticator
	// tokens are the principals of the tokens file, changed only through
	// state (tokens.set at start and on ReloadTokens); nil with
	// Options.Auth.
	tokens  *tokens.Machine
	state   state.Store
	cluster Cluster
	eng     atomic.Pointer[engine.Engine]
	limiter *limiter
	metrics *metrics
	tls     *tls.Config
	// httpTLS is tls for the HTTP port: with require_client_cert it asks
	// for a certificate without requiring one in the handshake, so
	// /healthz and /readyz answer without; requireCert refuses every other
	// path without a verified one.
	httpTLS *tls.Config
	// certs holds the certificates both take at each handshake (nil
	// without TLS); ReloadTLS re-reads them.
	certs *certs.Holder
	mem   memory.Allocator

	httpLn, flightLn net.Listener
	httpSrv          *http.Server
	grpcSrv          *grpc.Server
	serveErr         chan error

	// hardCtx is cancelled when the shutdown grace runs out: every query
	// still running is cancelled with errShutdown.
	hardCtx    context.Context
	hardCancel context.CancelFunc
	draining   atomic.Bool
	active     sync.WaitGroup

	flight *flightServer
	// console holds the web console's sessions and audit access.
	console consoleState
}

var (
	errTimeout  = errors.New("query timeout")
	errShutdown = errors.New("server shutting down")
)

// New checks cfg, loads the tokens file and TLS material, and prepares the
// endpoints. Start binds them; SetEngine makes queries possible.
func New(cfg *Config, opt Options) (*Server, error) {
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: opt.Logger, auth: opt.Auth, mem: memory.DefaultAllocator, serveErr: make(chan error, 2)}
	if s.log == nil {
		s.log = NewLogger(os.Stderr, cfg.LogLevel)
	}
	// go-sql-driver prints its own messages as plain lines on stderr; they
	// go through this logger instead, so the log stays JSON.
	connmysql.SetLogger(s.log)
	s.cluster = opt.Cluster
	if s.auth == nil {
		if opt.State != nil && opt.Tokens != nil {
			s.tokens, s.state = opt.Tokens, opt.State
		} else {
			local := state.NewLocal()
			s.tokens, s.state = &tokens.Machine{}, local
			local.Register("tokens", s.tokens)
		}
		if err := s.proposeTokens(true); err != nil {
			return nil, err
		}
		s.auth = NewTokenAuthenticator(s.tokens, cfg.AuthCacheTTL.Duration)
	}
	if cfg.TLSCert != "" {
		t, h, err := serverTLS(cfg)
		if err != nil {
			return nil, err
		}
		s.certs = h
		s.tls = h.ServerConfig(t)
		s.httpTLS = h.ServerConfig(httpTLS(t))
	}
	s.limiter = newLimiter(cfg.MaxConcurrent, max(cfg.Queue, 0), cfg.QueueTimeout.Duration)
	s.hardCtx, s.hardCancel = context.WithCancel(context.Background())
	s.registerMetrics()
	return s, nil
}

// ReloadTokens reads the tokens file again and proposes it whole
// (tokens.set): a file with an error is refused and the principals in
// force stay; a principal removed or whose hash changed is refused from
// the next request on, cached verification or not.
func (s *Server) ReloadTokens() error { return s.proposeTokens(false) }

// proposeTokens proposes the tokens file; a seed only if no principals
// are in force.
func (s *Server) proposeTokens(seed bool) error {
	if s.tokens == nil || s.cfg.TokensFile == "" {
		return nil
	}
	text, err := os.ReadFile(s.cfg.TokensFile)
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	propose := tokens.SetCommand
	if seed {
		propose = tokens.SeedCommand
	}
	cmd, err := propose(time.Now(), s.cfg.TokensFile, text)
	if err == nil {
		_, err = s.state.Propose(context.Background(), cmd)
	}
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	return nil
}

// NewLogger is the server's JSON logger.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	if level == "" {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// SetEngine makes the server ready: until it is called, queries are refused
// with LT-NOT-READY and /readyz answers 503.
func (s *Server) SetEngine(e *engine.Engine) {
	s.eng.Store(e)
	// duckdb_memory_limit / duckdb_temp_directory reach the residual DuckDB
	// only through an engine that offers this (see docs/server.md).
	if s.cfg.DuckDBMemoryLimit != "" || s.cfg.DuckDBTempDirectory != "" {
		if c, ok := any(e).(interface {
			ConfigureResidual(memoryLimit, tempDirectory string) error
		}); ok {
			if err := c.ConfigureResidual(s.cfg.DuckDBMemoryLimit, s.cfg.DuckDBTempDirectory); err != nil {
				s.log.Error("configuring the residual DuckDB failed", "error", err.Error())
			}
		} else {
			s.log.Warn("duckdb_memory_limit and duckdb_temp_directory are not applied: this engine cannot set them yet")
		}
	}
}

func (s *Server) engine() *engine.Engine { return s.eng.Load() }

// Start binds the configured addresses and serves in the background.
func (s *Server) Start() error {
	if s.cfg.HTTPAddr != "off" {
		ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("http_addr %s: %w", s.cfg.HTTPAddr, err)
		}
		s.httpLn = ln
	}
	if s.cfg.FlightAddr != "off" {
		ln, err := net.Listen("tcp", s.cfg.FlightAddr)
		if err != nil {
			if s.httpLn != nil {
				s.httpLn.Close()
			}
			return fmt.Errorf("flight_addr %s: %w", s.cfg.FlightAddr, err)
		}
		s.flightLn = ln
	}
	if s.httpLn != nil {
		s.httpSrv = &http.Server{
			Handler:           s.recoverHTTP(s.requireCert(s.httpHandler())),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		ln := s.httpLn
		if s.tls != nil {
			ln = tls.NewListener(ln, s.httpTLS)
		}
		go func() {
			if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.serveErr <- fmt.Errorf("http: %w", err)
			}
		}()
	}
	if s.flightLn != nil {
		s.grpcSrv = s.newGRPCServer()
		go func() {
			if err := s.grpcSrv.Serve(s.flightLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				s.serveErr <- fmt.Errorf("flight: %w", err)
			}
		}()
	}
	s.log.Info("listening", "http", s.HTTPURL(), "flight", s.FlightURL(), "tls", s.tls != nil, "mutual_tls", s.cfg.ClientCA != "",
		"max_concurrent", s.cfg.MaxConcurrent, "queue", s.cfg.Queue, "query_timeout", s.cfg.QueryTimeout.String())
	return nil
}

// Err reports a listener that failed after Start.
func (s *Server) Err() <-chan error { return s.serveErr }

// HTTPURL is the base URL of the HTTP API ("" when off).
func (s *Server) HTTPURL() string {
	if s.httpLn == nil {
		return ""
	}
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + s.httpLn.Addr().String()
}

// FlightAddr is host:port of the Flight SQL endpoint ("" when off).
func (s *Server) FlightAddr() string {
	if s.flightLn == nil {
		return ""
	}
	return s.flightLn.Addr().String()
}

// FlightURL is the Flight SQL location (grpc:// or grpc+tls://).
func (s *Server) FlightURL() string {
	if s.flightLn == nil {
		return ""
	}
	if s.tls != nil {
		return "grpc+tls://" + s.FlightAddr()
	}
	return "grpc://" + s.FlightAddr()
}

// Shutdown stops accepting queries, lets running ones finish until ctx is
// done (the grace period), then cancels them; it returns when every query
// has ended. It does not close the engine.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.log.Info("shutting down: draining running queries", "running", s.limiter.running(), "queued", s.limiter.queued())
	// Listeners close now; connections with a query running stay until it
	// ends or the grace runs out (then hardCancel comes first, so those
	// queries end as LT-SHUTTING-DOWN, and the connections are closed).
	var wg sync.WaitGroup
	if s.httpSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.httpSrv.Shutdown(ctx)
		}()
	}
	if s.grpcSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.grpcSrv.GracefulStop() // returns early once Stop is called
		}()
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); s.active.Wait(); close(drained) }()
	select {
	case <-drained:
		s.log.Info("shut down: every query finished")
		s.hardCancel()
		return nil
	case <-ctx.Done():
	}
	s.log.Warn("shutdown grace over: cancelling running queries", "running", s.limiter.running())
	s.hardCancel()
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
	if s.grpcSrv != nil {
		s.grpcSrv.Stop()
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		return errors.New("server: queries did not stop within 10s of cancellation")
	}
	return nil
}

// reqMeta is what a request says about itself besides its SQL.
type reqMeta struct {
	proto   string // "http" or "flight"
	purpose string
	caseID  string
	remote  string
	// params are the values of the statement's ? parameters; nil: none sent.
	params []any
	// database is the source of unqualified table names (MySQL's USE).
	database string
}

// decodeHeader reads a purpose or case header: header values are ASCII,
// so other text (Vietnamese purposes) is sent percent-encoded (UTF-8).
func decodeHeader(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	if d, err := url.PathUnescape(v); err == nil && utf8.ValidString(d) {
		return d
	}
	return v
}

// checkMeta refuses purpose and case values that could not be stored or
// shown safely.
func checkMeta(m reqMeta) *Error {
	for _, v := range []struct{ name, val string }{{"purpose", m.purpose}, {"case", m.caseID}} {
		if len(v.val) > 256 {
			return newError(http.StatusBadRequest, CodeBadRequest, "the %s header is longer than 256 bytes", v.name)
		}
		for _, r := range v.val {
			if r < 0x20 || r == 0x7f {
				return newError(http.StatusBadRequest, CodeBadRequest, "the %s header holds control characters", v.name)
			}
		}
	}
	return nil
}

// query is one running statement, from admission to its last batch.
type query struct {
	s       *Server
	id      string
	meta    reqMeta
	p       Principal
	sqlHash string
	sqlLen  int
	kind    engine.Kind
	start   time.Time
	waited  time.Duration

	ctx     context.Context
	cancel  context.CancelCauseFunc
	stop    []func()
	release func()

	rdr     array.RecordReader
	res     *engine.Result
	explain string

	rows, bytes int64
	once        sync.Once
	err         *Error
}

func newID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sqlDigest(sql string) string {
	h := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(h[:])
}

// startQuery admits and starts one statement (a query, EXPLAIN [ANALYZE] or
// REFRESH CATALOG). On error the query has been finished (logged, counted).
func (s *Server) startQuery(parent context.Context, p Principal, meta reqMeta, sqlText string) (_ *query, err error) {
	q := &query{s: s, id: newID(), meta: meta, p: p, sqlHash: sqlDigest(sqlText), sqlLen: len(sqlText), start: time.Now()}
	fail := func(err error) (*query, error) {
		q.finish(err)
		return nil, q.err
	}
	// A panic below (planner, engine) must still free the slot and log the
	// query: it ends as LT-INTERNAL under the query's id.
	defer func() {
		if v := recover(); v != nil {
			_, err = fail(s.recovered(meta.proto, "query", q.id, v))
		}
	}()
	if e := checkMeta(meta); e != nil {
		return fail(e)
	}
	if strings.TrimSpace(sqlText) == "" {
		return fail(newError(http.StatusBadRequest, CodeBadRequest, "no SQL given"))
	}
	if s.draining.Load() {
		return fail(newError(http.StatusServiceUnavailable, CodeShuttingDown, "the node is shutting down; retry on another node"))
	}
	eng := s.engine()
	if eng == nil {
		return fail(newError(http.StatusServiceUnavailable, CodeNotReady, "the node is starting (connecting sources); retry in a moment"))
	}
	release, waited, err := s.limiter.acquire(parent)
	q.waited = waited
	s.metrics.observe(mQueueWait, waited.Seconds())
	if err != nil {
		if parent.Err() != nil {
			return fail(newError(499, CodeCancelled, "the client cancelled the query"))
		}
		return fail(err)
	}
	q.release = release
	s.active.Add(1)
	q.start = time.Now()
	ctx, cancel := context.WithCancelCause(parent)
	q.cancel = cancel
	tctx, tcancel := context.WithTimeoutCause(ctx, s.cfg.QueryTimeout.Duration, errTimeout)
	q.ctx = tctx
	q.stop = append(q.stop, tcancel, func() { cancel(nil) })
	stopHard := context.AfterFunc(s.hardCtx, func() { cancel(errShutdown) })
	q.stop = append(q.stop, func() { stopHard() })

	opt := engine.QueryOptions{Session: engine.Session{Principal: p.Name, Agency: p.Agency, Purpose: meta.purpose, CaseID: meta.caseID}, Params: meta.params, Database: meta.database}
	kind, inner := engine.Classify(sqlText)
	q.kind = kind
	switch kind {
	case engine.KindRefresh:
		if err := eng.Refresh(q.ctx); err != nil {
			return fail(q.wrap(err))
		}
		q.rdr = oneColumn("catalog_version", arrow.PrimitiveTypes.Int64, []any{eng.Catalog().Version})
	case engine.KindExplain, engine.KindExplainAnalyze:
		text, err := eng.Explain(q.ctx, inner, kind == engine.KindExplainAnalyze, opt)
		if err != nil {
			return fail(q.wrap(err))
		}
		q.explain = text
		var lines []any
		for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			lines = append(lines, l)
		}
		q.rdr = oneColumn("plan", arrow.BinaryTypes.String, lines)
	default:
		res, err := eng.Query(q.ctx, inner, opt)
		if err != nil {
			return fail(q.wrap(err))
		}
		q.res, q.rdr = res, res
	}
	return q, nil
}

// schema is the result's schema.
func (q *query) schema() *arrow.Schema { return q.rdr.Schema() }

// next returns the next batch (valid until the following call) or io.EOF.
// It enforces the result limits: a result that grows past one is an error,
// never a silently shortened answer.
func (q *query) next() (arrow.RecordBatch, error) {
	if !q.rdr.Next() {
		if err := q.rdr.Err(); err != nil {
			return nil, q.wrap(err)
		}
		// A cancelled stream may end without an error of its own.
		if err := q.ctx.Err(); err != nil {
			return nil, q.wrap(err)
		}
		return nil, io.EOF
	}
	rec := q.rdr.RecordBatch()
	n, b := rec.NumRows(), BatchBytes(rec)
	cfg := q.s.cfg
	if cfg.MaxResultRows > 0 && q.rows+n > cfg.MaxResultRows {
		return nil, newError(http.StatusBadRequest, CodeResultLimit, "the result has more than %d rows (max_result_rows); add a LIMIT, filter or aggregate", cfg.MaxResultRows)
	}
	if cfg.MaxResultBytes > 0 && q.bytes+b > int64(cfg.MaxResultBytes) {
		return nil, newError(http.StatusBadRequest, CodeResultLimit, "the result is larger than %d bytes (max_result_bytes); select fewer columns or rows", int64(cfg.MaxResultBytes))
	}
	q.rows += n
	q.bytes += b
	return rec, nil
}

// wrap classifies err, telling a timeout, a shutdown and a client that went
// away apart from the error each produced below.
func (q *query) wrap(err error) *Error {
	if q.ctx != nil && q.ctx.Err() != nil {
		cause := context.Cause(q.ctx)
		if q.s.hardCtx.Err() != nil && cause != errTimeout {
			// The connection may close before the cancellation's cause lands.
			cause = errShutdown
		}
		switch cause {
		case errTimeout:
			return &Error{Code: CodeTimeout, Message: fmt.Sprintf("the query ran longer than %s (query_timeout) and was stopped", q.s.cfg.QueryTimeout.Duration), status: http.StatusGatewayTimeout, cause: err}
		case errShutdown:
			return &Error{Code: CodeShuttingDown, Message: "the node shut down while the query ran; retry on another node", status: http.StatusServiceUnavailable, cause: err}
		default:
			return &Error{Code: CodeCancelled, Message: "the client cancelled the query", status: 499, cause: err}
		}
	}
	return toError(err)
}

// finish ends the query once: stops every source query, frees the slot,
// records metrics and writes the one log line.
func (q *query) finish(err error) {
	q.once.Do(func() {
		if err != nil && !errors.Is(err, io.EOF) {
			q.err = q.wrap(err)
		}
		if q.cancel != nil {
			q.cancel(nil)
		}
		if q.rdr != nil {
			q.rdr.Release()
		}
		for _, f := range q.stop {
			f()
		}
		if q.release != nil {
			q.release()
		}
		q.record()
		if q.release != nil {
			q.s.active.Done() // after the log line, so Shutdown waits for it
		}
	})
}

func (q *query) record() {
	s := q.s
	outcome := "ok"
	if q.err != nil {
		outcome = q.err.outcome()
	}
	d := time.Since(q.start)
	s.metrics.add(mQueries, 1, q.meta.proto, outcome)
	s.metrics.observe(mQueryLatency, d.Seconds(), q.meta.proto, outcome)
	s.metrics.add(mResultRows, float64(q.rows), q.meta.proto)
	s.metrics.add(mResultBytes, float64(q.bytes), q.meta.proto)
	if q.res != nil && q.res.Plan != nil {
		stats := q.res.Stats()
		for _, rm := range q.res.Plan.Remotes {
			if st, ok := stats[rm.ID]; ok {
				s.metrics.add(mSourceRows, float64(st.Rows), rm.Source)
				s.metrics.add(mSourceBytes, float64(st.Bytes), rm.Source)
			}
		}
	}
	if q.err != nil && q.err.Source != "" {
		s.metrics.add(mSourceErrors, 1, q.err.Source)
	}
	attrs := []any{
		"query_id", q.id, "protocol", q.meta.proto, "principal", q.p.Name, "agency", q.p.Agency,
		"purpose", q.meta.purpose, "case_given", q.meta.caseID != "",
		"sql_sha256", q.sqlHash, "sql_bytes", q.sqlLen, "outcome", outcome,
		"rows", q.rows, "bytes", q.bytes, "duration_ms", float64(d.Microseconds()) / 1000,
		"queue_ms", float64(q.waited.Microseconds()) / 1000,
	}
	if q.err != nil {
		attrs = append(attrs, "error_code", q.err.Code)
		if q.err.Source != "" {
			attrs = append(attrs, "source", q.err.Source)
		}
		if q.err.Code == CodeInternal || q.err.Code == CodeSourceError {
			// Operators need something to go on; quoted text and digit runs
			// are removed so no value can reach the log.
			attrs = append(attrs, "error", logRedact(q.err.Message))
			var d interface{ Detail() string }
			if errors.As(q.err.cause, &d) {
				attrs = append(attrs, "detail", logRedact(d.Detail()))
			}
		}
	}
	s.log.Info("query", attrs...)
}

// oneColumn is a small in-memory result.
func oneColumn(name string, dt arrow.DataType, vals []any) array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: dt, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, v := range vals {
		switch x := v.(type) {
		case string:
			b.Field(0).(*array.StringBuilder).Append(x)
		case int64:
			b.Field(0).(*array.Int64Builder).Append(x)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rdr, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	return rdr
}
