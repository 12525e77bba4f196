// Package state is the one way a node's shared state changes: the audit
// chain, the access policy and (next) the catalog, principals, tokens and
// privacy budgets. Every change is a Command proposed to a Store and
// applied by the Machine that owns its part, in one order. A Command
// carries everything its application needs, the proposer's clock
// included, so a Machine's Apply is deterministic: the same commands in
// the same order give the same state on every node. Machines routes them
// to their machine; Local applies them in process, and package cluster
// replicates them to a quorum with raft first and applies them through
// Machines on every node (hashicorp/raft's FSM contract: Apply, Snapshot,
// Restore).
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Command is one change. Op is "<machine>.<verb>", e.g. "audit.append".
type Command struct {
	Op string `json:"op"`
	// Time is the proposer's clock when it proposed; Apply never reads a
	// clock of its own.
	Time time.Time       `json:"time"`
	Body json.RawMessage `json:"body,omitempty"`
}

// New makes a command with body encoded as JSON.
func New(op string, t time.Time, body any) (Command, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Command{}, fmt.Errorf("state: encoding %s: %w", op, err)
	}
	return Command{Op: op, Time: t.UTC(), Body: b}, nil
}

// Machine owns one part of the state.
//
// Apply must be deterministic: it reads only the command and the
// machine's own state (no clock, no randomness, no network), and a command
// it refuses leaves the state as it was. What it returns goes back to the
// proposer on the node that proposed it.
//
// Snapshot captures the whole part; Restore replaces it with a snapshot,
// after which Apply continues as if every command so far had been applied.
type Machine interface {
	Apply(c Command) (any, error)
	Snapshot() ([]byte, error)
	Restore(snapshot []byte) error
}

// ErrNoQuorum is what a Store that replicates wraps when it could not
// commit a command within its bound because it cannot reach a majority.
// Callers fail closed and say so (LT-NO-QUORUM) without knowing how the
// store replicates.
var ErrNoQuorum = errors.New("no quorum")

// Store takes commands and applies them, in one order, with the machine
// registered for their prefix. Propose returns once the command is applied
// on this node, with what Apply returned.
type Store interface {
	Propose(ctx context.Context, c Command) (any, error)
}

// Machines routes each command to the machine registered for its
// prefix, and snapshots and restores them all as one state. Local applies
// through it in process; the raft FSM of package cluster applies the
// replicated log through it. Its mutex makes one Apply, Snapshot or
// Restore at a time, so a snapshot never sees half a command.
type Machines struct {
	mu       sync.Mutex
	machines map[string]Machine
}

// NewMachines makes an empty router.
func NewMachines() *Machines { return &Machines{machines: map[string]Machine{}} }

// Register routes commands "<prefix>.*" to m.
func (ms *Machines) Register(prefix string, m Machine) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if _, dup := ms.machines[prefix]; dup {
		panic("state: two machines for " + prefix)
	}
	ms.machines[prefix] = m
}

// Apply applies c with the machine of its prefix.
func (ms *Machines) Apply(c Command) (any, error) {
	prefix, _, _ := strings.Cut(c.Op, ".")
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m := ms.machines[prefix]
	if m == nil {
		return nil, fmt.Errorf("state: no machine for command %q", c.Op)
	}
	return m.Apply(c)
}

// Snapshot captures every machine, by prefix (a JSON object, keys in
// order, so equal states give equal bytes).
func (ms *Machines) Snapshot() ([]byte, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	parts := map[string]json.RawMessage{}
	for _, p := range ms.prefixes() {
		b, err := ms.machines[p].Snapshot()
		if err != nil {
			return nil, fmt.Errorf("state: snapshot of %s: %w", p, err)
		}
		parts[p] = b
	}
	return json.Marshal(parts)
}

// Restore gives every machine its part of snapshot; a machine the snapshot
// has no part for is left as it is.
func (ms *Machines) Restore(snapshot []byte) error {
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(snapshot, &parts); err != nil {
		return fmt.Errorf("state: reading snapshot: %w", err)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for p := range parts {
		if ms.machines[p] == nil {
			return fmt.Errorf("state: snapshot has a part %q no machine owns", p)
		}
	}
	for p, b := range parts {
		if err := ms.machines[p].Restore(b); err != nil {
			return fmt.Errorf("state: restoring %s: %w", p, err)
		}
	}
	return nil
}

// Registered is every machine by its prefix, for a store that does more
// with a machine than route commands (package cluster copies what a
// restored machine lacks from a member).
func (ms *Machines) Registered() map[string]Machine {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	out := make(map[string]Machine, len(ms.machines))
	for p, m := range ms.machines {
		out[p] = m
	}
	return out
}

func (ms *Machines) prefixes() []string {
	out := make([]string, 0, len(ms.machines))
	for p := range ms.machines {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Local is the Store of a node on its own: commands are applied in
// process, one at a time, in the order they arrive. Durability is each
// machine's (the audit chain fsyncs its file before Apply returns).
type Local struct {
	ms *Machines
}

// NewLocal makes an empty local store.
func NewLocal() *Local { return &Local{ms: NewMachines()} }

// NewLocalOn makes a local store over machines already registered.
func NewLocalOn(ms *Machines) *Local { return &Local{ms: ms} }

// Register routes commands "<prefix>.*" to m.
func (l *Local) Register(prefix string, m Machine) { l.ms.Register(prefix, m) }

// Propose applies c.
func (l *Local) Propose(ctx context.Context, c Command) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.ms.Apply(c)
}

// Snapshot captures every machine, by prefix.
func (l *Local) Snapshot() ([]byte, error) { return l.ms.Snapshot() }

// Restore gives every machine its part of snapshot.
func (l *Local) Restore(snapshot []byte) error { return l.ms.Restore(snapshot) }
