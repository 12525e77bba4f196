// Package wire is the contract between a central lienthong node and an
// agency's agent (`lienthong agent`): the structured scan request a node
// sends as an Arrow Flight ticket, the catalog an agent lists, and the
// refusals it answers with. A request is never SQL text: it names a table,
// its columns and filters in the plan IR's pushable expressions (expr.go),
// and the agent renders the source SQL itself with sqlgen. Both sides
// import this package and nothing of each other; it imports only the plan
// IR.
package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Version is the protocol version a request carries; an agent refuses
// versions it does not know.
const Version = 1

// Flight action types an agent answers besides DoGet.
const (
	// ActionCatalog lists the tables the calling engine may read, as a
	// JSON Catalog in one result.
	ActionCatalog = "lienthong.catalog"
	// ActionPing checks that the agent and its database answer (an empty
	// result, or an error).
	ActionPing = "lienthong.ping"
)

// Limits an agent enforces whatever its file says; a request beyond them
// is refused before it is parsed further.
const (
	MaxTicketBytes = 4 << 20 // a ticket (request) larger than this is refused
	MaxExprDepth   = 64      // nesting of one filter expression
	MaxExprNodes   = 100_000 // nodes in all filters (key sets included)
)

// Request is one structured scan: read Columns of Table where every
// filter holds (and the PIN is in PinRange when set), at most Limit rows
// (0: no limit). Who asks and why travels with it for the agency's log
// and its purpose rules; the engine's identity is its client certificate,
// not a field.
type Request struct {
	Version int       `json:"version"`
	Nonce   string    `json:"nonce"` // random, unique per request: replays are refused
	Time    time.Time `json:"time"`  // the engine's clock; outside the agent's window: refused

	Table    string    `json:"table"`
	Columns  []string  `json:"columns"`
	Filters  []Expr    `json:"filters,omitempty"`
	Limit    int64     `json:"limit,omitempty"`
	PinRange *PinRange `json:"pin_range,omitempty"`

	Principal string `json:"principal,omitempty"`
	Agency    string `json:"agency,omitempty"`
	Purpose   string `json:"purpose,omitempty"`
	Case      string `json:"case,omitempty"`
	Attempt   string `json:"attempt,omitempty"` // the engine's query attempt ID (its audit log)
}

// PinRange restricts a scan to PINs From <= pin < To (strings compare by
// code point; "" leaves that end open): one partition of a parallel read.
type PinRange struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Encode is the request as ticket bytes.
func (r *Request) Encode() ([]byte, error) { return json.Marshal(r) }

// Decode parses a ticket. Unknown fields are an error: a request means
// exactly what its fields say.
func Decode(ticket []byte) (*Request, error) {
	if len(ticket) > MaxTicketBytes {
		return nil, fmt.Errorf("request of %d bytes exceeds %d", len(ticket), MaxTicketBytes)
	}
	var r Request
	dec := json.NewDecoder(bytes.NewReader(ticket))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("request does not parse: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("request has trailing data")
	}
	return &r, nil
}

// Hash is the SHA-256 of the ticket bytes as received, hex: what both the
// engine and the agency's log record, so either side can prove which
// request it was.
func Hash(ticket []byte) string {
	h := sha256.Sum256(ticket)
	return hex.EncodeToString(h[:])
}

// Catalog is what ActionCatalog returns: only exported tables and columns.
type Catalog struct {
	Agency string  `json:"agency"` // the agency that runs the agent
	Tables []Table `json:"tables"`
}

// Table is one exported table.
type Table struct {
	Name      string   `json:"name"`
	Columns   []Column `json:"columns"`
	PINColumn string   `json:"pin_column,omitempty"`
	// RowCount is the agent's estimate, for join planning; -1 unknown.
	RowCount int64 `json:"row_count"`
}

// Column is one exported column; Type is a TypeName.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}
