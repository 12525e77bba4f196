package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// The front-ends' decoding under hostile input: whatever a client sends,
// the process stays up and a malformed request is answered as the
// client's fault (a 4xx HTTP status; a gRPC code other than Internal and
// Unknown), never as a crash or an internal error.
//
// TestFrontEndsSurviveGarbage runs a seeded random corpus in normal
// `go test`; the Fuzz functions below take the same checks further with
// `go test -fuzz FuzzFlightCommand ./server/` and so on.

// fuzzTarget is one running server and raw clients for it.
type fuzzTarget struct {
	ts     *testServer
	base   string
	http   *http.Client
	flight flight.FlightServiceClient
}

func newFuzzTarget(t testing.TB) *fuzzTarget {
	t.Helper()
	ts := startServer(t, nil, func(c *Config) {
		c.MaxConcurrent, c.Queue = 4, 64
		c.QueryTimeout.Duration = 10 * time.Second
		c.MaxResultRows = 2000
	})
	conn, err := grpc.NewClient(ts.FlightAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fuzzTarget{ts: ts, base: ts.HTTPURL(), http: &http.Client{Timeout: 20 * time.Second},
		flight: flight.NewFlightServiceClient(conn)}
}

func (f *fuzzTarget) ctx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+testToken), cancel
}

// alive checks both endpoints still answer a query.
func (f *fuzzTarget) alive(t testing.TB) {
	t.Helper()
	if r := post(t, f.http, f.base+"/v1/query", testToken, "SELECT COUNT(*) AS n FROM d.small"); r.status != 200 {
		t.Fatalf("HTTP after the corpus: %d %s", r.status, r.body)
	}
	ctx, cancel := f.ctx()
	defer cancel()
	if _, err := f.flight.ListActions(ctx, &flight.Empty{}); err != nil {
		t.Fatalf("Flight after the corpus: %v", err)
	}
	if n := f.ts.metrics.value(mPanics, "flight") + f.ts.metrics.value(mPanics, "http"); n != 0 {
		t.Fatalf("%v requests panicked; see the log", n)
	}
}

// grpcOK says whether err is an acceptable answer to a malformed request.
func grpcOK(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("not a gRPC status: %v", err)
	}
	switch st.Code() {
	case codes.Internal, codes.Unknown:
		return fmt.Errorf("answered %s: %s", st.Code(), st.Message())
	}
	return nil
}

type httpCase struct {
	method, path string
	header       http.Header
	body         []byte
}

func (f *fuzzTarget) checkHTTP(t testing.TB, c httpCase) {
	t.Helper()
	req, err := http.NewRequest(c.method, f.base+c.path, bytes.NewReader(c.body))
	if err != nil {
		return // the client refuses to send it
	}
	for k, vs := range c.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := f.http.Do(req)
	if err != nil {
		// The client may refuse to send a header it finds invalid.
		if strings.Contains(err.Error(), "invalid header") || strings.Contains(err.Error(), "net/http: invalid") {
			return
		}
		t.Fatalf("%.200s %.200s: %.300v (did the server die?)", c.method, c.path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Fatalf("%.200s %.200s (headers %.300v, body %.200q): %d %s", c.method, c.path, c.header, c.body, resp.StatusCode, body)
	}
}

func anyOf(typeURL string, value []byte) []byte {
	b, _ := proto.Marshal(&anypb.Any{TypeUrl: typeURL, Value: value})
	return b
}

func packed(m proto.Message) []byte {
	a, _ := anypb.New(m)
	b, _ := proto.Marshal(a)
	return b
}

// checkCommand sends cmd as a CMD descriptor to GetFlightInfo and GetSchema.
func (f *fuzzTarget) checkCommand(t testing.TB, cmd []byte) {
	t.Helper()
	ctx, cancel := f.ctx()
	defer cancel()
	d := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd}
	info, err := f.flight.GetFlightInfo(ctx, d)
	if e := grpcOK(err); e != nil {
		t.Fatalf("GetFlightInfo(%x): %v", cmd, e)
	}
	if err == nil {
		// Follow the endpoints as a client would.
		for _, ep := range info.GetEndpoint() {
			f.checkTicket(t, ep.GetTicket().GetTicket())
		}
	}
	if _, err := f.flight.GetSchema(ctx, d); grpcOK(err) != nil {
		t.Fatalf("GetSchema(%x): %v", cmd, grpcOK(err))
	}
	if _, err := f.flight.PollFlightInfo(ctx, d); grpcOK(err) != nil {
		t.Fatalf("PollFlightInfo(%x): %v", cmd, grpcOK(err))
	}
}

func (f *fuzzTarget) checkTicket(t testing.TB, tkt []byte) {
	t.Helper()
	ctx, cancel := f.ctx()
	defer cancel()
	s, err := f.flight.DoGet(ctx, &flight.Ticket{Ticket: tkt})
	for err == nil {
		_, err = s.Recv()
	}
	if e := grpcOK(err); e != nil {
		t.Fatalf("DoGet(%x): %v", tkt, e)
	}
}

func (f *fuzzTarget) checkDoPut(t testing.TB, msgs []*flight.FlightData) {
	t.Helper()
	ctx, cancel := f.ctx()
	defer cancel()
	s, err := f.flight.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := s.Send(m); err != nil {
			break // the server answered already; Recv has it
		}
	}
	_ = s.CloseSend()
	for err == nil {
		_, err = s.Recv()
	}
	if e := grpcOK(err); e != nil {
		t.Fatalf("DoPut(%d messages: %.300v): %v", len(msgs), msgs, e)
	}
}

func (f *fuzzTarget) checkAction(t testing.TB, typ string, body []byte) {
	t.Helper()
	ctx, cancel := f.ctx()
	defer cancel()
	s, err := f.flight.DoAction(ctx, &flight.Action{Type: typ, Body: body})
	for err == nil {
		_, err = s.Recv()
	}
	if e := grpcOK(err); e != nil {
		t.Fatalf("DoAction(%q, %x): %v", typ, body, e)
	}
}

// checkCredentials sends garbage authorization and session headers to a
// unary call and to the handshake.
func (f *fuzzTarget) checkCredentials(t testing.TB, g gen) {
	t.Helper()
	auth := g.pick([]string{"Bearer", "Bearer " + g.str(), "Basic " + g.str(), "Basic !!", "Basic YTpi", g.str(), "Bearer " + testToken})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// grpc-go sends printable ASCII header values only.
	printable := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return '?'
			}
			return r
		}, s)
	}
	auth = printable(auth)
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth,
		FlightHeaderPurpose, printable(g.pick([]string{"%", "%zz", "%0a", "%00", "%C3%28", strings.Repeat("p", 300), g.str()})),
		FlightHeaderCase, printable(g.str()))
	if _, err := f.flight.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packed(&pb.CommandGetCatalogs{})}); grpcOK(err) != nil {
		t.Fatalf("GetFlightInfo with authorization %.80q: %v", auth, grpcOK(err))
	}
	hs, err := f.flight.Handshake(ctx)
	if err == nil {
		_ = hs.Send(&flight.HandshakeRequest{Payload: g.bytes(40)})
		_ = hs.CloseSend()
		for err == nil {
			_, err = hs.Recv()
		}
	}
	if e := grpcOK(err); e != nil {
		t.Fatalf("Handshake with authorization %.80q: %v", auth, e)
	}
}

// The generator: garbage, and valid shapes holding garbage.

var (
	fuzzSQL = []string{
		"SELECT COUNT(*) AS n FROM d.small", "SELECT pin FROM d.small WHERE n < 3",
		"SELECT", "SELECT (", "'", "`", `"`, "/*", "--", "\\", "SELECT 1; SELECT 2",
		"SELECT * FROM nowhere.t", "EXPLAIN SELECT 1 FROM d.small", "REFRESH", "\x00", "\xff\xfe",
		"SELECT 'a\x00b'", "SELECT ?", "SET x = 1", "DROP TABLE d.small",
	}
	sqlTypes = []string{
		"CommandStatementQuery", "CommandStatementSubstraitPlan", "CommandPreparedStatementQuery",
		"CommandGetCatalogs", "CommandGetDbSchemas", "CommandGetTables", "CommandGetTableTypes",
		"CommandGetSqlInfo", "CommandGetXdbcTypeInfo", "CommandGetPrimaryKeys", "CommandGetExportedKeys",
		"CommandGetImportedKeys", "CommandGetCrossReference", "TicketStatementQuery", "CommandStatementUpdate",
		"CommandPreparedStatementUpdate", "CommandStatementIngest", "ActionCreatePreparedStatementRequest",
	}
	actionTypes = []string{
		flightsql.CreatePreparedStatementActionType, flightsql.ClosePreparedStatementActionType,
		flightsql.CreatePreparedSubstraitPlanActionType, flightsql.CancelQueryActionType,
		flightsql.BeginSavepointActionType, flightsql.BeginTransactionActionType,
		flightsql.EndTransactionActionType, flightsql.EndSavepointActionType,
		"CancelFlightInfo", "RenewFlightEndpoint", "SetSessionOptions", "GetSessionOptions", "CloseSession", "", "nope",
	}
)

type gen struct{ r *rand.Rand }

func (g gen) bytes(max int) []byte {
	b := make([]byte, g.r.IntN(max+1))
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

func (g gen) pick(ss []string) string { return ss[g.r.IntN(len(ss))] }

// str is valid UTF-8: protobuf string fields must be, or the client
// refuses to send them; raw bytes reach the server inside Any values.
func (g gen) str() string { return strings.ToValidUTF8(g.rawStr(), "\uFFFD") }

func (g gen) psql() string { return strings.ToValidUTF8(g.sql(), "\uFFFD") }

func (g gen) rawStr() string {
	switch g.r.IntN(5) {
	case 0:
		return string(g.bytes(40))
	case 1:
		return strings.Repeat("%", g.r.IntN(300))
	case 2:
		return g.pick(fuzzSQL)
	case 3:
		return strings.Repeat("a", g.r.IntN(5000))
	}
	return "d"
}

func (g gen) sql() string {
	s := g.pick(fuzzSQL)
	if g.r.IntN(2) == 0 && len(s) > 0 {
		b := []byte(s)
		for range 1 + g.r.IntN(3) {
			b[g.r.IntN(len(b))] = byte(g.r.UintN(256))
		}
		s = string(b)
	}
	return s
}

func (g gen) strp() *string {
	if g.r.IntN(3) == 0 {
		return nil
	}
	s := g.str()
	return &s
}

// message is a Flight SQL message of a random kind with random fields.
func (g gen) message() proto.Message {
	switch g.r.IntN(14) {
	case 0:
		return &pb.CommandStatementQuery{Query: g.psql(), TransactionId: g.bytes(2)}
	case 1:
		return &pb.TicketStatementQuery{StatementHandle: g.ticketHandle()}
	case 2:
		return &pb.CommandPreparedStatementQuery{PreparedStatementHandle: g.bytes(16)}
	case 3:
		return &pb.CommandGetDbSchemas{Catalog: g.strp(), DbSchemaFilterPattern: g.strp()}
	case 4:
		return &pb.CommandGetTables{Catalog: g.strp(), DbSchemaFilterPattern: g.strp(), TableNameFilterPattern: g.strp(),
			TableTypes: []string{g.str()}, IncludeSchema: g.r.IntN(2) == 0}
	case 5:
		return &pb.CommandGetSqlInfo{Info: []uint32{g.r.Uint32(), uint32(g.r.IntN(600)), 0}}
	case 6:
		dt := g.r.Int32()
		return &pb.CommandGetXdbcTypeInfo{DataType: &dt}
	case 7:
		return &pb.CommandGetPrimaryKeys{Catalog: g.strp(), DbSchema: g.strp(), Table: g.str()}
	case 8:
		return &pb.CommandGetCrossReference{PkCatalog: g.strp(), PkTable: g.str(), FkTable: g.str()}
	case 9:
		return &pb.CommandStatementUpdate{Query: g.psql()}
	case 10:
		return &pb.CommandStatementSubstraitPlan{Plan: &pb.SubstraitPlan{Plan: g.bytes(30), Version: g.str()}}
	case 11:
		return &pb.CommandStatementIngest{Table: g.str()}
	case 12:
		return &pb.CommandGetCatalogs{}
	}
	return &pb.CommandGetTableTypes{}
}

func (g gen) ticketHandle() []byte {
	switch g.r.IntN(4) {
	case 0:
		return g.bytes(30)
	case 1:
		return []byte(fmt.Sprintf(`{"id":%q,"sql":%q}`, g.str(), g.sql()))
	case 2:
		return []byte(`{"id":"x","sql":""}`)
	}
	return []byte(`{"id":`)
}

// command is bytes for a descriptor's cmd or a ticket.
func (g gen) command() []byte {
	switch g.r.IntN(5) {
	case 0:
		return g.bytes(60)
	case 1:
		return anyOf("type.googleapis.com/arrow.flight.protocol.sql."+g.pick(sqlTypes), g.bytes(40))
	case 2:
		return anyOf(string(g.bytes(20)), g.bytes(20))
	case 3:
		b := packed(g.message())
		if len(b) > 0 && g.r.IntN(3) == 0 {
			b = b[:g.r.IntN(len(b))] // truncated
		}
		return b
	}
	return packed(g.message())
}

func (g gen) flightData() *flight.FlightData {
	d := &flight.FlightData{DataHeader: nil, DataBody: nil}
	switch g.r.IntN(5) {
	case 0: // no descriptor at all
	case 1:
		d.FlightDescriptor = &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{g.str()}}
	case 2:
		d.FlightDescriptor = &flight.FlightDescriptor{Type: pb.FlightDescriptor_DescriptorType(g.r.IntN(5)), Cmd: g.command()}
	default:
		d.FlightDescriptor = &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: g.command()}
	}
	if g.r.IntN(2) == 0 {
		d.DataHeader = g.bytes(64)
		d.DataBody = g.bytes(64)
	}
	if g.r.IntN(4) == 0 {
		d.AppMetadata = g.bytes(16)
	}
	return d
}

func (g gen) httpCase() httpCase {
	paths := []string{"/v1/query", "/v1/explain", "/v1/refresh", "/v1/catalog", "/metrics", "/healthz", "/readyz",
		"/v1/query?format=arrow", "/v1/query?format=" + string(g.bytes(5)), "/", "/v1/../v1/query", "/%zz", "/v1/query?" + strings.Repeat("a=1&", 200)}
	c := httpCase{method: g.pick([]string{"POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS"}), path: g.pick(paths), header: http.Header{}}
	if g.r.IntN(6) != 0 {
		c.header.Set("Authorization", "Bearer "+testToken)
	} else {
		c.header.Set("Authorization", g.pick([]string{"Bearer", "Basic !!!", "Basic " + string(g.bytes(10)), "Bearer " + strings.Repeat("x", 5000), "Digest x"}))
	}
	switch g.r.IntN(4) {
	case 0:
		c.header.Set("Content-Type", "application/json")
		c.body = []byte(g.pick([]string{
			`{"sql": "SELECT 1 AS x FROM d.small LIMIT 1"} {"sql": "x"}`, `{"sql": 1}`, `{"sql": null}`, `[]`, `{`, `{"sql": "\ud800"}`,
			`{"sql": "SELECT 1 AS x FROM d.small LIMIT 1", "analyze": "yes"}`, `{"nope": 1}`, `"` + strings.Repeat("a", 1000) + `"`,
			fmt.Sprintf(`{"sql": %q}`, g.sql()), string(g.bytes(50)),
		}))
	case 1:
		c.header.Set("Content-Type", g.pick([]string{"text/plain", "application/json; charset=latin1", ";;;", "application/json; x", string(g.bytes(8))}))
		c.body = []byte(g.sql())
	case 2:
		c.body = g.bytes(200)
	default:
		c.body = []byte(g.sql())
	}
	if g.r.IntN(3) == 0 {
		c.header.Set(HeaderPurpose, g.pick([]string{"%", "%zz", "%00", "%0a", strings.Repeat("p", 300), "%C3%28", "thống kê", string(g.bytes(10))}))
		c.header.Set(HeaderCase, g.str())
	}
	if g.r.IntN(5) == 0 {
		c.header.Set("Accept", g.pick([]string{ContentTypeArrow, "*/*", string(g.bytes(10))}))
		c.header.Set(HeaderErrTrailer, "1")
	}
	if g.r.IntN(10) == 0 {
		c.body = bytes.Repeat([]byte("a"), maxRequestBytes+10)
	}
	return c
}

func TestFrontEndsSurviveGarbage(t *testing.T) {
	f := newFuzzTarget(t)
	start := time.Now()
	g := gen{rand.New(rand.NewPCG(11, 2026))}
	const n = 400
	var wg sync.WaitGroup
	// HTTP and Flight at once, as hostile clients would.
	wg.Add(1)
	go func() {
		defer wg.Done()
		hg := gen{rand.New(rand.NewPCG(12, 2026))}
		for range 2 * n {
			f.checkHTTP(t, hg.httpCase())
			if t.Failed() {
				return
			}
		}
	}()
	for range n {
		f.checkCredentials(t, g)
		f.checkCommand(t, g.command())
		f.checkTicket(t, g.command())
		msgs := make([]*flight.FlightData, g.r.IntN(4))
		for i := range msgs {
			msgs[i] = g.flightData()
		}
		f.checkDoPut(t, msgs)
		f.checkAction(t, g.pick(actionTypes), g.command())
		if t.Failed() {
			break
		}
	}
	wg.Wait()
	f.alive(t)
	t.Logf("%d HTTP requests and %d Flight calls in %s", 2*n, 7*n, time.Since(start).Round(time.Millisecond))
}

// TestDoPutWithoutDescriptor: arrow-go's Flight SQL server dereferences
// the first DoPut message's descriptor unchecked; this used to panic and
// take HTTP and Flight down with it.
func TestDoPutWithoutDescriptor(t *testing.T) {
	f := newFuzzTarget(t)
	ctx, cancel := f.ctx()
	defer cancel()
	s, err := f.flight.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&flight.FlightData{}); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseSend()
	_, err = s.Recv()
	wantCode(t, err, codes.InvalidArgument, CodeBadRequest)
	f.alive(t)
}

// panicAuth panics for one token: a stand-in for any bug below a
// front-end, reached through the real request path of each.
type panicAuth struct{ Authenticator }

const panicToken = "lt_panic-token-0123456789abcdef"

func (a panicAuth) Authenticate(ctx context.Context, c Credentials) (Principal, error) {
	if c.Bearer == panicToken {
		var m map[string]int
		m["pin 012345678901"]++ // a nil map write, with a value in the panic text
	}
	return a.Authenticator.Authenticate(ctx, c)
}

func TestPanicsAreRecovered(t *testing.T) {
	ts := startServerAuth(t, nil, nil, func(a Authenticator) Authenticator { return panicAuth{a} })
	check := func(what, msg string) {
		t.Helper()
		if !strings.Contains(msg, CodeInternal) || !strings.Contains(msg, "request id ") {
			t.Errorf("%s: want LT-INTERNAL with a request id, got %s", what, msg)
		}
		if strings.Contains(msg, "012345678901") || strings.Contains(msg, "nil map") || strings.Contains(msg, "goroutine") {
			t.Errorf("%s: the panic reached the client: %s", what, msg)
		}
	}
	r := post(t, nil, ts.HTTPURL()+"/v1/query", panicToken, "SELECT 1 AS x FROM d.small LIMIT 1")
	if r.status != 500 {
		t.Errorf("HTTP: status %d", r.status)
	}
	check("HTTP", string(r.body))

	conn, err := grpc.NewClient(ts.FlightAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fc := flight.NewFlightServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+panicToken)
	_, err = fc.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packed(&pb.CommandGetCatalogs{})})
	wantCode(t, err, codes.Internal, CodeInternal)
	check("Flight unary", status.Convert(err).Message())
	s, err := fc.DoGet(ctx, &flight.Ticket{Ticket: packed(&pb.CommandGetCatalogs{})})
	if err == nil {
		_, err = s.Recv()
	}
	wantCode(t, err, codes.Internal, CodeInternal)
	check("Flight stream", status.Convert(err).Message())

	if got := ts.metrics.value(mPanics, "http"); got != 1 {
		t.Errorf("http panics counted %v, want 1", got)
	}
	if got := ts.metrics.value(mPanics, "flight"); got != 2 {
		t.Errorf("flight panics counted %v, want 2", got)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `"msg":"panic recovered`) || !strings.Contains(logs, `"stack":"goroutine`) || strings.Contains(logs, "012345678901") {
		t.Errorf("the log should hold the panic (redacted) with its stack:\n%s", logs)
	}
	// The process is up and serves everyone else.
	if r := post(t, nil, ts.HTTPURL()+"/v1/query", testToken, "SELECT COUNT(*) AS n FROM d.small"); r.status != 200 {
		t.Fatalf("after the panics: %d %s", r.status, r.body)
	}
	if rows, err := runFlight(withToken(context.Background(), testToken), flightClient(t, ts.FlightAddr(), nil), "SELECT COUNT(*) FROM d.small"); err != nil || rows[0] != "1000" {
		t.Fatalf("flight after the panics: %v %v", rows, err)
	}
}

// Native fuzzing: `go test -fuzz FuzzX -fuzztime 5m ./server/` (one at a
// time). In normal runs only the seeds run.

func FuzzFlightCommand(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(1, 1))}
	for range 8 {
		f.Add(g.command())
	}
	f.Add([]byte{})
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, cmd []byte) {
		ft.checkCommand(t, cmd)
		ft.checkTicket(t, cmd)
	})
}

func FuzzDoPut(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(2, 2))}
	for range 8 {
		d := g.flightData()
		f.Add(d.GetFlightDescriptor() != nil, int32(d.GetFlightDescriptor().GetType()), d.GetFlightDescriptor().GetCmd(), d.DataHeader, d.DataBody, 1+g.r.IntN(3))
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, hasDesc bool, typ int32, cmd, header, body []byte, n int) {
		d := &flight.FlightData{DataHeader: header, DataBody: body}
		if hasDesc {
			d.FlightDescriptor = &flight.FlightDescriptor{Type: pb.FlightDescriptor_DescriptorType(typ), Cmd: cmd}
		}
		msgs := []*flight.FlightData{d}
		for i := 1; i < n%4; i++ {
			msgs = append(msgs, &flight.FlightData{DataHeader: header, DataBody: body})
		}
		ft.checkDoPut(t, msgs)
	})
}

func FuzzDoAction(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(3, 3))}
	for _, typ := range actionTypes {
		f.Add(typ, g.command())
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		// The client will not send a type that is not UTF-8.
		ft.checkAction(t, strings.ToValidUTF8(typ, "?"), body)
	})
}

func FuzzHTTPRequest(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(4, 4))}
	for range 8 {
		c := g.httpCase()
		if len(c.body) > 4096 {
			c.body = c.body[:4096]
		}
		f.Add(c.method, c.path, c.header.Get("Content-Type"), c.header.Get(HeaderPurpose), c.body)
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, method, path, contentType, purpose string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+testToken)
		h.Set("Content-Type", contentType)
		h.Set(HeaderPurpose, purpose)
		ft.checkHTTP(t, httpCase{method: method, path: path, header: h, body: body})
	})
}
