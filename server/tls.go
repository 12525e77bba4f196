package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// serverTLS builds the TLS settings both endpoints share.
func serverTLS(cfg *Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("server.tls_cert/tls_key: %w", err)
	}
	t := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// TLS 1.2 offers only forward-secret AEAD suites on both ports (gRPC
		// would pick these for the Flight port; Go's defaults for HTTPS
		// still include CBC-SHA1 ones). TLS 1.3 suites are all AEAD and not
		// configurable.
		CipherSuites: aeadSuites,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if cfg.ClientCA != "" {
		pem, err := os.ReadFile(cfg.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("server.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server.client_ca %s: no PEM certificate in it", cfg.ClientCA)
		}
		t.ClientCAs = pool
		t.ClientAuth = tls.VerifyClientCertIfGiven
		if cfg.RequireClientCert {
			t.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return t, nil
}

// aeadSuites are the TLS 1.2 suites served: ECDHE key exchange with
// AES-GCM or ChaCha20-Poly1305.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// httpTLS is t for the HTTP port: a required client certificate is asked
// for but checked per request (requireCert), so the health endpoints
// answer without one. A certificate that is presented is still verified
// against client_ca in the handshake.
func httpTLS(t *tls.Config) *tls.Config {
	h := t.Clone()
	if h.ClientAuth == tls.RequireAndVerifyClientCert {
		h.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return h
}
