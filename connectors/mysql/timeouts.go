package mysql

import (
	"errors"
	"time"

	drv "github.com/go-sql-driver/mysql"

	"lienthong/config"
	"lienthong/connectors"
)

// applyTimeouts bounds every read and write on the source's sockets,
// handshake included, by s.ReadTimeout: a server that accepts and goes
// silent fails the query instead of hanging it. (The driver's own
// readTimeout/writeTimeout DSN parameters, when a DSN sets them, apply as
// well; the earlier deadline wins.)
func applyTimeouts(cfg *drv.Config, s config.Source) *connectors.Deadlines {
	d := &connectors.Deadlines{ReadTimeout: s.ReadTimeout.Duration, WriteTimeout: s.ReadTimeout.Duration}
	cfg.DialFunc = d.DialContext
	return d
}

// timeoutCause names the timeout behind the driver's "invalid connection",
// which hides the network error that broke the connection.
func (c *Connector) timeoutCause(err error) error {
	if c.deadlines != nil && errors.Is(err, drv.ErrInvalidConn) && c.deadlines.TimedOutSince(time.Now().Add(-2*time.Second)) {
		return &timedOut{connectors.TimeoutError{Setting: "read_timeout", After: c.deadlines.ReadTimeout}, err}
	}
	return err
}

// timedOut reads as the timeout, on one line, and matches the driver's
// error too.
type timedOut struct {
	connectors.TimeoutError
	err error
}

func (e *timedOut) Unwrap() []error { return []error{&e.TimeoutError, e.err} }
