// Package testenv gives tests real database servers: a fresh database per
// test, dropped when the test ends. Tests skip when a server is unreachable,
// unless LIENTHONG_REQUIRE_SERVICES=1 (CI), where that is a failure.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Defaults; override with LIENTHONG_TEST_PG and LIENTHONG_TEST_MYSQL.
const (
	DefaultPG    = "postgres://postgres@127.0.0.1:5432/postgres"
	DefaultMySQL = "root@tcp(127.0.0.1:3306)/"
)

// RequireServices reports whether unreachable servers fail tests instead of
// skipping them.
func RequireServices() bool { return os.Getenv("LIENTHONG_REQUIRE_SERVICES") == "1" }

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if RequireServices() {
		t.Fatalf("%s is required (LIENTHONG_REQUIRE_SERVICES=1) but unreachable: %v", what, err)
	}
	t.Skipf("%s unreachable, skipping (set LIENTHONG_REQUIRE_SERVICES=1 to fail instead): %v", what, err)
}

// DBName makes a unique database name lt_<pkg>_<random> for the calling test.
func DBName(t testing.TB) string {
	pkg := "test"
	if pc, _, _, ok := runtime.Caller(2); ok {
		if f := runtime.FuncForPC(pc); f != nil {
			name := f.Name() // lienthong/connectors/postgres.TestX
			name = name[:strings.LastIndexByte(name, '/')+1] + strings.SplitN(name[strings.LastIndexByte(name, '/')+1:], ".", 2)[0]
			pkg = path.Base(name)
		}
	}
	pkg = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(pkg), "")
	if len(pkg) > 20 {
		pkg = pkg[:20]
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("lt_%s_%s", pkg, hex.EncodeToString(r[:]))
}

// PostgresBase is the admin DSN tests connect to.
func PostgresBase() string {
	if v := os.Getenv("LIENTHONG_TEST_PG"); v != "" {
		return v
	}
	return DefaultPG
}

// MySQLBase is the admin DSN (Go driver form) tests connect to.
func MySQLBase() string {
	if v := os.Getenv("LIENTHONG_TEST_MYSQL"); v != "" {
		return v
	}
	return DefaultMySQL
}

// PostgresDSN creates a fresh PostgreSQL database for t and returns a URL DSN
// to it; the database is dropped in t.Cleanup.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return postgresDSN(t, DBName(t))
}

// PostgresWith is PostgresDSN with stmts run in the new database first.
func PostgresWith(t testing.TB, stmts ...string) string {
	t.Helper()
	dsn := postgresDSN(t, DBName(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return dsn
}

func postgresDSN(t testing.TB, name string) string {
	t.Helper()
	base := PostgresBase()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL at "+redactURL(base), err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" ENCODING 'UTF8' TEMPLATE template0"); err != nil {
		admin.Close(ctx)
		t.Fatalf("create database %s: %v", name, err)
	}
	admin.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("LIENTHONG_TEST_PG must be a postgres:// URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// MySQLDSN creates a fresh MySQL/MariaDB database (utf8mb4) for t and returns
// a Go-driver DSN to it; the database is dropped in t.Cleanup.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(MySQLBase())
	if err != nil {
		t.Fatalf("LIENTHONG_TEST_MYSQL must be a Go MySQL driver DSN such as root@tcp(127.0.0.1:3306)/: %v", err)
	}
	cfg.DBName = ""
	cfg.Timeout = 5 * time.Second
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("mysql: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		unavailable(t, "MySQL at "+cfg.Addr, err)
	}
	name := DBName(t)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	base := cfg.FormatDSN()
	t.Cleanup(func() {
		db, err := sql.Open("mysql", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}
