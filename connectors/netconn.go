package connectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrSourceTimeout wraps every failure of a source to answer in time
// (read_timeout, statement_timeout); match it with errors.Is.
var ErrSourceTimeout = errors.New("source timeout")

// ErrSourceBusy wraps a refusal because the source already runs its
// max_concurrent statements and a slot did not free up within queue_timeout.
var ErrSourceBusy = errors.New("source busy")

// ErrConnLost wraps the failure of a statement whose connection broke
// under it (closed or reset by the server or the network, the session
// ended by the server). It also matches ErrSourceUnavailable: the client
// is told the source is unreachable (not that the statement failed), and
// the source's circuit breaker counts it.
var ErrConnLost = errors.New("connection lost")

// ConnLost is the error of a statement (op) on source whose connection
// broke; err, the driver's, is for the operator's log.
func ConnLost(source, op string, err error) error {
	return &SourceError{Source: source, Op: op, Err: &lostError{err}}
}

type lostError struct{ err error }

func (e *lostError) Error() string {
	return ErrSourceUnavailable.Error() + ": " + ErrConnLost.Error() + ": " + strings.ReplaceAll(e.err.Error(), "\n", "; ")
}

func (e *lostError) Unwrap() []error { return []error{ErrConnLost, ErrSourceUnavailable, e.err} }

// TimeoutError says which of a source's timeouts passed.
type TimeoutError struct {
	Setting string // "read_timeout", "statement_timeout", "connect_timeout"
	After   time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no answer within %s = %s", e.Setting, e.After)
}

func (e *TimeoutError) Unwrap() error { return ErrSourceTimeout }

// Deadlines dials network sources with per-read and per-write deadlines:
// a server that accepts the connection and then goes silent (or stops
// reading) fails the read or write after ReadTimeout or WriteTimeout
// instead of hanging it. Deadlines the driver sets itself (to cancel) are
// kept: the earlier one wins.
type Deadlines struct {
	ReadTimeout, WriteTimeout time.Duration
	// last is when a deadline of ours last expired (Unix nanoseconds):
	// drivers that hide the cause of a broken connection (go-sql-driver
	// says "invalid connection") are classified by it.
	last atomic.Int64
}

// DialContext dials like net.Dialer and wraps the connection.
func (d *Deadlines) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, d: d}, nil
}

// TimedOutSince reports whether one of our deadlines expired at or after t.
func (d *Deadlines) TimedOutSince(t time.Time) bool {
	l := d.last.Load()
	return l != 0 && l >= t.UnixNano()
}

type deadlineConn struct {
	net.Conn
	d      *Deadlines
	mu     sync.Mutex
	rd, wd time.Time // deadlines the driver set
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rd, c.wd = t, t
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rd = t
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wd = t
	return c.Conn.SetWriteDeadline(t)
}

// arm sets the effective deadline before an operation; ours reports
// whether our timeout (not the driver's) is the one in force.
func (c *deadlineConn) arm(timeout time.Duration, write bool) (ours bool) {
	if timeout <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	driver, set := c.rd, c.Conn.SetReadDeadline
	if write {
		driver, set = c.wd, c.Conn.SetWriteDeadline
	}
	dl := time.Now().Add(timeout)
	if !driver.IsZero() && driver.Before(dl) {
		_ = set(driver)
		return false
	}
	_ = set(dl)
	return true
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	ours := c.arm(c.d.ReadTimeout, false)
	n, err := c.Conn.Read(b)
	return n, c.check(ours, "read_timeout", c.d.ReadTimeout, err)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	ours := c.arm(c.d.WriteTimeout, true)
	n, err := c.Conn.Write(b)
	return n, c.check(ours, "read_timeout", c.d.WriteTimeout, err)
}

func (c *deadlineConn) check(ours bool, setting string, after time.Duration, err error) error {
	if ours && errors.Is(err, os.ErrDeadlineExceeded) {
		c.d.last.Store(time.Now().UnixNano())
		return &net.OpError{Op: "read", Net: "tcp", Err: &timeoutErr{TimeoutError{Setting: setting, After: after}}}
	}
	return err
}

// timeoutErr is a TimeoutError that also reads as a net timeout, so
// drivers treat it as the deadline error it replaces.
type timeoutErr struct{ TimeoutError }

func (e *timeoutErr) Timeout() bool   { return true }
func (e *timeoutErr) Temporary() bool { return true }
func (e *timeoutErr) Unwrap() []error {
	return []error{&e.TimeoutError, os.ErrDeadlineExceeded}
}

// SyscallConn exposes the socket beneath, so go-sql-driver's check of a
// pooled connection before reuse (a non-blocking read on the raw fd) still
// runs: without it a connection the server closed is written to and fails
// as "invalid connection" instead of being replaced (driver.ErrBadConn).
func (c *deadlineConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("connection has no file descriptor")
	}
	return sc.SyscallConn()
}
