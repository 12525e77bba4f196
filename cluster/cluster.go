// Package cluster replicates a node's shared state with raft. A Node is a
// state.Store: a command proposed on any node is forwarded to the leader,
// committed to a quorum's logs, and applied in log order through the
// node's state.Machines on every node, so the audit chain, the policy and
// the catalog are the same everywhere while the machines know nothing of
// raft. The log and raft's own state are in a bolt file, snapshots of the
// whole state in files, both in the node's data directory. Nodes talk
// only mutual TLS with certificates from the cluster CA: raft's streams
// and the node RPCs (forwarded proposals, membership, status) share one
// listener. docs/cluster.md describes the contract.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"lienthong/internal/certs"
	"lienthong/state"
)

// CodeNoQuorum is the registry code of a command the cluster could not
// commit within the bound: this node cannot reach a majority.
const CodeNoQuorum = "LT-NO-QUORUM"

// Error is a cluster failure a client may see; Error() starts with its
// code, as the engine's messages do.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Unwrap makes a no-quorum failure state.ErrNoQuorum, so the packages
// that propose can tell it apart without knowing raft exists.
func (e *Error) Unwrap() error {
	if e.Code == CodeNoQuorum {
		return state.ErrNoQuorum
	}
	return nil
}

func noQuorum(bound time.Duration) error {
	return &Error{Code: CodeNoQuorum, Msg: fmt.Sprintf("no quorum: the cluster did not commit the command within %s (if a majority returns it may still be)", bound)}
}

// Config is one node's place in the cluster.
type Config struct {
	// ID names the node in the membership; it never changes.
	ID string
	// Addr is where the node listens and where the others reach it
	// (host:port; port 0 picks one, see Node.Addr).
	Addr string
	// Dir holds raft.db (log and raft state) and snapshots/.
	Dir string
	// CA is the cluster CA; Cert is this node's certificate from it,
	// valid for the host of Addr, for both server and client auth, with
	// the node's ID as its common name: a node cannot join under another
	// member's name.
	CA   *x509.CertPool
	Cert tls.Certificate
	// Certs, when set, replaces CA and Cert: the node's certificate and
	// the cluster CA read from files, re-read by Node.ReloadTLS. Every
	// new connection, either way, takes what is in force at its
	// handshake.
	Certs *certs.Holder

	// ProposeTimeout bounds Propose, Join and Remove (default 5s): past
	// it they fail with LT-NO-QUORUM.
	ProposeTimeout time.Duration
	// ElectionTimeout is how long a follower waits for the leader before
	// standing for election (default raft's, 1s); the leader steps down
	// when it has not heard a majority for half of it.
	ElectionTimeout time.Duration
	// Log receives raft's warnings and errors (default stderr).
	Log io.Writer
}

// Node is one member of the cluster.
type Node struct {
	cfg   Config
	raft  *raft.Raft
	fsm   *fsm
	mux   *mux
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore

	// The copier of records a restored machine lacks (catchup.go).
	fillKick chan struct{}
	fillStop context.CancelFunc
	fillWG   sync.WaitGroup
}

// Open starts the node on its data directory, applying committed entries
// through ms. A node with no raft state is a member of nothing until
// Bootstrap (the first node) or another member's Join.
func Open(cfg Config, ms *state.Machines) (*Node, error) {
	if cfg.Certs == nil && cfg.CA != nil && len(cfg.Cert.Certificate) > 0 {
		cfg.Certs = certs.Static(cfg.Cert, cfg.CA)
	}
	if cfg.ID == "" || cfg.Dir == "" || cfg.Certs == nil || cfg.Certs.Pool() == nil {
		return nil, errors.New("cluster: a node needs an id, a data directory, the cluster CA and its certificate")
	}
	// The check holds for every certificate a reload puts in force too.
	id := cfg.ID
	if err := cfg.Certs.SetCheck(func(leaf *x509.Certificate) error {
		if leaf.Subject.CommonName != id {
			return fmt.Errorf("the node certificate names %q, not the node id %q", leaf.Subject.CommonName, id)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if cfg.ProposeTimeout <= 0 {
		cfg.ProposeTimeout = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft " + cfg.ID, Output: cfg.Log, Level: hclog.Warn})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = logger
	// A follower learns that an entry committed from the leader's next
	// append, sent at the latest every CommitTimeout. raft's 50 ms made a
	// forwarded proposal take 86 ms on loopback; 10 ms makes it 21 ms for
	// 7% of a core idle across three nodes (5 ms: 14 ms, 12%).
	rc.CommitTimeout = 10 * time.Millisecond
	if t := cfg.ElectionTimeout; t > 0 {
		rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = t, t, t/2
	}

	store, err := raftboltdb.NewBoltStore(filepath.Join(cfg.Dir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("cluster: opening the log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, logger)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("cluster: opening snapshots: %w", err)
	}
	m, err := listen(cfg.Addr, cfg.Certs)
	if err != nil {
		store.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, fsm: newFSM(ms), mux: m, store: store, fillKick: make(chan struct{}, 1)}
	n.fsm.restored = n.kickFill
	m.id = cfg.ID
	m.serve = n.serve
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: streamLayer{m}, MaxPool: 3, Timeout: 10 * time.Second, Logger: logger,
	})
	go m.run()
	if err := rewind(ms); err != nil {
		n.trans.Close()
		store.Close()
		return nil, err
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, store, store, snaps, n.trans)
	if err != nil {
		n.trans.Close()
		store.Close()
		return nil, fmt.Errorf("cluster: starting raft: %w", err)
	}
	fctx, stop := context.WithCancel(context.Background())
	n.fillStop = stop
	n.fillWG.Add(1)
	go n.filler(fctx)
	n.kickFill()
	return n, nil
}

// ReloadTLS re-reads the node's certificate, key and the cluster CA
// (Config.Certs): connections made from then on, both ways, use them;
// raft's streams and RPCs already open keep theirs. A file that does not
// parse, a key that does not match, or a certificate naming another id is
// refused with an error naming the file, and what was in force stays.
func (n *Node) ReloadTLS() error {
	if err := n.cfg.Certs.Reload(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// Addr is the address the node listens on and the others reach it at.
func (n *Node) Addr() string { return n.mux.ln.Addr().String() }

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// Bootstrap makes this node a cluster of one, its leader. On a node that
// already has raft state it does nothing, so a restarted first node can
// call it again.
func (n *Node) Bootstrap() error {
	err := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(n.cfg.ID), Address: raft.ServerAddress(n.Addr())}}}).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	return nil
}

// Shutdown stops the node without leaving the cluster: the others see it
// as down until it is opened again on the same directory or removed.
func (n *Node) Shutdown() error {
	err := n.raft.Shutdown().Error()
	n.fillStop()
	n.fillWG.Wait()
	n.trans.Close()
	n.mux.wg.Wait()
	if cerr := n.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Propose commits c and returns what this node's machine returned when it
// applied it (on a follower too: it waits until its own log has applied
// the entry). A command a machine refuses comes back as that machine's
// error, from every node alike. Past ProposeTimeout it fails with
// LT-NO-QUORUM; the command may then still be applied later, if a
// majority that has it returns.
func (n *Node) Propose(ctx context.Context, c state.Command) (any, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(entry{V: entryVersion, ID: id, Cmd: c})
	if err != nil {
		return nil, fmt.Errorf("cluster: encoding %s: %w", c.Op, err)
	}
	ch := n.fsm.wait(id)
	defer n.fsm.unwait(id)
	bctx, cancel := context.WithTimeout(ctx, n.cfg.ProposeTimeout)
	defer cancel()
	resp, err := n.onLeader(bctx, request{Op: "propose", Entry: data})
	if err != nil && !errors.Is(err, errUnknown) {
		return nil, n.failed(ctx, err)
	}
	if err == nil && resp.Err != "" && !resp.Unknown {
		return nil, respError(resp)
	}
	select {
	case r := <-ch:
		return r.val, r.err
	case <-bctx.Done():
		return nil, n.failed(ctx, bctx.Err())
	}
}

// Join adds the node listening at addr to the cluster as a voter, on the
// leader. The leader first asks that node who it is over mutual TLS, so
// a node whose certificate is not from the cluster CA is never a member.
func (n *Node) Join(ctx context.Context, addr string) error {
	return n.change(ctx, request{Op: "join", Addr: addr})
}

// Remove takes the node id out of the cluster, on the leader.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.change(ctx, request{Op: "remove", ID: id})
}

func (n *Node) change(ctx context.Context, req request) error {
	bctx, cancel := context.WithTimeout(ctx, n.cfg.ProposeTimeout)
	defer cancel()
	resp, err := n.onLeader(bctx, req)
	if err != nil {
		return n.failed(ctx, err)
	}
	if resp.Err != "" {
		return respError(resp)
	}
	return nil
}

// errUnknown: the leader may or may not commit the entry.
var errUnknown = errors.New("cluster: outcome unknown")

// onLeader runs req on the leader: here if this node leads, else over the
// RPC. It asks again while there is no leader or the one asked is not it,
// until ctx ends.
func (n *Node) onLeader(ctx context.Context, req request) (response, error) {
	for {
		var resp response
		var err error
		addr, _ := n.raft.LeaderWithID()
		switch {
		case n.raft.State() == raft.Leader:
			resp = n.handle(ctx, req)
		case addr != "":
			resp, err = n.mux.call(ctx, string(addr), req)
			if err != nil && !errors.Is(err, errNotSent) {
				return response{}, errUnknown
			}
		default:
			err = errNotSent
		}
		if err == nil && !resp.NotLeader {
			if resp.Unknown {
				return resp, errUnknown
			}
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return response{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// failed is the error of a call whose bound ran out: the caller's own
// cancellation as it is, else no quorum.
func (n *Node) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errUnknown) {
		return noQuorum(n.cfg.ProposeTimeout)
	}
	return err
}

func respError(r response) error {
	if r.Code != "" {
		return &Error{Code: r.Code, Msg: r.Err}
	}
	return errors.New(r.Err)
}

// serve answers one RPC connection.
func (n *Node) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(n.cfg.ProposeTimeout + handshakeTimeout))
	var req request
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ProposeTimeout)
	defer cancel()
	json.NewEncoder(c).Encode(n.handle(ctx, req))
}

// handle runs one request here; the leader's ops answer NotLeader on a
// follower, which did nothing.
func (n *Node) handle(ctx context.Context, req request) response {
	switch req.Op {
	case "whoami":
		return response{ID: n.cfg.ID}
	case "status":
		c := n.counter()
		return response{ID: n.cfg.ID, Self: &c}
	case "add":
		return n.add(ctx, req.Addr)
	case "records":
		return n.records(req)
	}
	if n.raft.State() != raft.Leader {
		return response{NotLeader: true}
	}
	timeout := time.Until(deadline(ctx))
	switch req.Op {
	case "propose":
		f := n.raft.Apply(req.Entry, timeout)
		switch err := wait(ctx, f); {
		case err == nil:
			return response{Index: f.Index()}
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout):
			return response{NotLeader: true}
		default:
			return response{Unknown: true, Err: err.Error()}
		}
	case "join":
		who, err := n.mux.call(ctx, req.Addr, request{Op: "whoami"})
		if err != nil || who.ID == "" {
			return response{Err: fmt.Sprintf("cluster: the node at %s did not prove itself a member of this cluster: %v", req.Addr, err)}
		}
		if who.Peer != who.ID {
			return response{Err: fmt.Sprintf("cluster: the node at %s says it is %q but its certificate names %q", req.Addr, who.ID, who.Peer)}
		}
		return n.changed(ctx, n.raft.AddVoter(raft.ServerID(who.ID), raft.ServerAddress(req.Addr), 0, timeout))
	case "remove":
		return n.changed(ctx, n.raft.RemoveServer(raft.ServerID(req.ID), 0, timeout))
	}
	return response{Err: fmt.Sprintf("cluster: unknown request %q", req.Op)}
}

func (n *Node) changed(ctx context.Context, f raft.IndexFuture) response {
	switch err := wait(ctx, f); {
	case err == nil:
		return response{Index: f.Index()}
	case errors.Is(err, raft.ErrNotLeader):
		return response{NotLeader: true}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, raft.ErrLeadershipLost):
		return response{Code: CodeNoQuorum, Err: noQuorum(n.cfg.ProposeTimeout).(*Error).Msg}
	default:
		return response{Err: "cluster: membership change: " + err.Error()}
	}
}

// wait is f.Error() bounded by ctx (a leader without a quorum keeps the
// future open until it steps down).
func wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func deadline(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(5 * time.Second)
}

func (n *Node) counter() counter {
	term, _ := strconv.ParseUint(n.raft.Stats()["term"], 10, 64)
	return counter{State: n.raft.State().String(), Term: term, Commit: n.raft.CommitIndex(), Applied: n.raft.AppliedIndex(), LastLog: n.raft.LastIndex()}
}

// Member is one node of the membership as Status sees it.
type Member struct {
	ID     string `json:"id"`
	Addr   string `json:"addr"`
	Voter  bool   `json:"voter"`
	Leader bool   `json:"leader"`
	// Reachable: it answered this node's status call; Applied and Lag
	// are known only then.
	Reachable bool   `json:"reachable"`
	State     string `json:"state,omitempty"`
	Applied   uint64 `json:"applied,omitempty"`
	// Lag is how many committed entries it has yet to apply: the highest
	// commit index any member reported minus its applied index.
	Lag uint64 `json:"lag"`
}

// Status is the cluster as one node sees it.
type Status struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Leader   string `json:"leader"` // id, "" when none is known
	Term     uint64 `json:"term"`
	Commit   uint64 `json:"commit"`
	Applied  uint64 `json:"applied"`
	LastLog  uint64 `json:"last_log"`
	Snapshot uint64 `json:"snapshot"` // index of the last snapshot taken or installed
	// Missing is how many machines (the audit chain) still lack records
	// after this node installed a snapshot: it is copying them from a
	// member. Its audit file is complete when it is 0.
	Missing uint64   `json:"missing,omitempty"`
	Members []Member `json:"members"`
}

// Status reports this node's view and asks each member for its progress
// (each within a second; a member that does not answer is unreachable).
func (n *Node) Status(ctx context.Context) (Status, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return Status{}, fmt.Errorf("cluster: %w", err)
	}
	self := n.counter()
	snap, _ := strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
	_, leader := n.raft.LeaderWithID()
	st := Status{ID: n.cfg.ID, State: self.State, Leader: string(leader), Term: self.Term, Commit: self.Commit, Applied: self.Applied, LastLog: self.LastLog, Snapshot: snap, Missing: n.Missing()}
	top := self.Commit
	for _, s := range f.Configuration().Servers {
		m := Member{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter, Leader: s.ID == leader}
		if m.ID == n.cfg.ID {
			m.Reachable, m.State, m.Applied = true, self.State, self.Applied
		} else {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			r, err := n.mux.call(cctx, m.Addr, request{Op: "status"})
			cancel()
			if err == nil && r.Self != nil && r.ID == m.ID {
				m.Reachable, m.State, m.Applied = true, r.Self.State, r.Self.Applied
				top = max(top, r.Self.Commit)
			}
		}
		st.Members = append(st.Members, m)
	}
	for i := range st.Members {
		if m := &st.Members[i]; m.Reachable && top > m.Applied {
			m.Lag = top - m.Applied
		}
	}
	return st, nil
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
