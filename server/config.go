package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"lienthong/config"
)

// Config is the [server] table of a node's lienthong.toml: where the node
// listens, how clients authenticate and what one query may use. It is read
// from the same file as the sources (package config reads the rest).
type Config struct {
	// HTTPAddr and FlightAddr are host:port to listen on; "off" disables
	// the endpoint. Defaults 127.0.0.1:8080 and 127.0.0.1:8815.
	HTTPAddr   string `toml:"http_addr"`
	FlightAddr string `toml:"flight_addr"`

	// TLSCert and TLSKey are PEM files; when set, both endpoints speak TLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// ClientCA is a PEM bundle; when set, clients may present a certificate
	// signed by it and its subject CN names their principal (mutual TLS).
	ClientCA string `toml:"client_ca"`
	// RequireClientCert refuses TLS connections without a client
	// certificate (default: a certificate or a bearer token will do).
	RequireClientCert bool `toml:"require_client_cert"`
	// TokensFile lists principals with argon2id hashes of their bearer
	// tokens ([[principals]] name, agency, token_hash, cert_cn).
	TokensFile string `toml:"tokens_file"`
	// AuthCacheTTL is how long a verified token is remembered, so argon2
	// is paid once per token and period, not per request. Default 5m.
	AuthCacheTTL config.Duration `toml:"auth_cache_ttl"`

	// MaxConcurrent queries run at once; Queue more may wait up to
	// QueueTimeout for a slot (-1: none may wait); beyond that a query is
	// refused as busy.
	MaxConcurrent int             `toml:"max_concurrent"`
	Queue         int             `toml:"queue"`
	QueueTimeout  config.Duration `toml:"queue_timeout"`
	// QueryTimeout bounds one query from admission to its last row sent.
	QueryTimeout config.Duration `toml:"query_timeout"`
	// MaxResultRows and MaxResultBytes (Arrow in-memory size) stop a query
	// with LT-RESULT-LIMIT when its result grows past them; 0 is no limit.
	MaxResultRows  int64 `toml:"max_result_rows"`
	MaxResultBytes Size  `toml:"max_result_bytes"`

	// DuckDBMemoryLimit (e.g. "4GB") and DuckDBTempDirectory configure the
	// residual DuckDB (where it spills).
	DuckDBMemoryLimit   string `toml:"duckdb_memory_limit"`
	DuckDBTempDirectory string `toml:"duckdb_temp_directory"`

	// ShutdownGrace is how long SIGTERM waits for running queries before
	// cancelling them. Default 30s.
	ShutdownGrace config.Duration `toml:"shutdown_grace"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `toml:"log_level"`

	// Path is the file the settings came from (not read from TOML).
	Path string `toml:"-"`
}

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

// Size is a byte count written as an integer or a string with a unit
// ("512MiB", "2GB", "1048576").
type Size int64

func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("want a non-negative size, got %d", x)
		}
		*s = Size(x)
		return nil
	case string:
		n, err := ParseSize(x)
		if err != nil {
			return err
		}
		*s = Size(n)
		return nil
	}
	return fmt.Errorf("want a size such as \"512MiB\" or a number of bytes, got %v", v)
}

// ParseSize reads "123", "64KB", "512MiB", "2GiB", "1.5GB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mul    float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mul := 1.0
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			mul = u.mul
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("want a size such as \"512MiB\", \"2GB\" or a number of bytes, got %q", s)
	}
	return int64(f * mul), nil
}

// Load reads the [server] table of path (other tables are package config's).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads the [server] table of a config given as bytes; path names it
// in errors and anchors relative paths.
func Parse(path string, data []byte) (*Config, error) {
	var file struct {
		Server Config `toml:"server"`
	}
	md, err := toml.Decode(string(data), &file)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &config.Error{File: path, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &config.Error{File: path, Msg: err.Error()}
	}
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "server" {
			return nil, &config.Error{File: path, Line: keyLine(data, k[len(k)-1]), Msg: fmt.Sprintf("unknown setting %q; see docs/server.md", k.String())}
		}
	}
	c := file.Server
	c.Path = path
	// Relative paths are relative to the config file's directory.
	dir := filepath.Dir(path)
	for _, p := range []*string{&c.TLSCert, &c.TLSKey, &c.ClientCA, &c.TokensFile, &c.DuckDBTempDirectory} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, &config.Error{File: path, Msg: err.Error()}
	}
	return &c, nil
}

// Default returns the settings of an empty [server] table.
func Default() *Config {
	c := &Config{}
	_ = c.Validate()
	return c
}

// Validate fills in defaults and checks the settings; New calls it too.
func (c *Config) Validate() error {
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

// keyLine finds the first line setting key.
func keyLine(data []byte, key string) int {
	for ln, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, key) && strings.Contains(t, "=") {
			return ln + 1
		}
	}
	return 0
}
