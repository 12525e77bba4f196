package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"lienthong/state"
)

// The formats of what raft stores. A node refuses an entry or a snapshot
// of a version it does not know rather than guess: a rolling upgrade
// teaches every node the new version before any proposes it.
const (
	entryVersion    = 1
	snapshotVersion = 1
)

// entry is one raft log entry: a command and the id its proposer waits
// for. The id is what lets a follower that forwarded a command hand its
// caller what its own Apply returned for it.
type entry struct {
	V   int           `json:"v"`
	ID  string        `json:"id"`
	Cmd state.Command `json:"cmd"`
}

// result is what Apply returned for one entry.
type result struct {
	val any
	err error
}

// snapshotFile is the whole replicated state: every machine's part.
type snapshotFile struct {
	Version int `json:"version"`
	// Index is the last command entry the state includes.
	Index    uint64          `json:"index"`
	Machines json.RawMessage `json:"machines"`
}

// fsm applies the replicated log through the machines. raft calls Apply,
// Snapshot and Restore from one goroutine; the machines never learn that
// the commands came through raft.
type fsm struct {
	ms *state.Machines
	// applied is the index of the last command entry applied. raft's own
	// AppliedIndex counts entries handed to the FSM, which may not have
	// applied them yet.
	applied atomic.Uint64

	mu      sync.Mutex
	waiters map[string]chan result // by entry id, proposals made on this node

	// restored is told after each Restore: a machine may now lack
	// records its snapshot does not carry (catchup.go).
	restored func()
}

func newFSM(ms *state.Machines) *fsm { return &fsm{ms: ms, waiters: map[string]chan result{}} }

// wait registers a proposal before it is sent, so its result cannot be
// applied before anyone listens.
func (f *fsm) wait(id string) <-chan result {
	ch := make(chan result, 1)
	f.mu.Lock()
	f.waiters[id] = ch
	f.mu.Unlock()
	return ch
}

func (f *fsm) unwait(id string) {
	f.mu.Lock()
	delete(f.waiters, id)
	f.mu.Unlock()
}

// Apply applies one committed entry. An entry that does not decode is a
// refused command (the same refusal on every node), not a crash.
func (f *fsm) Apply(l *raft.Log) any {
	var e entry
	var r result
	if err := json.Unmarshal(l.Data, &e); err != nil {
		r.err = fmt.Errorf("cluster: log entry %d: %w", l.Index, err)
	} else if e.V != entryVersion {
		r.err = fmt.Errorf("cluster: log entry %d has format version %d; this node knows %d", l.Index, e.V, entryVersion)
	} else {
		r.val, r.err = f.ms.Apply(e.Cmd)
	}
	f.applied.Store(l.Index)
	f.mu.Lock()
	ch := f.waiters[e.ID]
	delete(f.waiters, e.ID)
	f.mu.Unlock()
	if ch != nil {
		ch <- r
	}
	return r
}

// Snapshot captures every machine at once; raft persists it meanwhile.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	b, err := f.ms.Snapshot()
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(snapshotFile{Version: snapshotVersion, Index: f.applied.Load(), Machines: b})
	if err != nil {
		return nil, err
	}
	return snapshotBytes(out), nil
}

// Restore replaces every machine's state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("cluster: reading snapshot: %w", err)
	}
	var s snapshotFile
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("cluster: reading snapshot: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("cluster: snapshot has format version %d; this node knows %d", s.Version, snapshotVersion)
	}
	if err := f.ms.Restore(s.Machines); err != nil {
		return err
	}
	f.applied.Store(s.Index)
	if f.restored != nil {
		f.restored()
	}
	return nil
}

type snapshotBytes []byte

func (s snapshotBytes) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshotBytes) Release() {}
