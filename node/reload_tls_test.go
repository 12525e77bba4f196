package node_test

import (
	"context"
	"crypto/tls"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReloadReadsClusterCertificates: Node.Reload (SIGHUP) re-reads
// [cluster]'s cert_file and key_file: a fresh connection to the node's
// cluster address gets the new certificate and the node's audited
// queries still commit; a key file that does not parse is refused with
// the config key and file named, and the new certificate stays.
func TestReloadReadsClusterCertificates(t *testing.T) {
	cf, nodes := threeNodes(t)
	n2 := nodes[1]
	probe := cf.ca.Issue(t, "probe").TLS
	served := func() *big.Int {
		t.Helper()
		d := tls.Dialer{Config: &tls.Config{RootCAs: cf.ca.Pool, Certificates: []tls.Certificate{probe}, MinVersion: tls.VersionTLS13}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", n2.Cluster.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber
	}
	query := func(what string) {
		t.Helper()
		if code, body := call(t, n2, cf.tokens["alice"], "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(*) AS c FROM f.people"}); code != 200 {
			t.Fatalf("%s: alice's query on n2: %d %s", what, code, body)
		}
	}
	before := served()
	query("before")
	cf.issue(t, "n2") // new n2.pem and n2.key, same CA
	if got := served(); got.Cmp(before) != 0 {
		t.Fatal("the new certificate was served before Reload")
	}
	if err := n2.Reload(); err != nil {
		t.Fatal(err)
	}
	after := served()
	if after.Cmp(before) == 0 {
		t.Fatal("Reload did not put the new certificate in force")
	}
	query("after Reload")

	key := filepath.Join(cf.dir, "n2.key")
	if err := os.WriteFile(key, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := n2.Reload()
	if err == nil || !strings.Contains(err.Error(), "[cluster] key_file "+key) {
		t.Fatalf("Reload with a garbage key: %v", err)
	}
	if got := served(); got.Cmp(after) != 0 {
		t.Fatal("a refused Reload changed the certificate in force")
	}
	query("after a refused Reload")
}
