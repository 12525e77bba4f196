package server

import (
	"strings"

	"lienthong/catalog"
	"lienthong/engine"
)

// sourceStatus is what /readyz and /v1/catalog say of a source: "ok";
// "connecting" (its first connection is under way); "unavailable" (the
// catalog could not list it); "down" (its breaker is open: queries fail at
// once until a probe succeeds). breaker is the engine's breaker state.
func sourceStatus(src *catalog.Source, st engine.SourceState) (status, breaker string) {
	switch {
	case st.Breaker != engine.BreakerClosed:
		status = "down"
	case src.Unavailable == "connecting" && st.Connecting:
		status = "connecting"
	case src.Unavailable != "":
		status = "unavailable"
	default:
		status = "ok"
	}
	return status, st.Breaker
}

// sourceStates indexes the engine's source states by lower-case name.
func sourceStates(eng *engine.Engine) map[string]engine.SourceState {
	out := map[string]engine.SourceState{}
	for _, st := range eng.SourceStates() {
		out[strings.ToLower(st.Name)] = st
	}
	return out
}

// catalogWithStates is snap (the catalog as the caller may see it) with
// each source's live state.
func catalogWithStates(eng *engine.Engine, snap *catalog.Snapshot) CatalogJSON {
	out := CatalogToJSON(snap)
	states := sourceStates(eng)
	for i := range out.Sources {
		src := snap.Sources[i]
		ss := states[strings.ToLower(src.Name)]
		out.Sources[i].Status, out.Sources[i].Breaker = sourceStatus(src, ss)
		if ss.Breaker != engine.BreakerClosed {
			out.Sources[i].LastError = unavailableText
		}
	}
	return out
}
