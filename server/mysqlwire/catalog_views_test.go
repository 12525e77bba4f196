package mysqlwire_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// staffColumns grants alice two of my.staff's three columns.
const staffColumns = `
[[grants]]
role = "analyst"
purposes = ["STATS"]
source = "my"
table = "staff"
columns = ["pin", "name"]
`

// The SQL catalog views list exactly what the principal's grants let it
// read, on every front-end: alice holds f.*, my.benefits and two columns
// of my.staff, and not my.secret; no query of the views shows my.secret
// or staff.salary, whatever it filters on, and WHERE and ORDER BY work.
func TestCatalogViewsFilteredByGrants(t *testing.T) {
	f := startWith(t, loopbackOK+"flight_addr = \"127.0.0.1:0\"\n", staffColumns)
	queries := []struct{ sql, want string }{
		{"SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.tables ORDER BY TABLE_SCHEMA, TABLE_NAME",
			"f|big|BASE TABLE;f|people|BASE TABLE;my|benefits|BASE TABLE;my|staff|BASE TABLE"},
		{"SELECT schema_name FROM information_schema.SCHEMATA ORDER BY 1", "f;my"},
		{"SELECT column_name, data_type, column_type, is_nullable, ordinal_position FROM information_schema.columns WHERE table_schema = 'my' AND table_name = 'staff' ORDER BY ordinal_position",
			"pin|varchar|varchar(16383)|YES|1;name|varchar|varchar(16383)|YES|2"},
		// Asking for what is not granted finds nothing.
		{"SELECT table_name FROM information_schema.tables WHERE table_name IN ('secret', 'SECRET') OR table_name LIKE '%ecre%'", ""},
		{"SELECT column_name FROM information_schema.columns WHERE column_name = 'salary' OR column_name = 'note'", ""},
		{"SELECT COUNT(*) FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name WHERE t.table_schema = 'my'",
			"8"}, // benefits' 6 columns and staff's 2 granted ones, nothing of secret
	}

	ctx := context.Background()
	// MySQL.
	db := f.open(t, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS")
	for _, q := range queries {
		got, err := rowsOf(t, db, q.sql)
		if err != nil {
			t.Fatalf("mysql: %s: %v", q.sql, err)
		}
		if strings.Join(got, ";") != q.want {
			t.Errorf("mysql: %s\n got %q\nwant %q", q.sql, strings.Join(got, ";"), q.want)
		}
	}
	// The views and SHOW COLUMNS agree on every column's type.
	for _, tbl := range []string{"my.benefits", "f.people"} {
		src, name, _ := strings.Cut(tbl, ".")
		show, err := rowsOf(t, db, "SHOW COLUMNS FROM "+tbl)
		if err != nil {
			t.Fatal(err)
		}
		var fromShow []string
		for _, r := range show {
			p := strings.Split(r, "|")
			fromShow = append(fromShow, p[0]+"|"+p[1]+"|"+p[2])
		}
		view, err := rowsOf(t, db, "SELECT column_name, column_type, is_nullable FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", src, name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(view, ";") != strings.Join(fromShow, ";") || len(view) == 0 {
			t.Errorf("%s: information_schema.columns %v, SHOW COLUMNS %v", tbl, view, fromShow)
		}
	}

	// HTTP.
	for _, q := range queries {
		body, _ := json.Marshal(map[string]any{"sql": q.sql})
		req, _ := http.NewRequest("POST", f.n.Server.HTTPURL()+"/v1/query", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("X-Lienthong-Purpose", "STATS")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.UseNumber()
			var row map[string]any
			if err := dec.Decode(&row); err != nil {
				t.Fatal(err)
			}
			got = append(got, sc.Text())
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("http: %s: %d %v", q.sql, resp.StatusCode, got)
		}
		if len(got) != len(strings.FieldsFunc(q.want, func(r rune) bool { return r == ';' })) {
			t.Errorf("http: %s: %d rows %v, want %q", q.sql, len(got), got, q.want)
		}
		for _, line := range got {
			if strings.Contains(line, "secret") || strings.Contains(line, "salary") {
				t.Errorf("http: %s lists an ungranted name: %s", q.sql, line)
			}
		}
	}

	// Flight SQL.
	c, err := flightsql.NewClient(f.n.Server.FlightAddr(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.token, "x-lienthong-purpose", "STATS")
	for _, q := range queries {
		got, err := flightRows(fctx, c, q.sql)
		if err != nil {
			t.Fatalf("flight: %s: %v", q.sql, err)
		}
		if strings.Join(got, ";") != q.want {
			t.Errorf("flight: %s\n got %q\nwant %q", q.sql, strings.Join(got, ";"), q.want)
		}
	}
}

// flightRows runs sql over Flight SQL and returns its rows as "a|b" lines.
func flightRows(ctx context.Context, c *flightsql.Client, sql string) ([]string, error) {
	info, err := c.Execute(ctx, sql)
	if err != nil {
		return nil, err
	}
	return flightFetch(ctx, c, info.Endpoint[0].Ticket.Ticket)
}

func flightFetch(ctx context.Context, c *flightsql.Client, tkt []byte) ([]string, error) {
	rdr, err := c.DoGet(ctx, &flight.Ticket{Ticket: tkt})
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var out []string
	for rdr.Next() {
		out = append(out, recLines(rdr.RecordBatch())...)
	}
	return out, rdr.Err()
}

func recLines(rec arrow.RecordBatch) []string {
	var out []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var parts []string
		for _, col := range rec.Columns() {
			if col.IsNull(i) {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, fmt.Sprint(col.ValueStr(i)))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}
