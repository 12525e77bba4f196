package postgres

import (
	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner/sqlgen"
)

// Kinds are the source kinds this package serves (PostgreSQL), registered by
// package open.
var Kinds = []connectors.Kind{{Name: catalog.Postgres, Dialect: sqlgen.Postgres, Open: connectors.Opener(Open)}}
