package audit_test

import (
	"testing"

	"lienthong/audit"
	"lienthong/config"
)

// The config's default health_log is audit.HealthPath of its log (config
// is a leaf and cannot call it).
func TestConfigHealthLogDefault(t *testing.T) {
	c, err := config.Parse("/lt/node.toml", []byte("[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"a.db\"\n[audit]\nlog = \"audit.log\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Audit.HealthLog != audit.HealthPath(c.Audit.Log) {
		t.Fatalf("health_log %q, audit.HealthPath %q", c.Audit.HealthLog, audit.HealthPath(c.Audit.Log))
	}
}
