package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/status"

	"lienthong/internal/attacks"
	"lienthong/tokens"
)

// The access policy's attack suite (internal/attacks) over both network
// front-ends: every attempt through HTTP and through Flight SQL, with the
// principal from the bearer token and purpose and case from the headers.
func TestAttackSuiteOverHTTPAndFlight(t *testing.T) {
	f := attacks.NewFixture(t)
	testEngine(t) // the tokens' hashes
	toks := map[string]string{}
	var entries []tokens.Entry
	for _, p := range []struct{ name, agency string }{{"an", "BHXH"}, {"binh", "SO_Y_TE"}, {"cuong", "UBND_XA"}, {"dung", "UBND_XA"}, {"em", "SO_Y_TE"}, {"mallory", "X"}} {
		tok := "lt_attack-" + p.name + "-0123456789abcdef"
		h, err := tokens.Hash(tok)
		if err != nil {
			t.Fatal(err)
		}
		toks[p.name] = tok
		entries = append(entries, tokens.Entry{Name: p.name, Agency: p.agency, TokenHash: h})
	}
	auth := authOf(t, entries...)
	s, err := New(&Config{HTTPAddr: "127.0.0.1:0", FlightAddr: "127.0.0.1:0", TokensFile: "(test)", MaxConcurrent: 8}, Options{Logger: NewLogger(&syncBuffer{}, "info"), Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	s.SetEngine(f.Secured)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	corpus := f.Corpus()
	// The session tricks with an unknown or empty principal have no token:
	// over the network they are authentication failures, tried below.
	var net []attacks.Attack
	for _, a := range corpus {
		if _, ok := toks[a.Who.Principal]; ok {
			net = append(net, a)
		}
	}
	if len(net) < 240 {
		t.Fatalf("only %d attempts have a principal with a token", len(net))
	}
	for _, r := range []attacks.Runner{
		&httpRunner{base: s.HTTPURL(), tokens: toks},
		&flightRunner{t: t, c: flightClient(t, s.FlightAddr(), nil), tokens: toks},
	} {
		for _, fail := range f.RunAll(r, net) {
			t.Error(fail)
		}
	}
}

type httpRunner struct {
	base   string
	tokens map[string]string
}

func (*httpRunner) Name() string { return "http" }

func (h *httpRunner) Run(a attacks.Attack) attacks.Reply {
	path, body := "/v1/query", map[string]any{"sql": a.SQL}
	switch a.Op {
	case attacks.OpExplainAnalyze:
		path, body = "/v1/explain", map[string]any{"sql": a.SQL, "analyze": true}
	case attacks.OpCatalog:
		path = "/v1/catalog"
	}
	b, _ := json.Marshal(body)
	method := "POST"
	if a.Op == attacks.OpCatalog {
		method = "GET"
	}
	req, _ := http.NewRequest(method, h.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", ContentTypeArrow)
	req.Header.Set("Authorization", "Bearer "+h.tokens[a.Who.Principal])
	req.Header.Set(HeaderPurpose, url.PathEscape(a.Who.Purpose))
	req.Header.Set(HeaderCase, url.PathEscape(a.Who.CaseID))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return attacks.Reply{Code: "LT-TRANSPORT", Text: err.Error()}
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var r attacks.Reply
	if resp.StatusCode != http.StatusOK {
		var e Error
		_ = json.Unmarshal(buf.Bytes(), &e)
		r.Code, r.Text = e.Code, buf.String()
		return r
	}
	switch a.Op {
	case attacks.OpExplainAnalyze:
		var out struct{ Plan string }
		_ = json.Unmarshal(buf.Bytes(), &out)
		r.Cells = strings.Split(out.Plan, "\n")
	case attacks.OpCatalog:
		var cat CatalogJSON
		if err := json.Unmarshal(buf.Bytes(), &cat); err != nil {
			r.Code, r.Text = "LT-DECODE", err.Error()
		}
		for _, src := range cat.Sources {
			for _, t := range src.Tables {
				r.Cells = append(r.Cells, src.Name+"."+t.Name)
				for _, c := range t.Columns {
					r.Cells = append(r.Cells, src.Name+"."+t.Name+"."+c.Name)
				}
			}
		}
		r.Text = buf.String()
	default:
		if strings.HasPrefix(resp.Header.Get("Content-Type"), ContentTypeArrow) {
			rdr, err := ipc.NewReader(bytes.NewReader(buf.Bytes()))
			if err == nil {
				for rdr.Next() {
					r.Cells = append(r.Cells, attacks.Lines(rdr.RecordBatch())...)
				}
				rdr.Release()
			}
		} else {
			r.Text = buf.String() // EXPLAIN through /v1/query: its text
		}
		if t := resp.Trailer.Get(HeaderError); t != "" {
			var e Error
			_ = json.Unmarshal([]byte(t), &e)
			r.Code, r.Text = e.Code, r.Text+"\n"+t
		}
	}
	return r
}

type flightRunner struct {
	t      *testing.T
	c      *flightsql.Client
	tokens map[string]string
}

func (*flightRunner) Name() string { return "flight" }

func (fr *flightRunner) Run(a attacks.Attack) attacks.Reply {
	ctx := withToken(context.Background(), fr.tokens[a.Who.Principal], FlightHeaderPurpose, url.PathEscape(a.Who.Purpose), FlightHeaderCase, url.PathEscape(a.Who.CaseID))
	var r attacks.Reply
	var err error
	switch a.Op {
	case attacks.OpCatalog:
		var info *flight.FlightInfo
		info, err = fr.c.GetTables(ctx, &flightsql.GetTablesOpts{})
		if err == nil {
			var lines []string
			lines, _, err = fetch(ctx, fr.c, info)
			for _, l := range lines {
				parts := strings.Split(l, "|")
				if len(parts) >= 3 {
					r.Cells = append(r.Cells, parts[1]+"."+parts[2])
				}
			}
		}
		// Columns: the schema of each listed table, as a client would ask.
		if err == nil {
			info, err = fr.c.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
			if err == nil {
				var rdrLines []string
				rdrLines, _, err = fetchTableColumns(ctx, fr.c, info)
				r.Cells = append(r.Cells, rdrLines...)
			}
		}
	case attacks.OpExplainAnalyze:
		var lines []string
		lines, err = runFlight(ctx, fr.c, "EXPLAIN ANALYZE "+a.SQL)
		for _, l := range lines {
			r.Cells = append(r.Cells, strings.Split(l, "\n")...)
		}
	default:
		var lines []string
		lines, err = runFlight(ctx, fr.c, a.SQL)
		for _, l := range lines {
			r.Cells = append(r.Cells, strings.ReplaceAll(l, "|", " | "))
		}
	}
	if err != nil {
		st, _ := status.FromError(err)
		msg := st.Message()
		r.Code, r.Text = strings.SplitN(msg, ":", 2)[0], msg
	}
	return r
}

// fetchTableColumns reads a GetTables result with schemas into
// "source.table.column" entries.
func fetchTableColumns(ctx context.Context, c *flightsql.Client, info *flight.FlightInfo) ([]string, *flight.FlightInfo, error) {
	var out []string
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			return nil, info, err
		}
		for rdr.Next() {
			rec := rdr.RecordBatch()
			src, tbl, sch := rec.Column(1).(*array.String), rec.Column(2).(*array.String), rec.Column(4).(*array.Binary)
			for i := 0; i < int(rec.NumRows()); i++ {
				ts, err := flight.DeserializeSchema(sch.Value(i), memory.DefaultAllocator)
				if err != nil {
					rdr.Release()
					return nil, info, err
				}
				for _, f := range ts.Fields() {
					out = append(out, src.Value(i)+"."+tbl.Value(i)+"."+f.Name)
				}
			}
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return out, info, err
		}
	}
	return out, info, nil
}
