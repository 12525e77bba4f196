package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const oneSource = "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"a.db\"\n"

// The [audit] and [server] tables are decoded with the rest of the file:
// defaults, paths relative to the file, and errors at their line.
func TestSections(t *testing.T) {
	c, err := Parse("/etc/lt/lienthong.toml", []byte(oneSource+"\n[audit]\nlog = \"audit.log\"\nkey_file = \"/k/audit.key\"\nnode_id = \"n1\"\n\n[server]\ntokens_file = \"tokens.toml\"\nmax_result_rows = 500\nmax_result_bytes = \"1MiB\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Audit
	if a == nil || a.Log != filepath.FromSlash("/etc/lt/audit.log") || a.KeyFile != "/k/audit.key" || a.HealthLog != a.Log+".health" || a.ProbeInterval.Duration != 30*time.Second || a.NodeID != "n1" {
		t.Fatalf("[audit]: %+v", a)
	}
	if s := c.Server; s.TokensFile != "/etc/lt/tokens.toml" || s.MaxResultRows != 500 || s.MaxResultBytes != 1<<20 || s.HTTPAddr != "" {
		t.Fatalf("[server] (unset fields stay unset): %+v", s)
	}
	if _, err := Parse("x.toml", []byte("tim_zone = \"UTC\"\n"+oneSource)); err == nil || err.Error() != `x.toml:1: unknown setting "tim_zone"; see docs/configuration.md` {
		t.Errorf("unknown top-level key: %v", err)
	}
	if c, err := Parse("x.toml", []byte(oneSource)); err != nil || c.Audit != nil {
		t.Fatalf("no [audit] table: %+v %v", c, err)
	}
	for in, want := range map[string]string{
		"[audit]\nlog = \"a\"\nprobe_intervall = \"5s\"\n":  `x.toml:7: unknown setting "audit.probe_intervall"; see docs/audit.md`,
		"[audit]\nkey_file = \"k\"\n":                       "x.toml:5: [audit] needs log",
		"[audit]\nlog = \"a\"\nprobe_interval = \"10ms\"\n": "x.toml:7: audit.probe_interval 10ms is too short",
		"[server]\ntokens_file = \"t\"\nhttp_adr = \"x\"\n": `x.toml:7: unknown setting "server.http_adr"; see docs/server.md`,
		"[server]\nmax_result_bytes = \"lots\"\n":           "x.toml:6: server.max_result_bytes: want a size",
		"[server]\nquery_timeout = 5\n":                     "x.toml:6: ",
	} {
		if _, err := Parse("x.toml", []byte(oneSource+in)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
}

// LoadTables reads a file's tables without its sources (report --config,
// serve --server-config); only limits which tables' unknown keys count.
func TestLoadTables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "srv.toml")
	if err := os.WriteFile(path, []byte("[[sources]]\nname = \"a\"\nkind = \"mysql\"\ndsn_env = \"LT_TEST_SURELY_UNSET\"\nstray = 1\n[server]\nhttp_addr = \"127.0.0.1:1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadTables(path, "server")
	if err != nil || c.Server.HTTPAddr != "127.0.0.1:1" {
		t.Fatalf("%+v %v", c, err)
	}
	var ce *Error
	if _, err := LoadTables(path); !errors.As(err, &ce) || ce.Line != 5 {
		t.Fatalf("without only, the stray key is an error at its line: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1.5GB": 1_500_000_000, "512MiB": 512 << 20, "1048576": 1048576, "64 KB": 64_000} {
		if n, err := ParseSize(in); err != nil || n != want {
			t.Errorf("%q: %d %v, want %d", in, n, err, want)
		}
	}
	if _, err := ParseSize("-1"); err == nil {
		t.Error("a negative size must be refused")
	}
}

func TestLines(t *testing.T) {
	data := []byte("top = 1\n[[grants]]\nrole = \"a\"\n\n[[grants]]  # second\nname = \"b\"\nrole = \"c\"\n[settings]\nmin = 1\n")
	for _, c := range []struct {
		got, want int
	}{
		{KeyLine(data, "top"), 1},
		{KeyLine(data, "settings.min"), 9},
		{KeyLine(data, "grants.role"), 3},
		{KeyLine(data, "nowhere"), 0},
		{TableLine(data, "[[grants]]", 1, ""), 5},
		{TableLine(data, "[[grants]]", 1, "role"), 7},
		{TableLine(data, "[[grants]]", 1, "missing"), 5},
		{TableLine(data, "[[grants]]", 2, ""), 0},
		{TableLine(data, "[settings]", 0, ""), 8},
	} {
		if c.got != c.want {
			t.Errorf("got line %d, want %d", c.got, c.want)
		}
	}
}
