// Package certs holds a TLS identity (a certificate and its key) and the
// CAs it trusts, read from PEM files, and re-reads them on Reload without
// a restart: new handshakes use what is in force at their start,
// connections already open keep theirs. The server's TLS and the
// cluster's mutual TLS both read through a Holder.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Files names the PEM files of one identity and how errors call them.
type Files struct {
	// Cert and Key are the certificate (chain) and its private key.
	Cert, Key string
	// CA, when set, is a bundle of at least one CA certificate: the
	// pool that peers' certificates are verified against.
	CA string
	// CertName, KeyName and CAName are what errors call the files (a
	// config key such as "server.tls_cert"); the path follows.
	CertName, KeyName, CAName string
}

// Holder is the identity and CA pool in force. It is safe for
// concurrent use.
type Holder struct {
	files Files // empty: held in memory (Static)
	cur   atomic.Pointer[material]

	mu    sync.Mutex // serialises Reload and SetCheck
	check func(leaf *x509.Certificate) error
}

type material struct {
	cert tls.Certificate
	pool *x509.CertPool // nil: no CA file
}

// Load reads f; an error names the file that is wrong.
func Load(f Files) (*Holder, error) {
	if f.CertName == "" {
		f.CertName = "certificate"
	}
	if f.KeyName == "" {
		f.KeyName = "key"
	}
	if f.CAName == "" {
		f.CAName = "CA file"
	}
	h := &Holder{files: f}
	m, err := h.read()
	if err != nil {
		return nil, err
	}
	h.cur.Store(m)
	return h, nil
}

// Static holds cert and pool given in memory; Reload has nothing to
// re-read and says so.
func Static(cert tls.Certificate, pool *x509.CertPool) *Holder {
	h := &Holder{}
	h.cur.Store(&material{cert: cert, pool: pool})
	return h
}

// ErrNoFiles is Reload's error on a Holder made by Static.
var ErrNoFiles = errors.New("the certificates were given in memory: there are no files to re-read")

// Reload re-reads the files and puts them in force only if all of them
// parse, the key matches the certificate, the CA file holds at least one
// certificate and the check (SetCheck) passes; otherwise it returns an
// error naming the file and what was in force stays.
func (h *Holder) Reload() error {
	if h.files.Cert == "" {
		return ErrNoFiles
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	m, err := h.read()
	if err != nil {
		return err
	}
	h.cur.Store(m)
	return nil
}

// SetCheck makes check a condition on every certificate put in force
// from now on (a cluster node's common name must be its id). It is run
// on the one in force at once, and its error returned.
func (h *Holder) SetCheck(check func(leaf *x509.Certificate) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.check = check
	leaf, err := leafOf(h.cur.Load().cert)
	if err != nil {
		return err
	}
	return check(leaf)
}

// read parses the files into new material, h.check included.
func (h *Holder) read() (*material, error) {
	f := h.files
	certPEM, err := os.ReadFile(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.CertName, err)
	}
	if !hasBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it", f.CertName, f.Cert)
	}
	keyPEM, err := os.ReadFile(f.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.KeyName, err)
	}
	if !hasBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return nil, fmt.Errorf("%s %s: no PEM private key in it", f.KeyName, f.Key)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The library's messages name no key material.
		return nil, fmt.Errorf("%s %s with %s %s: %v", f.CertName, f.Cert, f.KeyName, f.Key, err)
	}
	leaf, err := leafOf(cert)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", f.CertName, f.Cert, err)
	}
	if h.check != nil {
		if err := h.check(leaf); err != nil {
			return nil, fmt.Errorf("%s %s: %v", f.CertName, f.Cert, err)
		}
	}
	m := &material{cert: cert}
	if f.CA != "" {
		caPEM, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.CAName, err)
		}
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s %s: no PEM certificate in it", f.CAName, f.CA)
		}
	}
	return m, nil
}

// hasBlock says whether b holds a PEM block whose type passes ok.
func hasBlock(b []byte, ok func(string) bool) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if ok(blk.Type) {
			return true
		}
	}
}

func leafOf(c tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("no certificate")
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// Certificate is the identity in force.
func (h *Holder) Certificate() *tls.Certificate {
	c := h.cur.Load().cert
	return &c
}

// Leaf is the certificate in force, parsed.
func (h *Holder) Leaf() (*x509.Certificate, error) { return leafOf(h.cur.Load().cert) }

// Pool is the CA pool in force (nil without a CA file).
func (h *Holder) Pool() *x509.CertPool { return h.cur.Load().pool }

// ServerConfig is base for a listener: each handshake gets a fresh clone
// of base with the certificate in force and, when the Holder has a CA
// pool, that pool as ClientCAs. The clone is the caller's: a
// GetConfigForClient wrapping this one may change it. Session tickets
// stay those of the returned config, so resumption works across reloads
// (Go re-verifies a resumed client certificate against the ClientCAs of
// the handshake).
func (h *Holder) ServerConfig(base *tls.Config) *tls.Config {
	tmpl := base.Clone()
	tmpl.GetConfigForClient = nil
	out := base.Clone()
	out.Certificates = nil
	out.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		m := h.cur.Load()
		c := tmpl.Clone()
		c.Certificates = []tls.Certificate{m.cert}
		if m.pool != nil {
			c.ClientCAs = m.pool
		}
		return c, nil
	}
	return out
}

// ClientConfig is a clone of base for one dial: the certificate in force
// as the client's and, when the Holder has a CA pool, that pool as
// RootCAs.
func (h *Holder) ClientConfig(base *tls.Config) *tls.Config {
	m := h.cur.Load()
	c := base.Clone()
	c.Certificates = []tls.Certificate{m.cert}
	if m.pool != nil {
		c.RootCAs = m.pool
	}
	return c
}
