package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/engine"
	"lienthong/planner"
)

// bigRows rows of about 120 bytes each: a result of some 13 MB, many
// batches, more than socket buffers hold.
const bigRows = 100_000

// bigTable adds table big of n rows to the database at dsn.
func bigTable(t *testing.T, kind, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	if kind == "postgres" {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE big AS SELECT g AS n, lpad(g::text, 12, '0') AS pin, repeat('x', 100) AS pad FROM generate_series(1, %d) g", n)); err != nil {
			t.Fatal(err)
		}
		return
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE TABLE big (n int, pin varchar(12), pad varchar(100))",
		fmt.Sprintf("INSERT INTO big SELECT seq, LPAD(seq, 12, '0'), REPEAT('x', 100) FROM seq_1_to_%d", n)} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// runningOnServer counts the statements on table big the server still
// runs for lienthong.
func runningOnServer(t *testing.T, kind, dsn string) int {
	t.Helper()
	ctx := context.Background()
	var n int
	if kind == "postgres" {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'lienthong' AND state <> 'idle' AND query LIKE '%big%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE '%big%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// healthyLoad runs queries on the healthy source until stopped and
// reports their worst latency and their errors.
type healthyLoad struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	worst time.Duration
	n     int
	errs  []error
}

func startHealthyLoad(t *testing.T, e *engine.Engine) *healthyLoad {
	h := &healthyLoad{stopc: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			select {
			case <-h.stopc:
				return
			case <-time.After(50 * time.Millisecond):
			}
			d, err := timedRows(t, e, "SELECT COUNT(*) FROM good.t")
			h.n++
			h.worst = max(h.worst, d)
			if err != nil {
				h.errs = append(h.errs, err)
			}
		}
	}()
	return h
}

// check stops the load: every query succeeded, none slower than bound.
func (h *healthyLoad) check(t *testing.T, bound time.Duration) {
	t.Helper()
	close(h.stopc)
	h.wg.Wait()
	for _, err := range h.errs {
		t.Errorf("a query on the healthy source failed meanwhile: %v", err)
	}
	if h.n == 0 {
		t.Error("no query ran on the healthy source meanwhile")
	}
	if h.worst > bound {
		t.Errorf("queries on the healthy source took up to %s meanwhile (bound %s)", h.worst, bound)
	}
}

// baseline is the worst of a few queries on the healthy source, and the
// bound its queries keep while another source fails: the same band,
// generously (the machine is shared).
func baseline(t *testing.T, e *engine.Engine) time.Duration {
	t.Helper()
	var worst time.Duration
	for range 5 {
		d, err := timedRows(t, e, "SELECT COUNT(*) FROM good.t")
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, d)
	}
	return max(time.Second, 5*worst)
}

var (
	pinLike     = regexp.MustCompile(`\d{12}`)
	driverWords = regexp.MustCompile(`(?i)eof|reset|broken pipe|pgconn|pgx|invalid connection|unexpected|sqlstate|mysql error|dial|refused|127\.0\.0\.1|lt_engine`)
)

// checkSourceError asserts err is a registry error naming source slow
// that carries neither data nor a driver's words.
func checkSourceError(t *testing.T, err error, codes ...string) {
	t.Helper()
	msg := err.Error()
	code := engine.ErrorCode(err)
	ok := false
	for _, c := range codes {
		ok = ok || code == c
	}
	if !ok || !strings.HasPrefix(msg, code+":") {
		t.Errorf("error code %s, want one of %v: %s", code, codes, msg)
	}
	if !strings.Contains(msg, "source slow") {
		t.Errorf("error does not name the source: %s", msg)
	}
	if pinLike.MatchString(msg) || driverWords.MatchString(msg) {
		t.Errorf("error carries data or a driver's words: %s", msg)
	}
}

const midSettings = `connect_timeout = "1s"
read_timeout = "1s"
statement_timeout = "5s"
max_concurrent = 1
queue_timeout = "300ms"
breaker_failures = 3
breaker_cooldown = "500ms"`

// A source whose connections are cut (both directions) in the middle of a
// large result: the query ends soon after with a registry error naming
// the source, never as a success with part of the rows; the server stops
// the statement, the source's statement slot is free (max_concurrent = 1:
// a leak would make the next query LT-SOURCE-BUSY), queries on another
// source run on in their usual band meanwhile, and once the source
// answers again the next query succeeds without a restart.
func TestSourceKilledMidStream(t *testing.T) {
	const single = "SELECT n, pin, pad FROM slow.big"
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dsn, server := holeDatabase(t, kind)
			bigTable(t, kind, dsn(server), bigRows)
			p := newCutProxy(t, server)
			e := holeEngine(t, kind, dsn(p.addr), dsn(server), midSettings)
			for _, tc := range []struct {
				name string
				sql  string
				at   int64 // bytes of the answer forwarded before the cut
				hold bool  // stop forwarding there; cut once the client has its first batch
			}{
				{"after 5MB", single, 5 << 20, false},
				{"after the first batch", single, 3 << 20, true},
				// The residual (DuckDB) reads the source's stream.
				{"residual after 5MB", "SELECT n, pin, pad FROM slow.big UNION ALL SELECT n, pin, pin FROM good.t", 5 << 20, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if _, err := timedRows(t, e, "SELECT COUNT(*) FROM slow.big"); err != nil {
						t.Fatalf("before the cut: %v", err)
					}
					load := startHealthyLoad(t, e)
					bound := baseline(t, e)
					p.arm(tc.at, tc.hold)
					start := time.Now()
					var got int64
					res, err := e.Query(context.Background(), tc.sql, engine.QueryOptions{})
					if err == nil {
						for res.Next() {
							got += res.RecordBatch().NumRows()
							if tc.hold && p.lastCut().Before(start) {
								p.cut()
							}
						}
						err = res.Err()
						res.Release()
					}
					ended := time.Now()
					if err == nil {
						t.Fatalf("a result cut off mid-stream reported success with %d of %d rows", got, bigRows)
					}
					cut := p.lastCut()
					if cut.Before(start) {
						t.Fatalf("the query failed before the proxy cut it (%d rows): %v", got, err)
					}
					if got >= bigRows {
						t.Errorf("%d rows delivered, then an error", got)
					}
					if tc.hold && got == 0 {
						t.Error("the cut was to come after the first batch, but none arrived")
					}
					toError := ended.Sub(cut)
					t.Logf("%d of %d rows, error %s after the cut: %v", got, bigRows, toError.Round(time.Millisecond), err)
					if toError > 5*time.Second {
						t.Errorf("the query ended %s after its source's connection was cut", toError)
					}
					checkSourceError(t, err, string(planner.CodeUnavailable), engine.CodeSourceError)
					if st := e.SourceStates()[0]; st.Running != 0 || st.Failures == 0 {
						t.Errorf("the cut statement still holds its slot, or the breaker did not count it: %+v", st)
					}
					// While the source is gone, its queries fail, bounded,
					// naming it.
					d, err := timedRows(t, e, "SELECT COUNT(*) FROM slow.big")
					if err == nil {
						t.Fatal("a query succeeded while the proxy dropped every connection")
					}
					checkSourceError(t, err, string(planner.CodeUnavailable))
					if d > 3*time.Second {
						t.Errorf("a query on the dropped source took %s", d)
					}
					// Back: the next query gets through (the breaker may
					// make it wait for its cool-down).
					p.forward()
					back := time.Now()
					for {
						out, err := rows(t, e, "SELECT COUNT(*) FROM slow.big", engine.QueryOptions{})
						if err == nil {
							if out[0] != fmt.Sprint(bigRows) {
								t.Fatalf("after recovery: %v", out)
							}
							break
						}
						if time.Since(back) > 5*time.Second {
							t.Fatalf("no recovery within 5s: %v", err)
						}
						time.Sleep(100 * time.Millisecond)
					}
					t.Logf("recovered %s after the source answered again", time.Since(back).Round(time.Millisecond))
					// The whole result again, on the same engine.
					if out, err := rows(t, e, single, engine.QueryOptions{}); err != nil || len(out) != bigRows {
						t.Fatalf("the full result after recovery: %d rows, %v", len(out), err)
					}
					load.check(t, bound)
					// The server does not go on with the cut statement.
					for deadline := time.Now().Add(5 * time.Second); ; {
						n := runningOnServer(t, kind, dsn(server))
						if n == 0 {
							break
						}
						if time.Now().After(deadline) {
							t.Errorf("%d statements on big still run on the server", n)
							break
						}
						time.Sleep(100 * time.Millisecond)
					}
				})
			}
		})
	}
}
