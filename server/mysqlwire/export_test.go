package mysqlwire

import "time"

// SetHandshakeTimeout sets the login bound for a test; it returns the
// previous one.
func SetHandshakeTimeout(d time.Duration) time.Duration {
	old := handshakeTimeout
	handshakeTimeout = d
	return old
}
