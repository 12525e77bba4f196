package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/engine"
	"lienthong/internal/testenv"
	"lienthong/planner"
)

// pgEngine makes a fresh PostgreSQL database with a small citizens table
// and a view that sleeps, plus a SQLite-free second source that is down.
func pgEngine(t *testing.T) (*engine.Engine, string) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"CREATE TABLE citizens (pin text PRIMARY KEY, full_name text, birth_date date)",
		"INSERT INTO citizens SELECT lpad(g::text, 12, '0'), 'Nguyễn Văn ' || g, DATE '1990-01-01' + g FROM generate_series(1, 500) g",
		"CREATE VIEW slow AS SELECT pin, pg_sleep(30)::text AS z FROM citizens",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	toml := fmt.Sprintf(`
[[sources]]
name = "dancu"
kind = "postgres"
dsn = %q

[[sources]]
name = "other"
kind = "postgres"
dsn = %q

[[sources]]
name = "offline"
kind = "postgres"
dsn = "postgres://postgres@127.0.0.1:1/none"
connect_timeout = "1s"
`, dsn, dsn)
	e := tomlEngine(t, t.TempDir(), toml)
	return e, dsn
}

func TestSourceDownAffectsOnlyItsQueries(t *testing.T) {
	e, _ := pgEngine(t)
	var off bool
	for _, s := range e.WaitCatalog(context.Background()).Sources {
		if s.Name == "offline" {
			off = s.Unavailable != ""
		}
	}
	if !off {
		t.Fatal("the offline source should be listed as unavailable")
	}
	start := time.Now()
	_, err := rows(t, e, "SELECT x FROM offline.t", engine.QueryOptions{})
	var pe *planner.Error
	if !errors.As(err, &pe) || pe.Code != planner.CodeUnavailable || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("want LT-SOURCE-DOWN naming offline, got %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("a down source must fail fast, took %s", time.Since(start))
	}
	got, err := rows(t, e, "SELECT COUNT(*) FROM dancu.citizens", engine.QueryOptions{})
	if err != nil || len(got) != 1 || got[0] != "500" {
		t.Fatalf("queries on other sources must run: %v %v", got, err)
	}
}

// Cancelling a query stops the statement in PostgreSQL, not only the client.
func TestCancelStopsSourceQuery(t *testing.T) {
	e, dsn := pgEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	// A cross-source join, so the slow view is read as a remote stream.
	// DuckDB computes the residual before returning, so the query runs
	// (and is cancelled) inside Query itself.
	done := make(chan error, 1)
	go func() {
		res, err := e.Query(ctx, "SELECT s.pin FROM dancu.slow s JOIN other.citizens c ON c.pin = s.pin", engine.QueryOptions{})
		if err == nil {
			for res.Next() {
			}
			err = res.Err()
			res.Release()
		}
		done <- err
	}()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	active := func() int {
		var n int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%slow%' AND state = 'active' AND pid <> pg_backend_pid()").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for active() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow query never started in PostgreSQL")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled query must report an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the query did not stop after cancel")
	}
	deadline = time.Now().Add(5 * time.Second)
	for active() != 0 {
		if time.Now().After(deadline) {
			var q, st string
			_ = conn.QueryRow(context.Background(), "SELECT query, state FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%slow%' AND state = 'active' AND pid <> pg_backend_pid() LIMIT 1").Scan(&q, &st)
			t.Fatalf("the PostgreSQL query is still in pg_stat_activity after cancel: %s (%s)", q, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReadOnlyAndExplain(t *testing.T) {
	e, _ := pgEngine(t)
	for _, sql := range []string{"DELETE FROM dancu.citizens", "INSERT INTO dancu.citizens VALUES ('1')", "DROP TABLE dancu.citizens", "UPDATE dancu.citizens SET pin = '1'"} {
		_, err := rows(t, e, sql, engine.QueryOptions{})
		var pe *planner.Error
		if !errors.As(err, &pe) || pe.Code != planner.CodeReadOnly {
			t.Errorf("%s: want LT-READONLY, got %v", sql, err)
		}
	}
	// The filtered side's 349 pins reduce the other side's scan (semi-join
	// reduction), so it sends 349 of its 500 rows.
	out, err := e.Explain(context.Background(), "SELECT c.full_name FROM dancu.citizens c JOIN other.citizens o ON o.pin = c.pin WHERE c.birth_date > '1990-06-01'", true, engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Residual runs in DuckDB", `WHERE ("c"."birth_date" > DATE '1990-06-01')`, "read 349 rows", "scan reduced by 349 keys", "HASH_JOIN", "349 rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("EXPLAIN ANALYZE lacks %q:\n%s", want, out)
		}
	}
}

// Concurrent cross-source queries share the residual DuckDB: each must
// read its own streams.
func TestConcurrentResiduals(t *testing.T) {
	e, _, _ := genEngine(t, 0.002, 13)
	q := "SELECT d.pin, c.full_name FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin ORDER BY d.pin"
	want, err := rows(t, e, q, engine.QueryOptions{})
	if err != nil || len(want) == 0 {
		t.Fatalf("%v %d", err, len(want))
	}
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		go func() {
			got, err := rows(t, e, q, engine.QueryOptions{})
			if err == nil && strings.Join(got, "\n") != strings.Join(want, "\n") {
				err = fmt.Errorf("got %d rows, want %d", len(got), len(want))
			}
			errs <- err
		}()
	}
	for i := 0; i < 16; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
