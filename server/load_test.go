package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// TestLoad runs 64 concurrent clients (HTTP JSON lines, HTTP Arrow and
// Flight SQL) against one node for LIENTHONG_LOAD_SECONDS (default 10; the
// issue's figure is 60). Only designed "busy" answers may fail.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	seconds := 10
	if v := os.Getenv("LIENTHONG_LOAD_SECONDS"); v != "" {
		seconds, _ = strconv.Atoi(v)
	}
	const clients = 64
	ts := startServer(t, nil, func(c *Config) {
		c.MaxConcurrent, c.Queue, c.QueueTimeout.Duration = 4, 48, 5*time.Second
	})
	queries := []func(r *rand.Rand) string{
		func(*rand.Rand) string { return "SELECT COUNT(*) AS n, SUM(n) AS s FROM d.small WHERE even" },
		func(*rand.Rand) string {
			return "SELECT r.province, COUNT(*) AS n FROM d.small s JOIN c.residence r ON r.pin = s.pin GROUP BY r.province ORDER BY r.province"
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT name, birth_date FROM d.big WHERE n = %d", r.IntN(bigRows))
		},
		func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT pin, n FROM d.big WHERE n BETWEEN %d AND %d ORDER BY n", r.IntN(bigRows-1000), bigRows)
		},
	}
	type result struct {
		lat  time.Duration
		busy bool
		err  error
	}
	results := make(chan result, 4096)
	var all []result
	collected := make(chan struct{})
	go func() {
		for r := range results {
			all = append(all, r)
		}
		close(collected)
	}()
	stop := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			fc := flightClient(t, ts.FlightAddr(), nil)
			ctx := withToken(context.Background(), testToken)
			for time.Now().Before(stop) {
				// One query in ten joins two sources (DuckDB residual); the
				// rest are dashboard aggregates and lookups one source answers.
				k := 1
				if rng.IntN(10) != 0 {
					k = []int{0, 2, 3}[rng.IntN(3)]
				}
				sql := queries[k](rng)
				// The last query is a range that may be large: keep it small.
				if strings.Contains(sql, "BETWEEN") {
					sql += " LIMIT 500"
				}
				start := time.Now()
				var err error
				switch i % 3 {
				case 0:
					err = loadHTTP(client, ts.HTTPURL(), sql, false)
				case 1:
					err = loadHTTP(client, ts.HTTPURL(), sql, true)
				default:
					_, err = runFlight(ctx, fc, sql)
				}
				lat := time.Since(start)
				busy := err != nil && strings.Contains(err.Error(), CodeBusy)
				results <- result{lat: lat, busy: busy, err: err}
				if busy {
					time.Sleep(time.Duration(10+rng.IntN(40)) * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(results)
	<-collected

	var lats []time.Duration
	busy := 0
	for _, r := range all {
		switch {
		case r.busy:
			busy++
		case r.err != nil:
			t.Errorf("unexpected error: %v", r.err)
		default:
			lats = append(lats, r.lat)
		}
	}
	if len(lats) == 0 {
		t.Fatal("no query succeeded")
	}
	sort.Slice(lats, func(a, b int) bool { return lats[a] < lats[b] })
	pct := func(p float64) time.Duration {
		return lats[min(len(lats)-1, int(p*float64(len(lats))))].Round(100 * time.Microsecond)
	}
	t.Logf("%d clients for %ds: %d queries ok (%.0f/s), %d busy answers; latency p50 %s p90 %s p99 %s max %s; argon2 verifications %d",
		clients, seconds, len(lats), float64(len(lats))/float64(seconds), busy, pct(0.5), pct(0.9), pct(0.99), lats[len(lats)-1].Round(time.Millisecond), ts.auth.Verifications())
	if v := ts.auth.Verifications(); v > 2 {
		t.Errorf("argon2 ran %d times for one token: the cache does not work", v)
	}
	if ts.limiter.running() != 0 || ts.limiter.queued() != 0 {
		t.Errorf("slots still held: %d running, %d queued", ts.limiter.running(), ts.limiter.queued())
	}
}

func loadHTTP(client *http.Client, base, sql string, arrow bool) error {
	req, _ := http.NewRequest("POST", base+"/v1/query", strings.NewReader(sql))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if arrow {
		req.Header.Set("Accept", ContentTypeArrow)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	if resp.Trailer.Get(HeaderStatus) != "ok" {
		return fmt.Errorf("stream ended with %q: %s", resp.Trailer.Get(HeaderStatus), resp.Trailer.Get(HeaderError))
	}
	if arrow {
		rdr, err := ipc.NewReader(bytes.NewReader(b))
		if err != nil {
			return err
		}
		defer rdr.Release()
		for rdr.Next() {
		}
		return rdr.Err()
	}
	return nil
}
