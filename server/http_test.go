package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

type httpResult struct {
	status  int
	header  http.Header
	trailer http.Header
	body    []byte
}

func post(t testing.TB, client *http.Client, url, token, body string, hdr ...string) httpResult {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return httpResult{resp.StatusCode, resp.Header, resp.Trailer, b}
}

func get(t testing.TB, url, token string) httpResult {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, resp.Header, resp.Trailer, b}
}

func wantError(t *testing.T, r httpResult, status int, code string) Error {
	t.Helper()
	var e Error
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != status || e.Code != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.status, r.body)
	}
	return e
}

func TestHTTPQuery(t *testing.T) {
	ts := startServer(t, nil, nil)
	base := ts.HTTPURL()

	t.Run("json lines", func(t *testing.T) {
		r := post(t, nil, base+"/v1/query", testToken, `{"sql": "SELECT * FROM d.small WHERE n IN (0, 1) ORDER BY n"}`, HeaderPurpose, "ki%E1%BB%83m tra", HeaderCase, "HS-77")
		if r.status != 200 || r.header.Get("Content-Type") != ContentTypeNDJSON || r.trailer.Get(HeaderStatus) != "ok" || r.trailer.Get(HeaderRows) != "2" {
			t.Fatalf("%d %v %v %s", r.status, r.header, r.trailer, r.body)
		}
		want := `{"pin":"000000000000","n":0,"note":null,"amount":0.00,"ratio":0,"even":true,"d":"2020-02-29","ts":"2024-01-01T08:30:00"}` + "\n" +
			`{"pin":"000000000001","n":1,"note":"tên \"1\"\n\\","amount":0.25,"ratio":0.3333333333333333,"even":false,"d":"2020-03-01","ts":"2024-01-01T08:31:00"}` + "\n"
		if string(r.body) != want {
			t.Fatalf("got\n%s\nwant\n%s", r.body, want)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
		}
		if !strings.Contains(ts.logs.String(), `"purpose":"kiểm tra"`) || !strings.Contains(ts.logs.String(), `"case_given":true`) {
			t.Fatalf("purpose/case not logged:\n%s", ts.logs.String())
		}
	})
	t.Run("plain text body, arrow stream", func(t *testing.T) {
		r := post(t, nil, base+"/v1/query", testToken, "SELECT pin, n FROM d.small ORDER BY n", "Content-Type", "text/plain", "Accept", ContentTypeArrow)
		if r.status != 200 || r.header.Get("Content-Type") != ContentTypeArrow {
			t.Fatalf("%d %s", r.status, r.body)
		}
		rdr, err := ipc.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		n := 0
		for rdr.Next() {
			n += int(rdr.RecordBatch().NumRows())
		}
		if n != 1000 || rdr.Err() != nil || rdr.Schema().Field(0).Name != "pin" {
			t.Fatalf("%d rows, %v", n, rdr.Err())
		}
	})
	t.Run("errors", func(t *testing.T) {
		e := wantError(t, post(t, nil, base+"/v1/query", testToken, "SELECT pin\nFROM d.small WHER n = 1"), 400, "LT-SYNTAX")
		if e.Line != 2 || e.Column == 0 {
			t.Fatalf("position %+v", e)
		}
		wantError(t, post(t, nil, base+"/v1/query", testToken, "SELECT pin FROM nowhere.t"), 400, "LT-UNKNOWN")
		wantError(t, post(t, nil, base+"/v1/query", testToken, "DELETE FROM d.small"), 400, "LT-READONLY")
		wantError(t, post(t, nil, base+"/v1/query", testToken, `{"sql": 1}`), 400, CodeBadRequest)
		wantError(t, post(t, nil, base+"/v1/query", testToken, ""), 400, CodeBadRequest)
		r := post(t, nil, base+"/v1/query", "", "SELECT 1")
		wantError(t, r, 401, CodeAuth)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatal("no WWW-Authenticate")
		}
		wantError(t, post(t, nil, base+"/v1/query", "lt_wrong-token-0123456789", "SELECT 1"), 401, CodeAuth)
		wantError(t, post(t, nil, base+"/v1/query", testToken, "SELECT 1", HeaderPurpose, strings.Repeat("p", 300)), 400, CodeBadRequest)
		wantError(t, post(t, nil, base+"/v1/query", testToken, "SELECT 1", HeaderCase, "%01"), 400, CodeBadRequest)
		wantError(t, get(t, base+"/v2/nothing", testToken), 404, CodeBadRequest)
	})
	t.Run("explain, catalog, refresh", func(t *testing.T) {
		r := post(t, nil, base+"/v1/explain", testToken, `{"sql": "SELECT COUNT(*) FROM d.small s JOIN c.residence r ON r.pin = s.pin", "analyze": true}`)
		var ex struct{ Plan string }
		if r.status != 200 || json.Unmarshal(r.body, &ex) != nil || !strings.Contains(ex.Plan, "Remote 2 -> c ") || !strings.Contains(ex.Plan, "read 1000 rows") {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r = get(t, base+"/v1/catalog", testToken)
		var cj CatalogJSON
		if r.status != 200 || json.Unmarshal(r.body, &cj) != nil || len(cj.Sources) != 2 || cj.Sources[0].Tables[1].Name != "small" || cj.Sources[0].Tables[1].Columns[3].Type != "decimal(12,2)" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		wantError(t, get(t, base+"/v1/catalog", ""), 401, CodeAuth)
		r = post(t, nil, base+"/v1/refresh", testToken, "")
		if r.status != 200 || !strings.Contains(string(r.body), "catalog_version") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("health, readiness, metrics", func(t *testing.T) {
		if r := get(t, base+"/healthz", ""); r.status != 200 {
			t.Fatal(r.status)
		}
		r := get(t, base+"/readyz", "")
		if r.status != 200 || !strings.Contains(string(r.body), `{"name":"d","kind":"duckdb","status":"ok","breaker":"closed"`) {
			t.Fatalf("%d %s", r.status, r.body)
		}
		wantError(t, get(t, base+"/metrics", ""), 401, CodeAuth)
		r = get(t, base+"/metrics", testToken)
		for _, want := range []string{
			`lienthong_queries_total{protocol="http",outcome="ok"}`,
			`lienthong_queries_total{protocol="http",outcome="user_error"} 5`,
			`lienthong_query_duration_seconds_bucket{protocol="http",outcome="ok",le="+Inf"}`,
			`lienthong_source_rows_total{source="d"}`,
			`lienthong_auth_failures_total{protocol="http"}`,
			"lienthong_queries_queued 0",
		} {
			if !strings.Contains(string(r.body), want) {
				t.Fatalf("metrics lack %s:\n%s", want, r.body)
			}
		}
	})
}

func TestHTTPMutualTLS(t *testing.T) {
	pki := newPKI(t, "cert-user.cutru.gov.vn")
	ts := startServer(t, nil, func(c *Config) {
		c.TLSCert, c.TLSKey, c.ClientCA = pki.certFile, pki.keyFile, pki.caFile
	})
	cert, _ := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.caPool, Certificates: []tls.Certificate{cert}}, ForceAttemptHTTP2: true}
	client := &http.Client{Transport: tr}
	r := post(t, client, ts.HTTPURL()+"/v1/query", "", "SELECT COUNT(*) AS n FROM d.small")
	if r.status != 200 || string(r.body) != `{"n":1000}`+"\n" || !strings.Contains(ts.logs.String(), `"principal":"cert-user"`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// Token without certificate, over TLS.
	client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.caPool}}}
	if r := post(t, client, ts.HTTPURL()+"/v1/query", testToken, "SELECT 1 AS x FROM d.small LIMIT 1"); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	wantError(t, post(t, client, ts.HTTPURL()+"/v1/query", "", "SELECT 1"), 401, CodeAuth)
	// A certificate whose CN names nobody is forbidden.
	other := newPKI(t, "stranger")
	ts2 := startServer(t, nil, func(c *Config) { c.TLSCert, c.TLSKey, c.ClientCA = other.certFile, other.keyFile, other.caFile })
	sc, _ := tls.LoadX509KeyPair(other.clientCert, other.clientKey)
	client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: other.caPool, Certificates: []tls.Certificate{sc}}}}
	wantError(t, post(t, client, ts2.HTTPURL()+"/v1/query", "", "SELECT 1"), 403, CodeForbidden)
}

func TestHTTPResultLimits(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) { c.MaxResultRows = 10000 })
	base := ts.HTTPURL()
	// Over the limit before the first row: a plain error.
	ts2 := startServer(t, nil, func(c *Config) { c.MaxResultRows = 100 })
	wantError(t, post(t, nil, ts2.HTTPURL()+"/v1/query", testToken, "SELECT pin FROM d.big"), 400, CodeResultLimit)
	ts3 := startServer(t, nil, func(c *Config) { c.MaxResultBytes = 50000 })
	wantError(t, post(t, nil, ts3.HTTPURL()+"/v1/query", testToken, "SELECT pin FROM d.big"), 400, CodeResultLimit)

	// Mid-stream (the first 8192-row batch fits): JSON lines end with the error.
	r := post(t, nil, base+"/v1/query", testToken, "SELECT pin FROM d.big")
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	last := lines[len(lines)-1]
	if r.status != 200 || len(lines) != 8193 || !strings.HasPrefix(last, `{"error":{"code":"LT-RESULT-LIMIT"`) || r.trailer.Get(HeaderStatus) != "error" {
		t.Fatalf("%d, %d lines, last %s, trailer %v", r.status, len(lines), last, r.trailer)
	}
	// Arrow with the error trailer requested: trailers say what happened.
	r = post(t, nil, base+"/v1/query", testToken, "SELECT pin FROM d.big", "Accept", ContentTypeArrow, HeaderErrTrailer, "1")
	if r.trailer.Get(HeaderStatus) != "error" || !strings.Contains(r.trailer.Get(HeaderError), CodeResultLimit) {
		t.Fatalf("trailer %v", r.trailer)
	}
	// Arrow without it: the stream is cut, so no reader takes it as whole.
	req, _ := http.NewRequest("POST", base+"/v1/query", strings.NewReader("SELECT pin FROM d.big"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", ContentTypeArrow)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rdr, err := ipc.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rdr.Next() {
		n += int(rdr.RecordBatch().NumRows())
	}
	if rdr.Err() == nil || n > 10000 {
		t.Fatalf("cut stream read cleanly: %d rows, %v", n, rdr.Err())
	}
	rdr.Release()
	if got := ts.metrics.value(mQueries, "http", "limit"); got != 3 {
		t.Fatalf("limit outcomes %v", got)
	}
}

// stall starts a large Arrow query and reads only its first bytes, so the
// server blocks writing and the query holds its slot until release.
func stall(t testing.TB, base string) (release func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/query", strings.NewReader("SELECT pin, name FROM d.big"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", ContentTypeArrow)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	return func() { cancel(); resp.Body.Close() }
}

func TestHTTPBusy(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) {
		c.MaxConcurrent, c.Queue, c.QueueTimeout.Duration = 1, 1, 300*time.Millisecond
	})
	base := ts.HTTPURL()
	release := stall(t, base)
	// One may wait in the queue (and times out); the next is refused at once.
	var wg sync.WaitGroup
	var queued httpResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		queued = post(t, nil, base+"/v1/query", testToken, "SELECT 1 AS x FROM d.small LIMIT 1")
	}()
	deadline := time.Now().Add(2 * time.Second)
	for ts.limiter.queued() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	r := post(t, nil, base+"/v1/query", testToken, "SELECT 1 AS x FROM d.small LIMIT 1")
	wantError(t, r, 503, CodeBusy)
	if time.Since(start) > 200*time.Millisecond || r.header.Get("Retry-After") == "" {
		t.Fatalf("busy answer took %s", time.Since(start))
	}
	wg.Wait()
	wantError(t, queued, 503, CodeBusy)
	// Flight says the same.
	c := flightClient(t, ts.FlightAddr(), nil)
	info, err := c.Execute(withToken(context.Background(), testToken), "SELECT 1 AS x FROM d.small LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = fetch(withToken(context.Background(), testToken), c, info)
	if err == nil || !strings.Contains(err.Error(), CodeBusy) {
		t.Fatalf("flight: %v", err)
	}
	release()
	// The slot frees once the stalled client is gone.
	deadline = time.Now().Add(5 * time.Second)
	for ts.limiter.running() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := post(t, nil, base+"/v1/query", testToken, "SELECT 1 AS x FROM d.small LIMIT 1"); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := ts.metrics.value(mQueries, "http", "cancelled"); got != 1 {
		t.Fatalf("cancelled outcomes %v", got)
	}
}

func TestShutdownDrains(t *testing.T) {
	// A query that finishes within the grace period is served whole.
	ts := startServer(t, nil, nil)
	release := stall(t, ts.HTTPURL())
	defer release()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	// The grace runs out: the stalled query is cancelled and Shutdown returns.
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown hung")
	}
	if !strings.Contains(ts.logs.String(), `"error_code":"LT-SHUTTING-DOWN"`) {
		t.Fatalf("the stalled query was not stopped by the shutdown:\n%s", ts.logs.String())
	}

	ts2 := startServer(t, nil, nil)
	req, _ := http.NewRequest("POST", ts2.HTTPURL()+"/v1/query", strings.NewReader("SELECT pin FROM d.big"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- ts2.Shutdown(ctx)
	}()
	n, err := countLines(resp.Body)
	resp.Body.Close()
	if err != nil || n != bigRows || resp.Trailer.Get(HeaderStatus) != "ok" {
		t.Fatalf("drained query: %d rows, %v, %v", n, err, resp.Trailer)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func countLines(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	n := 0
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			n++
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
	}
}

// peakSampler records the Go heap in use and the process RSS while a test
// streams.
type peakSampler struct {
	stop           chan struct{}
	done           chan struct{}
	heap, rss      atomic.Uint64
	baseHeap, bRSS uint64
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func startSampler() *peakSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p := &peakSampler{stop: make(chan struct{}), done: make(chan struct{}), baseHeap: ms.HeapInuse, bRSS: rssBytes()}
	go func() {
		defer close(p.done)
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tk.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > p.heap.Load() {
					p.heap.Store(ms.HeapInuse)
				}
				if r := rssBytes(); r > p.rss.Load() {
					p.rss.Store(r)
				}
			}
		}
	}()
	return p
}

func (p *peakSampler) finish() (heapGrowth, rssGrowth uint64) {
	close(p.stop)
	<-p.done
	h, r := p.heap.Load(), p.rss.Load()
	if h > p.baseHeap {
		heapGrowth = h - p.baseHeap
	}
	if r > p.bRSS {
		rssGrowth = r - p.bRSS
	}
	return
}

// TestHTTPStreamMillionRows streams 1,000,000 rows (one source answers the
// whole query, so nothing is materialised) and checks that server memory
// stays far below the result's size.
func TestHTTPStreamMillionRows(t *testing.T) {
	ts := startServer(t, nil, nil)
	const sql = "SELECT pin, n, name, birth_date FROM d.big"
	for _, format := range []string{"arrow", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			// Warm up (connections, DuckDB caches) so the baseline is fair.
			post(t, nil, ts.HTTPURL()+"/v1/query", testToken, "SELECT pin FROM d.big LIMIT 10000")
			s := startSampler()
			start := time.Now()
			req, _ := http.NewRequest("POST", ts.HTTPURL()+"/v1/query?format="+format, strings.NewReader(sql))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			cr := &countingReader{r: resp.Body}
			rows := 0
			if format == "arrow" {
				rdr, err := ipc.NewReader(cr)
				if err != nil {
					t.Fatal(err)
				}
				for rdr.Next() {
					rows += int(rdr.RecordBatch().NumRows())
				}
				if rdr.Err() != nil {
					t.Fatal(rdr.Err())
				}
				rdr.Release()
			} else {
				rows, err = countLines(cr)
				if err != nil {
					t.Fatal(err)
				}
			}
			resp.Body.Close()
			elapsed := time.Since(start)
			heap, rss := s.finish()
			if rows != bigRows || resp.Trailer.Get(HeaderStatus) != "ok" {
				t.Fatalf("%d rows, trailer %v", rows, resp.Trailer)
			}
			mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
			t.Logf("%s: %d rows, %.1f MiB on the wire in %s (%.0f rows/s); peak Go heap growth %.1f MiB, peak RSS growth %.1f MiB (client and server in one process)",
				format, rows, mb(uint64(cr.n)), elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds(), mb(heap), mb(rss))
			if heap > uint64(cr.n)/2 { // a materialised result would need all of it, and more
				t.Fatalf("heap grew %.1f MiB for a %.1f MiB result: not streaming", mb(heap), mb(uint64(cr.n)))
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestLogsCarryNoData: neither SQL text, literals in it, result values nor
// error excerpts reach the log.
func TestLogsCarryNoData(t *testing.T) {
	ts := startServer(t, nil, nil)
	base := ts.HTTPURL()
	post(t, nil, base+"/v1/query", testToken, "SELECT name FROM d.big WHERE pin = '000000424242'")
	post(t, nil, base+"/v1/query", testToken, "SELECT name FROM d.big WHERE pin = '000000737373' AND birth_date = 'not-a-date-919191'")
	post(t, nil, base+"/v1/query", testToken, "SELECT nam FROM d.big WHERE pin = '000000515151'")
	c := flightClient(t, ts.FlightAddr(), nil)
	_, _ = runFlight(withToken(context.Background(), testToken), c, "SELECT name FROM d.big WHERE pin = '000000626262'")
	logs := ts.logs.String()
	for _, secret := range []string{"424242", "737373", "919191", "515151", "626262", "Nguyễn", "SELECT", testToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log contains %q:\n%s", secret, logs)
		}
	}
	if strings.Count(logs, `"sql_sha256"`) < 4 {
		t.Fatalf("queries not logged:\n%s", logs)
	}
}
