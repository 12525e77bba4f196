package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
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

// Authenticator decides who a request is. The access-policy work will move
// principals into the replicated policy; front-ends only see this interface.
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

// PrincipalEntry is one [[principals]] entry of the tokens file.
type PrincipalEntry struct {
	Name   string `toml:"name"`
	Agency string `toml:"agency"`
	// TokenHash is an argon2id hash (lienthong token hash); empty for a
	// principal that only authenticates with a client certificate.
	TokenHash string `toml:"token_hash"`
	// CertCN is the client certificate subject CN naming this principal;
	// default: the principal's name.
	CertCN string `toml:"cert_cn"`
}

// TokenAuthenticator checks bearer tokens against argon2id hashes and maps
// client certificate CNs to principals. Verified tokens are cached (keyed
// by SHA-256 of the token) for the configured TTL; concurrent requests with
// the same unknown token wait for one verification; failures are cached
// briefly; at most GOMAXPROCS argon2 computations run at once.
type TokenAuthenticator struct {
	entries []tokenEntry
	ttl     time.Duration
	sem     chan struct{}

	mu       sync.Mutex
	cache    map[[32]byte]cached
	inflight map[[32]byte]*verifyCall

	// Verifications counts argon2 runs (for tests and metrics).
	verifications atomicCounter
}

type tokenEntry struct {
	p    Principal
	hash *argonHash
	cn   string
}

type cached struct {
	p       Principal
	ok      bool
	expires time.Time
}

type verifyCall struct {
	done chan struct{}
	p    Principal
	ok   bool
}

// negativeTTL is how long a wrong token is remembered as wrong.
const negativeTTL = 10 * time.Second

// maxCacheEntries bounds the cache; past it, expired entries are dropped
// and, if still full, everything.
const maxCacheEntries = 10000

// LoadTokens reads a tokens file.
func LoadTokens(path string, ttl time.Duration) (*TokenAuthenticator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	var f struct {
		Principals []PrincipalEntry `toml:"principals"`
	}
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("tokens file %s: unknown setting %q (want [[principals]] with name, agency, token_hash, cert_cn)", path, und[0].String())
	}
	a, err := NewTokenAuthenticator(f.Principals, ttl)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return a, nil
}

// NewTokenAuthenticator checks entries and builds the authenticator.
func NewTokenAuthenticator(entries []PrincipalEntry, ttl time.Duration) (*TokenAuthenticator, error) {
	if ttl <= 0 {
		ttl = DefaultAuthCacheTTL
	}
	a := &TokenAuthenticator{ttl: ttl, sem: make(chan struct{}, runtime.GOMAXPROCS(0)), cache: map[[32]byte]cached{}, inflight: map[[32]byte]*verifyCall{}}
	names, cns := map[string]bool{}, map[string]bool{}
	for i, e := range entries {
		if e.Name == "" {
			return nil, fmt.Errorf("principal %d: missing name", i+1)
		}
		if names[e.Name] {
			return nil, fmt.Errorf("principal %q listed twice", e.Name)
		}
		names[e.Name] = true
		if e.Agency == "" {
			return nil, fmt.Errorf("principal %q: missing agency", e.Name)
		}
		te := tokenEntry{p: Principal{Name: e.Name, Agency: e.Agency}, cn: e.CertCN}
		if te.cn == "" {
			te.cn = e.Name
		}
		if cns[te.cn] {
			return nil, fmt.Errorf("principal %q: certificate CN %q already names another principal", e.Name, te.cn)
		}
		cns[te.cn] = true
		if e.TokenHash != "" {
			h, err := parseArgonHash(e.TokenHash)
			if err != nil {
				return nil, fmt.Errorf("principal %q: token_hash: %w", e.Name, err)
			}
			te.hash = h
		}
		a.entries = append(a.entries, te)
	}
	return a, nil
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
		for _, e := range a.entries {
			if e.cn == cn {
				return e.p, nil
			}
		}
		return Principal{}, &AuthError{Forbidden: true, Msg: fmt.Sprintf("client certificate CN %q names no principal", cn)}
	}
	return Principal{}, unauthenticated("missing credentials: send Authorization: Bearer <token> (or a client certificate)")
}

func (a *TokenAuthenticator) verify(ctx context.Context, token string) (Principal, bool, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	a.mu.Lock()
	if c, hit := a.cache[key]; hit && now.Before(c.expires) {
		a.mu.Unlock()
		return c.p, c.ok, nil
	}
	if call := a.inflight[key]; call != nil {
		a.mu.Unlock()
		select {
		case <-call.done:
			return call.p, call.ok, nil
		case <-ctx.Done():
			return Principal{}, false, ctx.Err()
		}
	}
	call := &verifyCall{done: make(chan struct{})}
	a.inflight[key] = call
	a.mu.Unlock()

	// The leader verifies even if its own caller gives up, so waiters get
	// an answer.
	a.sem <- struct{}{}
	for _, e := range a.entries {
		if e.hash == nil {
			continue
		}
		a.verifications.add(1)
		if e.hash.verify(token) {
			call.p, call.ok = e.p, true
			break
		}
	}
	<-a.sem

	ttl := a.ttl
	if !call.ok {
		ttl = negativeTTL
	}
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
	a.cache[key] = cached{p: call.p, ok: call.ok, expires: time.Now().Add(ttl)}
	delete(a.inflight, key)
	a.mu.Unlock()
	close(call.done)
	return call.p, call.ok, nil
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
