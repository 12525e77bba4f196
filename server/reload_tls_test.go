package server

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/credentials"

	"lienthong/internal/testpki"
)

// seen records the common name of the leaf each handshake of a client
// verified.
type seen struct {
	mu  sync.Mutex
	cns []string
}

func (s *seen) config(roots *testpki.CA, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: roots.Pool, Certificates: certs, VerifyConnection: func(cs tls.ConnectionState) error {
		s.mu.Lock()
		s.cns = append(s.cns, cs.PeerCertificates[0].Subject.CommonName)
		s.mu.Unlock()
		return nil
	}}
}

func (s *seen) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cns) == 0 {
		return ""
	}
	return s.cns[len(s.cns)-1]
}

// writeFile replaces path's contents the way an operator's tooling does:
// a new file renamed over the old one.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// servedOver is the common name of the certificate the server presents on
// a new connection to its HTTPS port (a real request) and to its Flight
// port (a real query); both must agree.
func servedOver(t *testing.T, ts *testServer, ca *testpki.CA) string {
	t.Helper()
	var h, f seen
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: h.config(ca), ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	if r := post(t, client, ts.HTTPURL()+"/v1/query", testToken, "SELECT 1 AS x FROM d.small LIMIT 1"); r.status != 200 {
		t.Fatalf("https: %d %s", r.status, r.body)
	}
	c := flightClient(t, ts.FlightAddr(), credentials.NewTLS(f.config(ca)))
	if rows, err := runFlight(withToken(context.Background(), testToken), c, "SELECT COUNT(*) FROM d.small"); err != nil || len(rows) != 1 {
		t.Fatalf("flight: %v %v", rows, err)
	}
	if h.last() != f.last() {
		t.Fatalf("https served %q, flight %q", h.last(), f.last())
	}
	return h.last()
}

// TestReloadTLSServesTheNewCertificate: after tls_cert and tls_key are
// replaced and ReloadTLS, a new connection on either port gets the new
// certificate while a connection opened before keeps the old one; a
// garbage certificate, a key of another certificate, a missing file or an
// empty client_ca are refused with the file named, and the certificate in
// force stays.
func TestReloadTLSServesTheNewCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "lienthong test CA")
	a := ca.Write(t, dir, "server", ca.Issue(t, "server-a"))
	ts := startServer(t, nil, func(c *Config) { c.TLSCert, c.TLSKey, c.ClientCA = a.Cert, a.Key, a.CA })
	if got := servedOver(t, ts, ca); got != "server-a" {
		t.Fatalf("served %q, want server-a", got)
	}
	// A connection kept open across the reload.
	var old seen
	kept := &http.Client{Transport: &http.Transport{TLSClientConfig: old.config(ca), ForceAttemptHTTP2: true}}
	defer kept.CloseIdleConnections()
	if r := post(t, kept, ts.HTTPURL()+"/v1/query", testToken, "SELECT 1 AS x FROM d.small LIMIT 1"); r.status != 200 {
		t.Fatal(r.status)
	}

	b := ca.Issue(t, "server-b")
	writeFile(t, a.Cert, b.CertPEM)
	writeFile(t, a.Key, b.KeyPEM)
	if got := servedOver(t, ts, ca); got != "server-a" {
		t.Fatalf("before ReloadTLS: served %q, want server-a still", got)
	}
	if err := ts.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := servedOver(t, ts, ca); got != "server-b" {
		t.Fatalf("after ReloadTLS: served %q, want server-b", got)
	}
	resp, err := kept.Get(ts.HTTPURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "server-a" || len(old.cns) != 1 {
		t.Fatalf("the connection opened before the reload: %q after %d handshakes", cn, len(old.cns))
	}

	other := ca.Issue(t, "server-c")
	for _, c := range []struct {
		what, file string
		b          []byte
		want       string // in the error
	}{
		{"garbage certificate", a.Cert, []byte("not a certificate\n"), "server.tls_cert " + a.Cert},
		{"key of another certificate", a.Key, other.KeyPEM, "server.tls_key " + a.Key},
		{"garbage key", a.Key, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), a.Key},
		{"missing certificate", a.Cert, nil, a.Cert},
		{"client_ca without a certificate", a.CA, []byte("# empty\n"), "server.client_ca " + a.CA},
	} {
		saved := map[string][]byte{}
		for _, p := range []string{a.Cert, a.Key, a.CA} {
			saved[p], _ = os.ReadFile(p)
		}
		if c.b == nil {
			os.Remove(c.file)
		} else {
			writeFile(t, c.file, c.b)
		}
		err := ts.ReloadTLS()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: ReloadTLS error %v, want one naming %q", c.what, err, c.want)
		}
		if strings.Contains(err.Error(), "PRIVATE KEY-----") || strings.Contains(err.Error(), string(b.KeyPEM[30:60])) {
			t.Fatalf("%s: the error shows key material: %v", c.what, err)
		}
		if got := servedOver(t, ts, ca); got != "server-b" {
			t.Fatalf("%s refused: served %q, want server-b still", c.what, got)
		}
		for p, b := range saved {
			writeFile(t, p, b)
		}
	}
	// The files fixed: a reload puts a third certificate in force.
	writeFile(t, a.Cert, other.CertPEM)
	writeFile(t, a.Key, other.KeyPEM)
	if err := ts.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := servedOver(t, ts, ca); got != "server-c" {
		t.Fatalf("served %q, want server-c", got)
	}
}

// TestReloadTLSClientCA: with require_client_cert, a client certificate
// from a second CA is refused (HTTP 401 past /healthz, no Flight
// handshake) until client_ca becomes a bundle of both CAs and ReloadTLS;
// then it authenticates on both ports, and one from the first CA still
// does. Back to the first CA only, the second CA's is refused again.
func TestReloadTLSClientCA(t *testing.T) {
	dir := t.TempDir()
	ca1, ca2 := testpki.NewCA(t, "CA1"), testpki.NewCA(t, "CA2")
	f := ca1.Write(t, dir, "server", ca1.Issue(t, "server"))
	ts := startServer(t, nil, func(c *Config) {
		c.TLSCert, c.TLSKey, c.ClientCA, c.RequireClientCert = f.Cert, f.Key, f.CA, true
	})
	cert1, cert2 := ca1.Issue(t, "cert-user.cutru.gov.vn").TLS, ca2.Issue(t, "cert-user.cutru.gov.vn").TLS

	accepted := func(cert tls.Certificate) (httpOK, flightOK bool) {
		t.Helper()
		var s seen
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.config(ca1, cert)}}
		defer client.CloseIdleConnections()
		r := post(t, client, ts.HTTPURL()+"/v1/query", "", "SELECT COUNT(*) AS n FROM d.small")
		switch r.status {
		case 200:
			httpOK = true
		case 401:
		default:
			t.Fatalf("https: %d %s", r.status, r.body)
		}
		c := flightClient(t, ts.FlightAddr(), credentials.NewTLS(s.config(ca1, cert)))
		_, err := runFlight(context.Background(), c, "SELECT COUNT(*) FROM d.small")
		return httpOK, err == nil
	}
	want := func(what string, cert tls.Certificate, ok bool) {
		t.Helper()
		h, fl := accepted(cert)
		if h != ok || fl != ok {
			t.Fatalf("%s: accepted over https %v, flight %v; want %v", what, h, fl, ok)
		}
	}
	want("CA1's client certificate", cert1, true)
	want("CA2's client certificate before the bundle", cert2, false)

	bundle := append(append([]byte{}, ca1.PEM...), ca2.PEM...)
	writeFile(t, f.CA, bundle)
	want("CA2's client certificate before ReloadTLS", cert2, false)
	if err := ts.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	want("CA2's client certificate after ReloadTLS", cert2, true)
	want("CA1's client certificate after ReloadTLS", cert1, true)

	writeFile(t, f.CA, ca2.PEM)
	if err := ts.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	want("CA1's client certificate once client_ca is CA2 only", cert1, false)
	want("CA2's client certificate once client_ca is CA2 only", cert2, true)
	if !strings.Contains(ts.logs.String(), "certificates reloaded") {
		t.Fatal("no reload logged")
	}
}
