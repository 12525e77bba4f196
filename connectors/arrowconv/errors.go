package arrowconv

import (
	"strings"

	"lienthong/connectors"
)

// Unavailable is the error for a source that cannot be reached or refuses
// the login: errors.Is matches connectors.ErrSourceUnavailable and the cause.
func Unavailable(source string, err error) error {
	return &connectors.SourceError{Source: source, Op: "connect", Err: &unavailable{err}}
}

// unavailable reads "source unavailable: cause" on one line (errors.Join
// would split it over lines).
type unavailable struct{ err error }

func (e *unavailable) Error() string {
	return connectors.ErrSourceUnavailable.Error() + ": " + strings.ReplaceAll(e.err.Error(), "\n", "; ")
}
func (e *unavailable) Unwrap() []error { return []error{connectors.ErrSourceUnavailable, e.err} }

// Redacted shows msg instead of a driver's message (which may quote row
// values) while errors.Is/As still reach the cause.
type Redacted struct {
	Msg string
	Err error
}

func (e *Redacted) Error() string { return e.Msg }
func (e *Redacted) Unwrap() error { return e.Err }
