package wire

import (
	"fmt"
	"regexp"
	"strings"
)

// Reason is why an agent refused a request. The set is closed: the engine
// rebuilds what its client sees from the reason and the one name it
// concerns, never from the agent's text, so nothing but identifiers
// crosses (THREATS.md: errors carry no citizen data, whoever wrote them).
type Reason string

const (
	RefusedEngine   Reason = "engine"  // the client certificate's engine may not call this agent
	RefusedPurpose  Reason = "purpose" // the purpose (or its missing case) is not allowed for the table
	RefusedTable    Reason = "table"   // the table is not exported
	RefusedColumn   Reason = "column"  // a column (read or filtered) is not exported
	RefusedFilter   Reason = "filter"  // a filter is not in the pushable set the agent accepts
	RefusedKeys     Reason = "keys"    // a key set (IN list) or the filters are larger than allowed
	RefusedReplay   Reason = "replay"  // the nonce was seen, or the time is outside the window
	RefusedRate     Reason = "rate"    // the engine's rate limit is exhausted
	RefusedRequest  Reason = "request" // the request is malformed or of another version
	RefusedRowLimit Reason = "rows"    // the request asks for more rows than the table's max_rows
)

var reasonText = map[Reason]string{
	RefusedEngine:   "this engine's certificate is not allowed to call the agency",
	RefusedPurpose:  "the declared purpose (and case) is not allowed for this table by the agency",
	RefusedTable:    "the table is not exported by the agency",
	RefusedColumn:   "a column is not exported by the agency",
	RefusedFilter:   "a filter is not one the agency accepts",
	RefusedKeys:     "the key set or the filters are larger than the agency allows",
	RefusedReplay:   "the request was replayed or its clock is outside the agency's window",
	RefusedRate:     "the engine's request rate limit at the agency is exhausted; retry later",
	RefusedRequest:  "the request is malformed or of a protocol version the agency does not speak",
	RefusedRowLimit: "the request asks for more rows than the agency allows",
}

// Refusal is an agent's refusal: a reason and the name it concerns (a
// table, column or purpose; may be empty).
type Refusal struct {
	Reason Reason
	Name   string
}

// refusalPrefix starts a refusal's gRPC status message.
const refusalPrefix = "lienthong-agent-refused:"

// Message is the gRPC status message the agent sends for r.
func (r Refusal) Message() string {
	return refusalPrefix + string(r.Reason) + ":" + r.Name
}

func (r Refusal) Error() string {
	if r.Name != "" {
		return fmt.Sprintf("%s (%s)", r.text(), r.Name)
	}
	return r.text()
}

func (r Refusal) text() string {
	if t, ok := reasonText[r.Reason]; ok {
		return t
	}
	return "the agency refused the request"
}

// name is what a refusal may name: an identifier-like word starting with
// a letter, so an agent cannot smuggle data (a PIN, a name with spaces)
// through it.
var name = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_.\-]{0,63}$`)

// ParseRefusal reads a refusal from a gRPC status message; false when the
// message is not one. An unknown reason or a name that is not an
// identifier is dropped to the generic refusal.
func ParseRefusal(msg string) (Refusal, bool) {
	rest, ok := strings.CutPrefix(msg, refusalPrefix)
	if !ok {
		return Refusal{}, false
	}
	reason, n, _ := strings.Cut(rest, ":")
	r := Refusal{Reason: Reason(reason)}
	if _, known := reasonText[r.Reason]; !known {
		return Refusal{Reason: RefusedRequest}, true
	}
	if name.MatchString(n) {
		r.Name = n
	}
	return r, true
}
