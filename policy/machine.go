package policy

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"lienthong/state"
)

// OpSet replaces the policy in force with a whole policy file.
const OpSet = "policy.set"

// SetBody is an OpSet command's body: the file's text and the name its
// errors cite.
type SetBody struct {
	Path string `json:"path"`
	Text string `json:"text"`
	// Seed: put it in force only if no policy is (a node's own file at
	// start; in a cluster the policy in force stays). It is checked all
	// the same, so a broken file is refused either way.
	Seed bool `json:"seed,omitempty"`
}

// SetCommand is the command that puts the policy file text in force.
func SetCommand(at time.Time, path string, text []byte) (state.Command, error) {
	return state.New(OpSet, at, SetBody{Path: path, Text: string(text)})
}

// SeedCommand is SetCommand that changes nothing when a policy is already
// in force.
func SeedCommand(at time.Time, path string, text []byte) (state.Command, error) {
	return state.New(OpSet, at, SetBody{Path: path, Text: string(text), Seed: true})
}

// Machine holds the policy in force as a state.Machine. Apply checks the
// whole file and refuses it with its first error (file and line), leaving
// the policy in force as it was. Keys are references (an environment
// variable or a file) that Apply resolves on each node: secrets never
// travel in a command.
type Machine struct {
	cur atomic.Pointer[Policy]

	mu   sync.Mutex // body, for snapshots
	body SetBody
}

// Current is the policy in force, nil when none was set.
func (m *Machine) Current() *Policy { return m.cur.Load() }

// File is the policy file in force, as it was proposed (its path and
// text); empty when none is.
func (m *Machine) File() (path, text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.body.Path, m.body.Text
}

// Apply puts an OpSet command's policy in force.
func (m *Machine) Apply(c state.Command) (any, error) {
	if c.Op != OpSet {
		return nil, fmt.Errorf("policy: unknown command %q", c.Op)
	}
	var b SetBody
	if err := json.Unmarshal(c.Body, &b); err != nil {
		return nil, fmt.Errorf("policy: reading %s: %w", c.Op, err)
	}
	return m.set(b)
}

func (m *Machine) set(b SetBody) (*Policy, error) {
	p, err := Parse(b.Path, []byte(b.Text))
	if err != nil {
		return nil, err
	}
	if b.Seed {
		if cur := m.cur.Load(); cur != nil {
			return cur, nil
		}
	}
	b.Seed = false
	m.mu.Lock()
	m.body = b
	m.mu.Unlock()
	m.cur.Store(p)
	return p, nil
}

// Snapshot is the policy file in force.
func (m *Machine) Snapshot() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return json.Marshal(m.body)
}

// Restore puts a snapshot's policy in force (an empty one: none).
func (m *Machine) Restore(b []byte) error {
	var body SetBody
	if err := json.Unmarshal(b, &body); err != nil {
		return fmt.Errorf("policy: reading snapshot: %w", err)
	}
	if body.Text == "" && body.Path == "" {
		m.mu.Lock()
		m.body = body
		m.mu.Unlock()
		m.cur.Store(nil)
		return nil
	}
	_, err := m.set(body)
	return err
}
