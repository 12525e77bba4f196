package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"lienthong/engine"
	"lienthong/internal/testenv"
	"lienthong/server"
)

// slowPostgres makes a database with 500 citizens and a view that sleeps
// 30 s per row, and a config naming it "dancu"; it returns the config
// path and an admin connection to watch pg_stat_activity.
func slowPostgres(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, stmt := range []string{
		"CREATE TABLE citizens (pin text PRIMARY KEY, full_name text)",
		"INSERT INTO citizens SELECT lpad(g::text, 12, '0'), 'Nguyễn Văn ' || g FROM generate_series(1, 500) g",
		"CREATE VIEW slow AS SELECT pin, pg_sleep(30)::text AS z FROM citizens",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "lienthong.toml")
	toml := fmt.Sprintf("[[sources]]\nname = \"dancu\"\nkind = \"postgres\"\ndsn = %q\n", dsn)
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, conn
}

// whenSlowRuns calls f once the slow view's query is running in PostgreSQL.
func whenSlowRuns(t *testing.T, conn *pgx.Conn, f func()) {
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%slow%' AND state = 'active' AND pid <> pg_backend_pid()").Scan(&n)
			if err == nil && n > 0 {
				f()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

// Ctrl-C (a real SIGINT to this process) during a query in the shell
// cancels that query only: it fails with LT-CANCELLED and the next query
// returns its rows.
func TestShellCtrlCCancelsOnlyTheQuery(t *testing.T) {
	cfg, conn := slowPostgres(t)
	n, _, err := openNode(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var out, errw bytes.Buffer
	s := &session{db: localBackend{eng: n.Engine}, out: &out, format: "csv"}
	in := strings.NewReader("SELECT pin, z FROM dancu.slow;\nSELECT COUNT(*) AS n FROM dancu.citizens;\nSELECT COUNT(*) AS m FROM dancu.citizens;\n")
	// The query's context (and its SIGINT handler) exists before
	// PostgreSQL sees the query, so the signal cannot kill the test.
	whenSlowRuns(t, conn, func() { _ = syscall.Kill(os.Getpid(), syscall.SIGINT) })
	start := time.Now()
	err = runShell(context.Background(), s, nil, in, &errw, false)
	if time.Since(start) > 20*time.Second {
		t.Fatalf("the slow query was not cancelled (took %s)", time.Since(start))
	}
	if err != errReported || !strings.Contains(errw.String(), "LT-CANCELLED") || !strings.Contains(errw.String(), "1 statement(s) failed") {
		t.Errorf("want one statement failed with LT-CANCELLED; err %v, stderr:\n%s", err, errw.String())
	}
	if got := out.String(); !strings.Contains(got, "n\n500\n") || !strings.Contains(got, "m\n500\n") {
		t.Errorf("the queries after Ctrl-C must run; stdout:\n%s", got)
	}
}

// `lienthong query` interrupted fails with LT-CANCELLED (non-zero exit)
// instead of printing a partial result as if it were complete.
func TestQueryCommandCancelled(t *testing.T) {
	cfg, conn := slowPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	whenSlowRuns(t, conn, cancel)
	err := cmdQuery(ctx, []string{"--config", cfg, "--format", "csv", "SELECT pin, z FROM dancu.slow"}, &cliAudit{}, false)
	if err == nil || !strings.Contains(err.Error(), "LT-CANCELLED") || engine.ErrorCode(err) != "LT-CANCELLED" {
		t.Fatalf("want LT-CANCELLED, got %v", err)
	}
}

// The same against a server (--server): Ctrl-C cancels the HTTP request
// of the running query only. The server here is a stand-in that never
// answers "slow" and answers anything else with one row.
func TestRemoteShellCtrlCCancelsOnlyTheQuery(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ SQL string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Trailer", server.HeaderStatus)
		w.Header().Set("Content-Type", server.ContentTypeArrow)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if strings.Contains(body.SQL, "slow") {
			started <- struct{}{}
			<-r.Context().Done()
			return
		}
		schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
		b := array.NewInt64Builder(memory.DefaultAllocator)
		b.Append(500)
		rec := array.NewRecordBatch(schema, []arrow.Array{b.NewArray()}, 1)
		iw := ipc.NewWriter(w, ipc.WithSchema(schema))
		_ = iw.Write(rec)
		_ = iw.Close()
		w.Header().Set(server.HeaderStatus, "ok")
	}))
	defer srv.Close()
	db, err := (&remoteFlags{server: srv.URL}).backend(engine.Session{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-started
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()
	var out, errw bytes.Buffer
	s := &session{db: db, out: &out, format: "csv"}
	in := strings.NewReader("SELECT slow FROM x.y;\nSELECT 1 AS n;\n")
	err = runShell(context.Background(), s, nil, in, &errw, false)
	if err != errReported || !strings.Contains(errw.String(), "LT-CANCELLED") || !strings.Contains(errw.String(), "1 statement(s) failed") {
		t.Errorf("want one statement failed with LT-CANCELLED; err %v, stderr:\n%s", err, errw.String())
	}
	if !strings.Contains(out.String(), "n\n500\n") {
		t.Errorf("the query after Ctrl-C must run; stdout:\n%s", out.String())
	}
}
