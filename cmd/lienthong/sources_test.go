package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"lienthong/config"
)

// sources probe takes key_file, probe_interval and node_id from the
// config's [audit] table, as serve does; its flags win.
func TestSourcesProbeReadsAuditTable(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lienthong.toml")
	toml := "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"a.db\"\n\n[audit]\nlog = \"audit.log\"\nkey_file = \"k.key\"\nprobe_interval = \"7s\"\nnode_id = \"n1\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, node := "", ""
	var every time.Duration
	probeDefaults(c.Audit, &key, &every, &node)
	if key != filepath.Join(dir, "k.key") || every != 7*time.Second || node != "n1" {
		t.Errorf("from [audit]: key %q, interval %s, node %q", key, every, node)
	}
	key, node, every = "other.key", "n2", time.Minute
	probeDefaults(c.Audit, &key, &every, &node)
	if key != "other.key" || every != time.Minute || node != "n2" {
		t.Errorf("flags must win: key %q, interval %s, node %q", key, every, node)
	}
}
