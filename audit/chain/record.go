package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Format names the record format; the first record of every log segment
// (kind "open") carries it.
const Format = "lienthong-audit/1"

// Genesis is the prev hash of record 1: the SHA-256 of a fixed string, so
// a log whose first records were removed cannot pass as complete.
var Genesis = func() string {
	s := sha256.Sum256([]byte("lienthong audit log genesis v1"))
	return hex.EncodeToString(s[:])
}()

// Kind says what a record is.
type Kind string

const (
	KindOpen  Kind = "open"  // a node opened the log (after a clean close or a crash)
	KindClose Kind = "close" // the node closed the log cleanly
	KindBegin Kind = "begin" // a query was planned and is about to read sources
	KindEnd   Kind = "end"   // a query attempt ended (the only record of attempts refused before planning)
	KindProbe Kind = "probe" // health log: a periodic probe of one source
	KindUse   Kind = "use"   // health log: what a finished query proved about a source
)

// Record is one line of a log: JSON with the fields below (empty ones
// omitted) and the record's own hash as the last field. The hash is the
// SHA-256 of the exact bytes of the line without its hash field, so any
// change to a stored line, even one a JSON parser would not notice
// (spacing, a repeated key, an extra field), breaks it.
//
// One struct serves the audit log (open, close, begin, end) and the
// health log (open, close, probe, use); each kind uses its own fields.
type Record struct {
	Seq  uint64    `json:"seq"`  // 1, 2, 3... with no gaps
	Prev string    `json:"prev"` // hash of record Seq-1; Genesis for record 1
	Time time.Time `json:"time"` // when the record was written (UTC, never before the previous record's)
	Node string    `json:"node"` // the node that wrote it
	Kind Kind      `json:"kind"`

	// open / close
	Format    string `json:"format,omitempty"`
	KeyID     string `json:"key_id,omitempty"` // which audit key hashed the PINs and signs the head
	Note      string `json:"note,omitempty"`   // e.g. what recovery did after a crash
	Simulated bool   `json:"simulated,omitempty"`

	// begin / end
	Attempt   string    `json:"attempt,omitempty"` // the engine's attempt id, shared by its begin and end
	BeginSeq  uint64    `json:"begin,omitempty"`   // end: seq of the begin record (0: refused before planning)
	Start     time.Time `json:"start,omitzero"`    // when the attempt started
	Principal string    `json:"principal,omitempty"`
	Agency    string    `json:"agency,omitempty"`
	Purpose   string    `json:"purpose,omitempty"`
	CaseID    string    `json:"case,omitempty"`
	// SQL as received, with every PIN literal replaced by "pin:" and the
	// first 16 hex digits of its keyed hash. On an end record only when
	// there is no begin record (the begin holds it otherwise), like
	// Tables, Columns and PINs.
	SQL     string   `json:"sql,omitempty"`
	Sources []string `json:"sources,omitempty"`
	Tables  []string `json:"tables,omitempty"`
	Columns []string `json:"columns,omitempty"`
	// PINs the query filtered on, as HMAC-SHA-256 under the audit key
	// (64 hex digits); never in clear.
	PINs          []string         `json:"pins,omitempty"`
	Outcome       string           `json:"outcome,omitempty"`       // succeeded, denied, failed, cancelled
	Code          string           `json:"code,omitempty"`          // stable error code (LT-...)
	FailedSource  string           `json:"failed_source,omitempty"` // the source the error blames, when known
	Rows          int64            `json:"rows,omitempty"`          // rows delivered to the client
	Bytes         int64            `json:"bytes,omitempty"`         // Arrow bytes delivered
	RowsPerSource map[string]int64 `json:"rows_per_source,omitempty"`
	DurationUS    int64            `json:"duration_us,omitempty"`
	ResultSHA256  string           `json:"result_sha256,omitempty"` // SHA-256 of the result's Arrow IPC stream
	// Epsilon and Delta: the privacy budget the attempt spent (aggregate-
	// only tables; differential privacy), on its end record.
	Epsilon float64 `json:"epsilon,omitempty"`
	Delta   float64 `json:"delta,omitempty"`

	// probe / use (health log)
	Source     string `json:"source,omitempty"`
	Status     string `json:"status,omitempty"` // up or down
	LatencyUS  int64  `json:"latency_us,omitempty"`
	Error      string `json:"error,omitempty"` // first line of the error, PIN-like numbers removed
	IntervalMS int64  `json:"interval_ms,omitempty"`

	// Hash is the record's hash (the last field of the stored line).
	Hash string `json:"-"`
	// Raw is the stored line, newline included.
	Raw []byte `json:"-"`
}

// Duration is the attempt's duration.
func (r *Record) Duration() time.Duration { return time.Duration(r.DurationUS) * time.Microsecond }

// hashSuffix is what ends every stored line: `,"hash":"<64 hex>"}`.
const (
	hashPrefix = `,"hash":"`
	suffixLen  = len(hashPrefix) + 64 + len(`"}`)
)

// seal sets seq and prev, computes the hash and the stored line.
func (r *Record) seal(seq uint64, prev string) error {
	r.Seq, r.Prev = seq, prev
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // SQL keeps its < and >
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("audit: encoding record: %w", err)
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	sum := sha256.Sum256(body)
	r.Hash = hex.EncodeToString(sum[:])
	raw := make([]byte, 0, len(body)+suffixLen+1)
	raw = append(raw, body[:len(body)-1]...)
	raw = append(raw, hashPrefix...)
	raw = append(raw, r.Hash...)
	raw = append(raw, `"}`...)
	raw = append(raw, '\n')
	r.Raw = raw
	return nil
}

// ErrMalformed is returned for a line that is not a record.
var ErrMalformed = errors.New("not an audit record")

// ParseRecord reads one stored line (with or without its newline). It
// returns the record with Hash set to the stored hash, and whether the
// line's content matches that hash.
func ParseRecord(line []byte) (r *Record, contentOK bool, err error) {
	line = bytes.TrimRight(line, "\n")
	n := len(line)
	if n < suffixLen+2 || line[0] != '{' || !bytes.Equal(line[n-suffixLen:n-suffixLen+len(hashPrefix)], []byte(hashPrefix)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, false, ErrMalformed
	}
	stored := string(line[n-suffixLen+len(hashPrefix) : n-2])
	if _, err := hex.DecodeString(stored); err != nil {
		return nil, false, ErrMalformed
	}
	body := make([]byte, 0, n-suffixLen+1)
	body = append(body, line[:n-suffixLen]...)
	body = append(body, '}')
	r = &Record{}
	if err := json.Unmarshal(body, r); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	sum := sha256.Sum256(body)
	r.Hash = stored
	r.Raw = append(line[:n:n], '\n')
	return r, hex.EncodeToString(sum[:]) == stored, nil
}
