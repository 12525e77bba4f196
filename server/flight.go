package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"lienthong/internal/like"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"lienthong/catalog"
	"lienthong/engine"
)

// Flight call headers (gRPC metadata keys are lower case).
const (
	FlightHeaderPurpose = "x-lienthong-purpose"
	FlightHeaderCase    = "x-lienthong-case"
)

// CatalogName is the single Flight SQL catalog; each source is a schema in
// it, so tools show source.table, the name lienthong's SQL uses.
const CatalogName = "lienthong"

// maxPrepared bounds open prepared statements per node; idle ones expire.
const (
	maxPrepared     = 10000
	preparedIdleTTL = time.Hour
)

type flightCtxKey struct{}

type flightCaller struct {
	p    Principal
	meta reqMeta
}

func callerOf(ctx context.Context) flightCaller {
	c, _ := ctx.Value(flightCtxKey{}).(flightCaller)
	return c
}

// flightServer implements Flight SQL over the server's engine.
type flightServer struct {
	flightsql.BaseServer
	s *Server

	mu       sync.Mutex
	prepared map[string]*prepared
	running  map[string]*query
}

type prepared struct {
	sql      string
	owner    string
	schema   *arrow.Schema
	lastUsed time.Time
	nparams  int     // the statement's ? parameters
	bound    [][]any // the parameter sets DoPut bound last (one per row)
}

// ticket is what a statement's FlightInfo endpoint carries to DoGet.
type ticket struct {
	ID  string `json:"id"`
	SQL string `json:"sql"`
	// Params are the parameter sets of a prepared statement's execution:
	// the statement runs once per set and the results are concatenated.
	// Empty: it runs once, without parameters.
	Params paramSets `json:"params,omitempty"`
}

func (s *Server) newGRPCServer() *grpc.Server {
	fs := &flightServer{s: s, prepared: map[string]*prepared{}, running: map[string]*query{}}
	fs.Alloc = s.mem
	s.flight = fs
	fs.registerSqlInfo()
	opts := []grpc.ServerOption{
		// Recovery is outermost, so a panic in authentication is caught too.
		grpc.ChainUnaryInterceptor(s.recoverUnary, s.unaryAuth),
		grpc.ChainStreamInterceptor(s.recoverStream, s.streamAuth),
		grpc.MaxRecvMsgSize(16 << 20),
	}
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	g := grpc.NewServer(opts...)
	flight.RegisterFlightServiceServer(g, guardedFlight{flightsql.NewFlightServerWithAllocator(fs, s.mem)})
	return g
}

func (fs *flightServer) registerSqlInfo() {
	info := map[flightsql.SqlInfo]any{
		flightsql.SqlInfoFlightSqlServerName:             "lienthong",
		flightsql.SqlInfoFlightSqlServerVersion:          Version,
		flightsql.SqlInfoFlightSqlServerArrowVersion:     "18",
		flightsql.SqlInfoFlightSqlServerReadOnly:         true,
		flightsql.SqlInfoFlightSqlServerSql:              true,
		flightsql.SqlInfoFlightSqlServerSubstrait:        false,
		flightsql.SqlInfoFlightSqlServerTransaction:      int32(flightsql.SqlTransactionNone),
		flightsql.SqlInfoFlightSqlServerCancel:           true,
		flightsql.SqlInfoFlightSqlServerStatementTimeout: int32(fs.s.cfg.QueryTimeout.Seconds()),
		flightsql.SqlInfoDDLCatalog:                      false,
		flightsql.SqlInfoDDLSchema:                       false,
		flightsql.SqlInfoDDLTable:                        false,
		flightsql.SqlInfoIdentifierCase:                  int32(flightsql.SqlCaseSensitivityCaseInsensitive),
		flightsql.SqlInfoIdentifierQuoteChar:             "`",
		flightsql.SqlInfoQuotedIdentifierCase:            int32(flightsql.SqlCaseSensitivityCaseInsensitive),
		flightsql.SqlInfoAllTablesAreASelectable:         true,
		flightsql.SqlInfoNullOrdering:                    int32(flightsql.SqlNullOrderingSortLow),
		flightsql.SqlInfoSearchStringEscape:              `\`,
		flightsql.SqlInfoSupportsColumnAliasing:          true,
		flightsql.SqlInfoNullPlusNullIsNull:              true,
		flightsql.SqlInfoTransactionsSupported:           false,
	}
	for k, v := range info {
		_ = fs.RegisterSqlInfo(k, v)
	}
}

// Version is reported to Flight SQL clients.
var Version = "dev"

const handshakeMethod = "/arrow.flight.protocol.FlightService/Handshake"

// authenticate reads credentials and session headers from gRPC metadata.
func (s *Server) flightAuthenticate(ctx context.Context) (context.Context, Credentials, error) {
	var c Credentials
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) > 0 {
		parseAuthorization(v[0], &c)
	}
	if pr, ok := peer.FromContext(ctx); ok {
		if ti, ok := pr.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0 {
			c.ClientCert = ti.State.VerifiedChains[0][0]
		}
	}
	p, err := s.auth.Authenticate(ctx, c)
	if err != nil {
		s.metrics.add(mAuthFailures, 1, "flight")
		e := toError(err)
		remote := ""
		if pr, ok := peer.FromContext(ctx); ok {
			remote = pr.Addr.String()
		}
		s.log.Warn("authentication refused", "protocol", "flight", "remote", remote, "error_code", e.Code, "reason", e.Message)
		return ctx, c, e
	}
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	meta := reqMeta{proto: "flight", purpose: decodeHeader(first(FlightHeaderPurpose)), caseID: decodeHeader(first(FlightHeaderCase))}
	if pr, ok := peer.FromContext(ctx); ok {
		meta.remote = pr.Addr.String()
	}
	return context.WithValue(ctx, flightCtxKey{}, flightCaller{p: p, meta: meta}), c, nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, _, err := s.flightAuthenticate(ctx)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, c, err := s.flightAuthenticate(ss.Context())
	if err != nil {
		return err
	}
	if info.FullMethod == handshakeMethod && c.BasicPassword != "" && c.Bearer == "" {
		// Drivers that log in with user and password (JDBC, ODBC) use the
		// bearer token the handshake returns for every later call.
		_ = ss.SetHeader(metadata.Pairs("authorization", "Bearer "+c.BasicPassword))
	}
	return h(srv, &authedStream{ServerStream: ss, ctx: ctx})
}

func (fs *flightServer) engine() (*engine.Engine, error) {
	if fs.s.draining.Load() {
		return nil, newError(http.StatusServiceUnavailable, CodeShuttingDown, "the node is shutting down; retry on another node")
	}
	e := fs.s.engine()
	if e == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeNotReady, "the node is starting (connecting sources); retry in a moment")
	}
	return e, nil
}

// catalogFor is the catalog as the caller may see it (GetDbSchemas,
// GetTables): only what its grants let it read.
func (fs *flightServer) catalogFor(ctx context.Context) (*catalog.Snapshot, error) {
	eng, err := fs.engine()
	if err != nil {
		return nil, err
	}
	c := callerOf(ctx)
	snap, err := eng.CatalogFor(ctx, engine.Session{Principal: c.p.Name, Agency: c.p.Agency, Purpose: c.meta.purpose})
	if err != nil {
		return nil, toError(err)
	}
	return snap, nil
}

// planSchema plans sql (without running it) and returns its result
// schema; params are its parameters' values (nil: none).
func (fs *flightServer) planSchema(ctx context.Context, sqlText string, params []any) (*arrow.Schema, error) {
	eng, err := fs.engine()
	if err != nil {
		return nil, err
	}
	kind, inner := engine.Classify(sqlText)
	switch kind {
	case engine.KindRefresh:
		return arrow.NewSchema([]arrow.Field{{Name: "catalog_version", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil), nil
	case engine.KindExplain, engine.KindExplainAnalyze:
		return arrow.NewSchema([]arrow.Field{{Name: "plan", Type: arrow.BinaryTypes.String, Nullable: true}}, nil), nil
	}
	c := callerOf(ctx)
	p, _, err := eng.Plan(inner, engine.QueryOptions{Session: engine.Session{Principal: c.p.Name, Agency: c.p.Agency, Purpose: c.meta.purpose, CaseID: c.meta.caseID}, Params: params})
	if err != nil {
		return nil, toError(err)
	}
	fields := make([]arrow.Field, len(p.Columns))
	for i, col := range p.Columns {
		fields[i] = arrow.Field{Name: col.Name, Type: col.Type, Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// statementInfo plans sqlText (with the first of its parameter sets) and
// returns the FlightInfo whose ticket runs it with every set.
func (fs *flightServer) statementInfo(ctx context.Context, sqlText string, sets [][]any, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	var first []any
	if len(sets) > 0 {
		first = sets[0]
	}
	schema, err := fs.planSchema(ctx, sqlText, first)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(ticket{ID: newID(), SQL: sqlText, Params: sets})
	if err != nil {
		return nil, toError(err)
	}
	tkt, err := flightsql.CreateStatementQueryTicket(payload)
	if err != nil {
		return nil, err
	}
	return &flight.FlightInfo{
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: tkt}}},
		FlightDescriptor: desc,
		Schema:           flight.SerializeSchema(schema, fs.Alloc),
		TotalRecords:     -1,
		TotalBytes:       -1,
	}, nil
}

func (fs *flightServer) GetFlightInfoStatement(ctx context.Context, cmd flightsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if len(cmd.GetTransactionId()) > 0 {
		return nil, status.Error(codes.InvalidArgument, "lienthong is read-only and has no transactions")
	}
	return fs.statementInfo(ctx, cmd.GetQuery(), nil, desc)
}

func (fs *flightServer) GetSchemaStatement(ctx context.Context, cmd flightsql.StatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	schema, err := fs.planSchema(ctx, cmd.GetQuery(), nil)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(schema, fs.Alloc)}, nil
}

func (fs *flightServer) DoGetStatement(ctx context.Context, cmd flightsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	var t ticket
	if err := json.Unmarshal(cmd.GetStatementHandle(), &t); err != nil || t.ID == "" {
		return nil, nil, status.Error(codes.InvalidArgument, "LT-BAD-REQUEST: not a lienthong statement ticket")
	}
	return fs.run(ctx, t)
}

// run starts a statement and streams it to DoGet. Cancelling ctx (the
// client cancels or disconnects) stops every source query.
func (fs *flightServer) run(ctx context.Context, t ticket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	c := callerOf(ctx)
	sets := [][]any(t.Params)
	if len(sets) == 0 {
		sets = [][]any{nil}
	}
	if len(sets) > maxParamSets {
		return nil, nil, newError(http.StatusBadRequest, "LT-LIMIT", "%d parameter sets in one execution; at most %d are run at once", len(sets), maxParamSets)
	}
	start := func(params []any) (*query, error) {
		meta := c.meta
		meta.params = params
		return fs.s.startQuery(ctx, c.p, meta, t.SQL)
	}
	q, err := start(sets[0])
	if err != nil {
		return nil, nil, err
	}
	schema := q.schema()
	fs.mu.Lock()
	fs.running[t.ID] = q
	fs.mu.Unlock()
	ch := make(chan flight.StreamChunk, 1)
	go func() {
		defer close(ch)
		var err error
		defer func() {
			fs.mu.Lock()
			delete(fs.running, t.ID)
			fs.mu.Unlock()
			q.finish(err)
		}()
		// This goroutine is outside the interceptors' reach.
		defer func() {
			if v := recover(); v != nil {
				e := fs.s.recovered("flight", "DoGet", q.id, v)
				err = e
				select {
				case ch <- flight.StreamChunk{Err: e}:
				case <-ctx.Done():
				}
			}
		}()
		// Each parameter set is one query (admitted, audited, logged as
		// any); their rows follow one another in the one stream.
		for next := 1; ; {
			var rec arrow.RecordBatch
			rec, err = q.next()
			if errors.Is(err, io.EOF) && next < len(sets) {
				// This set is done; the next runs in its place.
				q.finish(nil)
				nq, serr := start(sets[next])
				next++
				if serr == nil && !nq.schema().Equal(schema) {
					nq.finish(errParamSchema)
					serr = nq.err
				}
				if serr != nil { // nq has been finished (and logged)
					err = serr
					select {
					case ch <- flight.StreamChunk{Err: toError(serr)}:
					case <-ctx.Done():
					}
					return
				}
				fs.mu.Lock()
				fs.running[t.ID] = nq
				fs.mu.Unlock()
				q = nq
				continue
			}
			if errors.Is(err, io.EOF) {
				err = nil
				return
			}
			if err != nil {
				e := toError(err)
				select {
				case ch <- flight.StreamChunk{Err: e}:
				case <-ctx.Done():
				}
				return
			}
			rec.Retain()
			select {
			case ch <- flight.StreamChunk{Data: rec}:
			case <-ctx.Done():
				rec.Release()
				err = ctx.Err()
				return
			}
		}
	}()
	return schema, ch, nil
}

// maxParamSets bounds the parameter sets (rows of the DoPut binding) one
// execution of a prepared statement runs.
const maxParamSets = 1000

var errParamSchema = &Error{Code: "LT-TYPE", Message: "the parameter sets give the statement different result types; bind values of the same types in every row", status: http.StatusBadRequest}

func (fs *flightServer) CancelFlightInfo(ctx context.Context, req *flight.CancelFlightInfoRequest) (flight.CancelFlightInfoResult, error) {
	c := callerOf(ctx)
	st := flight.CancelStatusNotCancellable
	if req.Info == nil {
		return flight.CancelFlightInfoResult{Status: st}, nil
	}
	for _, ep := range req.Info.Endpoint {
		if ep.Ticket == nil {
			continue
		}
		tq, err := flightsql.GetStatementQueryTicket(ep.Ticket)
		if err != nil {
			continue
		}
		var t ticket
		if json.Unmarshal(tq.GetStatementHandle(), &t) != nil {
			continue
		}
		fs.mu.Lock()
		q := fs.running[t.ID]
		fs.mu.Unlock()
		if q != nil && q.p.Name == c.p.Name {
			q.cancel(errClientCancelled)
			st = flight.CancelStatusCancelled
		}
	}
	return flight.CancelFlightInfoResult{Status: st}, nil
}

var errClientCancelled = errors.New("cancelled by the client")

func (fs *flightServer) CreatePreparedStatement(ctx context.Context, req flightsql.ActionCreatePreparedStatementRequest) (flightsql.ActionCreatePreparedStatementResult, error) {
	var res flightsql.ActionCreatePreparedStatementResult
	if len(req.GetTransactionId()) > 0 {
		return res, status.Error(codes.InvalidArgument, "lienthong is read-only and has no transactions")
	}
	n, err := statementParams(req.GetQuery())
	if err != nil {
		return res, err
	}
	// The result schema with each ? as NULL; a statement that plans only
	// with its values has its schema once they are bound.
	schema, err := fs.planSchema(ctx, req.GetQuery(), make([]any, n))
	if err != nil {
		if n == 0 {
			return res, err
		}
		schema = arrow.NewSchema(nil, nil)
	}
	c := callerOf(ctx)
	handle := newID()
	now := time.Now()
	fs.mu.Lock()
	for h, p := range fs.prepared {
		if now.Sub(p.lastUsed) > preparedIdleTTL {
			delete(fs.prepared, h)
		}
	}
	if len(fs.prepared) >= maxPrepared {
		fs.mu.Unlock()
		return res, newError(http.StatusServiceUnavailable, CodeBusy, "too many open prepared statements on this node; close the ones you no longer use")
	}
	fs.prepared[handle] = &prepared{sql: req.GetQuery(), owner: c.p.Name, schema: schema, lastUsed: now, nparams: n}
	fs.mu.Unlock()
	res.Handle = []byte(handle)
	res.DatasetSchema = schema
	res.ParameterSchema = parameterSchema(n)
	return res, nil
}

func (fs *flightServer) lookupPrepared(ctx context.Context, handle []byte) (*prepared, error) {
	c := callerOf(ctx)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p := fs.prepared[string(handle)]
	if p == nil || p.owner != c.p.Name {
		return nil, status.Error(codes.NotFound, "LT-BAD-REQUEST: no such prepared statement (closed, expired after an hour unused, or made on another node)")
	}
	p.lastUsed = time.Now()
	return p, nil
}

func (fs *flightServer) ClosePreparedStatement(ctx context.Context, req flightsql.ActionClosePreparedStatementRequest) error {
	if _, err := fs.lookupPrepared(ctx, req.GetPreparedStatementHandle()); err != nil {
		return nil // closing twice is fine
	}
	fs.mu.Lock()
	delete(fs.prepared, string(req.GetPreparedStatementHandle()))
	fs.mu.Unlock()
	return nil
}

func (fs *flightServer) GetFlightInfoPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	p, sets, err := fs.boundPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	return fs.statementInfo(ctx, p.sql, sets, desc)
}

// boundPrepared is the caller's prepared statement and the parameter sets
// bound to it; a statement with parameters must have been bound.
func (fs *flightServer) boundPrepared(ctx context.Context, handle []byte) (*prepared, [][]any, error) {
	p, err := fs.lookupPrepared(ctx, handle)
	if err != nil {
		return nil, nil, err
	}
	fs.mu.Lock()
	sets := p.bound
	fs.mu.Unlock()
	if p.nparams > 0 && len(sets) == 0 {
		return nil, nil, newError(http.StatusBadRequest, "LT-SYNTAX", "the statement has %d parameter(s) (?): bind their values first (DoPut with the prepared statement's command; arrow-go: SetParameters)", p.nparams)
	}
	return p, sets, nil
}

func (fs *flightServer) GetSchemaPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	p, err := fs.lookupPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	schema := p.schema
	fs.mu.Lock()
	sets := p.bound
	fs.mu.Unlock()
	if len(sets) > 0 { // with values bound, the schema they give
		if schema, err = fs.planSchema(ctx, p.sql, sets[0]); err != nil {
			return nil, err
		}
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(schema, fs.Alloc)}, nil
}

func (fs *flightServer) DoGetPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	p, sets, err := fs.boundPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, nil, err
	}
	return fs.run(ctx, ticket{ID: newID(), SQL: p.sql, Params: sets})
}

// DoPutPreparedStatementQuery binds parameter values: the batch's rows
// are the parameter sets the next executions run with (flight_params.go).
// The handle stays the same (the binding is the statement's, until the
// next DoPut).
func (fs *flightServer) DoPutPreparedStatementQuery(ctx context.Context, cmd flightsql.PreparedStatementQuery, rdr flight.MessageReader, _ flight.MetadataWriter) ([]byte, error) {
	p, err := fs.lookupPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	sets, err := bindParams(rdr, p.nparams)
	if err != nil {
		return nil, err
	}
	if p.nparams == 0 {
		sets = nil // a statement without ? has nothing to bind
	}
	fs.mu.Lock()
	p.bound = sets
	fs.mu.Unlock()
	return cmd.GetPreparedStatementHandle(), nil
}

// Metadata.

func (fs *flightServer) infoFor(desc *flight.FlightDescriptor, schema *arrow.Schema) (*flight.FlightInfo, error) {
	if _, err := fs.engine(); err != nil {
		return nil, err
	}
	return &flight.FlightInfo{
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: desc.Cmd}}},
		FlightDescriptor: desc,
		Schema:           flight.SerializeSchema(schema, fs.Alloc),
		TotalRecords:     -1,
		TotalBytes:       -1,
	}, nil
}

// one sends a single batch.
func one(rec arrow.RecordBatch) <-chan flight.StreamChunk {
	ch := make(chan flight.StreamChunk, 1)
	ch <- flight.StreamChunk{Data: rec}
	close(ch)
	return ch
}

func strs(b array.Builder, vals ...*string) {
	sb := b.(*array.StringBuilder)
	for _, v := range vals {
		if v == nil {
			sb.AppendNull()
		} else {
			sb.Append(*v)
		}
	}
}

// likeMatch matches s against a Flight SQL filter pattern (SQL LIKE: % any
// run, _ one character), case-insensitively as lienthong names are.
func likeMatch(pattern *string, s string) bool {
	return pattern == nil || like.Match(strings.ToLower(*pattern), strings.ToLower(s))
}

func catalogMatches(c *string) bool { return c == nil || *c == CatalogName }

func (fs *flightServer) GetFlightInfoCatalogs(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return fs.infoFor(desc, schema_ref.Catalogs)
}

func (fs *flightServer) DoGetCatalogs(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(fs.Alloc, schema_ref.Catalogs)
	defer b.Release()
	name := CatalogName
	strs(b.Field(0), &name)
	return schema_ref.Catalogs, one(b.NewRecordBatch()), nil
}

func (fs *flightServer) GetFlightInfoSchemas(_ context.Context, _ flightsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return fs.infoFor(desc, schema_ref.DBSchemas)
}

func (fs *flightServer) DoGetDBSchemas(ctx context.Context, cmd flightsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	snap, err := fs.catalogFor(ctx)
	if err != nil {
		return nil, nil, err
	}
	b := array.NewRecordBuilder(fs.Alloc, schema_ref.DBSchemas)
	defer b.Release()
	if catalogMatches(cmd.GetCatalog()) {
		cat := CatalogName
		for _, src := range snap.Sources {
			if likeMatch(cmd.GetDBSchemaFilterPattern(), src.Name) {
				name := src.Name
				strs(b.Field(0), &cat)
				strs(b.Field(1), &name)
			}
		}
	}
	return schema_ref.DBSchemas, one(b.NewRecordBatch()), nil
}

func (fs *flightServer) GetFlightInfoTables(_ context.Context, cmd flightsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if cmd.GetIncludeSchema() {
		return fs.infoFor(desc, schema_ref.TablesWithIncludedSchema)
	}
	return fs.infoFor(desc, schema_ref.Tables)
}

func (fs *flightServer) DoGetTables(ctx context.Context, cmd flightsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	snap, err := fs.catalogFor(ctx)
	if err != nil {
		return nil, nil, err
	}
	schema := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		schema = schema_ref.TablesWithIncludedSchema
	}
	wantTable := len(cmd.GetTableTypes()) == 0
	for _, t := range cmd.GetTableTypes() {
		if strings.EqualFold(t, "TABLE") {
			wantTable = true
		}
	}
	b := array.NewRecordBuilder(fs.Alloc, schema)
	defer b.Release()
	if catalogMatches(cmd.GetCatalog()) && wantTable {
		cat, typ := CatalogName, "TABLE"
		for _, src := range snap.Sources {
			if !likeMatch(cmd.GetDBSchemaFilterPattern(), src.Name) {
				continue
			}
			for _, t := range src.Tables {
				if !likeMatch(cmd.GetTableNameFilterPattern(), t.Name) {
					continue
				}
				sname, tname := src.Name, t.Name
				strs(b.Field(0), &cat)
				strs(b.Field(1), &sname)
				strs(b.Field(2), &tname)
				strs(b.Field(3), &typ)
				if cmd.GetIncludeSchema() {
					fields := make([]arrow.Field, len(t.Columns))
					for i, c := range t.Columns {
						md := flightsql.NewColumnMetadataBuilder().
							CatalogName(CatalogName).SchemaName(src.Name).TableName(t.Name).TypeName(c.SourceType).Build()
						fields[i] = arrow.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable, Metadata: *md.Data}
					}
					b.Field(4).(*array.BinaryBuilder).Append(flight.SerializeSchema(arrow.NewSchema(fields, nil), fs.Alloc))
				}
			}
		}
	}
	return schema, one(b.NewRecordBatch()), nil
}

func (fs *flightServer) GetFlightInfoTableTypes(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return fs.infoFor(desc, schema_ref.TableTypes)
}

func (fs *flightServer) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(fs.Alloc, schema_ref.TableTypes)
	defer b.Release()
	typ := "TABLE"
	strs(b.Field(0), &typ)
	return schema_ref.TableTypes, one(b.NewRecordBatch()), nil
}

// Keys: sources declare none lienthong exposes, so these are empty.

func (fs *flightServer) empty(schema *arrow.Schema) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(fs.Alloc, schema)
	defer b.Release()
	return schema, one(b.NewRecordBatch()), nil
}

func (fs *flightServer) GetFlightInfoPrimaryKeys(_ context.Context, _ flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return fs.infoFor(desc, schema_ref.PrimaryKeys)
}

func (fs *flightServer) DoGetPrimaryKeys(context.Context, flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return fs.empty(schema_ref.PrimaryKeys)
}

func (fs *flightServer) GetFlightInfoExportedKeys(_ context.Context, _ flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return fs.infoFor(desc, schema_ref.ExportedKeys)
}

func (fs *flightServer) DoGetExportedKeys(context.Context, flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return fs.empty(schema_ref.ExportedKeys)
}

func (fs *flightServer) GetFlightInfoImportedKeys(_ context.Context, _ flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return fs.infoFor(desc, schema_ref.ImportedKeys)
}

func (fs *flightServer) DoGetImportedKeys(context.Context, flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return fs.empty(schema_ref.ImportedKeys)
}

func (fs *flightServer) GetFlightInfoCrossReference(_ context.Context, _ flightsql.CrossTableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return fs.infoFor(desc, schema_ref.CrossReference)
}

func (fs *flightServer) DoGetCrossReference(context.Context, flightsql.CrossTableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return fs.empty(schema_ref.CrossReference)
}
