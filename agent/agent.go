// Package agent is the agency side of lienthong: `lienthong agent`, an
// Arrow Flight endpoint an agency runs next to its own database. It
// serves structured scan requests (package wire; never SQL text) from the
// central engines its agency.toml names, over mutual TLS, within the
// agency's export rules: only listed tables and columns, the agency's
// row filter ANDed into every read, allowed purposes, rate limits, row
// and key-set bounds. It renders the source SQL itself with sqlgen and
// keeps its own hash-chained request log, one record per request,
// refusals included (docs/agent.md).
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"lienthong/agent/wire"
	"lienthong/connectors"
	"lienthong/internal/certs"
)

// Options are what the embedding program decides, not the file.
type Options struct {
	// Logger receives the agent's operational log: source failures in
	// full, recovered panics, start and stop. Default: text to stderr.
	Logger *slog.Logger
	// Now is the agent's clock (replay window, log times); default
	// time.Now.
	Now func() time.Time
}

// Agent is a running agent.
type Agent struct {
	// cfg is the configuration the agent started with: what a reload
	// cannot change (listen, tls paths, source, log path, replay_window,
	// max_streams, agency) is read from it. What a reload can change is
	// in rules.
	cfg    *Config
	rules  atomic.Pointer[rules]
	certs  *certs.Holder
	conn   connectors.Connector
	log    *requestLog
	logger *slog.Logger
	now    func() time.Time
	mem    memory.Allocator
	nonces *nonceCache
	slots  chan struct{}

	// reloadMu serialises reloads, and Close with them; closed: Close
	// has begun, a reload has nothing to reload.
	reloadMu sync.Mutex
	closed   bool

	grpc     *grpc.Server
	http     *http.Server
	flightLn net.Listener
	healthLn net.Listener
	errc     chan error

	// inflight counts requests being answered, so the log closes after
	// their records.
	inflight sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

type engineState struct {
	name     string
	purposes map[string]bool
	bucket   *bucket
}

// rules are the export rules in force: a request reads them once, when
// it starts, and keeps them to its end; Reload replaces them whole.
type rules struct {
	cfg     *Config // the agency.toml they come from (exports' order, log_bodies)
	exports map[string]*export
	engines map[string]*engineState
}

// newEngines builds the engines' states from cfg; an engine of old whose
// rate and burst are unchanged keeps its bucket (a reload does not
// refill it).
func newEngines(cfg *Config, old *rules, now time.Time) map[string]*engineState {
	out := map[string]*engineState{}
	for _, e := range cfg.Engines {
		st := &engineState{name: e.Name, purposes: map[string]bool{}}
		for _, p := range e.Purposes {
			st.purposes[p] = true
		}
		if e.Rate > 0 {
			st.bucket = newBucket(e.Rate, e.Burst, now)
			if old != nil {
				if prev := old.engines[e.Name]; prev != nil && prev.bucket != nil && prev.bucket.rate == e.Rate && prev.bucket.burst == float64(e.Burst) {
					st.bucket = prev.bucket
				}
			}
		}
		out[e.Name] = st
	}
	return out
}

// Open starts an agent: it connects the source and checks the exports
// against its tables, opens the request log, and listens on the
// configured addresses (port 0 picks one: FlightAddr, HealthAddr).
func Open(ctx context.Context, cfg *Config, opt Options) (_ *Agent, err error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	holder, err := loadCerts(cfg)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, certs: holder, logger: opt.Logger, now: opt.Now, mem: memory.DefaultAllocator,
		nonces: newNonceCache(cfg.ReplayWindow.Duration), slots: make(chan struct{}, cfg.MaxStreams), errc: make(chan error, 2)}
	defer func() {
		if err != nil {
			a.shutdown()
		}
	}()
	conn, exports, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.conn = conn
	a.rules.Store(&rules{cfg: cfg, exports: exports, engines: newEngines(cfg, nil, opt.Now())})
	if a.log, err = openLog(cfg.Log.Path, cfg.Agency, cfg.Log.LogBodies); err != nil {
		return nil, err
	}
	if a.flightLn, err = net.Listen("tcp", cfg.Listen.Flight); err != nil {
		return nil, fmt.Errorf("agent: listen.flight: %w", err)
	}
	if cfg.Listen.Health != "" {
		if a.healthLn, err = net.Listen("tcp", cfg.Listen.Health); err != nil {
			return nil, fmt.Errorf("agent: listen.health: %w", err)
		}
	}
	a.grpc = grpc.NewServer(
		// Each handshake takes the certificate and client CA in force
		// (Reload re-reads them); open connections keep theirs.
		grpc.Creds(credentials.NewTLS(serverTLS(holder))),
		// A ticket is one message: bounded by the wire's limit (plus the
		// protobuf framing), before it is parsed.
		grpc.MaxRecvMsgSize(wire.MaxTicketBytes+64<<10),
		grpc.MaxConcurrentStreams(uint32(4*cfg.MaxStreams)),
		grpc.ConnectionTimeout(10*time.Second),
		grpc.ChainStreamInterceptor(a.recoverStream),
		grpc.ChainUnaryInterceptor(a.recoverUnary),
	)
	flight.RegisterFlightServiceServer(a.grpc, &service{a: a})
	go func() {
		if err := a.grpc.Serve(a.flightLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			a.errc <- fmt.Errorf("agent: flight: %w", err)
		}
	}()
	if a.healthLn != nil {
		a.http = &http.Server{Handler: a.healthHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
		go func() {
			if err := a.http.Serve(a.healthLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.errc <- fmt.Errorf("agent: health: %w", err)
			}
		}()
	}
	a.logger.Info("agent serving", "agency", cfg.Agency, "flight", a.FlightAddr(), "health", a.HealthAddr(), "source", string(cfg.Source.Kind), "exports", len(exports))
	return a, nil
}

// loadCerts reads the agent's certificate, its key and the client CA
// into a holder Reload can re-read; an error is at the line of the
// setting naming the file at fault.
func loadCerts(cfg *Config) (*certs.Holder, error) {
	h, err := certs.Load(certs.Files{Cert: cfg.TLS.CertFile, Key: cfg.TLS.KeyFile, CA: cfg.TLS.ClientCAFile,
		CertName: "tls.cert_file", KeyName: "tls.key_file", CAName: "tls.client_ca_file"})
	if err != nil {
		return nil, cfg.certErr(err)
	}
	return h, nil
}

// certErr places a certs error (which begins with the name of the file
// at fault) at that setting's line.
func (c *Config) certErr(err error) error {
	msg := err.Error()
	for _, key := range []string{"tls.cert_file", "tls.key_file", "tls.client_ca_file"} {
		if strings.HasPrefix(msg, key) {
			return c.keyErr(key, "%s", msg)
		}
	}
	return c.keyErr("tls.cert_file", "%s", msg)
}

// serverTLS is the mutual-TLS configuration: at each handshake the
// certificate and client CA in force, client certificates required and
// verified against that CA.
func serverTLS(h *certs.Holder) *tls.Config {
	return h.ServerConfig(&tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		// gRPC's credentials add h2 to the outer config only; the config a
		// handshake gets comes from this one.
		NextProtos: []string{"h2"}})
}

// FlightAddr is the Flight endpoint's host:port.
func (a *Agent) FlightAddr() string {
	if a.flightLn == nil {
		return ""
	}
	return a.flightLn.Addr().String()
}

// HealthAddr is the health endpoint's host:port, "" when off.
func (a *Agent) HealthAddr() string {
	if a.healthLn == nil {
		return ""
	}
	return a.healthLn.Addr().String()
}

// LogPath is the request log's file.
func (a *Agent) LogPath() string { return a.cfg.Log.Path }

// Err reports a listener that failed while serving.
func (a *Agent) Err() <-chan error { return a.errc }

// Close stops serving: requests in flight get 10s to finish (then they
// are cancelled, which cancels their source queries), the log is closed
// with a close record, and the source disconnected.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.reloadMu.Lock()
		a.closed = true
		a.reloadMu.Unlock()
		a.closeErr = a.shutdown()
	})
	return a.closeErr
}

func (a *Agent) shutdown() error {
	var errs []error
	if a.grpc != nil {
		done := make(chan struct{})
		go func() { a.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			a.grpc.Stop() // cancels the requests, and so their source queries
			<-done
		}
		// Stop does not wait for handlers: their records come before the
		// close record.
		waited := make(chan struct{})
		go func() { a.inflight.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			a.logger.Error("requests still running 10s after they were cancelled; closing the log without their records")
		}
	} else if a.flightLn != nil {
		a.flightLn.Close()
	}
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, a.http.Shutdown(ctx))
		cancel()
	} else if a.healthLn != nil {
		a.healthLn.Close()
	}
	if a.log != nil {
		errs = append(errs, a.log.close())
	}
	if a.conn != nil {
		errs = append(errs, a.conn.Close())
	}
	return errors.Join(errs...)
}
