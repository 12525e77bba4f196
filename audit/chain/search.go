package chain

import (
	"slices"
	"strings"
	"time"
)

// AttemptView is one query attempt as the log tells it: its begin record
// (nil for attempts refused before planning) and its end record (nil when
// the node stopped while it ran).
type AttemptView struct {
	Begin, End *Record
}

// Info is the record that carries the attempt's description: the begin
// when there is one, else the end.
func (a *AttemptView) Info() *Record {
	if a.Begin != nil {
		return a.Begin
	}
	return a.End
}

// Outcome is the end's outcome, or "unfinished".
func (a *AttemptView) Outcome() string {
	if a.End == nil {
		return "unfinished"
	}
	return a.End.Outcome
}

// Start is when the attempt started.
func (a *AttemptView) Start() time.Time { return a.Info().Start }

// Sources are the sources the attempt read (or was refused for).
func (a *AttemptView) Sources() []string {
	if a.End != nil && len(a.End.Sources) > 0 {
		return a.End.Sources
	}
	return a.Info().Sources
}

// Filter selects attempts. Empty fields match everything; strings match
// exactly (agency, purpose, outcome case-insensitively).
type Filter struct {
	From, To  time.Time // attempt start in [From, To); zero: unbounded
	Principal string
	Agency    string
	Purpose   string
	Source    string
	Outcome   string // succeeded, denied, failed, cancelled, unfinished
	Code      string
	Attempt   string // attempt id (a prefix is enough)
	CaseID    string
	// PINHash is a keyed PIN hash (Keys.PIN) the attempt filtered on.
	PINHash string
}

// Match reports whether the attempt passes the filter.
func (f *Filter) Match(a *AttemptView) bool {
	info := a.Info()
	st := info.Start
	switch {
	case !f.From.IsZero() && st.Before(f.From),
		!f.To.IsZero() && !st.Before(f.To),
		f.Principal != "" && info.Principal != f.Principal,
		f.Agency != "" && !strings.EqualFold(info.Agency, f.Agency),
		f.Purpose != "" && !strings.EqualFold(info.Purpose, f.Purpose),
		f.Outcome != "" && !strings.EqualFold(a.Outcome(), f.Outcome),
		f.Code != "" && (a.End == nil || !strings.EqualFold(a.End.Code, f.Code)),
		f.Attempt != "" && !strings.HasPrefix(info.Attempt, f.Attempt),
		f.CaseID != "" && info.CaseID != f.CaseID,
		f.Source != "" && !slices.Contains(a.Sources(), f.Source),
		f.PINHash != "" && !slices.Contains(info.PINs, f.PINHash):
		return false
	}
	return true
}

// Iterator is what Attempts reads: a Store or a Reader.
type Iterator interface {
	Iterate(from uint64, fn func(*Record) error) error
}

// Attempts pairs begin and end records and calls fn for each attempt the
// filter matches, in the order attempts ended; attempts that never ended
// come last. from is the first seq to read (0 or 1: all).
func Attempts(it Iterator, from uint64, f Filter, fn func(*AttemptView) error) error {
	open := map[string]*Record{}
	var order []string
	err := it.Iterate(from, func(r *Record) error {
		switch r.Kind {
		case KindBegin:
			open[r.Attempt] = r
			order = append(order, r.Attempt)
		case KindEnd:
			a := &AttemptView{End: r}
			if b, ok := open[r.Attempt]; ok {
				a.Begin = b
				delete(open, r.Attempt)
			}
			if f.Match(a) {
				return fn(a)
			}
		}
		// Keep the order list from growing without bound.
		if len(order) > 4*len(open)+1024 {
			order = slices.DeleteFunc(order, func(id string) bool { return open[id] == nil })
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range order {
		if b := open[id]; b != nil {
			delete(open, id)
			a := &AttemptView{Begin: b}
			if f.Match(a) {
				if err := fn(a); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
