package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	flightgen "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"lienthong/agent/wire"
	"lienthong/planner"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// The fixed messages of failures that are not refusals. A client sees
// only these; the cause goes to the agent's own log.
const (
	msgSourceFailed = "lienthong-agent: the agency's database failed to answer this request; the agency's operators have the details in the agent's log"
	msgInternal     = "lienthong-agent: internal error in the agent; the agency's operators have the details in the agent's log"
	msgLogDown      = "lienthong-agent: the agency's request log cannot be written, so the agent serves nothing; tell the agency's operators"
	msgCancelled    = "lienthong-agent: the request was cancelled"
)

// defencesOff switches checks off for the mutation test only (never set
// outside agent's tests): the adversarial suite must fail without them.
var defencesOff = map[string]bool{}

const (
	defColumns = "columns"  // read columns must be exported
	defCanEval = "can-eval" // filters must be computed exactly by the source
	defReplay  = "replay"   // nonces and times are checked
	defGuard   = "guard"    // filters that may fail run only on rows the row filter keeps
)

// service is the Flight service: DoGet (scans) and DoAction (catalog,
// ping); everything else is Unimplemented.
type service struct {
	// Not flight.BaseFlightServer, whose Handshake answers success.
	flightgen.UnimplementedFlightServiceServer
	a *Agent
}

// engineCN is the common name of the verified client certificate.
func engineCN(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return ""
	}
	return ti.State.VerifiedChains[0][0].Subject.CommonName
}

// ident is what a refusal may name; anything else is sent without a name.
var ident = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_.\-]{0,63}$`)

// refusal is a refusal as a gRPC status, recorded in rec.
func refusal(rec *Record, reason wire.Reason, name string) error {
	rec.Outcome = "refused:" + string(reason)
	if !ident.MatchString(name) {
		name = ""
	}
	code := codes.PermissionDenied
	switch reason {
	case wire.RefusedFilter, wire.RefusedKeys, wire.RefusedRequest:
		code = codes.InvalidArgument
	case wire.RefusedRate, wire.RefusedRowLimit:
		code = codes.ResourceExhausted
	}
	return status.Error(code, wire.Refusal{Reason: reason, Name: name}.Message())
}

// clip bounds a string an engine sent before it goes into the log.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 256 {
		s = strings.ToValidUTF8(s[:256], "") + "…"
	}
	return s
}

func clipAll(ss []string) []string {
	out := make([]string, 0, min(len(ss), 256))
	for i, s := range ss {
		if i == 256 {
			out = append(out, fmt.Sprintf("… %d more", len(ss)-256))
			break
		}
		out = append(out, clip(s))
	}
	return out
}

// finish writes rec and turns a failed log write into the call's error:
// nothing is acknowledged without its record.
func (a *Agent) finish(rec *Record, start time.Time, err error) error {
	rec.DurationUS = a.now().Sub(start).Microseconds()
	if rec.Outcome == "" {
		rec.Outcome = "failed"
	}
	if lerr := a.log.append(rec); lerr != nil {
		a.logger.Error("request log write failed", "err", lerr)
		if err == nil {
			err = status.Error(codes.Unavailable, msgLogDown)
		}
	}
	return err
}

// recovered turns a panic in one request into an internal error, logged
// with its stack; the agent keeps serving.
func (a *Agent) recovered(method string, v any) error {
	a.logger.Error("panic serving a request", "method", method, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, msgInternal)
}

func (a *Agent) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = a.recovered(info.FullMethod, v)
		}
	}()
	return h(srv, ss)
}

func (a *Agent) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = a.recovered(info.FullMethod, v)
		}
	}()
	return h(ctx, req)
}

// DoGet serves one scan request (the ticket is a wire.Request).
func (s *service) DoGet(t *flight.Ticket, stream flight.FlightService_DoGetServer) (err error) {
	a := s.a
	start := a.now()
	ticket := t.GetTicket()
	a.inflight.Add(1)
	defer a.inflight.Done()
	// The rules in force when the request starts serve it to its end.
	ru := a.rules.Load()
	rec := &Record{Kind: "request", Action: "scan", Engine: clip(engineCN(stream.Context())), RequestHash: wire.Hash(ticket)}
	if ru.cfg.Log.LogBodies && len(ticket) <= wire.MaxTicketBytes {
		rec.Body = strings.ToValidUTF8(string(ticket), "\uFFFD")
	}
	defer func() {
		if v := recover(); v != nil {
			rec.Outcome = "failed"
			err = a.recovered("DoGet", v)
		}
		err = a.finish(rec, start, err)
	}()
	if err := a.log.healthy(); err != nil {
		rec.Outcome = "failed"
		return status.Error(codes.Unavailable, msgLogDown)
	}
	select {
	case a.slots <- struct{}{}:
		defer func() { <-a.slots }()
	default:
		return refusal(rec, wire.RefusedRate, "")
	}
	return a.scan(stream.Context(), ru, ticket, stream, rec, start)
}

func (a *Agent) scan(ctx context.Context, ru *rules, ticket []byte, stream flight.FlightService_DoGetServer, rec *Record, now time.Time) error {
	req, err := wire.Decode(ticket) // bounds the size first
	if err == nil {
		// What the engine claims, for the log, whatever is refused below.
		rec.Principal, rec.ForAgency, rec.Purpose, rec.Case, rec.Attempt = clip(req.Principal), clip(req.Agency), clip(req.Purpose), clip(req.Case), clip(req.Attempt)
		rec.Table, rec.Columns = clip(req.Table), clipAll(req.Columns)
	}
	// Who first: an engine the agency does not know learns nothing more,
	// not even whether its request parses.
	eng := ru.engines[engineCN(ctx)]
	if eng == nil {
		return refusal(rec, wire.RefusedEngine, rec.Engine)
	}
	if err != nil || req.Version != wire.Version {
		return refusal(rec, wire.RefusedRequest, "")
	}
	if !defencesOff[defReplay] {
		if req.Nonce == "" || len(req.Nonce) > 128 {
			return refusal(rec, wire.RefusedRequest, "")
		}
		if d := now.Sub(req.Time); d > a.cfg.ReplayWindow.Duration || d < -a.cfg.ReplayWindow.Duration {
			return refusal(rec, wire.RefusedReplay, "")
		}
		fresh, full := a.nonces.check(eng.name+"\x00"+req.Nonce, now)
		if full {
			return refusal(rec, wire.RefusedRate, "")
		}
		if !fresh {
			return refusal(rec, wire.RefusedReplay, "")
		}
	}
	if !eng.bucket.allow(now) {
		return refusal(rec, wire.RefusedRate, "")
	}
	if req.Purpose == "" || !eng.purposes[req.Purpose] {
		return refusal(rec, wire.RefusedPurpose, req.Purpose)
	}
	x := ru.exports[req.Table]
	if x == nil {
		return refusal(rec, wire.RefusedTable, req.Table)
	}
	if x.purposes != nil && !x.purposes[req.Purpose] {
		return refusal(rec, wire.RefusedPurpose, req.Purpose)
	}
	if x.requireCase && strings.TrimSpace(req.Case) == "" {
		return refusal(rec, wire.RefusedPurpose, req.Purpose)
	}
	fields := make([]arrow.Field, 0, len(req.Columns))
	seen := map[string]bool{}
	for _, c := range req.Columns {
		typ, ok := x.column(c)
		if !ok {
			if defencesOff[defColumns] {
				if tc := x.table.Column(c); tc != nil && tc.Name == c {
					typ, ok = tc.Type, true
				}
			}
			if !ok {
				return refusal(rec, wire.RefusedColumn, c)
			}
		}
		if seen[c] {
			return refusal(rec, wire.RefusedRequest, "")
		}
		seen[c] = true
		fields = append(fields, arrow.Field{Name: c, Type: typ, Nullable: true})
	}
	if len(fields) == 0 {
		// Only the row count matters (COUNT(*)): sqlgen reads 1 AS _lt_one.
		fields = append(fields, arrow.Field{Name: "_lt_one", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	if req.Limit < 0 {
		return refusal(rec, wire.RefusedRequest, "")
	}
	dialect := a.conn.Dialect()
	dec := &wire.Decoder{Rel: scanAlias, Columns: x.column}
	var filters []plan.Expr
	for _, w := range req.Filters {
		e, err := dec.Decode(w)
		if err != nil {
			var r wire.Refusal
			if errors.As(err, &r) {
				return refusal(rec, r.Reason, r.Name)
			}
			return refusal(rec, wire.RefusedFilter, "")
		}
		if t := e.Type(); t == nil || t.ID() != arrow.BOOL {
			return refusal(rec, wire.RefusedFilter, "")
		}
		if !defencesOff[defCanEval] && !sqlgen.CanEval(dialect, e, nil) {
			return refusal(rec, wire.RefusedFilter, "")
		}
		tooMany, nul := false, false
		plan.Walk(e, func(n plan.Expr) bool {
			switch v := n.(type) {
			case *plan.In:
				tooMany = tooMany || len(v.List) > x.maxKeys
			case *plan.Literal:
				// No database compares text with a NUL in it alike (PostgreSQL
				// refuses it, SQLite's parser stops at it): refused, not sent.
				s, isStr := v.Value.(string)
				nul = nul || isStr && strings.IndexByte(s, 0) >= 0
			}
			return !tooMany && !nul
		})
		if tooMany {
			return refusal(rec, wire.RefusedKeys, req.Table)
		}
		if nul {
			return refusal(rec, wire.RefusedFilter, "")
		}
		filters = append(filters, e)
	}
	if pr := req.PinRange; pr != nil {
		if x.pin == "" || strings.IndexByte(pr.From+pr.To, 0) >= 0 {
			return refusal(rec, wire.RefusedRequest, "")
		}
		pin := &plan.ColRef{Rel: scanAlias, Name: x.pin, Typ: x.byName[x.pin].Type}
		bound := func(op, v string) plan.Expr {
			return &plan.Binary{Op: op, L: pin, R: &plan.Literal{Value: v, Typ: plan.String}, Typ: plan.Bool}
		}
		if pr.From != "" {
			filters = append(filters, bound(">=", pr.From))
		}
		if pr.To != "" {
			filters = append(filters, bound("<", pr.To))
		}
	}
	rf, err := x.rowFilter(now.UTC())
	if err != nil {
		a.logger.Error("row filter no longer binds", "table", x.name, "err", err)
		return status.Error(codes.Internal, msgInternal)
	}
	if rf != nil {
		// The security barrier, as the planner's GuardSecuredFilters: a
		// filter that may fail (a cast, arithmetic, most functions) runs
		// only on rows the agency's filter keeps, whatever order the
		// database evaluates conditions in; else an error would tell the
		// engine about a row it may not see.
		for i, f := range filters {
			if !defencesOff[defGuard] && !planner.Leakproof(f) {
				filters[i] = &plan.Case{Whens: []plan.When{{Cond: rf, Then: f}}, Typ: plan.Bool}
			}
		}
		// The agency's filter always applies: it is not the engine's to
		// loosen.
		filters = append([]plan.Expr{rf}, filters...)
	}
	sc := &plan.Scan{Alias: scanAlias, Table: x.table, Columns: req.Columns, Filters: filters}
	st, err := sqlgen.RenderScan(dialect, sc)
	if err != nil {
		a.logger.Error("rendering a scan failed", "table", x.name, "err", err)
		return refusal(rec, wire.RefusedFilter, "")
	}
	return a.stream(ctx, stream, rec, x, req, st, arrow.NewSchema(fields, nil))
}

// stream runs the statement and sends its rows: at most req.Limit, and a
// rows refusal after max_rows. Returning cancels the source query.
func (a *Agent) stream(ctx context.Context, stream flight.FlightService_DoGetServer, rec *Record, x *export, req *wire.Request, st sqlgen.Statement, schema *arrow.Schema) error {
	qctx, cancel := context.WithTimeout(ctx, a.cfg.Source.StatementTimeout.Duration)
	defer cancel()
	fail := func(err error) error {
		if ctx.Err() != nil {
			rec.Outcome = "cancelled"
			return status.Error(codes.Canceled, msgCancelled)
		}
		rec.Outcome = "failed"
		a.logger.Error("source query failed", "table", x.name, "request_hash", rec.RequestHash, "err", err)
		return status.Error(codes.Unavailable, msgSourceFailed)
	}
	rdr, err := a.conn.Query(qctx, st, schema)
	if err != nil {
		return fail(err)
	}
	defer rdr.Release()
	// Close (which ends the stream with its end-of-stream marker) only on
	// success: a client must never read a cut result as a whole one.
	cw := &countingStream{FlightService_DoGetServer: stream}
	w := flight.NewRecordWriter(cw, ipc.WithSchema(schema), ipc.WithAllocator(a.mem))
	defer func() { rec.Bytes = cw.n }()
	limit, maxRows := req.Limit, x.maxRows
	done := false
	for !done && rdr.Next() {
		b := rdr.RecordBatch()
		n := b.NumRows()
		take, over := n, false
		if limit > 0 && rec.Rows+take >= limit {
			take, done = limit-rec.Rows, true
		}
		if rec.Rows+take > maxRows {
			take, over = maxRows-rec.Rows, true
		}
		if take > 0 {
			if err := writeBounded(w, b, take); err != nil {
				return fail(err)
			}
			rec.Rows += take
		}
		if over {
			cancel()
			return refusal(rec, wire.RefusedRowLimit, x.name)
		}
	}
	if done {
		cancel() // enough rows: stop the source query
	} else if err := rdr.Err(); err != nil {
		return fail(err)
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	rec.Outcome = "served"
	return nil
}

// DoAction answers the catalog and ping actions.
func (s *service) DoAction(act *flight.Action, stream flight.FlightService_DoActionServer) (err error) {
	a := s.a
	start := a.now()
	ctx := stream.Context()
	typ := act.GetType()
	if typ != wire.ActionCatalog && typ != wire.ActionPing {
		return status.Error(codes.Unimplemented, "lienthong-agent: unknown action")
	}
	a.inflight.Add(1)
	defer a.inflight.Done()
	ru := a.rules.Load()
	rec := &Record{Kind: "request", Action: strings.TrimPrefix(typ, "lienthong."), Engine: clip(engineCN(ctx))}
	defer func() {
		if v := recover(); v != nil {
			rec.Outcome = "failed"
			err = a.recovered("DoAction", v)
		}
		err = a.finish(rec, start, err)
	}()
	eng := ru.engines[engineCN(ctx)]
	if eng == nil {
		return refusal(rec, wire.RefusedEngine, rec.Engine)
	}
	if !eng.bucket.allow(start) {
		return refusal(rec, wire.RefusedRate, "")
	}
	switch typ {
	case wire.ActionCatalog:
		body, err := json.Marshal(a.catalogFor(ru, eng))
		if err != nil {
			return err
		}
		if err := stream.Send(&flight.Result{Body: body}); err != nil {
			rec.Outcome = "cancelled"
			return err
		}
		rec.Bytes = int64(len(body))
	case wire.ActionPing:
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.conn.Ping(pctx); err != nil {
			rec.Outcome = "failed"
			a.logger.Error("source ping failed", "err", err)
			return status.Error(codes.Unavailable, msgSourceFailed)
		}
	}
	rec.Outcome = "served"
	return nil
}

// catalogFor lists the exports the engine may read for at least one of
// its purposes.
func (a *Agent) catalogFor(ru *rules, eng *engineState) wire.Catalog {
	cat := wire.Catalog{Agency: a.cfg.Agency, Tables: []wire.Table{}}
	for _, xc := range ru.cfg.Exports {
		var x *export
		for _, e := range ru.exports {
			if strings.EqualFold(e.name, xc.Table) {
				x = e
			}
		}
		if x == nil {
			continue
		}
		if x.purposes != nil {
			any := false
			for p := range eng.purposes {
				any = any || x.purposes[p]
			}
			if !any {
				continue
			}
		}
		t := wire.Table{Name: x.name, PINColumn: x.pin, RowCount: x.table.RowEstimate}
		for _, c := range x.columns {
			tn, _ := wire.TypeName(c.Type)
			t.Columns = append(t.Columns, wire.Column{Name: c.Name, Type: tn, Nullable: c.Nullable})
		}
		cat.Tables = append(cat.Tables, t)
	}
	return cat
}

// maxMessageBytes bounds one Arrow batch message: gRPC clients refuse
// messages over 4 MiB unless told otherwise, and a batch of wide rows
// can be larger.
const maxMessageBytes = 2 << 20

// writeBounded writes the first take rows of b, in slices of at most
// about maxMessageBytes.
func writeBounded(w *flight.Writer, b arrow.RecordBatch, take int64) error {
	size := recordBytes(b)
	per := take
	if n := b.NumRows(); size > maxMessageBytes && n > 0 {
		per = max(1, n*maxMessageBytes/size)
	}
	if per >= take && take == b.NumRows() {
		return w.Write(b)
	}
	for off := int64(0); off < take; off += per {
		s := b.NewSlice(off, min(off+per, take))
		err := w.Write(s)
		s.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// countingStream counts the bytes of the Arrow IPC messages sent.
type countingStream struct {
	flight.FlightService_DoGetServer
	n int64
}

func (c *countingStream) Send(d *flight.FlightData) error {
	c.n += int64(len(d.DataHeader) + len(d.DataBody))
	return c.FlightService_DoGetServer.Send(d)
}

// recordBytes is the size of a batch's buffers, about the size of its
// IPC message.
func recordBytes(b arrow.RecordBatch) int64 {
	var n int64
	var data func(d arrow.ArrayData)
	data = func(d arrow.ArrayData) {
		for _, buf := range d.Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
		for _, c := range d.Children() {
			data(c)
		}
	}
	for _, c := range b.Columns() {
		data(c.Data())
	}
	return n
}
