package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"

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
// terminal it edits lines and keeps history; otherwise it runs what it reads
// and fails (non-zero exit) if any statement failed.
func shell(ctx context.Context, s *session, banner func(io.Writer)) error {
	interactive := readline.IsTerminal(int(os.Stdin.Fd()))
	return runShell(ctx, s, banner, os.Stdin, os.Stderr, interactive)
}

// runShell is shell reading in; errors go to errw. Each statement runs
// under its own context, cancelled by Ctrl-C while it runs: Ctrl-C stops
// that statement only and the shell goes on (like psql).
func runShell(ctx context.Context, s *session, banner func(io.Writer), in io.Reader, errw io.Writer, interactive bool) error {
	var next func(prompt string) (string, error)
	if interactive {
		home, _ := os.UserHomeDir()
		rl, err := readline.NewEx(&readline.Config{
			Prompt:          "lienthong> ",
			HistoryFile:     filepath.Join(home, ".lienthong_history"),
			InterruptPrompt: "^C",
			EOFPrompt:       `\q`,
		})
		if err != nil {
			return err
		}
		defer rl.Close()
		next = func(prompt string) (string, error) {
			rl.SetPrompt(prompt)
			return rl.Readline()
		}
		if banner != nil {
			banner(os.Stdout)
		}
		fmt.Println(`Type SQL ending in ';'.  \d lists tables, \d TABLE describes one, \x toggles expanded output, \q quits.`)
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
	failed := 0
	var buf strings.Builder
	for {
		prompt := "lienthong> "
		if buf.Len() > 0 {
			prompt = "        -> "
		}
		line, err := next(prompt)
		if errors.Is(err, readline.ErrInterrupt) {
			buf.Reset()
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		trimmed := strings.TrimSpace(line)
		if buf.Len() == 0 && strings.HasPrefix(trimmed, `\`) {
			if quit := s.meta(trimmed); quit {
				break
			}
			continue
		}
		buf.WriteString(line)
		buf.WriteString("\n")
		if !strings.HasSuffix(trimmed, ";") {
			continue
		}
		text := buf.String()
		buf.Reset()
		stmts, err := splitScript(text)
		if err != nil {
			fmt.Fprintln(errw, "error:", err)
			failed++
			continue
		}
		for _, st := range stmts {
			qctx, stop := interruptible(ctx)
			err := s.run(qctx, st)
			stop()
			if err != nil {
				fmt.Fprintln(errw, "error:", err)
				failed++
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if strings.TrimSpace(buf.String()) != "" {
		fmt.Fprintln(errw, "error: the input ended inside a statement (missing ';')")
		failed++
	}
	if !interactive && failed > 0 {
		fmt.Fprintf(errw, "%d statement(s) failed\n", failed)
		return errReported
	}
	return nil
}

// meta runs a backslash command; it returns true for \q.
func (s *session) meta(cmd string) bool {
	fields := strings.Fields(cmd)
	switch fields[0] {
	case `\q`:
		return true
	case `\x`:
		s.expanded = !s.expanded
		state := "off"
		if s.expanded {
			state = "on"
		}
		fmt.Fprintf(s.out, "expanded output is %s\n", state)
	case `\d`:
		only := ""
		if len(fields) > 1 {
			only = strings.TrimSuffix(fields[1], ";")
		}
		snap, err := s.db.Catalog(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			break
		}
		if only == "" {
			printCatalog(s.out, snap, false)
		} else if err := describeTable(s.out, snap, only); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
	default:
		fmt.Fprintf(s.out, "unknown command %s: \\d [TABLE], \\x, \\q\n", fields[0])
	}
	return false
}
