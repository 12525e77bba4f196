package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"lienthong/config"
	"lienthong/engine"
	"lienthong/policy"
	"lienthong/state"
	"lienthong/tokens"
)

// The operator API: cluster membership, the policy in force and the
// principals' tokens. Every call is authenticated; under a policy the
// principal needs a role with the call's operation (policy.OpCluster,
// OpPolicy, OpTokens); without one any authenticated principal may. A
// change is proposed to the node's store, so on a cluster any node takes
// it and it is forwarded to the leader and applied on every node.
func (s *Server) operatorRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/cluster", s.operator(policy.OpCluster, s.handleClusterStatus))
	mux.Handle("POST /v1/cluster/join", s.operator(policy.OpCluster, s.handleClusterJoin))
	mux.Handle("POST /v1/cluster/remove", s.operator(policy.OpCluster, s.handleClusterRemove))
	mux.Handle("GET /v1/policy", s.operator(policy.OpPolicy, s.handlePolicyShow))
	mux.Handle("POST /v1/policy", s.operator(policy.OpPolicy, s.handlePolicyApply))
	mux.Handle("POST /v1/tokens", s.operator(policy.OpTokens, s.handleTokens))
	mux.Handle("GET /v1/sources", s.operator(policy.OpSources, s.handleSourcesShow))
	mux.Handle("POST /v1/sources", s.operator(policy.OpSources, s.handleSourcesChange))
}

// operator authenticates, then checks op under the policy in force.
func (s *Server) operator(op string, h func(http.ResponseWriter, *http.Request, Principal)) http.Handler {
	return s.authenticated(func(w http.ResponseWriter, r *http.Request, p Principal) {
		eng := s.engine()
		if eng == nil {
			writeError(w, newError(http.StatusServiceUnavailable, CodeNotReady, "the node is starting; retry in a moment"))
			return
		}
		if !eng.May(p.Name, op) {
			s.log.Warn("operation refused", "principal", p.Name, "operation", op, "path", r.URL.Path)
			writeError(w, newError(http.StatusForbidden, CodeForbidden, "%s may not do %q operations: the policy in force gives none of its roles operations = [%q]", p.Name, op, op))
			return
		}
		s.log.Info("operation", "principal", p.Name, "operation", op, "method", r.Method, "path", r.URL.Path)
		h(w, r, p)
	})
}

// opError is what an operator call's failure tells the client: no quorum
// as the registry's LT-NO-QUORUM, a refused change (a policy file's error
// with its line, a node that did not prove itself) as LT-BAD-REQUEST.
// Operators' inputs and the cluster's addresses, never citizen data.
func opError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, state.ErrNoQuorum) {
		return &Error{Code: CodeNoQuorum, Message: strings.TrimPrefix(err.Error(), CodeNoQuorum+": "), cause: err}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Code: CodeCancelled, Message: "the call was cancelled or ran out of time", cause: err}
	}
	out := &Error{Code: CodeBadRequest, Message: err.Error(), cause: err}
	var pe *policy.Error
	var ce *config.Error
	switch {
	case errors.As(err, &pe):
		out.Line = pe.Line
	case errors.As(err, &ce):
		out.Line = ce.Line
	}
	return out
}

// CodeNoQuorum: a change (or an audited query) was not committed because
// this node cannot reach a majority (503).
const CodeNoQuorum = "LT-NO-QUORUM"

func (s *Server) needCluster(w http.ResponseWriter) bool {
	if s.cluster == nil {
		writeError(w, newError(http.StatusNotFound, CodeBadRequest, "this node is not in a cluster (its config has no [cluster] table; see docs/cluster.md)"))
		return false
	}
	return true
}

func (s *Server) handleClusterStatus(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.needCluster(w) {
		return
	}
	st, err := s.cluster.Status(r.Context())
	if err != nil {
		writeError(w, opError(err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// readBody decodes a small JSON request body into v, refusing unknown
// fields.
func readBody(w http.ResponseWriter, r *http.Request, v any) *Error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return newError(http.StatusBadRequest, CodeBadRequest, "request body: %v (see docs/cluster.md for the operator API)", err)
	}
	return nil
}

func (s *Server) handleClusterJoin(w http.ResponseWriter, r *http.Request, _ Principal) {
	s.membership(w, r, "addr", "joined", `join needs {"addr": "HOST:PORT"}, the cluster address of the node to add`,
		func(ctx context.Context, addr string) error { return s.cluster.Join(ctx, addr) })
}

func (s *Server) handleClusterRemove(w http.ResponseWriter, r *http.Request, _ Principal) {
	s.membership(w, r, "id", "removed", `remove needs {"id": "NODE"}, the id of the node to take out`,
		func(ctx context.Context, id string) error { return s.cluster.Remove(ctx, id) })
}

// membership reads {field: value} and makes the change (change is called
// only once the node is known to be in a cluster), answering
// {done: value}; usage says what a request without the field lacks.
func (s *Server) membership(w http.ResponseWriter, r *http.Request, field, done, usage string, change func(context.Context, string) error) {
	if !s.needCluster(w) {
		return
	}
	var req map[string]string
	if e := readBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	for k := range req {
		if k != field {
			writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "request body: unknown field %q; %s", k, usage))
			return
		}
	}
	v := req[field]
	if v == "" {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "%s", usage))
		return
	}
	if err := change(r.Context(), v); err != nil {
		writeError(w, opError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{done: v})
}

// PolicyJSON is the body of GET /v1/policy and POST /v1/policy: a whole
// policy file. File names it (errors cite it with their line).
type PolicyJSON struct {
	File string `json:"file"`
	Text string `json:"text"`
}

func (s *Server) handlePolicyShow(w http.ResponseWriter, r *http.Request, _ Principal) {
	path, text, _ := s.engine().PolicyInForce()
	if path != "" {
		path = filepath.Base(path)
	}
	writeJSON(w, http.StatusOK, PolicyJSON{File: path, Text: text})
}

func (s *Server) handlePolicyApply(w http.ResponseWriter, r *http.Request, _ Principal) {
	var req PolicyJSON
	if e := readBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, `apply needs {"file": "policy.toml", "text": "..."}: a whole policy file`))
		return
	}
	name := filepath.Base(req.File)
	if name == "." || name == "/" {
		name = "policy.toml"
	}
	if err := s.engine().ApplyPolicy(r.Context(), name, []byte(req.Text)); err != nil {
		writeError(w, opError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "in force"})
}

// TokensJSON is the body of POST /v1/tokens: add (or replace) one
// principal, or revoke one. Only argon2id hashes travel, never a token.
type TokensJSON struct {
	Put    *tokens.Entry `json:"put,omitempty"`
	Revoke string        `json:"revoke,omitempty"`
}

func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request, _ Principal) {
	var req TokensJSON
	if e := readBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if s.tokens == nil {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "this node's principals do not come from a tokens file"))
		return
	}
	var cmd state.Command
	var err error
	switch {
	case req.Put != nil && req.Revoke == "":
		cmd, err = tokens.PutCommand(time.Now(), *req.Put)
	case req.Put == nil && req.Revoke != "":
		cmd, err = tokens.RevokeCommand(time.Now(), req.Revoke)
	default:
		err = fmt.Errorf(`want {"put": {"name", "agency", "token_hash", "cert_cn"}} or {"revoke": "NAME"}`)
	}
	if err == nil {
		_, err = s.state.Propose(r.Context(), cmd)
	}
	if err != nil {
		writeError(w, opError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"principals": len(s.tokens.Current().Entries())})
}

// SourcesJSON is the answer of GET /v1/sources: the sources in force as
// a sources file (docs/cluster.md).
type SourcesJSON struct {
	File string `json:"file"`
	Text string `json:"text"`
}

// SourcesChangeJSON is the body of POST /v1/sources: exactly one of add
// and replace (a sources file: one or more [[sources]] tables, each new
// or each in force) or remove (names in force). A change applies whole
// or not at all.
type SourcesChangeJSON struct {
	Add     *SourcesJSON `json:"add,omitempty"`
	Replace *SourcesJSON `json:"replace,omitempty"`
	Remove  []string     `json:"remove,omitempty"`
}

func (s *Server) handleSourcesShow(w http.ResponseWriter, r *http.Request, _ Principal) {
	srcs := s.engine().SourcesInForce()
	for i := range srcs {
		srcs[i] = srcs[i].Redacted()
	}
	writeJSON(w, http.StatusOK, SourcesJSON{File: "sources.toml", Text: config.FormatSources(srcs)})
}

func (s *Server) handleSourcesChange(w http.ResponseWriter, r *http.Request, _ Principal) {
	const usage = `want one of {"add": {"file", "text"}}, {"replace": {"file", "text"}} (a sources file of [[sources]] tables) or {"remove": ["NAME", ...]}`
	var req SourcesChangeJSON
	if e := readBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	op, file, given := "", (*SourcesJSON)(nil), 0
	if req.Add != nil {
		op, file, given = engine.OpSourcesAdd, req.Add, given+1
	}
	if req.Replace != nil {
		op, file, given = engine.OpSourcesReplace, req.Replace, given+1
	}
	if len(req.Remove) > 0 {
		op, given = engine.OpSourcesRemove, given+1
	}
	if given != 1 {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, "%s", usage))
		return
	}
	var srcs []config.Source
	if file != nil {
		name := filepath.Base(file.File)
		if name == "." || name == "/" {
			name = "sources.toml"
		}
		var err error
		if srcs, err = config.ParseSources(name, []byte(file.Text)); err != nil {
			writeError(w, opError(err))
			return
		}
	}
	if err := s.engine().ChangeSources(r.Context(), op, srcs, req.Remove); err != nil {
		writeError(w, opError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "in force"})
}
