package engine

import (
	"context"

	"lienthong/config"
	"lienthong/connectors"
)

// openSource is replaced once the connector packages land.
var openSource = func(ctx context.Context, s config.Source) (connectors.Connector, error) {
	return nil, context.Canceled
}
