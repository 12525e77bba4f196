package cluster

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"lienthong/policy"
	"lienthong/state"
)

// An entry or a snapshot of a format version this node does not know is
// refused and changes nothing; a known one round-trips the whole state.
func TestFSMFormatVersions(t *testing.T) {
	newState := func() (*fsm, *policy.Machine) {
		ms := state.NewMachines()
		pol := &policy.Machine{}
		ms.Register("policy", pol)
		return newFSM(ms), pol
	}
	f, pol := newState()
	set, err := policy.SetCommand(time.Now(), "policy.toml", []byte(policyV1))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{entryVersion + 1, entryVersion} {
		data, _ := json.Marshal(entry{V: v, ID: "x", Cmd: set})
		ch := f.wait("x")
		r := f.Apply(&raft.Log{Index: uint64(v), Type: raft.LogCommand, Data: data}).(result)
		if got := <-ch; got.err != r.err {
			t.Fatalf("the waiter got %v, raft %v", got.err, r.err)
		}
		if v != entryVersion && (r.err == nil || !strings.Contains(r.err.Error(), "format version") || pol.Current() != nil) {
			t.Fatalf("an entry of version %d: %v, policy set %v", v, r.err, pol.Current() != nil)
		}
		if v == entryVersion && (r.err != nil || pol.Current() == nil) {
			t.Fatalf("an entry of version %d: %v", v, r.err)
		}
	}
	if r := f.Apply(&raft.Log{Index: 9, Type: raft.LogCommand, Data: []byte("not json")}).(result); r.err == nil {
		t.Fatal("an entry that does not decode was applied")
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(snap.(snapshotBytes))
	g, gpol := newState()
	if err := g.Restore(io.NopCloser(strings.NewReader(string(b)))); err != nil || gpol.Current() == nil || g.applied.Load() != 9 {
		t.Fatalf("restore: %v, policy %v, applied %d", err, gpol.Current() != nil, g.applied.Load())
	}
	var sf snapshotFile
	json.Unmarshal(b, &sf)
	sf.Version++
	b2, _ := json.Marshal(sf)
	h, hpol := newState()
	if err := h.Restore(io.NopCloser(strings.NewReader(string(b2)))); err == nil || hpol.Current() != nil {
		t.Fatalf("a snapshot of version %d: %v", sf.Version, err)
	}
}
