package gen

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/duckdb/duckdb-go/v2"
)

// testScale keeps each run around a second; 30,000 citizens still give every
// imperfection a few occurrences.
const testScale = 0.03

func generate(t *testing.T, o Options) *Manifest {
	t.Helper()
	if o.Scale == 0 {
		o.Scale = testScale
	}
	start := time.Now()
	m, err := Generate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated scale %g seed %d in %s", o.Scale, o.Seed, time.Since(start).Round(time.Millisecond))
	return m
}

func openDuck(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkCounts runs every manifest query and row count against db, where the
// tables are reachable as <agency>.<table>.
func checkCounts(t *testing.T, db *sql.DB, m *Manifest, where string) {
	t.Helper()
	for _, ti := range m.Tables {
		if n := queryInt(t, db, fmt.Sprintf("SELECT count(*) FROM %s.%s", ti.Source, ti.Name)); n != ti.Rows {
			t.Errorf("%s: %s.%s has %d rows, manifest says %d", where, ti.Source, ti.Name, n, ti.Rows)
		}
	}
	for _, inc := range m.Inconsistencies {
		if n := queryInt(t, db, inc.SQL); n != inc.Count {
			t.Errorf("%s: %s: query finds %d, manifest says %d", where, inc.Name, n, inc.Count)
		}
	}
}

// canonical renders a value read back from any of the databases as the
// generator's CSV rendering of the column.
func canonical(b []byte, typ string, v any) []byte {
	if v == nil {
		return b
	}
	if bs, ok := v.([]byte); ok {
		v = string(bs)
	}
	switch {
	case typ == "VARCHAR":
		return appendCSVText(b, v.(string))
	case typ == "DATE":
		switch x := v.(type) {
		case time.Time:
			return append(b, x.Format("2006-01-02")...)
		case string:
			return append(b, x[:10]...)
		}
	case strings.HasPrefix(typ, "DECIMAL"):
		switch x := v.(type) {
		case duckdb.Decimal:
			return appendDecimal(b, scaleTo2(x.Value, int(x.Scale)))
		case float64:
			return appendDecimal(b, int64(x*100+0.5))
		case int64:
			return appendDecimal(b, x*100)
		case string:
			r, ok := new(big.Rat).SetString(x)
			if !ok {
				panic("bad decimal " + x)
			}
			r.Mul(r, big.NewRat(100, 1))
			return appendDecimal(b, r.Num().Int64()/r.Denom().Int64())
		}
	default: // integers
		switch x := v.(type) {
		case int64:
			return strconv.AppendInt(b, x, 10)
		case int32:
			return strconv.AppendInt(b, int64(x), 10)
		case string:
			return append(b, x...)
		}
	}
	panic(fmt.Sprintf("unexpected %T for %s", v, typ))
}

func scaleTo2(v *big.Int, scale int) int64 {
	x := new(big.Int).Set(v)
	for ; scale < 2; scale++ {
		x.Mul(x, big.NewInt(10))
	}
	for ; scale > 2; scale-- {
		x.Quo(x, big.NewInt(10))
	}
	return x.Int64()
}

// digestQuery digests the rows of q the way the generator digests a table.
func digestQuery(t *testing.T, db *sql.DB, q string, ti *TableInfo) string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var d tableDigest
	names := make([]string, len(ti.Columns))
	for i, c := range ti.Columns {
		names[i] = c.Name
	}
	d.add([]byte(strings.Join(names, ",") + "\n"))
	vals := make([]any, len(ti.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var line []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line = line[:0]
		for i, c := range ti.Columns {
			if i > 0 {
				line = append(line, ',')
			}
			line = canonical(line, c.Type, vals[i])
		}
		d.add(append(line, '\n'))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func checkDigests(t *testing.T, db *sql.DB, m *Manifest, sources map[string]bool, where string) {
	t.Helper()
	for i := range m.Tables {
		ti := &m.Tables[i]
		if sources != nil && !sources[ti.Source] {
			continue
		}
		if got := digestQuery(t, db, fmt.Sprintf("SELECT * FROM %s.%s", ti.Source, ti.Name), ti); got != ti.Digest {
			t.Errorf("%s: %s.%s digest %s, manifest says %s", where, ti.Source, ti.Name, got, ti.Digest)
		}
	}
}

// embeddedDB gathers the embedded layout in one in-memory DuckDB so the
// manifest's SQL runs on it: dancu attached, hotich and cutru copied from
// SQLite, bhxh and yte as views over the Parquet and CSV files.
func embeddedDB(t *testing.T, out string, m *Manifest) *sql.DB {
	t.Helper()
	db := openDuck(t, "")
	db.SetMaxOpenConns(1)
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(fmt.Sprintf("ATTACH %s AS dancu (READ_ONLY)", squote(filepath.Join(out, "dancu.duckdb"))))
	for _, a := range []string{"hotich", "cutru", "bhxh", "yte"} {
		exec("CREATE SCHEMA " + a)
	}
	for i := range m.Tables {
		ti := &m.Tables[i]
		var cols []string
		for _, c := range ti.Columns {
			cols = append(cols, fmt.Sprintf("%s: %s", squote(c.Name), squote(c.Type)))
		}
		switch ti.Source {
		case "hotich", "cutru":
			copySQLite(t, db, filepath.Join(out, ti.Source+".db"), ti)
		case "bhxh":
			exec(fmt.Sprintf("CREATE VIEW bhxh.%s AS SELECT * FROM read_parquet(%s)", ti.Name, squote(filepath.Join(out, "bhxh", ti.Name+".parquet"))))
		case "yte":
			// PINs look numeric: the CSV must be read with declared types or
			// their leading zero is lost.
			exec(fmt.Sprintf("CREATE VIEW yte.%s AS SELECT * FROM read_csv(%s, header = true, columns = {%s})",
				ti.Name, squote(filepath.Join(out, "yte", ti.Name+".csv")), strings.Join(cols, ", ")))
		}
	}
	return db
}

func copySQLite(t *testing.T, dst *sql.DB, path string, ti *TableInfo) {
	t.Helper()
	src, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var defs []string
	for _, c := range ti.Columns {
		defs = append(defs, c.Name+" "+c.Type)
	}
	if _, err := dst.Exec(fmt.Sprintf("CREATE TABLE %s.%s (%s)", ti.Source, ti.Name, strings.Join(defs, ", "))); err != nil {
		t.Fatal(err)
	}
	rows, err := src.Query("SELECT * FROM " + ti.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	conn, err := dst.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), ti.Source, ti.Name)
		if err != nil {
			return err
		}
		vals := make([]any, len(ti.Columns))
		ptrs := make([]any, len(vals))
		args := make([]driver.Value, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			for i, c := range ti.Columns {
				args[i] = vals[i]
				if s, ok := vals[i].(string); ok && c.Type == "DATE" {
					d, err := time.Parse("2006-01-02", s)
					if err != nil {
						return err
					}
					args[i] = d
				}
			}
			if err := app.AppendRow(args...); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return app.Close()
	})
	if err != nil {
		t.Fatalf("copy %s.%s: %v", ti.Source, ti.Name, err)
	}
}

// pinValiditySQL counts citizens whose PIN disagrees with Decree 137/2015.
const pinValiditySQL = `SELECT count(*) FROM dancu.citizens c
WHERE length(c.pin) <> 12 OR NOT regexp_full_match(c.pin, '[0-9]{12}')
   OR substr(c.pin, 1, 3) NOT IN (%s)
   OR substr(c.pin, 4, 1) <> CAST((year(c.birth_date) // 100 - 19) * 2 + CASE WHEN c.sex = 'F' THEN 1 ELSE 0 END AS VARCHAR)
   OR substr(c.pin, 5, 2) <> substr(CAST(year(c.birth_date) AS VARCHAR), 3, 2)`

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	outA, outB, outC := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	oracle := filepath.Join(dir, "oracle.duckdb")
	m := generate(t, Options{Seed: 42, Out: outA, Oracle: oracle})

	t.Run("manifest", func(t *testing.T) {
		disk, err := ReadManifest(filepath.Join(outA, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(disk, m) {
			t.Fatal("manifest.json differs from the returned manifest")
		}
		if m.Citizens != int64(testScale*1e6) || m.ReferenceDate != "2026-11-30" || len(m.Tables) != 10 {
			t.Fatalf("manifest header: %+v", m)
		}
		for _, inc := range m.Inconsistencies {
			if inc.Count == 0 && inc.Name != "death_date_mismatch" {
				t.Errorf("%s: no occurrence at scale %g: the SQL check would be vacuous", inc.Name, testScale)
			}
		}
		if c := m.Table("dancu", "citizens"); c == nil || c.Rows != m.Citizens {
			t.Fatal("citizens row count")
		}
	})

	t.Run("toml", func(t *testing.T) {
		var cfg struct {
			Sources []struct {
				Name, Kind, Path, DSN string
				PINColumn             string `toml:"pin_column"`
				Tables                map[string]struct {
					PINColumn string `toml:"pin_column"`
				}
			}
		}
		md, err := toml.DecodeFile(filepath.Join(outA, "lienthong.toml"), &cfg)
		if err != nil {
			t.Fatal(err)
		}
		if u := md.Undecoded(); len(u) > 0 {
			t.Fatalf("unexpected keys %v", u)
		}
		want := map[string]string{"dancu": "duckdb:dancu.duckdb", "hotich": "sqlite:hotich.db", "cutru": "sqlite:cutru.db", "bhxh": "parquet:bhxh/*.parquet", "yte": "csv:yte/*.csv"}
		for _, s := range cfg.Sources {
			if want[s.Name] != s.Kind+":"+s.Path || s.PINColumn != "pin" {
				t.Errorf("source %+v", s)
			}
			delete(want, s.Name)
			files, _ := filepath.Glob(filepath.Join(outA, s.Path))
			if len(files) == 0 {
				t.Errorf("%s: nothing at %s", s.Name, s.Path)
			}
		}
		if len(want) > 0 {
			t.Errorf("missing sources %v", want)
		}
		if cfg.Sources[0].Tables["households"].PINColumn != "head_pin" || cfg.Sources[1].Tables["births"].PINColumn != "child_pin" {
			t.Errorf("table overrides: %+v %+v", cfg.Sources[0].Tables, cfg.Sources[1].Tables)
		}
	})

	t.Run("oracle", func(t *testing.T) {
		db := openDuck(t, oracle+"?access_mode=read_only")
		checkCounts(t, db, m, "oracle")
		checkDigests(t, db, m, nil, "oracle")
		var codes []string
		for _, c := range provCodes3 {
			codes = append(codes, squote(c))
		}
		if n := queryInt(t, db, fmt.Sprintf(pinValiditySQL, strings.Join(codes, ","))); n != 0 {
			t.Errorf("%d citizens with an invalid PIN", n)
		}
		if n := queryInt(t, db, "SELECT count(*) - count(DISTINCT pin) FROM dancu.citizens"); n != 0 {
			t.Errorf("%d duplicate PINs", n)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM dancu.citizens WHERE full_name <> nfc_normalize(full_name)"); n != 0 {
			t.Errorf("%d citizen names not in NFC", n)
		}
		// Parents' PINs resolve; household heads are citizens.
		if n := queryInt(t, db, "SELECT count(*) FROM dancu.citizens c WHERE c.mother_pin IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dancu.citizens m WHERE m.pin = c.mother_pin)"); n != 0 {
			t.Errorf("%d unresolved mother PINs", n)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM dancu.households h JOIN dancu.citizens c ON c.pin = h.head_pin AND c.household_id = h.household_id"); n != m.Table("dancu", "households").Rows {
			t.Errorf("only %d household heads resolve", n)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM hotich.births b JOIN dancu.citizens c ON c.pin = b.child_pin WHERE b.birth_date <> c.birth_date OR b.sex <> c.sex OR b.registered_on < b.birth_date OR b.registered_on > DATE '2026-11-30'"); n != 0 {
			t.Errorf("%d births disagree with the NPD or are dated impossibly", n)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM cutru.residences WHERE ended_on < registered_on OR registered_on > DATE '2026-11-30' OR (status = 'active') <> (ended_on IS NULL)"); n != 0 {
			t.Errorf("%d residences with impossible dates", n)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM bhxh.health_cards WHERE valid_to < valid_from"); n != 0 {
			t.Errorf("%d cards ending before they start", n)
		}
		if n := queryInt(t, db, "SELECT count(*) - count(DISTINCT card_no) FROM bhxh.health_cards"); n != 0 {
			t.Errorf("%d duplicate card numbers", n)
		}
		if n := queryInt(t, db, fmt.Sprintf("SELECT count(*) FROM dancu.citizens WHERE length(current_commune) <> 5 OR '0' || substr(current_commune, 1, 2) NOT IN (%s) OR hometown_province NOT IN (%[1]s)", strings.Join(codes, ","))); n != 0 {
			t.Errorf("%d bad commune or province codes", n)
		}
		share := float64(queryInt(t, db, "SELECT count(*) FROM dancu.citizens WHERE ethnicity_code = '01'")) / float64(m.Citizens)
		if share < 0.80 || share > 0.90 {
			t.Errorf("Kinh share %.3f", share)
		}
	})

	t.Run("embedded", func(t *testing.T) {
		db := embeddedDB(t, outA, m)
		checkCounts(t, db, m, "embedded")
		checkDigests(t, db, m, nil, "embedded")
	})

	t.Run("determinism", func(t *testing.T) {
		m2 := generate(t, Options{Seed: 42, Out: outB})
		a, _ := os.ReadFile(filepath.Join(outA, "manifest.json"))
		b, _ := os.ReadFile(filepath.Join(outB, "manifest.json"))
		if !bytes.Equal(a, b) {
			t.Fatal("same seed, different manifest.json")
		}
		// Files, not only their data, are identical, except DuckDB's (its
		// file header differs between runs).
		for _, f := range []string{"yte/vaccinations.csv", "yte/visits.csv", "bhxh/health_cards.parquet", "hotich.db", "cutru.db", "lienthong.toml"} {
			a, _ := os.ReadFile(filepath.Join(outA, f))
			b, _ := os.ReadFile(filepath.Join(outB, f))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("same seed, different %s", f)
			}
		}
		// The digests above were computed while generating; read the second
		// run's outputs back to prove the files hold that same data.
		checkDigests(t, embeddedDB(t, outB, m2), m2, nil, "second run")

		m3 := generate(t, Options{Seed: 43, Out: outC})
		for i := range m.Tables {
			if m.Tables[i].Digest == m3.Tables[i].Digest {
				t.Errorf("%s.%s: seeds 42 and 43 give the same data", m.Tables[i].Source, m.Tables[i].Name)
			}
		}
	})
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{{Scale: 0, Out: t.TempDir()}, {Scale: -1, Out: t.TempDir()}, {Scale: 1e-9, Out: t.TempDir()}, {Scale: 0.001}} {
		if _, err := Generate(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestGenerateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Options{Scale: 0.01, Out: t.TempDir()}); err == nil {
		t.Fatal("cancelled generation succeeded")
	}
}
