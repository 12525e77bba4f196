package server

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	_ "github.com/apache/arrow-go/v18/arrow/flight/flightsql/driver"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func flightClient(t testing.TB, addr string, creds credentials.TransportCredentials) *flightsql.Client {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	c, err := flightsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func withToken(ctx context.Context, tok string, kv ...string) context.Context {
	if tok != "" {
		kv = append(kv, "authorization", "Bearer "+tok)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// fetch reads every endpoint of info into "a|b|c" lines.
func fetch(ctx context.Context, c *flightsql.Client, info *flight.FlightInfo) ([]string, *arrow.Schema, error) {
	var out []string
	var schema *arrow.Schema
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			return nil, nil, err
		}
		schema = rdr.Schema()
		for rdr.Next() {
			out = append(out, lines(rdr.RecordBatch())...)
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return out, schema, err
		}
	}
	return out, schema, nil
}

func lines(rec arrow.RecordBatch) []string {
	var out []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var parts []string
		for _, col := range rec.Columns() {
			if col.IsNull(i) {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, col.ValueStr(i))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

func runFlight(ctx context.Context, c *flightsql.Client, sql string) ([]string, error) {
	info, err := c.Execute(ctx, sql)
	if err != nil {
		return nil, err
	}
	rows, _, err := fetch(ctx, c, info)
	return rows, err
}

func wantCode(t *testing.T, err error, code codes.Code, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got none", code)
	}
	st, _ := status.FromError(err)
	if st.Code() != code || !strings.Contains(err.Error(), substr) {
		t.Fatalf("want %s containing %q, got %s: %v", code, substr, st.Code(), err)
	}
}

func TestFlightSQL(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := flightClient(t, ts.FlightAddr(), nil)
	ctx := withToken(context.Background(), testToken, FlightHeaderPurpose, "ki%E1%BB%83m tra", FlightHeaderCase, "HS-1")

	t.Run("statement", func(t *testing.T) {
		info, err := c.Execute(ctx, "SELECT n, pin FROM d.small WHERE n < 3 ORDER BY n")
		if err != nil {
			t.Fatal(err)
		}
		schema, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
		if err != nil || schema.NumFields() != 2 || schema.Field(1).Name != "pin" {
			t.Fatalf("FlightInfo schema %v, %v", schema, err)
		}
		rows, got, err := fetch(ctx, c, info)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows, ",") != "0|000000000000,1|000000000001,2|000000000002" || !got.Equal(schema) {
			t.Fatalf("rows %v schema %v", rows, got)
		}
	})
	t.Run("residual join", func(t *testing.T) {
		rows, err := runFlight(ctx, c, "SELECT r.province, COUNT(*) FROM d.small s JOIN c.residence r ON r.pin = s.pin WHERE s.n < 10 GROUP BY r.province ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 5 || rows[0] != "P00|1" {
			t.Fatalf("rows %v", rows)
		}
	})
	t.Run("session headers reach the log", func(t *testing.T) {
		if !strings.Contains(ts.logs.String(), `"purpose":"kiểm tra"`) || !strings.Contains(ts.logs.String(), `"protocol":"flight"`) {
			t.Fatalf("log lacks the purpose:\n%s", ts.logs.String())
		}
	})
	t.Run("user error", func(t *testing.T) {
		_, err := c.Execute(ctx, "SELECT n FROM d.smal")
		wantCode(t, err, codes.InvalidArgument, "LT-UNKNOWN")
		_, err = c.Execute(ctx, "SELEC 1")
		wantCode(t, err, codes.InvalidArgument, "LT-SYNTAX")
		_, err = c.ExecuteUpdate(ctx, "DELETE FROM d.small")
		if err == nil {
			t.Fatal("an update ran")
		}
	})
	t.Run("wrong token refused", func(t *testing.T) {
		_, err := c.Execute(withToken(context.Background(), "lt_wrong-token-0123456789"), "SELECT 1 FROM d.small LIMIT 1")
		wantCode(t, err, codes.Unauthenticated, "invalid token")
		_, err = c.Execute(context.Background(), "SELECT 1 FROM d.small LIMIT 1")
		wantCode(t, err, codes.Unauthenticated, "missing credentials")
		_, err = c.GetCatalogs(context.Background())
		wantCode(t, err, codes.Unauthenticated, "missing credentials")
	})
	t.Run("prepared statement", func(t *testing.T) {
		ps, err := c.Prepare(ctx, "SELECT COUNT(*) AS n FROM d.small WHERE even")
		if err != nil {
			t.Fatal(err)
		}
		if ps.DatasetSchema() == nil || ps.DatasetSchema().Field(0).Name != "n" || ps.ParameterSchema().NumFields() != 0 {
			t.Fatalf("schemas %v %v", ps.DatasetSchema(), ps.ParameterSchema())
		}
		for range 2 {
			info, err := ps.Execute(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rows, _, err := fetch(ctx, c, info)
			if err != nil || len(rows) != 1 || rows[0] != "500" {
				t.Fatalf("rows %v %v", rows, err)
			}
		}
		// Another principal cannot use the handle.
		if _, err := ps.Execute(withToken(context.Background(), otherToken)); err == nil {
			t.Fatal("another principal ran the prepared statement")
		}
		if err := ps.Close(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = c.Prepare(ctx, "SELECT '?' AS q, `a?` FROM d.small -- ?")
		wantCode(t, err, codes.InvalidArgument, "LT-UNKNOWN") // the ? are quoted: planned, `a?` is unknown
	})
	t.Run("metadata", func(t *testing.T) {
		get := func(info *flight.FlightInfo, err error) []string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			rows, _, err := fetch(ctx, c, info)
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		if got := get(c.GetCatalogs(ctx)); strings.Join(got, ",") != "lienthong" {
			t.Fatalf("catalogs %v", got)
		}
		if got := get(c.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{})); strings.Join(got, ",") != "lienthong|d,lienthong|c" {
			t.Fatalf("schemas %v", got)
		}
		pat := "d"
		if got := get(c.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{DbSchemaFilterPattern: &pat})); len(got) != 1 {
			t.Fatalf("schemas like d: %v", got)
		}
		if got := get(c.GetTables(ctx, &flightsql.GetTablesOpts{})); strings.Join(got, ",") != "lienthong|d|big|TABLE,lienthong|d|small|TABLE,lienthong|c|residence|TABLE" {
			t.Fatalf("tables %v", got)
		}
		tp := "sm%"
		info, err := c.GetTables(ctx, &flightsql.GetTablesOpts{TableNameFilterPattern: &tp, IncludeSchema: true})
		if err != nil {
			t.Fatal(err)
		}
		rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			t.Fatal(err)
		}
		if !rdr.Next() || rdr.RecordBatch().NumRows() != 1 {
			t.Fatal("no table row")
		}
		ts, err := flight.DeserializeSchema(rdr.RecordBatch().Column(4).(*array.Binary).Value(0), memory.DefaultAllocator)
		rdr.Release()
		if err != nil || ts.NumFields() != 8 || ts.Field(3).Type.ID() != arrow.DECIMAL128 {
			t.Fatalf("table schema %v %v", ts, err)
		}
		if got := get(c.GetTableTypes(ctx)); strings.Join(got, ",") != "TABLE" {
			t.Fatalf("table types %v", got)
		}
		if got := get(c.GetPrimaryKeys(ctx, flightsql.TableRef{Table: "small"})); len(got) != 0 {
			t.Fatalf("primary keys %v", got)
		}
		info, err = c.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName, flightsql.SqlInfoFlightSqlServerReadOnly})
		if err != nil {
			t.Fatal(err)
		}
		got := get(info, nil)
		if len(got) != 2 || !strings.Contains(strings.Join(got, ","), "lienthong") {
			t.Fatalf("sql info %v", got)
		}
	})
	t.Run("database/sql driver", func(t *testing.T) {
		db, err := sql.Open("flightsql", fmt.Sprintf("flightsql://%s?token=%s", ts.FlightAddr(), testToken))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int64
		if err := db.QueryRow("SELECT COUNT(*) FROM d.big WHERE n < 1000").Scan(&n); err != nil || n != 1000 {
			t.Fatalf("count %d %v", n, err)
		}
		stmt, err := db.Prepare("SELECT name FROM d.big WHERE n = 42")
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if err := stmt.QueryRow().Scan(&name); err != nil || name != "Nguyễn Văn 42" {
			t.Fatalf("name %q %v", name, err)
		}
		stmt.Close()
		// Arguments are bound through DoPut as the statement's parameters.
		if err := db.QueryRow("SELECT name FROM d.big WHERE n = ?", 42).Scan(&name); err != nil || name != "Nguyễn Văn 42" {
			t.Fatalf("with an argument: %q %v", name, err)
		}
	})
	t.Run("cancel flight info", func(t *testing.T) {
		info, err := c.Execute(ctx, "SELECT pin FROM d.big")
		if err != nil {
			t.Fatal(err)
		}
		rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		if !rdr.Next() {
			t.Fatal(rdr.Err())
		}
		res, err := c.CancelFlightInfo(ctx, &flight.CancelFlightInfoRequest{Info: info})
		if err != nil || res.Status != flight.CancelStatusCancelled {
			t.Fatalf("cancel: %v %v", res, err)
		}
		for rdr.Next() {
		}
		wantCode(t, rdr.Err(), codes.Canceled, "LT-CANCELLED")
	})
}

func TestFlightTLS(t *testing.T) {
	pki := newPKI(t, "cert-user.cutru.gov.vn")
	ts := startServer(t, nil, func(c *Config) {
		c.TLSCert, c.TLSKey, c.ClientCA = pki.certFile, pki.keyFile, pki.caFile
	})
	if !strings.HasPrefix(ts.FlightURL(), "grpc+tls://") {
		t.Fatal(ts.FlightURL())
	}
	tlsCreds := credentials.NewTLS(&tls.Config{RootCAs: pki.caPool})
	c := flightClient(t, ts.FlightAddr(), tlsCreds)
	rows, err := runFlight(withToken(context.Background(), testToken), c, "SELECT COUNT(*) FROM d.small")
	if err != nil || len(rows) != 1 || rows[0] != "1000" {
		t.Fatalf("rows %v %v", rows, err)
	}
	_, err = c.Execute(withToken(context.Background(), "lt_wrong-token-0123456789"), "SELECT 1 FROM d.small")
	wantCode(t, err, codes.Unauthenticated, "invalid token")

	// A client certificate alone authenticates as the principal its CN names.
	cert, err := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	mc := flightClient(t, ts.FlightAddr(), credentials.NewTLS(&tls.Config{RootCAs: pki.caPool, Certificates: []tls.Certificate{cert}}))
	if _, err := runFlight(context.Background(), mc, "SELECT COUNT(*) FROM d.small"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ts.logs.String(), `"principal":"cert-user"`) {
		t.Fatalf("no query logged for cert-user:\n%s", ts.logs.String())
	}
	// A plaintext client gets nowhere.
	pc := flightClient(t, ts.FlightAddr(), nil)
	ctx, cancel := context.WithTimeout(withToken(context.Background(), testToken), 2*time.Second)
	defer cancel()
	if _, err := pc.Execute(ctx, "SELECT 1 FROM d.small"); err == nil {
		t.Fatal("plaintext client was served")
	}
	// Nor does one that does not trust the server's CA.
	uc := flightClient(t, ts.FlightAddr(), credentials.NewTLS(&tls.Config{}))
	if _, err := uc.Execute(ctx, "SELECT 1 FROM d.small"); err == nil {
		t.Fatal("client accepted an untrusted certificate")
	}
}

// TestFlightBasicAuthHandshake: JDBC/ODBC-style user and password login
// returns a bearer token for later calls.
func TestFlightBasicAuthHandshake(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := flightClient(t, ts.FlightAddr(), nil)
	ctx, err := c.Client.AuthenticateBasicToken(context.Background(), "analyst", testToken)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := runFlight(ctx, c, "SELECT COUNT(*) FROM d.small"); err != nil || rows[0] != "1000" {
		t.Fatalf("%v %v", rows, err)
	}
	if _, err := c.Client.AuthenticateBasicToken(context.Background(), "other", testToken); err == nil {
		t.Fatal("a token was accepted under another principal's name")
	}
}

var _ = errors.New
var _ = ipc.NewReader
