package console_test

// The console end to end in headless Chromium (Debian's chromium, driven
// by chromedp) against a real node: demo data in five sources, an access
// policy, tokens, an audit log. Screenshots go to $LIENTHONG_SCREENSHOTS
// (make screenshots: docs/console), else a temporary directory.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"lienthong/audit/chain"
	"lienthong/bench/gen"
	"lienthong/config"
	"lienthong/node"
	"lienthong/tokens"
)

const (
	anToken   = "lt_console-an-token-0123456789"
	olgaToken = "lt_console-olga-token-0123456789"
)

// The analyst reads two tables of two sources; the operator may also read
// the audit log.
const testPolicy = `
[[purposes]]
name = "STATS"

[[roles]]
name = "analyst"

[[roles]]
name = "operator"
operations = ["audit"]

[[principals]]
name = "an"
agency = "BHXH"
roles = ["analyst"]

[[principals]]
name = "olga"
agency = "BCA"
roles = ["operator", "analyst"]

[[grants]]
role = "analyst"
purposes = ["STATS"]
source = "dancu"
table = "citizens"
columns = ["pin", "sex", "birth_date", "hometown_province"]

[[grants]]
role = "analyst"
purposes = ["STATS"]
source = "hotich"
table = "births"
`

type fixture struct {
	n    *node.Node
	base string
}

func startNode(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := gen.Generate(ctx, gen.Options{Scale: 0.005, Seed: 1, Out: dir}); err != nil {
		t.Fatal(err)
	}
	var principals strings.Builder
	for _, p := range []struct{ name, agency, tok string }{{"an", "BHXH", anToken}, {"olga", "BCA", olgaToken}} {
		h, err := tokens.Hash(p.tok)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&principals, "[[principals]]\nname = %q\nagency = %q\ntoken_hash = %q\n\n", p.name, p.agency, h)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "tokens.toml"), []byte(principals.String()), 0o600))
	must(os.WriteFile(filepath.Join(dir, "policy.toml"), []byte(testPolicy), 0o600))
	_, err := chain.WriteKeyFile(filepath.Join(dir, "audit.key"))
	must(err)
	base, err := os.ReadFile(filepath.Join(dir, "lienthong.toml"))
	must(err)
	text := "policy = \"policy.toml\"\n" + string(base) + `
[server]
http_addr = "127.0.0.1:0"
flight_addr = "off"
tokens_file = "tokens.toml"
log_level = "error"

[audit]
log = "audit.log"
key_file = "audit.key"
node_id = "console-test"
probe_interval = "1s"
`
	cfgPath := filepath.Join(dir, "lienthong.toml")
	must(os.WriteFile(cfgPath, []byte(text), 0o600))
	cfg, err := config.Load(cfgPath)
	must(err)
	n, err := node.Open(ctx, cfg, node.Options{Serve: true, Audit: cfg.Audit, Health: cfg.Audit})
	must(err)
	t.Cleanup(func() { _ = n.Close() })
	n.Engine.WaitCatalog(ctx)
	return &fixture{n: n, base: n.Server.HTTPURL()}
}

// api calls the HTTP API with a bearer token, as any client.
func (f *fixture) api(t *testing.T, token, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Lienthong-Purpose", "STATS")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// text is an element's visible text.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return v
}

func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("LIENTHONG_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is not installed (.ci/run installs it)")
	}
	t.Skip("chromium is not installed; apt-get install chromium")
	return ""
}

const crossSQL = "SELECT c.sex, COUNT(*) AS n FROM dancu.citizens c JOIN hotich.births b ON b.child_pin = c.pin GROUP BY c.sex ORDER BY c.sex"

// A result of 25 million rows: it streams for long enough to be cancelled.
const longSQL = "SELECT a.pin, b.sex FROM dancu.citizens a CROSS JOIN dancu.citizens b"

func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	f := startNode(t)
	shots := os.Getenv("LIENTHONG_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1200, 760), chromedp.Flag("disable-gpu", true), chromedp.Flag("lang", "en-US"))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	// Every exception and console error of the page fails the test (a
	// CSP violation is reported as one).
	var pageErrors []string
	var mu sync.Mutex
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			pageErrors = append(pageErrors, msg)
		case *cdplog.EventEntryAdded:
			// Browser messages: CSP violations among them. Refused requests
			// the test makes on purpose are network entries.
			if e.Entry.Level == cdplog.EntryLevelError && e.Entry.Source != cdplog.EntrySourceNetwork {
				pageErrors = append(pageErrors, string(e.Entry.Source)+": "+e.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				pageErrors = append(pageErrors, strings.Join(parts, " "))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	errorsSoFar := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(pageErrors)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v (page errors: %v)", what, err, errorsSoFar())
		}
	}
	shot := func(name string) {
		t.Helper()
		run("settle", chromedp.Sleep(150*time.Millisecond))
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(what, js string, out any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v (page errors: %v)", what, err, errorsSoFar())
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s: %v in %s", what, err, raw)
			}
		}
	}
	setSQL := func(sql string) {
		t.Helper()
		b, _ := json.Marshal(sql)
		eval("set the SQL", fmt.Sprintf(`(() => { const ta = document.getElementById('sql'); ta.value = %s; ta.dispatchEvent(new Event('input')); return true })()`, b), nil)
	}
	login := func(token string) {
		t.Helper()
		run("log in", chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("login")),
			chromedp.WaitVisible(chromedp.ID("nav")))
		eval("declare the purpose", `(() => { const p = document.getElementById('purpose'); p.value = 'STATS'; p.dispatchEvent(new Event('change')); return true })()`, nil)
	}

	// The login page, then the analyst's session.
	run("open", chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	shot("login")
	login(anToken)
	who := text(t, ctx, "who-name")
	if !strings.Contains(who, "an (BHXH)") {
		t.Fatalf("the console shows %q as the principal", who)
	}
	var auditHidden bool
	eval("audit tab", `document.querySelector('#nav button[data-page=audit]').hidden`, &auditHidden)
	if !auditHidden {
		t.Error("the analyst sees the Audit tab")
	}

	// The token is in no URL, no storage, no readable cookie.
	var exposed string
	eval("storage", `location.href + '|' + JSON.stringify(localStorage) + '|' + JSON.stringify(sessionStorage) + '|' + document.cookie`, &exposed)
	if strings.Contains(exposed, anToken) || strings.Contains(exposed, "lt_session") {
		t.Fatalf("token or session cookie readable by the page: %s", exposed)
	}

	// A cross-source query: the grid shows the API's answer.
	setSQL(crossSQL)
	run("run", chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.CSS(`#status[data-done]`)))
	var cells []string
	eval("grid", `[...document.querySelectorAll('#grid tbody td')].map(td => td.textContent)`, &cells)
	st, _, body := f.api(t, anToken, "POST", "/v1/query", crossSQL)
	if st != 200 {
		t.Fatalf("API: %d %s", st, body)
	}
	var want []string
	for i, line := range strings.Split(strings.TrimSpace(body), "\n") {
		var row struct {
			Sex string `json:"sex"`
			N   int64  `json:"n"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint(i+1), row.Sex, fmt.Sprintf("%d", row.N))
	}
	if len(want) < 6 || strings.Join(cells, "|") != strings.Join(want, "|") {
		t.Fatalf("grid cells %q, want the API's %q", cells, want)
	}

	// A chart of that result, drawn in the page.
	run("chart", chromedp.Click(chromedp.CSS("#chart-box summary")), chromedp.SetValue(chromedp.ID("chart-key"), "sex"),
		chromedp.SetValue(chromedp.ID("chart-value"), "n"), chromedp.Click(chromedp.ID("chart-draw")))
	var painted int
	eval("chart pixels", `(() => { const c = document.getElementById('chart'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] === 0x1a && d[i+1] === 0x5f && d[i+2] === 0xb4) n++; return n })()`, &painted)
	if painted < 1000 {
		t.Fatalf("the chart has %d pixels of its bars' colour", painted)
	}
	shot("query")

	// Completion offers granted tables only.
	setSQL("SELECT * FROM hotich")
	run("complete", chromedp.Focus(chromedp.ID("sql")), chromedp.Evaluate[chromedp.Void](`(() => { const ta = document.getElementById('sql'); ta.selectionStart = ta.selectionEnd = ta.value.length })()`),
		chromedp.SendKeys(chromedp.ID("sql"), "."), chromedp.WaitVisible(chromedp.ID("completions")))
	var offered []string
	eval("completions", `[...document.querySelectorAll('#completions li')].map(li => li.dataset.text)`, &offered)
	if strings.Join(offered, ",") != "births" {
		t.Fatalf("completion after hotich. offers %v, want only the granted births", offered)
	}

	// The plan of the cross-source query as a tree with both remotes.
	setSQL(crossSQL)
	run("plan", chromedp.Click(chromedp.ID("explain-analyze")), chromedp.WaitVisible(chromedp.CSS(`#plan-tree .node.remote .stats`)))
	var remotes []string
	eval("remotes", `[...document.querySelectorAll('#plan-tree .node.remote')].map(n => n.dataset.source + ':' + n.querySelector('pre').textContent.includes('SELECT') + ':' + (n.textContent.match(/(\d[\d,]*) rows/) || [''])[0])`, &remotes)
	if len(remotes) != 2 || !strings.HasPrefix(remotes[0], "dancu:true:") || !strings.HasPrefix(remotes[1], "hotich:true:") || strings.HasSuffix(remotes[0], ":") {
		t.Fatalf("plan tree remotes %v, want dancu and hotich with their SQL and rows", remotes)
	}
	shot("plan")

	// The catalog as the analyst sees it: granted tables and columns only.
	run("catalog", chromedp.Click(chromedp.CSS(`#nav button[data-page=catalog]`)), chromedp.WaitVisible(chromedp.CSS(`#catalog details[data-table]`)))
	var tables, cols []string
	eval("tables", `[...document.querySelectorAll('#catalog details[data-table]')].map(d => d.dataset.table)`, &tables)
	eval("columns", `[...document.querySelectorAll('#catalog details[data-table="dancu.citizens"] tr[data-column]')].map(r => r.dataset.column)`, &cols)
	if strings.Join(tables, ",") != "dancu.citizens,hotich.births" {
		t.Fatalf("the analyst's catalog lists %v", tables)
	}
	if strings.Join(cols, ",") != "pin,birth_date,sex,hometown_province" {
		t.Fatalf("the analyst's dancu.citizens columns: %v", cols)
	}
	all := 0
	for _, s := range f.n.Engine.Catalog().Sources {
		all += len(s.Tables)
	}
	if all <= len(tables) {
		t.Fatalf("the node has %d tables: the restriction proves nothing", all)
	}
	run("open a table", chromedp.Click(chromedp.CSS(`#catalog details[data-table="dancu.citizens"] summary`)))
	shot("catalog")

	// Cancel a long query while its rows stream in.
	run("query tab", chromedp.Click(chromedp.CSS(`#nav button[data-page=query]`)))
	setSQL(longSQL)
	run("run long", chromedp.Click(chromedp.ID("run")), chromedp.WaitVisible(chromedp.CSS(`#grid tbody tr`)))
	var doneEarly bool
	eval("still running", `!!document.getElementById('status').dataset.done`, &doneEarly)
	if doneEarly {
		t.Fatalf("the long query ended before it could be cancelled: %q %q", text(t, ctx, "status"), text(t, ctx, "query-error"))
	}
	run("cancel", chromedp.Click(chromedp.ID("cancel")), chromedp.WaitVisible(chromedp.CSS(`#status[data-done=error]`)))
	errText := text(t, ctx, "query-error")
	if !strings.Contains(errText, "LT-CANCELLED") {
		t.Fatalf("after cancel the page says %q", errText)
	}
	// The server stops it too: no query holds a slot for long.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, m := f.api(t, olgaToken, "GET", "/metrics", "")
		if strings.Contains(m, "\nlienthong_queries_running 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled query still runs on the server")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The analyst may not read the audit log: neither the page's API calls
	// nor a bearer token get it.
	var auditStatus int
	eval("audit API from the page", `fetch('/v1/audit').then(r => r.status)`, &auditStatus)
	if auditStatus != 403 {
		t.Fatalf("GET /v1/audit for the analyst from the console: %d, want 403", auditStatus)
	}
	for _, path := range []string{"/v1/audit", "/v1/audit/verify", "/v1/report?period=2026-H2"} {
		if st, _, body := f.api(t, anToken, "GET", path, ""); st != 403 || !strings.Contains(body, "LT-FORBIDDEN") {
			t.Fatalf("GET %s for the analyst: %d %s", path, st, body)
		}
	}

	// CSRF: the cookie alone does not run a query; with the session's
	// header it does.
	var csrf []int
	eval("csrf", `(async () => {
		const a = await fetch('/v1/query', {method: 'POST', body: 'SELECT 1 AS x', headers: {'X-Lienthong-Purpose': 'STATS'}});
		const s = await (await fetch('/v1/session')).json();
		const b = await fetch('/v1/query', {method: 'POST', body: 'SELECT 1 AS x', headers: {'X-Lienthong-Purpose': 'STATS', 'X-Lienthong-CSRF': s.csrf}});
		return [a.status, b.status] })()`, &csrf)
	if len(csrf) != 2 || csrf[0] != 403 || csrf[1] != 200 {
		t.Fatalf("POST /v1/query with the cookie, without and with the CSRF header: %v, want [403 200]", csrf)
	}

	// The operator: search the audit log, open a record, verify the chain.
	run("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("token")))
	login(olgaToken)
	run("audit", chromedp.Click(chromedp.CSS(`#nav button[data-page=audit]`)),
		chromedp.SetValue(chromedp.CSS(`#audit-form input[name=principal]`), "an"),
		chromedp.Click(chromedp.ID("audit-search")), chromedp.WaitVisible(chromedp.CSS(`#audit-results tbody tr`)))
	var outcomes []string
	eval("outcomes", `[...document.querySelectorAll('#audit-results tbody tr')].map(r => r.children[1].textContent + ':' + r.children[6].textContent)`, &outcomes)
	joined := strings.Join(outcomes, ",")
	if !strings.Contains(joined, "an:cancelled") || !strings.Contains(joined, "an:succeeded") || strings.Contains(joined, "olga:") {
		t.Fatalf("audit search for principal an: %v", outcomes)
	}
	run("detail and verify", chromedp.Click(chromedp.CSS(`#audit-results tbody tr`)), chromedp.WaitVisible(chromedp.ID("audit-detail")),
		chromedp.Click(chromedp.ID("audit-verify")), chromedp.WaitVisible(chromedp.ID("chain-state")))
	detail, chainState := text(t, ctx, "audit-detail"), text(t, ctx, "chain-state")
	if !strings.Contains(detail, `"principal": "an"`) || !strings.Contains(detail, `"hash"`) {
		t.Fatalf("attempt detail: %s", detail)
	}
	if chainState != "intact" {
		t.Fatalf("chain verification says %q", chainState)
	}
	shot("audit")

	// The sharing report for this half-year, framed, and downloadable.
	run("report", chromedp.Click(chromedp.CSS(`#nav button[data-page=reports]`)), chromedp.Click(chromedp.ID("report-show")),
		chromedp.WaitVisible(chromedp.CSS(`#report-frame[src]`)), chromedp.Sleep(500*time.Millisecond))
	var src string
	eval("report src", `document.getElementById('report-frame').getAttribute('src')`, &src)
	st, hdr, body := f.api(t, olgaToken, "GET", src, "")
	if st != 200 || !strings.Contains(body, "<h1>") || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("the framed report %s: %d %v %.200s", src, st, hdr, body)
	}
	shot("report")

	// Health: the sources and the node's rates, sampled while queries run.
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				req, _ := http.NewRequest("POST", f.base+"/v1/query", strings.NewReader(crossSQL))
				req.Header.Set("Authorization", "Bearer "+anToken)
				req.Header.Set("X-Lienthong-Purpose", "STATS")
				if res, err := http.DefaultClient.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			}
		}
	}()
	run("health", chromedp.Click(chromedp.CSS(`#nav button[data-page=health]`)), chromedp.WaitVisible(chromedp.CSS(`#health-status[data-samples="3"]`)))
	close(stop)
	<-loadDone
	var nsrc int
	eval("health sources", `document.querySelectorAll('#health-sources tbody tr').length`, &nsrc)
	if nsrc != len(f.n.Engine.Catalog().Sources) {
		t.Fatalf("health lists %d sources, the node has %d", nsrc, len(f.n.Engine.Catalog().Sources))
	}
	shot("health")

	if errs := errorsSoFar(); len(errs) > 0 {
		t.Fatalf("the page reported errors: %v", errs)
	}
	// The browser enforces the CSP: an inline script does not run, and
	// the violation is reported (so the check above would see one).
	var ran bool
	eval("inline script", `(async () => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; document.body.append(s);
		await new Promise(r => setTimeout(r, 200)); return !!window.inlineRan })()`, &ran)
	if ran {
		t.Fatal("an inline script ran despite the CSP")
	}
	if errs := errorsSoFar(); len(errs) == 0 || !strings.Contains(strings.Join(errs, " "), "Content Security Policy") {
		t.Fatalf("the inline script's CSP violation was not reported: %v", errs)
	}
	// The CSP is on the console's own page.
	res, err := http.Get(f.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP of /: %q", csp)
	}
}
