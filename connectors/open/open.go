// Package open connects a configured source with the connector of its kind,
// and registers the built-in kinds. It lives apart from package connectors
// because the connectors import that package (for its errors, BatchRows and
// Register); connectors importing them back would be a cycle.
package open

import (
	"context"
	"fmt"

	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/agent"
	"lienthong/connectors/duckdb"
	"lienthong/connectors/mysql"
	"lienthong/connectors/postgres"
	"lienthong/connectors/sqlite"
)

// The built-in kinds, in the order the docs (and config's messages) list
// them. A new built-in source kind is its package and one entry here.
func init() {
	for _, kinds := range [][]connectors.Kind{postgres.Kinds, mysql.Kinds, sqlite.Kinds, duckdb.Kinds, agent.Kinds} {
		for _, k := range kinds {
			connectors.Register(k)
		}
	}
}

// Source opens s with the connector of s.Kind. Failing to reach the source
// or log in returns a *connectors.SourceError{Op: "connect"} that matches
// connectors.ErrSourceUnavailable, within s.ConnectTimeout.
func Source(ctx context.Context, s config.Source) (connectors.Connector, error) {
	if s.ConnectTimeout.Duration <= 0 {
		s.ConnectTimeout.Duration = config.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout.Duration)
	defer cancel()
	k, ok := connectors.Lookup(s.Kind)
	if !ok {
		return nil, &connectors.SourceError{Source: s.Name, Op: "connect", Err: fmt.Errorf("unknown source kind %q", s.Kind)}
	}
	return k.Open(ctx, s)
}
