package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lienthong/audit/chain"
	"lienthong/internal/testpki"
	"lienthong/policy"
	"lienthong/state"
)

// The kill -9 test runs one node in a child process: the test binary run
// again with childEnv naming the node's directory. The child serves a
// small control API on loopback (append, join, state) and is killed with
// SIGKILL, so nothing of it runs after: no deferred close, no flush.
const childEnv = "LT_CLUSTER_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if err := runChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childReady is what a child writes to DIR/ready.json once it serves.
type childReady struct {
	Addr    string `json:"addr"`    // the raft and node RPC address
	Control string `json:"control"` // the control API
}

// sealed is one record the child's POST /append sealed (a Record's hash
// is not in its JSON).
type sealed struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// childState is the child's GET /state.
type childState struct {
	Leader   bool   `json:"leader"`
	Hash     string `json:"hash"`
	Seq      uint64 `json:"seq"`
	Missing  uint64 `json:"missing"`
	Snapshot uint64 `json:"snapshot"`
}

func runChild(dir string) error {
	// A child outlives no test: when its parent dies (a test timeout) it
	// is handed to another parent and exits.
	parent := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				os.Exit(2)
			}
		}
	}()
	read := func(name string) []byte { b, _ := os.ReadFile(filepath.Join(dir, name)); return b }
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(read("ca.pem")) {
		return fmt.Errorf("no CA in %s", dir)
	}
	cert, err := tls.X509KeyPair(read("cert.pem"), read("key.pem"))
	if err != nil {
		return err
	}
	id := string(read("id"))
	addr := os.Getenv(childEnv + "_ADDR")
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	logf, err := os.OpenFile(filepath.Join(dir, "raft.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fs, err := chain.OpenFileStore(filepath.Join(dir, "chain.log"), chain.FileOptions{NoSync: true})
	if err != nil {
		return err
	}
	ms := state.NewMachines()
	ms.Register("policy", &policy.Machine{})
	cm := chain.NewMachine(fs)
	ms.Register("audit", cm)
	n, err := Open(Config{ID: id, Addr: addr, Dir: dir, CA: pool, Cert: cert, ProposeTimeout: testPropose, ElectionTimeout: 500 * time.Millisecond, Log: logf}, ms)
	if err != nil {
		return err
	}
	if os.Getenv(childEnv+"_BOOTSTRAP") != "" {
		if err := n.Bootstrap(); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /append", func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		cmd, _ := bulkCmdNoT(id, i, 2)
		res, err := n.Propose(r.Context(), cmd)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		var out []sealed
		for _, r := range res.([]*chain.Record) {
			out = append(out, sealed{r.Seq, r.Hash})
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /join", func(w http.ResponseWriter, r *http.Request) {
		if err := n.Join(r.Context(), r.URL.Query().Get("addr")); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		b, err := ms.Snapshot()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		st, _ := n.Status(r.Context())
		json.NewEncoder(w).Encode(childState{Leader: n.raft.State().String() == "Leader", Hash: fmt.Sprintf("%x", sha256.Sum256(b)), Seq: cm.Seq(), Missing: n.Missing(), Snapshot: st.Snapshot})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ready, _ := json.Marshal(childReady{Addr: n.Addr(), Control: ln.Addr().String()})
	tmp := filepath.Join(dir, "ready.json.tmp")
	if err := os.WriteFile(tmp, ready, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "ready.json")); err != nil {
		return err
	}
	return http.Serve(ln, mux) // until killed
}

// child is the parent's handle on a node in a child process.
type child struct {
	dir   string
	cmd   *exec.Cmd
	ready childReady
}

// writeChildFiles gives a child's directory the CA, its certificate and id.
func writeChildFiles(t testing.TB, c *testpki.CA, dir, id string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l := c.Issue(t, id)
	for name, b := range map[string][]byte{"ca.pem": c.PEM, "cert.pem": l.CertPEM, "key.pem": l.KeyPEM, "id": []byte(id)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startChild runs a node in a child process on dir (at addr, "" for any)
// and waits until it serves.
func startChild(t testing.TB, dir, addr string, bootstrap bool) *child {
	t.Helper()
	os.Remove(filepath.Join(dir, "ready.json"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_ADDR="+addr)
	if bootstrap {
		cmd.Env = append(cmd.Env, childEnv+"_BOOTSTRAP=1")
	}
	errf, err := os.Create(filepath.Join(dir, fmt.Sprintf("stderr-%d", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = errf, errf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{dir: dir, cmd: cmd}
	t.Cleanup(func() { ch.kill() })
	eventually(t, 20*time.Second, "the child node serves", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "ready.json"))
		return err == nil && json.Unmarshal(b, &ch.ready) == nil
	})
	return ch
}

// kill sends SIGKILL and reaps the process.
func (ch *child) kill() {
	if ch.cmd.ProcessState == nil {
		ch.cmd.Process.Kill()
		ch.cmd.Wait()
	}
}

var controlClient = &http.Client{Timeout: 10 * time.Second}

func (ch *child) post(path string) ([]byte, error) {
	resp, err := controlClient.Post("http://"+ch.ready.Control+path, "text/plain", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

func (ch *child) state() (childState, error) {
	var st childState
	resp, err := controlClient.Get("http://" + ch.ready.Control + "/state")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (ch *child) file(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ch.dir, "chain.log"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The leader, a separate process, killed with SIGKILL in the middle of a
// stream of audited appends spread over the three nodes: a new leader
// commits within seconds, every append a client saw acknowledged is in
// every survivor's file, the survivors' files are identical, and the
// killed node, started again on its directory, catches up by installing
// a snapshot and copying the records it lacks: its state hash and file
// are the survivors'. LT_CLUSTER_SCALE=5 makes it 1,000 appends.
func TestKill9LeaderMidStream(t *testing.T) {
	c := testpki.NewCA(t, "cluster CA")
	dir := filepath.Join(t.TempDir(), "n1")
	writeChildFiles(t, c, dir, "n1")
	lead := startChild(t, dir, "", true)
	eventually(t, 10*time.Second, "the child leads", func() bool { st, err := lead.state(); return err == nil && st.Leader })
	var nodes []*tnode
	for _, id := range []string{"n2", "n3"} {
		n := start(t, Config{ID: id, Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), id), CA: c.Pool, Cert: c.Issue(t, id).TLS})
		if _, err := lead.post("/join?addr=" + n.Addr()); err != nil {
			t.Fatalf("%s joins: %v", id, err)
		}
		nodes = append(nodes, n)
	}

	total := 200 * scale()
	a := newAcked()
	var next atomic.Int64
	var killed atomic.Bool
	var killedAt time.Time
	// The failover time: from the kill to the first commit of an append
	// proposed after it (one in flight may have committed before).
	var firstAfter atomic.Int64
	noted := func(res any, proposed time.Time) {
		a.add(res)
		if killed.Load() && proposed.After(killedAt) {
			firstAfter.CompareAndSwap(0, int64(time.Since(killedAt)))
		}
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > total {
					return
				}
				proposed := time.Now()
				// A client of the killed node goes to another one.
				if w%3 == 0 && !killed.Load() {
					b, err := lead.post(fmt.Sprintf("/append?i=%d", w*1_000_000+i))
					var recs []sealed
					if err == nil && json.Unmarshal(b, &recs) == nil {
						a.mu.Lock()
						for _, r := range recs {
							a.recs[r.Seq] = r.Hash
						}
						a.mu.Unlock()
						a.ok.Add(1)
					} else {
						a.bad.Add(1)
					}
					continue
				}
				n := nodes[w%2]
				cmd, _ := bulkCmdNoT(n.cfg.ID, w*1_000_000+i, 2)
				if res, err := n.Propose(context.Background(), cmd); err == nil {
					noted(res, proposed)
				} else {
					a.bad.Add(1)
				}
			}
		}()
	}
	eventually(t, 60*time.Second, "a third of the appends", func() bool { return a.ok.Load() >= int64(total/3) })
	killedAt = time.Now()
	killed.Store(true)
	lead.kill()
	wg.Wait()
	if firstAfter.Load() == 0 {
		t.Fatal("no append committed after the leader was killed")
	}
	t.Logf("failover: first commit %s after SIGKILL of the leader; %d of %d appends acknowledged, %d refused",
		time.Duration(firstAfter.Load()).Round(time.Millisecond), a.ok.Load(), total, a.bad.Load())

	converged(t, nodes)
	a.in(t, nodes)
	if !bytes.Equal(nodes[0].auditFile(t), nodes[1].auditFile(t)) {
		t.Fatal("the survivors' audit files differ")
	}
	for _, n := range nodes {
		compact(t, n)
	}
	if _, err := nodes[0].Propose(context.Background(), appendCmd(t, "n2", 0)); err != nil {
		t.Fatal(err)
	}
	converged(t, nodes)

	began := time.Now()
	back := startChild(t, dir, lead.ready.Addr, false)
	want := nodes[0].hash(t)
	var st childState
	eventually(t, 60*time.Second, "the restarted node catches up", func() bool {
		var err error
		st, err = back.state()
		return err == nil && st.Hash == want && st.Missing == 0
	})
	t.Logf("the killed node caught up in %s (snapshot at index %d)", time.Since(began).Round(time.Millisecond), st.Snapshot)
	if st.Snapshot == 0 {
		t.Fatal("the restarted node caught up without installing a snapshot")
	}
	if !bytes.Equal(back.file(t), nodes[0].auditFile(t)) {
		t.Fatal("the restarted node's audit file differs from the survivors'")
	}
	res, err := chain.VerifyFile(filepath.Join(dir, "chain.log"), chain.VerifyOptions{})
	if err != nil || res.Tampered() || res.LastSeq != nodes[0].chain.Seq() {
		t.Fatalf("audit verify on the restarted node: %v %+v", err, res)
	}
}
