package sqlite

import (
	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner/sqlgen"
)

// Kinds are the source kinds this package serves (SQLite files), registered by
// package open.
var Kinds = []connectors.Kind{{Name: catalog.SQLite, Dialect: sqlgen.SQLite, Open: connectors.Opener(Open)}}
