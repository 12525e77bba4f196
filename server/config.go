package server

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"lienthong/config"
)

// Config is the [server] table of a node's lienthong.toml, decoded by
// package config with the rest of the file; this package fills its
// defaults and checks it (Validate).
type Config = config.Server

// Defaults.
const (
	DefaultHTTPAddr       = "127.0.0.1:8080"
	DefaultFlightAddr     = "127.0.0.1:8815"
	DefaultMaxConcurrent  = 8
	DefaultQueue          = 64
	DefaultQueueTimeout   = 10 * time.Second
	DefaultQueryTimeout   = 5 * time.Minute
	DefaultMaxResultRows  = 10_000_000
	DefaultMaxResultBytes = 2 << 30
	DefaultShutdownGrace  = 30 * time.Second
	DefaultAuthCacheTTL   = 5 * time.Minute
)

// Settings are the [server] settings of a node's config with their
// defaults, checked for serving; a problem names the file they came from.
func Settings(c *config.Config) (*Config, error) {
	s := c.Server
	if err := Validate(&s); err != nil {
		return nil, &config.Error{File: cmp.Or(s.Path, c.Path), Msg: err.Error()}
	}
	return &s, nil
}

// Default returns the settings of an empty [server] table.
func Default() *Config {
	c := &Config{}
	_ = Validate(c)
	return c
}

// Validate fills in defaults and checks the settings of a node that
// serves; New calls it too.
func Validate(c *Config) error {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.FlightAddr == "" {
		c.FlightAddr = DefaultFlightAddr
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.MaxConcurrent < 0 {
		return fmt.Errorf("server.max_concurrent must be positive, got %d", c.MaxConcurrent)
	}
	if c.Queue < -1 {
		return fmt.Errorf("server.queue must be -1 (no queue) or more, got %d", c.Queue)
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.QueueTimeout.Duration == 0 {
		c.QueueTimeout.Duration = DefaultQueueTimeout
	}
	if c.QueryTimeout.Duration == 0 {
		c.QueryTimeout.Duration = DefaultQueryTimeout
	}
	if c.MaxResultRows == 0 {
		c.MaxResultRows = DefaultMaxResultRows
	}
	if c.MaxResultBytes == 0 {
		c.MaxResultBytes = DefaultMaxResultBytes
	}
	if c.MaxResultRows < 0 || c.MaxResultBytes < 0 {
		return errors.New("server.max_result_rows and max_result_bytes must be positive")
	}
	if c.ShutdownGrace.Duration == 0 {
		c.ShutdownGrace.Duration = DefaultShutdownGrace
	}
	if c.AuthCacheTTL.Duration == 0 {
		c.AuthCacheTTL.Duration = DefaultAuthCacheTTL
	}
	switch strings.ToLower(c.LogLevel) {
	case "", "info", "debug", "warn", "error":
	default:
		return fmt.Errorf("server.log_level %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("server.tls_cert and server.tls_key go together: set both or neither")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		return errors.New("server.client_ca needs TLS: set tls_cert and tls_key too")
	}
	if c.RequireClientCert && c.ClientCA == "" {
		return errors.New("server.require_client_cert needs client_ca")
	}
	if c.TokensFile == "" && c.ClientCA == "" {
		return errors.New("no way to authenticate: set server.tokens_file (bearer tokens) or server.client_ca (mutual TLS); see docs/server.md")
	}
	return nil
}
