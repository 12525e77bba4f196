package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/audit/chain"
	"lienthong/bench/gen"
	"lienthong/config"
)

// TestAuditedCLIQuery runs `lienthong query` with the audit flags over
// generated data and checks the log: who asked, what, no PIN in clear,
// and that `audit verify` and `audit search --pin` work on it.
func TestAuditedCLIQuery(t *testing.T) {
	dir := t.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Scale: 0.002, Seed: 5, Out: dir}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "lienthong.toml")
	key := filepath.Join(dir, "audit.key")
	logPath := filepath.Join(dir, "audit.log")
	if err := cmdAuditKeygen([]string{"--out", key}); err != nil {
		t.Fatal(err)
	}
	const pin = "001090000007"
	args := []string{"--config", cfg, "--audit-log", logPath, "--audit-key=" + key, "--agency", "BHXH", "--purpose", "HEALTH_CARD_UNDER6", "--case", "HS-42",
		"--format", "csv", "SELECT COUNT(*) FROM dancu.citizens WHERE pin <> '" + pin + "'"}
	stdout := os.Stdout
	os.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	err := withAudit(args, func(a []string, au *cliAudit) error { return cmdQuery(context.Background(), a, au, false) })
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(pin)) {
		t.Fatal("a PIN in clear in the audit log")
	}
	var end *chain.Record
	rd, _ := chain.OpenReader(logPath)
	rd.Iterate(0, func(r *chain.Record) error {
		if r.Kind == chain.KindEnd {
			end = r
		}
		return nil
	})
	if end == nil || end.Outcome != "succeeded" || end.Agency != "BHXH" || end.CaseID != "HS-42" || !strings.HasPrefix(end.Principal, "local:") || end.Rows != 1 {
		t.Fatalf("end record: %+v", end)
	}
	if err := cmdAuditVerify([]string{"--log", logPath, "--audit-key", key, "--quiet"}); err != nil {
		t.Fatal(err)
	}
	// Tamper: the verify command fails (main exits 1).
	b = bytes.Replace(b, []byte(`"agency":"BHXH"`), []byte(`"agency":"BYT"`), 1)
	os.WriteFile(logPath, b, 0o640)
	os.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	err = cmdAuditVerify([]string{"--log", logPath, "--audit-key", key})
	os.Stdout = stdout
	if !errors.Is(err, errReported) {
		t.Fatalf("verify of a tampered log: %v", err)
	}
}

func TestWithAuditStripsFlags(t *testing.T) {
	var got []string
	var au *cliAudit
	err := withAudit([]string{"--config", "x.toml", "--agency=BTP", "--purpose", "P", "-f", "q.sql", "--format", "csv"}, func(a []string, c *cliAudit) error {
		got, au = a, c
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "--config x.toml -f q.sql --format csv" || au.session.Agency != "BTP" || au.session.Purpose != "P" || !strings.HasPrefix(au.session.Principal, "local:") {
		t.Fatalf("args %q, session %+v", got, au.session)
	}
	if err := withAudit([]string{"--audit-key", "k"}, func([]string, *cliAudit) error { return nil }); err == nil {
		t.Fatal("--audit-key without --audit-log must be refused")
	}
	// With --config, the config's [audit] table may give the log; without
	// one the command refuses when it opens its node.
	if _, err := (&cliAudit{keyFile: "k"}).table(nil); err == nil {
		t.Fatal("--audit-key without --audit-log or an [audit] table must be refused")
	}
	if a, err := (&cliAudit{keyFile: "k2"}).table(&config.Audit{Log: "l", KeyFile: "k1", NodeID: "n"}); err != nil || *a != (config.Audit{Log: "l", KeyFile: "k2", NodeID: "n"}) {
		t.Fatalf("the table's log with the flag's key: %+v %v", a, err)
	}
}

// audit search --limit N stops after N attempts in every format.
func TestAuditSearchLimit(t *testing.T) {
	dir := t.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Scale: 0.002, Seed: 5, Out: dir}); err != nil {
		t.Fatal(err)
	}
	logPath, key := filepath.Join(dir, "audit.log"), filepath.Join(dir, "audit.key")
	if err := cmdAuditKeygen([]string{"--out", key}); err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	defer func() { os.Stdout = stdout }()
	os.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	for i := 0; i < 3; i++ {
		args := []string{"--config", filepath.Join(dir, "lienthong.toml"), "--audit-log", logPath, "--audit-key=" + key, "--format", "csv", "SELECT COUNT(*) FROM dancu.citizens"}
		if err := withAudit(args, func(a []string, au *cliAudit) error { return cmdQuery(context.Background(), a, au, false) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, format := range []string{"json", "table"} {
		r, w, _ := os.Pipe()
		os.Stdout = w
		err := cmdAuditSearch([]string{"--log", logPath, "--format", format, "--limit", "2"})
		w.Close()
		os.Stdout = stdout
		out, _ := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		want := 2
		if format == "table" {
			want = 3 // the header
		}
		if len(lines) != want {
			t.Errorf("--format %s --limit 2: %d lines:\n%s", format, len(lines), out)
		}
	}
}
