// Package config reads lienthong.toml: the sources a node connects to and
// the node's settings, its [server] and [audit] tables included, decoded
// once into one Config that the other packages receive (each its part). A
// malformed file is refused as a whole with file, line and what was
// expected. A leaf: it imports no package that could import it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"lienthong/catalog"
	"lienthong/planner/sqlgen"
)

// Source is one [[sources]] entry.
type Source struct {
	Name string       `toml:"name" json:"name"`
	Kind catalog.Kind `toml:"kind" json:"kind"`
	// DSN for postgres and mysql; DSNEnv names an environment variable that
	// holds it, so secrets stay out of files.
	DSN    string `toml:"dsn,omitempty" json:"dsn,omitempty"`
	DSNEnv string `toml:"dsn_env,omitempty" json:"dsn_env,omitempty"`
	// Path for sqlite and duckdb (a file) and parquet and csv (a glob, one
	// table per file, named after the file). Relative to the config file.
	Path string `toml:"path,omitempty" json:"path,omitempty"`
	// Address is an agent's Flight address (host:port) for kind agent,
	// reached over mutual TLS: CAFile verifies the agent, CertFile and
	// KeyFile are this node's client certificate (the engine identity the
	// agency's export rules name), ServerName the name the agent's
	// certificate carries (default: the address's host). Paths are
	// relative to the config file.
	Address    string `toml:"address,omitempty" json:"address,omitempty"`
	CAFile     string `toml:"ca_file,omitempty" json:"ca_file,omitempty"`
	CertFile   string `toml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile    string `toml:"key_file,omitempty" json:"key_file,omitempty"`
	ServerName string `toml:"server_name,omitempty" json:"server_name,omitempty"`
	// Partitions splits an agent's full scans of a citizen-linked table
	// into this many PIN ranges read in parallel (default 1: one stream).
	Partitions int                    `toml:"partitions,omitzero" json:"partitions,omitempty"`
	Schema     string                 `toml:"schema,omitempty" json:"schema,omitempty"`         // postgres only; default public
	PINColumn  string                 `toml:"pin_column,omitempty" json:"pin_column,omitempty"` // default "pin"
	Tables     map[string]TableConfig `toml:"tables,omitempty" json:"tables,omitempty"`
	// ConnectTimeout bounds connecting and logging in; default 5s.
	ConnectTimeout Duration `toml:"connect_timeout,omitempty" json:"connect_timeout,omitzero"`
	// ReadTimeout bounds each wait for the source's next bytes on a network
	// source (postgres, mysql): a server that accepts and then goes silent
	// fails within it; default 60s.
	ReadTimeout Duration `toml:"read_timeout,omitempty" json:"read_timeout,omitzero"`
	// StatementTimeout bounds one source statement from start to last row,
	// on every kind (the engine cancels it); default 5m.
	StatementTimeout Duration `toml:"statement_timeout,omitempty" json:"statement_timeout,omitzero"`
	// MaxConcurrent statements may run on the source at once; others wait
	// up to QueueTimeout, then fail naming the source. Default 4 and 2s.
	MaxConcurrent int      `toml:"max_concurrent,omitzero" json:"max_concurrent,omitempty"`
	QueueTimeout  Duration `toml:"queue_timeout,omitempty" json:"queue_timeout,omitzero"`
	// After BreakerFailures consecutive failures to connect or answer in
	// time, queries fail at once for BreakerCooldown, then one probe is let
	// through. Default 3 and 30s.
	BreakerFailures int      `toml:"breaker_failures,omitzero" json:"breaker_failures,omitempty"`
	BreakerCooldown Duration `toml:"breaker_cooldown,omitempty" json:"breaker_cooldown,omitzero"`
	// MemoryLimit bounds the DuckDB that runs a duckdb, parquet or csv
	// source's statements (DuckDB's memory_limit, e.g. "2GB"); default
	// the node's duckdb_memory_limit.
	MemoryLimit string `toml:"memory_limit,omitempty" json:"memory_limit,omitempty"`
	// SpillDirectory is where that DuckDB spills; the engine sets it
	// (inside its own spill directory), never the file.
	SpillDirectory string `toml:"-" json:"-"`
}

// TableConfig overrides per-table settings.
type TableConfig struct {
	PINColumn string `toml:"pin_column,omitempty" json:"pin_column,omitempty"`
	// Sensitive lists columns holding special categories of personal data.
	Sensitive []string `toml:"sensitive,omitempty" json:"sensitive,omitempty"`
}

// Config is a whole lienthong.toml.
type Config struct {
	// Sources are the [[sources]] entries completed on this node (dsn_env
	// read, paths absolute, defaults filled); SourceDefs the same as
	// written, which is what a cluster replicates (each node completes
	// them itself).
	Sources    []Source `toml:"sources"`
	SourceDefs []Source `toml:"-"`
	// TimeZone is the zone NOW() and CURDATE() are evaluated in; default UTC.
	TimeZone string `toml:"time_zone"`
	// Policy is the access policy file (docs/security.md). Without one the
	// node trusts its local user: every table is readable.
	Policy string `toml:"policy"`
	// PrivacyLedger is the file that keeps each principal's spent privacy
	// budget (aggregate-only tables); default privacy-ledger.json beside
	// the policy file.
	PrivacyLedger string `toml:"privacy_ledger"`
	// Limits bound the size of statements the planner accepts.
	Limits Limits `toml:"limits"`
	// DuckDBMemoryLimit caps the residual DuckDB's memory (e.g. "4GB");
	// default 25% of the machine's RAM. DuckDBTempDirectory is where a
	// per-process spill directory is made (removed when the engine
	// closes); default the system's temporary directory.
	DuckDBMemoryLimit   string `toml:"duckdb_memory_limit"`
	DuckDBTempDirectory string `toml:"duckdb_temp_directory"`
	// Server is the [server] table (package server); Audit the [audit]
	// table (package audit), nil when the file has none.
	Server Server `toml:"server"`
	Audit  *Audit `toml:"audit"`
	// Cluster is the [cluster] table; nil: the node is on its own.
	Cluster *Cluster `toml:"cluster"`
	// Path of the file the config came from (not read from TOML).
	Path string `toml:"-"`
}

// Limits is the [limits] table; zero fields take the planner's defaults
// (docs/configuration.md).
type Limits struct {
	MaxExpressionDepth int `toml:"max_expression_depth"`
	MaxInList          int `toml:"max_in_list"`
	MaxExpressions     int `toml:"max_expressions"`
	MaxTables          int `toml:"max_tables"`
}

// Duration is a TOML string such as "5s".
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"5s\" or \"500ms\": %w", err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes d as UnmarshalText reads it, so a source's settings
// travel (the cluster's replicated sources) and print as they are written.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Defaults of a source's resource settings.
const (
	DefaultConnectTimeout   = 5 * time.Second
	DefaultReadTimeout      = 60 * time.Second
	DefaultStatementTimeout = 5 * time.Minute
	DefaultSourceConcurrent = 4
	DefaultSourceQueue      = 2 * time.Second
	DefaultBreakerFailures  = 3
	DefaultBreakerCooldown  = 30 * time.Second
)

// Error is a problem with the config file, with its position when known.
type Error struct {
	File string
	Line int // 0 when the problem is not at one line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and checks a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse checks a config given as bytes; path names it in errors and anchors
// relative paths.
func Parse(path string, data []byte) (*Config, error) {
	c, err := decode(path, data, nil)
	if err != nil {
		return nil, err
	}
	if err := c.checkSources(data); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadTables reads a file's settings without checking its sources: for a
// command that needs only a table of it (report's [audit], serve
// --server-config's [server]), so that a source's dsn_env need not be set
// where the command runs. Unknown settings are still errors; with only,
// just those under these top-level names are.
func LoadTables(path string, only ...string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return decode(path, data, only)
}

// docFor is the doc that lists a table's settings, for unknown ones.
var docFor = map[string]string{"server": "docs/server.md", "audit": "docs/audit.md", "cluster": "docs/cluster.md"}

// decode decodes the whole file and checks everything but the sources.
func decode(path string, data []byte, only []string) (*Config, error) {
	var c Config
	// [sources] (one table) instead of [[sources]] (an array of tables) is
	// the commonest slip; the TOML library would say "incompatible types".
	for ln, l := range strings.Split(string(data), "\n") {
		if stripComment(l) == "[sources]" {
			return nil, &Error{File: path, Line: ln + 1, Msg: "use [[sources]] (an array of tables), not [sources]"}
		}
	}
	md, err := DecodeTOML(path, data, &c)
	if err != nil {
		return nil, err
	}
	for _, key := range md.Undecoded() {
		if len(only) > 0 && !slices.Contains(only, key[0]) {
			continue
		}
		doc, ok := docFor[key[0]]
		if !ok {
			doc = "docs/configuration.md"
		}
		return nil, &Error{File: path, Line: KeyLine(data, key.String()), Msg: fmt.Sprintf("unknown setting %q; see %s", key.String(), doc)}
	}
	c.Path = path
	for _, l := range []struct {
		name string
		v    int
	}{{"max_expression_depth", c.Limits.MaxExpressionDepth}, {"max_in_list", c.Limits.MaxInList}, {"max_expressions", c.Limits.MaxExpressions}, {"max_tables", c.Limits.MaxTables}} {
		if l.v < 0 {
			return nil, &Error{File: path, Line: KeyLine(data, l.name), Msg: fmt.Sprintf("limits.%s must be positive", l.name)}
		}
	}
	if c.TimeZone == "" {
		c.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		return nil, &Error{File: path, Line: KeyLine(data, "time_zone"), Msg: fmt.Sprintf("time_zone %q is not a known zone (want e.g. \"Asia/Ho_Chi_Minh\" or \"UTC\")", c.TimeZone)}
	}
	if c.Policy != "" && !filepath.IsAbs(c.Policy) {
		c.Policy = filepath.Join(filepath.Dir(path), c.Policy)
	}
	if c.PrivacyLedger == "" && c.Policy != "" {
		c.PrivacyLedger = filepath.Join(filepath.Dir(c.Policy), "privacy-ledger.json")
	} else if c.PrivacyLedger != "" && !filepath.IsAbs(c.PrivacyLedger) {
		c.PrivacyLedger = filepath.Join(filepath.Dir(path), c.PrivacyLedger)
	}
	if err := c.resolveSections(data); err != nil {
		return nil, err
	}
	if err := c.resolveCluster(data); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkSources checks and completes the [[sources]] entries, keeping them
// as written in SourceDefs. A cluster node may have none: it connects to
// the cluster's sources.
func (c *Config) checkSources(data []byte) error {
	path := c.Path
	if len(c.Sources) == 0 && c.Cluster == nil {
		return &Error{File: path, Msg: "no [[sources]]: name at least one database to connect"}
	}
	seen := map[string]bool{}
	dir := filepath.Dir(path)
	c.SourceDefs = make([]Source, 0, len(c.Sources))
	for i := range c.Sources {
		s := &c.Sources[i]
		// at reports a problem at the line that sets key in this source's
		// table (its [[sources]] header when key is not set).
		at := func(key, msg string) error {
			return &Error{File: path, Line: TableLine(data, "[[sources]]", i, key), Msg: fmt.Sprintf("source %d (%q): %s", i+1, s.Name, msg)}
		}
		if key, msg := s.check(); msg != "" {
			return at(key, msg)
		}
		if seen[strings.ToLower(s.Name)] {
			return at("name", "duplicate source name")
		}
		seen[strings.ToLower(s.Name)] = true
		if c.Cluster != nil {
			// The cluster replicates its sources' settings (docs/cluster.md).
			if key, msg := s.checkReplicable(); msg != "" {
				return at(key, msg)
			}
		}
		c.SourceDefs = append(c.SourceDefs, *s)
		if key, msg := s.resolve(dir); msg != "" {
			return at(key, msg)
		}
	}
	return nil
}

// check says what is wrong with a source's settings as written, and at
// which key, without looking at this machine (environment, files): the
// same answer on every node, so a cluster's sources machine can use it.
func (s *Source) check() (key, msg string) {
	if s.Name == "" {
		return "", "missing name"
	}
	if !validName(s.Name) {
		return "name", fmt.Sprintf("name must be letters, digits and _ (SQL names tables %s.<table>)", s.Name)
	}
	if strings.EqualFold(s.Name, catalog.InformationSchema) || s.Kind == catalog.CatalogViews {
		return "name", "information_schema is the SQL catalog views every principal may read; give the source another name and kind"
	}
	if _, err := sqlgen.DialectOf(s.Kind); err != nil {
		// The kinds registered by the connectors compiled in.
		var ks []string
		for _, k := range sqlgen.Kinds() {
			ks = append(ks, string(k))
		}
		return "kind", fmt.Sprintf("kind %q is not one of %s", s.Kind, strings.Join(ks, ", "))
	}
	if s.Kind != catalog.Agent {
		for _, f := range []struct {
			key string
			set bool
		}{{"address", s.Address != ""}, {"ca_file", s.CAFile != ""}, {"cert_file", s.CertFile != ""}, {"key_file", s.KeyFile != ""}, {"server_name", s.ServerName != ""}, {"partitions", s.Partitions != 0}} {
			if f.set {
				return f.key, fmt.Sprintf("%s applies to kind agent only (an agency's agent, docs/agent.md), not %s", f.key, s.Kind)
			}
		}
	}
	switch s.Kind {
	case catalog.Postgres, catalog.MySQL:
		if s.DSN == "" && s.DSNEnv == "" {
			return "", fmt.Sprintf("kind %s needs dsn (or dsn_env)", s.Kind)
		}
	case catalog.Agent:
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			return "address", "kind agent needs address = \"host:port\" of the agency's agent"
		}
		for _, f := range []struct{ key, v string }{{"ca_file", s.CAFile}, {"cert_file", s.CertFile}, {"key_file", s.KeyFile}} {
			if f.v == "" {
				return "kind", fmt.Sprintf("kind agent needs %s (mutual TLS with the agency's agent; docs/agent.md)", f.key)
			}
		}
		if s.Partitions < 0 || s.Partitions > 64 {
			return "partitions", "partitions must be between 1 and 64"
		}
	default:
		if s.Path == "" {
			return "kind", fmt.Sprintf("kind %s needs path", s.Kind)
		}
	}
	c := *s
	if err := c.applyDefaults(); err != nil {
		return "", err.Error()
	}
	return "", ""
}

// checkReplicable refuses what must not be written to a cluster's log: a
// dsn that carries a password (every node's log would keep it).
func (s *Source) checkReplicable() (key, msg string) {
	if s.DSN != "" && dsnHasPassword(s.Kind, s.DSN) {
		return "dsn", "the dsn carries a password, and a cluster writes its sources' settings to every node's log: put the dsn in an environment variable on every node and name it with dsn_env"
	}
	return "", ""
}

// resolve completes a checked source on this node: dsn_env read from the
// environment, paths made absolute against dir (the config file's
// directory) and the agent's files found, and the defaults filled.
func (s *Source) resolve(dir string) (key, msg string) {
	switch s.Kind {
	case catalog.Postgres, catalog.MySQL:
		dsnKey := "dsn"
		if s.DSNEnv != "" {
			dsnKey = "dsn_env"
			v, ok := os.LookupEnv(s.DSNEnv)
			if !ok {
				return "dsn_env", fmt.Sprintf("dsn_env names %s, which is not set", s.DSNEnv)
			}
			s.DSN = v
		}
		if msg := checkDSN(s.Kind, s.DSN); msg != "" {
			if dsnKey == "dsn_env" {
				return dsnKey, "the dsn in $" + s.DSNEnv + " " + msg
			}
			return dsnKey, "dsn " + msg
		}
	case catalog.Agent:
		for _, f := range []struct {
			key string
			v   *string
		}{{"ca_file", &s.CAFile}, {"cert_file", &s.CertFile}, {"key_file", &s.KeyFile}} {
			if !filepath.IsAbs(*f.v) {
				*f.v = filepath.Join(dir, *f.v)
			}
			if _, err := os.Stat(*f.v); err != nil {
				return f.key, fmt.Sprintf("%s %s cannot be read: %v", f.key, *f.v, errors.Unwrap(err))
			}
		}
	default:
		if !filepath.IsAbs(s.Path) {
			s.Path = filepath.Join(dir, s.Path)
		}
	}
	if s.Schema == "" && s.Kind == catalog.Postgres {
		s.Schema = "public"
	}
	if s.PINColumn == "" {
		s.PINColumn = "pin"
	}
	if err := s.applyDefaults(); err != nil {
		return "", err.Error()
	}
	return "", ""
}

// CheckSource is what the sources machine asks of each source it is
// given: its settings as written are valid. (Whether they may be
// replicated is for whoever proposes them: a cluster node's config,
// ParseSources.)
func CheckSource(s Source) error {
	key, msg := s.check()
	if msg == "" {
		return nil
	}
	if key != "" {
		return fmt.Errorf("source %q: %s: %s", s.Name, key, msg)
	}
	return fmt.Errorf("source %q: %s", s.Name, msg)
}

// Resolve is s completed on this node (dsn_env read, relative paths
// taken from dir, defaults filled), or what stops it.
func (s Source) Resolve(dir string) (Source, error) {
	key, msg := s.check()
	if msg == "" {
		key, msg = s.resolve(dir)
	}
	if msg == "" {
		return s, nil
	}
	if key != "" {
		return s, fmt.Errorf("source %q: %s: %s", s.Name, key, msg)
	}
	return s, fmt.Errorf("source %q: %s", s.Name, msg)
}

// ParseSources reads a sources file, one or more [[sources]] tables and
// nothing else, for the cluster's sources API: each source checked as
// written and replicable (no password in a dsn), errors at their line.
// Nothing is resolved: each node does that itself.
func ParseSources(path string, data []byte) ([]Source, error) {
	var f struct {
		Sources []Source `toml:"sources"`
	}
	for ln, l := range strings.Split(string(data), "\n") {
		if stripComment(l) == "[sources]" {
			return nil, &Error{File: path, Line: ln + 1, Msg: "use [[sources]] (an array of tables), not [sources]"}
		}
	}
	md, err := DecodeTOML(path, data, &f)
	if err != nil {
		return nil, err
	}
	if u := md.Undecoded(); len(u) > 0 {
		line := KeyLine(data, u[0].String())
		for i, l := range strings.Split(string(data), "\n") {
			if h := stripComment(l); line == 0 && (h == "["+u[0].String()+"]" || h == "[["+u[0].String()+"]]") {
				line = i + 1 // a table of its own
			}
		}
		return nil, &Error{File: path, Line: line, Msg: fmt.Sprintf("unknown setting %q: a sources file holds [[sources]] tables only (their settings: docs/configuration.md)", u[0].String())}
	}
	if len(f.Sources) == 0 {
		return nil, &Error{File: path, Msg: "no [[sources]] table in the file"}
	}
	seen := map[string]bool{}
	for i := range f.Sources {
		s := &f.Sources[i]
		key, msg := s.check()
		if msg == "" && seen[strings.ToLower(s.Name)] {
			key, msg = "name", "duplicate source name"
		}
		if msg == "" {
			key, msg = s.checkReplicable()
		}
		if msg != "" {
			return nil, &Error{File: path, Line: TableLine(data, "[[sources]]", i, key), Msg: fmt.Sprintf("source %d (%q): %s", i+1, s.Name, msg)}
		}
		seen[strings.ToLower(s.Name)] = true
	}
	return f.Sources, nil
}

// dsnHasPassword reports whether a postgres or mysql DSN as written holds
// a password: a URL's user:password, or a password= or sslpassword=
// setting anywhere (a key=value DSN however it is spaced or quoted, a
// URL's query); conservative, so a name that merely contains
// "password=" is refused too. It reads no environment or file (pgconn
// would).
func dsnHasPassword(kind catalog.Kind, dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		if _, set := u.User.Password(); set {
			return true
		}
	}
	if kind == catalog.MySQL {
		if cfg, err := mysqldrv.ParseDSN(dsn); err == nil && cfg.Passwd != "" {
			return true
		}
	}
	unescaped, err := url.QueryUnescape(dsn)
	if err != nil {
		unescaped = dsn
	}
	return passwordKey.MatchString(dsn) || passwordKey.MatchString(unescaped)
}

// passwordKey finds a password setting in a DSN.
var passwordKey = regexp.MustCompile(`(?i)password[\s\v]*=`)

// applyDefaults fills unset resource settings and refuses negative ones.
func (s *Source) applyDefaults() error {
	for _, d := range []struct {
		name string
		v    *Duration
		def  time.Duration
	}{{"connect_timeout", &s.ConnectTimeout, DefaultConnectTimeout}, {"read_timeout", &s.ReadTimeout, DefaultReadTimeout},
		{"statement_timeout", &s.StatementTimeout, DefaultStatementTimeout}, {"queue_timeout", &s.QueueTimeout, DefaultSourceQueue},
		{"breaker_cooldown", &s.BreakerCooldown, DefaultBreakerCooldown}} {
		if d.v.Duration < 0 {
			return fmt.Errorf("%s must not be negative", d.name)
		}
		if d.v.Duration == 0 {
			d.v.Duration = d.def
		}
	}
	if s.MaxConcurrent < 0 || s.BreakerFailures < 0 {
		return errors.New("max_concurrent and breaker_failures must not be negative")
	}
	if s.MaxConcurrent == 0 {
		s.MaxConcurrent = DefaultSourceConcurrent
	}
	if s.BreakerFailures == 0 {
		s.BreakerFailures = DefaultBreakerFailures
	}
	return nil
}

// WithDefaults returns s with unset resource settings filled (for sources
// built in code rather than read from a file).
func (s Source) WithDefaults() Source {
	_ = s.applyDefaults()
	return s
}

func validName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// tomlLine finds the line in a TOML library error that is not a ParseError
// (a type mismatch such as a number where a string belongs), and its key.
var tomlLine = regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?:`)

// DecodeTOML decodes a TOML file's text into v (path names it in errors)
// and turns the library's errors into an *Error at their line, naming the
// key a value of the wrong form was given for: every lienthong file
// (the node's config, tokens, agency.toml) reports them alike.
func DecodeTOML(path string, data []byte, v any) (toml.MetaData, error) {
	md, err := toml.Decode(string(data), v)
	if err == nil {
		return md, nil
	}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" && !strings.HasPrefix(msg, "expected") {
			msg = pe.LastKey + ": " + msg
		}
		return md, &Error{File: path, Line: pe.Position.Line, Msg: msg}
	}
	msg, line := err.Error(), 0
	if m := tomlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(msg[len(m[0]):])
		if m[2] != "" {
			msg = m[2] + ": " + msg
		}
	}
	return md, &Error{File: path, Line: line, Msg: msg}
}

// checkDSN says what is wrong with a postgres or mysql DSN, or "". It never
// repeats the DSN, which may hold a password.
func checkDSN(kind catalog.Kind, dsn string) string {
	switch kind {
	case catalog.Postgres:
		if _, err := pgconn.ParseConfig(dsn); err != nil {
			return "is malformed (want postgres://user:pass@host:port/db or key=value pairs such as \"host=... dbname=...\"; percent-encode special characters in a URL)"
		}
	case catalog.MySQL:
		if strings.HasPrefix(dsn, "mysql://") {
			// The connector accepts this URL form and passes its query
			// parameters through the driver's parser.
			u, err := url.Parse(dsn)
			if err == nil {
				_, err = mysqldrv.ParseDSN("tcp(127.0.0.1:3306)/x?" + u.RawQuery)
			}
			if err != nil {
				return "is malformed (want mysql://user:pass@host:port/db; percent-encode special characters)"
			}
			if strings.TrimPrefix(u.Path, "/") == "" {
				return "names no database (want mysql://user:pass@host:port/db)"
			}
			return ""
		}
		cfg, err := mysqldrv.ParseDSN(dsn)
		if err != nil {
			return "is malformed (want user:pass@tcp(host:port)/db?param=value or mysql://user:pass@host:port/db)"
		}
		if cfg.DBName == "" {
			return "names no database (want user:pass@tcp(host:port)/db)"
		}
	}
	return ""
}

// FormatSources writes sources as a sources file ParseSources reads back:
// one [[sources]] table each, only the settings given.
func FormatSources(srcs []Source) string {
	var b strings.Builder
	f := struct {
		Sources []Source `toml:"sources"`
	}{srcs}
	if err := toml.NewEncoder(&b).Encode(f); err != nil {
		return "# " + err.Error() + "\n" // a Source always encodes
	}
	return b.String()
}

// Redacted is s with a dsn that holds a password replaced by a note, for
// showing (a node on its own may keep one in its config file).
func (s Source) Redacted() Source {
	if s.DSN != "" && dsnHasPassword(s.Kind, s.DSN) {
		s.DSN = "(redacted: it holds a password)"
	}
	return s
}
