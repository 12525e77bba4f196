package server

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"lienthong/catalog"
	"lienthong/engine"
)

// HTTP header names.
const (
	HeaderPurpose     = "X-Lienthong-Purpose"
	HeaderCase        = "X-Lienthong-Case"
	HeaderQueryID     = "X-Lienthong-Query-Id"
	HeaderStatus      = "X-Lienthong-Status" // trailer: ok or error
	HeaderRows        = "X-Lienthong-Rows"   // trailer: rows sent
	HeaderError       = "X-Lienthong-Error"  // trailer: the error as JSON
	HeaderErrTrailer  = "X-Lienthong-Error-Trailer"
	ContentTypeArrow  = "application/vnd.apache.arrow.stream"
	ContentTypeNDJSON = "application/x-ndjson"
)

// maxRequestBytes bounds a request body (SQL text).
const maxRequestBytes = 1 << 20

type principalKey struct{}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	mux.Handle("POST /v1/query", s.authenticated(s.handleQuery))
	mux.Handle("POST /v1/explain", s.authenticated(s.handleExplain))
	mux.Handle("POST /v1/refresh", s.authenticated(s.handleRefresh))
	mux.Handle("GET /v1/catalog", s.authenticated(s.handleCatalog))
	mux.Handle("GET /v1/budget", s.authenticated(s.handleBudget))
	mux.Handle("GET /metrics", s.authenticated(s.handleMetrics))
	s.consoleRoutes(mux) // the web console at / and its session, audit and report endpoints
	s.operatorRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, CodeBadRequest, "no endpoint %s %s; see docs/server.md", r.Method, r.URL.Path))
	})
	return securityHeaders(mux)
}

// requireCert refuses, with require_client_cert, every request but
// /healthz and /readyz that came without a verified client certificate.
func (s *Server) requireCert(next http.Handler) http.Handler {
	if !s.cfg.RequireClientCert || s.tls == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" &&
			(r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			s.metrics.add(mAuthFailures, 1, "http")
			s.log.Warn("authentication refused", "protocol", "http", "remote", r.RemoteAddr, "path", r.URL.Path, "error_code", CodeAuth, "reason", "no client certificate")
			writeError(w, newError(http.StatusUnauthorized, CodeAuth, "this node requires a client certificate (require_client_cert); only /healthz and /readyz answer without"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	switch e.Code {
	case CodeAuth:
		w.Header().Set("WWW-Authenticate", `Bearer realm="lienthong"`)
	case CodeBusy, CodeNotReady:
		w.Header().Set("Retry-After", "1")
	}
	status := e.HTTPStatus()
	if status == 499 { // nobody is listening; any status will do
		status = http.StatusBadRequest
	}
	writeJSON(w, status, e)
}

// credentials collects what an HTTP request presented.
func httpCredentials(r *http.Request) Credentials {
	var c Credentials
	if v := r.Header.Get("Authorization"); v != "" {
		parseAuthorization(v, &c)
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		c.ClientCert = r.TLS.VerifiedChains[0][0]
	}
	return c
}

func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r) // a token, a certificate or the console's session
		if err != nil {
			s.metrics.add(mAuthFailures, 1, "http")
			e := toError(err)
			s.log.Warn("authentication refused", "protocol", "http", "remote", r.RemoteAddr, "path", r.URL.Path, "error_code", e.Code, "reason", e.Message)
			writeError(w, e)
			return
		}
		h(w, r, p)
	})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type readySource struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Status string `json:"status"` // ok, connecting, unavailable or down (sourceStatus)
	// Breaker is closed, open or half-open; Running counts the statements
	// the source runs now, of at most MaxConcurrent.
	Breaker       string `json:"breaker,omitempty"`
	Running       int    `json:"running"`
	MaxConcurrent int    `json:"max_concurrent,omitempty"`
}

// handleReadyz answers 200 when the engine is open and its catalog loaded
// (sources that are down are listed, not fatal: queries not touching them
// run), 503 while starting or shutting down. Reasons for unavailable
// sources are shown to authenticated clients only (/v1/catalog).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Status         string        `json:"status"`
		Audit          string        `json:"audit,omitempty"`
		Cluster        string        `json:"cluster,omitempty"`
		CatalogVersion int64         `json:"catalog_version,omitempty"`
		Sources        []readySource `json:"sources,omitempty"`
	}{Status: "ready"}
	status := http.StatusOK
	eng := s.engine()
	switch {
	case s.draining.Load():
		out.Status, status = "shutting down", http.StatusServiceUnavailable
	case eng == nil:
		out.Status, status = "starting", http.StatusServiceUnavailable
	case eng.AuditHealth() != nil:
		// Every query would be refused (fail closed); the cause (with the
		// log's path) is in the operator's log, not here.
		out.Status, out.Audit, status = "audit log unavailable", "failed", http.StatusServiceUnavailable
	case s.cluster != nil && s.cluster.Quorum() != nil:
		// Audited queries would fail LT-NO-QUORUM: send them elsewhere.
		out.Status, out.Cluster, status = "no quorum", "no quorum", http.StatusServiceUnavailable
	}
	if eng != nil {
		snap := eng.Catalog()
		out.CatalogVersion = snap.Version
		states := sourceStates(eng)
		for _, src := range snap.Sources {
			ss := states[strings.ToLower(src.Name)]
			st, br := sourceStatus(src, ss)
			out.Sources = append(out.Sources, readySource{Name: src.Name, Kind: string(src.Kind), Status: st, Breaker: br, Running: ss.Running, MaxConcurrent: ss.MaxConcurrent})
		}
	}
	writeJSON(w, status, out)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ Principal) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w)
}

func httpMeta(r *http.Request) reqMeta {
	return reqMeta{proto: "http", purpose: decodeHeader(r.Header.Get(HeaderPurpose)), caseID: decodeHeader(r.Header.Get(HeaderCase)), remote: r.RemoteAddr}
}

type queryRequest struct {
	SQL     string `json:"sql"`
	Analyze bool   `json:"analyze"`
	// Params are the values of the statement's ? parameters, in order
	// (strings, numbers, booleans, null); numbers stay exact.
	Params []any `json:"params"`
}

// readRequest reads {"sql": ...} JSON or a plain SQL body.
func readRequest(w http.ResponseWriter, r *http.Request) (queryRequest, *Error) {
	var req queryRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		return req, newError(http.StatusRequestEntityTooLarge, CodeBadRequest, "request body: %v (at most %d bytes of SQL)", err, maxRequestBytes)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&req); err != nil {
			return req, newError(http.StatusBadRequest, CodeBadRequest, `request body is not {"sql": "..."}: %v`, err)
		}
		// One object and nothing after it: a second object or stray text
		// would otherwise be silently ignored.
		var extra json.RawMessage
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return req, newError(http.StatusBadRequest, CodeBadRequest, `request body has data after the {"sql": "..."} object; send one JSON object`)
		}
	} else {
		req.SQL = string(body)
	}
	if strings.TrimSpace(req.SQL) == "" {
		return req, newError(http.StatusBadRequest, CodeBadRequest, `no SQL given: send {"sql": "..."} as application/json or the SQL as text/plain`)
	}
	return req, nil
}

func wantsArrow(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "arrow":
		return true
	case "ndjson", "json":
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), ContentTypeArrow)
}

// handleQuery runs a statement and streams its rows. Errors before the
// first row get a status and a JSON body. Errors after it: a JSON-lines
// stream ends with a line {"error": {...}}; an Arrow stream is cut off
// (the connection is reset, so no client mistakes it for a whole result),
// unless the request sent X-Lienthong-Error-Trailer: 1, in which case it
// ends without the end-of-stream marker. Either way the trailers
// X-Lienthong-Status (ok or error), X-Lienthong-Rows and X-Lienthong-Error
// say how the stream ended.
func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, p Principal) {
	req, e := readRequest(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	meta := httpMeta(r)
	meta.params = req.Params
	q, err := s.startQuery(r.Context(), p, meta, req.SQL)
	if err != nil {
		writeError(w, toError(err))
		return
	}
	defer q.finish(nil)
	first, err := q.next()
	if err != nil && !errors.Is(err, io.EOF) {
		q.finish(err)
		writeError(w, q.err)
		return
	}
	arrowOut := wantsArrow(r)
	h := w.Header()
	h.Set(HeaderQueryID, q.id)
	h.Set("Trailer", HeaderStatus+", "+HeaderRows+", "+HeaderError)
	h.Set("Cache-Control", "no-store")
	if arrowOut {
		h.Set("Content-Type", ContentTypeArrow)
	} else {
		h.Set("Content-Type", ContentTypeNDJSON)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)

	var streamErr error
	if arrowOut {
		streamErr = s.streamArrow(q, bw, rc, first)
	} else {
		streamErr = s.streamNDJSON(q, bw, rc, first)
	}
	h.Set(HeaderRows, strconv.FormatInt(q.rows, 10))
	if streamErr == nil {
		h.Set(HeaderStatus, "ok")
		_ = bw.Flush()
		return
	}
	q.finish(streamErr)
	if q.err == nil || q.err.Code == CodeCancelled {
		return // the client is gone
	}
	h.Set(HeaderStatus, "error")
	if b, err := json.Marshal(q.err); err == nil {
		h.Set(HeaderError, string(b))
	}
	if arrowOut {
		if r.Header.Get(HeaderErrTrailer) == "1" {
			_ = bw.Flush()
			return
		}
		_ = bw.Flush()
		_ = rc.Flush()
		panic(http.ErrAbortHandler)
	}
	line, _ := json.Marshal(map[string]*Error{"error": q.err})
	_, _ = bw.Write(append(line, '\n'))
	_ = bw.Flush()
}

func (s *Server) streamNDJSON(q *query, bw *bufio.Writer, rc *http.ResponseController, first arrow.RecordBatch) error {
	enc := newRowEncoder(q.schema())
	var buf []byte
	rec := first
	for rec != nil {
		buf = enc.appendBatch(buf[:0], rec)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		if err := flush(bw, rc); err != nil {
			return err
		}
		var err error
		rec, err = q.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) streamArrow(q *query, bw *bufio.Writer, rc *http.ResponseController, first arrow.RecordBatch) error {
	wr := ipc.NewWriter(bw, ipc.WithSchema(q.schema()), ipc.WithAllocator(s.mem))
	rec := first
	for rec != nil {
		if err := wr.Write(rec); err != nil {
			return err
		}
		if err := flush(bw, rc); err != nil {
			return err
		}
		var err error
		rec, err = q.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	return wr.Close() // writes the end-of-stream marker
}

func flush(bw *bufio.Writer, rc *http.ResponseController) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	return rc.Flush()
}

func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request, p Principal) {
	req, e := readRequest(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	text := "EXPLAIN " + req.SQL
	if req.Analyze {
		text = "EXPLAIN ANALYZE " + req.SQL
	}
	meta := httpMeta(r)
	meta.params = req.Params
	q, err := s.startQuery(r.Context(), p, meta, text)
	if err != nil {
		writeError(w, toError(err))
		return
	}
	q.finish(nil)
	w.Header().Set(HeaderQueryID, q.id)
	writeJSON(w, http.StatusOK, map[string]string{"plan": q.explain})
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request, p Principal) {
	q, err := s.startQuery(r.Context(), p, httpMeta(r), "REFRESH CATALOG")
	if err != nil {
		writeError(w, toError(err))
		return
	}
	q.finish(nil)
	writeJSON(w, http.StatusOK, map[string]int64{"catalog_version": s.engine().Catalog().Version})
}

// handleBudget answers the caller's own privacy budget (engine.Budget),
// read through the cluster's log so that it counts every charge made on
// any node. A read is a proposal: it takes one of the node's query slots
// (max_concurrent) while it runs, as a query does.
func (s *Server) handleBudget(w http.ResponseWriter, r *http.Request, p Principal) {
	eng := s.engine()
	if eng == nil {
		writeError(w, newError(http.StatusServiceUnavailable, CodeNotReady, "the node is starting; retry in a moment"))
		return
	}
	release, _, err := s.limiter.acquire(r.Context())
	if err != nil {
		writeError(w, toError(err))
		return
	}
	defer release()
	b, err := eng.Budget(r.Context(), p.Name)
	if errors.Is(err, engine.ErrNoBudget) {
		writeError(w, newError(http.StatusBadRequest, "LT-UNSUPPORTED", "%s", strings.TrimPrefix(err.Error(), engine.ErrNoBudget.Error()+": ")))
		return
	}
	if err != nil {
		writeError(w, opError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, b)
}

// CatalogJSON is the body of GET /v1/catalog.
type CatalogJSON struct {
	Version int64        `json:"version"`
	Sources []SourceJSON `json:"sources"`
}

// SourceJSON is one source in CatalogJSON.
type SourceJSON struct {
	Name        string      `json:"name"`
	Kind        string      `json:"kind"`
	Status      string      `json:"status"`
	Unavailable string      `json:"unavailable,omitempty"`
	Tables      []TableJSON `json:"tables"`
	// Breaker is closed, open or half-open; LastError says, while the
	// breaker is not closed, that the source failed (not the driver's
	// words, which name hosts and users).
	Breaker   string `json:"breaker,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// TableJSON is one table in CatalogJSON.
type TableJSON struct {
	Name        string       `json:"name"`
	PINColumn   string       `json:"pin_column,omitempty"`
	RowEstimate *int64       `json:"row_estimate,omitempty"`
	Columns     []ColumnJSON `json:"columns"`
}

// ColumnJSON is one column in CatalogJSON; Type is catalog.TypeName's.
type ColumnJSON struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	SourceType string `json:"source_type"`
	Nullable   bool   `json:"nullable"`
	Sensitive  bool   `json:"sensitive,omitempty"`
}

// unavailableText is what clients read about a source that cannot be
// reached, whatever its driver said.
const unavailableText = "not reachable; the operator's log and `lienthong sources status` have the source's own message"

// CatalogToJSON renders a snapshot.
func CatalogToJSON(snap *catalog.Snapshot) CatalogJSON {
	out := CatalogJSON{Version: snap.Version, Sources: []SourceJSON{}}
	for _, src := range snap.Sources {
		sj := SourceJSON{Name: src.Name, Kind: string(src.Kind), Status: "ok", Tables: []TableJSON{}}
		if src.Unavailable != "" {
			// The driver's words name hosts, database users and databases:
			// they go to the operator (the log, lienthong sources status).
			sj.Status, sj.Unavailable = "unavailable", unavailableText
		}
		for _, t := range src.Tables {
			tj := TableJSON{Name: t.Name, PINColumn: t.PINColumn, Columns: []ColumnJSON{}}
			if t.RowEstimate >= 0 {
				n := t.RowEstimate
				tj.RowEstimate = &n
			}
			for _, c := range t.Columns {
				tj.Columns = append(tj.Columns, ColumnJSON{Name: c.Name, Type: catalog.TypeName(c.Type), SourceType: c.SourceType, Nullable: c.Nullable, Sensitive: c.Sensitive})
			}
			sj.Tables = append(sj.Tables, tj)
		}
		out.Sources = append(out.Sources, sj)
	}
	return out
}

func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request, p Principal) {
	eng := s.engine()
	if eng == nil {
		writeError(w, newError(http.StatusServiceUnavailable, CodeNotReady, "the node is starting (connecting sources); retry in a moment"))
		return
	}
	meta := httpMeta(r)
	snap, err := eng.CatalogFor(r.Context(), engine.Session{Principal: p.Name, Agency: p.Agency, Purpose: meta.purpose})
	if err != nil {
		writeError(w, toError(err))
		return
	}
	writeJSON(w, http.StatusOK, catalogWithStates(eng, snap))
}

// decodeBase64 reads standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
