package gen

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" for database/sql
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// needService skips the test when a server is down, unless
// LIENTHONG_REQUIRE_SERVICES=1 demands it.
func needService(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("LIENTHONG_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s unreachable: %v", name, err)
	}
	t.Skipf("%s unreachable: %v", name, err)
}

func TestServers(t *testing.T) {
	pgAdmin := envOr("LIENTHONG_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
	myAdmin := envOr("LIENTHONG_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	pg, err := pgx.Connect(ctx, pgAdmin)
	needService(t, "PostgreSQL", err)
	t.Cleanup(func() { pg.Close(context.Background()) })
	my, err := sql.Open("mysql", myAdmin)
	if err == nil {
		err = my.PingContext(ctx)
	}
	needService(t, "MariaDB", err)
	t.Cleanup(func() { my.Close() }) // cleanups run last-in first-out: after the drops

	prefix := fmt.Sprintf("ltgen_%d_%d_", os.Getpid(), time.Now().UnixNano()%1_000_000)
	t.Cleanup(func() {
		ctx := context.Background()
		for _, a := range []string{"dancu", "cutru"} {
			if _, err := pg.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{prefix + a}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Errorf("drop %s: %v", prefix+a, err)
			}
		}
		for _, a := range []string{"hotich", "bhxh"} {
			if _, err := my.Exec("DROP DATABASE IF EXISTS " + bquote(prefix+a)); err != nil {
				t.Errorf("drop %s: %v", prefix+a, err)
			}
		}
	})

	out := t.TempDir()
	m := generate(t, Options{Seed: 42, Out: out, PostgresDSN: pgAdmin, MySQLDSN: myAdmin, DBPrefix: prefix})
	// Running it again over existing databases replaces the tables.
	m = generate(t, Options{Seed: 42, Out: out, PostgresDSN: pgAdmin, MySQLDSN: myAdmin, DBPrefix: prefix})
	embedded := generate(t, Options{Seed: 42, Out: t.TempDir()})
	for i := range m.Tables {
		if !tableInfoEqual(&m.Tables[i], &embedded.Tables[i]) {
			t.Errorf("%s.%s differs between server and embedded layouts", m.Tables[i].Source, m.Tables[i].Name)
		}
	}
	for _, f := range []string{"dancu.duckdb", "hotich.db", "cutru.db", "bhxh"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("%s written although its agency went to a server", f)
		}
	}

	var cfg struct {
		Sources []struct{ Name, Kind, Path, DSN string }
	}
	if _, err := toml.DecodeFile(filepath.Join(out, "lienthong.toml"), &cfg); err != nil {
		t.Fatal(err)
	}
	dbs := map[string]*sql.DB{}
	for _, s := range cfg.Sources {
		var driver string
		switch s.Name {
		case "dancu", "cutru":
			driver = "pgx"
			if s.Kind != "postgres" || !strings.HasSuffix(s.DSN, "/"+prefix+s.Name) {
				t.Fatalf("source %+v", s)
			}
		case "hotich", "bhxh":
			driver = "mysql"
			if s.Kind != "mysql" || !strings.HasSuffix(s.DSN, "/"+prefix+s.Name) {
				t.Fatalf("source %+v", s)
			}
		default:
			if s.Kind != "csv" || s.DSN != "" {
				t.Fatalf("source %+v", s)
			}
			continue
		}
		db, err := sql.Open(driver, s.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[s.Name] = db
	}
	if len(dbs) != 4 {
		t.Fatalf("server sources: %v", cfg.Sources)
	}

	// Every table reads back as exactly the generated data.
	for i := range m.Tables {
		ti := &m.Tables[i]
		db := dbs[ti.Source]
		if db == nil {
			continue
		}
		if got := digestQuery(t, db, "SELECT * FROM "+ti.Name, ti); got != ti.Digest {
			t.Errorf("%s.%s: digest %s, manifest says %s", ti.Source, ti.Name, got, ti.Digest)
		}
	}
	// Queries that stay within one agency run on the server as written,
	// less the agency prefix.
	agencyRef := regexp.MustCompile(`\b(dancu|hotich|cutru|bhxh|yte)\.`)
	ran := 0
	for _, inc := range m.Inconsistencies {
		refs := map[string]bool{}
		for _, r := range agencyRef.FindAllStringSubmatch(inc.SQL, -1) {
			refs[r[1]] = true
		}
		if len(refs) != 1 {
			continue
		}
		for a := range refs {
			if db := dbs[a]; db != nil {
				ran++
				if n := queryInt(t, db, agencyRef.ReplaceAllString(inc.SQL, "")); n != inc.Count {
					t.Errorf("%s on %s: %d, manifest says %d", inc.Name, a, n, inc.Count)
				}
			}
		}
	}
	if ran < 3 {
		t.Errorf("only %d single-agency queries ran on the servers", ran)
	}
}

func tableInfoEqual(a, b *TableInfo) bool {
	return a.Source == b.Source && a.Name == b.Name && a.Rows == b.Rows && a.Digest == b.Digest && a.PINColumn == b.PINColumn
}
