package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"lienthong/audit/chain"
	"lienthong/audit/report"
	"lienthong/audit/simulate"
	"lienthong/config"
	"lienthong/engine"
)

const auditUsage = `lienthong audit: the tamper-evident audit log

  lienthong audit verify   --log FILE [--audit-key FILE] [--anchor SEQ:HASH]...
                           check every record; exit 1 on tampering, saying which record and how
  lienthong audit search   --log FILE [--from T] [--to T] [--principal P] [--agency A] [--purpose P]
                           [--source S] [--outcome O] [--code C] [--case ID] [--attempt ID]
                           [--pin PIN --audit-key FILE] [--format table|json] [--limit N]
  lienthong audit head     --log FILE      the last record's number and hash, to keep elsewhere
  lienthong audit keygen   --out FILE      make a new audit key (hex, mode 600)
  lienthong audit simulate --out DIR [--period 2026-H1] [--seed N] [--per-day N]
                           write a synthetic audit history over the demo databases (marked simulated)

Queries are audited when run with --audit-log FILE --audit-key FILE (query, explain, sql, demo), or
with an [audit] table in the config (docs/audit.md). The key may also come from $LIENTHONG_AUDIT_KEY.
`

func cmdAudit(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, auditUsage)
		return errReported
	}
	switch args[0] {
	case "verify":
		return cmdAuditVerify(args[1:])
	case "search":
		return cmdAuditSearch(args[1:])
	case "head":
		return cmdAuditHead(args[1:])
	case "keygen":
		return cmdAuditKeygen(args[1:])
	case "simulate":
		return cmdAuditSimulate(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Print(auditUsage)
		return nil
	}
	return fmt.Errorf("unknown audit command %q\n\n%s", args[0], auditUsage)
}

// anchors collects repeated --anchor flags.
type anchors []chain.Anchor

func (a *anchors) String() string { return fmt.Sprint(*a) }
func (a *anchors) Set(s string) error {
	x, err := chain.ParseAnchor(s)
	if err != nil {
		return err
	}
	*a = append(*a, x)
	return nil
}

// optionalKeys loads the key if one is given (flag or environment).
func optionalKeys(file string) (*chain.Keys, error) {
	if file == "" && os.Getenv(chain.KeyEnv) == "" {
		return nil, nil
	}
	return chain.LoadKey(file)
}

func cmdAuditVerify(args []string) error {
	fs := flag.NewFlagSet("audit verify", flag.ExitOnError)
	logPath := fs.String("log", "", "the audit log (or a health history, FILE.health)")
	keyFile := fs.String("audit-key", "", "the audit key: authenticates the head (default $"+chain.KeyEnv+")")
	var anc anchors
	fs.Var(&anc, "anchor", "SEQ:HASH of a record known from elsewhere (a report, a replica); repeatable")
	quiet := fs.Bool("quiet", false, "print only problems")
	fs.Parse(args)
	if *logPath == "" {
		return errors.New("audit verify: --log FILE is required")
	}
	keys, err := optionalKeys(*keyFile)
	if err != nil {
		return err
	}
	res, err := chain.VerifyFile(*logPath, chain.VerifyOptions{Keys: keys, Anchors: anc})
	if err != nil {
		return err
	}
	for _, p := range res.Problems {
		fmt.Println(p.String())
	}
	if !*quiet {
		fmt.Printf("%s: %d lines, %d records, last record %d hash %s\n", *logPath, res.Lines, res.Records, res.LastSeq, res.LastHash)
		if res.Head != nil {
			auth := "not authenticated"
			if res.HeadAuthenticated {
				auth = "authenticated"
			}
			fmt.Printf("head: record %d at %s (%s)\n", res.Head.Seq, res.Head.Time.Format(time.RFC3339), auth)
		}
		fmt.Printf("node starts %d, clean stops %d", res.Opens, res.Closes)
		if res.UnfinishedCount > 0 {
			fmt.Printf(", %d attempts begun without an end (the node stopped while they ran)", res.UnfinishedCount)
		}
		fmt.Println()
		if res.Simulated {
			fmt.Println("this log is SIMULATED (lienthong audit simulate)")
		}
	}
	if res.Tampered() {
		fmt.Println("TAMPERED: the log is not as it was written")
		return errReported
	}
	if !*quiet {
		fmt.Println("OK: every record intact, numbered and chained")
	}
	return nil
}

func cmdAuditHead(args []string) error {
	fs := flag.NewFlagSet("audit head", flag.ExitOnError)
	logPath := fs.String("log", "", "the audit log")
	keyFile := fs.String("audit-key", "", "the audit key (authenticates the head file)")
	fs.Parse(args)
	if *logPath == "" {
		return errors.New("audit head: --log FILE is required")
	}
	keys, err := optionalKeys(*keyFile)
	if err != nil {
		return err
	}
	res, err := chain.VerifyFile(*logPath, chain.VerifyOptions{Keys: keys})
	if err != nil {
		return err
	}
	if res.Tampered() {
		for _, p := range res.Problems {
			fmt.Fprintln(os.Stderr, p.String())
		}
		return errors.New("the log does not verify; its head is not worth anchoring")
	}
	fmt.Printf("%d:%s\n", res.LastSeq, res.LastHash)
	fmt.Fprintf(os.Stderr, "keep this anchor elsewhere; later: lienthong audit verify --log %s --anchor %d:%s\n", *logPath, res.LastSeq, res.LastHash)
	return nil
}

func cmdAuditKeygen(args []string) error {
	fs := flag.NewFlagSet("audit keygen", flag.ExitOnError)
	out := fs.String("out", "", "the key file to create (refuses to overwrite)")
	fs.Parse(args)
	if *out == "" {
		return errors.New("audit keygen: --out FILE is required")
	}
	k, err := chain.WriteKeyFile(*out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (key id %s). Keep it secret and backed up: without it the PIN hashes in the log cannot be searched and the head cannot be authenticated.\n", *out, k.ID)
	return nil
}

// parseTime reads 2026-01-31, 2026-01-31T08:00 or RFC 3339 in loc.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want 2026-01-31, 2026-01-31T08:00 or RFC 3339", s)
}

func loadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("--tz %q: %w", name, err)
	}
	return loc, nil
}

func cmdAuditSearch(args []string) error {
	fs := flag.NewFlagSet("audit search", flag.ExitOnError)
	logPath := fs.String("log", "", "the audit log")
	keyFile := fs.String("audit-key", "", "the audit key (needed for --pin)")
	from := fs.String("from", "", "attempts started at or after this time (2026-01-31 or 2026-01-31T08:00)")
	to := fs.String("to", "", "attempts started before this time")
	tz := fs.String("tz", "Asia/Ho_Chi_Minh", "zone of --from/--to and of the times shown")
	var f chain.Filter
	fs.StringVar(&f.Principal, "principal", "", "the user or service account")
	fs.StringVar(&f.Agency, "agency", "", "the requesting agency")
	fs.StringVar(&f.Purpose, "purpose", "", "the declared purpose")
	fs.StringVar(&f.Source, "source", "", "a database the attempt read")
	fs.StringVar(&f.Outcome, "outcome", "", "succeeded, denied, failed, cancelled or unfinished")
	fs.StringVar(&f.Code, "code", "", "error code (LT-...)")
	fs.StringVar(&f.CaseID, "case", "", "case id")
	fs.StringVar(&f.Attempt, "attempt", "", "attempt id (or a prefix)")
	pin := fs.String("pin", "", "a PIN the attempt filtered on: hashed with the key and matched")
	format := fs.String("format", "table", "table or json (one attempt per line)")
	limit := fs.Int("limit", 0, "stop after N attempts (0: all)")
	fs.Parse(args)
	if *logPath == "" {
		return errors.New("audit search: --log FILE is required")
	}
	loc, err := loadZone(*tz)
	if err != nil {
		return err
	}
	if *from != "" {
		if f.From, err = parseTime(*from, loc); err != nil {
			return err
		}
	}
	if *to != "" {
		if f.To, err = parseTime(*to, loc); err != nil {
			return err
		}
	}
	if *pin != "" {
		keys, err := chain.LoadKey(*keyFile)
		if err != nil {
			return fmt.Errorf("--pin needs the audit key: %w", err)
		}
		f.PINHash = keys.PIN(strings.TrimSpace(*pin))
	}
	rd, err := chain.OpenReader(*logPath)
	if err != nil {
		return err
	}
	var start uint64
	if !f.From.IsZero() {
		start = rd.SeqFor(f.From)
	}
	var tw *tabwriter.Writer
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if *format == "table" {
		tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "START\tATTEMPT\tPRINCIPAL\tAGENCY\tPURPOSE\tCASE\tOUTCOME\tCODE\tROWS\tMS\tSOURCES\tSQL")
	} else if *format != "json" {
		return fmt.Errorf("--format %q: table or json", *format)
	}
	n := 0
	errLimit := errors.New("limit")
	err = chain.Attempts(rd, start, f, func(a *chain.AttemptView) error {
		if *limit > 0 && n >= *limit {
			return errLimit // in every format
		}
		n++
		info := a.Info()
		if tw == nil {
			return enc.Encode(struct {
				Begin *chain.Record `json:"begin,omitempty"`
				End   *chain.Record `json:"end,omitempty"`
			}{a.Begin, a.End})
		}
		var rows int64
		var code, ms string
		if a.End != nil {
			rows, code = a.End.Rows, a.End.Code
			ms = fmt.Sprintf("%.1f", float64(a.End.DurationUS)/1000)
		}
		sql := strings.Join(strings.Fields(info.SQL), " ")
		if len(sql) > 80 {
			sql = sql[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%.8s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", info.Start.In(loc).Format("2006-01-02 15:04:05"), info.Attempt,
			info.Principal, info.Agency, info.Purpose, info.CaseID, a.Outcome(), code, rows, ms, strings.Join(a.Sources(), ","), sql)
		return nil
	})
	if tw != nil {
		tw.Flush()
	}
	if err != nil && !errors.Is(err, errLimit) {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d attempts\n", n)
	return nil
}

func cmdAuditSimulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit simulate", flag.ExitOnError)
	out := fs.String("out", "", "directory for audit.log, audit.log.health and audit.key")
	period := fs.String("period", "2026-H1", "the simulated period (2026-H1, 2026, 2026-Q1, 2026-05)")
	seed := fs.Uint64("seed", 1, "random seed")
	perDay := fs.Float64("per-day", 150, "attempts on a working day at the start (traffic grows 4% a month)")
	interval := fs.Duration("probe-interval", 15*time.Minute, "the simulated monitor's probe interval")
	tz := fs.String("tz", "Asia/Ho_Chi_Minh", "zone of the period")
	fs.Parse(args)
	if *out == "" {
		return errors.New("audit simulate: --out DIR is required")
	}
	loc, err := loadZone(*tz)
	if err != nil {
		return err
	}
	from, to, err := report.ParsePeriod(*period, loc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*out, "audit.log")); err == nil {
		return fmt.Errorf("%s already holds an audit.log: simulate into an empty directory", *out)
	}
	keyPath := filepath.Join(*out, "audit.key")
	keys, err := chain.LoadKey(keyPath)
	if err != nil {
		if keys, err = chain.WriteKeyFile(keyPath); err != nil {
			return err
		}
	}
	// A node upgrade in the middle of the period: 30 minutes unmeasured.
	mid := from.Add(to.Sub(from) / 2)
	restart := time.Date(mid.Year(), mid.Month(), mid.Day(), 2, 0, 0, 0, loc)
	start := time.Now()
	truth, err := simulate.Run(ctx, simulate.Options{Dir: *out, From: from, To: to, Seed: *seed, PerDay: *perDay, ProbeInterval: *interval, Keys: keys, Restart: restart})
	if err != nil {
		return err
	}
	t := truth.Total
	fmt.Printf("simulated %s: %d attempts (%d answered, %d denied, %d failed, %d cancelled) in %s\n", *period, t.Attempts, t.Succeeded, t.Denied, t.Failed, t.Cancelled, time.Since(start).Round(time.Millisecond))
	fmt.Printf("wrote %s (and .head, .idx, .health) with key %s; the log is marked simulated\n", filepath.Join(*out, "audit.log"), keyPath)
	fmt.Printf("report: lienthong report --log %s --audit-key %s --period %s --out DIR\n", filepath.Join(*out, "audit.log"), keyPath, *period)
	return nil
}

// --- auditing queries run from the command line ---

// cliAudit is what a command was asked to audit into and who asks: the
// audit flags, taken off the command line by withAudit and handed to the
// command, which gives them to the node it opens.
type cliAudit struct {
	log, keyFile, node string
	session            engine.Session
}

// withAudit takes the audit flags out of args (the command's own flag set
// does not know them) and runs the command with them.
//
//	--audit-log FILE  --audit-key FILE  --audit-node ID   (or the config's [audit] table)
//	--agency A  --purpose P  --case ID                   (who asks and why; the principal is the OS user)
func withAudit(args []string, run func([]string, *cliAudit) error) error {
	var au cliAudit
	flags := map[string]*string{"audit-log": &au.log, "audit-key": &au.keyFile, "audit-node": &au.node,
		"as": &au.session.Principal, "agency": &au.session.Agency, "purpose": &au.session.Purpose, "case": &au.session.CaseID}
	var rest []string
	hasConfig := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		hasConfig = hasConfig || name == "config"
		p, ok := flags[name]
		if !ok {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			val = args[i]
		}
		*p = val
	}
	if !hasConfig {
		// No [audit] table can supply the log: refuse now, before the
		// command runs (with --config, openNode checks with the table).
		if _, err := au.table(nil); err != nil {
			return err
		}
	}
	if au.session.Principal == "" {
		au.session.Principal = localPrincipal()
	}
	return run(rest, &au)
}

// table is what to audit into: the flags, else the config's [audit]
// table t (whose key_file and node_id the flags override); nil: nothing.
func (au *cliAudit) table(t *config.Audit) (*config.Audit, error) {
	if au.log != "" {
		return &config.Audit{Log: au.log, KeyFile: au.keyFile, NodeID: au.node}, nil
	}
	if t == nil {
		if au.keyFile != "" || au.node != "" {
			return nil, errors.New("--audit-key and --audit-node need --audit-log FILE")
		}
		return nil, nil
	}
	c := *t
	c.KeyFile = cmp.Or(au.keyFile, c.KeyFile)
	c.NodeID = cmp.Or(au.node, c.NodeID)
	return &c, nil
}

// localPrincipal names the OS user running the CLI.
func localPrincipal() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return "local:unknown"
}
