package connectors

import (
	"context"
	"fmt"
	"sync"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/planner/sqlgen"
)

// Kind is one source kind as its connector package declares it: the name
// configs use, the SQL dialect its sources speak (which decides what the
// planner pushes there) and how to open one. A new source kind is a
// connector package declaring its Kind and one Register call (the built-in
// ones are registered by package open).
type Kind struct {
	Name    catalog.Kind
	Dialect sqlgen.Dialect
	// Open connects a configured source of this kind. Failing to reach it
	// or log in returns a *SourceError{Op: "connect"} that matches
	// ErrSourceUnavailable; ctx bounds the connect.
	Open func(ctx context.Context, s config.Source) (Connector, error)
}

var registry struct {
	sync.RWMutex
	kinds map[catalog.Kind]Kind
}

// Register makes kind k known everywhere: config accepts it, the planner
// renders for its dialect (sqlgen.RegisterKind), open.Source opens it.
// Registering a kind twice panics; call it from an init function.
func Register(k Kind) {
	if k.Open == nil {
		panic(fmt.Sprintf("connectors: kind %q registered without Open", k.Name))
	}
	registry.Lock()
	defer registry.Unlock()
	sqlgen.RegisterKind(k.Name, k.Dialect) // panics on a duplicate
	if registry.kinds == nil {
		registry.kinds = map[catalog.Kind]Kind{}
	}
	registry.kinds[k.Name] = k
}

// Lookup finds a registered kind.
func Lookup(name catalog.Kind) (Kind, bool) {
	registry.RLock()
	defer registry.RUnlock()
	k, ok := registry.kinds[name]
	return k, ok
}

// Opener adapts a connector package's Open, which returns its own type, to
// Kind.Open, keeping a typed nil pointer from becoming a non-nil interface.
func Opener[C Connector](open func(context.Context, config.Source) (C, error)) func(context.Context, config.Source) (Connector, error) {
	return func(ctx context.Context, s config.Source) (Connector, error) {
		c, err := open(ctx, s)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
