package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lienthong/audit"
	"lienthong/audit/chain"
	"lienthong/engine"
)

func testKeys(t testing.TB) *chain.Keys {
	t.Helper()
	k, err := chain.NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeClock advances one second per reading, so record times are distinct.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func attempt(i int) *engine.Attempt {
	return &engine.Attempt{
		ID:      fmt.Sprintf("att-%04d", i),
		Start:   time.Date(2026, 3, 1, 8, 0, i, 0, time.UTC),
		Session: engine.Session{Principal: "canbo.hn.01", Agency: "BHXH", Purpose: "HEALTH_CARD_UNDER6", CaseID: fmt.Sprintf("HS-%d", i)},
		SQL:     fmt.Sprintf("SELECT * FROM dancu.citizens WHERE pin = '0010990%05d'", i),
		Sources: []string{"dancu"}, Tables: []string{"dancu.citizens"}, Columns: []string{"dancu.citizens.pin"},
		FilterPINs: []string{fmt.Sprintf("0010990%05d", i)},
	}
}

// writeLog writes n attempts (a begin and an end each) between an open
// and a close record: 2n+2 records.
func writeLog(t testing.TB, path string, n int) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	l, err := audit.Open(audit.Options{Path: path, Keys: testKeys(t), Node: "node-1", Now: clk.now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		a := attempt(i)
		if err := l.Begin(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		a.Outcome, a.Rows, a.Duration = engine.Succeeded, int64(i), time.Duration(i)*time.Millisecond
		a.RowsPerSource = map[string]int64{"dancu": int64(i)}
		a.ResultSHA256 = strings.Repeat("ab", 32)
		if err := l.End(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func writeLines(t testing.TB, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o640); err != nil {
		t.Fatal(err)
	}
}

func verify(t testing.TB, path string) *chain.VerifyResult {
	t.Helper()
	res, err := chain.VerifyFile(path, chain.VerifyOptions{Keys: testKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCleanLogVerifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 20)
	res := verify(t, path)
	if len(res.Problems) > 0 || res.Records != 42 || res.LastSeq != 42 || !res.HeadAuthenticated {
		t.Fatalf("clean log: %+v", res)
	}
	// Reopening continues the chain.
	writeLog(t, path, 3)
	res = verify(t, path)
	if len(res.Problems) > 0 || res.LastSeq != 50 || res.Opens != 2 || res.Closes != 2 {
		t.Fatalf("reopened log: %+v %v", res, res.Problems)
	}
}

func TestNoPINInClear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 5)
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("001099000003")) {
		t.Fatal("a PIN is stored in clear")
	}
	k := testKeys(t)
	if !bytes.Contains(b, []byte(k.PIN("001099000003"))) || !bytes.Contains(b, []byte("'pin:"+k.PIN("001099000003")[:16]+"'")) {
		t.Fatal("the PIN's keyed hash is not in the record and the SQL")
	}
	// An attempt refused before planning has no PIN list: 12-digit runs go anyway.
	if got := k.ScrubSQL("SELEC * FROM x WHERE pin=001099000003 OR id=12345678901234", nil); strings.Contains(got, "001099000003") || !strings.Contains(got, "12345678901234") {
		t.Fatalf("scrub: %s", got)
	}
}

func problems(res *chain.VerifyResult) string {
	var b strings.Builder
	for _, p := range res.Problems {
		b.WriteString(p.String())
		b.WriteString("\n")
	}
	return b.String()
}

// expect checks that verification flags tampering with a problem of the
// given kind at the given line (0: any line).
func expect(t *testing.T, res *chain.VerifyResult, kind string, line int) {
	t.Helper()
	if !res.Tampered() {
		t.Fatalf("tampering not detected:\n%s", problems(res))
	}
	for _, p := range res.Problems {
		if p.Kind == kind && !p.Warning && (line == 0 || p.Line == line) {
			return
		}
	}
	t.Fatalf("want a %q problem at line %d, got:\n%s", kind, line, problems(res))
}

func TestTamperModifyField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 10)
	lines := readLines(t, path)
	// Line 7 is the end record of attempt 2: claim fewer rows were shared.
	lines[6] = bytes.Replace(lines[6], []byte(`"rows":2,`), []byte(`"rows":1,`), 1)
	writeLines(t, path, lines)
	res := verify(t, path)
	expect(t, res, "changed", 7)
	t.Log(problems(res))
}

func TestTamperModifyAndRehash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 10)
	lines := readLines(t, path)
	// Change the agency and recompute this record's hash: the next
	// record's prev no longer matches.
	r, _, _ := chain.ParseRecord(lines[4])
	r.Agency = "UBND-HN"
	lines[4] = resealed(t, r)
	writeLines(t, path, lines)
	res := verify(t, path)
	expect(t, res, "changed", 6)
	t.Log(problems(res))
}

// resealed re-encodes r with a correct hash for its new content, as a
// forger who knows the format would: the JSON without the hash field (HTML
// not escaped), then its SHA-256 as the last field.
func resealed(t *testing.T, r *chain.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	sum := sha256.Sum256(body)
	return fmt.Appendf(body[:len(body)-1:len(body)-1], `,"hash":"%x"}`+"\n", sum)
}

func TestTamperDeleteRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 10)
	lines := readLines(t, path)
	lines = append(lines[:7:7], lines[8:]...) // record 8 gone
	writeLines(t, path, lines)
	res := verify(t, path)
	expect(t, res, "removed", 8)
	if !strings.Contains(problems(res), "record 8 is missing") {
		t.Fatal(problems(res))
	}
	t.Log(problems(res))
}

func TestTamperDeleteFirstRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 3)
	lines := readLines(t, path)
	writeLines(t, path, lines[1:])
	expect(t, verify(t, path), "removed", 1)
}

func TestTamperReorder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 10)
	lines := readLines(t, path)
	lines[4], lines[5] = lines[5], lines[4] // records 5 and 6 swapped
	writeLines(t, path, lines)
	res := verify(t, path)
	expect(t, res, "reordered", 6)
	if strings.Contains(problems(res), "removed") {
		t.Fatalf("a swap is not a removal:\n%s", problems(res))
	}
	t.Log(problems(res))
}

func TestTamperInsertForged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 10)
	lines := readLines(t, path)
	// A forger who knows the format inserts a well-formed record 7 that
	// links to record 6, before the genuine record 7.
	prev, _, _ := chain.ParseRecord(lines[5])
	forged := &chain.Record{Seq: 7, Prev: prev.Hash, Time: prev.Time, Node: "node-1", Kind: chain.KindEnd, Attempt: "att-forged", Agency: "BHXH", Outcome: "succeeded"}
	line := resealed(t, forged)
	lines = append(lines[:6:6], append([][]byte{line}, lines[6:]...)...)
	writeLines(t, path, lines)
	res := verify(t, path)
	expect(t, res, "inserted", 7)
	for _, p := range res.Problems {
		if p.Line == 8 {
			t.Fatalf("the genuine record was blamed:\n%s", problems(res))
		}
	}
	t.Log(problems(res))
}

func TestTamperInsertGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 5)
	lines := readLines(t, path)
	lines = append(lines[:3:3], append([][]byte{[]byte(`{"seq":4,"kind":"end","agency":"X"}` + "\n")}, lines[3:]...)...)
	writeLines(t, path, lines)
	expect(t, verify(t, path), "malformed", 4)
}

func TestTamperTruncateTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 10)
	lines := readLines(t, path)
	writeLines(t, path, lines[:len(lines)-1]) // the close record gone
	// The chain alone is fine with it...
	f, _ := os.Open(path)
	chainOnly, err := chain.Verify(f, nil)
	f.Close()
	if err != nil || chainOnly.Tampered() {
		t.Fatalf("a chain alone cannot see truncation: %v %v", err, problems(chainOnly))
	}
	// ...the authenticated head is what sees it.
	res := verify(t, path)
	expect(t, res, "truncated", 0)
	t.Log(problems(res))
	// And the node refuses to append to it.
	if _, err := audit.Open(audit.Options{Path: path, Keys: testKeys(t)}); err == nil || !strings.Contains(err.Error(), "removed from the end") {
		t.Fatalf("opening a truncated log: %v", err)
	}
}

func TestTamperTruncateAndForgeHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 10)
	lines := readLines(t, path)
	writeLines(t, path, lines[:len(lines)-3])
	// Without the key the head cannot be redone: remove it instead.
	os.Remove(chain.HeadPath(path))
	res := verify(t, path)
	if res.Tampered() {
		t.Fatal("without a head truncation is invisible to the log itself")
	}
	found := false
	for _, p := range res.Problems {
		found = found || p.Kind == "no-head"
	}
	if !found {
		t.Fatal("a missing head must be reported")
	}
	// An external anchor (e.g. printed in last period's report) catches it.
	last, _, _ := chain.ParseRecord(lines[len(lines)-1])
	res2, err := chain.VerifyFile(path, chain.VerifyOptions{Keys: testKeys(t), Anchors: []chain.Anchor{{Seq: last.Seq, Hash: last.Hash}}})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res2, "truncated", 0)
}

func TestTamperRewriteWholeChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 6)
	lines := readLines(t, path)
	// Change record 3 and recompute every later hash: the chain is
	// consistent again; only the head (keyed) shows it.
	prev := ""
	for i, l := range lines {
		r, _, _ := chain.ParseRecord(l)
		if i == 2 {
			r.Agency = "FORGED"
		}
		if i > 0 {
			r.Prev = prev
		}
		lines[i] = resealed(t, r)
		r2, _, _ := chain.ParseRecord(lines[i])
		prev = r2.Hash
	}
	writeLines(t, path, lines)
	f, _ := os.Open(path)
	chainOnly, _ := chain.Verify(f, nil)
	f.Close()
	if chainOnly.Tampered() {
		t.Fatal("expected a consistent rewritten chain")
	}
	expect(t, verify(t, path), "rewritten", 0)
}

func TestTornTailRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 4)
	lines := readLines(t, path)
	// A crash cut the last write short.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(lines[2][:40])
	f.Close()
	res := verify(t, path)
	if res.Tampered() {
		t.Fatalf("a torn tail is not tampering:\n%s", problems(res))
	}
	writeLog(t, path, 1) // reopen: moves the torn bytes aside, continues
	res = verify(t, path)
	if len(res.Problems) > 0 {
		t.Fatalf("after recovery:\n%s", problems(res))
	}
	var notes []string
	it, _ := chain.OpenReader(path)
	it.Iterate(0, func(r *chain.Record) error {
		if r.Kind == chain.KindOpen && r.Note != "" {
			notes = append(notes, r.Note)
		}
		return nil
	})
	if len(notes) != 1 || !strings.Contains(notes[0], "moved 40 bytes") {
		t.Fatalf("recovery notes: %q", notes)
	}
	torn, _ := filepath.Glob(path + ".torn-*")
	if len(torn) != 1 {
		t.Fatalf("torn bytes kept in %v", torn)
	}
}

func TestRecordsAfterHeadAdopted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 3)
	head, _ := os.ReadFile(chain.HeadPath(path))
	writeLog(t, path, 2)
	// Crash between the log's fsync and the head's: the head is older.
	os.WriteFile(chain.HeadPath(path), head, 0o640)
	res := verify(t, path)
	if res.Tampered() {
		t.Fatalf("records after the head are not tampering by themselves:\n%s", problems(res))
	}
	writeLog(t, path, 1)
	res = verify(t, path)
	if len(res.Problems) > 0 {
		t.Fatalf("after adoption:\n%s", problems(res))
	}
}

func TestSecondWriterRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(audit.Options{Path: path, Keys: testKeys(t), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := audit.Open(audit.Options{Path: path, Keys: testKeys(t)}); err == nil {
		t.Fatal("a second writer must be refused")
	}
}

func TestWrongKeyRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 2)
	other, _ := chain.NewKeys(bytes.Repeat([]byte{9}, 32))
	if _, err := audit.Open(audit.Options{Path: path, Keys: other}); err == nil {
		t.Fatal("a head that does not authenticate must stop the node")
	}
	res, err := chain.VerifyFile(path, chain.VerifyOptions{Keys: other})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, "head", 0)
}

func TestSearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, 2000) // more than IndexEvery records
	r, err := chain.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	k := testKeys(t)
	var got []string
	err = chain.Attempts(r, 0, chain.Filter{PINHash: k.PIN("001099001234")}, func(a *chain.AttemptView) error {
		got = append(got, a.End.Attempt)
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != "att-1234" {
		t.Fatalf("by PIN: %v %v", got, err)
	}
	from := time.Date(2026, 3, 1, 8, 0, 1500, 0, time.UTC)
	n := 0
	err = chain.Attempts(r, r.SeqFor(from), chain.Filter{From: from, Agency: "bhxh", Outcome: "succeeded"}, func(a *chain.AttemptView) error {
		if a.Begin == nil || a.Begin.SQL == "" {
			t.Fatal("begin record not paired")
		}
		n++
		return nil
	})
	if err != nil || n != 500 {
		t.Fatalf("by time: %d %v", n, err)
	}
	if r.SeqFor(from) == 0 {
		t.Fatal("the index was not used")
	}
}
