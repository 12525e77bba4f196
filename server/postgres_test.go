package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/config"
	"lienthong/engine"
	"lienthong/internal/testenv"
)

// TestCancelReachesPostgres: a client that goes away (HTTP disconnect,
// Flight cancel) or a query timeout stops the PostgreSQL statement.
func TestCancelReachesPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		`CREATE TABLE t (pin varchar(12) PRIMARY KEY)`,
		`INSERT INTO t VALUES ('001000000001'), ('001000000002'), ('001000000003')`,
		`CREATE VIEW slow AS SELECT pin, pg_sleep(30)::text AS z FROM t`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse("pg.toml", []byte(fmt.Sprintf("[[sources]]\nname = \"pg\"\nkind = \"postgres\"\ndsn = %q\n", dsn)))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ts := startServer(t, eng, nil)

	sleeping := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND wait_event = 'PgSleep'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(what string, want func(int) bool, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < limit {
			if want(sleeping()) {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: still %d sleeping statements after %s", what, sleeping(), limit)
		return 0
	}

	t.Run("http disconnect", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		req, _ := http.NewRequestWithContext(cctx, "POST", ts.HTTPURL()+"/v1/query", strings.NewReader("SELECT pin, z FROM pg.slow"))
		req.Header.Set("Authorization", "Bearer "+testToken)
		done := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		waitFor("start", func(n int) bool { return n == 1 }, 10*time.Second)
		cancel()
		<-done
		d := waitFor("after disconnect", func(n int) bool { return n == 0 }, 5*time.Second)
		t.Logf("PostgreSQL statement gone %s after the HTTP client disconnected", d.Round(time.Millisecond))
		deadline := time.Now().Add(2 * time.Second)
		for ts.metrics.value(mQueries, "http", "cancelled") != 1 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := ts.metrics.value(mQueries, "http", "cancelled"); got != 1 {
			t.Fatalf("cancelled outcomes: %v", got)
		}
	})
	t.Run("flight cancel", func(t *testing.T) {
		c := flightClient(t, ts.FlightAddr(), nil)
		cctx, cancel := context.WithCancel(withToken(ctx, testToken))
		info, err := c.Execute(cctx, "SELECT pin, z FROM pg.slow")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, _, err := fetch(cctx, c, info); done <- err }()
		waitFor("start", func(n int) bool { return n == 1 }, 10*time.Second)
		cancel()
		<-done
		d := waitFor("after cancel", func(n int) bool { return n == 0 }, 5*time.Second)
		t.Logf("PostgreSQL statement gone %s after the Flight client cancelled", d.Round(time.Millisecond))
	})
	t.Run("timeout", func(t *testing.T) {
		ts2 := startServer(t, eng, func(c *Config) { c.QueryTimeout.Duration = time.Second })
		start := time.Now()
		r := post(t, nil, ts2.HTTPURL()+"/v1/query", testToken, "SELECT pin, z FROM pg.slow")
		wantError(t, r, http.StatusGatewayTimeout, CodeTimeout)
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("timeout answered after %s", el)
		}
		waitFor("after timeout", func(n int) bool { return n == 0 }, 5*time.Second)
	})
}
