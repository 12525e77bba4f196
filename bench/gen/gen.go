// Package gen generates a deterministic, realistic synthetic data set of
// Viet Nam's agency databases keyed on the citizen PIN: the population
// database (dancu), civil registration (hotich), residence (cutru), social
// insurance (bhxh) and health (yte), with documented imperfections whose
// exact counts go into a manifest. See docs/data.md.
//
// Generation first draws compact per-citizen state (households, names,
// PINs, deaths and every per-person decision) and then streams each table
// from it into its destination, so memory stays bounded by the population,
// never by a table.
package gen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// Options control one generation run.
type Options struct {
	Scale float64 // 1 = 1,000,000 citizens
	Seed  int64
	Out   string // output directory
	// PostgresDSN, if set, sends dancu and cutru to PostgreSQL databases
	// DBPrefix+"dancu" and DBPrefix+"cutru" (created if missing, tables
	// dropped and recreated) instead of files.
	PostgresDSN string
	// MySQLDSN, if set, sends hotich and bhxh to MariaDB/MySQL databases
	// DBPrefix+"hotich" and DBPrefix+"bhxh".
	MySQLDSN string
	DBPrefix string
	// Oracle, if set, is a DuckDB file that receives every table again, in
	// schemas named after the agencies.
	Oracle string
	Log    io.Writer // progress lines; may be nil
}

// Agencies in generation order.
var Agencies = []string{"dancu", "hotich", "cutru", "bhxh", "yte"}

// ReferenceDate is the fixed "today" of every data set (YYYY-MM-DD).
const ReferenceDate = "2026-11-30"

type generator struct {
	o          Options
	seed       int64
	n          int
	persons    []person
	households []household
	pinCount   []uint32 // issued PINs per (province, G, YY) prefix

	logMu sync.Mutex
}

func (g *generator) logf(format string, args ...any) {
	if g.o.Log == nil {
		return
	}
	g.logMu.Lock()
	defer g.logMu.Unlock()
	fmt.Fprintf(g.o.Log, "gen: "+format+"\n", args...)
}

// Generate writes the data set described by o and returns its manifest,
// which is also written to Out/manifest.json next to Out/lienthong.toml.
func Generate(ctx context.Context, o Options) (*Manifest, error) {
	// 100 is Viet Nam's population; card numbers are unique up to it.
	if o.Scale <= 0 || math.IsNaN(o.Scale) || o.Scale > 100 {
		return nil, fmt.Errorf("gen: scale %v out of range (0, 100]", o.Scale)
	}
	n := int(math.Round(o.Scale * 1e6))
	if n < 1 {
		return nil, fmt.Errorf("gen: scale %v gives no citizens", o.Scale)
	}
	if o.Out == "" {
		return nil, errors.New("gen: no output directory")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	g := &generator{o: o, seed: o.Seed, n: n}
	start := time.Now()
	if err := g.buildPopulation(); err != nil {
		return nil, err
	}
	g.logf("population: %d citizens in %d households (%s)", len(g.persons), len(g.households), time.Since(start).Round(time.Millisecond))
	if err := removeEmbedded(o.Out); err != nil {
		return nil, err
	}

	var oracle *duckdb.Connector
	if o.Oracle != "" {
		var err error
		if oracle, err = openOracle(ctx, o.Oracle); err != nil {
			return nil, fmt.Errorf("gen: oracle: %w", err)
		}
		defer func() {
			if oracle != nil {
				oracle.Close()
			}
		}()
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	agencies := g.agencies()
	infos := make([][]TableInfo, len(agencies))
	sources := make([]SourceInfo, len(agencies))
	var wg sync.WaitGroup
	for i, a := range agencies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			infos[i], sources[i], err = g.runAgency(ctx, a, oracle)
			if err != nil {
				cancel(fmt.Errorf("gen: %s: %w", a.name, err))
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if oracle != nil {
		err := oracle.Close() // checkpoints the file
		oracle = nil
		if err != nil {
			return nil, fmt.Errorf("gen: oracle: %w", err)
		}
	}

	m := &Manifest{
		Generator:       "lienthong/bench/gen v1",
		Seed:            o.Seed,
		Scale:           o.Scale,
		Citizens:        int64(n),
		ReferenceDate:   ReferenceDate,
		SQLDialect:      "DuckDB; tables are named <agency>.<table> as in the oracle file and in lienthong",
		Sources:         sources,
		Inconsistencies: g.inconsistencies(),
		Stats:           g.stats(),
	}
	for _, ti := range infos {
		m.Tables = append(m.Tables, ti...)
	}
	if err := writeTOML(filepath.Join(o.Out, "lienthong.toml"), m, agencies); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Out, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	g.logf("done in %s", time.Since(start).Round(time.Millisecond))
	return m, nil
}

// duckLimits caps each DuckDB instance's buffer pool: generation only
// appends, and several instances share the machine with SQLite.
const duckLimits = "?memory_limit=256MB"

// removeEmbedded deletes earlier embedded outputs so a directory never mixes
// two runs (an agency sent to a server this time leaves no stale file).
func removeEmbedded(out string) error {
	for _, f := range []string{"dancu.duckdb", "dancu.duckdb.wal", "hotich.db", "cutru.db", "manifest.json", "lienthong.toml",
		"bhxh/.staging.duckdb", "bhxh/.staging.duckdb.wal"} {
		if err := os.Remove(filepath.Join(out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, pat := range []string{"bhxh/*.parquet", "yte/*.csv"} {
		files, _ := filepath.Glob(filepath.Join(out, pat))
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}

func openOracle(ctx context.Context, path string) (*duckdb.Connector, error) {
	for _, f := range []string{path, path + ".wal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	c, err := duckdb.NewConnector(path+duckLimits, nil)
	if err != nil {
		return nil, err
	}
	s, err := newDuckSink(ctx, c, false, "")
	if err == nil {
		for _, a := range Agencies {
			if err = s.exec(ctx, "CREATE SCHEMA "+dquote(a)); err != nil {
				break
			}
		}
		if cerr := s.close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openPrimary opens where agency a goes under the options.
func (g *generator) openPrimary(ctx context.Context, a string) (sink, SourceInfo, error) {
	o := g.o
	info := SourceInfo{Name: a}
	switch {
	case o.PostgresDSN != "" && (a == "dancu" || a == "cutru"):
		db := o.DBPrefix + a
		dsn, err := pgDSN(o.PostgresDSN, db)
		if err != nil {
			return nil, info, err
		}
		if err := createPGDatabase(ctx, o.PostgresDSN, db); err != nil {
			return nil, info, err
		}
		info.Kind, info.DSN = "postgres", dsn
		s, err := newPGSink(ctx, dsn)
		return s, info, err
	case o.MySQLDSN != "" && (a == "hotich" || a == "bhxh"):
		db := o.DBPrefix + a
		dsn, err := mysqlDSN(o.MySQLDSN, db)
		if err != nil {
			return nil, info, err
		}
		if err := createMySQLDatabase(ctx, o.MySQLDSN, db); err != nil {
			return nil, info, err
		}
		info.Kind, info.DSN = "mysql", dsn
		s, err := newMySQLSink(ctx, dsn)
		return s, info, err
	case a == "dancu":
		info.Kind, info.Path = "duckdb", "dancu.duckdb"
		c, err := duckdb.NewConnector(filepath.Join(o.Out, info.Path)+duckLimits, nil)
		if err != nil {
			return nil, info, err
		}
		s, err := newDuckSink(ctx, c, true, "main")
		return s, info, err
	case a == "hotich" || a == "cutru":
		info.Kind, info.Path = "sqlite", a+".db"
		s, err := newSQLiteSink(ctx, filepath.Join(o.Out, info.Path))
		return s, info, err
	case a == "bhxh":
		info.Kind, info.Path = "parquet", "bhxh/*.parquet"
		dir := filepath.Join(o.Out, "bhxh")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, info, err
		}
		// A scratch DuckDB file stages each table, then COPY writes Parquet;
		// a file (not :memory:) lets DuckDB spill instead of growing.
		staging := filepath.Join(dir, ".staging.duckdb")
		c, err := duckdb.NewConnector(staging+duckLimits, nil)
		if err != nil {
			return nil, info, err
		}
		s, err := newDuckSink(ctx, c, true, "main")
		if s != nil {
			s.parquetDir, s.scratch = dir, staging
		}
		return s, info, err
	default:
		info.Kind, info.Path = "csv", a+"/*.csv"
		dir := filepath.Join(o.Out, a)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, info, err
		}
		return &csvSink{dir: dir}, info, nil
	}
}

// runAgency streams each table of a once, into its destination and the
// oracle, and digests it on the way.
func (g *generator) runAgency(ctx context.Context, a agency, oracle *duckdb.Connector) (infos []TableInfo, info SourceInfo, err error) {
	primary, info, err := g.openPrimary(ctx, a.name)
	if err != nil {
		return nil, info, err
	}
	sinks := []sink{primary}
	defer func() {
		for _, s := range sinks {
			if cerr := s.close(); err == nil && cerr != nil {
				err = cerr
			}
		}
	}()
	if oracle != nil {
		s, err := newDuckSink(ctx, oracle, false, a.name)
		if err != nil {
			return nil, info, err
		}
		sinks = append(sinks, s)
	}
	var line []byte
	for _, t := range a.tables {
		start := time.Now()
		for _, s := range sinks {
			if err := s.begin(ctx, t); err != nil {
				return nil, info, fmt.Errorf("%s: %w", t.name, err)
			}
		}
		var d tableDigest
		d.add(csvHeader(t.cols))
		var rows int64
		var werr error
		t.rows(func(row []val) bool {
			if rows++; rows%4096 == 0 && ctx.Err() != nil {
				werr = context.Cause(ctx)
				return false
			}
			line = appendCSV(line[:0], t.cols, row)
			d.add(line)
			for _, s := range sinks {
				if werr = s.write(row); werr != nil {
					return false
				}
			}
			return true
		})
		if werr != nil {
			return nil, info, fmt.Errorf("%s: %w", t.name, werr)
		}
		for _, s := range sinks {
			if err := s.end(ctx); err != nil {
				return nil, info, fmt.Errorf("%s: %w", t.name, err)
			}
		}
		ti := TableInfo{Source: a.name, Name: t.name, Rows: rows, PINColumn: t.pin, Key: t.key,
			Digest: d.String()}
		for _, c := range t.cols {
			ti.Columns = append(ti.Columns, ColumnInfo{Name: c.name, Type: strings.TrimSuffix(sqlType("duckdb", c, false), " NOT NULL"), Nullable: c.nullable})
		}
		infos = append(infos, ti)
		g.logf("%s.%s: %d rows (%s)", a.name, t.name, rows, time.Since(start).Round(time.Millisecond))
	}
	return infos, info, nil
}

// writeTOML writes the lienthong source configuration for the outputs.
func writeTOML(path string, m *Manifest, agencies []agency) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sources generated by lienthong gen (seed %d, scale %g).\n", m.Seed, m.Scale)
	b.WriteString("# Paths are relative to this file's directory.\n")
	for i, s := range m.Sources {
		b.WriteString("\n[[sources]]\n")
		fmt.Fprintf(&b, "name = %s\nkind = %s\n", tomlString(s.Name), tomlString(s.Kind))
		if s.Path != "" {
			fmt.Fprintf(&b, "path = %s\n", tomlString(s.Path))
		}
		if s.DSN != "" {
			fmt.Fprintf(&b, "dsn = %s\n", tomlString(s.DSN))
		}
		b.WriteString("pin_column = \"pin\"\n")
		var over []string
		for _, t := range agencies[i].tables {
			if t.pin != "pin" {
				over = append(over, fmt.Sprintf("%s = { pin_column = %s }\n", t.name, tomlString(t.pin)))
			}
		}
		if len(over) > 0 {
			b.WriteString("[sources.tables]\n")
			b.WriteString(strings.Join(over, ""))
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
