package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lienthong/state"
)

func openMachine(t *testing.T) (*Machine, *FileStore) {
	t.Helper()
	fs, err := OpenFileStore(filepath.Join(t.TempDir(), "audit.log"), FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return NewMachine(fs), fs
}

func appendCmd(t *testing.T, at time.Time, recs ...*Record) state.Command {
	t.Helper()
	c, err := state.New(OpAppend, at, recs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The FSM contract: the same commands give the same records, byte for
// byte, on two nodes; times come from the commands and never go back; a
// restored head continues the chain.
func TestMachineIsDeterministic(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	cmds := []state.Command{
		appendCmd(t, t0, &Record{Kind: KindOpen, Node: "n1", Format: Format}),
		appendCmd(t, t0.Add(time.Second), &Record{Kind: KindBegin, Node: "n1", Attempt: "a", SQL: "SELECT 1"}, &Record{Kind: KindEnd, Node: "n1", Attempt: "a", Outcome: "succeeded"}),
		appendCmd(t, t0.Add(-time.Hour), &Record{Kind: KindEnd, Node: "n2", Attempt: "b", Outcome: "denied", Code: "LT-DENIED"}), // a proposer with a slow clock
	}
	var logs [2][]byte
	for i := range logs {
		m, fs := openMachine(t)
		var buf bytes.Buffer
		for _, c := range cmds {
			res, err := m.Apply(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.([]*Record) {
				buf.Write(r.Raw)
			}
		}
		if m.Seq() != 4 || fs.Last().Seq != 4 {
			t.Fatalf("seq %d, stored %d; want 4", m.Seq(), fs.Last().Seq)
		}
		if got := fs.Last().Time; !got.Equal(t0.Add(time.Second)) {
			t.Fatalf("a command from a slower clock moved time back to %v", got)
		}
		logs[i] = buf.Bytes()
	}
	if !bytes.Equal(logs[0], logs[1]) {
		t.Fatalf("two machines sealed the same commands differently:\n%s\n%s", logs[0], logs[1])
	}

	// Restore a fresh machine from the first one's snapshot: its next
	// record links to the same head.
	a, _ := openMachine(t)
	for _, c := range cmds {
		if _, err := a.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := openMachine(t)
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	next := appendCmd(t, t0.Add(2*time.Second), &Record{Kind: KindClose, Node: "n1"})
	ra, err := a.Apply(next)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Apply(next)
	if err != nil {
		t.Fatal(err)
	}
	if x, y := ra.([]*Record)[0], rb.([]*Record)[0]; x.Seq != 5 || x.Hash != y.Hash || x.Prev != y.Prev {
		t.Fatalf("after restore: seq %d/%d prev %s/%s", x.Seq, y.Seq, x.Prev, y.Prev)
	}

	// A command it cannot read changes nothing.
	if _, err := a.Apply(state.Command{Op: OpAppend, Time: t0, Body: []byte(`{"not":"records"}`)}); err == nil {
		t.Fatal("a malformed append was applied")
	}
	if a.Seq() != 5 {
		t.Fatalf("a refused command moved the head to %d", a.Seq())
	}
}

// Chain proposes through the state store: what it returns to the caller
// is what the machine sealed.
func TestChainSealsThroughTheMachine(t *testing.T) {
	fs, err := OpenFileStore(filepath.Join(t.TempDir(), "audit.log"), FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c := NewChain(fs, "n1", func() time.Time { return at })
	r := &Record{Kind: KindOpen}
	if err := c.Append(r); err != nil {
		t.Fatal(err)
	}
	last := fs.Last()
	if r.Seq != 1 || r.Hash != last.Hash || !bytes.Equal(r.Raw, last.Raw) || !r.Time.Equal(at) || r.Node != "n1" {
		t.Fatalf("caller's record %+v, stored %+v", r, last)
	}
	if _, err := c.state.Propose(context.Background(), state.Command{Op: "policy.set"}); err == nil {
		t.Fatal("the chain's store applied a command no machine owns")
	}
}

// A replicated log replays the commands after its last snapshot into a
// machine restored from it, while the file kept what they wrote: the
// records are not written twice, the chain goes on after them, and a
// replayed command that does not match the file is refused.
func TestReplayAfterRestartWritesNothingTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	fs, err := OpenFileStore(path, FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	cmds := []state.Command{
		appendCmd(t, t0, &Record{Kind: KindOpen, Node: "n1", Format: Format}),
		appendCmd(t, t0.Add(time.Second), &Record{Kind: KindBegin, Node: "n1", Attempt: "a"}, &Record{Kind: KindEnd, Node: "n1", Attempt: "a", Outcome: "succeeded"}),
		appendCmd(t, t0.Add(2*time.Second), &Record{Kind: KindEnd, Node: "n2", Attempt: "b", Outcome: "denied"}),
	}
	m := NewMachine(fs)
	var snap []byte
	for i, c := range cmds {
		if _, err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if snap, err = m.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	fs.Close()
	before, _ := os.ReadFile(path)

	// Restart: the file has 4 records, the snapshot's head is record 1,
	// and the log replays commands 2 and 3.
	fs, err = OpenFileStore(path, FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	r := NewMachine(fs)
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds[1:] {
		if _, err := r.Apply(c); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) || r.Seq() != 4 {
		t.Fatalf("replay changed the file (%d -> %d bytes) or the head (%d)", len(before), len(after), r.Seq())
	}
	next := appendCmd(t, t0.Add(3*time.Second), &Record{Kind: KindClose, Node: "n1"})
	res, err := r.Apply(next)
	if err != nil || res.([]*Record)[0].Seq != 5 || fs.Last().Seq != 5 {
		t.Fatalf("after replay the chain does not go on at 5: %v", err)
	}

	// A replay that is not what the file holds is refused.
	s, _ := OpenFileStore(filepath.Join(t.TempDir(), "other.log"), FileOptions{NoSync: true})
	defer s.Close()
	o := NewMachine(s)
	for _, c := range cmds {
		if _, err := o.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Restore(snap); err != nil {
		t.Fatal(err)
	}
	forged := appendCmd(t, t0.Add(time.Second), &Record{Kind: KindBegin, Node: "n1", Attempt: "forged"})
	if _, err := o.Apply(forged); !errors.Is(err, ErrTampered) {
		t.Fatalf("a replay that differs from the file: %v", err)
	}
}

// A machine restored from a snapshot whose store ends before the head
// lacks the records in between: it says which, takes them copied from a
// member only when they lead to the head, writes what it sealed
// meanwhile after them, and ends with the member's file byte for byte;
// with a small memory bound too, where the records are fetched twice
// (proven backwards, then written forwards).
func TestFillAfterRestoreCopiesTheMissingRecords(t *testing.T) {
	for _, keep := range []int{fillKeep, 3000} {
		t.Run(fmt.Sprintf("keep %d", keep), func(t *testing.T) {
			defer func(k int, r uint64) { fillKeep, fillRecords = k, r }(fillKeep, fillRecords)
			fillKeep, fillRecords = keep, 7
			testFill(t)
		})
	}
}

func testFill(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	a, afs := openMachine(t)
	for i := range 40 {
		if _, err := a.Apply(appendCmd(t, t0.Add(time.Duration(i)*time.Second), &Record{Kind: KindBegin, Node: "n1", Attempt: "a"}, &Record{Kind: KindEnd, Node: "n1", Attempt: "a", Outcome: "succeeded"})); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, bfs := openMachine(t)
	if _, _, ok := b.Missing(); ok {
		t.Fatal("a fresh machine says it lacks records")
	}
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if from, to, ok := b.Missing(); !ok || from != 80-fillRecords+1 || to != 80 {
		t.Fatalf("missing %d..%d (%v), want the last %d of 1..80", from, to, ok, fillRecords)
	}
	// It goes on sealing while it lacks them; nothing reaches its file.
	next := appendCmd(t, t0.Add(time.Hour), &Record{Kind: KindClose, Node: "n2"})
	for _, m := range []*Machine{a, b} {
		if _, err := m.Apply(next); err != nil {
			t.Fatal(err)
		}
	}
	if bfs.Last() != nil {
		t.Fatal("records were written into a file with a hole before them")
	}
	// A member whose file ends before the head (it lacks the records
	// too) is told so; another is asked.
	short, _ := openMachine(t)
	for i := range 39 {
		if _, err := short.Apply(appendCmd(t, t0.Add(time.Duration(i)*time.Second), &Record{Kind: KindBegin, Node: "n1", Attempt: "a"}, &Record{Kind: KindEnd, Node: "n1", Attempt: "a", Outcome: "succeeded"})); err != nil {
			t.Fatal(err)
		}
	}
	from, to, _ := b.Missing()
	if chunk, _ := short.Records(from, to, 1<<20); len(chunk) == 0 {
		t.Fatal("the short member gave nothing")
	} else if err := b.Fill(chunk); err == nil {
		t.Fatal("a member that lacks the records was taken for a size bound")
	}
	if f, tt, _ := b.Missing(); f != from || tt != to {
		t.Fatalf("a short answer moved the wanted range to %d..%d from %d..%d", f, tt, from, to)
	}
	// A member that changes a record is refused, whichever pass it lies
	// in, and nothing of what it sent is written.
	forge := func(from, to uint64) []byte {
		chunk, err := a.Records(from, to, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Replace(chunk, []byte(`"outcome":"succeeded"`), []byte(`"outcome":"denied"`), 1)
	}
	lied, forward := 0, 0
	for calls := 0; ; calls++ {
		from, to, ok := b.Missing()
		if !ok {
			break
		}
		if calls > 1000 {
			t.Fatal("the fill does not end")
		}
		before := bfs.Size()
		if calls%3 == 1 {
			if f := forge(from, to); bytes.Contains(f, []byte(`"denied"`)) {
				if err := b.Fill(f); !errors.Is(err, ErrTampered) || bfs.Size() != before {
					t.Fatalf("forged records %d..%d: %v (file %d -> %d bytes)", from, to, err, before, bfs.Size())
				}
				lied++
				continue
			}
		}
		if b.gap.done {
			forward++
		}
		chunk, err := a.Records(from, to, 1<<20)
		if err != nil || len(chunk) == 0 {
			t.Fatalf("records %d..%d: %v (%d bytes)", from, to, err, len(chunk))
		}
		if err := b.Fill(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if lied == 0 {
		t.Fatal("no forged chunk was tried")
	}
	if (fillKeep < 10000) != (forward > 0) {
		t.Fatalf("%d chunks fetched again forwards with %d bytes kept", forward, fillKeep)
	}
	ab, _ := os.ReadFile(afs.path)
	bb, _ := os.ReadFile(bfs.path)
	if len(ab) == 0 || !bytes.Equal(ab, bb) {
		t.Fatalf("after the fill the files differ (%d and %d bytes)", len(ab), len(bb))
	}
	if b.Seq() != 81 || bfs.Last().Seq != 81 {
		t.Fatalf("head %d, stored %d, want 81", b.Seq(), bfs.Last().Seq)
	}
}

// A failed write (a full disk) leaves the head behind the other nodes':
// the machine refuses to be snapshotted, so the stale head is never
// persisted as the cluster's state.
func TestNoSnapshotAfterAFailedWrite(t *testing.T) {
	m, fs := openMachine(t)
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	if _, err := m.Apply(appendCmd(t, t0, &Record{Kind: KindOpen, Node: "n1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Snapshot(); err != nil {
		t.Fatal(err)
	}
	fs.Close()
	if _, err := m.Apply(appendCmd(t, t0, &Record{Kind: KindClose, Node: "n1"})); err == nil {
		t.Fatal("an append to a closed file succeeded")
	}
	if _, err := m.Snapshot(); err == nil {
		t.Fatal("a snapshot was taken after a failed write")
	}
	m.Rewind()
	if _, err := m.Snapshot(); err != nil {
		t.Fatalf("after a rewind: %v", err)
	}
}
