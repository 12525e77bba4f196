package mysql

import (
	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner/sqlgen"
)

// Kinds are the source kinds this package serves (MariaDB and MySQL), registered by
// package open.
var Kinds = []connectors.Kind{{Name: catalog.MySQL, Dialect: sqlgen.MySQL, Open: connectors.Opener(Open)}}
