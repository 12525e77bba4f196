package agent

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// The request log: one JSON line per request the agent answered or
// refused (and one when it opens and closes the log, and one per
// reload, accepted or refused), each linked to the
// one before by its hash, like X-Road's message log. It is a file of its
// own rather than an audit/chain: that chain's records are the engine's
// query attempts (SQL, PINs as keyed hashes, begin/end pairs, a keyed
// head, group commit through a state.Store), and an agent's record
// (engine, request hash, outcome, rows) fits none of it without
// contortion. The hashing is the same: a record's hash is the SHA-256 of
// its stored line without the hash field, the hash field last, so any
// edited byte breaks that record and every link after it.

// LogFormat names the format; the open record carries it.
const LogFormat = "lienthong-agent-log/1"

// logGenesis is record 1's prev: a log whose head was cut cannot pass.
var logGenesis = func() string {
	s := sha256.Sum256([]byte("lienthong agent request log genesis v1"))
	return hex.EncodeToString(s[:])
}()

// Record is one request log line.
type Record struct {
	Seq  uint64    `json:"seq"`
	Prev string    `json:"prev"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // open, close, request, reload

	Format string `json:"format,omitempty"` // open
	Agency string `json:"agency,omitempty"` // open: the agency running the agent
	// Note: open's repair; reload's what changed, or why nothing did.
	Note string `json:"note,omitempty"`

	// request
	Action      string   `json:"action,omitempty"` // scan (DoGet), catalog, ping
	Engine      string   `json:"engine,omitempty"` // the client certificate's common name
	Principal   string   `json:"principal,omitempty"`
	ForAgency   string   `json:"for_agency,omitempty"` // the principal's agency, as the engine declared it
	Purpose     string   `json:"purpose,omitempty"`
	Case        string   `json:"case,omitempty"`
	Attempt     string   `json:"attempt,omitempty"`
	Table       string   `json:"table,omitempty"`
	Columns     []string `json:"columns,omitempty"`
	RequestHash string   `json:"request_hash,omitempty"` // wire.Hash of the ticket
	Outcome     string   `json:"outcome,omitempty"`      // served, refused:<reason>, failed, cancelled; reload: reloaded, refused
	Rows        int64    `json:"rows,omitempty"`
	Bytes       int64    `json:"bytes,omitempty"`
	DurationUS  int64    `json:"duration_us,omitempty"`
	Body        string   `json:"body,omitempty"` // the ticket, with log_bodies only

	Hash string `json:"-"`
}

const (
	hashField = `,"hash":"`
	hashTail  = len(hashField) + 64 + len(`"}`)
)

// line seals r after prev as record seq and returns its stored line.
func (r *Record) line(seq uint64, prev string) ([]byte, error) {
	r.Seq, r.Prev = seq, prev
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	sum := sha256.Sum256(body)
	r.Hash = hex.EncodeToString(sum[:])
	out := append([]byte{}, body[:len(body)-1]...)
	out = append(out, hashField...)
	out = append(out, r.Hash...)
	return append(out, "\"}\n"...), nil
}

// parseLine reads a stored line; ok tells whether its content matches
// its hash.
func parseLine(l []byte) (r *Record, ok bool, err error) {
	l = bytes.TrimRight(l, "\n")
	n := len(l)
	if n < hashTail+2 || l[0] != '{' || !bytes.Equal(l[n-hashTail:n-hashTail+len(hashField)], []byte(hashField)) || !bytes.HasSuffix(l, []byte(`"}`)) {
		return nil, false, errors.New("not a request log record")
	}
	stored := string(l[n-hashTail+len(hashField) : n-2])
	if _, err := hex.DecodeString(stored); err != nil {
		return nil, false, errors.New("not a request log record")
	}
	body := append(append([]byte{}, l[:n-hashTail]...), '}')
	r = &Record{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		return nil, false, fmt.Errorf("not a request log record: %v", err)
	}
	sum := sha256.Sum256(body)
	r.Hash = stored
	return r, hex.EncodeToString(sum[:]) == stored, nil
}

// VerifyError names the first record that breaks the chain.
type VerifyError struct {
	Seq  uint64 // the record number (line) that is bad
	What string
}

func (e *VerifyError) Error() string { return fmt.Sprintf("record %d: %s", e.Seq, e.What) }

// Verify reads a whole log and checks every record's hash, number and
// link; it returns the number of records and the first bad one as a
// *VerifyError. A final line without its newline (the agent died while
// writing it) is reported too: only the agent's own open repairs it.
func Verify(r io.Reader) (n uint64, head string, err error) {
	err = scan(r, func(rec *Record, ok bool, perr error) error {
		n++
		if perr != nil {
			return &VerifyError{Seq: n, What: perr.Error()}
		}
		if !ok {
			return &VerifyError{Seq: n, What: "its content does not match its hash (edited)"}
		}
		if rec.Seq != n {
			return &VerifyError{Seq: n, What: fmt.Sprintf("numbered %d (records removed or reordered)", rec.Seq)}
		}
		want := head
		if n == 1 {
			want = logGenesis
		}
		if rec.Prev != want {
			return &VerifyError{Seq: n, What: "its prev is not the hash of the record before (records removed, inserted or edited)"}
		}
		head = rec.Hash
		return nil
	})
	return n, head, err
}

// errTorn is a last line without its newline.
var errTorn = errors.New("the last record is incomplete (the agent stopped while writing it)")

// scan calls f for each line; a line that does not end in a newline is
// errTorn.
func scan(r io.Reader, f func(*Record, bool, error) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		l, err := br.ReadBytes('\n')
		if len(l) > 0 {
			if l[len(l)-1] != '\n' {
				return f(nil, false, errTorn)
			}
			rec, ok, perr := parseLine(l)
			if ferr := f(rec, ok, perr); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// requestLog appends records, fsyncing each.
type requestLog struct {
	mu     sync.Mutex
	f      *os.File
	seq    uint64
	head   string
	err    error // sticky: after a failed write nothing is served
	bodies bool
}

// openLog opens (or creates) the log at path, verifying what is there;
// a torn last line is cut off and noted in the open record.
func openLog(path, agency string, bodies bool) (*requestLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("request log: %w", err)
	}
	n, head, verr := Verify(f)
	note := ""
	if verr != nil {
		var ve *VerifyError
		if !errors.As(verr, &ve) || ve.What != errTorn.Error() {
			f.Close()
			return nil, fmt.Errorf("request log %s does not verify: %w (lienthong agent log verify %s; move it aside to start a new one)", path, verr, path)
		}
		// Cut the torn line: everything before it verified.
		good, err := goodLength(f)
		if err == nil {
			err = f.Truncate(good)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("request log: %w", err)
		}
		n--
		note = "removed an incomplete last record (the agent stopped while writing it)"
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("request log: %w", err)
	}
	if n == 0 {
		head = logGenesis
	}
	l := &requestLog{f: f, seq: n, head: head, bodies: bodies}
	if err := l.append(&Record{Kind: "open", Format: LogFormat, Agency: agency, Note: note}); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// goodLength is the length of f up to its last newline.
func goodLength(f *os.File) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	return int64(bytes.LastIndexByte(data, '\n') + 1), nil
}

func (l *requestLog) append(r *Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	line, err := r.line(l.seq+1, l.head)
	if err == nil {
		if _, err = l.f.Write(line); err == nil {
			err = l.f.Sync()
		}
	}
	if err != nil {
		l.err = fmt.Errorf("request log: %w", err)
		return l.err
	}
	l.seq++
	l.head = r.Hash
	return nil
}

// healthy is the sticky write error, nil while the log works.
func (l *requestLog) healthy() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Head is the last record's number and hash.
func (l *requestLog) Head() (uint64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.head
}

func (l *requestLog) close() error {
	err := l.append(&Record{Kind: "close"})
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
