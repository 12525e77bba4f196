//go:build !duckdb_arrow

// Package duckdb needs the duckdb_arrow build tag; without it Open refuses,
// so the rest of lienthong still builds.
package duckdb

import (
	"context"
	"errors"

	"lienthong/config"
	"lienthong/connectors"
)

// Connector is unavailable in builds without the duckdb_arrow tag.
type Connector struct{ connectors.Connector }

// Open always fails: this binary was built without -tags duckdb_arrow.
func Open(ctx context.Context, s config.Source) (*Connector, error) {
	return nil, &connectors.SourceError{Source: s.Name, Op: "connect",
		Err: errors.New("lienthong was built without -tags duckdb_arrow: duckdb, parquet and csv sources are unavailable")}
}
