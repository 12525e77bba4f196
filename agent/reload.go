package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Reloading (docs/agent.md, "Reloading"). What a reload can change: the
// [[engines]] and [[exports]] (export rules, row filters, purposes, rate
// limits, row and key bounds), log.log_bodies, and the contents of the
// three [tls] files. What it cannot (restartOnlyChanged): agency,
// [listen], the [tls] paths, [source], log.path, replay_window and
// max_streams, which the agent bound at start (its listeners, the source
// connection, the open request log, the nonce cache, the stream slots).

// reloadTimeout bounds listing the source's tables on a reload.
const reloadTimeout = 30 * time.Second

// Reload re-reads agency.toml and the certificates and puts them in
// force for requests that start afterwards; requests already running
// finish under the rules they started with, and open connections keep
// their TLS session. The file is checked exactly as at start (the
// exports against the source's tables, listed again, and the row
// filters bound); only when all of it and all three TLS files are valid
// does anything change, else the error (file:line) is returned and what
// was in force stays. Every reload, accepted or refused, is a "reload"
// record in the request log.
func (a *Agent) Reload() error {
	_, err := a.ReloadContext(context.Background())
	return err
}

// ReloadContext is Reload; it also returns, in one line, what changed.
func (a *Agent) ReloadContext(ctx context.Context) (string, error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.closed {
		return "", errors.New("agent: closed: nothing to reload")
	}
	summary, err := a.reload(ctx)
	rec := &Record{Kind: "reload", Outcome: "reloaded", Note: summary}
	// The caller says it (the command prints one line); the log records
	// it.
	if err != nil {
		rec.Outcome, rec.Note = "refused", err.Error()
	}
	if lerr := a.log.append(rec); lerr != nil {
		// The log is down: the agent serves nothing until restarted, so
		// rules put in force unrecorded serve no request.
		a.logger.Error("request log write failed", "err", lerr)
		return summary, errors.Join(err, lerr)
	}
	return summary, err
}

func (a *Agent) reload(ctx context.Context) (string, error) {
	if a.cfg.Path == "" {
		return "", errors.New("agent: the configuration was not read from a file: there is nothing to re-read")
	}
	cfg, err := Load(a.cfg.Path)
	if err != nil {
		return "", err
	}
	if err := restartOnlyChanged(a.cfg, cfg); err != nil {
		return "", err
	}
	// The exports are checked against the source as it is now (a table
	// added since the start can be exported), through the open
	// connection.
	lctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	tables, err := a.conn.Tables(lctx)
	cancel()
	if err != nil {
		return "", cfg.keyErr(cfg.dsnKey(), "cannot list the source's tables: %v", err)
	}
	exports, err := resolve(cfg, a.conn.Dialect(), tables)
	if err != nil {
		return "", err
	}
	// The certificates last: their Reload puts them in force only whole,
	// and nothing after it can fail, so the reload is all or nothing.
	oldCert, oldPool := a.certs.Certificate().Certificate, a.certs.Pool()
	if err := a.certs.Reload(); err != nil {
		return "", cfg.certErr(err)
	}
	old := a.rules.Load()
	a.rules.Store(&rules{cfg: cfg, exports: exports, engines: newEngines(cfg, old, a.now())})

	var changes []string
	changes = append(changes, diff("exports", old.cfg.Exports, cfg.Exports, func(x Export) string { return strings.ToLower(x.Table) })...)
	changes = append(changes, diff("engines", old.cfg.Engines, cfg.Engines, func(e Engine) string { return e.Name })...)
	if old.cfg.Log.LogBodies != cfg.Log.LogBodies {
		changes = append(changes, fmt.Sprintf("log_bodies %v", cfg.Log.LogBodies))
	}
	if !slices.EqualFunc(oldCert, a.certs.Certificate().Certificate, bytes.Equal) {
		changes = append(changes, "server certificate replaced")
	}
	if !oldPool.Equal(a.certs.Pool()) {
		changes = append(changes, "client CA bundle replaced")
	}
	what := "nothing changed"
	if len(changes) > 0 {
		what = strings.Join(changes, "; ")
	}
	return fmt.Sprintf("reloaded %s and the TLS files: %s (in force: %s, %s)", cfg.Path, what, count(len(cfg.Engines), "engine"), count(len(exports), "export")), nil
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// diff names the entries added, removed and changed between two lists
// keyed by key, as "exports: removed secret; changed citizens".
func diff[T any](what string, old, cur []T, key func(T) string) []string {
	before := map[string]T{}
	for _, v := range old {
		before[key(v)] = v
	}
	var added, changed, removed []string
	seen := map[string]bool{}
	for _, v := range cur {
		k := key(v)
		seen[k] = true
		if p, ok := before[k]; !ok {
			added = append(added, k)
		} else if !reflect.DeepEqual(p, v) {
			changed = append(changed, k)
		}
	}
	for _, v := range old {
		if k := key(v); !seen[k] {
			removed = append(removed, k)
		}
	}
	var out []string
	for _, g := range []struct {
		verb  string
		names []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(g.names) > 0 {
			out = append(out, fmt.Sprintf("%s %s %s", what, g.verb, strings.Join(g.names, ", ")))
		}
	}
	return out
}

// restartOnlyChanged refuses a file that changes a setting the running
// agent cannot change (restartOnly), at the setting's line in the new
// file. Values are not quoted: a DSN may hold a password.
func restartOnlyChanged(was, now *Config) error {
	type setting struct {
		key      string
		was, now any
	}
	settings := []setting{
		{"agency", was.Agency, now.Agency},
		{"listen.flight", was.Listen.Flight, now.Listen.Flight},
		{"listen.health", was.Listen.Health, now.Listen.Health},
		{"tls.cert_file", was.TLS.CertFile, now.TLS.CertFile},
		{"tls.key_file", was.TLS.KeyFile, now.TLS.KeyFile},
		{"tls.client_ca_file", was.TLS.ClientCAFile, now.TLS.ClientCAFile},
	}
	ws, ns := reflect.ValueOf(was.Source), reflect.ValueOf(now.Source)
	for i := range ws.NumField() {
		tag, _, _ := strings.Cut(ws.Type().Field(i).Tag.Get("toml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		settings = append(settings, setting{"source." + tag, ws.Field(i).Interface(), ns.Field(i).Interface()})
	}
	settings = append(settings,
		setting{"log.path", was.Log.Path, now.Log.Path},
		setting{"replay_window", was.ReplayWindow.Duration, now.ReplayWindow.Duration},
		setting{"max_streams", was.MaxStreams, now.MaxStreams},
	)
	for _, s := range settings {
		if reflect.DeepEqual(s.was, s.now) {
			continue
		}
		key := s.key
		if key == "source.dsn" && now.Source.DSNEnv != "" {
			key = "source.dsn_env"
		}
		return now.keyErr(key, "%s changed, and the running agent cannot change it: it takes a restart", s.key)
	}
	return nil
}
