// Package agent is the connector for sources an agency exposes through its
// own agent (`lienthong agent`, package lienthong/agent): the node sends
// structured scan requests (agent/wire) as Arrow Flight tickets over
// mutual TLS and reads Arrow batches back. No SQL and no database password
// leave the node; the agency's export rules decide what may be read, and
// its refusals reach the client as LT-SOURCE-REFUSED.
package agent

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"lienthong/agent/wire"
	"lienthong/attempt"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// maxMessage bounds one Flight message (a record batch of BatchRows rows
// of wide text fits; an agent sending more is cut off, not buffered).
const maxMessage = 64 << 20

// Connector talks to one agent.
type Connector struct {
	name        string
	cc          *grpc.ClientConn
	client      flight.Client
	readTimeout time.Duration
	partitions  int
	mem         memory.Allocator
}

// Open connects to s.Address with the node's client certificate and checks
// that the agent and its database answer.
func Open(ctx context.Context, s config.Source) (*Connector, error) {
	tc, err := clientTLS(s)
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	cc, err := grpc.NewClient(s.Address,
		grpc.WithTransportCredentials(credentials.NewTLS(tc)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage)))
	if err != nil {
		return nil, arrowconv.Unavailable(s.Name, err)
	}
	c := &Connector{name: s.Name, cc: cc, client: flight.NewClientFromConn(cc, nil), readTimeout: s.ReadTimeout.Duration, partitions: s.Partitions, mem: memory.DefaultAllocator}
	if err := c.action(ctx, wire.ActionPing, nil); err != nil {
		cc.Close()
		return nil, c.fault("connect", err)
	}
	return c, nil
}

func clientTLS(s config.Source) (*tls.Config, error) {
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", s.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("cert_file/key_file: %w", err)
	}
	name := s.ServerName
	if name == "" {
		name, _, _ = net.SplitHostPort(s.Address)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: name, MinVersion: tls.VersionTLS13}, nil
}

// SetAllocator sets the allocator for record batches (tests check leaks).
func (c *Connector) SetAllocator(mem memory.Allocator) { c.mem = mem }

func (c *Connector) Name() string            { return c.name }
func (c *Connector) Kind() catalog.Kind      { return catalog.Agent }
func (c *Connector) Dialect() sqlgen.Dialect { return Dialect }
func (c *Connector) Close() error            { return c.cc.Close() }

// Ping asks the agent whether it and its database answer.
func (c *Connector) Ping(ctx context.Context) error {
	if err := c.action(ctx, wire.ActionPing, nil); err != nil {
		return c.fault("ping", err)
	}
	return nil
}

// Tables lists what the agency exports to this node, PIN columns marked by
// the agency.
func (c *Connector) Tables(ctx context.Context) ([]*catalog.Table, error) {
	var cat wire.Catalog
	if err := c.action(ctx, wire.ActionCatalog, &cat); err != nil {
		return nil, c.fault("introspect", err)
	}
	out := make([]*catalog.Table, 0, len(cat.Tables))
	for _, t := range cat.Tables {
		ct := &catalog.Table{Source: c.name, Name: t.Name, RemoteName: t.Name, PINColumn: t.PINColumn, RowEstimate: t.RowCount}
		for _, col := range t.Columns {
			typ, err := wire.ParseType(col.Type)
			if err != nil {
				return nil, &connectors.SourceError{Source: c.name, Op: "introspect", Err: fmt.Errorf("table %s column %s: %w", t.Name, col.Name, err)}
			}
			ct.Columns = append(ct.Columns, catalog.Column{Name: col.Name, Type: typ, SourceType: col.Type, Nullable: col.Nullable})
		}
		out = append(out, ct)
	}
	return out, nil
}

// action runs a Flight action and decodes its one result into out (nil:
// the result is ignored).
func (c *Connector) action(ctx context.Context, typ string, out any) error {
	stream, err := c.client.DoAction(ctx, &flight.Action{Type: typ})
	if err != nil {
		return err
	}
	res, err := stream.Recv()
	if out == nil && errors.Is(err, io.EOF) {
		return nil // ping: no result is the answer
	}
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(res.Body, out); err != nil {
		return fmt.Errorf("the agent's %s answer does not parse: %v", typ, err)
	}
	return nil
}

// Query sends st's scan as a structured request and streams the agent's
// batches as schema.
func (c *Connector) Query(ctx context.Context, st sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error) {
	if st.Scan == nil {
		return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: errors.New("internal: an agent takes table scans only")}
	}
	req, err := c.request(ctx, st)
	if err != nil {
		return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: err}
	}
	ranges := pinRanges(st.Scan, c.partitions)
	if len(ranges) == 0 {
		rd, err := c.stream(ctx, req, schema)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return rd, nil
	}
	parts := make([]*reader, 0, len(ranges)+1)
	for i := 0; i <= len(ranges); i++ {
		sub := *req
		if i < len(ranges) {
			sub.PinRange = ranges[i]
		} else {
			// A range holds no NULL: they are a partition of their own.
			pin := st.Scan.Table.Column(st.Scan.Table.PINColumn)
			isNull, err := wire.EncodeExpr(&plan.IsNull{X: &plan.ColRef{Rel: st.Scan.Alias, Name: pin.Name, Typ: pin.Type}})
			if err != nil {
				return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: err}
			}
			sub.Filters = append(slices.Clip(req.Filters), isNull)
		}
		if sub.Nonce, err = nonce(); err == nil {
			var rd *reader
			if rd, err = c.stream(ctx, &sub, schema); err == nil {
				parts = append(parts, rd)
				continue
			}
		}
		for _, p := range parts {
			p.Release()
		}
		return nil, err
	}
	return newMerged(schema, parts), nil
}

// stream runs one request.
func (c *Connector) stream(ctx context.Context, req *wire.Request, schema *arrow.Schema) (*reader, error) {
	ticket, err := req.Encode()
	if err != nil {
		return nil, &connectors.SourceError{Source: c.name, Op: "query", Err: err}
	}
	sctx, cancel := context.WithCancel(ctx)
	w := newWatchdog(c.readTimeout, cancel)
	stream, err := c.client.DoGet(sctx, &flight.Ticket{Ticket: ticket})
	if err != nil {
		cancel()
		return nil, c.streamErr(ctx, w, err)
	}
	w.arm()
	rd, err := flight.NewRecordReader(stream, ipc.WithAllocator(c.mem))
	w.disarm()
	if err != nil {
		cancel()
		return nil, c.streamErr(ctx, w, err)
	}
	if err := sameTypes(rd.Schema(), schema); err != nil {
		rd.Release()
		cancel()
		return nil, &connectors.SourceError{Source: c.name, Op: "convert", Err: err}
	}
	return &reader{c: c, ctx: ctx, rd: rd, schema: schema, w: w, cancel: cancel}, nil
}

// request builds the wire request for st's scan, with who asks and why.
func (c *Connector) request(ctx context.Context, st sqlgen.Statement) (*wire.Request, error) {
	n, err := nonce()
	if err != nil {
		return nil, err
	}
	s := st.Scan
	table := s.Table.RemoteName
	if table == "" {
		table = s.Table.Name
	}
	req := &wire.Request{Version: wire.Version, Nonce: n, Time: time.Now().UTC(), Table: table, Columns: s.Columns}
	for _, f := range s.Filters {
		w, err := wire.EncodeExpr(f)
		if err != nil {
			return nil, fmt.Errorf("internal: a filter the planner pushed cannot be sent: %w", err)
		}
		req.Filters = append(req.Filters, w)
	}
	if sess, id, ok := attempt.RequestFrom(ctx); ok {
		req.Principal, req.Agency, req.Purpose, req.Case, req.Attempt = sess.Principal, sess.Agency, sess.Purpose, sess.CaseID, id
	}
	return req, nil
}

func nonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// pinRanges splits an unfiltered scan of a citizen-linked table into n ranges of
// the PIN's first three digits (the province of registration), the first
// and last open so that every value, well-formed or not, is in exactly
// one (NULLs are in none). None for n <= 1 or a table without a PIN
// column.
func pinRanges(s *plan.Scan, n int) []*wire.PinRange {
	if n <= 1 || s.Table.PINColumn == "" || len(s.Filters) > 0 {
		return nil // a filtered scan (a lookup, a reduced one) is one request
	}
	out := make([]*wire.PinRange, n)
	bound := func(i int) string {
		if i == 0 || i == n {
			return ""
		}
		return fmt.Sprintf("%03d", i*100/n)
	}
	for i := range out {
		out[i] = &wire.PinRange{From: bound(i), To: bound(i + 1)}
	}
	return out
}

// sameTypes checks that the agent streams the types the plan expects:
// column i into field i, as every connector delivers.
func sameTypes(got, want *arrow.Schema) error {
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("the agent sent %d columns, the plan reads %d", got.NumFields(), want.NumFields())
	}
	for i, f := range want.Fields() {
		if g := got.Field(i).Type; !arrow.TypeEqual(g, f.Type) {
			return fmt.Errorf("the agent sent column %d (%s) as %s, the catalog says %s: run REFRESH CATALOG", i+1, f.Name, g, f.Type)
		}
	}
	return nil
}

// fault classifies an error of a call that is not a scan: a refusal, or
// the agent being unreachable.
func (c *Connector) fault(op string, err error) error {
	if r, ok := refusal(err); ok {
		return &connectors.SourceError{Source: c.name, Op: op, Err: r, Refused: r.Error()}
	}
	return arrowconv.Unavailable(c.name, fmt.Errorf("%s: %w", op, err))
}

// streamErr classifies an error of a scan's stream.
func (c *Connector) streamErr(parent context.Context, w *watchdog, err error) error {
	switch {
	case w.fired():
		return &connectors.SourceError{Source: c.name, Op: "query", Err: &connectors.TimeoutError{Setting: "read_timeout", After: c.readTimeout}}
	case parent.Err() != nil:
		return &connectors.SourceError{Source: c.name, Op: "query", Err: parent.Err()}
	}
	if r, ok := refusal(err); ok {
		return &connectors.SourceError{Source: c.name, Op: "query", Err: r, Refused: r.Error()}
	}
	if status.Code(err) == codes.Unavailable {
		return connectors.ConnLost(c.name, "query", err)
	}
	return &connectors.SourceError{Source: c.name, Op: "query", Err: err}
}

// refusal reads an agent's refusal from a gRPC status.
func refusal(err error) (wire.Refusal, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return wire.Refusal{}, false
	}
	return wire.ParseRefusal(st.Message())
}
