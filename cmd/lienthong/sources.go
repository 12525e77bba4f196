package main

import (
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

	"lienthong/audit"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/open"
	"lienthong/engine"
	"lienthong/health"
)

const sourcesUsage = `lienthong sources: connection health of the agency databases

  lienthong sources status --config FILE [--audit-log FILE] [--history N] [--no-probe]
        probe every source now and show its recent history and uptime (24 h, 7 d, 30 d)
  lienthong sources probe  --config FILE --audit-log FILE [--audit-key FILE] [--interval 30s]
        run the prober in the foreground, recording into FILE.health (serve runs it itself)
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
	case "-h", "--help", "help":
		fmt.Print(sourcesUsage)
		return nil
	}
	return fmt.Errorf("unknown sources command %q\n\n%s", args[0], sourcesUsage)
}

// connPinger checks sources through their connectors, keeping one
// connection per source. It stands in for Engine.Ping until the engine
// offers one (the prober then uses the engine's own connections).
type connPinger struct {
	cfg   *config.Config
	mu    sync.Mutex
	conns map[string]connectors.Connector
}

func newConnPinger(cfg *config.Config) *connPinger {
	return &connPinger{cfg: cfg, conns: map[string]connectors.Connector{}}
}

func (p *connPinger) Ping(ctx context.Context, source string) (time.Duration, error) {
	var sc *config.Source
	for i := range p.cfg.Sources {
		if p.cfg.Sources[i].Name == source {
			sc = &p.cfg.Sources[i]
		}
	}
	if sc == nil {
		return 0, fmt.Errorf("no source %q in the config", source)
	}
	start := time.Now()
	p.mu.Lock()
	c := p.conns[source]
	p.mu.Unlock()
	if c == nil {
		var err error
		if c, err = open.Source(ctx, *sc); err != nil {
			return time.Since(start), err
		}
		p.mu.Lock()
		p.conns[source] = c
		p.mu.Unlock()
	}
	err := c.Ping(ctx)
	if err != nil {
		// Reconnect next time: the connection may be what broke.
		p.mu.Lock()
		delete(p.conns, source)
		p.mu.Unlock()
		c.Close()
	}
	return time.Since(start), err
}

func (p *connPinger) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = map[string]connectors.Connector{}
}

func sourceNamesOf(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Sources {
		out = append(out, s.Name)
	}
	return out
}

// probeDefaults fills the probe settings no flag gave from the config's
// [audit] table (key_file, probe_interval, node_id), as serve uses them.
func probeDefaults(cfgPath string, keyFile *string, interval *time.Duration, node *string) error {
	ac, err := audit.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	if ac != nil {
		if *keyFile == "" {
			*keyFile = ac.KeyFile
		}
		if *interval == 0 {
			*interval = ac.ProbeInterval.Duration
		}
		if *node == "" {
			*node = ac.NodeID
		}
	}
	if *interval == 0 {
		*interval = health.DefaultInterval
	}
	return nil
}

// healthPathFor resolves where a node's health history lives.
func healthPathFor(cfgPath, auditLog string) string {
	if auditLog == "" && cfgPath != "" {
		if t, err := audit.LoadConfig(cfgPath); err == nil && t != nil {
			return t.HealthLog
		}
	}
	if auditLog == "" {
		return ""
	}
	return audit.HealthPath(auditLog)
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
	names := sourceNamesOf(cfg)
	now := time.Now()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	if !*noProbe {
		p := newConnPinger(cfg)
		defer p.Close()
		fmt.Fprintln(tw, "SOURCE\tKIND\tNOW\tCONNECT+PING\tERROR")
		results := make([]string, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				defer cancel()
				lat, err := p.Ping(pctx, name)
				st, msg := "up", ""
				if err != nil {
					st, msg = "DOWN", err.Error()
				}
				results[i] = fmt.Sprintf("%s\t%s\t%s\t%.2f ms\t%s", name, cfg.Sources[i].Kind, st, float64(lat.Microseconds())/1000, audit.Scrub(catalog.Reason(firstLine(msg))))
			}()
		}
		wg.Wait()
		for _, r := range results {
			fmt.Fprintln(tw, r)
		}
		tw.Flush()
	}
	hp := healthPathFor(*cfgPath, *auditLog)
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
	keyFile := fs.String("audit-key", "", "the audit key (default the config's [audit] key_file, else $"+audit.KeyEnv+")")
	interval := fs.Duration("interval", 0, fmt.Sprintf("time between probe rounds (default the config's [audit] probe_interval, else %s)", health.DefaultInterval))
	node := fs.String("audit-node", "", "node id (default the config's [audit] node_id, else the hostname)")
	fs.Parse(args)
	if *cfgPath == "" {
		return errors.New("sources probe: --config FILE is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	hp := healthPathFor(*cfgPath, *auditLog)
	if hp == "" {
		return errors.New("sources probe: --audit-log FILE is required (the history goes to FILE.health)")
	}
	if err := probeDefaults(*cfgPath, keyFile, interval, node); err != nil {
		return err
	}
	keys, err := audit.LoadKey(*keyFile)
	if err != nil {
		return err
	}
	p := newConnPinger(cfg)
	defer p.Close()
	mon, err := health.Open(health.Options{Path: hp, Keys: keys, Node: *node, Sources: sourceNamesOf(cfg), Interval: *interval,
		OnChange: func(src string, up bool) {
			st := "up"
			if !up {
				st = "DOWN"
			}
			fmt.Printf("%s %s is %s\n", time.Now().Format(time.RFC3339), src, st)
		}}, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "probing %d sources every %s into %s (Ctrl-C stops)\n", len(cfg.Sources), *interval, hp)
	err = mon.Run(ctx)
	return errors.Join(err, mon.Close())
}

// startNodeAudit is what `serve` runs for a node whose config has an
// [audit] table: the audit log as the engine's observer, and the health
// monitor probing every source every probe_interval and learning from
// every finished query. Call the returned stop after the server has
// drained (queries still running need the log to end). Without an
// [audit] table it does nothing.
func startNodeAudit(ctx context.Context, cfgPath string, cfg *config.Config, eng *engine.Engine) (stop func() error, err error) {
	ac, err := audit.LoadConfig(cfgPath)
	if err != nil || ac == nil {
		return func() error { return nil }, err
	}
	keys, err := audit.LoadKey(ac.KeyFile)
	if err != nil {
		return nil, err
	}
	// The engine's own connections once it has Ping; until then the
	// connectors, connected apart.
	var pinger health.Pinger
	cp := newConnPinger(cfg)
	if p, ok := any(eng).(health.Pinger); ok {
		pinger = p
	} else {
		pinger = cp
	}
	mon, err := health.Open(health.Options{Path: ac.HealthLog, Keys: keys, Node: ac.NodeID, Sources: sourceNamesOf(cfg), Interval: ac.ProbeInterval.Duration,
		OnChange: func(src string, up bool) {
			// A source back up that the catalog lists as unavailable
			// (down since start-up): refresh so queries can use it.
			if s := eng.Catalog().Source(src); up && s != nil && s.Unavailable != "" {
				go eng.Refresh(context.WithoutCancel(ctx))
			}
		}}, pinger)
	if err != nil {
		cp.Close()
		return nil, err
	}
	l, err := audit.Open(audit.Options{Path: ac.Log, Keys: keys, Node: ac.NodeID, OnEnd: mon.Observe})
	if err != nil {
		mon.Close()
		cp.Close()
		return nil, err
	}
	eng.SetObserver(l)
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mon.Run(mctx) }()
	return func() error {
		cancel()
		err := <-done
		err = errors.Join(err, mon.Close(), l.Close())
		cp.Close()
		return err
	}, nil
}
