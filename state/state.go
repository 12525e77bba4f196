// Package state is the one way a node's shared state changes: the audit
// chain, the access policy and (next) the catalog, principals, tokens and
// privacy budgets. Every change is a Command proposed to a Store and
// applied by the Machine that owns its part, in one order. A Command
// carries everything its application needs, the proposer's clock
// included, so a Machine's Apply is deterministic: the same commands in
// the same order give the same state on every node. Local applies them in
// process; a raft store will replicate them to a quorum first and apply
// them on every node (hashicorp/raft's FSM contract: Apply, Snapshot,
// Restore).
package state

import (
	"context"
	"encoding/json"
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

// Store takes commands and applies them, in one order, with the machine
// registered for their prefix. Propose returns once the command is applied
// on this node, with what Apply returned.
type Store interface {
	Propose(ctx context.Context, c Command) (any, error)
}

// Local is the Store of a node on its own: commands are applied in
// process, one at a time, in the order they arrive. Durability is each
// machine's (the audit chain fsyncs its file before Apply returns).
type Local struct {
	mu       sync.Mutex
	machines map[string]Machine
}

// NewLocal makes an empty local store.
func NewLocal() *Local { return &Local{machines: map[string]Machine{}} }

// Register routes commands "<prefix>.*" to m.
func (l *Local) Register(prefix string, m Machine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.machines[prefix]; dup {
		panic("state: two machines for " + prefix)
	}
	l.machines[prefix] = m
}

// Propose applies c.
func (l *Local) Propose(ctx context.Context, c Command) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix, _, _ := strings.Cut(c.Op, ".")
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.machines[prefix]
	if m == nil {
		return nil, fmt.Errorf("state: no machine for command %q", c.Op)
	}
	return m.Apply(c)
}

// Snapshot captures every machine, by prefix.
func (l *Local) Snapshot() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	parts := map[string]json.RawMessage{}
	for _, p := range l.prefixes() {
		b, err := l.machines[p].Snapshot()
		if err != nil {
			return nil, fmt.Errorf("state: snapshot of %s: %w", p, err)
		}
		parts[p] = b
	}
	return json.Marshal(parts)
}

// Restore gives every machine its part of snapshot; a machine the snapshot
// has no part for is left as it is.
func (l *Local) Restore(snapshot []byte) error {
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(snapshot, &parts); err != nil {
		return fmt.Errorf("state: reading snapshot: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, b := range parts {
		m := l.machines[p]
		if m == nil {
			return fmt.Errorf("state: snapshot has a part %q no machine owns", p)
		}
		if err := m.Restore(b); err != nil {
			return fmt.Errorf("state: restoring %s: %w", p, err)
		}
	}
	return nil
}

func (l *Local) prefixes() []string {
	out := make([]string, 0, len(l.machines))
	for p := range l.machines {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
