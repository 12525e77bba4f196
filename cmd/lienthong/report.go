package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
	_ "time/tzdata" // reports default to Asia/Ho_Chi_Minh wherever they run

	"lienthong/audit/report"
	"lienthong/config"
)

// cmdReport makes the 6-monthly or annual connection and sharing report.
func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	logPath := fs.String("log", "", "the audit log (default: the config's [audit] log)")
	cfgPath := fs.String("config", "", "node config whose [audit] table names the log")
	healthPath := fs.String("health", "", "the health history (default LOG.health)")
	keyFile := fs.String("audit-key", "", "the audit key: authenticates the logs' heads (default $LIENTHONG_AUDIT_KEY; optional)")
	period := fs.String("period", "", "2026-H1, 2026-H2, 2026 (a year), 2026-Q1 or 2026-05")
	fromS := fs.String("from", "", "first day of the period (2026-01-01), instead of --period")
	toS := fs.String("to", "", "last day of the period, inclusive (2026-06-30)")
	out := fs.String("out", "", "directory for report.md, report.html, the SVG charts and a CSV per table (default: Markdown on stdout)")
	tz := fs.String("tz", "Asia/Ho_Chi_Minh", "zone of the period, months and times shown")
	fs.Parse(args)
	if *logPath == "" && *cfgPath != "" {
		c, err := config.LoadTables(*cfgPath, "audit")
		if err != nil {
			return err
		}
		t := c.Audit
		if t == nil {
			return fmt.Errorf("%s has no [audit] table: pass --log FILE", *cfgPath)
		}
		*logPath = t.Log
		if *healthPath == "" {
			*healthPath = t.HealthLog
		}
		if *keyFile == "" {
			*keyFile = t.KeyFile
		}
	}
	if *logPath == "" {
		return errors.New("report: --log FILE (or --config with an [audit] table) is required")
	}
	loc, err := loadZone(*tz)
	if err != nil {
		return err
	}
	var from, to time.Time
	label := *period
	switch {
	case *period != "" && (*fromS != "" || *toS != ""):
		return errors.New("report: give --period or --from/--to, not both")
	case *period != "":
		if from, to, err = report.ParsePeriod(*period, loc); err != nil {
			return err
		}
	case *fromS != "" && *toS != "":
		if from, err = parseTime(*fromS, loc); err != nil {
			return err
		}
		last, err := parseTime(*toS, loc)
		if err != nil {
			return err
		}
		to = last.AddDate(0, 0, 1)
		label = fmt.Sprintf("%s to %s", from.Format("2006-01-02"), last.Format("2006-01-02"))
	default:
		return errors.New("report: --period (e.g. 2026-H1) or --from and --to are required")
	}
	keys, err := optionalKeys(*keyFile)
	if err != nil {
		return err
	}
	r, err := report.Build(report.Options{Log: *logPath, Health: *healthPath, From: from, To: to, Label: label, Loc: loc, Keys: keys})
	if err != nil {
		return err
	}
	if r.Audit.Tampered || r.Health.Tampered {
		fmt.Fprintln(os.Stderr, "WARNING: the logs do not verify; the report says so (run lienthong audit verify)")
	}
	if *out == "" {
		return r.WriteMarkdown(os.Stdout)
	}
	if err := r.Write(*out); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s, %d charts and the tables as CSV\n", filepath.Join(*out, "report.md"), filepath.Join(*out, "report.html"), len(r.Charts()))
	return nil
}
