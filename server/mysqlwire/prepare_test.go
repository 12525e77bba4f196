package mysqlwire_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"lienthong/audit/chain"
)

// rowsOf runs q with args and returns its rows, columns joined by "|".
func rowsOf(t *testing.T, db *sql.DB, q string, args ...any) ([]string, error) {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if v.Valid {
				parts = append(parts, v.String)
			} else {
				parts = append(parts, "NULL")
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rows.Err()
}

// go-sql-driver with interpolateParams=false prepares every statement
// with arguments on the server (COM_STMT_PREPARE) and sends the values
// typed, in the binary protocol (COM_STMT_EXECUTE). Each parameterised
// query answers what the query with the literal written in it answers,
// and a value never changes what the statement says.
func TestPreparedStatements(t *testing.T) {
	f := start(t, loopbackOK)
	db := f.open(t, "alice", f.token, "&interpolateParams=false&parseTime=false&connectionAttributes=lienthong_purpose:STATS")
	cases := []struct {
		sql     string
		args    []any
		literal string
	}{
		{"SELECT pin, amount FROM my.benefits WHERE pin = ?", []any{"P002"}, "SELECT pin, amount FROM my.benefits WHERE pin = 'P002'"},
		{"SELECT pin FROM my.benefits WHERE n = ? ORDER BY pin", []any{int64(7)}, "SELECT pin FROM my.benefits WHERE n = 7 ORDER BY pin"},
		{"SELECT pin FROM my.benefits WHERE n > ? AND ratio < ? ORDER BY pin", []any{uint64(1), 2.5}, "SELECT pin FROM my.benefits WHERE n > 1 AND ratio < 2.5 ORDER BY pin"},
		{"SELECT pin FROM my.benefits WHERE paid >= ? ORDER BY pin", []any{time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}, "SELECT pin FROM my.benefits WHERE paid >= '2026-04-01' ORDER BY pin"},
		// go-sql-driver sends a decimal as text (Go has no decimal value):
		// the CAST says which decimal it is.
		{"SELECT pin FROM my.benefits WHERE amount = CAST(? AS DECIMAL(12,2))", []any{"99.99"}, "SELECT pin FROM my.benefits WHERE amount = 99.99"},
		{"SELECT pin FROM my.benefits WHERE amount IS NULL OR amount = ? ORDER BY pin", []any{nil}, "SELECT pin FROM my.benefits WHERE amount IS NULL OR amount = NULL ORDER BY pin"},
		{"SELECT p.name, b.amount FROM f.people p JOIN my.benefits b ON b.pin = p.pin WHERE p.pin = ?", []any{"P001"}, "SELECT p.name, b.amount FROM f.people p JOIN my.benefits b ON b.pin = p.pin WHERE p.pin = 'P001'"},
		{"SELECT pin FROM my.benefits ORDER BY pin LIMIT ?", []any{2}, "SELECT pin FROM my.benefits ORDER BY pin LIMIT 2"},
	}
	for _, c := range cases {
		got, err := rowsOf(t, db, c.sql, c.args...)
		if err != nil {
			t.Fatalf("%s %v: %v", c.sql, c.args, err)
		}
		want, err := rowsOf(t, db, c.literal)
		if err != nil {
			t.Fatalf("%s: %v", c.literal, err)
		}
		if len(want) == 0 || strings.Join(got, ";") != strings.Join(want, ";") {
			t.Errorf("%s %v:\n got %v\nwant %v (the literal query)", c.sql, c.args, got, want)
		}
	}

	// Injection through parameters: each value is one string literal, so
	// it matches only a PIN spelled like it, and there is none.
	for _, inj := range []string{"P001' OR '1'='1", "P001' -- ", `P001\' OR 1=1 #`, "P001'; SELECT note FROM my.secret; --", "' UNION SELECT note, NULL FROM my.secret -- "} {
		got, err := rowsOf(t, db, "SELECT pin, amount FROM my.benefits WHERE pin = ?", inj)
		if err != nil || len(got) != 0 {
			t.Errorf("injection %q through a parameter: %v %v", inj, got, err)
		}
	}
	// A statement that does not parse is refused at prepare time, with
	// the position (not left to a count mismatch in the driver).
	if _, err := db.Prepare("SELEC pin FROM my.benefits WHERE pin = ?"); err == nil {
		t.Error("a statement that does not parse was prepared")
	} else if me := mysqlErr(t, err); me.Number != 1064 || !strings.Contains(me.Message, "column 1") {
		t.Errorf("prepare of a syntax error: %d %q", me.Number, me.Message)
	}
	// A parameter where a table name would be is a syntax error, not a name.
	if _, err := rowsOf(t, db, "SELECT pin FROM ? WHERE 1 = 1", "my.secret"); err == nil {
		t.Error("a ? in FROM was accepted")
	}

	// Errors keep their errno: a denied table at execution, a type error.
	_, err := rowsOf(t, db, "SELECT note FROM my.secret WHERE pin = ?", "P001")
	if me := mysqlErr(t, err); me.Number != 1142 || !strings.HasPrefix(me.Message, "LT-DENIED") {
		t.Fatalf("denied prepared query: %d %q", me.Number, me.Message)
	}
	_, err = rowsOf(t, db, "SELECT pin FROM my.benefits WHERE pin LIKE ? AND n = ?", "P%", "seven")
	if err == nil {
		t.Fatal("a string compared with a bigint column was accepted")
	}
	if me := mysqlErr(t, err); me.Number == 0 || !strings.HasPrefix(me.Message, "LT-") {
		t.Fatalf("type error: %d %q", me.Number, me.Message)
	}
	// The result columns are known at prepare time: a statement prepared
	// explicitly reports them before any execution.
	st, err := db.Prepare("SELECT pin, amount FROM my.benefits WHERE n = ?")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.Query(int64(9))
	if err != nil {
		t.Fatal(err)
	}
	cts, _ := rows.ColumnTypes()
	var types []string
	for _, ct := range cts {
		types = append(types, ct.Name()+":"+ct.DatabaseTypeName())
	}
	var pin, amount string
	for rows.Next() {
		if err := rows.Scan(&pin, &amount); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if strings.Join(types, " ") != "pin:VARCHAR amount:DECIMAL" || pin != "P002" || amount != "99.99" {
		t.Fatalf("prepared statement: %v %s %s", types, pin, amount)
	}
	// Executed again with another value (the statement is reused).
	if err := st.QueryRow(int64(7)).Scan(&pin, &amount); err != nil || pin != "P001" || amount != "1250000.50" {
		t.Fatalf("second execution: %s %s %v", pin, amount, err)
	}
	st.Close()
	// Session statements prepared without parameters (JDBC drivers with
	// server-side prepare do this) are answered as in text.
	st, err = db.Prepare("SELECT @@version_comment")
	if err != nil {
		t.Fatal(err)
	}
	var vc string
	if err := st.QueryRow().Scan(&vc); err != nil || !strings.Contains(vc, "lienthong") {
		t.Fatalf("prepared SELECT @@version_comment: %q %v", vc, err)
	}
	st.Close()

	// The audit record has the statement as sent and the values after it.
	rd, err := chain.OpenReader(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	if err := rd.Iterate(0, func(r *chain.Record) error {
		if strings.Contains(r.SQL, "WHERE n > ? AND ratio < ?") && strings.Contains(r.SQL, "-- params: 1, 2.5") {
			found = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("no audit record holds the prepared statement with its parameters")
	}
}

// SQL-level PREPARE / EXECUTE … USING @var / DEALLOCATE: user variables
// are bound as parameters of their own type.
func TestSQLPrepare(t *testing.T) {
	f := start(t, loopbackOK)
	db := f.open(t, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	for _, q := range []string{
		"PREPARE s FROM 'SELECT pin, amount FROM my.benefits WHERE pin = ? OR n = ? ORDER BY pin'",
		"SET @p = 'P001'' OR ''1''=''1', @n = 9",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := conn.QueryContext(ctx, "EXECUTE s USING @p, @n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var pin, amount string
		if err := rows.Scan(&pin, &amount); err != nil {
			t.Fatal(err)
		}
		got = append(got, pin+"|"+amount)
	}
	rows.Close()
	if strings.Join(got, ";") != "P002|99.99" {
		t.Fatalf("EXECUTE s USING @p, @n = %v, want only P002 (n = 9; the PIN matches nothing)", got)
	}
	if _, err := conn.ExecContext(ctx, "DEALLOCATE PREPARE s"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.QueryContext(ctx, "EXECUTE s USING @p, @n")
	if me := mysqlErr(t, err); me.Number != 1146 || !strings.Contains(me.Message, "PREPARE it first") {
		t.Fatalf("EXECUTE after DEALLOCATE: %d %q", me.Number, me.Message)
	}
}

// A point query over MariaDB as a server-side prepared statement (binary
// protocol, the value bound by the planner) and as text with the value
// written in by the driver (interpolateParams): the cost of binding.
func BenchmarkPointQuery(b *testing.B) {
	f := start(b, loopbackOK)
	for _, mode := range []string{"prepared", "interpolated"} {
		b.Run(mode, func(b *testing.B) {
			db := f.open(b, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS&interpolateParams="+map[string]string{"prepared": "false", "interpolated": "true"}[mode])
			st, err := db.Prepare("SELECT pin, amount FROM my.benefits WHERE pin = ?")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var pin, amount string
			b.ResetTimer()
			for range b.N {
				if err := st.QueryRow("P002").Scan(&pin, &amount); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
