package bench

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"lienthong/bench/gen"
)

// Env is a loaded benchmark environment: the generated sources, the oracle
// DuckDB file and the PostgreSQL hub database of the FDW peer.
type Env struct {
	Dir         string // data directory (bench/data/sf<scale>)
	Config      string // lienthong.toml for the generated sources
	Oracle      string // the single DuckDB file with every table
	Manifest    *gen.Manifest
	HubDSN      string
	PostgresDSN string // admin DSN (database postgres)
	MySQLDSN    string // admin DSN (no database)
	Reused      bool   // true when the data was already loaded
}

// SetupOptions say where the sources live and what to generate.
type SetupOptions struct {
	Scale       float64
	Seed        int64
	DataDir     string // parent of sf<scale>/
	PostgresDSN string // postgres://postgres@127.0.0.1:5432/postgres
	MySQLDSN    string // root@tcp(127.0.0.1:3306)/
	Regenerate  bool   // ignore the marker and generate again
	Log         io.Writer
}

// Database names: the generator's prefix and the peer's hub.
const (
	DBPrefix = "bench_"
	HubDB    = "bench_hub"
)

// agencySchemas are the hub schemas, named as lienthong's sources so the
// same SQL text runs on both.
var agencySchemas = []string{"dancu", "hotich", "cutru", "bhxh", "yte"}

// Setup makes sure the data set of the requested scale and seed is loaded in
// the sources, the oracle file and the hub, generating and building only what
// is missing. The hub's marker table holds the SHA-256 of the generator's
// manifest; with it present, matching and every source table holding the
// manifest's row count, the data is reused.
func Setup(ctx context.Context, o SetupOptions) (*Env, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "setup: "+format+"\n", args...)
		}
	}
	dir, err := filepath.Abs(filepath.Join(o.DataDir, fmt.Sprintf("sf%s", scaleName(o.Scale))))
	if err != nil {
		return nil, err
	}
	env := &Env{Dir: dir, Config: filepath.Join(dir, "lienthong.toml"), Oracle: filepath.Join(dir, "oracle.duckdb"),
		PostgresDSN: o.PostgresDSN, MySQLDSN: o.MySQLDSN}
	env.HubDSN, err = withPGDatabase(o.PostgresDSN, HubDB)
	if err != nil {
		return nil, err
	}
	if err := ensureMySQLFDW(ctx, o.PostgresDSN, logf); err != nil {
		return nil, err
	}
	if err := ensureTime(ctx, logf); err != nil {
		return nil, err
	}
	if !o.Regenerate {
		why, dataOK := env.check(ctx, o)
		if why == "" {
			env.Reused = true
			logf("reusing the loaded data set in %s (marker matches, row counts match)", dir)
			return env, nil
		}
		if dataOK {
			logf("data set loaded; rebuilding the hub: %s", why)
			if err := env.buildHub(ctx, logf); err != nil {
				return nil, fmt.Errorf("hub: %w", err)
			}
			env.Reused = true
			return env, nil
		}
		logf("data set must be (re)built: %s", why)
	}
	start := time.Now()
	logf("generating scale %s seed %d into %s, PostgreSQL and MariaDB (several minutes at scale 1)", scaleName(o.Scale), o.Seed, dir)
	m, err := gen.Generate(ctx, gen.Options{Scale: o.Scale, Seed: o.Seed, Out: dir, PostgresDSN: o.PostgresDSN,
		MySQLDSN: o.MySQLDSN, DBPrefix: DBPrefix, Oracle: env.Oracle, Log: o.Log})
	if err != nil {
		return nil, err
	}
	env.Manifest = m
	logf("generated in %s", time.Since(start).Round(time.Second))
	if err := env.buildHub(ctx, logf); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	return env, nil
}

// scaleName renders a scale for file names: 1, 0.1, 10.
func scaleName(s float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", s), ".0") }

// HubVersion changes whenever buildHub builds a different hub, so an
// existing data set gets the new hub without being generated again.
const HubVersion = 3

// check returns "" when the sources and the hub are current, else why not;
// dataOK reports whether the sources alone are (then only the hub needs
// building).
func (env *Env) check(ctx context.Context, o SetupOptions) (why string, dataOK bool) {
	mpath := filepath.Join(env.Dir, "manifest.json")
	b, err := os.ReadFile(mpath)
	if err != nil {
		return "no manifest", false
	}
	m, err := gen.ReadManifest(mpath)
	if err != nil {
		return err.Error(), false
	}
	if m.Scale != o.Scale || m.Seed != o.Seed {
		return fmt.Sprintf("manifest is scale %g seed %d", m.Scale, m.Seed), false
	}
	for _, s := range m.Sources {
		want := map[string]string{"dancu": "postgres", "cutru": "postgres", "hotich": "mysql", "bhxh": "mysql", "yte": "csv"}[s.Name]
		if s.Kind != want {
			return fmt.Sprintf("source %s is %s, want %s", s.Name, s.Kind, want), false
		}
	}
	if _, err := os.Stat(env.Oracle); err != nil {
		return "no oracle file", false
	}
	env.Manifest = m
	hub, err := pgx.Connect(ctx, env.HubDSN)
	if err != nil {
		return "no hub database", false
	}
	defer hub.Close(ctx)
	var digest string
	var hubVersion int
	if err := hub.QueryRow(ctx, "SELECT manifest_sha256, hub_version FROM bench_meta.marker").Scan(&digest, &hubVersion); err != nil {
		return "no marker in the hub", false
	}
	if digest != sha256Hex(b) {
		return "marker names another manifest", false
	}
	// Cheap content check: every table holds the manifest's row count.
	counts, err := env.sourceCounts(ctx)
	if err != nil {
		return err.Error(), false
	}
	for _, t := range m.Tables {
		if got := counts[t.Source+"."+t.Name]; got != t.Rows {
			return fmt.Sprintf("%s.%s has %d rows, manifest says %d", t.Source, t.Name, got, t.Rows), false
		}
	}
	if hubVersion != HubVersion {
		return fmt.Sprintf("hub version %d, want %d", hubVersion, HubVersion), true
	}
	return "", true
}

// sourceCounts counts every table in its source (the CSV files by lines).
func (env *Env) sourceCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range env.Manifest.Tables {
		var n int64
		switch t.Source {
		case "dancu", "cutru":
			dsn, err := withPGDatabase(env.PostgresDSN, DBPrefix+t.Source)
			if err != nil {
				return nil, err
			}
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return nil, fmt.Errorf("database %s%s: %w", DBPrefix, t.Source, err)
			}
			err = c.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.Name}.Sanitize()).Scan(&n)
			c.Close(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.Source, t.Name, err)
			}
		case "hotich", "bhxh":
			db, err := openMySQL(env.MySQLDSN, DBPrefix+t.Source)
			if err != nil {
				return nil, err
			}
			err = db.QueryRowContext(ctx, "SELECT count(*) FROM `"+t.Name+"`").Scan(&n)
			db.Close()
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.Source, t.Name, err)
			}
		case "yte":
			b, err := os.ReadFile(filepath.Join(env.Dir, "yte", t.Name+".csv"))
			if err != nil {
				return nil, err
			}
			n = int64(strings.Count(string(b), "\n")) - 1
		}
		out[t.Source+"."+t.Name] = n
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// withPGDatabase points a URL-form PostgreSQL DSN at database db.
func withPGDatabase(dsn, db string) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("postgres DSN: %w", err)
	}
	port := cfg.Port
	if port == 0 {
		port = 5432
	}
	user := cfg.User
	var auth string
	if cfg.Password != "" {
		auth = ":" + cfg.Password
	}
	return fmt.Sprintf("postgres://%s%s@%s:%d/%s", user, auth, cfg.Host, port, db), nil
}

func openMySQL(dsn, db string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql DSN: %w", err)
	}
	cfg.DBName = db
	return sql.Open("mysql", cfg.FormatDSN())
}

// ensureMySQLFDW installs Debian's mysql_fdw for the running PostgreSQL when
// the server does not offer the extension.
func ensureMySQLFDW(ctx context.Context, adminDSN string, logf func(string, ...any)) error {
	c, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_available_extensions WHERE name = 'mysql_fdw'").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var ver int
	if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000").Scan(&ver); err != nil {
		return err
	}
	return aptInstall(ctx, fmt.Sprintf("postgresql-%d-mysql-fdw", ver), logf)
}

// ensureTime installs GNU time, which measures lienthong's peak RSS.
func ensureTime(ctx context.Context, logf func(string, ...any)) error {
	if _, err := os.Stat(TimeBin); err == nil {
		return nil
	}
	return aptInstall(ctx, "time", logf)
}

// aptInstall installs a Debian package, running apt-get update if the
// first attempt fails.
func aptInstall(ctx context.Context, pkg string, logf func(string, ...any)) error {
	logf("installing %s (apt-get)", pkg)
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", pkg)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install %s: %w\n%s", pkg, err, out)
		}
		return nil
	}
	if err := install(); err != nil {
		logf("install failed, running apt-get update first")
		if out, uerr := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); uerr != nil {
			return fmt.Errorf("apt-get update: %w\n%s", uerr, out)
		}
		return install()
	}
	return nil
}

// buildHub (re)creates the peer's hub database: one foreign server per
// agency (each agency is its own server in a real federation, so no FDW can
// push a join between two agencies, just as lienthong cannot), schemas named
// after lienthong's sources, statistics, and the marker.
func (env *Env) buildHub(ctx context.Context, logf func(string, ...any)) error {
	admin, err := pgx.Connect(ctx, env.PostgresDSN)
	if err != nil {
		return err
	}
	for _, st := range []string{
		"DROP DATABASE IF EXISTS " + HubDB + " WITH (FORCE)",
		"CREATE DATABASE " + HubDB + " ENCODING 'UTF8' TEMPLATE template0",
		// Hash joins of a million rows need more than the 4MB default; a
		// tuned peer is the honest comparison.
		"ALTER DATABASE " + HubDB + " SET work_mem = '256MB'",
	} {
		if _, err := admin.Exec(ctx, st); err != nil {
			admin.Close(ctx)
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	admin.Close(ctx)

	hub, err := pgx.Connect(ctx, env.HubDSN)
	if err != nil {
		return err
	}
	defer hub.Close(ctx)
	pg, err := pgx.ParseConfig(env.PostgresDSN)
	if err != nil {
		return err
	}
	my, err := mysql.ParseDSN(env.MySQLDSN)
	if err != nil {
		return err
	}
	myHost, myPort := my.Addr, "3306"
	if h, p, ok := strings.Cut(my.Addr, ":"); ok {
		myHost, myPort = h, p
	}
	pgPort := pg.Port
	if pgPort == 0 {
		pgPort = 5432
	}
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	stmts := []string{
		"CREATE EXTENSION postgres_fdw",
		"CREATE EXTENSION mysql_fdw",
		"CREATE EXTENSION file_fdw",
	}
	for _, a := range agencySchemas {
		stmts = append(stmts, "CREATE SCHEMA "+a)
	}
	for _, a := range []string{"dancu", "cutru"} {
		stmts = append(stmts,
			fmt.Sprintf("CREATE SERVER %s_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s, fetch_size '10000', use_remote_estimate 'true')",
				a, lit(pg.Host), pgPort, lit(DBPrefix+a)),
			fmt.Sprintf("CREATE USER MAPPING FOR CURRENT_USER SERVER %s_srv OPTIONS (user %s%s)", a, lit(pg.User), optPassword("password", pg.Password)),
			fmt.Sprintf("IMPORT FOREIGN SCHEMA public FROM SERVER %s_srv INTO %s", a, a))
	}
	// mysql_fdw runs without use_remote_estimate: against MariaDB 10.11 it
	// estimates every scan at 1 row (it misreads MariaDB's EXPLAIN), which
	// sends a million-row join into a nested loop of remote lookups. Its
	// default, 1000 rows a table, gives hash joins.
	for _, a := range []string{"hotich", "bhxh"} {
		stmts = append(stmts,
			fmt.Sprintf("CREATE SERVER %s_srv FOREIGN DATA WRAPPER mysql_fdw OPTIONS (host %s, port %s, fetch_size '10000')", a, lit(myHost), lit(myPort)),
			fmt.Sprintf("CREATE USER MAPPING FOR CURRENT_USER SERVER %s_srv OPTIONS (username %s, password %s)", a, lit(my.User), lit(my.Passwd)),
			fmt.Sprintf("IMPORT FOREIGN SCHEMA %s FROM SERVER %s_srv INTO %s", DBPrefix+a, a, a))
	}
	// file_fdw has no IMPORT FOREIGN SCHEMA: one CREATE FOREIGN TABLE per
	// CSV file, columns from the manifest.
	stmts = append(stmts, "CREATE SERVER yte_files FOREIGN DATA WRAPPER file_fdw")
	for _, t := range env.Manifest.Tables {
		if t.Source != "yte" {
			continue
		}
		var cols []string
		for _, c := range t.Columns {
			col := c.Name + " " + pgType(c.Type)
			if !c.Nullable {
				col += " NOT NULL"
			}
			cols = append(cols, col)
		}
		stmts = append(stmts, fmt.Sprintf("CREATE FOREIGN TABLE yte.%s (%s) SERVER yte_files OPTIONS (filename %s, format 'csv', header 'true')",
			t.Name, strings.Join(cols, ", "), lit(filepath.Join(env.Dir, "yte", t.Name+".csv"))))
	}
	for _, st := range stmts {
		if _, err := hub.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	// Statistics for the hub's planner: postgres_fdw and file_fdw sample
	// the data; mysql_fdw reports what it can.
	for _, t := range env.Manifest.Tables {
		st := fmt.Sprintf("ANALYZE %s.%s", t.Source, t.Name)
		start := time.Now()
		if _, err := hub.Exec(ctx, st); err != nil {
			logf("%s: %v (ignored)", st, err)
			continue
		}
		logf("%s (%s)", st, time.Since(start).Round(time.Millisecond))
	}
	// Check every foreign table answers.
	for _, t := range env.Manifest.Tables {
		var n int64
		if err := hub.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s.%s", t.Source, t.Name)).Scan(&n); err != nil {
			return fmt.Errorf("hub: %s.%s: %w", t.Source, t.Name, err)
		}
		if n != t.Rows {
			return fmt.Errorf("hub: %s.%s has %d rows, manifest says %d", t.Source, t.Name, n, t.Rows)
		}
	}
	b, err := os.ReadFile(filepath.Join(env.Dir, "manifest.json"))
	if err != nil {
		return err
	}
	for _, st := range []string{
		"CREATE SCHEMA bench_meta",
		"CREATE TABLE bench_meta.marker (manifest_sha256 text NOT NULL, hub_version int NOT NULL, scale float8 NOT NULL, seed bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())",
	} {
		if _, err := hub.Exec(ctx, st); err != nil {
			return err
		}
	}
	_, err = hub.Exec(ctx, "INSERT INTO bench_meta.marker (manifest_sha256, hub_version, scale, seed) VALUES ($1, $2, $3, $4)",
		sha256Hex(b), HubVersion, env.Manifest.Scale, env.Manifest.Seed)
	if err == nil {
		logf("hub %s ready", HubDB)
	}
	return err
}

func optPassword(key, pw string) string {
	if pw == "" {
		return ""
	}
	return ", " + key + " '" + strings.ReplaceAll(pw, "'", "''") + "'"
}

// pgType maps the manifest's DuckDB type names to PostgreSQL's.
func pgType(t string) string {
	switch {
	case t == "VARCHAR":
		return "text"
	case t == "BIGINT":
		return "bigint"
	case t == "INTEGER":
		return "integer"
	case t == "DATE":
		return "date"
	case strings.HasPrefix(t, "DECIMAL"):
		return "numeric" + strings.TrimPrefix(t, "DECIMAL")
	}
	return "text"
}
