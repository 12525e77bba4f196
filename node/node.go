// Package node assembles a lienthong node from its config: the engine
// (sources, residual DuckDB, access policy), the audit log that observes
// it, the source health monitor, the HTTP and Flight SQL server and its MySQL front-end,
// and the one store every replicated machine sits behind: state.Local on
// its own, a raft cluster.Node with a [cluster] table (state.go). Only
// this package and cluster know raft exists.
// Every front-end opens one node and asks it only for what it needs:
// serve all of it, query, explain and the shell the engine and their
// audit log, sources probe the monitor, the demo a server of its own. The
// front-ends parse flags and print; what is connected to what, and in
// which order things start and stop, is here.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"lienthong/audit"
	"lienthong/cluster"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/health"
	"lienthong/server"
	"lienthong/server/mysqlwire"
	"lienthong/tokens"
)

// Options say what a node runs besides its engine.
type Options struct {
	// Audit is where queries are recorded (its Log, KeyFile and NodeID);
	// nil: queries are not audited.
	Audit *config.Audit
	// Session is who asks, for attempts that arrive without a session of
	// their own (the local CLI: its OS user, --agency, --purpose, --case).
	Session engine.Session
	// Health runs the source health monitor into Health.HealthLog every
	// Health.ProbeInterval (its KeyFile, NodeID); with Audit it also
	// learns from every ended query. nil: no monitor.
	Health *config.Audit
	// OnHealthChange is told when a source goes up or down.
	OnHealthChange func(source string, up bool)
	// Serve starts the endpoints of the config's [server] table, before
	// the engine opens, so that /readyz answers (not ready) meanwhile.
	Serve bool
	// Listening is called once the endpoints listen (Serve only).
	Listening func(*server.Server)
}

// Node is one assembled node. Fields not asked for in Options are nil.
type Node struct {
	Engine *engine.Engine
	Audit  *audit.Log
	Health *health.Monitor
	Server *server.Server
	// MySQL is the MySQL wire protocol front-end ([server] mysql_addr).
	MySQL *mysqlwire.Server

	// Cluster is the raft node of a serving node with a [cluster] table;
	// nil otherwise.
	Cluster *cluster.Node

	st         nodeState
	grace      time.Duration // how long Close lets running queries finish
	policyFile string        // the access policy Reload re-reads, if any
	stopHealth context.CancelFunc
	healthDone chan struct{}
	healthErr  error
	// auditAccess is what the server's audit endpoints read.
	auditAccess server.AuditAccess
}

// Open assembles a node. On an error, what was opened is closed again.
func Open(ctx context.Context, cfg *config.Config, opt Options) (*Node, error) {
	n := &Node{}
	if err := n.open(ctx, cfg, opt); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) open(ctx context.Context, cfg *config.Config, opt Options) error {
	n.policyFile = cfg.Policy
	// Every machine exists before the store does: a cluster node restores
	// its snapshot and replays its log through them as it opens.
	if err := n.openState(ctx, cfg, opt); err != nil {
		return err
	}
	if opt.Serve {
		scfg, err := server.Settings(cfg)
		if err != nil {
			return err
		}
		so := server.Options{State: n.st.store, Tokens: n.st.tokens}
		if n.Cluster != nil {
			so.Cluster = clusterAPI{n.Cluster}
		}
		if n.Server, err = server.New(scfg, so); err != nil {
			return err
		}
		n.grace = scfg.ShutdownGrace.Duration
		if err := n.Server.Start(); err != nil {
			return err
		}
		if mysqlwire.Enabled(scfg) {
			if n.MySQL, err = mysqlwire.Start(n.Server, scfg); err != nil {
				return err
			}
		}
		if opt.Listening != nil {
			opt.Listening(n.Server)
		}
	}
	var err error
	if n.Engine, err = engine.Open(ctx, cfg, engine.Options{State: n.st.store, Machines: n.st.engine}); err != nil {
		return err
	}
	// The audit log observes the engine before any query can reach it.
	if err := n.openAudit(ctx, opt); err != nil {
		return err
	}
	if n.Server != nil {
		n.Server.SetAudit(n.auditAccess)
		n.Server.SetEngine(n.Engine)
	}
	return nil
}

// openAudit opens the health monitor and the audit log Options ask for
// and makes the log the engine's observer.
func (n *Node) openAudit(ctx context.Context, opt Options) error {
	loadKey := n.st.loadKey
	if h := opt.Health; h != nil {
		k, err := loadKey(h.KeyFile)
		if err != nil {
			return err
		}
		// The engine's own connections answer the probes; a source that
		// comes back is listed again by the engine's Ping.
		n.Health, err = health.Open(health.Options{Path: h.HealthLog, Keys: k, Node: h.NodeID, Sources: n.Engine.SourceNames,
			Interval: h.ProbeInterval.Duration, OnChange: opt.OnHealthChange}, n.Engine)
		if err != nil {
			return err
		}
	}
	if a := opt.Audit; a != nil {
		k, err := loadKey(a.KeyFile)
		if err != nil {
			return err
		}
		lo := audit.Options{Path: a.Log, Keys: k, Node: a.NodeID, Store: n.st.auditFile, State: n.st.store, Machine: n.st.audit}
		if n.Health != nil {
			lo.OnEnd = n.Health.Observe
		}
		if n.Audit, err = audit.Open(lo); err != nil {
			return err
		}
		n.auditAccess = server.AuditAccess{Log: a.Log, Keys: k}
		if opt.Health != nil {
			n.auditAccess.Health = opt.Health.HealthLog
		}
		var obs engine.Observer = n.Audit
		if opt.Session != (engine.Session{}) {
			obs = sessionObserver{n.Audit, opt.Session}
		}
		n.Engine.SetObserver(obs)
	}
	if n.Health != nil {
		hctx, cancel := context.WithCancel(ctx)
		n.stopHealth, n.healthDone = cancel, make(chan struct{})
		go func() {
			n.healthErr = n.Health.Run(hctx)
			close(n.healthDone)
		}()
	}
	return nil
}

// HealthStopped is closed when the health monitor stops: on a failure to
// record (Close returns it) or at Close. Nil without a monitor.
func (n *Node) HealthStopped() <-chan struct{} { return n.healthDone }

// Reload re-reads the access policy file and the server's tokens file, each
// proposed whole: a file with an error is refused and what was in force
// stays. A principal no longer in the tokens file is refused from the next
// request on. It re-reads the certificates too, the server's and the
// cluster's, for new connections; a set with an error is refused and the
// one before stays.
func (n *Node) Reload() error {
	var errs []error
	if n.policyFile != "" {
		errs = append(errs, n.Engine.ReloadPolicy())
	}
	if n.Server != nil {
		errs = append(errs, n.Server.ReloadTokens(), n.Server.ReloadTLS())
	}
	if n.Cluster != nil {
		errs = append(errs, n.Cluster.ReloadTLS())
	}
	return errors.Join(errs...)
}

// Close stops the node: the server drains (running queries get the
// shutdown grace), then the monitor and the audit log stop (queries still
// running needed the log to end), then the engine closes.
func (n *Node) Close() error {
	var errs []error
	if n.MySQL != nil {
		n.MySQL.Stop() // no new connections; queries drain with the server
	}
	if n.Server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), n.grace)
		errs = append(errs, n.Server.Shutdown(ctx))
		cancel()
	}
	if n.MySQL != nil {
		n.MySQL.Close()
	}
	if n.stopHealth != nil {
		n.stopHealth()
		<-n.healthDone
		errs = append(errs, n.healthErr)
	}
	if n.Health != nil {
		errs = append(errs, n.Health.Close())
	}
	if n.Audit != nil {
		errs = append(errs, n.Audit.Close())
	}
	if n.Engine != nil {
		errs = append(errs, n.Engine.Close())
	}
	// The machines' files close after the store stops applying to them.
	errs = append(errs, n.closeState())
	return errors.Join(errs...)
}

// ServeDemo serves the node's engine on the default addresses (and MySQL
// on DemoMySQLAddr when it is free) with a
// fresh bearer token for a "demo" principal, written to dir/tokens.toml;
// it returns the token. The node has no server of its own yet.
func (n *Node) ServeDemo(dir string) (token string, err error) {
	if n.Server != nil {
		return "", errors.New("the node already serves")
	}
	tok, err := tokens.Generate()
	if err != nil {
		return "", err
	}
	h, err := tokens.Hash(tok)
	if err != nil {
		return "", err
	}
	tokPath := filepath.Join(dir, "tokens.toml")
	body := fmt.Sprintf("# written by lienthong demo; a new token each run\n[[principals]]\nname = \"demo\"\nagency = \"demo\"\ntoken_hash = %q\n", h)
	if err := os.WriteFile(tokPath, []byte(body), 0o600); err != nil {
		return "", err
	}
	cfg := server.Default()
	cfg.TokensFile = tokPath
	cfg.LogLevel = "warn"
	srv, err := server.New(cfg, server.Options{Logger: server.NewLogger(io.Discard, "error")})
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		return "", err
	}
	srv.SetAudit(n.auditAccess)
	srv.SetEngine(n.Engine)
	n.Server, n.grace = srv, 2*time.Second
	// The MySQL port too, for a mysql client on this machine; a port in
	// use only leaves it out.
	cfg.MySQLAddr, cfg.MySQLAllowCleartextLoopback = DemoMySQLAddr, true
	if m, err := mysqlwire.Start(srv, cfg); err == nil {
		n.MySQL = m
	}
	return tok, nil
}

// DemoMySQLAddr is where the demo's server speaks the MySQL protocol.
const DemoMySQLAddr = "127.0.0.1:3307"

// sessionObserver fills in who asks for attempts the front-end sent
// without a session (the local CLI), then records them.
type sessionObserver struct {
	engine.Observer
	session engine.Session
}

func (o sessionObserver) fill(a *engine.Attempt) {
	if a.Session == (engine.Session{}) {
		a.Session = o.session
	}
}

func (o sessionObserver) Begin(ctx context.Context, a *engine.Attempt) error {
	o.fill(a)
	return o.Observer.Begin(ctx, a)
}

func (o sessionObserver) End(ctx context.Context, a *engine.Attempt) error {
	o.fill(a)
	return o.Observer.End(ctx, a)
}
