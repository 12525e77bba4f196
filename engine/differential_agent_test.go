package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lienthong/agent/agenttest"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/internal/attacks"
)

// TestDifferentialThroughAgents is the differential layout where every
// source of the servers' layout (PostgreSQL, MariaDB, SQLite, DuckDB
// files) is reached through an agency's agent instead: the hand-written
// and a sample of the random queries give the oracle's rows, with
// pushdown and with semi-join reduction forced (key sets in the agents'
// requests).
func TestDifferentialThroughAgents(t *testing.T) {
	f := setup(t)
	srv, err := config.Load(f.serversConfig)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range srv.Sources {
		r := agenttest.Start(t, agenttest.Options{Source: s, Agency: s.Name})
		fmt.Fprintf(&b, "[[sources]]\nname = %q\nkind = \"agent\"\naddress = %q\nca_file = %q\ncert_file = %q\nkey_file = %q\n",
			s.Name, r.Addr, r.Engine.CA, r.Engine.Cert, r.Engine.Key)
		if len(s.Tables) > 0 {
			b.WriteString("[sources.tables]\n")
			for name, tc := range s.Tables {
				fmt.Fprintf(&b, "%s = { pin_column = %q }\n", name, tc.PINColumn)
			}
		}
		b.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "agents.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	agents := attacks.OpenEngine(t, path)
	snap := agents.WaitCatalog(t.Context())
	for _, s := range snap.Sources {
		if s.Unavailable != "" {
			t.Fatalf("source %s through its agent: %s", s.Name, s.Unavailable)
		}
		if s.Kind != catalog.Agent {
			t.Fatalf("source %s is %s, not reached through an agent", s.Name, s.Kind)
		}
	}
	runs := []diffRun{
		{"agents+pushdown", agents, withPurpose(engine.QueryOptions{})},
		{"agents+reduce", agents, withPurpose(forceReduce)},
	}
	reduced := 0
	for i, q := range handWritten {
		t.Run("hand/"+strconv.Itoa(i), func(t *testing.T) {
			if compareRuns(t, f, q, runs) {
				reduced++
			}
		})
	}
	if reduced < 10 {
		t.Errorf("semi-join reduction through agents was planned for %d hand-written queries, want at least 10", reduced)
	}
	g := newQueryGen(t, f.oracle, 43)
	for i := range 80 {
		q := g.next()
		t.Run("random/"+strconv.Itoa(i), func(t *testing.T) { compareRuns(t, f, q, runs) })
	}
}

// withPurpose declares the purpose the test agents allow.
func withPurpose(o engine.QueryOptions) engine.QueryOptions {
	o.Session.Purpose = agenttest.Purpose
	return o
}
