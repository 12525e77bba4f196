package engine

import (
	"sort"
	"sync"

	"lienthong/planner"
	"lienthong/planner/plan"
)

// Progress lets a front-end watch a running query (QueryOptions.Progress):
// the rows read so far from each source, for a progress line. It is filled
// when the query starts reading and safe to read from any goroutine.
//
// It counts what EXPLAIN ANALYZE would show, no more: under an access
// policy a source read for a table the principal sees only part of is
// listed without its count, and a differentially private query's counts
// (exact figures about the citizens the noise protects) are never given.
type Progress struct {
	mu      sync.Mutex
	remotes []progressRemote
}

type progressRemote struct {
	s      *stream
	hidden bool
}

// SourceProgress is one source's part of a running query.
type SourceProgress struct {
	Source string
	Rows   int64 // rows read so far; 0 when Hidden
	Hidden bool  // the count is not the principal's to see
	Done   bool  // every remote of the source has ended
}

// Sources reports each source the query reads, by name.
func (p *Progress) Sources() []SourceProgress {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	by := map[string]*SourceProgress{}
	var out []SourceProgress
	for _, r := range p.remotes {
		sp := by[r.s.source]
		if sp == nil {
			sp = &SourceProgress{Source: r.s.source, Done: true}
			by[r.s.source] = sp
		}
		if r.hidden {
			sp.Hidden = true
		}
		sp.Rows += r.s.rows.Load()
		select {
		case <-r.s.done:
		default:
			sp.Done = false
		}
	}
	for _, sp := range by {
		if sp.Hidden {
			sp.Rows = 0
		}
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// watch registers a query's streams; secured says an access policy is in
// force.
func (p *Progress) watch(pl *plan.Plan, streams []*stream, secured bool) {
	if p == nil {
		return
	}
	hidden := map[int]planner.RemoteStats{}
	if secured {
		hideRestricted(pl, hidden)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range streams {
		p.remotes = append(p.remotes, progressRemote{s: s, hidden: pl.Privacy != nil || hidden[s.id].Hidden})
	}
}
