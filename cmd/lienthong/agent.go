package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"lienthong/agent"
)

const agentUsage = `usage:
  lienthong agent --config agency.toml       run the agency's agent (Arrow Flight over mutual TLS; SIGHUP re-reads the file and certificates; docs/agent.md)
  lienthong agent check agency.toml          validate the file against its database (file:line in errors)
  lienthong agent log verify FILE            check the request log's hash chain (exit 1 and the first bad record)
  lienthong agent log search FILE [--from T] [--to T] [--engine CN] [--purpose P] [--outcome O] [--table T] [--json]`

// cmdAgent runs an agency's agent, or checks its file, or reads its log.
func cmdAgent(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return agentCheck(ctx, args[1:], out)
		case "log":
			return agentLog(args[1:], out)
		case "-h", "--help", "help":
			fmt.Fprintln(out, agentUsage)
			return nil
		}
	}
	fs := flag.NewFlagSet("agent", flag.ExitOnError)
	cfgPath := fs.String("config", "", "the agency's agent config (agency.toml; docs/agent.md)")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), agentUsage); fs.PrintDefaults() }
	fs.Parse(args)
	if *cfgPath == "" || fs.NArg() > 0 {
		return errors.New(agentUsage)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	// SIGHUP re-reads agency.toml and the TLS files (docs/agent.md,
	// Reloading). Asked for before starting, so an early one waits for the
	// agent rather than killing the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := agent.Load(*cfgPath)
	if err != nil {
		return err
	}
	a, err := agent.Open(ctx, cfg, agent.Options{})
	if err != nil {
		return err
	}
	health := a.HealthAddr()
	if health == "" {
		health = "off"
	}
	fmt.Fprintf(os.Stderr, "lienthong agent of %s serving: Flight %s (mutual TLS)  health %s  log %s\n", cfg.Agency, a.FlightAddr(), health, a.LogPath())
	// Reloads run here, one at a time, never alongside Close.
serve:
	for {
		select {
		case <-ctx.Done():
			break serve
		case err = <-a.Err():
			break serve
		case <-hup:
			if what, rerr := a.ReloadContext(ctx); rerr != nil {
				fmt.Fprintf(os.Stderr, "reload refused, nothing changed (the rules and certificates in force stay): %v\n", rerr)
			} else {
				fmt.Fprintf(os.Stderr, "%s\n", what)
			}
		}
	}
	stop()
	fmt.Fprintf(os.Stderr, "stopping: requests in flight get 10s\n")
	return errors.Join(err, a.Close())
}

func agentCheck(ctx context.Context, args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: lienthong agent check agency.toml")
	}
	if err := agent.Check(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: ok\n", args[0])
	return nil
}

func agentLog(args []string, out io.Writer) error {
	if len(args) < 2 {
		return errors.New("usage: lienthong agent log verify|search FILE")
	}
	switch args[0] {
	case "verify":
		if len(args) != 2 {
			return errors.New("usage: lienthong agent log verify FILE")
		}
		n, err := agent.VerifyFile(args[1])
		if err != nil {
			var ve *agent.VerifyError
			if errors.As(err, &ve) {
				return fmt.Errorf("%s: NOT intact: %v (the records before it verify)", args[1], ve)
			}
			return err
		}
		fmt.Fprintf(out, "%s: intact, %d records\n", args[1], n)
		return nil
	case "search":
		return agentSearch(args[1:], out)
	}
	return fmt.Errorf("unknown log command %q: verify or search", args[0])
}

func agentSearch(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("agent log search", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "records at or after this time (RFC 3339, or a date 2026-12-01)")
	to := fs.String("to", "", "records before this time")
	var f agent.Filter
	fs.StringVar(&f.Engine, "engine", "", "the engine's certificate common name")
	fs.StringVar(&f.Purpose, "purpose", "", "the declared purpose")
	fs.StringVar(&f.Outcome, "outcome", "", "served, refused (or refused:<reason>), failed, cancelled")
	fs.StringVar(&f.Table, "table", "", "the table read")
	asJSON := fs.Bool("json", false, "one JSON record per line")
	// The file comes first (agent log search FILE --engine ...); flags
	// before it work too.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%v\n%s", err, agentUsage)
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 || file == "" {
		return errors.New(agentUsage)
	}
	var err error
	if f.From, err = parseWhen(*from); err != nil {
		return fmt.Errorf("--from: %v", err)
	}
	if f.To, err = parseWhen(*to); err != nil {
		return fmt.Errorf("--to: %v", err)
	}
	recs, err := agent.Search(file, f)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tENGINE\tPRINCIPAL\tPURPOSE\tCASE\tTABLE\tOUTCOME\tROWS\tBYTES\tMS")
	for _, r := range recs {
		kind := r.Kind
		if r.Action != "" {
			kind = r.Action
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.1f\n", r.Seq, r.Time.UTC().Format(time.RFC3339), kind, r.Engine, r.Principal, r.Purpose, r.Case, r.Table, r.Outcome, r.Rows, r.Bytes, float64(r.DurationUS)/1000)
	}
	return tw.Flush()
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want RFC 3339, e.g. 2026-12-01T08:00:00Z, or a date 2026-12-01)", s)
}
