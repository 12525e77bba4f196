package cluster

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"lienthong/state"
)

// Backfiller is a machine whose snapshot is smaller than its state: the
// audit chain snapshots only its head and keeps its records in its own
// file. After a node restores a snapshot, the machine may lack records
// before that head; the node copies them from a member that has them.
// The machine checks what it is given (the records must chain to the
// head it was restored to), so the bytes may come from any member; the
// node only moves them.
type Backfiller interface {
	// Missing is the range of records, from..to inclusive, it wants
	// copied next (ok false when it lacks none).
	Missing() (from, to uint64, ok bool)
	// Records is what it holds from seq from through to, about maxBytes
	// at most, in the form Fill takes.
	Records(from, to uint64, maxBytes int) ([]byte, error)
	// Fill takes records Records gave on another member.
	Fill(data []byte) error
}

// Rewinder is a machine whose state when a node opens is not its state
// before any command (the audit chain continues its file, the privacy
// ledger keeps its charges): raft is about
// to restore the last snapshot, if any, and apply the log after it, so
// the node first puts the machine back at its start.
type Rewinder interface{ Rewind() error }

// rewind readies the machines for raft's replay; before raft starts.
func rewind(ms *state.Machines) error {
	for p, m := range ms.Registered() {
		if r, ok := m.(Rewinder); ok {
			if err := r.Rewind(); err != nil {
				return fmt.Errorf("cluster: rewinding %s before the log's replay: %w", p, err)
			}
		}
	}
	return nil
}

// fillChunk bounds one copy call: about 4 MB of records (some 8,000
// audit records), so a long gap is many short calls.
const fillChunk = 4 << 20

// backfillers are the node's machines that can lack records, by prefix.
func (n *Node) backfillers() map[string]Backfiller {
	out := map[string]Backfiller{}
	for p, m := range n.fsm.ms.Registered() {
		if b, ok := m.(Backfiller); ok {
			out[p] = b
		}
	}
	return out
}

// Missing is how many machines still lack records after installing a
// snapshot (0 when every record is in place).
func (n *Node) Missing() uint64 {
	var total uint64
	for _, b := range n.backfillers() {
		if _, _, ok := b.Missing(); ok {
			total++
		}
	}
	return total
}

// kickFill wakes the copier (after a restore, or at start).
func (n *Node) kickFill() {
	select {
	case n.fillKick <- struct{}{}:
	default:
	}
}

// filler copies what the machines lack, whenever a restore leaves a gap,
// retrying every second while no member can give it, until the node stops.
func (n *Node) filler(ctx context.Context) {
	defer n.fillWG.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var said time.Time // the log hears of a failing copy once a minute
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.fillKick:
		case <-tick.C:
		}
		for p, b := range n.backfillers() {
			if err := n.fill(ctx, p, b); err != nil && ctx.Err() == nil && time.Since(said) > time.Minute {
				said = time.Now()
				n.logf("copying the %s records this node lacks: %v (trying again every second)", p, err)
			}
		}
	}
}

// fill copies machine p's missing records from the members, the leader
// first, until it lacks none. A member that does not have them, or whose
// records the machine refuses, is passed over for the next; it fails when
// none gives what is wanted.
func (n *Node) fill(ctx context.Context, p string, b Backfiller) error {
	for {
		from, to, ok := b.Missing()
		if !ok {
			return nil
		}
		var lastErr error
		took := false
		for _, addr := range n.peers() {
			cctx, cancel := context.WithTimeout(ctx, n.cfg.ProposeTimeout+handshakeTimeout)
			resp, err := n.mux.call(cctx, addr, request{Op: "records", ID: p, From: from, To: to})
			cancel()
			switch {
			case err != nil:
				lastErr = err
			case resp.Err != "":
				lastErr = fmt.Errorf("%s: %s", addr, resp.Err)
			case len(resp.Data) == 0:
				lastErr = fmt.Errorf("%s holds no record %d", addr, from)
			default:
				if err := b.Fill(resp.Data); err != nil {
					lastErr = fmt.Errorf("records %d..%d from %s: %w", from, to, addr, err)
				} else {
					took = true
				}
			}
			if took {
				break
			}
		}
		if !took {
			if lastErr == nil {
				lastErr = fmt.Errorf("no member to copy records %d..%d from", from, to)
			}
			return lastErr
		}
	}
}

// peers are the other members' addresses, the leader first.
func (n *Node) peers() []string {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	leader, _ := n.raft.LeaderWithID()
	var out []string
	for _, s := range f.Configuration().Servers {
		if string(s.ID) != n.cfg.ID {
			out = append(out, string(s.Address))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return raft.ServerAddress(out[i]) == leader && raft.ServerAddress(out[j]) != leader
	})
	return out
}

// records answers a member's copy call from this node's machine.
func (n *Node) records(req request) response {
	b := n.backfillers()[req.ID]
	if b == nil {
		return response{Err: fmt.Sprintf("cluster: no machine %q keeps records", req.ID)}
	}
	data, err := b.Records(req.From, req.To, fillChunk)
	if err != nil {
		return response{Err: err.Error()}
	}
	return response{Data: data}
}

func (n *Node) logf(format string, args ...any) {
	fmt.Fprintf(n.cfg.Log, "cluster %s: %s\n", n.cfg.ID, fmt.Sprintf(format, args...))
}
