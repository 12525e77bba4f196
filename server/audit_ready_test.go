package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"lienthong/engine"
)

// brokenAudit is an observer whose log has failed (a full disk).
type brokenAudit struct{}

var errDiskFull = errors.New("write /var/lib/lienthong/audit.log: no space left on device")

func (brokenAudit) Begin(context.Context, *engine.Attempt) error { return errDiskFull }
func (brokenAudit) End(context.Context, *engine.Attempt) error   { return errDiskFull }
func (brokenAudit) Healthy() error                               { return errDiskFull }

// With the audit log failed, queries are refused as LT-AUDIT (503) without
// the log's path, and /readyz says the node cannot serve.
func TestAuditFailureIsReportedAndFailsClosed(t *testing.T) {
	eng, err := engine.New(context.Background(), fixtureConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	eng.WaitCatalog(context.Background())
	eng.SetObserver(brokenAudit{})
	ts := startServer(t, eng, nil)
	r := post(t, nil, ts.HTTPURL()+"/v1/query", testToken, `{"sql": "SELECT COUNT(*) FROM d.small"}`)
	e := wantError(t, r, http.StatusServiceUnavailable, "LT-AUDIT")
	if strings.Contains(e.Message, "/var/lib") || strings.Contains(e.Message, "no space") {
		t.Errorf("the error shows the log's path or cause: %s", e.Message)
	}
	resp, err := http.Get(ts.HTTPURL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct{ Status, Audit string }
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	if resp.StatusCode != http.StatusServiceUnavailable || ready.Audit != "failed" {
		t.Errorf("/readyz with a failed audit log: %d %+v", resp.StatusCode, ready)
	}
}
