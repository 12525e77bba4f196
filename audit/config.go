package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"lienthong/config"
)

// Config is the [audit] table of a node's lienthong.toml (package config
// leaves the table to this package, as it leaves [server] to package
// server):
//
//	[audit]
//	log            = "/var/lib/lienthong/audit.log"   # required
//	key_file       = "/etc/lienthong/audit.key"       # default: $LIENTHONG_AUDIT_KEY
//	node_id        = "hn-node-1"                      # default: the hostname
//	probe_interval = "30s"                            # connection health probes
//	health_log     = "..."                            # default: log + ".health"
type Config struct {
	Log           string          `toml:"log"`
	KeyFile       string          `toml:"key_file"`
	NodeID        string          `toml:"node_id"`
	ProbeInterval config.Duration `toml:"probe_interval"`
	HealthLog     string          `toml:"health_log"`
	// Path is the file the table came from (not read from TOML).
	Path string `toml:"-"`
}

// DefaultProbeInterval applies when probe_interval is not set.
const DefaultProbeInterval = 30 * time.Second

// LoadConfig reads the [audit] table of a config file; it returns nil and
// no error when the file has none.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig reads the [audit] table of a config given as bytes; path
// names it in errors and anchors relative paths.
func ParseConfig(path string, data []byte) (*Config, error) {
	var file struct {
		Audit *Config `toml:"audit"`
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
		if len(k) > 0 && k[0] == "audit" {
			return nil, &config.Error{File: path, Line: lineOf(data, k[len(k)-1]), Msg: fmt.Sprintf("unknown setting %q; see docs/audit.md", k.String())}
		}
	}
	c := file.Audit
	if c == nil {
		return nil, nil
	}
	c.Path = path
	if c.Log == "" {
		return nil, &config.Error{File: path, Line: lineOf(data, "[audit]"), Msg: "[audit] needs log = \"FILE\" (where the audit log is written)"}
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&c.Log, &c.KeyFile, &c.HealthLog} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.HealthLog == "" {
		c.HealthLog = HealthPath(c.Log)
	}
	switch d := c.ProbeInterval.Duration; {
	case d == 0:
		c.ProbeInterval.Duration = DefaultProbeInterval
	case d < time.Second:
		return nil, &config.Error{File: path, Line: lineOf(data, "probe_interval"), Msg: fmt.Sprintf("audit.probe_interval %v is too short (at least 1s)", d)}
	}
	return c, nil
}

func lineOf(data []byte, key string) int {
	for ln, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(t, key); ok && (rest == "" || rest[0] == ' ' || rest[0] == '=') {
			return ln + 1
		}
	}
	return 0
}
