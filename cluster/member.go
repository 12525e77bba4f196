package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// What a node that is starting needs: to ask a member to add it, to know
// whether it already is one, and whether it can reach a majority now.

// AskToJoin asks the member at addr to add this node (as Join would, on
// the leader): the way a new node gets in, since it knows no leader yet.
// The member proves this node's certificate before adding it.
func (n *Node) AskToJoin(ctx context.Context, member string) error {
	bctx, cancel := context.WithTimeout(ctx, n.cfg.ProposeTimeout)
	defer cancel()
	resp, err := n.mux.call(bctx, member, request{Op: "add", Addr: n.Addr()})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cluster: asking %s to add this node: %w", member, err)
	}
	if resp.Err != "" {
		return respError(resp)
	}
	return nil
}

// add runs Join for a node that asked to be added (over the RPC).
func (n *Node) add(ctx context.Context, addr string) response {
	err := n.Join(ctx, addr)
	var ce *Error
	switch {
	case err == nil:
		return response{}
	case errors.As(err, &ce):
		return response{Code: ce.Code, Err: ce.Msg}
	default:
		return response{Err: err.Error()}
	}
}

// Member reports whether this node is in the membership it knows (from
// its own log): a node restarted on its directory need not join again.
func (n *Node) Member() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == n.cfg.ID {
			return true
		}
	}
	return false
}

// Quorum is nil while this node can reach a majority as far as it can
// tell cheaply: it leads (a leader steps down when it has not heard a
// majority for its lease), or it knows a leader and heard from it
// recently. Otherwise it is an LT-NO-QUORUM error saying what it sees.
func (n *Node) Quorum() error {
	if n.raft.State() == raft.Leader {
		return nil
	}
	_, leader := n.raft.LeaderWithID()
	recent := n.electionTimeout() * 2
	if leader != "" && time.Since(n.raft.LastContact()) < recent {
		return nil
	}
	msg := "no quorum: this node knows no leader"
	if leader != "" {
		msg = fmt.Sprintf("no quorum: this node has not heard from the leader (%s) for over %s", leader, recent)
	}
	return &Error{Code: CodeNoQuorum, Msg: msg}
}

func (n *Node) electionTimeout() time.Duration {
	if n.cfg.ElectionTimeout > 0 {
		return n.cfg.ElectionTimeout
	}
	return raft.DefaultConfig().ElectionTimeout
}
