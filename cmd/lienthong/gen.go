package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lienthong/bench/gen"
	"lienthong/docs/examples"
)

func cmdGen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	scale := fs.Float64("scale", 1, "size: 1 = 1,000,000 citizens")
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same data")
	out := fs.String("out", "", "output directory (files, manifest.json, lienthong.toml)")
	pg := fs.String("postgres", "", "PostgreSQL DSN: load dancu and cutru there instead of files")
	my := fs.String("mysql", "", "MySQL/MariaDB DSN: load hotich and bhxh there instead of files")
	oracle := fs.String("oracle", "", "also write every agency into this one DuckDB file (schemas per agency)")
	prefix := fs.String("db-prefix", "", "prefix for the server databases created")
	fs.Parse(args)
	if *out == "" {
		return errors.New("gen: --out DIR is required")
	}
	if *scale <= 0 {
		return fmt.Errorf("gen: --scale must be positive, got %g", *scale)
	}
	start := time.Now()
	m, err := gen.Generate(ctx, gen.Options{Scale: *scale, Seed: *seed, Out: *out, PostgresDSN: *pg, MySQLDSN: *my, Oracle: *oracle, DBPrefix: *prefix, Log: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Printf("generated %d citizens in %s into %s (config %s)\n", m.Citizens, time.Since(start).Round(time.Millisecond), *out, filepath.Join(*out, "lienthong.toml"))
	return nil
}

// cmdDemo generates the embedded demo data set when it is missing and opens
// the shell over it.
func cmdDemo(ctx context.Context, args []string, au *cliAudit) (err error) {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	dir := fs.String("dir", "demo-data", "where the demo data lives")
	scale := fs.Float64("scale", 0.05, "size of the demo data set")
	serve := fs.Bool("serve", true, "also serve the demo over HTTP and Flight SQL on 127.0.0.1:8080 and :8815")
	maxRows := maxRowsFlag(fs)
	fs.Parse(args)
	cfgPath := filepath.Join(*dir, "lienthong.toml")
	octx, stop := interruptible(ctx) // Ctrl-C before the shell starts quits
	defer stop()
	if _, err := os.Stat(cfgPath); err != nil {
		fmt.Fprintf(os.Stderr, "generating demo data (scale %g) into %s ...\n", *scale, *dir)
		tmp := *dir + ".tmp"
		os.RemoveAll(tmp)
		// Generate beside and rename, so an interrupted run never leaves a
		// half-written data set that looks complete.
		if _, err := gen.Generate(octx, gen.Options{Scale: *scale, Seed: 1, Out: tmp}); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		os.RemoveAll(*dir)
		if err := os.Rename(tmp, *dir); err != nil {
			return err
		}
	}
	n, cfg, err := openNode(octx, cfgPath, au)
	stop()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, n.Close()) }()
	if *serve {
		// A port in use is no reason not to open the shell.
		if tok, err := n.ServeDemo(*dir); err != nil {
			fmt.Fprintf(os.Stderr, "demo: not starting the server: %v\n", err)
		} else {
			fmt.Printf("Server: HTTP %s  Flight SQL %s  token %s\n", n.Server.HTTPURL(), n.Server.FlightURL(), tok)
			fmt.Printf("  curl -H 'Authorization: Bearer %s' -d 'SELECT COUNT(*) FROM dancu.citizens' %s/v1/query\n", tok, n.Server.HTTPURL())
			fmt.Printf("  web console: %s/ (log in with the token)\n", n.Server.HTTPURL())
		}
	}
	s := &session{db: au.local(n, false), out: os.Stdout, format: "table", timing: true, limit: outputLimit(&cfg.Server, *maxRows, isTerminal(os.Stdout))}
	return shell(ctx, s, demoBanner)
}

func demoBanner(w io.Writer) {
	fmt.Fprintln(w, "lienthong demo: five agency databases (dancu, hotich, cutru, bhxh, yte) as DuckDB, SQLite, Parquet and CSV files.")
	fmt.Fprintln(w, "Sample queries (docs/examples/); paste one, or try EXPLAIN before it:")
	for _, ex := range examples.All() {
		fmt.Fprintf(w, "\n-- %s\n%s;\n", ex.Question, ex.SQL)
	}
	fmt.Fprintln(w, strings.Repeat("-", 60))
}
