package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"

	"lienthong/policy"
	"lienthong/tokens"
)

// The web console logs in once with a token (or the client certificate
// the browser presents) and from then on carries a session cookie instead:
// the token never reaches a URL, the page's storage or a later request.
// The session lives in this process only (a restart logs everyone out).
// The cookie is HttpOnly (page scripts cannot read it), SameSite=Strict
// (other sites' pages do not send it) and Secure under TLS; every request
// it authenticates that is not GET or HEAD must also carry the session's
// CSRF token in X-Lienthong-CSRF, which only a page of this origin can
// read (GET /v1/session, answered without CORS).

// Console session settings.
const (
	// HeaderCSRF carries a console session's CSRF token.
	HeaderCSRF = "X-Lienthong-CSRF"
	// sessionIdle logs a session out after this long without a request,
	// sessionMax after this long whatever it does.
	sessionIdle = 30 * time.Minute
	sessionMax  = 12 * time.Hour
	// maxSessions bounds the store; past it, expired sessions are dropped,
	// then the oldest.
	maxSessions = 10000
)

// sessionCookie is the cookie's name; under TLS the __Host- prefix makes
// browsers refuse it unless it is Secure, host-only and for path /.
func (s *Server) sessionCookie() string {
	if s.tls != nil {
		return "__Host-lt_session"
	}
	return "lt_session"
}

// consoleSession is one logged-in browser.
type consoleSession struct {
	p    Principal
	csrf string
	// How the principal logged in, to re-check it on every request: the
	// token hash it matched (token login) or the certificate CN.
	tokenHash, certCN string
	created, seen     time.Time
}

// consoleState is the server's console: its sessions and the audit log the
// audit pages read. The zero value is ready.
type consoleState struct {
	mu       sync.Mutex
	sessions map[[32]byte]*consoleSession // by SHA-256 of the cookie value
	now      func() time.Time             // tests move the clock

	audit AuditAccess
}

func (c *consoleState) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for p and returns the cookie value.
func (c *consoleState) create(sess *consoleSession) string {
	id := randomToken()
	now := c.clock()
	sess.csrf, sess.created, sess.seen = randomToken(), now, now
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions == nil {
		c.sessions = map[[32]byte]*consoleSession{}
	}
	if len(c.sessions) >= maxSessions {
		var oldestK [32]byte
		var oldest *consoleSession
		for k, v := range c.sessions {
			if c.expired(v, now) {
				delete(c.sessions, k)
			} else if oldest == nil || v.seen.Before(oldest.seen) {
				oldestK, oldest = k, v
			}
		}
		if len(c.sessions) >= maxSessions {
			delete(c.sessions, oldestK)
		}
	}
	c.sessions[sha256.Sum256([]byte(id))] = sess
	return id
}

func (c *consoleState) expired(sess *consoleSession, now time.Time) bool {
	return now.Sub(sess.seen) >= sessionIdle || now.Sub(sess.created) >= sessionMax
}

// lookup finds the live session of a cookie value and marks it used; an
// expired one is removed.
func (c *consoleState) lookup(id string) (*consoleSession, bool) {
	if id == "" {
		return nil, false
	}
	k := sha256.Sum256([]byte(id))
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	sess, ok := c.sessions[k]
	if !ok {
		return nil, false
	}
	if c.expired(sess, now) {
		delete(c.sessions, k)
		return nil, false
	}
	sess.seen = now
	cp := *sess
	return &cp, true
}

func (c *consoleState) remove(id string) {
	c.mu.Lock()
	delete(c.sessions, sha256.Sum256([]byte(id)))
	c.mu.Unlock()
}

// stillValid re-checks a session's principal against the principals in
// force, as a bearer token is on every request: a principal removed from
// the tokens file, or whose token changed, is logged out.
func (s *Server) stillValid(sess *consoleSession) (Principal, bool) {
	set := s.tokenSet()
	if set == nil {
		return sess.p, true // another authenticator: it decided at login
	}
	if sess.certCN != "" {
		e, ok := set.ByCN(sess.certCN)
		if !ok || e.Name != sess.p.Name {
			return Principal{}, false
		}
		return Principal{Name: e.Name, Agency: e.Agency}, true
	}
	e, ok := set.Lookup(sess.p.Name)
	if !ok || e.TokenHash == "" || e.TokenHash != sess.tokenHash {
		return Principal{}, false
	}
	return Principal{Name: e.Name, Agency: e.Agency}, true
}

// tokenSet is the principals in force, when the authenticator is the
// token one (nil for another authenticator).
func (s *Server) tokenSet() *tokens.Set {
	if s.tokens != nil {
		return s.tokens.Current()
	}
	if ta, ok := s.auth.(*TokenAuthenticator); ok {
		return ta.tokens.Current()
	}
	return nil
}

// authenticate is who an API request acts for: its bearer token or client
// certificate, or else a console session cookie (then, for anything but
// GET and HEAD, with the session's CSRF header).
func (s *Server) authenticate(r *http.Request) (Principal, error) {
	creds := httpCredentials(r)
	if creds.Bearer == "" && creds.BasicPassword == "" && creds.ClientCert != nil && !browserSafe(r) {
		// A browser presents its client certificate to any page's request,
		// like a cookie: a request only it authenticates must come from the
		// node's own origin to change anything (CSRF).
		return Principal{}, &AuthError{Forbidden: true, Msg: "this request is authenticated only by a client certificate and comes from another site's page; send it from the node's console or with a token"}
	}
	if creds.Bearer != "" || creds.BasicPassword != "" || creds.ClientCert != nil {
		return s.auth.Authenticate(r.Context(), creds)
	}
	ck, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return s.auth.Authenticate(r.Context(), creds) // says what is missing
	}
	sess, ok := s.console.lookup(ck.Value)
	if !ok {
		return Principal{}, unauthenticated("the console session has expired or was logged out; log in again")
	}
	p, ok := s.stillValid(sess)
	if !ok {
		s.console.remove(ck.Value)
		return Principal{}, unauthenticated("the console session's principal or token is no longer in force; log in again")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		got := r.Header.Get(HeaderCSRF)
		if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 || !sameOrigin(r) {
			return Principal{}, &AuthError{Forbidden: true, Msg: "this request carries the console's session cookie but not its " + HeaderCSRF + " header (or comes from another origin); the console sends it, other pages cannot"}
		}
	}
	return p, nil
}

// browserSafe: a GET or HEAD (which change nothing), or a request no other
// site's page sent: no foreign Origin, and the browser's Sec-Fetch-Site, when
// it sends one, says same-origin or none (typed by the user). Clients that
// are not browsers send neither header.
func browserSafe(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	return sameOrigin(r)
}

// sameOrigin: a request whose Origin header names another host is refused
// even with the right CSRF token (defence in depth; browsers send Origin
// on every POST).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// sessionJSON is what the console learns about its session.
type sessionJSON struct {
	Principal  string    `json:"principal"`
	Agency     string    `json:"agency"`
	CSRF       string    `json:"csrf"`
	Expires    time.Time `json:"expires"`
	IdleExpiry string    `json:"idle_expiry"`
	// Operations the principal may do besides reading data (policy.OpAudit...).
	Operations []string `json:"operations"`
	// Audit: whether this node has an audit log the audit pages can read.
	Audit bool `json:"audit_log"`
}

func (s *Server) sessionInfo(sess *consoleSession, p Principal) sessionJSON {
	out := sessionJSON{Principal: p.Name, Agency: p.Agency, CSRF: sess.csrf, Expires: sess.created.Add(sessionMax), IdleExpiry: sessionIdle.String(), Operations: []string{}, Audit: s.console.audit.Log != ""}
	if eng := s.engine(); eng != nil {
		for _, op := range policy.Operations {
			if eng.May(p.Name, op) {
				out.Operations = append(out.Operations, op)
			}
		}
	}
	return out
}

// handleLogin is POST /v1/session: {"token": "..."} as application/json,
// or an empty object when the browser presents a client certificate.
// JSON only, so no other site's form can log a browser in.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, `log in with {"token": "..."} as application/json`))
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, CodeBadRequest, `log in with {"token": "..."} as application/json`))
		return
	}
	creds := Credentials{Bearer: req.Token}
	if req.Token == "" {
		creds = httpCredentials(r)
		creds.Bearer, creds.BasicUser, creds.BasicPassword = "", "", ""
	}
	p, aerr := s.auth.Authenticate(r.Context(), creds)
	if aerr != nil {
		s.metrics.add(mAuthFailures, 1, "http")
		e := toError(aerr)
		s.log.Warn("authentication refused", "protocol", "http", "remote", r.RemoteAddr, "path", r.URL.Path, "error_code", e.Code, "reason", e.Message)
		writeError(w, e)
		return
	}
	sess := &consoleSession{p: p}
	if set := s.tokenSet(); set != nil {
		if req.Token != "" {
			e, _ := set.Lookup(p.Name)
			sess.tokenHash = e.TokenHash
		} else if creds.ClientCert != nil {
			sess.certCN = creds.ClientCert.Subject.CommonName
		}
	}
	id := s.console.create(sess)
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: id, Path: "/", HttpOnly: true, Secure: s.tls != nil, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	s.log.Info("console login", "principal", p.Name, "agency", p.Agency, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, s.sessionInfo(sess, p))
}

// handleSession is GET /v1/session: who the cookie's session is (and its
// CSRF token, for a page that was reloaded).
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(s.sessionCookie())
	var sess *consoleSession
	ok := false
	if err == nil {
		sess, ok = s.console.lookup(ck.Value)
	}
	var p Principal
	if ok {
		p, ok = s.stillValid(sess)
	}
	if !ok {
		writeError(w, newError(http.StatusUnauthorized, CodeAuth, "not logged in to the console: POST /v1/session with a token"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.sessionInfo(sess, p))
}

// handleLogout is DELETE /v1/session (with the CSRF header).
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r); err != nil {
		writeError(w, toError(err))
		return
	}
	if ck, err := r.Cookie(s.sessionCookie()); err == nil {
		s.console.remove(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.tls != nil, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}
