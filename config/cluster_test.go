package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const clusterOK = "\n[cluster]\nid = \"n2\"\naddr = \"127.0.0.1:7002\"\ndata_dir = \"raft\"\njoin = [\"127.0.0.1:7001\"]\nca_file = \"ca.pem\"\ncert_file = \"n2.pem\"\nkey_file = \"/k/n2.key\"\n"

// The [cluster] table is decoded with the rest: paths relative to the
// file, the default bound, and every mistake refused at its line.
func TestClusterTable(t *testing.T) {
	c, err := Parse("/etc/lt/lienthong.toml", []byte(oneSource+clusterOK))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Cluster
	if k == nil || k.ID != "n2" || k.DataDir != filepath.FromSlash("/etc/lt/raft") || k.CAFile != filepath.FromSlash("/etc/lt/ca.pem") || k.KeyFile != "/k/n2.key" ||
		k.Bootstrap || len(k.Join) != 1 || k.ProposeTimeout.Duration != 5*time.Second {
		t.Fatalf("[cluster]: %+v", k)
	}
	if c, err := Parse("x.toml", []byte(oneSource)); err != nil || c.Cluster != nil {
		t.Fatalf("no [cluster]: %+v %v", c, err)
	}
	// oneSource is 4 lines, then a blank one: [cluster] is line 6.
	for in, want := range map[string]string{
		"idd = 1\n":                   `x.toml:14: unknown setting "cluster.idd"; see docs/cluster.md`,
		"bootstrap = true\n":          "x.toml:10: [cluster] has both bootstrap and join",
		"propose_timeout = \"1ms\"\n": "x.toml:14: cluster.propose_timeout 1ms is too short",
		"propose_timeout = 5\n":       "x.toml:14: cluster.propose_timeout: want a duration",
		"":                            "",
	} {
		_, err := Parse("x.toml", []byte(oneSource+clusterOK+in))
		if want == "" {
			if err != nil {
				t.Errorf("valid table refused: %v", err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %s", in, err, want)
		}
	}
	for from, want := range map[string]string{
		`id = "n2"`:                 "x.toml:6: [cluster] needs id",
		`id = "n 2"`:                "x.toml:7: cluster.id \"n 2\"",
		`addr = "127.0.0.1:7002"`:   "x.toml:6: cluster.addr: want HOST:PORT",
		`join = ["127.0.0.1:7001"]`: "x.toml:6: [cluster] needs bootstrap = true",
		`ca_file = "ca.pem"`:        "x.toml:6: [cluster] needs ca_file",
	} {
		to := ""
		if strings.Contains(want, "\"n 2\"") {
			to = `id = "n 2"`
			from = `id = "n2"`
		}
		in := strings.Replace(clusterOK, from, to, 1)
		if _, err := Parse("x.toml", []byte(oneSource+in)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("without %s: got %v, want %s", from, err, want)
		}
	}
	for _, addr := range []string{"0.0.0.0:7000", ":7000", "127.0.0.1:port"} {
		in := strings.Replace(clusterOK, `addr = "127.0.0.1:7002"`, `addr = "`+addr+`"`, 1)
		if _, err := Parse("x.toml", []byte(oneSource+in)); err == nil || !strings.HasPrefix(err.Error(), "x.toml:8: cluster.addr") {
			t.Errorf("addr %s: got %v", addr, err)
		}
	}
}
