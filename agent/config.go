package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/planner/sqlgen"
)

// Config is a whole agency.toml (docs/agent.md has the reference).
type Config struct {
	// Agency is the agency that runs the agent, as the catalog action
	// reports it and the request log records it.
	Agency string `toml:"agency"`
	Listen Listen `toml:"listen"`
	TLS    TLS    `toml:"tls"`
	// Source is the agency's database: config.Source's settings and kinds.
	Source config.Source `toml:"source"`
	Log    LogConfig     `toml:"log"`
	// ReplayWindow: a request whose time is further than this from the
	// agent's clock is refused, and nonces are remembered this long
	// (default 2m).
	ReplayWindow config.Duration `toml:"replay_window"`
	// MaxStreams bounds the requests served at once (default 16); more are
	// refused as "rate".
	MaxStreams int      `toml:"max_streams"`
	Engines    []Engine `toml:"engines"`
	Exports    []Export `toml:"exports"`

	// Path is the file the config came from; data its text (for lines).
	Path string `toml:"-"`
	data []byte
}

// Listen is the [listen] table: where the agent serves.
type Listen struct {
	Flight string `toml:"flight"` // host:port of the Flight endpoint (mutual TLS)
	Health string `toml:"health"` // host:port of the HTTP health endpoint; "" none
}

// TLS is the [tls] table: the agent's certificate and the CA whose
// client certificates it accepts. There is no plaintext mode.
type TLS struct {
	CertFile     string `toml:"cert_file"`
	KeyFile      string `toml:"key_file"`
	ClientCAFile string `toml:"client_ca_file"`
}

// LogConfig is the [log] table: the request log.
type LogConfig struct {
	Path      string `toml:"path"`
	LogBodies bool   `toml:"log_bodies"` // keep each request's ticket in its record
}

// Engine is one [[engines]] entry: a central node allowed to call.
type Engine struct {
	// Name is the common name of the engine's client certificate.
	Name string `toml:"name"`
	// Purposes the engine may declare (wire.Request.Purpose).
	Purposes []string `toml:"purposes"`
	// Rate limits its requests: Rate per second on average, Burst at once
	// (default burst: the rate rounded up, at least 1). 0: no limit.
	Rate  float64 `toml:"rate"`
	Burst int     `toml:"burst"`
}

// Export is one [[exports]] entry: a table the agency shares.
type Export struct {
	Table   string   `toml:"table"`
	Columns []string `toml:"columns"`
	// PINColumn is the exported column holding the citizen's PIN (PIN
	// ranges filter on it); "" when the table is not citizen-linked.
	PINColumn string `toml:"pin_column"`
	// RowFilter is a SQL condition over the table (any of its columns,
	// exported or not) ANDed into every read of it.
	RowFilter string `toml:"row_filter"`
	// Purposes narrows the engines' purposes for this table; empty: any
	// purpose the engine may declare.
	Purposes    []string `toml:"purposes"`
	RequireCase bool     `toml:"require_case"`
	// MaxRows bounds the rows one request returns (default 1,000,000);
	// MaxKeys the values of one IN list (default 50,000).
	MaxRows int64 `toml:"max_rows"`
	MaxKeys int   `toml:"max_keys"`
}

// Defaults.
const (
	DefaultReplayWindow = 2 * time.Minute
	DefaultMaxStreams   = 16
	DefaultMaxRows      = 1_000_000
	DefaultMaxKeys      = 50_000
)

// Load reads and checks an agency.toml without connecting to its source:
// syntax, unknown settings, required settings, names. Open checks the
// exports against the source's tables.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("agency config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load of a file's text; path names it and anchors relative paths.
func Parse(path string, data []byte) (*Config, error) {
	var c Config
	// The commonest slip: one pair of brackets for an array of tables, or
	// two for a table; the TOML library would say "incompatible types".
	for ln, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if i := strings.IndexByte(l, '#'); i >= 0 && strings.HasPrefix(l, "[") {
			l = strings.TrimSpace(l[:i])
		}
		for _, arr := range []string{"engines", "exports"} {
			if l == "["+arr+"]" {
				return nil, &config.Error{File: path, Line: ln + 1, Msg: fmt.Sprintf("use [[%s]] (an array of tables, one per entry), not [%s]", arr, arr)}
			}
		}
		for _, tbl := range []string{"listen", "tls", "source", "log"} {
			if l == "[["+tbl+"]]" {
				return nil, &config.Error{File: path, Line: ln + 1, Msg: fmt.Sprintf("use [%s] (one table), not [[%s]]", tbl, tbl)}
			}
		}
	}
	md, err := config.DecodeTOML(path, data, &c)
	if err != nil {
		return nil, err
	}
	c.Path, c.data = path, data
	for _, key := range md.Undecoded() {
		return nil, c.errAt(config.KeyLine(data, key.String()), "unknown setting %q; see docs/agent.md", key.String())
	}
	// A node's source settings that mean nothing to an agent are refused,
	// not ignored: the agent bounds its requests with max_streams and
	// takes PIN columns from [[exports]].
	for _, k := range []string{"max_concurrent", "queue_timeout", "breaker_failures", "breaker_cooldown", "tables", "pin_column"} {
		if md.IsDefined("source", k) {
			return nil, c.keyErr("source."+k, "source.%s is a node's setting, not an agent's (see docs/agent.md: max_streams bounds the requests served at once; [[exports]] pin_column names PIN columns)", k)
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) errAt(line int, format string, args ...any) error {
	return &config.Error{File: c.Path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// keyErr reports a problem at the line setting a dotted key.
func (c *Config) keyErr(key, format string, args ...any) error {
	return c.errAt(config.KeyLine(c.data, key), format, args...)
}

// tableErr reports a missing setting at its [table]'s header (0: none).
func (c *Config) tableErr(table, format string, args ...any) error {
	return c.errAt(config.TableLine(c.data, "["+table+"]", 0, ""), format, args...)
}

// entryErr reports a problem in the n-th [[header]] table at key's line.
func (c *Config) entryErr(header string, n int, key, format string, args ...any) error {
	return c.errAt(config.TableLine(c.data, "[["+header+"]]", n, key), format, args...)
}

var identifier = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_.\-]{0,63}$`)

func (c *Config) check() error {
	dir := filepath.Dir(c.Path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.Agency == "" {
		return c.errAt(0, "agency is required: the agency that runs this agent (e.g. agency = \"bhxh\")")
	}
	if !identifier.MatchString(c.Agency) {
		return c.keyErr("agency", "agency must be a name of letters, digits, _ . and - (it is sent in refusals and the catalog)")
	}
	if c.Listen.Flight == "" {
		return c.tableErr("listen", "listen.flight is required: the address the Flight endpoint listens on (e.g. \"127.0.0.1:8815\")")
	}
	for key, v := range map[string]string{"listen.flight": c.Listen.Flight, "listen.health": c.Listen.Health} {
		if v == "" {
			continue
		}
		if _, port, ok := strings.Cut(v, ":"); !ok || port == "" {
			return c.keyErr(key, "%s must be host:port, e.g. \"127.0.0.1:8815\"", key)
		}
	}
	for _, f := range []struct {
		key string
		v   *string
	}{{"tls.cert_file", &c.TLS.CertFile}, {"tls.key_file", &c.TLS.KeyFile}, {"tls.client_ca_file", &c.TLS.ClientCAFile}} {
		if *f.v == "" {
			return c.tableErr("tls", "%s is required: the agent speaks mutual TLS only (docs/agent.md, Certificates)", f.key)
		}
		abs(f.v)
		if _, err := os.Stat(*f.v); err != nil {
			return c.keyErr(f.key, "%s: %v", f.key, errors.Unwrap(err))
		}
	}
	if err := c.checkSource(abs); err != nil {
		return err
	}
	if c.Log.Path == "" {
		return c.tableErr("log", "log.path is required: the request log file (docs/agent.md, The request log)")
	}
	abs(&c.Log.Path)
	if c.ReplayWindow.Duration < 0 {
		return c.keyErr("replay_window", "replay_window must not be negative")
	}
	if c.ReplayWindow.Duration == 0 {
		c.ReplayWindow.Duration = DefaultReplayWindow
	}
	if c.MaxStreams < 0 {
		return c.keyErr("max_streams", "max_streams must not be negative")
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if len(c.Engines) == 0 {
		return c.errAt(0, "no [[engines]]: name at least one engine (its client certificate's common name) that may call the agent")
	}
	seen := map[string]bool{}
	for i := range c.Engines {
		e := &c.Engines[i]
		if e.Name == "" {
			return c.entryErr("engines", i, "", "engine %d: missing name (its client certificate's common name)", i+1)
		}
		if seen[e.Name] {
			return c.entryErr("engines", i, "name", "engine %q is listed twice", e.Name)
		}
		seen[e.Name] = true
		if len(e.Purposes) == 0 {
			return c.entryErr("engines", i, "", "engine %q: purposes is required (the purposes it may declare)", e.Name)
		}
		for _, p := range e.Purposes {
			if !identifier.MatchString(p) {
				return c.entryErr("engines", i, "purposes", "engine %q: purpose %q must be a name of letters, digits, _ . and -", e.Name, p)
			}
		}
		if e.Rate < 0 || e.Burst < 0 {
			return c.entryErr("engines", i, "rate", "engine %q: rate and burst must not be negative", e.Name)
		}
		if e.Burst == 0 && e.Rate > 0 {
			e.Burst = max(1, int(e.Rate+0.999999))
		}
	}
	if len(c.Exports) == 0 {
		return c.errAt(0, "no [[exports]]: name at least one table to share (a table or column not listed is not exported)")
	}
	seen = map[string]bool{}
	for i := range c.Exports {
		x := &c.Exports[i]
		if x.Table == "" {
			return c.entryErr("exports", i, "", "export %d: missing table", i+1)
		}
		if seen[strings.ToLower(x.Table)] {
			return c.entryErr("exports", i, "table", "table %q is exported twice", x.Table)
		}
		seen[strings.ToLower(x.Table)] = true
		if len(x.Columns) == 0 {
			return c.entryErr("exports", i, "", "export %q: columns is required (the columns shared; the others are not)", x.Table)
		}
		for _, p := range x.Purposes {
			if !identifier.MatchString(p) {
				return c.entryErr("exports", i, "purposes", "export %q: purpose %q must be a name of letters, digits, _ . and -", x.Table, p)
			}
		}
		if x.MaxRows < 0 || x.MaxKeys < 0 {
			return c.entryErr("exports", i, "max_rows", "export %q: max_rows and max_keys must not be negative", x.Table)
		}
		if x.MaxRows == 0 {
			x.MaxRows = DefaultMaxRows
		}
		if x.MaxKeys == 0 {
			x.MaxKeys = DefaultMaxKeys
		}
	}
	return nil
}

// agentKinds are the source kinds an agent serves: the built-in ones.
var agentKinds = []catalog.Kind{catalog.Postgres, catalog.MySQL, catalog.SQLite, catalog.DuckDB, catalog.Parquet, catalog.CSV}

// checkSource checks and completes [source] as config does a node's
// [[sources]] entry (a DSN the driver cannot parse is found when Open
// connects, at the dsn line, without repeating it).
func (c *Config) checkSource(abs func(*string)) error {
	s := &c.Source
	if s.Name == "" {
		s.Name = c.Agency
	}
	known := false
	var names []string
	for _, k := range agentKinds {
		names = append(names, string(k))
		known = known || s.Kind == k
	}
	if s.Kind == "" {
		return c.tableErr("source", "source.kind is required: one of %s", strings.Join(names, ", "))
	}
	if _, err := sqlgen.DialectOf(s.Kind); !known || err != nil {
		return c.keyErr("source.kind", "source.kind %q is not one of %s", s.Kind, strings.Join(names, ", "))
	}
	switch s.Kind {
	case catalog.Postgres, catalog.MySQL:
		if s.DSNEnv != "" {
			v, ok := os.LookupEnv(s.DSNEnv)
			if !ok {
				return c.keyErr("source.dsn_env", "source.dsn_env names %s, which is not set", s.DSNEnv)
			}
			s.DSN = v
		}
		if s.DSN == "" {
			return c.keyErr("source.kind", "source kind %s needs dsn (or dsn_env)", s.Kind)
		}
	default:
		if s.Path == "" {
			return c.keyErr("source.kind", "source kind %s needs path", s.Kind)
		}
		abs(&s.Path)
	}
	if s.Schema == "" && s.Kind == catalog.Postgres {
		s.Schema = "public"
	}
	if s.PINColumn == "" {
		s.PINColumn = "pin"
	}
	*s = s.WithDefaults()
	return nil
}

// dsnKey is the key a connection failure is reported at.
func (c *Config) dsnKey() string {
	switch {
	case c.Source.DSNEnv != "":
		return "source.dsn_env"
	case c.Source.Kind == catalog.Postgres || c.Source.Kind == catalog.MySQL:
		return "source.dsn"
	}
	return "source.path"
}
