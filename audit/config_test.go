package audit_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/audit"
)

func TestParseConfig(t *testing.T) {
	c, err := audit.ParseConfig("/etc/lt/lienthong.toml", []byte("[[sources]]\nname = \"a\"\n\n[audit]\nlog = \"audit.log\"\nkey_file = \"/k/audit.key\"\nnode_id = \"n1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Log != filepath.FromSlash("/etc/lt/audit.log") || c.KeyFile != "/k/audit.key" || c.HealthLog != c.Log+".health" || c.ProbeInterval.Duration != 30*time.Second || c.NodeID != "n1" {
		t.Fatalf("%+v", c)
	}
	if c, err := audit.ParseConfig("x.toml", []byte("[[sources]]\nname = \"a\"\n")); c != nil || err != nil {
		t.Fatalf("no table: %v %v", c, err)
	}
	for in, want := range map[string]string{
		"[audit]\nlog = \"a\"\nprobe_intervall = \"5s\"\n":  `x.toml:3: unknown setting "audit.probe_intervall"`,
		"[audit]\nkey_file = \"k\"\n":                       "x.toml:1: [audit] needs log",
		"[audit]\nlog = \"a\"\nprobe_interval = \"10ms\"\n": "x.toml:3: audit.probe_interval 10ms is too short",
	} {
		if _, err := audit.ParseConfig("x.toml", []byte(in)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
}
