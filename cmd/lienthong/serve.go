package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lienthong/config"
	"lienthong/engine"
	"lienthong/server"
)

// cmdServe runs a node: the HTTP API and the Flight SQL endpoint over one
// engine, until SIGTERM or SIGINT, then drains within the shutdown grace.
func cmdServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	cfgPath := fs.String("config", "", "node config (lienthong.toml: [[sources]] and [server])")
	srvPath := fs.String("server-config", "", "read the [server] table from this file instead of --config")
	fs.Parse(args)
	if *cfgPath == "" {
		return errors.New("--config is required (a lienthong.toml naming the sources and the [server] settings; see docs/server.md)")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	sp := *cfgPath
	if *srvPath != "" {
		sp = *srvPath
	}
	scfg, err := server.Load(sp)
	if err != nil {
		return err
	}
	srv, err := server.New(scfg, server.Options{})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lienthong serving: HTTP %s  Flight SQL %s (connecting sources...)\n", orOff(srv.HTTPURL()), orOff(srv.FlightURL()))
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		shutdown(srv, scfg)
		return err
	}
	defer eng.Close()
	// The audit log observes the engine before any query can reach it.
	stopAudit, err := startNodeAudit(ctx, *cfgPath, cfg, eng)
	if err != nil {
		shutdown(srv, scfg)
		return err
	}
	srv.SetEngine(eng)
	if cfg.Policy != "" {
		// SIGHUP re-reads the access policy; a file with an error is refused
		// and the policy in force stays.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				if err := eng.ReloadPolicy(); err != nil {
					fmt.Fprintf(os.Stderr, "access policy NOT reloaded, the previous one stays in force: %v\n", err)
				} else {
					fmt.Fprintf(os.Stderr, "access policy reloaded from %s\n", cfg.Policy)
				}
			}
		}()
	}
	fmt.Fprintf(os.Stderr, "ready: catalog version %d\n", eng.Catalog().Version)
	select {
	case <-ctx.Done():
	case err = <-srv.Err():
	}
	stop()
	if serr := shutdown(srv, scfg); serr != nil && err == nil {
		err = serr
	}
	// After the drain: queries still running needed the log to end.
	if aerr := stopAudit(); aerr != nil && err == nil {
		err = aerr
	}
	return err
}

func shutdown(srv *server.Server, scfg *server.Config) error {
	gctx, cancel := context.WithTimeout(context.Background(), scfg.ShutdownGrace.Duration)
	defer cancel()
	return srv.Shutdown(gctx)
}

func orOff(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

// cmdToken hashes a bearer token for the tokens file, or makes a new one.
func cmdToken(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: lienthong token hash (token on stdin) | lienthong token new")
	}
	switch args[0] {
	case "hash":
		if isTerminal(os.Stdin) {
			fmt.Fprint(os.Stderr, "token: ")
		}
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		h, err := server.HashToken(strings.TrimRight(line, "\r\n"))
		if err != nil {
			return err
		}
		fmt.Println(h)
		return nil
	case "new":
		tok, err := server.NewToken()
		if err != nil {
			return err
		}
		h, err := server.HashToken(tok)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "token (give it to the client; it is not stored anywhere):\n")
		fmt.Printf("%s\n", tok)
		fmt.Fprintf(os.Stderr, "for the tokens file:\n")
		fmt.Printf("token_hash = %q\n", h)
		return nil
	}
	return fmt.Errorf("unknown token command %q: hash or new", args[0])
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// demoServer starts a server beside the demo shell on the default
// addresses, with a fresh token for a "demo" principal. It returns a stop
// function; on failure (a port in use) it says so and returns nil.
func demoServer(dir string, eng *engine.Engine) func() {
	tok, err := server.NewToken()
	if err != nil {
		return nil
	}
	h, err := server.HashToken(tok)
	if err != nil {
		return nil
	}
	tokPath := filepath.Join(dir, "tokens.toml")
	body := fmt.Sprintf("# written by lienthong demo; a new token each run\n[[principals]]\nname = \"demo\"\nagency = \"demo\"\ntoken_hash = %q\n", h)
	if err := os.WriteFile(tokPath, []byte(body), 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "demo: not starting the server: %v\n", err)
		return nil
	}
	cfg := server.Default()
	cfg.TokensFile = tokPath
	cfg.LogLevel = "warn"
	srv, err := server.New(cfg, server.Options{Logger: server.NewLogger(io.Discard, "error")})
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: not starting the server: %v\n", err)
		return nil
	}
	srv.SetEngine(eng)
	fmt.Printf("Server: HTTP %s  Flight SQL %s  token %s\n", srv.HTTPURL(), srv.FlightURL(), tok)
	fmt.Printf("  curl -H 'Authorization: Bearer %s' -d 'SELECT COUNT(*) FROM dancu.citizens' %s/v1/query\n", tok, srv.HTTPURL())
	return func() { _ = shutdownCtx(srv) }
}

func shutdownCtx(srv *server.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}
