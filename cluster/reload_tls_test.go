package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"lienthong/internal/certs"
	"lienthong/internal/testpki"
)

// fileNode is a node whose certificate and CA are read from files, as a
// configured node's are.
type fileNode struct {
	*tnode
	files testpki.Files
}

// rewrite replaces a file of fn's as an operator's tooling does.
func rewrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// served is the serial of the certificate the node at addr presents to
// a fresh dial from m (a new connection of kind RPC, closed after).
func served(t *testing.T, m *mux, addr string) (*big.Int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := m.dial(ctx, addr, kindRPC)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestReloadTLSRotatesNodeCertificates: a node's certificate replaced by
// one from the same CA and ReloadTLS: a fresh dial of it sees the new
// one, its own dials present the new one, and the cluster commits through
// it. A reload with a missing file, a key that does not match or a
// certificate naming another node fails naming the file and keeps the
// material in force. Then the CA rollover: a bundle of both CAs reloaded
// on every node, a certificate from the new CA on one; a node that has
// not reloaded the bundle yet does not trust it, one that has does.
func TestReloadTLSRotatesNodeCertificates(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	var nodes []*fileNode
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("n%d", i)
		dir := filepath.Join(t.TempDir(), id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		f := ca.Write(t, dir, "node", ca.Issue(t, id))
		h, err := certs.Load(certs.Files{Cert: f.Cert, Key: f.Key, CA: f.CA, CertName: "cert_file", KeyName: "key_file", CAName: "ca_file"})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &fileNode{start(t, Config{ID: id, Addr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"), Certs: h}), f})
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	if err := n1.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "n1 leads", func() bool { return n1.raft.State() == raft.Leader })
	ctx := context.Background()
	for _, n := range []*fileNode{n2, n3} {
		if err := n1.Join(ctx, n.Addr()); err != nil {
			t.Fatalf("%s joins: %v", n.ID(), err)
		}
	}
	all := []*tnode{n1.tnode, n2.tnode, n3.tnode}
	i := 0
	commits := func(what string) {
		t.Helper()
		for _, n := range all {
			i++
			if _, err := n.Propose(ctx, appendCmd(t, n.ID(), i)); err != nil {
				t.Fatalf("%s: proposing on %s: %v", what, n.ID(), err)
			}
		}
		converged(t, all)
	}
	commits("before any reload")

	// n1 records the serial of every certificate a connection of its
	// proved, either way.
	var mu sync.Mutex
	seenBy1 := map[string]bool{}
	hook := linkHook(func(_, _ string, c net.Conn) (net.Conn, error) {
		mu.Lock()
		seenBy1[c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String()] = true
		mu.Unlock()
		return c, nil
	})
	n1.mux.hook.Store(&hook)
	presented := func(serial *big.Int) bool {
		mu.Lock()
		defer mu.Unlock()
		return seenBy1[serial.String()]
	}
	wantServed := func(what string, from *fileNode, serial *big.Int) {
		t.Helper()
		got, err := served(t, from.mux, n2.Addr())
		if err != nil || got.Cmp(serial) != 0 {
			t.Fatalf("%s: a fresh dial of n2 from %s got serial %v (%v), want %v", what, from.ID(), got, err, serial)
		}
	}

	// n2's certificate rotated within the CA.
	old := n2.cfg.Certs.Certificate().Leaf.SerialNumber
	wantServed("before the rotation", n1, old)
	fresh := ca.Issue(t, "n2")
	rewrite(t, n2.files.Cert, fresh.CertPEM)
	rewrite(t, n2.files.Key, fresh.KeyPEM)
	wantServed("files replaced, not reloaded", n1, old)
	if err := n2.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	wantServed("after ReloadTLS", n1, fresh.TLS.Leaf.SerialNumber)
	// n2's own dials present it: an RPC to n1 (a new connection per call).
	if _, err := n2.mux.call(ctx, n1.Addr(), request{Op: "status"}); err != nil {
		t.Fatal(err)
	}
	if !presented(fresh.TLS.Leaf.SerialNumber) {
		t.Fatal("n2's call to n1 did not present its new certificate")
	}
	commits("after n2's rotation")

	// Refused reloads keep what is in force.
	for _, c := range []struct {
		what string
		file string
		b    []byte // nil: the file is removed
		want string
	}{
		{"a missing key", n2.files.Key, nil, "key_file: open " + n2.files.Key},
		{"a key of another certificate", n2.files.Key, ca.Issue(t, "n2").KeyPEM, "key_file " + n2.files.Key},
		{"a certificate naming n3", n2.files.Cert, nil, "names \"n3\""},
		{"a CA file without a certificate", n2.files.CA, []byte("nothing\n"), "ca_file " + n2.files.CA},
	} {
		saved := map[string][]byte{}
		for _, p := range []string{n2.files.Cert, n2.files.Key, n2.files.CA} {
			saved[p], _ = os.ReadFile(p)
		}
		switch {
		case c.what == "a certificate naming n3":
			other := ca.Issue(t, "n3")
			rewrite(t, n2.files.Cert, other.CertPEM)
			rewrite(t, n2.files.Key, other.KeyPEM)
		case c.b == nil:
			os.Remove(c.file)
		default:
			rewrite(t, c.file, c.b)
		}
		err := n2.ReloadTLS()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: ReloadTLS %v, want an error with %q", c.what, err, c.want)
		}
		wantServed(c.what+" refused", n1, fresh.TLS.Leaf.SerialNumber)
		for p, b := range saved {
			rewrite(t, p, b)
		}
	}
	commits("after the refused reloads")

	// CA rollover: the bundle on n1 and n2 first, then n2's certificate
	// from the new CA.
	ca2 := testpki.NewCA(t, "cluster CA 2")
	bundle := append(append([]byte{}, ca.PEM...), ca2.PEM...)
	for _, n := range []*fileNode{n1, n2} {
		rewrite(t, n.files.CA, bundle)
		if err := n.ReloadTLS(); err != nil {
			t.Fatal(err)
		}
	}
	next := ca2.Issue(t, "n2")
	rewrite(t, n2.files.Cert, next.CertPEM)
	rewrite(t, n2.files.Key, next.KeyPEM)
	if err := n2.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	wantServed("CA2's certificate, to a node with the bundle", n1, next.TLS.Leaf.SerialNumber)
	if _, err := served(t, n3.mux, n2.Addr()); err == nil {
		t.Fatal("n3, without the new CA, accepted n2's certificate from it")
	}
	rewrite(t, n3.files.CA, bundle)
	if err := n3.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	wantServed("CA2's certificate, to n3 with the bundle", n3, next.TLS.Leaf.SerialNumber)
	commits("after the CA rollover")
}

// TestReloadTLSWithoutFiles: a node given its certificate in memory has
// nothing to re-read and says so.
func TestReloadTLSWithoutFiles(t *testing.T) {
	c := testpki.NewCA(t, "cluster CA")
	n := start(t, Config{ID: "n1", Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), "n1"), CA: c.Pool, Cert: c.Issue(t, "n1").TLS})
	if err := n.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "no files") {
		t.Fatalf("ReloadTLS: %v", err)
	}
}
