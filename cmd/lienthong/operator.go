package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"lienthong/config"
	"lienthong/engine"
	"lienthong/node"
	"lienthong/server"
)

// The operator's commands talk to a node's HTTP API (docs/cluster.md):
// cluster status, membership and the policy in force. They authenticate
// as lienthong sql --server does (--token or $LIENTHONG_TOKEN, --ca,
// --cert, --key); under a policy the principal needs a role with the
// cluster or policy operation.

const clusterUsage = `lienthong cluster: the raft cluster, through a node's HTTP API

  lienthong cluster status --server URL        members, leader, term, commit index, each member's lag
  lienthong cluster join   --server URL ADDR   add the node whose cluster address is ADDR (host:port)
  lienthong cluster remove --server URL ID     take node ID out of the cluster
  lienthong cluster recover --config node.toml --yes
                                               after a majority is lost for good: make this stopped
                                               node the only member, keeping its state (docs/operations.md)

Any node will do: changes are forwarded to the leader. --token (default $LIENTHONG_TOKEN).
`

const policyUsage = `lienthong policy: the access policy in force, through a node's HTTP API

  lienthong policy show  --server URL          print the policy file in force
  lienthong policy apply --server URL FILE     check FILE as a whole and put it in force on every node
  lienthong policy diff  --server URL FILE     show how FILE differs from what is in force (exit 0 same, 1 differs)

An invalid file changes nothing; its error names the line. --token (default $LIENTHONG_TOKEN).
`

// operatorArgs parses the remote flags of an operator command and returns
// the backend and the positional arguments (flags may follow them); want
// -1: one or more.
func operatorArgs(name string, args []string, want int, usage string) (*remoteBackend, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var r remoteFlags
	r.register(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, fmt.Errorf("%s: %v\n\n%s", name, err, usage)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if r.server == "" {
		return nil, nil, fmt.Errorf("%s: --server URL is required (the HTTP API of any node, e.g. http://127.0.0.1:8080)\n\n%s", name, usage)
	}
	if want >= 0 && len(pos) != want {
		return nil, nil, fmt.Errorf("%s: want %d argument(s), got %d\n\n%s", name, want, len(pos), usage)
	}
	if want < 0 && len(pos) == 0 {
		return nil, nil, fmt.Errorf("%s: name at least one\n\n%s", name, usage)
	}
	b, err := r.backend(engine.Session{})
	return b, pos, err
}

func cmdCluster(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, clusterUsage)
		return nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "recover":
		return clusterRecover(rest, out)
	case "status":
		b, _, err := operatorArgs("cluster status", rest, 0, clusterUsage)
		if err != nil {
			return err
		}
		var st clusterStatus
		if err := b.getJSON(ctx, "GET", "/v1/cluster", nil, &st); err != nil {
			return err
		}
		st.print(out)
		return nil
	case "join", "remove":
		b, pos, err := operatorArgs("cluster "+sub, rest, 1, clusterUsage)
		if err != nil {
			return err
		}
		body := map[string]string{"addr": pos[0]}
		if sub == "remove" {
			body = map[string]string{"id": pos[0]}
		}
		if err := b.getJSON(ctx, "POST", "/v1/cluster/"+sub, body, nil); err != nil {
			return err
		}
		if sub == "join" {
			fmt.Fprintf(out, "%s joined the cluster\n", pos[0])
		} else {
			fmt.Fprintf(out, "%s removed from the cluster\n", pos[0])
		}
		return nil
	}
	return fmt.Errorf("unknown cluster command %q\n\n%s", sub, clusterUsage)
}

// clusterRecover runs node.Recover on a stopped node's own directories:
// it needs the node's config, not a server.
func clusterRecover(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cluster recover", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "the stopped node's config")
	yes := fs.Bool("yes", false, "confirm: the other members are gone for good")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return fmt.Errorf("cluster recover: usage: lienthong cluster recover --config node.toml --yes\n\n%s", clusterUsage)
	}
	if *cfgPath == "" {
		return errors.New("cluster recover: --config is required (the stopped node's lienthong.toml with its [cluster] table)")
	}
	if !*yes {
		return errors.New("cluster recover: this makes the node the only member of its cluster and counts every entry of its log as committed; run it only when a majority is lost for good, on the member with the longest log (lienthong cluster status showed last_log), and add --yes")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if err := node.Recover(cfg); err != nil {
		return err
	}
	fmt.Fprintf(out, "node %s is now the only member of its cluster: start it (lienthong serve --config %s), then join new nodes to it from empty data directories\n", cfg.Cluster.ID, *cfgPath)
	return nil
}

// clusterStatus is the body of GET /v1/cluster.
type clusterStatus struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Leader   string `json:"leader"`
	Term     uint64 `json:"term"`
	Commit   uint64 `json:"commit"`
	Applied  uint64 `json:"applied"`
	LastLog  uint64 `json:"last_log"`
	Snapshot uint64 `json:"snapshot"`
	Members  []struct {
		ID        string `json:"id"`
		Addr      string `json:"addr"`
		Voter     bool   `json:"voter"`
		Leader    bool   `json:"leader"`
		Reachable bool   `json:"reachable"`
		State     string `json:"state"`
		Applied   uint64 `json:"applied"`
		Lag       uint64 `json:"lag"`
	} `json:"members"`
}

func (st clusterStatus) print(out io.Writer) {
	leader := st.Leader
	if leader == "" {
		leader = "none known (no quorum?)"
	}
	fmt.Fprintf(out, "node %s (%s)  leader %s  term %d  commit %d  applied %d  last snapshot %d\n", st.ID, strings.ToLower(st.State), leader, st.Term, st.Commit, st.Applied, st.Snapshot)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDR\tROLE\tHEALTH\tAPPLIED\tLAG")
	for _, m := range st.Members {
		role := strings.ToLower(m.State)
		if !m.Voter {
			role += " (non-voter)"
		}
		health, applied, lag := "unreachable", "-", "-"
		if m.Reachable {
			health, applied, lag = "ok", fmt.Sprint(m.Applied), fmt.Sprint(m.Lag)
		} else if m.Leader {
			role = "leader"
		}
		if role == "" {
			role = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Addr, role, health, applied, lag)
	}
	tw.Flush()
}

// errDiffers: policy diff found a difference (exit status 1, already shown).
var errDiffers = fmt.Errorf("%w: the file differs from the policy in force", errReported)

func cmdPolicy(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, policyUsage)
		return nil
	}
	sub, rest := args[0], args[1:]
	want := 1
	switch sub {
	case "show":
		want = 0
	case "apply", "diff":
	default:
		return fmt.Errorf("unknown policy command %q\n\n%s", sub, policyUsage)
	}
	b, pos, err := operatorArgs("policy "+sub, rest, want, policyUsage)
	if err != nil {
		return err
	}
	var file []byte
	if want == 1 {
		if file, err = os.ReadFile(pos[0]); err != nil {
			return err
		}
	}
	switch sub {
	case "apply":
		if err := b.getJSON(ctx, "POST", "/v1/policy", server.PolicyJSON{File: filepath.Base(pos[0]), Text: string(file)}, nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s is in force\n", pos[0])
		return nil
	}
	var cur server.PolicyJSON
	if err := b.getJSON(ctx, "GET", "/v1/policy", nil, &cur); err != nil {
		return err
	}
	if sub == "show" {
		if cur.Text == "" {
			fmt.Fprintln(os.Stderr, "no policy is in force (every table is readable by the node's local users)")
			return nil
		}
		_, err := io.WriteString(out, cur.Text)
		return err
	}
	d := lineDiff(strings.SplitAfter(cur.Text, "\n"), strings.SplitAfter(string(file), "\n"))
	if d == "" {
		return nil
	}
	fmt.Fprintf(out, "--- in force (%s)\n+++ %s\n%s", cmpName(cur.File), pos[0], d)
	return errDiffers
}

// sourcesRemote is lienthong sources show|add|replace|remove --server.
func sourcesRemote(ctx context.Context, sub string, args []string, out io.Writer) error {
	want := map[string]int{"show": 0, "add": 1, "replace": 1, "remove": -1}[sub]
	b, pos, err := operatorArgs("sources "+sub, args, want, sourcesUsage)
	if err != nil {
		return err
	}
	if sub == "show" {
		var cur server.SourcesJSON
		if err := b.getJSON(ctx, "GET", "/v1/sources", nil, &cur); err != nil {
			return err
		}
		_, err := io.WriteString(out, cur.Text)
		return err
	}
	var req server.SourcesChangeJSON
	if sub == "remove" {
		req.Remove = pos
	} else {
		text, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		f := &server.SourcesJSON{File: filepath.Base(pos[0]), Text: string(text)}
		if sub == "add" {
			req.Add = f
		} else {
			req.Replace = f
		}
	}
	if err := b.getJSON(ctx, "POST", "/v1/sources", req, nil); err != nil {
		return err
	}
	if sub == "remove" {
		fmt.Fprintf(out, "removed %s\n", strings.Join(pos, ", "))
	} else {
		fmt.Fprintf(out, "the sources of %s are in force\n", pos[0])
	}
	return nil
}

const budgetUsage = `lienthong budget --server URL: your privacy budget on the cluster

What the principal of --token (default $LIENTHONG_TOKEN) has spent of its privacy budget for the
period in force, what is left, how many private queries that is, and when it resets. The figures
count every charge made on any node (the read goes through the cluster's log).
`

// cmdBudget prints the caller's privacy budget (GET /v1/budget).
func cmdBudget(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(out, budgetUsage)
		return nil
	}
	b, _, err := operatorArgs("budget", args, 0, budgetUsage)
	if err != nil {
		return err
	}
	var bu engine.Budget
	if err := b.getJSON(ctx, "GET", "/v1/budget", nil, &bu); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s, %s %s: epsilon %g of %g spent, %g left (%d private queries at %g each)",
		bu.Principal, bu.Period, bu.Key, bu.EpsilonSpent, bu.EpsilonBudget, bu.EpsilonRemaining, bu.QueriesLeft, bu.EpsilonPerQuery)
	if bu.DeltaBudget > 0 {
		fmt.Fprintf(out, "; delta %g of %g spent", bu.DeltaSpent, bu.DeltaBudget)
	}
	fmt.Fprintf(out, "; resets %s\n", bu.Resets.UTC().Format(time.RFC3339))
	return nil
}

func cmpName(s string) string {
	if s == "" || s == "." {
		return "none"
	}
	return s
}

// getJSON makes one API call and decodes its JSON answer into v (nil:
// discard); a refusal is the server's registry error.
func (r *remoteBackend) getJSON(ctx context.Context, method, path string, body, v any) error {
	resp, err := r.do(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("reading the server's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// lineDiff is a unified-style diff of a and b (lines with their
// newlines): changed lines with up to 3 lines of context, hunks headed by
// their line numbers; "" when they are equal. Longest common subsequence,
// quadratic, fine for policy files.
func lineDiff(a, b []string) string {
	a, b = trimEmpty(a), trimEmpty(b)
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int // line in a (1-based) this op is at or after
		bi   int
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i], i + 1, j + 1})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', b[j], i + 1, j + 1})
			j++
		default:
			ops = append(ops, op{'-', a[i], i + 1, j + 1})
			i++
		}
	}
	const context = 3
	keep := make([]bool, len(ops))
	changed := false
	for k, o := range ops {
		if o.kind != ' ' {
			changed = true
			for c := max(0, k-context); c <= min(len(ops)-1, k+context); c++ {
				keep[c] = true
			}
		}
	}
	if !changed {
		return ""
	}
	var sb strings.Builder
	for k := 0; k < len(ops); k++ {
		if !keep[k] {
			continue
		}
		if k == 0 || !keep[k-1] {
			fmt.Fprintf(&sb, "@@ line %d of what is in force, line %d of the file @@\n", ops[k].ai, ops[k].bi)
		}
		text := ops[k].text
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		sb.WriteByte(ops[k].kind)
		sb.WriteString(text)
	}
	return sb.String()
}

// trimEmpty drops the empty last element SplitAfter leaves after a final
// newline.
func trimEmpty(l []string) []string {
	if len(l) > 0 && l[len(l)-1] == "" {
		return l[:len(l)-1]
	}
	return l
}
