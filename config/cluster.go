package config

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Cluster is the [cluster] table (docs/cluster.md): this node's place in
// a raft cluster that replicates the policy, catalog, tokens, privacy
// budgets and audit chain. nil: the node is on its own.
//
//	[cluster]
//	id        = "n1"                       # the node's name; its certificate's CN
//	addr      = "127.0.0.1:7001"           # raft and node RPCs; where the others reach it
//	data_dir  = "/var/lib/lienthong/raft"  # raft.db and snapshots/
//	bootstrap = true                       # the first node only; the others: join = ["127.0.0.1:7001"]
//	ca_file   = "/etc/lienthong/cluster-ca.pem"
//	cert_file = "/etc/lienthong/n1.pem"
//	key_file  = "/etc/lienthong/n1.key"
//	propose_timeout = "5s"                 # past it a change or an audited query fails LT-NO-QUORUM
type Cluster struct {
	ID             string   `toml:"id"`
	Addr           string   `toml:"addr"`
	DataDir        string   `toml:"data_dir"`
	Bootstrap      bool     `toml:"bootstrap"`
	Join           []string `toml:"join"`
	CAFile         string   `toml:"ca_file"`
	CertFile       string   `toml:"cert_file"`
	KeyFile        string   `toml:"key_file"`
	ProposeTimeout Duration `toml:"propose_timeout"`
	// Path is the file the table came from (not read from TOML).
	Path string `toml:"-"`
}

// DefaultProposeTimeout applies when propose_timeout is not set.
const DefaultProposeTimeout = 5 * time.Second

var clusterID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// resolveCluster checks the [cluster] table, anchoring its paths at the
// config file's directory.
func (c *Config) resolveCluster(data []byte) error {
	k := c.Cluster
	if k == nil {
		return nil
	}
	k.Path = c.Path
	bad := func(key, format string, args ...any) error {
		line := 0
		if key != "" {
			line = KeyLine(data, "cluster."+key)
		}
		if line == 0 {
			line = TableLine(data, "[cluster]", 0, "")
		}
		return &Error{File: c.Path, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if k.ID == "" {
		return bad("", "[cluster] needs id = \"NAME\" (this node's name in the cluster, the common name of its certificate)")
	}
	if !clusterID.MatchString(k.ID) {
		return bad("id", "cluster.id %q: use letters, digits, '.', '_' and '-'", k.ID)
	}
	if err := checkHostPort(k.Addr); err != nil {
		return bad("addr", "cluster.addr: %v", err)
	}
	if k.DataDir == "" {
		return bad("", "[cluster] needs data_dir = \"DIR\" (where raft keeps its log and snapshots)")
	}
	switch {
	case k.Bootstrap && len(k.Join) > 0:
		return bad("join", "[cluster] has both bootstrap and join: bootstrap only the first node, the others join it")
	case !k.Bootstrap && len(k.Join) == 0:
		return bad("", "[cluster] needs bootstrap = true (the first node) or join = [\"HOST:PORT\", ...] (members to ask)")
	}
	for _, j := range k.Join {
		if err := checkHostPort(j); err != nil || j == "" {
			return bad("join", "cluster.join %q: %v", j, err)
		}
	}
	for _, f := range []struct {
		key string
		p   *string
	}{{"ca_file", &k.CAFile}, {"cert_file", &k.CertFile}, {"key_file", &k.KeyFile}} {
		if *f.p == "" {
			return bad("", "[cluster] needs %s (nodes speak only mutual TLS with certificates from the cluster CA)", f.key)
		}
	}
	abs := func(ps ...*string) {
		for _, p := range ps {
			if !filepath.IsAbs(*p) {
				*p = filepath.Join(filepath.Dir(c.Path), *p)
			}
		}
	}
	abs(&k.DataDir, &k.CAFile, &k.CertFile, &k.KeyFile)
	switch d := k.ProposeTimeout.Duration; {
	case d == 0:
		k.ProposeTimeout.Duration = DefaultProposeTimeout
	case d < 100*time.Millisecond:
		return bad("propose_timeout", "cluster.propose_timeout %v is too short (at least 100ms; raft needs a round trip to a majority and an fsync)", d)
	}
	return nil
}

// checkHostPort accepts host:port where host is one the others can dial
// (not a wildcard such as 0.0.0.0).
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want HOST:PORT, got %q", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host == "" {
		return fmt.Errorf("%q names no host: the other nodes dial this address", s)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%s is a wildcard address: give the address the other nodes dial", host)
	}
	return nil
}
