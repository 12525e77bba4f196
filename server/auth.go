package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"lienthong/tokens"
)

// Principal is who a request acts for.
type Principal struct {
	Name   string // user or service account
	Agency string // the agency it acts for
}

// Credentials are what one request presented.
type Credentials struct {
	// Bearer is the token of an "Authorization: Bearer" header.
	Bearer string
	// BasicUser and BasicPassword come from "Authorization: Basic" (Flight
	// SQL JDBC and ODBC drivers send user and password this way); the
	// password is the principal's token and the user must be its name.
	BasicUser, BasicPassword string
	// ClientCert is the leaf of a chain verified against client_ca.
	ClientCert *x509.Certificate
}

// Authenticator decides who a request is; front-ends only see this
// interface.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials) (Principal, error)
}

// AuthError is an authentication failure; Forbidden distinguishes "known
// credentials, not allowed" (403) from "missing or wrong" (401).
type AuthError struct {
	Forbidden bool
	Msg       string
}

func (e *AuthError) Error() string { return e.Msg }

// TokenAuthenticator checks bearer tokens against the argon2id hashes of
// the principals in force (a tokens.Machine, read on every request) and
// maps client certificate CNs to principals. Verified tokens are cached
// (keyed by SHA-256 of the token) for the configured TTL, but a cached
// verification counts only while the principal it found is still in force
// with the same hash: a revoked or replaced token is refused on the next
// request. A wrong token is remembered as wrong briefly, and only while
// the principals stay as they were. Concurrent requests with the same
// unknown token wait for one verification; at most GOMAXPROCS argon2
// computations run at once.
type TokenAuthenticator struct {
	tokens *tokens.Machine
	ttl    time.Duration
	sem    chan struct{}

	mu       sync.Mutex
	cache    map[[32]byte]cached
	inflight map[[32]byte]*verifyCall

	// Verifications counts argon2 runs (for tests and metrics).
	verifications atomicCounter
}

// cached is one verification: the principal found (name and the hash that
// matched), or none against set.
type cached struct {
	ok         bool
	name, hash string
	set        *tokens.Set
	expires    time.Time
}

type verifyCall struct {
	done chan struct{}
	res  cached
}

// negativeTTL is how long a wrong token is remembered as wrong.
const negativeTTL = 10 * time.Second

// maxCacheEntries bounds the cache; past it, expired entries are dropped
// and, if still full, everything.
const maxCacheEntries = 10000

// NewTokenAuthenticator authenticates against the principals in force in m.
func NewTokenAuthenticator(m *tokens.Machine, ttl time.Duration) *TokenAuthenticator {
	if ttl <= 0 {
		ttl = DefaultAuthCacheTTL
	}
	return &TokenAuthenticator{tokens: m, ttl: ttl, sem: make(chan struct{}, runtime.GOMAXPROCS(0)), cache: map[[32]byte]cached{}, inflight: map[[32]byte]*verifyCall{}}
}

func unauthenticated(msg string) error { return &AuthError{Msg: msg} }

// Authenticate implements Authenticator.
func (a *TokenAuthenticator) Authenticate(ctx context.Context, c Credentials) (Principal, error) {
	token, user := c.Bearer, ""
	if token == "" && c.BasicPassword != "" {
		token, user = c.BasicPassword, c.BasicUser
	}
	if token != "" {
		p, ok, err := a.verify(ctx, token)
		if err != nil {
			return Principal{}, err
		}
		if !ok || (user != "" && user != p.Name) {
			return Principal{}, unauthenticated("invalid token")
		}
		return p, nil
	}
	if c.ClientCert != nil {
		cn := c.ClientCert.Subject.CommonName
		if e, ok := a.tokens.Current().ByCN(cn); ok {
			return Principal{Name: e.Name, Agency: e.Agency}, nil
		}
		return Principal{}, &AuthError{Forbidden: true, Msg: fmt.Sprintf("client certificate CN %q names no principal", cn)}
	}
	return Principal{}, unauthenticated("missing credentials: send Authorization: Bearer <token> (or a client certificate)")
}

// in says what a verification means against the set in force: the
// principal (ok), a refusal (!ok), or nothing (valid false: the set
// changed under it, verify again).
func (c cached) in(set *tokens.Set) (p Principal, ok, valid bool) {
	if !c.ok {
		return Principal{}, false, c.set == set
	}
	e, found := set.Lookup(c.name)
	if !found || e.TokenHash != c.hash {
		return Principal{}, false, false
	}
	return Principal{Name: e.Name, Agency: e.Agency}, true, true
}

func (a *TokenAuthenticator) verify(ctx context.Context, token string) (Principal, bool, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	a.mu.Lock()
	if c, hit := a.cache[key]; hit && now.Before(c.expires) {
		if p, ok, valid := c.in(a.tokens.Current()); valid {
			a.mu.Unlock()
			return p, ok, nil
		}
	}
	if call := a.inflight[key]; call != nil {
		a.mu.Unlock()
		select {
		case <-call.done:
			// A verification against principals since changed refuses.
			p, ok, _ := call.res.in(a.tokens.Current())
			return p, ok, nil
		case <-ctx.Done():
			return Principal{}, false, ctx.Err()
		}
	}
	call := &verifyCall{done: make(chan struct{})}
	a.inflight[key] = call
	a.mu.Unlock()

	// The leader verifies even if its own caller gives up, so waiters get
	// an answer.
	set := a.tokens.Current()
	a.sem <- struct{}{}
	e, ok, runs := set.Verify(token)
	<-a.sem
	a.verifications.add(int64(runs))
	call.res = cached{ok: ok, name: e.Name, hash: e.TokenHash, set: set}

	ttl := a.ttl
	if !ok {
		ttl = negativeTTL
	}
	call.res.expires = time.Now().Add(ttl)
	a.mu.Lock()
	if len(a.cache) >= maxCacheEntries {
		for k, c := range a.cache {
			if now.After(c.expires) {
				delete(a.cache, k)
			}
		}
		if len(a.cache) >= maxCacheEntries {
			clear(a.cache)
		}
	}
	a.cache[key] = call.res
	delete(a.inflight, key)
	a.mu.Unlock()
	close(call.done)
	p, ok, _ := call.res.in(a.tokens.Current())
	return p, ok, nil
}

// Verifications is how many argon2 computations ran.
func (a *TokenAuthenticator) Verifications() int64 { return a.verifications.load() }

// parseAuthorization splits an Authorization header value.
func parseAuthorization(v string, c *Credentials) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		c.Bearer = rest
	case "basic":
		if b, err := decodeBase64(rest); err == nil {
			c.BasicUser, c.BasicPassword, _ = strings.Cut(string(b), ":")
		}
	}
}

// errors.Is support for callers that only need the class.
var errAuth = errors.New("authentication failed")

func (e *AuthError) Unwrap() error { return errAuth }
