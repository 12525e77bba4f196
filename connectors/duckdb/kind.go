package duckdb

import (
	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/planner/sqlgen"
)

// Kinds are the source kinds this package serves, registered by package
// open: DuckDB files, and Parquet and CSV files read through DuckDB.
var Kinds = []connectors.Kind{
	{Name: catalog.DuckDB, Dialect: sqlgen.DuckDB, Open: connectors.Opener(Open)},
	{Name: catalog.Parquet, Dialect: sqlgen.DuckDB, Open: connectors.Opener(Open)},
	{Name: catalog.CSV, Dialect: sqlgen.DuckDB, Open: connectors.Opener(Open)},
}
