package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/config"
	"lienthong/engine"
	"lienthong/internal/testenv"
)

// silentProxy forwards to target until hole is set; then it answers
// nothing, on new and existing connections alike.
type silentProxy struct {
	ln    net.Listener
	hole  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newSilentProxy(t *testing.T, target string) *silentProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silentProxy{ln: ln}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				dst.Close()
				return
			}
			if !p.hole.Load() {
				dst.Write(buf[:n])
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			if p.hole.Load() {
				go io.Copy(io.Discard, c)
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, up)
			p.mu.Unlock()
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

// One silent source cannot take the node: while queries on it hang in
// their timeouts, queries on another source get their slots (no LT-BUSY),
// the silent source's queries fail naming it, and /readyz and /v1/catalog
// say it is down.
func TestSilentSourceLeavesOtherQueriesTheirSlots(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t AS SELECT g AS n FROM generate_series(1, 10) g"); err != nil {
		t.Fatal(err)
	}
	server := conn.PgConn().Conn().RemoteAddr().String()
	conn.Close(ctx)
	p := newSilentProxy(t, server)
	toml := fmt.Sprintf(`[[sources]]
name = "slow"
kind = "postgres"
dsn = %q
connect_timeout = "3s"
read_timeout = "3s"
statement_timeout = "4s"
max_concurrent = 2
queue_timeout = "200ms"
breaker_failures = 2
breaker_cooldown = "1m"

[[sources]]
name = "good"
kind = "postgres"
dsn = %q
`, strings.Replace(dsn, server, p.ln.Addr().String(), 1), dsn)
	cfg, err := config.Parse("bh.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	eng.WaitCatalog(ctx)
	ts := startServer(t, eng, func(c *Config) { c.MaxConcurrent = 4 })
	query := func(sql string) (int, Error, time.Duration) {
		start := time.Now()
		req, _ := http.NewRequest("POST", ts.HTTPURL()+"/v1/query", strings.NewReader(sql))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, Error{Message: err.Error()}, time.Since(start)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e Error
		if resp.StatusCode != http.StatusOK {
			_ = json.Unmarshal(b, &e)
		}
		return resp.StatusCode, e, time.Since(start)
	}
	if st, e, _ := query("SELECT n FROM slow.t"); st != http.StatusOK {
		t.Fatalf("before: %d %+v", st, e)
	}
	p.hole.Store(true)
	var wg sync.WaitGroup
	type res struct {
		status int
		err    Error
		d      time.Duration
	}
	slow := make([]res, 12)
	for i := range slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, e, d := query("SELECT n FROM slow.t")
			slow[i] = res{st, e, d}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 15; i++ {
		st, e, d := query("SELECT COUNT(*) FROM good.t")
		if st != http.StatusOK || d > 2*time.Second { // held for a slot would mean waiting out slow's 3 s timeout
			t.Errorf("query %d on the healthy source: %d %+v after %s", i, st, e, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	for _, r := range slow {
		t.Logf("%s %d %s %s", r.d.Round(time.Millisecond), r.status, r.err.Code, r.err.Message)
		if r.status == http.StatusOK || r.err.Source != "slow" || r.err.Code == CodeBusy || r.d > 8*time.Second {
			t.Errorf("silent source: %d %+v after %s", r.status, r.err, r.d)
		}
	}
	r := get(t, ts.HTTPURL()+"/readyz", "")
	var ready struct {
		Status  string        `json:"status"`
		Sources []readySource `json:"sources"`
	}
	if err := json.Unmarshal(r.body, &ready); err != nil || r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if s := ready.Sources[0]; s.Name != "slow" || s.Status != "down" || s.Breaker != engine.BreakerOpen {
		t.Errorf("readyz: %s", r.body)
	}
	if s := ready.Sources[1]; s.Status != "ok" || s.Breaker != engine.BreakerClosed {
		t.Errorf("readyz: %s", r.body)
	}
	r = get(t, ts.HTTPURL()+"/v1/catalog", testToken)
	var cat CatalogJSON
	if err := json.Unmarshal(r.body, &cat); err != nil {
		t.Fatal(err)
	}
	if s := cat.Sources[0]; s.Status != "down" || s.Breaker != engine.BreakerOpen || s.LastError == "" {
		t.Errorf("catalog: %+v", s)
	}
	// Known down: answered at once, naming it.
	st, e, d := query("SELECT n FROM slow.t")
	if st != http.StatusBadGateway || e.Code != "LT-SOURCE-DOWN" || e.Source != "slow" || d > 500*time.Millisecond {
		t.Errorf("breaker open: %d %+v after %s", st, e, d)
	}
}
