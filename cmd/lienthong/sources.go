package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"lienthong/audit/chain"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/health"
	"lienthong/node"
)

const sourcesUsage = `lienthong sources: connection health of the agency databases

  lienthong sources status --config FILE [--audit-log FILE] [--history N] [--no-probe]
        probe every source now and show its recent history and uptime (24 h, 7 d, 30 d)
  lienthong sources probe  --config FILE --audit-log FILE [--audit-key FILE] [--interval 30s]
        run the prober in the foreground, recording into FILE.health (serve runs it itself)

The sources in force on a running node (on a cluster: on every node), through its HTTP API:
  lienthong sources show    --server URL          print them as a sources file
  lienthong sources add     --server URL FILE     put FILE's [[sources]] in force (each must be new)
  lienthong sources replace --server URL FILE     change sources in force to FILE's settings
  lienthong sources remove  --server URL NAME...  take sources out (queries running on them finish)
A change applies whole or not at all; an invalid file's error names its line.
--token (default $LIENTHONG_TOKEN); the principal needs operations = ["sources"] under a policy.
`

func cmdSources(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, sourcesUsage)
		return errReported
	}
	switch args[0] {
	case "status":
		return cmdSourcesStatus(ctx, args[1:])
	case "probe":
		return cmdSourcesProbe(ctx, args[1:])
	case "show", "add", "replace", "remove":
		return sourcesRemote(ctx, args[0], args[1:], os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(sourcesUsage)
		return nil
	}
	return fmt.Errorf("unknown sources command %q\n\n%s", args[0], sourcesUsage)
}

// probeDefaults fills the probe settings no flag gave from the config's
// [audit] table t (key_file, probe_interval, node_id), as serve uses them.
func probeDefaults(t *config.Audit, keyFile *string, interval *time.Duration, node *string) {
	if t != nil {
		*keyFile = cmp.Or(*keyFile, t.KeyFile)
		*interval = cmp.Or(*interval, t.ProbeInterval.Duration)
		*node = cmp.Or(*node, t.NodeID)
	}
	*interval = cmp.Or(*interval, health.DefaultInterval)
}

// healthPathFor resolves where a node's health history lives: beside
// --audit-log, else the config's [audit] health_log.
func healthPathFor(cfg *config.Config, auditLog string) string {
	switch {
	case auditLog != "":
		return chain.HealthPath(auditLog)
	case cfg.Audit != nil:
		return cfg.Audit.HealthLog
	}
	return ""
}

func cmdSourcesStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sources status", flag.ExitOnError)
	cfgPath := fs.String("config", "", "config file (lienthong.toml)")
	auditLog := fs.String("audit-log", "", "the node's audit log; its health history is FILE.health (default: the config's [audit] log)")
	history := fs.Int("history", 10, "recent observations to show per source (state changes and failures first)")
	noProbe := fs.Bool("no-probe", false, "only show the recorded history")
	fs.Parse(args)
	if *cfgPath == "" {
		return errors.New("sources status: --config FILE is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	names := make([]string, len(cfg.Sources))
	for i, s := range cfg.Sources {
		names[i] = s.Name
	}
	now := time.Now()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	if !*noProbe {
		// The engine's Ping: connect (when not yet connected) and ping,
		// as the node's health monitor probes.
		n, err := node.Open(ctx, cfg, node.Options{})
		if err != nil {
			return err
		}
		defer n.Close()
		fmt.Fprintln(tw, "SOURCE\tKIND\tNOW\tCONNECT+PING\tERROR")
		results := make([]string, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				defer cancel()
				lat, err := n.Engine.Ping(pctx, name)
				st, msg := "up", ""
				if err != nil {
					st, msg = "DOWN", err.Error()
				}
				results[i] = fmt.Sprintf("%s\t%s\t%s\t%.2f ms\t%s", name, cfg.Sources[i].Kind, st, float64(lat.Microseconds())/1000, chain.Scrub(catalog.Reason(firstLine(msg))))
			}()
		}
		wg.Wait()
		for _, r := range results {
			fmt.Fprintln(tw, r)
		}
		tw.Flush()
	}
	hp := healthPathFor(cfg, *auditLog)
	if hp == "" {
		fmt.Println("\nno health history: pass --audit-log FILE (or give the config an [audit] table) to see recorded history and uptime")
		return nil
	}
	if _, err := os.Stat(hp); err != nil {
		fmt.Printf("\nno health history at %s yet (lienthong serve or lienthong sources probe records it)\n", hp)
		return nil
	}
	wins := []health.Window{{From: now.Add(-24 * time.Hour), To: now}, {From: now.Add(-7 * 24 * time.Hour), To: now}, {From: now.Add(-30 * 24 * time.Hour), To: now}}
	per, outages, err := health.Measure(hp, wins...)
	if err != nil {
		return err
	}
	fmt.Printf("\nmeasured uptime from %s (measured share of the window in brackets):\n", hp)
	fmt.Fprintln(tw, "SOURCE\t24 H\t7 D\t30 D\tOUTAGES (30 D)\tLONGEST\tPROBE P50")
	for _, name := range names {
		u, ok := per[name]
		if !ok {
			fmt.Fprintf(tw, "%s\tno observations\n", name)
			continue
		}
		row := name
		for _, x := range u {
			row += "\t" + pctOf(x)
		}
		row += fmt.Sprintf("\t%d\t%s\t%.2f ms", u[2].Outages, u[2].Longest.Round(time.Second), float64(u[2].Latency.Quantile(0.5).Microseconds())/1000)
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	// Recent history: the last observations of each source, and the
	// last 30 days' outages.
	recent := map[string][]health.Sample{}
	err = health.ReadSamples(hp, now.Add(-30*24*time.Hour), time.Time{}, func(s health.Sample) error {
		if s.Source == "" {
			return nil
		}
		r := append(recent[s.Source], s)
		if len(r) > *history {
			r = r[1:]
		}
		recent[s.Source] = r
		return nil
	})
	if err != nil {
		return err
	}
	srcs := make([]string, 0, len(recent))
	for s := range recent {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		fmt.Printf("\n%s: last %d observations\n", s, len(recent[s]))
		for _, x := range recent[s] {
			fmt.Println("  " + x.String())
		}
	}
	if len(outages) > 0 {
		fmt.Println("\noutages in the last 30 days:")
		for _, o := range outages {
			end := o.End.Format(time.RFC3339)
			if o.Ongoing {
				end = "ongoing"
			}
			fmt.Printf("  %-8s %s -> %s  down %s  %s\n", o.Source, o.Start.Format(time.RFC3339), end, o.Down.Round(time.Second), o.Error)
		}
	}
	return nil
}

func pctOf(u health.Uptime) string {
	p := u.Percent()
	if math.IsNaN(p) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%% [%.0f%%]", p, u.Coverage())
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

func cmdSourcesProbe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sources probe", flag.ExitOnError)
	cfgPath := fs.String("config", "", "config file (lienthong.toml)")
	auditLog := fs.String("audit-log", "", "the node's audit log; the history goes to FILE.health")
	keyFile := fs.String("audit-key", "", "the audit key (default the config's [audit] key_file, else $"+chain.KeyEnv+")")
	interval := fs.Duration("interval", 0, fmt.Sprintf("time between probe rounds (default the config's [audit] probe_interval, else %s)", health.DefaultInterval))
	nodeID := fs.String("audit-node", "", "node id (default the config's [audit] node_id, else the hostname)")
	fs.Parse(args)
	if *cfgPath == "" {
		return errors.New("sources probe: --config FILE is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	hp := healthPathFor(cfg, *auditLog)
	if hp == "" {
		return errors.New("sources probe: --audit-log FILE is required (the history goes to FILE.health)")
	}
	probeDefaults(cfg.Audit, keyFile, interval, nodeID)
	n, err := node.Open(ctx, cfg, node.Options{Health: &config.Audit{HealthLog: hp, KeyFile: *keyFile, NodeID: *nodeID, ProbeInterval: config.Duration{Duration: *interval}},
		OnHealthChange: func(src string, up bool) {
			st := "up"
			if !up {
				st = "DOWN"
			}
			fmt.Printf("%s %s is %s\n", time.Now().Format(time.RFC3339), src, st)
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "probing %d sources every %s into %s (Ctrl-C stops)\n", len(cfg.Sources), *interval, hp)
	select {
	case <-ctx.Done():
	case <-n.HealthStopped(): // it failed to record; Close says why
	}
	return n.Close()
}
