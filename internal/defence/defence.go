// Package defence lets the attack suite's mutation check switch one
// defence of the access policy off at a time, to prove the suite notices
// (internal/attacks). Nothing but that test switches anything: every
// defence is on unless a test turned it off, and package internal keeps
// the switch inside this module.
package defence

import "sync"

// The defences the mutation check switches off.
const (
	SecuredView   = "secured-view"   // bind every table to its secured view (planner)
	VerifyForm    = "verify-form"    // pin_verify only as one literal check (planner)
	Private       = "private"        // aggregate-only tables answer private aggregates only (planner)
	Sensitive     = "sensitive"      // special categories masked unless the purpose allows (policy)
	ExplainCounts = "explain-counts" // EXPLAIN ANALYZE hides counts of restricted tables (engine)
	Catalog       = "catalog"        // the catalog lists only what the principal may read (engine)
)

// All lists them.
var All = []string{SecuredView, VerifyForm, Private, Sensitive, ExplainCounts, Catalog}

var (
	mu  sync.RWMutex
	off = map[string]bool{}
)

// On reports whether the defence is in force (always, outside the
// mutation check).
func On(name string) bool {
	mu.RLock()
	defer mu.RUnlock()
	return !off[name]
}

// SwitchOff turns name off until the returned function is called. For the
// mutation check only.
func SwitchOff(name string) (restore func()) {
	mu.Lock()
	off[name] = true
	mu.Unlock()
	return func() {
		mu.Lock()
		delete(off, name)
		mu.Unlock()
	}
}
