package server

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"lienthong/tokens"
)

func TestConsoleSessionExpiry(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	c := &consoleState{now: func() time.Time { return now }}
	id := c.create(&consoleSession{p: Principal{Name: "an"}})
	if len(id) < 40 {
		t.Fatalf("session id %q is too short to be unguessable", id)
	}
	if _, ok := c.lookup(id); !ok {
		t.Fatal("a new session is not found")
	}
	if _, ok := c.lookup(id + "x"); ok {
		t.Fatal("another cookie value finds the session")
	}
	// Used every 20 minutes it stays; after 30 idle minutes it is gone.
	for i := 0; i < 3; i++ {
		now = now.Add(20 * time.Minute)
		if _, ok := c.lookup(id); !ok {
			t.Fatalf("session used every 20 minutes expired after %d uses", i)
		}
	}
	now = now.Add(sessionIdle)
	if _, ok := c.lookup(id); ok {
		t.Fatal("an idle session outlived sessionIdle")
	}
	// However busy, a session ends after sessionMax.
	id = c.create(&consoleSession{p: Principal{Name: "an"}})
	for d := time.Duration(0); d < sessionMax; d += 10 * time.Minute {
		now = now.Add(10 * time.Minute)
		c.lookup(id)
	}
	if _, ok := c.lookup(id); ok {
		t.Fatal("a busy session outlived sessionMax")
	}
	// Logout removes it.
	id = c.create(&consoleSession{p: Principal{Name: "an"}})
	c.remove(id)
	if _, ok := c.lookup(id); ok {
		t.Fatal("a removed session is still found")
	}
	// Two sessions never share an id or a CSRF token.
	a, b := &consoleSession{}, &consoleSession{}
	if c.create(a) == c.create(b) || a.csrf == b.csrf || a.csrf == "" {
		t.Fatal("sessions share an id or a CSRF token")
	}
}

func TestConsoleSessionBounded(t *testing.T) {
	c := &consoleState{}
	var first string
	for i := 0; i < maxSessions+5; i++ {
		id := c.create(&consoleSession{})
		if i == 0 {
			first = id
		}
	}
	if n := len(c.sessions); n > maxSessions {
		t.Fatalf("%d sessions kept, want at most %d", n, maxSessions)
	}
	if _, ok := c.lookup(first); ok {
		t.Fatal("the oldest session survived a full store")
	}
}

// consoleClient logs in over HTTP with a cookie jar, like a browser.
func consoleClient(t *testing.T, base, token string) (*http.Client, sessionJSON) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Post(base+"/v1/session", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("login: %d %s", res.StatusCode, b)
	}
	var info sessionJSON
	if err := json.NewDecoder(res.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "lt_session" {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", ck)
	}
	if strings.Contains(ck.Value, token) {
		t.Fatal("the cookie carries the token")
	}
	return c, info
}

func do(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestConsoleCookieAndCSRF(t *testing.T) {
	ts := startServer(t, nil, nil)
	base := ts.HTTPURL()
	c, info := consoleClient(t, base, testToken)
	if info.Principal != "analyst" || info.CSRF == "" {
		t.Fatalf("session %+v", info)
	}
	// GET needs no CSRF header: the cookie alone reads the catalog.
	if st, body := do(t, c, "GET", base+"/v1/catalog", "", nil); st != 200 {
		t.Fatalf("catalog with the cookie: %d %s", st, body)
	}
	// A POST with the cookie but without the header, or with a wrong one,
	// or from another origin, is refused before any query runs.
	for _, hdr := range []map[string]string{nil, {HeaderCSRF: "wrong"}, {HeaderCSRF: info.CSRF, "Origin": "http://evil.example"}} {
		st, body := do(t, c, "POST", base+"/v1/query", "SELECT 1 AS x", hdr)
		if st != 403 || !strings.Contains(body, CodeForbidden) {
			t.Fatalf("POST /v1/query with the cookie and %v: %d %s, want 403 %s", hdr, st, body, CodeForbidden)
		}
	}
	st, body := do(t, c, "POST", base+"/v1/query", "SELECT 1 AS x", map[string]string{HeaderCSRF: info.CSRF, "Origin": base})
	if st != 200 || !strings.Contains(body, `{"x":1}`) {
		t.Fatalf("POST /v1/query with cookie and CSRF header: %d %s", st, body)
	}
	// GET /v1/session tells a reloaded page its CSRF token again.
	st, body = do(t, c, "GET", base+"/v1/session", "", nil)
	if st != 200 || !strings.Contains(body, info.CSRF) {
		t.Fatalf("GET /v1/session: %d %s", st, body)
	}
	// A bearer token needs no CSRF header (it is not sent by browsers on
	// their own).
	st, _ = do(t, http.DefaultClient, "POST", base+"/v1/query", "SELECT 1 AS x", map[string]string{"Authorization": "Bearer " + testToken})
	if st != 200 {
		t.Fatalf("bearer token: %d", st)
	}
	// Logout needs the header too, then the cookie is worth nothing.
	if st, _ := do(t, c, "DELETE", base+"/v1/session", "", nil); st != 403 {
		t.Fatalf("logout without CSRF header: %d, want 403", st)
	}
	if st, _ := do(t, c, "DELETE", base+"/v1/session", "", map[string]string{HeaderCSRF: info.CSRF}); st != 204 {
		t.Fatalf("logout: %d", st)
	}
	if st, _ := do(t, c, "GET", base+"/v1/catalog", "", nil); st != 401 {
		t.Fatalf("catalog after logout: %d, want 401", st)
	}
}

func TestConsoleLogin(t *testing.T) {
	ts := startServer(t, nil, nil)
	base := ts.HTTPURL()
	for _, tc := range []struct{ ct, body string }{
		{"application/json", `{"token":"lt_wrong-token-0123456789abcdef"}`},
		{"text/plain", `{"token":"` + testToken + `"}`}, // a form of another site could send this
		{"application/x-www-form-urlencoded", "token=" + testToken},
	} {
		res, err := http.Post(base+"/v1/session", tc.ct, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 200 || len(res.Cookies()) > 0 {
			t.Fatalf("login with %s %s: %d and cookies %v, want a refusal without a cookie", tc.ct, tc.body, res.StatusCode, res.Cookies())
		}
	}
}

// A principal revoked (or whose token changed) after logging in loses the
// session at its next request, as a bearer token would.
func TestConsoleSessionRevoked(t *testing.T) {
	ts := startServer(t, nil, nil)
	base := ts.HTTPURL()
	c, _ := consoleClient(t, base, testToken)
	if st, _ := do(t, c, "GET", base+"/v1/catalog", "", nil); st != 200 {
		t.Fatalf("catalog: %d", st)
	}
	cmd, err := tokens.RevokeCommand(time.Now(), "analyst")
	if err == nil {
		_, err = ts.auth.tokens.Apply(cmd)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st, body := do(t, c, "GET", base+"/v1/catalog", "", nil); st != 401 {
		t.Fatalf("catalog after revocation: %d %s, want 401", st, body)
	}
}

func TestConsoleHeadersAndAssets(t *testing.T) {
	ts := startServer(t, nil, nil)
	base := ts.HTTPURL()
	for _, path := range []string{"/", "/console/app.js", "/console/style.css", "/v1/catalog"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		h := res.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
		if path != "/v1/catalog" && (res.StatusCode != 200 || len(b) == 0) {
			t.Errorf("%s: %d, %d bytes", path, res.StatusCode, len(b))
		}
		if path == "/" && (strings.Contains(string(b), "<script>") || strings.Contains(string(b), " style=") || strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://")) {
			t.Errorf("index.html has an inline script or style, or names another origin")
		}
	}
	if res, err := http.Get(base + "/console/nothing.js"); err != nil || res.StatusCode != 404 {
		t.Errorf("a missing asset: %v %v", res, err)
	}
}

func TestAuditEndpointsWithoutLog(t *testing.T) {
	ts := startServer(t, nil, nil)
	st, body := do(t, http.DefaultClient, "GET", ts.HTTPURL()+"/v1/audit", "", map[string]string{"Authorization": "Bearer " + testToken})
	if st != 400 || !strings.Contains(body, "no audit log") {
		t.Fatalf("GET /v1/audit on a node without a log: %d %s", st, body)
	}
	st, _ = do(t, http.DefaultClient, "GET", ts.HTTPURL()+"/v1/audit", "", nil)
	if st != 401 {
		t.Fatalf("GET /v1/audit without credentials: %d", st)
	}
}

// Under TLS the cookie is Secure and __Host- prefixed; a browser's client
// certificate logs in without a token, and the session then follows the
// certificate's principal.
func TestConsoleLoginTLS(t *testing.T) {
	pki := newPKI(t, "cert-user.cutru.gov.vn")
	ts := startServer(t, nil, func(c *Config) { c.TLSCert, c.TLSKey, c.ClientCA = pki.certFile, pki.keyFile, pki.caFile })
	cert, _ := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	for _, tc := range []struct {
		name, body, principal string
		certs                 []tls.Certificate
	}{{"token", `{"token":"` + testToken + `"}`, "analyst", nil}, {"certificate", `{}`, "cert-user", []tls.Certificate{cert}}} {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.caPool, Certificates: tc.certs}}}
		res, err := c.Post(ts.HTTPURL()+"/v1/session", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var info sessionJSON
		_ = json.NewDecoder(res.Body).Decode(&info)
		res.Body.Close()
		cks := res.Cookies()
		if res.StatusCode != 200 || info.Principal != tc.principal || len(cks) != 1 || cks[0].Name != "__Host-lt_session" || !cks[0].Secure || !cks[0].HttpOnly {
			t.Fatalf("%s login over TLS: %d %+v %v", tc.name, res.StatusCode, info, cks)
		}
	}
	// A request only the certificate authenticates, sent by another
	// site's page (the browser presents the certificate anyway), changes
	// nothing; from the node's own origin or a non-browser client it runs.
	cc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.caPool, Certificates: []tls.Certificate{cert}}}}
	for _, h := range []struct {
		name, value string
		want        int
	}{{"Origin", "https://evil.example", 403}, {"Sec-Fetch-Site", "cross-site", 403}, {"Sec-Fetch-Site", "same-site", 403}, {"Sec-Fetch-Site", "same-origin", 200}, {"", "", 200}} {
		req, _ := http.NewRequest("POST", ts.HTTPURL()+"/v1/query", strings.NewReader("SELECT 1"))
		req.Header.Set("Content-Type", "text/plain")
		if h.name != "" {
			req.Header.Set(h.name, h.value)
		}
		res, err := cc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != h.want {
			t.Errorf("certificate-only POST with %s %q: %d, want %d", h.name, h.value, res.StatusCode, h.want)
		}
	}
	// Without a token or a certificate there is nobody to log in.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.caPool}}}
	res, err := c.Post(ts.HTTPURL()+"/v1/session", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || len(res.Cookies()) > 0 {
		t.Fatalf("login with nothing: %d %v", res.StatusCode, res.Cookies())
	}
}
