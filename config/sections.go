package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Server is the [server] table: where a node listens, how clients
// authenticate and what one query may use (docs/server.md). Zero fields
// are unset: package server fills its defaults and checks the whole
// (server.Validate) when a node serves; the CLI reads the result limits
// as they are written (unset: the CLI's own terminal defaults).
type Server struct {
	// HTTPAddr and FlightAddr are host:port to listen on; "off" disables
	// the endpoint. Defaults 127.0.0.1:8080 and 127.0.0.1:8815.
	HTTPAddr   string `toml:"http_addr"`
	FlightAddr string `toml:"flight_addr"`
	// MySQLAddr is host:port of the MySQL wire protocol front-end
	// (package server/mysqlwire); "" or "off" (the default) disables it.
	MySQLAddr string `toml:"mysql_addr"`
	// MySQLAllowCleartextLoopback lets MySQL clients on loopback send
	// their token as a cleartext password without TLS; off, cleartext
	// passwords are only taken over TLS.
	MySQLAllowCleartextLoopback bool `toml:"mysql_allow_cleartext_loopback"`

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
	AuthCacheTTL Duration `toml:"auth_cache_ttl"`

	// MaxConcurrent queries run at once; Queue more may wait up to
	// QueueTimeout for a slot (-1: none may wait); beyond that a query is
	// refused as busy.
	MaxConcurrent int      `toml:"max_concurrent"`
	Queue         int      `toml:"queue"`
	QueueTimeout  Duration `toml:"queue_timeout"`
	// QueryTimeout bounds one query from admission to its last row sent.
	QueryTimeout Duration `toml:"query_timeout"`
	// MaxResultRows and MaxResultBytes (Arrow in-memory size) stop a query
	// with LT-RESULT-LIMIT when its result grows past them.
	MaxResultRows  int64 `toml:"max_result_rows"`
	MaxResultBytes Size  `toml:"max_result_bytes"`

	// DuckDBMemoryLimit (e.g. "4GB") and DuckDBTempDirectory configure the
	// residual DuckDB (where it spills) of a serving node, over the
	// top-level settings of the same names.
	DuckDBMemoryLimit   string `toml:"duckdb_memory_limit"`
	DuckDBTempDirectory string `toml:"duckdb_temp_directory"`

	// ShutdownGrace is how long SIGTERM waits for running queries before
	// cancelling them. Default 30s.
	ShutdownGrace Duration `toml:"shutdown_grace"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `toml:"log_level"`

	// Path is the file the settings came from (not read from TOML).
	Path string `toml:"-"`
}

// Audit is the [audit] table (docs/audit.md):
//
//	[audit]
//	log            = "/var/lib/lienthong/audit.log"   # required
//	key_file       = "/etc/lienthong/audit.key"       # default: $LIENTHONG_AUDIT_KEY
//	node_id        = "hn-node-1"                      # default: the hostname
//	probe_interval = "30s"                            # connection health probes
//	health_log     = "..."                            # default: log + ".health"
type Audit struct {
	Log           string   `toml:"log"`
	KeyFile       string   `toml:"key_file"`
	NodeID        string   `toml:"node_id"`
	ProbeInterval Duration `toml:"probe_interval"`
	HealthLog     string   `toml:"health_log"`
	// Path is the file the table came from (not read from TOML).
	Path string `toml:"-"`
}

// DefaultProbeInterval applies when probe_interval is not set.
const DefaultProbeInterval = 30 * time.Second

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

// resolveSections anchors the [server] and [audit] tables' paths at the
// config file's directory and checks what can be checked without knowing
// whether the node will serve (server.Validate does the rest).
func (c *Config) resolveSections(data []byte) error {
	dir := filepath.Dir(c.Path)
	abs := func(ps ...*string) {
		for _, p := range ps {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
	}
	s := &c.Server
	s.Path = c.Path
	abs(&s.TLSCert, &s.TLSKey, &s.ClientCA, &s.TokensFile, &s.DuckDBTempDirectory)
	a := c.Audit
	if a == nil {
		return nil
	}
	a.Path = c.Path
	if a.Log == "" {
		return &Error{File: c.Path, Line: TableLine(data, "[audit]", 0, ""), Msg: "[audit] needs log = \"FILE\" (where the audit log is written)"}
	}
	abs(&a.Log, &a.KeyFile, &a.HealthLog)
	if a.HealthLog == "" {
		a.HealthLog = a.Log + ".health" // chain.HealthPath's convention (its test in package audit checks they agree)
	}
	switch d := a.ProbeInterval.Duration; {
	case d == 0:
		a.ProbeInterval.Duration = DefaultProbeInterval
	case d < time.Second:
		return &Error{File: c.Path, Line: KeyLine(data, "audit.probe_interval"), Msg: fmt.Sprintf("audit.probe_interval %v is too short (at least 1s)", d)}
	}
	return nil
}
