package audit_test

import (
	"testing"

	"lienthong/audit/chain"
	"lienthong/config"
)

// The config's default health_log is chain.HealthPath of its log (config
// is a leaf and cannot call it).
func TestConfigHealthLogDefault(t *testing.T) {
	c, err := config.Parse("/lt/node.toml", []byte("[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"a.db\"\n[audit]\nlog = \"audit.log\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Audit.HealthLog != chain.HealthPath(c.Audit.Log) {
		t.Fatalf("health_log %q, chain.HealthPath %q", c.Audit.HealthLog, chain.HealthPath(c.Audit.Log))
	}
}
