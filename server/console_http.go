package server

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"lienthong/audit/chain"
	"lienthong/audit/report"
	"lienthong/health"
	"lienthong/policy"
	"lienthong/server/console"
)

// The console's routes: its page and assets at / (embedded in the binary:
// no CDN, nothing fetched from elsewhere), its session, and the audit
// endpoints it and any other client with an audit role use.

// consoleCSP is every response's Content-Security-Policy: scripts, styles,
// images and connections from this origin only, nothing inline, no
// framing by other pages, no plugins, forms only to this origin.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// reportCSP is the sharing report's: its HTML carries its own inline
// styles and SVG charts, and no scripts at all, so none may run; the
// console may frame it (it is this origin's page).
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"

func (s *Server) consoleRoutes(mux *http.ServeMux) {
	assets := console.Handler()
	mux.Handle("GET /{$}", assets)
	mux.Handle("GET /console/", assets)
	mux.HandleFunc("POST /v1/session", s.handleLogin)
	mux.HandleFunc("GET /v1/session", s.handleSession)
	mux.HandleFunc("DELETE /v1/session", s.handleLogout)
	mux.Handle("GET /v1/audit", s.authenticated(s.handleAuditSearch))
	mux.Handle("GET /v1/audit/verify", s.authenticated(s.handleAuditVerify))
	mux.Handle("GET /v1/audit/attempts/{id}", s.authenticated(s.handleAuditAttempt))
	mux.Handle("GET /v1/report", s.authenticated(s.handleReport))
	mux.Handle("GET /v1/health/uptime", s.authenticated(s.handleUptime))
}

// securityHeaders sets the headers every response carries: the CSP above
// (the report replaces it with its own), no MIME sniffing, no referrer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// AuditAccess is where the audit endpoints read: the node's audit log and
// health history, and the key that authenticates their heads.
type AuditAccess struct {
	Log, Health string
	Keys        *chain.Keys
}

// SetAudit gives the audit endpoints (GET /v1/audit, /v1/report) the
// node's logs; without it they answer that this node keeps none.
func (s *Server) SetAudit(a AuditAccess) {
	if a.Health == "" && a.Log != "" {
		a.Health = chain.HealthPath(a.Log)
	}
	s.console.audit = a
}

// mayAudit refuses principals without the audit operation (policy.OpAudit)
// and nodes without a log.
func (s *Server) mayAudit(w http.ResponseWriter, p Principal) bool {
	eng := s.engine()
	if eng == nil {
		writeError(w, newError(http.StatusServiceUnavailable, CodeNotReady, "the node is starting (connecting sources); retry in a moment"))
		return false
	}
	if !eng.May(p.Name, policy.OpAudit) {
		writeError(w, newError(http.StatusForbidden, CodeForbidden, "%s may not read the audit log: give one of its roles operations = [\"audit\"] in the policy", p.Name))
		return false
	}
	if s.console.audit.Log == "" {
		writeError(w, newError(http.StatusBadRequest, "LT-UNSUPPORTED", "this node keeps no audit log: add an [audit] table to its config (docs/audit.md)"))
		return false
	}
	return true
}

// auditAttemptJSON is one attempt in a search answer.
type auditAttemptJSON struct {
	Attempt    string    `json:"attempt"`
	Start      time.Time `json:"start"`
	Principal  string    `json:"principal"`
	Agency     string    `json:"agency"`
	Purpose    string    `json:"purpose,omitempty"`
	Case       string    `json:"case,omitempty"`
	Sources    []string  `json:"sources,omitempty"`
	Outcome    string    `json:"outcome"`
	Code       string    `json:"code,omitempty"`
	Rows       int64     `json:"rows"`
	DurationMS float64   `json:"duration_ms"`
	SQL        string    `json:"sql,omitempty"`
}

const maxAuditResults = 1000

// parseAuditTime reads 2026-05-01, 2026-05-01T08:00 or RFC 3339.
func parseAuditTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time")
}

// handleAuditSearch is GET /v1/audit?from=&to=&principal=&agency=&purpose=
// &case=&source=&outcome=&code=&attempt=&limit=: the newest matching
// attempts first.
func (s *Server) handleAuditSearch(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.mayAudit(w, p) {
		return
	}
	q := r.URL.Query()
	f := chain.Filter{Principal: q.Get("principal"), Agency: q.Get("agency"), Purpose: q.Get("purpose"), CaseID: q.Get("case"),
		Source: q.Get("source"), Outcome: q.Get("outcome"), Code: q.Get("code"), Attempt: q.Get("attempt")}
	for _, tv := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(tv.name); v != "" {
			t, err := parseAuditTime(v)
			if err != nil {
				writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "%s: want a date (2026-05-01) or a time (2026-05-01T08:00:00Z)", tv.name))
				return
			}
			*tv.dst = t
		}
	}
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditResults {
			writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "limit: want 1 to %d", maxAuditResults))
			return
		}
		limit = n
	}
	rd, err := chain.OpenReader(s.console.audit.Log)
	if err != nil {
		s.log.Error("audit search: opening the log failed", "error", err.Error())
		writeError(w, newError(http.StatusInternalServerError, CodeInternal, "the audit log could not be read; the operator's log says why"))
		return
	}
	var from uint64
	if !f.From.IsZero() {
		from = rd.SeqFor(f.From)
	}
	// Keep the last limit matches (attempts come in the order they ended).
	var ring []auditAttemptJSON
	matched := 0
	err = chain.Attempts(rd, from, f, func(a *chain.AttemptView) error {
		matched++
		info := a.Info()
		aj := auditAttemptJSON{Attempt: info.Attempt, Start: info.Start, Principal: info.Principal, Agency: info.Agency, Purpose: info.Purpose,
			Case: info.CaseID, Sources: a.Sources(), Outcome: a.Outcome(), SQL: info.SQL}
		if a.End != nil {
			aj.Code, aj.Rows, aj.DurationMS = a.End.Code, a.End.Rows, float64(a.End.DurationUS)/1000
		}
		if len(ring) == limit {
			ring = ring[1:]
		}
		ring = append(ring, aj)
		return nil
	})
	if err != nil {
		s.log.Error("audit search: reading the log failed", "error", err.Error())
		writeError(w, newError(http.StatusInternalServerError, CodeInternal, "the audit log could not be read; the operator's log says why"))
		return
	}
	slices.Reverse(ring)
	if ring == nil {
		ring = []auditAttemptJSON{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"attempts": ring, "matched": matched, "truncated": matched > len(ring)})
}

// handleAuditAttempt is GET /v1/audit/attempts/{id}: the attempt's begin
// and end records as stored (PINs as keyed hashes only).
func (s *Server) handleAuditAttempt(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.mayAudit(w, p) {
		return
	}
	id := r.PathValue("id")
	if len(id) < 8 {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "give at least 8 characters of the attempt id"))
		return
	}
	rd, err := chain.OpenReader(s.console.audit.Log)
	if err != nil {
		writeError(w, newError(http.StatusInternalServerError, CodeInternal, "the audit log could not be read; the operator's log says why"))
		return
	}
	var found *chain.AttemptView
	_ = chain.Attempts(rd, 0, chain.Filter{Attempt: id}, func(a *chain.AttemptView) error {
		found = a
		return nil
	})
	if found == nil {
		writeError(w, newError(http.StatusNotFound, CodeBadRequest, "no attempt %s in this node's audit log", id))
		return
	}
	rec := func(r *chain.Record) any {
		if r == nil {
			return nil
		}
		return struct {
			*chain.Record
			Hash string `json:"hash"`
		}{r, r.Hash}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"begin": rec(found.Begin), "end": rec(found.End), "outcome": found.Outcome()})
}

// handleAuditVerify is GET /v1/audit/verify: the whole chain checked, and
// its head.
func (s *Server) handleAuditVerify(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.mayAudit(w, p) {
		return
	}
	v, err := chain.VerifyFile(s.console.audit.Log, chain.VerifyOptions{Keys: s.console.audit.Keys})
	if err != nil {
		s.log.Error("audit verify failed", "error", err.Error())
		writeError(w, newError(http.StatusInternalServerError, CodeInternal, "the audit log could not be read; the operator's log says why"))
		return
	}
	problems := []map[string]any{}
	for _, pr := range v.Problems {
		problems = append(problems, map[string]any{"seq": pr.Seq, "kind": pr.Kind, "warning": pr.Warning, "message": pr.Msg})
	}
	out := map[string]any{"records": v.Records, "last_seq": v.LastSeq, "last_hash": v.LastHash, "tampered": v.Tampered(),
		"head_authenticated": v.HeadAuthenticated, "problems": problems, "nodes": v.Nodes, "unfinished": v.UnfinishedCount}
	if v.Head != nil {
		out["head"] = map[string]any{"seq": v.Head.Seq, "hash": v.Head.Hash, "time": v.Head.Time, "node": v.Head.Node, "key_id": v.Head.KeyID}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// handleReport is GET /v1/report?period=2026-H1[&download=1]: the sharing
// report's HTML (audit/report), made from the verified logs.
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.mayAudit(w, p) {
		return
	}
	period := r.URL.Query().Get("period")
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		loc = time.FixedZone("ICT", 7*3600)
	}
	from, to, err := report.ParsePeriod(period, loc)
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "period: want 2026-H1, 2026-H2, 2026, 2026-Q1 or 2026-05"))
		return
	}
	rep, err := report.Build(report.Options{Log: s.console.audit.Log, Health: s.console.audit.Health, From: from, To: to, Label: strings.ToUpper(period), Loc: loc, Keys: s.console.audit.Keys})
	if err != nil {
		s.log.Error("report failed", "error", err.Error())
		writeError(w, newError(http.StatusInternalServerError, CodeInternal, "the report could not be made from the audit log; the operator's log says why"))
		return
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		writeError(w, newError(http.StatusInternalServerError, CodeInternal, "the report could not be written"))
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", reportCSP)
	h.Del("X-Frame-Options")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if r.URL.Query().Get("download") == "1" {
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="lienthong-report-%s.html"`, strings.ToUpper(period)))
	}
	_, _ = w.Write(b.Bytes())
}

// handleUptime is GET /v1/health/uptime?hours=24: each source's measured
// uptime over the last hours from the health history (no reasons: those
// are the operator's). Any authenticated principal may ask: /readyz tells
// source names and states to anyone.
func (s *Server) handleUptime(w http.ResponseWriter, r *http.Request, p Principal) {
	hours := 24
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 24*366 {
			writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "hours: want 1 to 8784"))
			return
		}
		hours = n
	}
	out := map[string]any{"hours": hours, "sources": map[string]any{}}
	if s.console.audit.Health != "" {
		now := time.Now()
		win := health.Window{From: now.Add(-time.Duration(hours) * time.Hour), To: now}
		up, _, err := health.Measure(s.console.audit.Health, win)
		if err == nil {
			srcs := map[string]any{}
			for name, us := range up {
				if len(us) == 0 {
					continue
				}
				u := us[0]
				measured := u.Up + u.Down
				entry := map[string]any{"up_seconds": u.Up.Seconds(), "down_seconds": u.Down.Seconds(), "outages": u.Outages, "probes": u.Probes}
				if measured > 0 {
					entry["uptime"] = float64(u.Up) / float64(measured)
				}
				srcs[name] = entry
			}
			out["sources"] = srcs
		}
	}
	writeJSON(w, http.StatusOK, out)
}
