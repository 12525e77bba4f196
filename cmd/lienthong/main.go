// Command lienthong is the federated SQL engine's command line: list the
// catalog, run and explain queries, open an interactive shell, and generate
// realistic agency data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/engine"
)

const usage = `lienthong: federated SQL over agency databases

Usage:
  lienthong catalog --config FILE             list sources, tables, columns and PIN columns
  lienthong query   --config FILE [SQL]       run SQL (or -f FILE, or SQL on stdin)
  lienthong explain --config FILE [SQL]       show where each part runs and the SQL each source gets
  lienthong sql     --config FILE             interactive SQL shell
  lienthong gen     --scale S --seed N --out DIR [--postgres DSN] [--mysql DSN] [--oracle FILE]
  lienthong demo    [--dir DIR]               generate demo data if missing and open the shell

Run "lienthong COMMAND -h" for a command's flags. Docs: README.md and docs/.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "catalog":
		err = cmdCatalog(ctx, os.Args[2:])
	case "query":
		err = cmdQuery(ctx, os.Args[2:], false)
	case "explain":
		err = cmdQuery(ctx, os.Args[2:], true)
	case "sql", "shell":
		err = cmdShell(ctx, os.Args[2:])
	case "gen":
		err = cmdGen(ctx, os.Args[2:])
	case "demo":
		err = cmdDemo(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
		}
		os.Exit(1)
	}
}

// errReported means the failure was already printed.
var errReported = errors.New("reported")

func openEngine(ctx context.Context, path string) (*engine.Engine, error) {
	if path == "" {
		return nil, errors.New("--config is required (a lienthong.toml naming the sources; see docs/configuration.md)")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return engine.New(ctx, cfg)
}

func cmdCatalog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ExitOnError)
	cfgPath := fs.String("config", "", "config file (lienthong.toml)")
	fs.Parse(args)
	eng, err := openEngine(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer eng.Close()
	printCatalog(os.Stdout, eng.Catalog(), "")
	return nil
}

// printCatalog lists every table, or one table's columns when only names it.
func printCatalog(out io.Writer, snap *catalog.Snapshot, only string) {
	if only != "" {
		for _, src := range snap.Sources {
			for _, t := range src.Tables {
				if strings.EqualFold(src.Name+"."+t.Name, only) || strings.EqualFold(t.Name, only) {
					fmt.Fprintf(out, "%s.%s (%s)", src.Name, t.Name, src.Kind)
					if t.PINColumn != "" {
						fmt.Fprintf(out, ", citizen-linked on %s", t.PINColumn)
					}
					fmt.Fprintln(out)
					for _, c := range t.Columns {
						flags := ""
						if c.Name == t.PINColumn {
							flags += " PIN"
						}
						if c.Sensitive {
							flags += " sensitive"
						}
						fmt.Fprintf(out, "  %-24s %-28s %s%s\n", c.Name, catalog.TypeName(c.Type), c.SourceType, flags)
					}
					return
				}
			}
		}
		fmt.Fprintf(out, "no table %s; \\d lists them\n", only)
		return
	}
	fmt.Fprintf(out, "catalog version %d\n", snap.Version)
	for _, src := range snap.Sources {
		fmt.Fprintf(out, "source %s (%s)", src.Name, src.Kind)
		if src.Unavailable != "" {
			fmt.Fprintf(out, ": UNAVAILABLE: %s\n", src.Unavailable)
			continue
		}
		fmt.Fprintf(out, ": %d tables\n", len(src.Tables))
		for _, t := range src.Tables {
			link := "not citizen-linked"
			if t.PINColumn != "" {
				link = "citizen-linked on " + t.PINColumn
			}
			fmt.Fprintf(out, "  %s.%s  (%s)\n", src.Name, t.Name, link)
			for _, c := range t.Columns {
				flags := ""
				if c.Sensitive {
					flags = "  sensitive"
				}
				fmt.Fprintf(out, "    %-24s %-28s %s%s\n", c.Name, catalog.TypeName(c.Type), c.SourceType, flags)
			}
		}
	}
}

func cmdQuery(ctx context.Context, args []string, explain bool) error {
	name := "query"
	if explain {
		name = "explain"
	}
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	cfgPath := fs.String("config", "", "config file (lienthong.toml)")
	file := fs.String("f", "", "read SQL from this file")
	format := fs.String("format", "table", "output format: table, csv, json or arrow")
	analyze := fs.Bool("analyze", false, "explain: run the query and report rows, bytes and time per source")
	noPush := fs.Bool("no-pushdown", false, "run everything but plain scans in the engine (for comparison)")
	timing := fs.Bool("timing", false, "print the elapsed time after a table")
	fs.Parse(args)
	var text string
	switch {
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		text = string(b)
	case fs.NArg() > 0:
		text = strings.Join(fs.Args(), " ")
	default:
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		text = string(b)
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("no SQL given: pass it as an argument, with -f FILE, or on stdin")
	}
	if explain {
		prefix := "EXPLAIN "
		if *analyze {
			prefix = "EXPLAIN ANALYZE "
		}
		text = prefix + text
	}
	eng, err := openEngine(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer eng.Close()
	s := &session{eng: eng, out: os.Stdout, format: *format, timing: *timing, opt: engine.QueryOptions{NoPushdown: *noPush}}
	stmts, err := splitScript(text)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := s.run(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// session runs statements and prints results, for the query command and
// the shell alike.
type session struct {
	eng      *engine.Engine
	out      io.Writer
	format   string
	expanded bool
	timing   bool
	opt      engine.QueryOptions
}

func (s *session) run(ctx context.Context, text string) error {
	start := time.Now()
	kind, inner := engine.Classify(text)
	switch kind {
	case engine.KindRefresh:
		if err := s.eng.Refresh(ctx); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "catalog refreshed: version %d\n", s.eng.Catalog().Version)
		return nil
	case engine.KindExplain, engine.KindExplainAnalyze:
		out, err := s.eng.Explain(ctx, inner, kind == engine.KindExplainAnalyze, s.opt)
		if err != nil {
			return err
		}
		fmt.Fprint(s.out, out)
		return nil
	}
	res, err := s.eng.Query(ctx, inner, s.opt)
	if err != nil {
		return err
	}
	defer res.Release()
	w, err := newWriter(s.format, s.out, res.Schema(), s.expanded, s.timing)
	if err != nil {
		return err
	}
	for res.Next() {
		if err := w.write(res.RecordBatch()); err != nil {
			return err
		}
	}
	if err := res.Err(); err != nil {
		return err
	}
	return w.finish(res.Rows(), time.Since(start))
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
