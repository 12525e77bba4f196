package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/config"
	"lienthong/internal/testpki"
	"lienthong/node"
	"lienthong/tokens"
)

const cliPolicy = `[[purposes]]
name = "STATS"

[[roles]]
name = "reader"

[[roles]]
name = "ops"
operations = ["cluster", "policy", "sources"]

[[principals]]
name = "alice"
agency = "bhxh"
roles = ["reader"]

[[principals]]
name = "admin"
agency = "bca"
roles = ["ops"]

[[grants]]
role = "reader"
purposes = ["STATS"]
source = "f"
table = "people"
`

// servedClusterNode serves a one-node cluster (bootstrapped) with
// cliPolicy in force and returns it, its config file and the tokens of
// admin and alice.
func servedClusterNode(t *testing.T) (n *node.Node, cfgPath, admin, alice string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca := testpki.NewCA(t, "ca")
	n1 := ca.Issue(t, "n1")
	write("ca.pem", ca.PEM)
	write("n1.pem", n1.CertPEM)
	write("n1.key", n1.KeyPEM)
	var toks strings.Builder
	tok := map[string]string{}
	for _, p := range []string{"admin", "alice"} {
		tok[p], _ = tokens.Generate()
		h, err := tokens.Hash(tok[p])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&toks, "[[principals]]\nname = %q\nagency = \"x\"\ntoken_hash = %q\n", p, h)
	}
	write("tokens.toml", []byte(toks.String()))
	write("people.csv", []byte("pin,name\n001,a\n"))
	write("policy.toml", []byte(cliPolicy))
	if err := os.Mkdir(filepath.Join(dir, "spill"), 0o700); err != nil {
		t.Fatal(err)
	}
	write("lienthong.toml", []byte(`duckdb_temp_directory = "spill"
policy = "policy.toml"
[[sources]]
name = "f"
kind = "csv"
path = "*.csv"
[server]
http_addr = "127.0.0.1:0"
flight_addr = "off"
tokens_file = "tokens.toml"
shutdown_grace = "1s"
log_level = "error"
[cluster]
id = "n1"
addr = "127.0.0.1:0"
data_dir = "raft"
bootstrap = true
ca_file = "ca.pem"
cert_file = "n1.pem"
key_file = "n1.key"
`))
	cfgPath = filepath.Join(dir, "lienthong.toml")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	n, err = node.Open(context.Background(), cfg, node.Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, cfgPath, tok["admin"], tok["alice"]
}

// The operator commands against a served cluster node: status, policy
// show, diff (0 same, 1 differs), apply (in force after; a broken file
// refused with its line and changing nothing), and refusals with the
// registry's exit status.
func TestOperatorCommands(t *testing.T) {
	n, _, admin, alice := servedClusterNode(t)
	url := n.Server.HTTPURL()
	ctx := context.Background()
	run := func(f func(context.Context, []string, *bytes.Buffer) error, args ...string) (string, error) {
		var out bytes.Buffer
		err := f(ctx, args, &out)
		return out.String(), err
	}
	cluster := func(ctx context.Context, a []string, b *bytes.Buffer) error { return cmdCluster(ctx, a, b) }
	policy := func(ctx context.Context, a []string, b *bytes.Buffer) error { return cmdPolicy(ctx, a, b) }

	out, err := run(cluster, "status", "--server", url, "--token", admin)
	if err != nil || !strings.Contains(out, "node n1 (leader)  leader n1") || !strings.Contains(out, "n1  127.0.0.1:") {
		t.Fatalf("cluster status: %v\n%s", err, out)
	}
	if out, err := run(policy, "show", "--server", url, "--token", admin); err != nil || out != cliPolicy {
		t.Fatalf("policy show: %v\n%s", err, out)
	}
	dir := t.TempDir()
	same, changed, broken := filepath.Join(dir, "same.toml"), filepath.Join(dir, "new.toml"), filepath.Join(dir, "broken.toml")
	v2 := strings.Replace(cliPolicy, "table = \"people\"\n", "table = \"people\"\ncolumns = [\"pin\"]\n", 1)
	os.WriteFile(same, []byte(cliPolicy), 0o600)
	os.WriteFile(changed, []byte(v2), 0o600)
	os.WriteFile(broken, []byte(strings.Replace(v2, `roles = ["reader"]`, `roles = ["nosuch"]`, 1)), 0o600)
	if out, err := run(policy, "diff", "--server", url, "--token", admin, same); err != nil || out != "" {
		t.Fatalf("diff of the same file: %v %q", err, out)
	}
	out, err = run(policy, "diff", "--server", url, "--token", admin, changed)
	if exitStatus(err) != 1 || !strings.Contains(out, "+columns = [\"pin\"]\n") || !strings.Contains(out, " table = \"people\"\n") || !strings.HasPrefix(out, "--- in force (policy.toml)\n+++ ") {
		t.Fatalf("diff of a changed file: %v (exit %d)\n%s", err, exitStatus(err), out)
	}
	if _, err := run(policy, "apply", "--server", url, "--token", admin, changed); err != nil {
		t.Fatal(err)
	}
	if out, err := run(policy, "diff", changed, "--server", url, "--token", admin); err != nil || out != "" {
		t.Fatalf("after apply the file is in force: %v %q", err, out)
	}
	_, err = run(policy, "apply", "--server", url, "--token", admin, broken)
	if err == nil || !strings.Contains(err.Error(), "LT-BAD-REQUEST") || !strings.Contains(err.Error(), "broken.toml:") || exitStatus(err) != 1 {
		t.Fatalf("broken file: %v", err)
	}
	if out, err := run(policy, "diff", changed, "--server", url, "--token", admin); err != nil || out != "" {
		t.Fatalf("a broken file changed the policy in force: %v %q", err, out)
	}
	// alice may not operate (exit 3, denied); no token is LT-AUTH (3).
	_, err = run(cluster, "status", "--server", url, "--token", alice)
	if err == nil || !strings.Contains(err.Error(), "LT-FORBIDDEN") || exitStatus(err) != 3 {
		t.Fatalf("alice's cluster status: %v (exit %d)", err, exitStatus(err))
	}
	t.Setenv("LIENTHONG_TOKEN", "")
	_, err = run(policy, "show", "--server", url)
	if err == nil || !strings.Contains(err.Error(), "LT-AUTH") || exitStatus(err) != 3 {
		t.Fatalf("no token: %v (exit %d)", err, exitStatus(err))
	}
	// Joining an address where no node listens is refused, the cluster
	// unchanged.
	_, err = run(cluster, "join", "--server", url, "--token", admin, "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "did not prove itself") {
		t.Fatalf("join of nothing: %v", err)
	}
	if out, _ := run(cluster, "status", "--server", url, "--token", admin); strings.Count(out, "127.0.0.1:") != 1 {
		t.Fatalf("membership changed:\n%s", out)
	}
	if !errors.Is(errDiffers, errReported) {
		t.Fatal("a differing diff would print an error line")
	}
}

// lienthong cluster recover: refused without --config, without --yes and
// on a running node; on the stopped node it makes it the only member,
// and the node starts again with its policy.
func TestClusterRecoverCommand(t *testing.T) {
	n, cfgPath, _, _ := servedClusterNode(t)
	recover := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := cmdCluster(context.Background(), append([]string{"recover"}, args...), &out)
		return out.String(), err
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--config is required"},
		{[]string{"--config", cfgPath}, "add --yes"},
		{[]string{"--config", cfgPath, "--yes"}, "stop it before recovering"},
	} {
		if _, err := recover(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("cluster recover %v: %v, want %q", c.args, err, c.want)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := recover("--config", cfgPath, "--yes")
	if err != nil || !strings.Contains(out, "node n1 is now the only member") {
		t.Fatalf("cluster recover: %v\n%s", err, out)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	back, err := node.Open(context.Background(), cfg, node.Options{Serve: true})
	if err != nil {
		t.Fatalf("the recovered node does not start: %v", err)
	}
	defer back.Close()
	if _, text, _ := back.Engine.PolicyInForce(); text != cliPolicy {
		t.Fatalf("the recovered node's policy: %q", text)
	}
}

// lienthong sources show|add|replace|remove --server: the sources in force
// change on the node (on a cluster, on every node); a broken file is
// refused at its line and changes nothing; alice lacks the operation.
func TestSourcesCommands(t *testing.T) {
	n, _, admin, alice := servedClusterNode(t)
	url := n.Server.HTTPURL()
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := sourcesRemote(ctx, args[0], args[1:], &out)
		return out.String(), err
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"g.csv":    "pin,name\n001,g\n",
		"g.toml":   fmt.Sprintf("[[sources]]\nname = \"g\"\nkind = \"csv\"\npath = %q\n", filepath.Join(dir, "*.csv")),
		"g2.toml":  fmt.Sprintf("[[sources]]\nname = \"g\"\nkind = \"csv\"\npath = %q\nmax_concurrent = 2\n", filepath.Join(dir, "*.csv")),
		"bad.toml": "[[sources]]\nname = \"h\"\nkind = \"oracle\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run("add", "--server", url, "--token", admin, filepath.Join(dir, "g.toml")); err != nil || !strings.Contains(out, "in force") {
		t.Fatalf("sources add: %v\n%s", err, out)
	}
	out, err := run("show", "--server", url, "--token", admin)
	if err != nil || !strings.Contains(out, "name = \"f\"") || !strings.Contains(out, "name = \"g\"") {
		t.Fatalf("sources show: %v\n%s", err, out)
	}
	if _, err := run("replace", "--server", url, "--token", admin, filepath.Join(dir, "g2.toml")); err != nil {
		t.Fatalf("sources replace: %v", err)
	}
	if out, _ := run("show", "--server", url, "--token", admin); !strings.Contains(out, "max_concurrent = 2") {
		t.Fatalf("after replace: %s", out)
	}
	_, err = run("add", "--server", url, "--token", admin, filepath.Join(dir, "bad.toml"))
	if err == nil || exitStatus(err) != 1 || !strings.Contains(err.Error(), "bad.toml:3") || !strings.Contains(err.Error(), `kind "oracle"`) {
		t.Fatalf("a broken file: %v (exit %d)", err, exitStatus(err))
	}
	if _, err := run("remove", "--server", url, "--token", alice, "g"); exitStatus(err) != 3 {
		t.Fatalf("alice removing g: %v (exit %d)", err, exitStatus(err))
	}
	if _, err := run("remove", "--server", url, "--token", admin, "g", "nope"); err == nil || !strings.Contains(err.Error(), `"nope" is not in force`) {
		t.Fatalf("removing an unknown source: %v", err)
	}
	if got := strings.Join(n.Engine.SourceNames(), ","); got != "f,g" {
		t.Fatalf("after refused changes: %s", got)
	}
	if _, err := run("remove", "--server", url, "--token", admin, "g"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(n.Engine.SourceNames(), ","); got != "f" {
		t.Fatalf("after remove: %s", got)
	}
	if _, err := run("remove", "--server", url, "--token", admin); err == nil || !strings.Contains(err.Error(), "name at least one") {
		t.Fatalf("remove without names: %v", err)
	}
}

// lienthong budget --server: the caller's own budget, read through the
// cluster's log; nothing spent yet, the policy's defaults.
func TestBudgetCommand(t *testing.T) {
	n, _, _, alice := servedClusterNode(t)
	var out bytes.Buffer
	if err := cmdBudget(context.Background(), []string{"--server", n.Server.HTTPURL(), "--token", alice}, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "alice, month ") || !strings.Contains(got, "epsilon 0 of ") || !strings.Contains(got, "private queries at") || !strings.Contains(got, "resets 20") {
		t.Fatalf("budget: %q", got)
	}
	if err := cmdBudget(context.Background(), []string{"--server", n.Server.HTTPURL(), "--token", "nope"}, &out); exitStatus(err) != 3 {
		t.Fatalf("a bad token: %v (exit %d)", err, exitStatus(err))
	}
}
