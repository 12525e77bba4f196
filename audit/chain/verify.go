package chain

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing Verify found.
type Problem struct {
	Line int    // line of the log file (1-based); 0 for the log as a whole
	Seq  uint64 // the record concerned, when known
	// Kind: changed, removed, reordered, inserted, malformed, truncated,
	// rewritten (evidence of tampering); torn, unanchored, no-head,
	// unauthenticated, clock (warnings, see Warning).
	Kind string
	Msg  string
	// Warning marks findings that are not by themselves evidence of
	// tampering (a write cut short by a crash, a missing head file).
	Warning bool
}

func (p Problem) String() string {
	where := "log"
	switch {
	case p.Line > 0 && p.Seq > 0:
		where = fmt.Sprintf("line %d (record %d)", p.Line, p.Seq)
	case p.Line > 0:
		where = fmt.Sprintf("line %d", p.Line)
	case p.Seq > 0:
		where = fmt.Sprintf("record %d", p.Seq)
	}
	level := "TAMPER"
	if p.Warning {
		level = "warning"
	}
	return fmt.Sprintf("%s: %s: %s: %s", level, where, p.Kind, p.Msg)
}

// Anchor is a (seq, hash) pair known from outside the log: a report that
// printed the head, a replica, a receipt given to another agency.
type Anchor struct {
	Seq  uint64
	Hash string
}

// ParseAnchor reads "SEQ:HASH".
func ParseAnchor(s string) (Anchor, error) {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || len(hash) != 64 {
		return Anchor{}, fmt.Errorf("anchor %q: want SEQ:HASH (a record number and its 64-hex-digit hash)", s)
	}
	return Anchor{Seq: n, Hash: strings.ToLower(hash)}, nil
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	Lines    int    // lines read
	Records  int    // lines that are records
	LastSeq  uint64 // highest record number in chain order
	LastHash string
	Head     *Head // nil without a head file
	// HeadAuthenticated: the head's MAC was checked with the key.
	HeadAuthenticated bool
	Problems          []Problem
	// Unfinished lists attempts with a begin record and no end (a node
	// stopped while they ran), up to 20.
	Unfinished      []string
	UnfinishedCount int
	Opens, Closes   int
	Simulated       bool
	// Nodes that opened the log.
	Nodes []string

	anchorSeen map[uint64]bool // anchor seq -> whether the record's hash matched
}

// Tampered reports whether anything found is evidence of tampering.
func (v *VerifyResult) Tampered() bool {
	for _, p := range v.Problems {
		if !p.Warning {
			return true
		}
	}
	return false
}

// VerifyOptions steer VerifyFile.
type VerifyOptions struct {
	// Keys authenticate the head; without them the head is read but a
	// forged head would pass.
	Keys    *Keys
	Anchors []Anchor
}

// VerifyFile checks the log at path and its head file.
func VerifyFile(path string, opt VerifyOptions) (*VerifyResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head, authed, herr := ReadHead(path, opt.Keys)
	anchors := labelled(opt.Anchors, "an external anchor")
	if head != nil {
		anchors = append(anchors, labelledAnchor{Anchor{Seq: head.Seq, Hash: head.Hash}, "the head file"})
	}
	res, err := verify(f, anchors)
	if err != nil {
		return nil, err
	}
	switch {
	case herr != nil:
		res.Problems = append(res.Problems, Problem{Kind: "head", Msg: herr.Error()})
	case head == nil:
		res.Problems = append(res.Problems, Problem{Kind: "no-head", Warning: true, Msg: "no head file: records removed from the end of the log cannot be detected"})
	default:
		res.Head, res.HeadAuthenticated = head, authed
		if !authed {
			res.Problems = append(res.Problems, Problem{Kind: "unauthenticated", Warning: true, Msg: "head not authenticated (no key given): a forged head would not be noticed; pass --audit-key"})
		}
		if head.Seq < res.LastSeq {
			res.Problems = append(res.Problems, Problem{Seq: head.Seq + 1, Kind: "unanchored", Warning: true,
				Msg: fmt.Sprintf("records %d..%d come after the head (normal only for the last batch before a crash, which the next open adopts; otherwise they were appended by something without the audit key)", head.Seq+1, res.LastSeq)})
		}
	}
	sort.SliceStable(res.Problems, func(i, j int) bool {
		a, b := res.Problems[i], res.Problems[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		return a.Line < b.Line
	})
	return res, nil
}

// verifier is Verify's state while streaming.
type verifier struct {
	res      *VerifyResult
	lastSeq  uint64
	lastHash string
	lastLine int
	lastTime int64
	// missing seqs (a gap was seen) -> the line where the gap showed
	missing map[uint64]int
	// recent records by seq (for duplicates and reordered records)
	seen     map[uint64]seenRec
	anchors  map[uint64]string
	anchorOK map[uint64]bool
	// a duplicate seq waiting to learn which copy the chain continues from
	dup     *seenRec
	begins  map[string]int // attempt -> line of its begin record
	removed []Problem
}

type seenRec struct {
	seq  uint64
	hash string
	prev string
	line int
}

const seenWindow = 4096

// Verify reads a log and checks that every record is intact (its content
// matches its hash), numbered 1, 2, 3... and linked to the one before
// (its prev is that record's hash, Genesis for the first). Anchors are
// checked too. It says which record is wrong and how: changed, removed,
// reordered, inserted, malformed. What a chain cannot show by itself
// (records removed from the end, a rewrite that recomputed every later
// hash) needs the head or anchors: see VerifyFile.
func Verify(r io.Reader, anchors []Anchor) (*VerifyResult, error) {
	return verify(r, labelled(anchors, "an external anchor"))
}

type labelledAnchor struct {
	Anchor
	what string
}

func labelled(as []Anchor, what string) []labelledAnchor {
	out := make([]labelledAnchor, len(as))
	for i, a := range as {
		out[i] = labelledAnchor{a, what}
	}
	return out
}

func verify(r io.Reader, anchors []labelledAnchor) (*VerifyResult, error) {
	v := &verifier{res: &VerifyResult{}, lastHash: Genesis, missing: map[uint64]int{}, seen: map[uint64]seenRec{}, anchors: map[uint64]string{}, anchorOK: map[uint64]bool{}, begins: map[string]int{}}
	for _, a := range anchors {
		v.anchors[a.Seq] = a.Hash
	}
	rd := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 {
			v.res.Lines++
			if line[len(line)-1] != '\n' {
				v.problem(v.res.Lines, 0, "torn", true, fmt.Sprintf("the last line (%d bytes) is incomplete: a write cut short by a crash, never acknowledged; the next open moves it aside", len(line)))
			} else {
				v.line(v.res.Lines, line)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	v.finish()
	for _, a := range anchors {
		v.res.checkAnchor(a.Anchor, a.what)
	}
	return v.res, nil
}

func (v *verifier) problem(line int, seq uint64, kind string, warning bool, msg string) {
	v.res.Problems = append(v.res.Problems, Problem{Line: line, Seq: seq, Kind: kind, Warning: warning, Msg: msg})
}

func (v *verifier) line(n int, line []byte) {
	r, ok, err := ParseRecord(line)
	if err != nil {
		v.problem(n, lineSeq(line), "malformed", false, "not a valid record (inserted, or damaged): "+err.Error())
		return
	}
	v.res.Records++
	if !ok {
		v.problem(n, r.Seq, "changed", false, "the record's content does not match its hash: it was modified after it was written")
	}
	switch r.Kind {
	case KindOpen:
		v.res.Opens++
		if !slices.Contains(v.res.Nodes, r.Node) {
			v.res.Nodes = append(v.res.Nodes, r.Node)
		}
		if r.Simulated {
			v.res.Simulated = true
		}
	case KindClose:
		v.res.Closes++
	case KindBegin:
		v.begins[r.Attempt] = n
	case KindEnd:
		delete(v.begins, r.Attempt)
	}
	want := v.lastSeq + 1
	me := seenRec{seq: r.Seq, hash: r.Hash, prev: r.Prev, line: n}
	switch {
	case r.Seq == want:
		if v.dup != nil {
			// Two records claimed the previous number; the chain goes on
			// from one of them, and the other was inserted.
			d := v.dup
			v.dup = nil
			switch {
			case r.Prev == d.hash && r.Prev != v.lastHash:
				v.problem(v.lastLine, v.lastSeq, "inserted", false, fmt.Sprintf("forged record: the chain continues from the other record %d, at line %d", d.seq, d.line))
				v.lastHash, v.lastLine = d.hash, d.line
			case r.Prev == v.lastHash:
				v.problem(d.line, d.seq, "inserted", false, fmt.Sprintf("forged record: a second record %d; the chain continues from the one at line %d", d.seq, v.lastLine))
			default:
				v.problem(d.line, d.seq, "inserted", false, fmt.Sprintf("a second record %d (the other is at line %d)", d.seq, v.lastLine))
			}
		}
		if r.Prev != v.lastHash {
			if v.lastSeq == 0 {
				v.problem(n, r.Seq, "changed", false, "the first record does not link to the genesis value")
			} else {
				v.problem(n, r.Seq, "changed", false, fmt.Sprintf("its prev hash is not the hash of record %d (line %d): that record was altered and re-hashed, or this one was replaced", v.lastSeq, v.lastLine))
			}
		}
		v.advance(me, r)
	case r.Seq > want:
		for s := want; s < r.Seq && s-want < 1_000_000; s++ {
			v.missing[s] = n
		}
		if r.Seq-want > 1_000_000 {
			v.problem(n, r.Seq, "removed", false, fmt.Sprintf("records %d..%d are missing before this line", want, r.Seq-1))
		}
		v.advance(me, r)
	default: // r.Seq < want: seen already, or expected earlier
		if gap, ok := v.missing[r.Seq]; ok {
			delete(v.missing, r.Seq)
			msg := fmt.Sprintf("out of order: it belongs before line %d (record %d was expected there)", gap, r.Seq)
			if p, ok := v.seen[r.Seq-1]; ok && p.hash != r.Prev {
				msg += "; and its prev hash does not match record " + strconv.FormatUint(r.Seq-1, 10)
			}
			v.problem(n, r.Seq, "reordered", false, msg)
			v.seen[r.Seq] = me
			return
		}
		if prev, ok := v.seen[r.Seq]; ok {
			if prev.hash == r.Hash {
				v.problem(n, r.Seq, "inserted", false, fmt.Sprintf("a copy of record %d (line %d)", r.Seq, prev.line))
				return
			}
			if r.Seq == v.lastSeq && v.dup == nil {
				// Which copy is forged shows when the next record links.
				d := me
				v.dup = &d
				return
			}
			v.problem(n, r.Seq, "inserted", false, fmt.Sprintf("a second record %d (the first is at line %d)", r.Seq, prev.line))
			return
		}
		v.problem(n, r.Seq, "reordered", false, fmt.Sprintf("record %d appears after record %d", r.Seq, v.lastSeq))
	}
}

func (v *verifier) advance(me seenRec, r *Record) {
	if want, ok := v.anchors[r.Seq]; ok {
		v.anchorOK[r.Seq] = want == r.Hash
	}
	if t := r.Time.UnixNano(); t < v.lastTime {
		v.problem(me.line, r.Seq, "clock", true, "its time is earlier than the record before it (the writer never lets time go backwards)")
	} else {
		v.lastTime = t
	}
	v.lastSeq, v.lastHash, v.lastLine = r.Seq, r.Hash, me.line
	v.seen[r.Seq] = me
	if len(v.seen) > seenWindow {
		for s := range v.seen {
			if s+seenWindow/2 < r.Seq {
				delete(v.seen, s)
			}
		}
	}
}

func (v *verifier) finish() {
	if v.dup != nil {
		d := v.dup
		v.problem(d.line, d.seq, "inserted", false, fmt.Sprintf("a second record %d (the other is at line %d) at the end of the log", d.seq, v.lastLine))
	}
	// Group still-missing seqs into ranges.
	var seqs []uint64
	for s := range v.missing {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 && v.missing[seqs[j+1]] == v.missing[seqs[i]] {
			j++
		}
		line := v.missing[seqs[i]]
		what := fmt.Sprintf("record %d is missing before this line (removed)", seqs[i])
		if j > i {
			what = fmt.Sprintf("records %d..%d are missing before this line (removed)", seqs[i], seqs[j])
		}
		v.problem(line, 0, "removed", false, what)
		i = j + 1
	}
	v.res.LastSeq, v.res.LastHash = v.lastSeq, v.lastHash
	v.res.UnfinishedCount = len(v.begins)
	for a := range v.begins {
		if len(v.res.Unfinished) < 20 {
			v.res.Unfinished = append(v.res.Unfinished, a)
		}
	}
	sort.Strings(v.res.Unfinished)
	v.res.anchorSeen = v.anchorOK
}

// checkAnchor compares a known (seq, hash) with the log.
func (res *VerifyResult) checkAnchor(a Anchor, what string) {
	switch ok, seen := res.anchorSeen[a.Seq]; {
	case a.Seq > res.LastSeq:
		res.Problems = append(res.Problems, Problem{Seq: a.Seq, Kind: "truncated",
			Msg: fmt.Sprintf("%s names record %d but the log ends at record %d: %s removed from the end", what, a.Seq, res.LastSeq, seqRange(res.LastSeq+1, a.Seq))})
	case !seen && a.Seq == res.LastSeq && a.Hash != res.LastHash:
		fallthrough
	case seen && !ok:
		res.Problems = append(res.Problems, Problem{Seq: a.Seq, Kind: "rewritten",
			Msg: fmt.Sprintf("record %d's hash differs from the one %s holds: the log was rewritten up to here with recomputed hashes (or the record was changed)", a.Seq, what)})
	}
}

func seqRange(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("record %d was", a)
	}
	return fmt.Sprintf("records %d..%d were", a, b)
}
