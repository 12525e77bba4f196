// Package agenttest starts a real agency agent for tests: on 127.0.0.1
// ports of its own, with certificates from internal/testpki, over a
// source the test provides, stopped when the test ends.
//
//	r := agenttest.Start(t, agenttest.Options{Source: src})       // every table and column exported
//	r := agenttest.Start(t, agenttest.Options{Source: src, TOML: `
//	[[engines]]
//	name = "` + agenttest.EngineCN + `"
//	purposes = ["audit"]
//	[[exports]]
//	table = "citizens"
//	columns = ["pin", "full_name"]
//	pin_column = "pin"`})
//
// Connect to r.Addr with r.Engine's files (CA: the agent's CA; Cert, Key:
// the engine's client certificate, common name EngineCN). r.Other is a
// certificate of the same CA for another common name (OtherCN, listed in
// no [[engines]] unless the test's TOML lists it); r.Foreign is one from
// a different CA, which TLS refuses. r.LogPath is the request log.
package agenttest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/agent"
	"lienthong/agent/wire"
	"lienthong/config"
	"lienthong/connectors/open"
	"lienthong/internal/testpki"
)

// The engines' certificate common names, and the purpose the default
// configuration allows.
const (
	EngineCN = "central-engine"
	OtherCN  = "other-engine"
	Purpose  = "testing"
)

// Options say what the agent serves.
type Options struct {
	// Source is the agency's database (name, kind, dsn or path, schema,
	// statement_timeout); Start writes it as the file's [source]. Its
	// pin_column (default "pin") is used only by the default exports.
	Source config.Source
	// TOML is the rest of agency.toml: [[engines]] and [[exports]] and
	// top-level settings (replay_window, max_streams); Start adds agency,
	// [listen], [tls], [source] and [log]. Empty: engine EngineCN may read
	// every column of every table of the source for Purpose, PIN columns
	// being the source's pin_column where a table has it.
	TOML string
	// Agency names it; default "agency".
	Agency string
	// Purposes the default configuration lets EngineCN declare; default
	// [Purpose]. (A request without a purpose is always refused.)
	Purposes []string
	// LogBodies turns on body logging.
	LogBodies bool
}

// Running is a started agent.
type Running struct {
	Agent      *agent.Agent
	Addr       string // Flight endpoint, 127.0.0.1:port
	HealthAddr string // health endpoint, 127.0.0.1:port
	Engine     testpki.Files
	Other      testpki.Files
	Foreign    testpki.Files
	LogPath    string
	ConfigPath string
	// Server is the agent's [tls] files: Cert and Key its certificate,
	// CA its client_ca_file (CA's certificate). Tests of Reload write
	// new ones over them.
	Server testpki.Files
	// CA is the CA that signs the agent's and the engines' certificates.
	CA *testpki.CA
}

// Start starts an agent; it is closed in t.Cleanup.
func Start(t testing.TB, opt Options) *Running {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "lienthong test engines and agents")
	server := ca.Write(t, dir, "agent", ca.Issue(t, "agent"))
	r := &Running{CA: ca, Server: server, LogPath: filepath.Join(dir, "requests.log"), ConfigPath: filepath.Join(dir, "agency.toml")}
	r.Engine = ca.Write(t, dir, "engine", ca.Issue(t, EngineCN))
	r.Other = ca.Write(t, dir, "other", ca.Issue(t, OtherCN))
	foreign := testpki.NewCA(t, "someone else's CA")
	r.Foreign = foreign.Write(t, dir, "foreign", foreign.Issue(t, EngineCN))
	r.Foreign.CA = server.CA // the client still trusts the agent; the agent does not trust it
	if opt.Agency == "" {
		opt.Agency = "agency"
	}
	rest := opt.TOML
	if rest == "" {
		if len(opt.Purposes) == 0 {
			opt.Purposes = []string{Purpose}
		}
		rest = exportAll(t, opt.Source, opt.Purposes)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "agency = %q\n", opt.Agency)
	fmt.Fprintf(&b, "\n[listen]\nflight = \"127.0.0.1:0\"\nhealth = \"127.0.0.1:0\"\n")
	fmt.Fprintf(&b, "\n[tls]\ncert_file = %q\nkey_file = %q\nclient_ca_file = %q\n", server.Cert, server.Key, server.CA)
	fmt.Fprintf(&b, "\n[log]\npath = %q\nlog_bodies = %v\n", r.LogPath, opt.LogBodies)
	b.WriteString("\n" + sourceTOML(opt.Source) + "\n")
	// The caller's part last: its [[tables]] must not swallow ours. Top
	// level keys it sets go before every table.
	top, tables := splitTop(rest)
	text := top + b.String() + tables
	if err := os.WriteFile(r.ConfigPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.Load(r.ConfigPath)
	if err != nil {
		t.Fatalf("agenttest: %v\n%s", err, text)
	}
	// Warnings and errors only: a test's output is not the agent's info.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := agent.Open(context.Background(), cfg, agent.Options{Logger: logger})
	if err != nil {
		t.Fatalf("agenttest: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("agenttest: closing the agent: %v", err)
		}
	})
	r.Agent, r.Addr, r.HealthAddr = a, a.FlightAddr(), a.HealthAddr()
	return r
}

// Edit replaces the first old in agency.toml with new (for Reload
// tests); the test fails when old is not in the file.
func (r *Running) Edit(t testing.TB, old, new string) {
	t.Helper()
	data, err := os.ReadFile(r.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("agenttest: %s has no %q:\n%s", r.ConfigPath, old, data)
	}
	if err := os.WriteFile(r.ConfigPath, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// splitTop separates the top-level keys of a TOML text from its tables.
func splitTop(s string) (top, tables string) {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "[") {
			return strings.Join(lines[:i], "\n") + "\n", strings.Join(lines[i:], "\n")
		}
	}
	return s + "\n", ""
}

func sourceTOML(s config.Source) string {
	var b strings.Builder
	b.WriteString("[source]\n")
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s = %s\n", k, strconv.Quote(v))
		}
	}
	kv("name", s.Name)
	kv("kind", string(s.Kind))
	kv("dsn", s.DSN)
	kv("dsn_env", s.DSNEnv)
	kv("path", s.Path)
	kv("schema", s.Schema)
	if s.StatementTimeout.Duration > 0 {
		kv("statement_timeout", s.StatementTimeout.String())
	}
	return b.String()
}

// exportAll is the default configuration: everything, to EngineCN.
func exportAll(t testing.TB, s config.Source, purposes []string) string {
	t.Helper()
	if s.PINColumn == "" {
		s.PINColumn = "pin"
	}
	conn, err := open.Source(context.Background(), s.WithDefaults())
	if err != nil {
		t.Fatalf("agenttest: opening the source: %v", err)
	}
	defer conn.Close()
	tables, err := conn.Tables(context.Background())
	if err != nil {
		t.Fatalf("agenttest: listing the source's tables: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[[engines]]\nname = %q\npurposes = [", EngineCN)
	for i, p := range purposes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(p))
	}
	b.WriteString("]\n")
	for _, tb := range tables {
		fmt.Fprintf(&b, "\n[[exports]]\ntable = %q\ncolumns = [", tb.Name)
		n := 0
		for _, c := range tb.Columns {
			if _, err := wire.TypeName(c.Type); err != nil {
				continue // not exchanged with agents
			}
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(c.Name))
			n++
		}
		b.WriteString("]\n")
		if c := tb.Column(s.PINColumn); c != nil && c.Type != nil && c.Type.ID() == arrow.STRING {
			fmt.Fprintf(&b, "pin_column = %q\n", c.Name)
		}
	}
	return b.String()
}
