package server

import (
	"crypto/tls"

	"lienthong/internal/certs"
)

// serverTLS builds the TLS settings the endpoints share and the holder
// of their certificates: each handshake takes the certificate and
// client_ca in force (ReloadTLS re-reads them).
func serverTLS(cfg *Config) (*tls.Config, *certs.Holder, error) {
	h, err := certs.Load(certs.Files{
		Cert: cfg.TLSCert, Key: cfg.TLSKey, CA: cfg.ClientCA,
		CertName: "server.tls_cert", KeyName: "server.tls_key", CAName: "server.client_ca",
	})
	if err != nil {
		return nil, nil, err
	}
	t := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// TLS 1.2 offers only forward-secret AEAD suites on both ports (gRPC
		// would pick these for the Flight port; Go's defaults for HTTPS
		// still include CBC-SHA1 ones). TLS 1.3 suites are all AEAD and not
		// configurable.
		CipherSuites: aeadSuites,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if cfg.ClientCA != "" {
		t.ClientAuth = tls.VerifyClientCertIfGiven
		if cfg.RequireClientCert {
			t.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return t, h, nil
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

// ReloadTLS re-reads tls_cert, tls_key and client_ca: new connections on
// every port (HTTPS, Flight, MySQL) get them, open ones keep what they
// were made with. A file that does not parse, or a key that does not
// match the certificate, is refused with an error naming the file, and
// what was in force stays. Without TLS it does nothing.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		return nil
	}
	if err := s.certs.Reload(); err != nil {
		s.log.Warn("certificates NOT reloaded, the ones before stay", "error", err.Error())
		return err
	}
	leaf, _ := s.certs.Leaf()
	s.log.Info("certificates reloaded", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
	return nil
}
