package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"lienthong/audit/chain"
	"lienthong/cluster"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/internal/certs"
	"lienthong/state"
	"lienthong/tokens"
)

// nodeState is the node's one store and the machines behind it: the
// engine's (policy, catalog, privacy budgets), the audit chain and the
// server's principals. Engine, audit log and server get them injected;
// what they propose goes through store, and on a cluster is applied on
// every node through the same machines.
type nodeState struct {
	machines  *state.Machines
	store     state.Store
	engine    *engine.Machines
	tokens    *tokens.Machine
	audit     *chain.Machine   // nil without an audit log
	auditFile *chain.FileStore // the audit machine's file; closed after the store stops
	keys      map[string]*chain.Keys
}

// barrierOp is a command that changes nothing: once it is applied here,
// so is everything committed before it (the node has caught up).
const barrierOp = "node.barrier"

// barrier is the machine of barrierOp. Its state is empty.
type barrier struct{}

func (barrier) Apply(c state.Command) (any, error) {
	if c.Op != barrierOp {
		return nil, fmt.Errorf("node: unknown command %q", c.Op)
	}
	return nil, nil
}
func (barrier) Snapshot() ([]byte, error) { return []byte("{}"), nil }
func (barrier) Restore([]byte) error      { return nil }

func (st *nodeState) loadKey(file string) (*chain.Keys, error) {
	if k, ok := st.keys[file]; ok {
		return k, nil
	}
	k, err := chain.LoadKey(file)
	if err == nil {
		st.keys[file] = k
	}
	return k, err
}

// openState builds every machine, then the store over them: a cluster
// node for a serving node with a [cluster] table (bootstrapped or joined,
// and caught up with the log before anything proposes), state.Local
// otherwise.
func (n *Node) openState(ctx context.Context, cfg *config.Config, opt Options) error {
	st := &n.st
	if err := st.build(cfg, opt.Audit); err != nil {
		return err
	}
	replicated := cfg.Cluster != nil && opt.Serve
	if !replicated {
		st.store = state.NewLocalOn(st.machines)
		return nil
	}
	var err error
	if n.Cluster, err = openCluster(cfg.Cluster, st.machines); err != nil {
		return err
	}
	st.store = n.Cluster
	k := cfg.Cluster
	if k.Bootstrap {
		if err := n.Cluster.Bootstrap(); err != nil {
			return err
		}
	} else if !n.Cluster.Member() {
		if err := askToJoin(ctx, n.Cluster, k.Join); err != nil {
			return err
		}
	}
	return awaitQuorum(ctx, n.Cluster)
}

// build makes every machine of a node (the audit chain's over audit's
// file when audit is set), registered in st.machines.
func (st *nodeState) build(cfg *config.Config, audit *config.Audit) error {
	st.machines, st.keys = state.NewMachines(), map[string]*chain.Keys{}
	var err error
	if st.engine, err = engine.NewMachines(cfg, st.machines); err != nil {
		return err
	}
	st.tokens = &tokens.Machine{}
	st.machines.Register("tokens", st.tokens)
	st.machines.Register("node", barrier{})
	if a := audit; a != nil {
		k, err := st.loadKey(a.KeyFile)
		if err != nil {
			return err
		}
		if st.auditFile, err = chain.OpenFileStore(a.Log, chain.FileOptions{Keys: k, Node: a.NodeID}); err != nil {
			return err
		}
		// A cluster node rewinds it (and the ledger) before raft replays.
		st.audit = chain.NewMachine(st.auditFile)
		st.machines.Register("audit", st.audit)
	}
	return nil
}

// Recover makes the stopped cluster node of cfg the only member of its
// cluster, keeping its state (cluster.Recover): the way back after a
// majority is lost for good. Its machines, audit file included, are
// rebuilt from its snapshot and log as they are when it opens. Recover
// the member with the longest log; start it as usual afterwards and let
// new nodes join it from empty directories.
func Recover(cfg *config.Config) error {
	k := cfg.Cluster
	if k == nil {
		return fmt.Errorf("%s: no [cluster] table: only a cluster node can be recovered", cfg.Path)
	}
	var st nodeState
	err := st.build(cfg, cfg.Audit)
	if err == nil {
		err = cluster.Recover(cluster.Config{ID: k.ID, Addr: k.Addr, Dir: k.DataDir, Log: clusterLog}, st.machines)
	}
	if st.auditFile != nil {
		if cerr := st.auditFile.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func openCluster(k *config.Cluster, ms *state.Machines) (*cluster.Node, error) {
	// Read through a holder: Node.Reload re-reads these files.
	h, err := certs.Load(certs.Files{
		Cert: k.CertFile, Key: k.KeyFile, CA: k.CAFile,
		CertName: k.Path + ": [cluster] cert_file", KeyName: k.Path + ": [cluster] key_file", CAName: k.Path + ": [cluster] ca_file",
	})
	if err != nil {
		return nil, err
	}
	return cluster.Open(cluster.Config{ID: k.ID, Addr: k.Addr, Dir: k.DataDir, Certs: h, ProposeTimeout: k.ProposeTimeout.Duration, ElectionTimeout: electionTimeout, Log: clusterLog}, ms)
}

// clusterLog receives raft's warnings (nil: stderr).
var clusterLog io.Writer

// electionTimeout is raft's default unless a test shortens it.
var electionTimeout time.Duration

// joinPatience bounds how long a new node keeps asking the members of
// its join list to add it.
var joinPatience = 2 * time.Minute

// askToJoin asks each listed member in turn to add this node, backing off
// between rounds, until one does or joinPatience passes.
func askToJoin(ctx context.Context, c *cluster.Node, members []string) error {
	ctx, cancel := context.WithTimeout(ctx, joinPatience)
	defer cancel()
	wait := 100 * time.Millisecond
	var last error
	for {
		for _, m := range members {
			if last = c.AskToJoin(ctx, m); last == nil {
				return nil
			}
			fmt.Fprintf(os.Stderr, "cluster: joining through %s: %v (retrying)\n", m, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: no member of join = %v added this node within %s: %w", members, joinPatience, last)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// awaitQuorum proposes a barrier until it is applied here: the node has
// then applied every entry committed before it (policy, catalog, tokens),
// so nothing is planned or authenticated against stale state. It waits
// as long as ctx lets it: a node restarted while most of the cluster is
// down serves once a majority is back.
func awaitQuorum(ctx context.Context, c *cluster.Node) error {
	cmd := state.Command{Op: barrierOp}
	for said := false; ; {
		cmd.Time = time.Now().UTC()
		_, err := c.Propose(ctx, cmd)
		if err == nil {
			return nil
		}
		if !errors.Is(err, state.ErrNoQuorum) || ctx.Err() != nil {
			return err
		}
		if !said {
			fmt.Fprintf(os.Stderr, "cluster: waiting for a majority of the cluster: %v\n", err)
			said = true
		}
	}
}

// closeState stops the store, then closes the machines' files.
func (n *Node) closeState() error {
	var errs []error
	if n.Cluster != nil {
		errs = append(errs, n.Cluster.Shutdown())
	}
	if n.st.auditFile != nil {
		errs = append(errs, n.st.auditFile.Close())
	}
	if n.st.engine != nil && n.st.engine.Ledger != nil {
		errs = append(errs, n.st.engine.Ledger.Close())
	}
	return errors.Join(errs...)
}

// clusterAPI is the server's view of the cluster node.
type clusterAPI struct{ n *cluster.Node }

func (c clusterAPI) Status(ctx context.Context) (any, error)     { return c.n.Status(ctx) }
func (c clusterAPI) Join(ctx context.Context, addr string) error { return c.n.Join(ctx, addr) }
func (c clusterAPI) Remove(ctx context.Context, id string) error { return c.n.Remove(ctx, id) }
func (c clusterAPI) Quorum() error                               { return c.n.Quorum() }
