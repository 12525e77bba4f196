package agent

import (
	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner/sqlgen"
)

// Kinds are the source kinds this package serves (an agency's agent),
// registered by package open.
var Kinds = []connectors.Kind{{Name: catalog.Agent, Dialect: Dialect, Open: connectors.Opener(Open)}}

// Dialect is what the planner may send an agent: single-table scans with
// the filters every database an agent fronts computes exactly as lienthong
// does (the agent renders them for its own database and refuses what that
// cannot compute). Comparisons of decimals, floats and timestamps and
// functions stay in the residual: an agent may front SQLite, which
// compares those by storage class. Its SQL is only what EXPLAIN shows for
// the request (standard quoting); the agent never receives SQL.
var Dialect sqlgen.Dialect = dialect{sqlgen.Postgres}

type dialect struct{ sqlgen.Dialect }

func (dialect) String() string { return "agent" }

func (dialect) Caps() sqlgen.Caps {
	return sqlgen.Caps{Expressions: true, ScansOnly: true, MaxLikePattern: 50_000}
}
