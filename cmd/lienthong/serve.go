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
	"strings"
	"syscall"

	"lienthong/config"
	"lienthong/node"
	"lienthong/server"
	"lienthong/tokens"
)

// cmdServe runs a node: the HTTP API and the Flight SQL endpoint over one
// engine, until SIGTERM or SIGINT, then drains within the shutdown grace.
func cmdServe(ctx context.Context, args []string) (err error) {
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
	if *srvPath != "" {
		other, err := config.LoadTables(*srvPath, "server")
		if err != nil {
			return err
		}
		cfg.Server = other.Server
	}
	// With an [audit] table, the log records every query and the health
	// monitor probes every source into the table's health_log.
	n, err := node.Open(ctx, cfg, node.Options{Serve: true, Audit: cfg.Audit, Health: cfg.Audit, Listening: func(srv *server.Server) {
		fmt.Fprintf(os.Stderr, "lienthong serving: HTTP %s  Flight SQL %s (connecting sources...)\n", orOff(srv.HTTPURL()), orOff(srv.FlightURL()))
	}})
	if err != nil {
		return err
	}
	// Close drains the server, then stops the audit log and the engine.
	defer func() { err = errors.Join(err, n.Close()) }()
	// SIGHUP re-reads the access policy, the tokens file and the
	// certificates (server and cluster); a file with an error is refused
	// and what was in force stays.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := n.Reload(); err != nil {
				fmt.Fprintf(os.Stderr, "reload: a file with an error was NOT put in force, the one before stays: %v\n", err)
			} else {
				fmt.Fprintf(os.Stderr, "reloaded the access policy, the tokens file and the certificates (for new connections)\n")
			}
		}
	}()
	fmt.Fprintf(os.Stderr, "ready: catalog version %d\n", n.Engine.Catalog().Version)
	select {
	case <-ctx.Done():
	case err = <-n.Server.Err():
	}
	stop()
	return err
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
		h, err := tokens.Hash(strings.TrimRight(line, "\r\n"))
		if err != nil {
			return err
		}
		fmt.Println(h)
		return nil
	case "new":
		tok, err := tokens.Generate()
		if err != nil {
			return err
		}
		h, err := tokens.Hash(tok)
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
