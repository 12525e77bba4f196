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
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/errcode"
	"lienthong/node"
	"lienthong/server"
)

const usage = `lienthong: federated SQL over agency databases

Usage:
  lienthong catalog --config FILE             list sources, tables, columns and PIN columns
  lienthong query   --config FILE [SQL]       run SQL (or -f FILE, or SQL on stdin)
  lienthong explain --config FILE [SQL]       show where each part runs and the SQL each source gets
  lienthong sql     --config FILE             interactive SQL shell (Tab completes, \? lists its commands; docs/shell.md)
  lienthong sql     --server URL [--token T]  the same shell against a lienthong server (HTTP API)
  lienthong serve   --config FILE             run a node: Arrow Flight SQL and HTTP endpoints ([server] settings)
  lienthong token   hash | new                hash a bearer token read from stdin, or make a new one
  lienthong gen     --scale S --seed N --out DIR [--postgres DSN] [--mysql DSN] [--oracle FILE]
  lienthong demo    [--dir DIR]               generate demo data if missing and open the shell
  lienthong audit   verify|search|head|keygen|simulate   the tamper-evident audit log (docs/audit.md)
  lienthong report  --log FILE --period 2026-H1          the 6-monthly/annual sharing report
  lienthong sources status --config FILE                 connection health and uptime of each source
  lienthong cluster status|join ADDR|remove ID --server URL   the raft cluster (docs/cluster.md)
  lienthong policy  show|apply FILE|diff FILE --server URL    the access policy in force on the cluster
  lienthong sources show|add FILE|replace FILE|remove NAME --server URL   the sources in force
  lienthong budget --server URL                          your privacy budget: spent, left, when it resets
  lienthong agent   --config agency.toml | check FILE | log verify|search FILE   an agency's agent (docs/agent.md)

query, explain, sql and demo record every query in an audit log with --audit-log FILE --audit-key FILE
(and --agency A --purpose P --case ID), or with the config's [audit] table.
On a terminal they print at most 10,000 rows of a result (the config's [server] max_result_rows),
then stop with LT-RESULT-LIMIT; piped or redirected output is not bounded. --max-rows N (0: none).

Run "lienthong COMMAND -h" for a command's flags. Docs: README.md and docs/.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// Ctrl-C stops the whole command, except in the shell, where it
	// cancels the running query only (a context per statement, see shell).
	ctx, stop := context.Background(), func() {}
	switch os.Args[1] {
	case "sql", "shell", "demo":
	default:
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
	}
	defer stop()
	// A closed stdout (lienthong query ... | head) would kill the process
	// with SIGPIPE before the engine's Close removes its spill directory;
	// caught, the write fails with EPIPE and the command returns through
	// its deferred Close, then exits as a SIGPIPE death would (141).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	var err error
	switch os.Args[1] {
	case "catalog":
		err = cmdCatalog(ctx, os.Args[2:])
	case "query":
		err = withAudit(os.Args[2:], func(a []string, au *cliAudit) error { return cmdQuery(ctx, a, au, false) })
	case "explain":
		err = withAudit(os.Args[2:], func(a []string, au *cliAudit) error { return cmdQuery(ctx, a, au, true) })
	case "sql", "shell":
		err = withAudit(os.Args[2:], func(a []string, au *cliAudit) error { return cmdShell(ctx, a, au) })
	case "audit":
		err = cmdAudit(ctx, os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	case "sources":
		err = cmdSources(ctx, os.Args[2:])
	case "serve":
		err = cmdServe(ctx, os.Args[2:])
	case "token":
		err = cmdToken(os.Args[2:])
	case "cluster":
		err = cmdCluster(ctx, os.Args[2:], os.Stdout)
	case "policy":
		err = cmdPolicy(ctx, os.Args[2:], os.Stdout)
	case "budget":
		err = cmdBudget(ctx, os.Args[2:], os.Stdout)
	case "agent":
		err = cmdAgent(ctx, os.Args[2:], os.Stdout)
	case "gen":
		err = cmdGen(ctx, os.Args[2:])
	case "demo":
		err = withAudit(os.Args[2:], func(a []string, au *cliAudit) error { return cmdDemo(ctx, a, au) })
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, syscall.EPIPE) || strings.Contains(err.Error(), "broken pipe") {
			os.Exit(141) // the reader went away: nothing to say
		}
		if !errors.Is(err, errReported) {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
		}
		os.Exit(exitStatus(err))
	}
}

// exitStatus is the error registry's exit status for a query's error
// (errcode: 1 user, 3 denied, 4 source, 5 limit, 130 cancelled), here or
// from a server, 1 for anything else (a config file, a usage error).
func exitStatus(err error) int {
	var le *limitError
	if errors.As(err, &le) {
		return errcode.Lookup(codeResultLimit).Exit
	}
	var se *server.Error // a remote session's (sql --server)
	if errors.As(err, &se) && errcode.Registered(se.Code) {
		return errcode.Lookup(se.Code).Exit
	}
	if code := engine.ErrorCode(err); code != engine.CodeInternal {
		return errcode.Lookup(code).Exit
	}
	return 1
}

// errReported means the failure was already printed.
var errReported = errors.New("reported")

// openNode reads the config at path and opens a node over it for a
// command run here: auditing as au says (nil: not audited).
func openNode(ctx context.Context, path string, au *cliAudit) (*node.Node, *config.Config, error) {
	if path == "" {
		return nil, nil, errors.New("--config is required (a lienthong.toml naming the sources; see docs/configuration.md)")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	var opt node.Options
	if au != nil {
		if opt.Audit, err = au.table(cfg.Audit); err != nil {
			return nil, nil, err
		}
		opt.Session = au.session
	}
	n, err := node.Open(ctx, cfg, opt)
	return n, cfg, err
}

func cmdCatalog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ExitOnError)
	cfgPath := fs.String("config", "", "config file (lienthong.toml)")
	fs.Parse(args)
	n, _, err := openNode(ctx, *cfgPath, nil)
	if err != nil {
		return err
	}
	defer n.Close()
	printCatalog(os.Stdout, n.Engine.WaitCatalog(ctx), true)
	return nil
}

// describeTable prints one table's columns (\d TABLE, DESCRIBE TABLE);
// name is source.table or a table name one source holds. An unknown name
// is an error with the planner's did-you-mean suggestion.
func describeTable(out io.Writer, snap *catalog.Snapshot, name string) error {
	var all []string
	for _, src := range snap.Sources {
		for _, t := range src.Tables {
			all = append(all, src.Name+"."+t.Name)
			if !strings.EqualFold(src.Name+"."+t.Name, name) && !strings.EqualFold(t.Name, name) {
				continue
			}
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
			return nil
		}
	}
	if src, table, ok := strings.Cut(name, "."); ok {
		// The planner's own lookup: it suggests the source or the table.
		if _, err := snap.LookupTable(src, table); err != nil {
			var nf *catalog.NotFoundError
			if errors.As(err, &nf) && nf.Suggestion != "" {
				return fmt.Errorf("LT-UNKNOWN: no table %s; did you mean %s? (\\d lists the tables)", name, suggestedTable(nf, table))
			}
			var ue *catalog.UnavailableError
			if errors.As(err, &ue) {
				return fmt.Errorf("LT-SOURCE-DOWN: %s", err)
			}
		}
	} else {
		// A bare name: near one of the tables' own names.
		var bare []string
		for _, full := range all {
			bare = append(bare, full[strings.IndexByte(full, '.')+1:])
		}
		if sug := catalog.Closest(name, bare); sug != "" {
			return fmt.Errorf("LT-UNKNOWN: no table %s; did you mean %s? (\\d lists the tables)", name, strings.Join(snap.TablesNamed(sug), " or "))
		}
	}
	return fmt.Errorf("LT-UNKNOWN: no table %s; \\d lists the tables", name)
}

// suggestedTable turns a NotFoundError's suggestion into a table name: a
// suggested source keeps the table the user wrote.
func suggestedTable(nf *catalog.NotFoundError, table string) string {
	if nf.What == "source" {
		return nf.Suggestion + "." + table
	}
	return nf.Suggestion
}

// printCatalog lists every source and table; with columns, each table's
// columns too (lienthong catalog), else one line a table (\d).
func printCatalog(out io.Writer, snap *catalog.Snapshot, columns bool) {
	fmt.Fprintf(out, "catalog version %d\n", snap.Version)
	for _, src := range snap.Sources {
		fmt.Fprintf(out, "source %s (%s)", src.Name, src.Kind)
		if src.Unavailable != "" {
			fmt.Fprintf(out, ": UNAVAILABLE: %s\n", catalog.Reason(src.Unavailable))
			continue
		}
		fmt.Fprintf(out, ": %s\n", plural(len(src.Tables), "table"))
		for _, t := range src.Tables {
			link := "not citizen-linked"
			if t.PINColumn != "" {
				link = "citizen-linked on " + t.PINColumn
			}
			if !columns {
				fmt.Fprintf(out, "  %-28s %-11s %s\n", src.Name+"."+t.Name, plural(len(t.Columns), "column"), link)
				continue
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
	if !columns {
		fmt.Fprintln(out, `\d TABLE shows a table's columns`)
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func cmdQuery(ctx context.Context, args []string, au *cliAudit, explain bool) (err error) {
	name := "query"
	if explain {
		name = "explain"
	}
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	cfgPath := fs.String("config", "", "config file (lienthong.toml)")
	file := fs.String("f", "", "read SQL from this file")
	format := fs.String("format", "table", "output format: table, csv, json, markdown or arrow")
	null := fs.String("null", "", "csv: how NULL is written (default: an empty field; \\N in a one-column result)")
	analyze := fs.Bool("analyze", false, "explain: run the query and report rows, bytes and time per source")
	noPush := fs.Bool("no-pushdown", false, "run everything but plain scans in the engine (for comparison)")
	timing := fs.Bool("timing", false, "print the elapsed time after a table")
	maxRows := maxRowsFlag(fs)
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
	n, cfg, err := openNode(ctx, *cfgPath, au)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, n.Close()) }()
	s := &session{db: au.local(n, *noPush), out: os.Stdout, format: *format, null: *null, timing: *timing,
		limit: outputLimit(&cfg.Server, *maxRows, isTerminal(os.Stdout)), progress: terminalStderr()}
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

// interruptible is ctx cancelled also by Ctrl-C (SIGINT), until stop is
// called; then Ctrl-C has its default effect again.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt)
}

// session runs statements and prints results, for the query command and
// the shell alike.
type session struct {
	db       backend
	out      io.Writer
	format   string
	null     string // csv: the NULL marker
	expanded string // table: expandedOff (""), expandedOn or expandedAuto
	timing   bool
	limit    resultLimit // what is printed of one result at most
	// progress, when set (a terminal's stderr), shows a progress line
	// while a statement runs (progress.go).
	progress io.Writer
	// paged, when set (the shell, printing to a terminal), makes the
	// output of one statement: through a pager when it is long.
	paged func() (out io.Writer, termWidth int, done func())
}

// backend runs statements for a session: the engine in this process, or a
// lienthong server (client.go).
type backend interface {
	// Query starts a query; the caller releases the reader.
	Query(ctx context.Context, sql string) (array.RecordReader, error)
	Explain(ctx context.Context, sql string, analyze bool) (string, error)
	// Refresh re-reads the sources and returns the new catalog version.
	Refresh(ctx context.Context) (int64, error)
	Catalog(ctx context.Context) (*catalog.Snapshot, error)
}

// localBackend is the engine in this process.
type localBackend struct {
	eng *engine.Engine
	opt engine.QueryOptions
}

// local is the backend of node n's engine, for au's session.
func (au *cliAudit) local(n *node.Node, noPushdown bool) localBackend {
	return localBackend{eng: n.Engine, opt: engine.QueryOptions{NoPushdown: noPushdown, Session: au.session}}
}

func (l localBackend) Query(ctx context.Context, sql string) (array.RecordReader, error) {
	return l.eng.Query(ctx, sql, l.opt)
}

// QueryProgress is Query reporting the sources' progress to prog.
func (l localBackend) QueryProgress(ctx context.Context, sql string, prog *engine.Progress) (array.RecordReader, error) {
	opt := l.opt
	opt.Progress = prog
	return l.eng.Query(ctx, sql, opt)
}

func (l localBackend) Explain(ctx context.Context, sql string, analyze bool) (string, error) {
	return l.eng.Explain(ctx, sql, analyze, l.opt)
}

func (l localBackend) Refresh(ctx context.Context) (int64, error) {
	if err := l.eng.Refresh(ctx); err != nil {
		return 0, err
	}
	return l.eng.Catalog().Version, nil
}

func (l localBackend) Catalog(ctx context.Context) (*catalog.Snapshot, error) {
	// Listing waits for sources still connecting (each at most its
	// connect_timeout); queries never do for sources they do not name.
	// Under a policy, only what the session's principal may read.
	return l.eng.CatalogFor(ctx, l.opt.Session)
}

// describeRe matches DESCRIBE t / DESC t, which the CLI answers from the
// catalog like \d t.
var describeRe = regexp.MustCompile("(?is)^\\s*desc(?:ribe)?\\s+([^\\s;]+)\\s*;?\\s*$")

func (s *session) run(ctx context.Context, text string) error {
	start := time.Now()
	out, termWidth := s.out, 0
	if s.paged != nil {
		var done func()
		out, termWidth, done = s.paged()
		defer done()
	}
	if m := describeRe.FindStringSubmatch(text); m != nil {
		snap, err := s.db.Catalog(ctx)
		if err != nil {
			return err
		}
		name := strings.NewReplacer("`", "", `"`, "").Replace(m[1])
		return describeTable(out, snap, name)
	}
	kind, inner := engine.Classify(text)
	switch kind {
	case engine.KindRefresh:
		v, err := s.db.Refresh(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "catalog refreshed: version %d\n", v)
		return nil
	case engine.KindExplain, engine.KindExplainAnalyze:
		pl := startProgress(s.progress, nil)
		text, err := s.db.Explain(ctx, inner, kind == engine.KindExplainAnalyze)
		pl.end()
		if err != nil {
			return err
		}
		fmt.Fprint(out, text)
		return nil
	}
	var prog *engine.Progress
	pb, watched := s.db.(interface {
		QueryProgress(context.Context, string, *engine.Progress) (array.RecordReader, error)
	})
	if s.progress != nil && watched {
		prog = &engine.Progress{}
	}
	pl := startProgress(s.progress, prog)
	defer pl.end()
	var res array.RecordReader
	var err error
	if prog != nil {
		res, err = pb.QueryProgress(ctx, inner, prog)
	} else {
		res, err = s.db.Query(ctx, inner)
	}
	if err != nil {
		return err
	}
	defer res.Release()
	w, err := newWriter(s.format, out, res.Schema(), writerOptions{expanded: s.expanded, termWidth: termWidth, timing: s.timing, null: s.null})
	if err != nil {
		return err
	}
	var rows, size int64
	for res.Next() {
		pl.end() // the result arrives: the line goes before any row is printed
		rec := res.RecordBatch()
		cut, lerr := s.limit.check(rec, rows, size)
		if cut != rec {
			defer cut.Release()
		}
		rows, size = rows+cut.NumRows(), size+server.BatchBytes(cut)
		if err := w.write(cut); err != nil {
			return err
		}
		if lerr != nil {
			// What is within the limit is printed whole (a table with its
			// footer), then the error says the rest was not.
			return errors.Join(w.finish(rows, time.Since(start)), lerr)
		}
	}
	pl.end()
	if err := res.Err(); err != nil {
		return err
	}
	return w.finish(rows, time.Since(start))
}
