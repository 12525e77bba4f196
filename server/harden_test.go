package server

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
)

// TestTLSOnlyAEAD: over TLS 1.2 both ports refuse a client offering only
// CBC suites and accept AEAD ones.
func TestTLSOnlyAEAD(t *testing.T) {
	pki := newPKI(t, "cert-user.cutru.gov.vn")
	ts := startServer(t, nil, func(c *Config) { c.TLSCert, c.TLSKey = pki.certFile, pki.keyFile })
	for _, addr := range []string{strings.TrimPrefix(ts.HTTPURL(), "https://"), ts.FlightAddr()} {
		for _, c := range []struct {
			suite uint16
			ok    bool
		}{
			{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false},
			{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, false},
			{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, false},
			{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true},
			{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true},
		} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.caPool, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{c.suite}, NextProtos: []string{"h2"}})
			if err == nil {
				conn.Close()
			}
			if (err == nil) != c.ok {
				t.Errorf("%s with %s: handshake error %v, want ok=%v", addr, tls.CipherSuiteName(c.suite), err, c.ok)
			}
		}
	}
}

// TestHealthWithoutClientCert: with require_client_cert, /healthz and
// /readyz answer a client without a certificate; everything else needs
// one, on HTTP and Flight.
func TestHealthWithoutClientCert(t *testing.T) {
	pki := newPKI(t, "cert-user.cutru.gov.vn")
	ts := startServer(t, nil, func(c *Config) {
		c.TLSCert, c.TLSKey, c.ClientCA, c.RequireClientCert = pki.certFile, pki.keyFile, pki.caFile, true
	})
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.caPool}}}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := noCert.Get(ts.HTTPURL() + p)
		if err != nil {
			t.Fatalf("%s without a certificate: %v", p, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s without a certificate: %d", p, resp.StatusCode)
		}
	}
	// A token is not enough: the certificate is required.
	e := wantError(t, post(t, noCert, ts.HTTPURL()+"/v1/query", testToken, "SELECT 1 AS x FROM d.small LIMIT 1"), 401, CodeAuth)
	if !strings.Contains(e.Message, "client certificate") {
		t.Fatalf("message: %s", e.Message)
	}
	resp, err := noCert.Get(ts.HTTPURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("/metrics without a certificate: %d", resp.StatusCode)
	}
	cert, _ := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.caPool, Certificates: []tls.Certificate{cert}}}}
	if r := post(t, withCert, ts.HTTPURL()+"/v1/query", "", "SELECT COUNT(*) AS n FROM d.small"); r.status != 200 {
		t.Fatalf("with a certificate: %d %s", r.status, r.body)
	}
	// Flight still requires it in the handshake.
	c := flightClient(t, ts.FlightAddr(), credentials.NewTLS(&tls.Config{RootCAs: pki.caPool}))
	ctx, cancel := context.WithTimeout(withToken(context.Background(), testToken), 5*time.Second)
	defer cancel()
	if _, err := runFlight(ctx, c, "SELECT 1 AS x FROM d.small LIMIT 1"); err == nil {
		t.Fatal("Flight without a client certificate was served")
	}
}

// TestTrailingJSON: data after the request object is refused, naming the
// problem, not ignored.
func TestTrailingJSON(t *testing.T) {
	ts := startServer(t, nil, nil)
	for _, body := range []string{
		`{"sql": "SELECT 1 AS x FROM d.small LIMIT 1"} {"sql": "SELECT pin FROM d.small"}`,
		`{"sql": "SELECT 1 AS x FROM d.small LIMIT 1"}]`,
		`{"sql": "SELECT 1 AS x FROM d.small LIMIT 1"} x`,
	} {
		for _, ep := range []string{"/v1/query", "/v1/explain"} {
			e := wantError(t, post(t, nil, ts.HTTPURL()+ep, testToken, body), 400, CodeBadRequest)
			if !strings.Contains(e.Message, "after") {
				t.Errorf("%s %s: %s", ep, body, e.Message)
			}
		}
	}
	// Trailing white space is fine.
	if r := post(t, nil, ts.HTTPURL()+"/v1/query", testToken, "{\"sql\": \"SELECT 1 AS x FROM d.small LIMIT 1\"}\n\t "); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// TestBusyCounts: LT-BUSY says what was reached, with true counts.
func TestBusyCounts(t *testing.T) {
	l := newLimiter(2, 5, 50*time.Millisecond)
	ctx := context.Background()
	r1, _, _ := l.acquire(ctx)
	r2, _, _ := l.acquire(ctx)
	defer r1()
	defer r2()
	// A queue timeout, with nobody else waiting and a queue far from full.
	_, waited, err := l.acquire(ctx)
	if err == nil {
		t.Fatal("acquired a slot that was taken")
	}
	msg := err.Error()
	if !strings.Contains(msg, "queue_timeout") || !strings.Contains(msg, "2 of 2 slots") || !strings.Contains(msg, "0 other queries waiting") || waited < 50*time.Millisecond {
		t.Fatalf("queue timeout: %s (waited %s)", msg, waited)
	}
	if l.queued() != 0 {
		t.Fatalf("queued %d after the timeout", l.queued())
	}
	// A full queue: refused at once, naming the limits reached.
	full := newLimiter(1, 0, time.Second)
	rf, _, _ := full.acquire(ctx)
	defer rf()
	_, _, err = full.acquire(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 queries running (max_concurrent) and 0 waiting (queue)") {
		t.Fatalf("queue full: %v", err)
	}
}
