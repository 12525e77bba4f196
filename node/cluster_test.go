package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/audit/chain"
	"lienthong/cluster"
	"lienthong/engine"
	"lienthong/internal/testpki"
	"lienthong/node"
	"lienthong/policy/dp"
	"lienthong/tokens"
)

// The policy every node of the test cluster starts with: alice reads
// f.people, bob only private aggregates of it, admin operates.
const clusterPolicy = `[settings]
min_group_size = 1

[privacy]
epsilon_per_query = 0.5
epsilon_budget = 100
period = "month"

[[purposes]]
name = "STATS"

[[roles]]
name = "reader"

[[roles]]
name = "dash"
aggregate_only = true

[[roles]]
name = "ops"
operations = ["cluster", "policy", "tokens", "sources"]

[[principals]]
name = "alice"
agency = "bhxh"
roles = ["reader"]

[[principals]]
name = "bob"
agency = "bhxh"
roles = ["dash"]

[[principals]]
name = "admin"
agency = "bca"
roles = ["ops"]

[[grants]]
role = "reader"
purposes = ["STATS"]
source = "f"
table = "people"
columns = ["pin", "name"]

[[grants]]
role = "dash"
purposes = ["STATS"]
source = "f"
table = "people"

[[grants]]
role = "reader"
purposes = ["STATS"]
source = "pg"
table = "people"
columns = ["pin", "name"]
`

// clusterFiles are what the three nodes share: the cluster CA and each
// node's certificate, one audit key, one tokens file.
type clusterFiles struct {
	dir    string
	tokens map[string]string // principal -> bearer token
	ca     *testpki.CA
}

func newClusterFiles(t testing.TB) *clusterFiles {
	t.Helper()
	cf := &clusterFiles{dir: t.TempDir(), tokens: map[string]string{}}
	cf.ca = testpki.NewCA(t, "test cluster CA")
	cf.write(t, "ca.pem", cf.ca.PEM)
	if _, err := chain.WriteKeyFile(filepath.Join(cf.dir, "audit.key")); err != nil {
		t.Fatal(err)
	}
	var toks strings.Builder
	for _, p := range []struct{ name, agency string }{{"alice", "bhxh"}, {"bob", "bhxh"}, {"admin", "bca"}} {
		tok, err := tokens.Generate()
		if err != nil {
			t.Fatal(err)
		}
		h, err := tokens.Hash(tok)
		if err != nil {
			t.Fatal(err)
		}
		cf.tokens[p.name] = tok
		fmt.Fprintf(&toks, "[[principals]]\nname = %q\nagency = %q\ntoken_hash = %q\n\n", p.name, p.agency, h)
	}
	if err := os.WriteFile(filepath.Join(cf.dir, "tokens.toml"), []byte(toks.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return cf
}

func (cf *clusterFiles) write(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(cf.dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes id.pem and id.key: a node certificate for 127.0.0.1 with
// the node id as its CN, for server and client auth.
func (cf *clusterFiles) issue(t testing.TB, id string) {
	t.Helper()
	l := cf.ca.Issue(t, id)
	cf.write(t, id+".pem", l.CertPEM)
	cf.write(t, id+".key", l.KeyPEM)
}

// nodeDir writes one node's directory: its CSV source, its policy file
// and a lienthong.toml whose [cluster] table bootstraps (join empty) or
// joins.
func (cf *clusterFiles) nodeDir(t testing.TB, id string, join []string) string {
	t.Helper()
	cf.issue(t, id)
	dir := filepath.Join(cf.dir, id)
	for _, d := range []string{dir, filepath.Join(dir, "spill")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("people.csv", "pin,name\n001,a\n002,b\n003,c\n")
	write("policy.toml", clusterPolicy)
	how := "bootstrap = true"
	if len(join) > 0 {
		q, _ := json.Marshal(join)
		how = "join = " + string(q)
	}
	write("lienthong.toml", fmt.Sprintf(`duckdb_temp_directory = "spill"
policy = "policy.toml"

[[sources]]
name = "f"
kind = "csv"
path = "*.csv"

[server]
http_addr = "127.0.0.1:0"
flight_addr = "off"
tokens_file = "../tokens.toml"
shutdown_grace = "2s"

[audit]
log = "audit.log"
key_file = "../audit.key"
node_id = %[1]q
probe_interval = "1h"

[cluster]
id = %[1]q
addr = "127.0.0.1:0"
data_dir = "raft"
%[2]s
ca_file = "../ca.pem"
cert_file = "../%[1]s.pem"
key_file = "../%[1]s.key"
propose_timeout = "1500ms"
`, id, how))
	return filepath.Join(dir, "lienthong.toml")
}

// tnode is one running node of the test cluster.
type tnode struct {
	*node.Node
	cfgPath string
	closed  bool
}

func (tn *tnode) close(t testing.TB) {
	t.Helper()
	if tn.closed {
		return
	}
	tn.closed = true
	if err := tn.Close(); err != nil {
		t.Logf("%s: close: %v", tn.cfgPath, err)
	}
}

func openNode(t testing.TB, path string) *tnode {
	t.Helper()
	cfg := load(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Open(ctx, cfg, node.Options{Serve: true, Audit: cfg.Audit})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tn := &tnode{Node: n, cfgPath: path}
	t.Cleanup(func() { tn.close(t) })
	return tn
}

// threeNodes starts n1 (bootstrap), n2 joining n1 and n3 joining n2 (its
// request is forwarded to the leader).
func threeNodes(t testing.TB) (*clusterFiles, []*tnode) {
	t.Helper()
	node.SetElectionTimeout(500 * time.Millisecond)
	cf := newClusterFiles(t)
	n1 := openNode(t, cf.nodeDir(t, "n1", nil))
	n2 := openNode(t, cf.nodeDir(t, "n2", []string{n1.Cluster.Addr()}))
	n3 := openNode(t, cf.nodeDir(t, "n3", []string{n2.Cluster.Addr()}))
	return cf, []*tnode{n1, n2, n3}
}

// call makes an HTTP request to a node as principal (none: "") and
// returns the status and body.
func call(t testing.TB, n *tnode, tok, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, n.Server.HTTPURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Lienthong-Purpose", "STATS")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func errCode(b []byte) string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Code
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three nodes from their config files: a policy applied over HTTP on a
// follower is in force on all three (and a broken one on none), a query
// on each node is audited into one chain with the same head everywhere,
// a private query's spend on one node is in every node's ledger, and the
// operator API refuses strangers and non-operators.
func TestClusterFromConfig(t *testing.T) {
	cf, nodes := threeNodes(t)
	admin, alice, bob := cf.tokens["admin"], cf.tokens["alice"], cf.tokens["bob"]
	n1, n3 := nodes[0], nodes[2]

	code, body := call(t, n3, admin, "GET", "/v1/cluster", nil)
	var st cluster.Status
	if code != 200 || json.Unmarshal(body, &st) != nil || len(st.Members) != 3 || st.Leader != "n1" || st.ID != "n3" {
		t.Fatalf("cluster status on n3: %d %s", code, body)
	}

	// alice reads names on every node; then a policy without the name
	// column, applied on a follower, takes them away on every node.
	for i, n := range nodes {
		if code, body := call(t, n, alice, "POST", "/v1/query", map[string]string{"sql": "SELECT name FROM f.people ORDER BY pin"}); code != 200 || !strings.Contains(string(body), `"a"`) {
			t.Fatalf("n%d: alice's query: %d %s", i+1, code, body)
		}
	}
	v2 := strings.Replace(clusterPolicy, `columns = ["pin", "name"]`, `columns = ["pin"]`, 1)
	if code, body := call(t, n3, admin, "POST", "/v1/policy", map[string]string{"file": "policy.toml", "text": v2}); code != 200 {
		t.Fatalf("policy apply on follower n3: %d %s", code, body)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("n%d has the new policy", i+1), func() bool {
			_, text, _ := n.Engine.PolicyInForce()
			return text == v2
		})
		if code, body := call(t, n, alice, "POST", "/v1/query", map[string]string{"sql": "SELECT name FROM f.people"}); code == 200 {
			t.Fatalf("n%d: the name column is still granted: %s", i+1, body)
		}
		code, body := call(t, n, admin, "GET", "/v1/policy", nil)
		var pj struct{ File, Text string }
		if code != 200 || json.Unmarshal(body, &pj) != nil || pj.Text != v2 {
			t.Fatalf("n%d: policy show: %d %s", i+1, code, body)
		}
	}

	// A broken file (alice given a role that does not exist) changes
	// nothing anywhere, and the error names its line (the principal's
	// table).
	broken := strings.Replace(v2, `roles = ["reader"]`, `roles = ["nosuch"]`, 1)
	badLine := 0
	for i, l := range strings.Split(broken, "\n") {
		if l == "[[principals]]" && badLine == 0 {
			badLine = i + 1 // alice's is the first
		}
	}
	code, body = call(t, nodes[1], admin, "POST", "/v1/policy", map[string]string{"file": "bad.toml", "text": broken})
	var e struct {
		Code, Message string
		Line          int
	}
	if json.Unmarshal(body, &e) != nil || code != 400 || e.Code != "LT-BAD-REQUEST" || e.Line != badLine || !strings.Contains(e.Message, fmt.Sprintf("bad.toml:%d", badLine)) {
		t.Fatalf("broken policy: %d %s", code, body)
	}
	for i, n := range nodes {
		if _, text, _ := n.Engine.PolicyInForce(); text != v2 {
			t.Fatalf("n%d: a refused policy changed what is in force", i+1)
		}
	}

	// One query per node, all audited into the one chain.
	for i, n := range nodes {
		if code, body := call(t, n, alice, "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(*) AS c FROM f.people"}); code != 200 {
			t.Fatalf("n%d: query: %d %s", i+1, code, body)
		}
	}
	// bob's private count on n1 is charged in n2's and n3's ledgers too;
	// his budget read on n3 at once counts it (the read goes through the
	// log), and alice has spent nothing.
	if code, body := call(t, n1, bob, "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(DISTINCT pin) AS citizens FROM f.people"}); code != 200 {
		t.Fatalf("bob's private query on n1: %d %s", code, body)
	}
	for who, want := range map[string][2]float64{bob: {0.5, 99}, alice: {0, 100}} { // delta (1e-7 of 1e-5 a query) binds first
		code, body := call(t, n3, who, "GET", "/v1/budget", nil)
		var b engine.Budget
		if code != 200 || json.Unmarshal(body, &b) != nil || b.EpsilonSpent != want[0] || float64(b.QueriesLeft) != want[1] || b.EpsilonBudget != 100 || b.Period != "month" {
			t.Fatalf("budget on n3: %d %s, want spent %v", code, body, want)
		}
	}
	for i := range nodes {
		ledger := filepath.Join(cf.dir, fmt.Sprintf("n%d", i+1), "privacy-ledger.json")
		eventually(t, fmt.Sprintf("n%d's ledger has bob's spend", i+1), func() bool {
			l, err := dp.OpenLedger(ledger)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			eps, _ := l.Remaining("bob", time.Now(), "month", 100, 1e-5)
			return eps == 99.5
		})
	}

	key, err := chain.LoadKey(filepath.Join(cf.dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	heads := func() []string {
		var out []string
		for i := range nodes {
			res, err := chain.VerifyFile(filepath.Join(cf.dir, fmt.Sprintf("n%d", i+1), "audit.log"), chain.VerifyOptions{Keys: key})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tampered() {
				t.Fatalf("n%d's audit log does not verify: %v", i+1, res.Problems)
			}
			out = append(out, fmt.Sprintf("%d:%s", res.LastSeq, res.LastHash))
		}
		return out
	}
	eventually(t, "the same audit head on every node", func() bool {
		h := heads()
		return h[0] == h[1] && h[1] == h[2]
	})
	// Each node's queries are in the one chain (3 opens, 3 nodes' ends).
	got := map[string]int{}
	rd, err := chain.OpenReader(filepath.Join(cf.dir, "n2", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Iterate(0, func(r *chain.Record) error {
		if r.Kind == chain.KindEnd && r.Principal == "alice" && r.Outcome == "succeeded" {
			got[r.Node]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got["n1"] < 1 || got["n2"] < 1 || got["n3"] < 1 {
		t.Fatalf("alice's successful queries by node in n2's log: %v", got)
	}

	// REFRESH CATALOG on a follower makes the next catalog version, and
	// every node plans against it.
	code, body = call(t, nodes[1], alice, "POST", "/v1/refresh", map[string]string{})
	var rv struct {
		Version int64 `json:"catalog_version"`
	}
	if code != 200 || json.Unmarshal(body, &rv) != nil || rv.Version < 2 {
		t.Fatalf("refresh on n2: %d %s", code, body)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("n%d plans against catalog version %d", i+1, rv.Version), func() bool { return n.Engine.Catalog().Version == rv.Version })
	}

	// A principal added on one node authenticates on the others, and
	// once revoked on another, nowhere.
	carol, err := tokens.Generate()
	if err != nil {
		t.Fatal(err)
	}
	h, err := tokens.Hash(carol)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, n1, carol, "GET", "/v1/catalog", nil); code != 401 {
		t.Fatalf("carol before she is added: %d", code)
	}
	if code, body := call(t, nodes[1], admin, "POST", "/v1/tokens", map[string]any{"put": map[string]string{"name": "carol", "agency": "bca", "token_hash": h}}); code != 200 {
		t.Fatalf("adding carol on n2: %d %s", code, body)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("carol authenticates on n%d", i+1), func() bool {
			code, _ := call(t, n, carol, "GET", "/v1/catalog", nil)
			return code != 401 // the policy does not know her: denied, but authenticated
		})
	}
	if code, body := call(t, n3, admin, "POST", "/v1/tokens", map[string]string{"revoke": "carol"}); code != 200 {
		t.Fatalf("revoking carol on n3: %d %s", code, body)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("carol is refused on n%d", i+1), func() bool {
			code, _ := call(t, n, carol, "GET", "/v1/catalog", nil)
			return code == 401
		})
	}

	// The operator API: nobody without a token, and alice is no operator.
	for _, ep := range []struct{ method, path string }{{"GET", "/v1/cluster"}, {"POST", "/v1/cluster/join"}, {"POST", "/v1/cluster/remove"}, {"GET", "/v1/policy"}, {"POST", "/v1/policy"}, {"POST", "/v1/tokens"}} {
		body := map[string]string{"addr": "127.0.0.1:1", "id": "n3", "text": clusterPolicy}
		if code, b := call(t, n3, "", ep.method, ep.path, body); code != 401 || errCode(b) != "LT-AUTH" {
			t.Errorf("%s %s without a token: %d %s", ep.method, ep.path, code, b)
		}
		if code, b := call(t, n3, alice, ep.method, ep.path, body); code != 403 || errCode(b) != "LT-FORBIDDEN" {
			t.Errorf("%s %s as alice: %d %s", ep.method, ep.path, code, b)
		}
	}
	if _, text, _ := n1.Engine.PolicyInForce(); text != v2 {
		t.Fatal("a refused caller changed the policy")
	}

	// Removing n3 through a follower's API leaves two members.
	if code, body := call(t, nodes[1], admin, "POST", "/v1/cluster/remove", map[string]string{"id": "n3"}); code != 200 {
		t.Fatalf("remove n3: %d %s", code, body)
	}
	eventually(t, "n1 sees two members", func() bool {
		code, body := call(t, n1, admin, "GET", "/v1/cluster", nil)
		var st cluster.Status
		return code == 200 && json.Unmarshal(body, &st) == nil && len(st.Members) == 2 && !strings.Contains(string(body), `"n3"`)
	})
}

// With two of three nodes stopped, the survivor refuses audited queries
// with LT-NO-QUORUM within its bound, and /readyz says no quorum.
func TestClusterNoQuorum(t *testing.T) {
	cf, nodes := threeNodes(t)
	n1 := nodes[0]
	if code, body := call(t, n1, cf.tokens["alice"], "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(*) AS c FROM f.people"}); code != 200 {
		t.Fatalf("query with a quorum: %d %s", code, body)
	}
	if code, body := call(t, n1, "", "GET", "/readyz", nil); code != 200 {
		t.Fatalf("/readyz with a quorum: %d %s", code, body)
	}
	nodes[1].close(t)
	nodes[2].close(t)
	start := time.Now()
	code, body := call(t, n1, cf.tokens["alice"], "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(*) AS c FROM f.people"})
	took := time.Since(start)
	if code != 503 || errCode(body) != "LT-NO-QUORUM" || !strings.Contains(string(body), "no quorum") {
		t.Fatalf("query without a quorum: %d %s", code, body)
	}
	// The bound is propose_timeout (1.5s) per proposal; generous slack for
	// a loaded machine, but not the minutes of a hang.
	if took > 10*time.Second {
		t.Fatalf("the refusal took %s", took)
	}
	eventually(t, "/readyz says no quorum", func() bool {
		code, body := call(t, n1, "", "GET", "/readyz", nil)
		return code == 503 && strings.Contains(string(body), `"cluster":"no quorum"`)
	})
	// A budget is not read from this node's copy, which may lack charges
	// the majority committed: without a quorum it is refused.
	if code, body := call(t, n1, cf.tokens["bob"], "GET", "/v1/budget", nil); code != 503 || errCode(body) != "LT-NO-QUORUM" {
		t.Fatalf("a budget read without a quorum: %d %s", code, body)
	}
}

// A node on its own serves the operator API too: without a policy any
// authenticated principal may apply one, after which only its operators
// may; /v1/cluster says the node is in no cluster.
func TestOperatorAPIAlone(t *testing.T) {
	path, token := nodeConfig(t, serving)
	cfg := load(t, path)
	n, err := node.Open(context.Background(), cfg, node.Options{Serve: true, Audit: cfg.Audit})
	if err != nil {
		t.Fatal(err)
	}
	tn := &tnode{Node: n, cfgPath: path}
	defer tn.close(t)
	if code, body := call(t, tn, token, "GET", "/v1/cluster", nil); code != 404 || errCode(body) != "LT-BAD-REQUEST" || !strings.Contains(string(body), "not in a cluster") {
		t.Fatalf("/v1/cluster alone: %d %s", code, body)
	}
	if code, body := call(t, tn, token, "GET", "/v1/policy", nil); code != 200 || !strings.Contains(string(body), `"text":""`) {
		t.Fatalf("no policy in force: %d %s", code, body)
	}
	if code, body := call(t, tn, token, "GET", "/v1/budget", nil); code != 400 || errCode(body) != "LT-UNSUPPORTED" || !strings.Contains(string(body), "no access policy") {
		t.Fatalf("a budget without a policy: %d %s", code, body)
	}
	// alice (the tokens file's principal) applies a policy that gives her
	// no operations: from then on she is refused.
	pol := strings.Replace(clusterPolicy, `name = "alice"`, `name = "alice2"`, 1) + "\n[[principals]]\nname = \"alice\"\nagency = \"bhxh\"\nroles = [\"reader\"]\n"
	if code, body := call(t, tn, token, "POST", "/v1/policy", map[string]string{"file": "p.toml", "text": pol}); code != 200 {
		t.Fatalf("apply without a policy: %d %s", code, body)
	}
	if _, text, p := tn.Engine.PolicyInForce(); text != pol || p == nil {
		t.Fatal("the applied policy is not in force")
	}
	if code, body := call(t, tn, token, "GET", "/v1/policy", nil); code != 403 || errCode(body) != "LT-FORBIDDEN" {
		t.Fatalf("alice without the policy operation: %d %s", code, body)
	}
	if code, body := call(t, tn, "", "GET", "/readyz", nil); code != 200 || strings.Contains(string(body), "quorum") {
		t.Fatalf("/readyz alone: %d %s", code, body)
	}
}

// BenchmarkAuditedQuery is one audited query over HTTP (a begin and an
// end record, each a proposal) on a node alone, on the leader of three
// and on a follower of three (its proposals forwarded).
func BenchmarkAuditedQuery(b *testing.B) {
	q := map[string]string{"sql": "SELECT COUNT(*) AS c FROM f.people"}
	run := func(b *testing.B, n *tnode, tok string) {
		for i := 0; i < b.N; i++ {
			if code, body := call(b, n, tok, "POST", "/v1/query", q); code != 200 {
				b.Fatalf("%d %s", code, body)
			}
		}
	}
	b.Run("alone", func(b *testing.B) {
		cf := newClusterFiles(b)
		path := cf.nodeDir(b, "n1", nil)
		text, _ := os.ReadFile(path)
		os.WriteFile(path, []byte(text[:strings.Index(string(text), "[cluster]")]), 0o600)
		run(b, openNode(b, path), cf.tokens["alice"])
	})
	cf, nodes := threeNodes(b)
	b.Run("leader", func(b *testing.B) { run(b, nodes[0], cf.tokens["alice"]) })
	b.Run("follower", func(b *testing.B) { run(b, nodes[1], cf.tokens["alice"]) })
}

// A node restarted on its directory is still a member (it does not join
// again), its own policy file does not override the cluster's (a seed),
// and it catches up: same policy, same audit head.
func TestClusterRestartKeepsState(t *testing.T) {
	cf, nodes := threeNodes(t)
	admin := cf.tokens["admin"]
	n2 := nodes[1]
	pinForRestart(t, n2)
	// bob's private count, charged on every node before n2 stops.
	if code, body := call(t, nodes[0], cf.tokens["bob"], "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(DISTINCT pin) AS citizens FROM f.people"}); code != 200 {
		t.Fatalf("bob's private query: %d %s", code, body)
	}
	remaining := func() float64 {
		l, err := dp.OpenLedger(filepath.Join(cf.dir, "n2", "privacy-ledger.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		eps, _ := l.Remaining("bob", time.Now(), "month", 100, 1e-5)
		return eps
	}
	eventually(t, "n2's ledger has bob's charge", func() bool { return remaining() == 99.5 })
	n2.close(t)
	v2 := strings.Replace(clusterPolicy, `columns = ["pin", "name"]`, `columns = ["pin"]`, 1)
	if code, body := call(t, nodes[0], admin, "POST", "/v1/policy", map[string]string{"file": "policy.toml", "text": v2}); code != 200 {
		t.Fatalf("policy apply with n2 down: %d %s", code, body)
	}
	if code, body := call(t, nodes[2], cf.tokens["alice"], "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(*) AS c FROM f.people"}); code != 200 {
		t.Fatalf("query with n2 down: %d %s", code, body)
	}
	back := openNode(t, n2.cfgPath)
	if _, text, _ := back.Engine.PolicyInForce(); text != v2 {
		t.Fatalf("restarted n2 has policy %q, not the cluster's", text)
	}
	key, err := chain.LoadKey(filepath.Join(cf.dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	head := func(id string) string {
		res, err := chain.VerifyFile(filepath.Join(cf.dir, id, "audit.log"), chain.VerifyOptions{Keys: key})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tampered() {
			t.Fatalf("%s's audit log does not verify: %v", id, res.Problems)
		}
		return fmt.Sprintf("%d:%s", res.LastSeq, res.LastHash)
	}
	eventually(t, "the restarted node's audit head equals the others'", func() bool {
		return head("n1") == head("n2") && head("n2") == head("n3")
	})
	// Replaying the log charged bob once, not twice.
	if eps := remaining(); eps != 99.5 {
		t.Fatalf("after the restart n2's ledger leaves bob %v, want 99.5", eps)
	}
}

// pinForRestart rewrites a joined node's config so that it comes back
// on its cluster address, where the others look for it.
func pinForRestart(t testing.TB, n *tnode) {
	t.Helper()
	text, err := os.ReadFile(n.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pinned := strings.Replace(string(text), "\naddr = \"127.0.0.1:0\"", fmt.Sprintf("\naddr = %q", n.Cluster.Addr()), 1)
	pinned = strings.Replace(pinned, "join = ", "# was join = ", 1) + "join = [\"127.0.0.1:1\"]\n" // nobody there: a member must not need it
	if err := os.WriteFile(n.cfgPath, []byte(pinned), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestClusterRecoverAfterLostMajority: with two of three nodes gone for
// good, node.Recover (lienthong cluster recover) makes the survivor the
// only member with its state: its policy, its audit chain (which verifies
// and keeps every record), bob's privacy charge counted once; it then
// serves audited queries alone. A running node refuses to be recovered.
func TestClusterRecoverAfterLostMajority(t *testing.T) {
	cf, nodes := threeNodes(t)
	n1 := nodes[0]
	if code, body := call(t, n1, cf.tokens["bob"], "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(DISTINCT pin) AS citizens FROM f.people"}); code != 200 {
		t.Fatalf("bob's private query: %d %s", code, body)
	}
	cfg := load(t, n1.cfgPath)
	start := time.Now()
	if err := node.Recover(cfg); err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("recovering a running node: %v after %s, want a refusal at once", err, time.Since(start))
	}
	key, err := chain.LoadKey(filepath.Join(cf.dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	head := func() (uint64, string) {
		res, err := chain.VerifyFile(filepath.Join(cf.dir, "n1", "audit.log"), chain.VerifyOptions{Keys: key})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tampered() {
			t.Fatalf("n1's audit log does not verify: %v", res.Problems)
		}
		return res.LastSeq, res.LastHash
	}
	for _, n := range nodes {
		n.close(t)
	}
	seq, hash := head()
	if err := node.Recover(cfg); err != nil {
		t.Fatal(err)
	}
	if s, h := head(); s != seq || h != hash {
		t.Fatalf("recovery changed the audit chain: %d:%s, was %d:%s", s, h, seq, hash)
	}
	lone := openNode(t, n1.cfgPath)
	code, body := call(t, lone, cf.tokens["admin"], "GET", "/v1/cluster", nil)
	if code != 200 || strings.Count(string(body), `"addr"`) != 1 {
		t.Fatalf("the recovered node's membership: %d %s", code, body)
	}
	if code, body := call(t, lone, cf.tokens["alice"], "POST", "/v1/query", map[string]string{"sql": "SELECT COUNT(*) AS c FROM f.people"}); code != 200 {
		t.Fatalf("an audited query on the recovered node: %d %s", code, body)
	}
	if s, _ := head(); s <= seq {
		t.Fatalf("the query on the recovered node was not audited after record %d", seq)
	}
	l, err := dp.OpenLedger(filepath.Join(cf.dir, "n1", "privacy-ledger.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if eps, _ := l.Remaining("bob", time.Now(), "month", 100, 1e-5); eps != 99.5 {
		t.Fatalf("after recovery bob has %v left, want 99.5 (charged once)", eps)
	}
}
