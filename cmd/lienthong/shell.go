package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"

	"lienthong/catalog"
	"lienthong/planner"
)

func splitScript(text string) ([]string, error) {
	stmts, err := planner.SplitStatements(text)
	if err != nil {
		return nil, fmt.Errorf("cannot split the script into statements: %w", err)
	}
	return stmts, nil
}

func cmdShell(ctx context.Context, args []string, au *cliAudit) (err error) {
	fs := flag.NewFlagSet("sql", flag.ExitOnError)
	cfgPath := fs.String("config", "", "config file (lienthong.toml)")
	maxRows := maxRowsFlag(fs)
	var rf remoteFlags
	rf.register(fs)
	fs.Parse(args)
	terminal := isTerminal(os.Stdout)
	if rf.server != "" {
		db, err := rf.backend(au.session)
		if err != nil {
			return err
		}
		s := &session{db: db, out: os.Stdout, format: "table", timing: true, limit: outputLimit(nil, *maxRows, terminal)}
		return shell(ctx, s, nil)
	}
	octx, stop := interruptible(ctx) // Ctrl-C while connecting quits
	n, cfg, err := openNode(octx, *cfgPath, au)
	stop()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, n.Close()) }()
	s := &session{db: au.local(n, false), out: os.Stdout, format: "table", timing: true, limit: outputLimit(&cfg.Server, *maxRows, terminal)}
	return shell(ctx, s, nil)
}

// shell reads statements ending in ';' and backslash commands. On a
// terminal it edits lines (completion, history, a pager, a progress line);
// otherwise it runs what it reads and fails (non-zero exit) if any
// statement failed.
func shell(ctx context.Context, s *session, banner func(io.Writer)) error {
	interactive := readline.IsTerminal(int(os.Stdin.Fd()))
	return runShell(ctx, s, banner, os.Stdin, os.Stderr, interactive)
}

// shellState is one shell session: its session, where errors go, the
// statement being typed and, on a terminal, the line editor.
type shellState struct {
	s       *session
	errw    io.Writer
	rl      *readline.Instance // nil when not interactive
	buf     strings.Builder    // the statement typed so far
	last    string             // the last statement run (\e edits it)
	failed  int
	pager   bool     // page long results on the terminal
	record  bool     // statements are saved to the history (\history)
	outFile *os.File // \o FILE; nil: stdout
	// termLimit is the session's limit while results go to the terminal;
	// a file is bounded only by --max-rows, as a redirected stdout is.
	termLimit resultLimit
	history   string // the history file ("": none)
	comp      *completer
}

// runShell is shell reading in; errors go to errw. Each statement runs
// under its own context, cancelled by Ctrl-C while it runs: Ctrl-C stops
// that statement only and the shell goes on (like psql).
func runShell(ctx context.Context, s *session, banner func(io.Writer), in io.Reader, errw io.Writer, interactive bool) error {
	sh := &shellState{s: s, errw: errw}
	var next func(prompt string) (string, error)
	if interactive {
		// Ctrl-C outside a statement (in the pager, the editor, between
		// statements) must not end the session: the shell keeps SIGINT.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		defer signal.Stop(sig)
		sh.comp = &completer{s: s, pending: &sh.buf}
		sh.history = historyFile()
		rl, err := readline.NewEx(&readline.Config{
			Prompt:                 "lienthong> ",
			HistoryFile:            sh.history,
			DisableAutoSaveHistory: true, // one entry per statement (saveHistory)
			HistoryLimit:           1000,
			AutoComplete:           sh.comp,
			InterruptPrompt:        "^C",
			EOFPrompt:              `\q`,
		})
		if err != nil {
			return err
		}
		defer rl.Close()
		sh.rl, sh.record = rl, true
		sh.pager = true
		s.progress = terminalStderr()
		s.paged = sh.output
		next = func(prompt string) (string, error) {
			rl.SetPrompt(prompt)
			return rl.Readline()
		}
		if banner != nil {
			banner(os.Stdout)
		}
		fmt.Println(`Type SQL ending in ';'.  Tab completes, \? lists the commands, \q quits.`)
	} else {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		next = func(string) (string, error) {
			if sc.Scan() {
				return sc.Text(), nil
			}
			if err := sc.Err(); err != nil {
				return "", err
			}
			return "", io.EOF
		}
	}
	defer sh.closeOutput()
	for {
		prompt := "lienthong> "
		if sh.buf.Len() > 0 {
			prompt = "        -> "
		}
		line, err := next(prompt)
		if errors.Is(err, readline.ErrInterrupt) {
			sh.buf.Reset()
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		quit, err := sh.feed(ctx, line)
		if err != nil {
			return err
		}
		if quit {
			break
		}
	}
	if strings.TrimSpace(sh.buf.String()) != "" {
		fmt.Fprintln(errw, "error: the input ended inside a statement (missing ';')")
		sh.failed++
	}
	if !interactive && sh.failed > 0 {
		fmt.Fprintf(errw, "%d statement(s) failed\n", sh.failed)
		return errReported
	}
	return nil
}

// feed takes one line of input: a backslash command, or part of a
// statement, which runs once a line ends in ';'. It returns true for \q,
// and an error only when the session must end (ctx cancelled).
func (sh *shellState) feed(ctx context.Context, line string) (quit bool, err error) {
	trimmed := strings.TrimSpace(line)
	// A backslash command is a line of its own: at a terminal also in the
	// middle of a statement (\e edits it, as psql does); in a script only
	// between statements, so a literal spanning lines stays whole.
	if strings.HasPrefix(trimmed, `\`) && (sh.buf.Len() == 0 || sh.rl != nil) {
		sh.saveHistory(trimmed)
		return sh.meta(ctx, trimmed)
	}
	if sh.buf.Len() == 0 && trimmed == "" {
		return false, nil
	}
	sh.buf.WriteString(line)
	sh.buf.WriteString("\n")
	if !strings.HasSuffix(trimmed, ";") {
		return false, nil
	}
	text := sh.buf.String()
	sh.buf.Reset()
	return false, sh.runText(ctx, text)
}

// runText runs a complete text of statements, saved as one history entry.
func (sh *shellState) runText(ctx context.Context, text string) error {
	sh.last = strings.TrimRight(text, "\n")
	sh.saveHistory(oneLine(sh.last))
	stmts, err := splitScript(text)
	if err != nil {
		fmt.Fprintln(sh.errw, "error:", err)
		sh.failed++
		return nil
	}
	for _, st := range stmts {
		qctx, stop := interruptible(ctx)
		err := sh.s.run(qctx, st)
		stop()
		if err != nil && !sh.pagerQuit(err) {
			fmt.Fprintln(sh.errw, "error:", err)
			sh.failed++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if engineRefreshed(st) && sh.comp != nil {
			sh.comp.forget()
		}
	}
	return nil
}

// pagerQuit says err is the pager having been quit before the result
// ended (q in less): the rest of the result is not wanted, no error.
func (sh *shellState) pagerQuit(err error) bool {
	return sh.rl != nil && sh.pager && (errors.Is(err, errPagerClosed) || strings.Contains(err.Error(), "broken pipe"))
}

func (sh *shellState) saveHistory(entry string) {
	if sh.rl != nil && entry != "" {
		_ = sh.rl.SaveHistory(entry)
	}
}

const shellHelp = `Statements end in ';' and may span lines; Tab completes keywords, sources,
tables and columns; Up and Down recall whole statements; Ctrl-C cancels the
running statement (or clears the one being typed).

  \?                          this help
  \q                          quit (also Ctrl-D)
  \dt                         list the tables you may read
  \d [TABLE]                  list the tables, or describe one (as DESCRIBE)
  \d+ [TABLE]                 describe one table, or every table with its columns:
                              types, the PIN column, sensitive columns
  \x [on|off|auto]            expanded output (one line per column); auto: when
                              a table is wider than the terminal; no argument toggles
  \format [table|csv|json|markdown]   how results are printed
  \timing [on|off]            show each statement's time (no argument toggles)
  \o [FILE]                   send results to FILE (created or truncated); \o
                              alone sends them back to the terminal
  \e                          edit the statement being typed, or the last one, in
                              $VISUAL or $EDITOR (default vi), then run it
  \pager [on|off]             page long results through $PAGER (default less -FRX)
  \history [on|off]           keep (or stop keeping) statements in the history file
`

// meta runs a backslash command; it returns true for \q.
func (sh *shellState) meta(ctx context.Context, cmd string) (bool, error) {
	s := sh.s
	fields := strings.Fields(strings.TrimSuffix(cmd, ";"))
	arg := ""
	if len(fields) > 1 {
		arg = fields[1]
	}
	switch fields[0] {
	case `\q`:
		return true, nil
	case `\?`, `\h`, `\help`:
		fmt.Fprint(s.out, shellHelp)
	case `\x`:
		switch arg {
		case "":
			if s.expanded == expandedOn {
				s.expanded = expandedOff
			} else {
				s.expanded = expandedOn
			}
		case expandedOn, expandedOff, expandedAuto:
			s.expanded = arg
		default:
			return false, sh.usage(`\x on, \x off or \x auto`)
		}
		fmt.Fprintf(s.out, "expanded output is %s\n", onOff(s.expanded))
	case `\timing`:
		on, ok := toggle(arg, s.timing)
		if !ok {
			return false, sh.usage(`\timing on or \timing off`)
		}
		s.timing = on
		fmt.Fprintf(s.out, "timing is %s\n", onOff(on))
	case `\format`:
		switch arg {
		case "":
		case "table", "csv", "json", "markdown":
			s.format = arg
		case "arrow":
			if sh.outFile == nil {
				return false, sh.usage(`\format arrow writes binary: send it to a file first (\o FILE)`)
			}
			s.format = arg
		default:
			return false, sh.usage(`\format table, csv, json or markdown`)
		}
		fmt.Fprintf(s.out, "output format is %s\n", s.format)
	case `\o`:
		return false, sh.setOutput(strings.TrimSpace(strings.TrimPrefix(cmd, `\o`)))
	case `\pager`:
		on, ok := toggle(arg, sh.pager)
		if !ok {
			return false, sh.usage(`\pager on or \pager off`)
		}
		sh.pager = on
		fmt.Fprintf(s.out, "pager is %s\n", onOff(on))
	case `\history`:
		on, ok := toggle(arg, sh.record)
		if !ok {
			return false, sh.usage(`\history on or \history off`)
		}
		sh.setHistory(on)
	case `\e`, `\edit`:
		return false, sh.edit(ctx)
	case `\dt`:
		snap, err := sh.catalog(ctx)
		if err != nil {
			return false, sh.report(err)
		}
		printCatalog(s.out, snap, false)
	case `\d`, `\d+`:
		snap, err := sh.catalog(ctx)
		if err != nil {
			return false, sh.report(err)
		}
		switch {
		case arg != "":
			if err := describeTable(s.out, snap, strings.NewReplacer("`", "", `"`, "").Replace(arg)); err != nil {
				return false, sh.report(err)
			}
		case fields[0] == `\d+`:
			printCatalog(s.out, snap, true)
		default:
			printCatalog(s.out, snap, false)
		}
	default:
		return false, sh.usage(fmt.Sprintf("unknown command %s; \\? lists the commands", fields[0]))
	}
	return false, nil
}

// catalog is the principal's catalog; Ctrl-C stops waiting for it.
func (sh *shellState) catalog(ctx context.Context) (*catalog.Snapshot, error) {
	qctx, stop := interruptible(ctx)
	defer stop()
	return sh.s.db.Catalog(qctx)
}

func onOff(v any) string {
	switch v {
	case true, expandedOn:
		return "on"
	case expandedAuto:
		return "auto"
	}
	return "off"
}

// toggle reads an on/off argument; none flips cur.
func toggle(arg string, cur bool) (on, ok bool) {
	switch arg {
	case "":
		return !cur, true
	case "on":
		return true, true
	case "off":
		return false, true
	}
	return false, false
}

func (sh *shellState) usage(msg string) error {
	fmt.Fprintln(sh.errw, "error:", msg)
	sh.failed++
	return nil
}

func (sh *shellState) report(err error) error {
	fmt.Fprintln(sh.errw, "error:", err)
	sh.failed++
	return nil
}

// setOutput is \o: results go to the file named (created or truncated),
// or back to stdout when none is.
func (sh *shellState) setOutput(name string) error {
	if name == "" {
		if sh.outFile != nil {
			sh.s.limit = sh.termLimit
		}
		sh.closeOutput()
		sh.s.out = os.Stdout
		if sh.s.format == "arrow" {
			sh.s.format = "table"
		}
		return nil
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return sh.report(fmt.Errorf("\\o %s: %w", name, errors.Unwrap(err)))
	}
	if sh.outFile == nil {
		sh.termLimit = sh.s.limit
	}
	sh.closeOutput()
	sh.outFile, sh.s.out = f, f
	sh.s.limit = resultLimit{}
	if sh.termLimit.rowsFrom == "--max-rows" {
		sh.s.limit = resultLimit{rows: sh.termLimit.rows, rowsFrom: sh.termLimit.rowsFrom}
	}
	return nil
}

func (sh *shellState) closeOutput() {
	if sh.outFile != nil {
		if err := sh.outFile.Close(); err != nil {
			fmt.Fprintln(sh.errw, "error: \\o:", err)
		}
		sh.outFile = nil
	}
}

// output is where one statement prints (session.paged): the terminal,
// through the pager when the result is longer than the screen, or the \o
// file; with the terminal's width for \x auto.
func (sh *shellState) output() (io.Writer, int, func()) {
	if sh.outFile != nil || sh.s.out != os.Stdout || !isTerminal(os.Stdout) {
		return sh.s.out, 0, func() {}
	}
	cols, rows := termSize(os.Stdout)
	cmd := pagerCommand()
	if !sh.pager || cmd == "" || rows <= 0 {
		return os.Stdout, cols, func() {}
	}
	p := newPager(os.Stdout, cmd, rows-1, cols)
	return p, cols, func() {
		if err := p.Close(); err != nil && !errors.Is(err, errPagerClosed) {
			fmt.Fprintln(sh.errw, "error: pager:", err)
		}
	}
}

// termSize is f's terminal's columns and rows (0, 0 when f is no terminal).
func termSize(f *os.File) (cols, rows int) {
	cols, rows, err := readline.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0
	}
	return cols, rows
}

// The history file holds the text of the statements typed (which may
// name a PIN in a WHERE), never results. It lives in the user's state
// directory, readable by the user only. LIENTHONG_HISTORY=off keeps no
// file; LIENTHONG_HISTORY=PATH uses PATH.
func historyFile() string {
	v := os.Getenv("LIENTHONG_HISTORY")
	if v == "off" {
		return ""
	}
	path := v
	if path == "" {
		dir := os.Getenv("XDG_STATE_HOME")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			dir = filepath.Join(home, ".local", "state")
		}
		path = filepath.Join(dir, "lienthong", "history")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return ""
	}
	// readline would create it world-readable (0666 less the umask).
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return ""
	}
	f.Close()
	return path
}

// setHistory is \history on|off: off stops recording statements, in the
// file and in this session's recall alike.
func (sh *shellState) setHistory(on bool) {
	if sh.rl == nil {
		return
	}
	sh.record = on
	if on {
		sh.rl.HistoryEnable()
		if sh.history == "" {
			sh.history = historyFile()
			sh.rl.SetHistoryPath(sh.history)
		}
		fmt.Fprintf(sh.s.out, "history is on (%s)\n", cmpOr(sh.history, "this session only"))
		return
	}
	sh.rl.HistoryDisable()
	fmt.Fprintln(sh.s.out, "history is off: statements from now on are not recorded")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// oneLine turns a statement typed over several lines into one history
// line (the history file holds one entry a line), meaning the same: line
// breaks between tokens become spaces, a line break inside a string
// literal becomes \n (which the literal reads as a line break), and a
// -- or # comment becomes a /* */ one so it does not swallow the lines
// after it.
func oneLine(text string) string {
	if !strings.Contains(text, "\n") {
		return strings.TrimSpace(text)
	}
	var b strings.Builder
	rs := []rune(text)
	var quote rune   // the open literal's quote, 0 outside one
	comment := false // in a -- or # comment
	block := false   // in a /* */ comment
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case block:
			switch {
			case r == '\n':
				b.WriteRune(' ')
				i = skipBlanks(rs, i)
			case r == '*' && i+1 < len(rs) && rs[i+1] == '/':
				b.WriteString("*/")
				i++
				block = false
			default:
				b.WriteRune(r)
			}
		case r == '/' && quote == 0 && !comment && i+1 < len(rs) && rs[i+1] == '*':
			b.WriteString("/*")
			i++
			block = true
		case comment:
			if r == '\n' {
				b.WriteString(" */ ")
				comment = false
				i = skipBlanks(rs, i)
				continue
			}
			if r == '/' && i > 0 && rs[i-1] == '*' {
				b.WriteString(" /") // no early end of the comment
				continue
			}
			b.WriteRune(r)
		case quote != 0:
			switch {
			case r == '\n' && quote != '`':
				b.WriteString(`\n`)
			case r == '\n':
				b.WriteRune(' ')
			case r == '\\' && quote != '`' && i+1 < len(rs):
				b.WriteRune(r)
				i++
				if rs[i] == '\n' {
					b.WriteString("n")
				} else {
					b.WriteRune(rs[i])
				}
			case r == quote:
				b.WriteRune(r)
				if i+1 < len(rs) && rs[i+1] == quote { // doubled: still inside
					b.WriteRune(rs[i+1])
					i++
				} else {
					quote = 0
				}
			default:
				b.WriteRune(r)
			}
		case r == '\'' || r == '"' || r == '`':
			quote = r
			b.WriteRune(r)
		case r == '#' || (r == '-' && i+1 < len(rs) && rs[i+1] == '-' && (i+2 == len(rs) || rs[i+2] == ' ' || rs[i+2] == '\t' || rs[i+2] == '\n')):
			comment = true
			b.WriteString("/*")
			if r == '-' {
				i++
			}
		case r == '\n':
			s := strings.TrimRight(b.String(), " \t")
			b.Reset()
			b.WriteString(s)
			b.WriteRune(' ')
			i = skipBlanks(rs, i)
		default:
			b.WriteRune(r)
		}
	}
	if comment {
		b.WriteString(" */")
	}
	return strings.TrimSpace(b.String())
}

// skipBlanks returns the index of the last blank after i (the loop's
// i++ moves past it).
func skipBlanks(rs []rune, i int) int {
	for i+1 < len(rs) && (rs[i+1] == ' ' || rs[i+1] == '\t') {
		i++
	}
	return i
}

// edit is \e: the statement being typed, or else the last one run, opens
// in $VISUAL or $EDITOR; what is saved is then read as if typed, so a
// text ending in ';' runs and one without stays to be finished.
func (sh *shellState) edit(ctx context.Context) error {
	text := sh.buf.String()
	if strings.TrimSpace(text) == "" {
		text = sh.last
	}
	f, err := os.CreateTemp("", "lienthong-*.sql")
	if err != nil {
		return sh.report(err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(strings.TrimRight(text, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sh.report(err)
	}
	editor := cmpOr(os.Getenv("VISUAL"), cmpOr(os.Getenv("EDITOR"), "vi"))
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "lienthong-edit", f.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return sh.report(fmt.Errorf("\\e: the editor %q failed (%v); the statement is unchanged", editor, err))
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return sh.report(err)
	}
	sh.buf.Reset()
	edited := strings.TrimRight(string(b), "\n")
	if strings.TrimSpace(edited) == "" {
		return nil
	}
	fmt.Fprintln(os.Stdout, edited)
	for _, line := range strings.Split(edited, "\n") {
		if quit, err := sh.feed(ctx, line); err != nil || quit {
			return err
		}
	}
	return nil
}

// engineRefreshed says st was REFRESH CATALOG (completion re-reads it).
func engineRefreshed(st string) bool {
	f := strings.Fields(strings.ToUpper(st))
	return len(f) >= 2 && f[0] == "REFRESH" && strings.HasPrefix(f[1], "CATALOG")
}
