package server

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

	"lienthong/audit"
	"lienthong/audit/chain"
	"lienthong/config"
	"lienthong/engine"
)

// "other" is the operator; "analyst" reads tables and may not audit.
const auditPolicy = `
[[purposes]]
name = "STATS"

[[roles]]
name = "reader"

[[roles]]
name = "operator"
operations = ["audit"]

[[principals]]
name = "analyst"
agency = "bhxh"
roles = ["reader"]

[[principals]]
name = "other"
agency = "yte"
roles = ["operator"]

[[grants]]
role = "reader"
purposes = ["STATS"]
source = "d"
table = "small"
`

// auditServer is a server over an engine with that policy and an audit log.
func auditServer(t *testing.T) (*testServer, string) {
	t.Helper()
	testEngine(t) // the fixture
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(pol, []byte(auditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("policy = %q\n\n[[sources]]\nname = \"d\"\nkind = \"duckdb\"\npath = %q\n", pol, filepath.Join(fixtureDir, "d.duckdb"))
	cfg, err := config.Parse(filepath.Join(dir, "lienthong.toml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng.WaitCatalog(context.Background())
	keys, err := chain.NewKeys([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	lg, err := audit.Open(audit.Options{Path: logPath, Keys: keys, Node: "t", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetObserver(lg)
	ts := startServer(t, eng, nil)
	ts.SetAudit(AuditAccess{Log: logPath, Keys: keys})
	t.Cleanup(func() { lg.Close(); eng.Close() })
	return ts, logPath
}

func bearer(t *testing.T, method, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(HeaderPurpose, "STATS")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestAuditEndpoints(t *testing.T) {
	ts, logPath := auditServer(t)
	base := ts.HTTPURL()
	// The analyst runs one query that succeeds and one that is denied.
	if st, _, body := bearer(t, "POST", base+"/v1/query", testToken, "SELECT COUNT(*) AS n FROM d.small"); st != 200 {
		t.Fatalf("query: %d %s", st, body)
	}
	if st, _, _ := bearer(t, "POST", base+"/v1/query", testToken, "SELECT COUNT(*) FROM d.big"); st != 403 {
		t.Fatalf("a query on an ungranted table: %d, want 403", st)
	}

	// The analyst may not read the log or the report, with a token as with
	// the console.
	for _, path := range []string{"/v1/audit", "/v1/audit/verify", "/v1/audit/attempts/abcdefgh", "/v1/report?period=2026-H2"} {
		if st, _, body := bearer(t, "GET", base+path, testToken, ""); st != 403 || !strings.Contains(body, CodeForbidden) {
			t.Fatalf("GET %s as the analyst: %d %s", path, st, body)
		}
	}

	type result struct {
		Attempts []auditAttemptJSON `json:"attempts"`
		Matched  int                `json:"matched"`
		Trunc    bool               `json:"truncated"`
	}
	search := func(q string) result {
		t.Helper()
		st, _, body := bearer(t, "GET", base+"/v1/audit?"+q, otherToken, "")
		if st != 200 {
			t.Fatalf("GET /v1/audit?%s: %d %s", q, st, body)
		}
		var r result
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	all := search("principal=analyst")
	if all.Matched != 2 || len(all.Attempts) != 2 || all.Attempts[0].Outcome != "denied" || all.Attempts[1].Outcome != "succeeded" {
		t.Fatalf("the analyst's attempts, newest first: %+v", all)
	}
	if r := search("principal=analyst&outcome=denied&code=LT-DENIED"); r.Matched != 1 || r.Attempts[0].Code != "LT-DENIED" {
		t.Fatalf("denied attempts: %+v", r)
	}
	if r := search("principal=analyst&source=d&outcome=succeeded&purpose=STATS&agency=BHXH"); r.Matched != 1 || r.Attempts[0].Rows != 1 {
		t.Fatalf("succeeded on d: %+v", r)
	}
	if r := search("principal=analyst&limit=1"); len(r.Attempts) != 1 || !r.Trunc || r.Attempts[0].Outcome != "denied" {
		t.Fatalf("limit=1: %+v", r)
	}
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Format("2006-01-02")
	if r := search("principal=analyst&from=" + tomorrow); r.Matched != 0 {
		t.Fatalf("from tomorrow: %+v", r)
	}
	if r := search("principal=nobody"); r.Matched != 0 || r.Attempts == nil {
		t.Fatalf("no match: %+v", r)
	}
	if st, _, _ := bearer(t, "GET", base+"/v1/audit?from=yesterday", otherToken, ""); st != 400 {
		t.Fatalf("a bad time: %d, want 400", st)
	}

	// One attempt's records, with their hashes.
	id := all.Attempts[1].Attempt
	st, _, body := bearer(t, "GET", base+"/v1/audit/attempts/"+id, otherToken, "")
	if st != 200 || !strings.Contains(body, `"kind":"begin"`) || !strings.Contains(body, `"kind":"end"`) || !strings.Contains(body, `"hash":"`) {
		t.Fatalf("attempt %s: %d %s", id, st, body)
	}

	// Verification: intact, then a changed byte is found.
	verify := func() map[string]any {
		t.Helper()
		st, _, body := bearer(t, "GET", base+"/v1/audit/verify", otherToken, "")
		if st != 200 {
			t.Fatalf("verify: %d %s", st, body)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := verify(); v["tampered"] != false || v["head"] == nil || v["head_authenticated"] != true {
		t.Fatalf("verify an intact log: %v", v)
	}

	// The report, with its own CSP.
	period := fmt.Sprintf("%d-H%d", time.Now().Year(), 1+int(time.Now().Month()-1)/6)
	st, hdr, body := bearer(t, "GET", base+"/v1/report?download=1&period="+period, otherToken, "")
	if st != 200 || !strings.Contains(body, "<h1>") || hdr.Get("Content-Security-Policy") != reportCSP || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("report: %d %v %.200s", st, hdr, body)
	}
	if st, _, _ := bearer(t, "GET", base+"/v1/report?period=someday", otherToken, ""); st != 400 {
		t.Fatalf("a bad period: %d, want 400", st)
	}

	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), `"principal":"analyst"`)
	data[i+len(`"principal":"`)] = 'A'
	if err := os.WriteFile(logPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if v := verify(); v["tampered"] != true {
		t.Fatalf("verify a changed log: %v", v)
	}
}
