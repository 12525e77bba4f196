// Package open connects a configured source with the connector of its kind.
// It lives apart from package connectors because the connectors import that
// package (for its errors and BatchRows); connectors importing them back
// would be a cycle.
package open

import (
	"context"
	"fmt"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/duckdb"
	"lienthong/connectors/mysql"
	"lienthong/connectors/postgres"
	"lienthong/connectors/sqlite"
)

// Source opens s with the connector of s.Kind. Failing to reach the source
// or log in returns a *connectors.SourceError{Op: "connect"} that matches
// connectors.ErrSourceUnavailable, within s.ConnectTimeout.
func Source(ctx context.Context, s config.Source) (connectors.Connector, error) {
	if s.ConnectTimeout.Duration <= 0 {
		s.ConnectTimeout.Duration = config.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout.Duration)
	defer cancel()
	switch s.Kind {
	case catalog.Postgres:
		return nilIfErr(postgres.Open(ctx, s))
	case catalog.MySQL:
		return nilIfErr(mysql.Open(ctx, s))
	case catalog.SQLite:
		return nilIfErr(sqlite.Open(ctx, s))
	case catalog.DuckDB, catalog.Parquet, catalog.CSV:
		return nilIfErr(duckdb.Open(ctx, s))
	}
	return nil, &connectors.SourceError{Source: s.Name, Op: "connect", Err: fmt.Errorf("unknown source kind %q", s.Kind)}
}

// nilIfErr keeps a typed nil pointer from becoming a non-nil interface.
func nilIfErr[C connectors.Connector](c C, err error) (connectors.Connector, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}
