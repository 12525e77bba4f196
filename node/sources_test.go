package node_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"lienthong/internal/testenv"
)

// Sources added, replaced and removed through any node's API are in
// force on every node: each connects to them itself and plans against
// the same catalog. A change is checked whole (a dsn with a password is
// refused at its line, without repeating it), needs the sources
// operation, and a restarted node keeps the cluster's sources rather than
// its own file's (a seed).
func TestClusterSourcesAPI(t *testing.T) {
	dsn := testenv.PostgresWith(t, "CREATE TABLE people (pin text PRIMARY KEY, name text)",
		"INSERT INTO people VALUES ('079000000001', 'pg-one'), ('079000000002', 'pg-two')")

	cf, nodes := threeNodes(t)
	admin, alice := cf.tokens["admin"], cf.tokens["alice"]
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	add := map[string]any{"add": map[string]string{"file": "pg.toml", "text": fmt.Sprintf("[[sources]]\nname = \"pg\"\nkind = \"postgres\"\ndsn = %q\n", dsn)}}

	if code, body := call(t, n2, alice, "POST", "/v1/sources", add); code != 403 || errCode(body) != "LT-FORBIDDEN" {
		t.Fatalf("alice adding a source: %d %s", code, body)
	}
	secret := map[string]any{"add": map[string]string{"file": "pw.toml", "text": "# a source\n[[sources]]\nname = \"pw\"\nkind = \"postgres\"\ndsn = \"postgres://postgres:s3cr3t-pw@127.0.0.1:5432/x\"\n"}}
	code, body := call(t, n2, admin, "POST", "/v1/sources", secret)
	var e struct {
		Code, Message string
		Line          int
	}
	if code != 400 || json.Unmarshal(body, &e) != nil || e.Code != "LT-BAD-REQUEST" || e.Line != 5 || !strings.Contains(e.Message, "dsn_env") || strings.Contains(string(body), "s3cr3t") {
		t.Fatalf("a dsn with a password: %d %s", code, body)
	}

	// Added on a follower, in force everywhere.
	if code, body := call(t, n2, admin, "POST", "/v1/sources", add); code != 200 {
		t.Fatalf("adding pg on n2: %d %s", code, body)
	}
	q := map[string]string{"sql": "SELECT name FROM pg.people ORDER BY pin"}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("n%d reads pg.people", i+1), func() bool {
			code, body := call(t, n, alice, "POST", "/v1/query", q)
			return code == 200 && strings.Contains(string(body), `"pg-one"`) && strings.Contains(string(body), `"pg-two"`)
		})
	}
	code, body = call(t, n3, admin, "GET", "/v1/sources", nil)
	var shown struct{ File, Text string }
	if code != 200 || json.Unmarshal(body, &shown) != nil || !strings.Contains(shown.Text, `name = "pg"`) || !strings.Contains(shown.Text, `name = "f"`) {
		t.Fatalf("sources on n3: %d %s", code, body)
	}
	// Adding it again is refused as a whole, naming it.
	if code, body := call(t, n1, admin, "POST", "/v1/sources", add); code != 400 || !strings.Contains(string(body), `\"pg\" is already in force`) {
		t.Fatalf("adding pg twice: %d %s", code, body)
	}

	// The seed source f removed on n3: gone from every node's catalog and
	// from queries.
	if code, body := call(t, n3, admin, "POST", "/v1/sources", map[string]any{"remove": []string{"f"}}); code != 200 {
		t.Fatalf("removing f: %d %s", code, body)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("n%d no longer lists f", i+1), func() bool {
			return n.Engine.Catalog().Source("f") == nil && strings.Join(n.Engine.SourceNames(), ",") == "pg"
		})
		if code, body := call(t, n, alice, "POST", "/v1/query", map[string]string{"sql": "SELECT name FROM f.people"}); code == 200 {
			t.Fatalf("n%d answers a query of the removed f: %s", i+1, body)
		}
	}

	// n3 restarted: its file lists f, but the cluster's sources stay.
	pinForRestart(t, n3)
	n3.close(t)
	back := openNode(t, n3.cfgPath)
	if got := strings.Join(back.Engine.SourceNames(), ","); got != "pg" {
		t.Fatalf("restarted n3's sources: %s", got)
	}
	eventually(t, "restarted n3 reads pg.people", func() bool {
		code, body := call(t, back, alice, "POST", "/v1/query", q)
		return code == 200 && strings.Contains(string(body), `"pg-two"`)
	})
}
