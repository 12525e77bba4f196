package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"regexp"
	"strings"
	"syscall"

	"lienthong/connectors"
)

// Why a source is unavailable, as clients and the catalog may see it: a
// fixed phrase per cause. A driver's own text names the host, the port,
// the database user and the database, which are the agency's business,
// not a client's; it stays in the source's state for the operator
// (Engine.SourceStates, `lienthong sources status`).
const (
	reasonRefused     = "connection refused"
	reasonTimeout     = "timed out"
	reasonHost        = "host name not found"
	reasonUnreachable = "host unreachable"
	reasonReset       = "connection reset"
	reasonLost        = "connection lost"
	reasonTLS         = "TLS handshake failed"
	reasonLogin       = "login refused"
	reasonDatabase    = "database not found"
	reasonFile        = "file not found"
	reasonOther       = "cannot connect"
	reasonSettings    = "its settings do not resolve on this node (a dsn_env not set or a file missing: the node's operator sees which)"
)

// mysqlErr reads go-sql-driver's "Error 1045 (28000): ..." (its error
// type has no SQLSTATE method).
var mysqlErr = regexp.MustCompile(`Error (\d+) \(([0-9A-Z]{5})\)`)

// publicReason is the fixed phrase for why err left a source unavailable;
// the reasons are stable and carry nothing of the source's text.
func publicReason(err error) string {
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var header tls.RecordHeaderError
	var state interface{ SQLState() string }
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrSourceDown):
		return "down (its circuit breaker is open)"
	case errors.As(err, new(*settingsError)):
		return reasonSettings
	case errors.Is(err, fs.ErrNotExist):
		return reasonFile
	case errors.Is(err, syscall.ECONNREFUSED):
		return reasonRefused
	case errors.As(err, &dns):
		return reasonHost
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return reasonUnreachable
	case errors.Is(err, syscall.ECONNRESET):
		return reasonReset
	case errors.Is(err, connectors.ErrConnLost):
		return reasonLost
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &header):
		return reasonTLS
	case errors.As(err, &state):
		return sqlstateReason(state.SQLState())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, connectors.ErrSourceTimeout), isTimeout(err):
		return reasonTimeout
	}
	if m := mysqlErr.FindStringSubmatch(err.Error()); m != nil {
		switch m[1] {
		case "1044", "1045", "1698":
			return reasonLogin
		case "1049":
			return reasonDatabase
		}
		return sqlstateReason(m[2])
	}
	return reasonOther
}

func sqlstateReason(code string) string {
	switch {
	case strings.HasPrefix(code, "28"):
		return reasonLogin
	case code == "3D000":
		return reasonDatabase
	case strings.HasPrefix(code, "08"):
		return reasonRefused
	}
	return reasonOther
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
