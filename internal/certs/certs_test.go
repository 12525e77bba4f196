package certs

import (
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"lienthong/internal/testpki"
)

// TestReloadKeepsWhatIsInForce: Load names the file it cannot use; a
// Reload refused by the files or by the check leaves the certificate and
// pool in force; a good one swaps both.
func TestReloadKeepsWhatIsInForce(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "CA")
	f := ca.Write(t, dir, "n1", ca.Issue(t, "n1"))
	files := Files{Cert: f.Cert, Key: f.Key, CA: f.CA, CertName: "cert_file", KeyName: "key_file", CAName: "ca_file"}
	if _, err := Load(Files{Cert: f.Cert, Key: f.Cert, CA: f.CA, KeyName: "key_file"}); err == nil || !strings.Contains(err.Error(), "key_file "+f.Cert+": no PEM private key") {
		t.Fatalf("Load with the certificate as key: %v", err)
	}
	h, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetCheck(func(l *x509.Certificate) error {
		if l.Subject.CommonName != "n1" {
			return errors.New("not n1")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	first, pool := h.Certificate().Leaf.SerialNumber, h.Pool()
	n2 := ca.Issue(t, "n2")
	os.WriteFile(f.Cert, n2.CertPEM, 0o600)
	os.WriteFile(f.Key, n2.KeyPEM, 0o600)
	if err := h.Reload(); err == nil || !strings.Contains(err.Error(), "cert_file "+f.Cert+": not n1") {
		t.Fatalf("Reload of a certificate the check refuses: %v", err)
	}
	if h.Certificate().Leaf.SerialNumber.Cmp(first) != 0 || h.Pool() != pool {
		t.Fatal("a refused Reload changed what is in force")
	}
	again := ca.Issue(t, "n1")
	os.WriteFile(f.Cert, again.CertPEM, 0o600)
	os.WriteFile(f.Key, again.KeyPEM, 0o600)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if h.Certificate().Leaf.SerialNumber.Cmp(again.TLS.Leaf.SerialNumber) != 0 || h.Pool() == pool {
		t.Fatal("Reload did not put the new files in force")
	}
	if err := Static(again.TLS, ca.Pool).Reload(); !errors.Is(err, ErrNoFiles) {
		t.Fatalf("Static's Reload: %v", err)
	}
}
