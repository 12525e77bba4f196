package chain

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Store keeps records durably and in order. Chaining (seq, prev, hash) is
// done by the writer before Append; a store only keeps what it is given.
// The default is a FileStore; the cluster work replaces it with one that
// replicates each batch through raft before Append returns.
type Store interface {
	// Append stores recs after the last stored record, in order. When it
	// returns nil every record in recs survives a crash of the process or
	// the machine. On error the store is unusable until reopened (a
	// prefix of recs may have been stored).
	Append(recs []*Record) error
	// Iterate calls fn with each stored record whose Seq >= from, in order,
	// until fn returns an error (which Iterate returns).
	Iterate(from uint64, fn func(*Record) error) error
	// Last is the last stored record, nil when there is none.
	Last() *Record
	Close() error
}

// ErrTampered marks an error about a log that is not as its writer left it.
var ErrTampered = errors.New("audit log tampered with")

// ErrLocked is returned when another process has the log open for writing.
var ErrLocked = errors.New("audit log is open for writing by another process")

// IndexEvery is how often (in records) the sparse index notes an offset.
const IndexEvery = 1024

// FileOptions configure a FileStore.
type FileOptions struct {
	// Keys authenticate the head file; without them no head is written
	// and truncation of the tail cannot be detected.
	Keys *Keys
	Node string
	// NoSync skips fsync: only for simulations and tests.
	NoSync bool
}

// FileStore is an append-only JSON-lines file with two sidecars:
//   - FILE.head: the last record's seq, hash and offset, authenticated with
//     the head key and rewritten after every append (two alternating
//     512-byte slots, so a torn write leaves the other one). It is what
//     detects removal of records from the end, which a hash chain alone
//     cannot.
//   - FILE.idx: a sparse index (seq, offset, time) every IndexEvery
//     records, a hint for seeking that is rebuilt when it disagrees with
//     the log.
//
// The file is locked (flock) against a second writer.
type FileStore struct {
	path string
	opt  FileOptions

	mu     sync.Mutex
	f      *os.File
	size   int64
	last   *Record
	broken error

	headF      *os.File
	headWrites uint64
	idxF       *os.File
	idx        []indexEntry
	// Recovered says what opening had to do (empty when the log was
	// closed cleanly or is new).
	Recovered string
}

// Head is the authenticated pointer to a log's last record.
type Head struct {
	Seq    uint64    `json:"seq"`
	Hash   string    `json:"hash"`
	Offset int64     `json:"offset"` // bytes of the log through record Seq
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	KeyID  string    `json:"key_id"`
	MAC    string    `json:"mac,omitempty"`
}

func (h *Head) macInput() []byte {
	return fmt.Appendf(nil, "lienthong-head|%d|%s|%d|%s|%s|%s", h.Seq, h.Hash, h.Offset, h.Time.UTC().Format(time.RFC3339Nano), h.Node, h.KeyID)
}

const headSlot = 512

// HeadPath, IndexPath and HealthPath name a log's sidecars.
func HeadPath(log string) string   { return log + ".head" }
func IndexPath(log string) string  { return log + ".idx" }
func HealthPath(log string) string { return log + ".health" }

// ReadHead reads a log's head file. With keys, only a slot whose MAC
// verifies counts; without, any readable slot (authenticated reports
// false). It returns nil, false, nil when there is no head file.
func ReadHead(log string, keys *Keys) (h *Head, authenticated bool, err error) {
	b, err := os.ReadFile(HeadPath(log))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var best *Head
	badMAC := false
	for off := 0; off+1 < len(b); off += headSlot {
		end := min(off+headSlot, len(b))
		var h Head
		if json.Unmarshal(bytes.TrimSpace(b[off:end]), &h) != nil || h.Hash == "" {
			continue
		}
		if keys != nil && (h.KeyID != keys.ID || keys.mac(h.macInput()) != h.MAC) {
			badMAC = true
			continue
		}
		if best == nil || h.Seq > best.Seq {
			best = &h
		}
	}
	if best == nil {
		if badMAC {
			return nil, false, fmt.Errorf("%w: the head file %s does not authenticate with this key (a different key, or the head was forged)", ErrTampered, HeadPath(log))
		}
		return nil, false, fmt.Errorf("%w: the head file %s holds no readable head", ErrTampered, HeadPath(log))
	}
	return best, keys != nil, nil
}

// OpenFileStore opens (creating if needed) the log at path for appending.
// A log left by a crash is repaired: bytes after the last record that
// chains correctly (a write cut short) are moved to FILE.torn-<time> and
// the log is truncated there; records written after the head but before
// its update are adopted. A log whose head names a record it no longer
// has, or a different one, is refused with ErrTampered: run audit verify.
func OpenFileStore(path string, opt FileOptions) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	s := &FileStore{path: path, opt: opt, f: f}
	if err := s.recover(); err != nil {
		f.Close()
		return nil, err
	}
	if opt.Keys != nil {
		if s.headF, err = os.OpenFile(HeadPath(path), os.O_RDWR|os.O_CREATE, 0o640); err != nil {
			f.Close()
			return nil, err
		}
	}
	if s.idxF, err = os.OpenFile(IndexPath(path), os.O_RDWR|os.O_CREATE, 0o640); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.loadIndex(); err != nil {
		s.Close()
		return nil, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil && !opt.NoSync {
		s.Close()
		return nil, err
	}
	if s.last != nil && s.headF != nil {
		if err := s.writeHead(); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// recover finds the last record that chains, starting from the head.
func (s *FileStore) recover() error {
	st, err := s.f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	var notes []string
	start := int64(0)
	var last *Record
	head, _, herr := ReadHead(s.path, s.opt.Keys)
	switch {
	case herr != nil:
		return herr
	case head == nil:
		notes = append(notes, "no head file: checked the whole log; removal of records from the end before this point cannot be ruled out")
	case head.Offset > size:
		return fmt.Errorf("%w: %s is %d bytes but its head names record %d ending at byte %d: records were removed from the end (run lienthong audit verify)", ErrTampered, s.path, size, head.Seq, head.Offset)
	default:
		r, err := s.recordEndingAt(head.Offset)
		if err != nil || r.Seq != head.Seq || r.Hash != head.Hash {
			return fmt.Errorf("%w: %s: the record at the head's position is not record %d with the head's hash: the log was changed (run lienthong audit verify)", ErrTampered, s.path, head.Seq)
		}
		start, last = head.Offset, r
	}
	good, adopted, last, err := s.scanChain(start, last)
	if err != nil {
		return err
	}
	if adopted > 0 && head != nil {
		notes = append(notes, fmt.Sprintf("adopted %d records written after the last head update (a crash between the log and head writes)", adopted))
	}
	if good < size {
		keep := fmt.Sprintf("%s.torn-%d", s.path, time.Now().UnixNano())
		tail := make([]byte, size-good)
		if _, err := s.f.ReadAt(tail, good); err != nil {
			return err
		}
		if err := os.WriteFile(keep, tail, 0o640); err != nil {
			return err
		}
		if err := s.f.Truncate(good); err != nil {
			return err
		}
		if err := s.f.Sync(); err != nil {
			return err
		}
		notes = append(notes, fmt.Sprintf("moved %d bytes after record %d that are not a complete chained record (a write cut short by a crash; never acknowledged) to %s", size-good, seqOf(last), filepath.Base(keep)))
		size = good
	}
	s.size, s.last = size, last
	s.Recovered = joinNotes(notes)
	return nil
}

func seqOf(r *Record) uint64 {
	if r == nil {
		return 0
	}
	return r.Seq
}

func joinNotes(n []string) string {
	var b bytes.Buffer
	for i, s := range n {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// scanChain reads from offset start, accepting records while each is
// intact and chains to the one before; it returns the offset after the
// last accepted record.
func (s *FileStore) scanChain(start int64, last *Record) (good int64, accepted int, _ *Record, err error) {
	rd := bufio.NewReaderSize(io.NewSectionReader(s.f, start, 1<<62), 1<<20)
	good = start
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) == 0 || line[len(line)-1] != '\n' {
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, 0, nil, err
			}
			return good, accepted, last, nil
		}
		r, ok, perr := ParseRecord(line)
		wantSeq, wantPrev := uint64(1), Genesis
		if last != nil {
			wantSeq, wantPrev = last.Seq+1, last.Hash
		}
		if perr != nil || !ok || r.Seq != wantSeq || r.Prev != wantPrev {
			return good, accepted, last, nil
		}
		last = r
		accepted++
		good += int64(len(line))
	}
}

// recordEndingAt reads the line that ends at byte off (exclusive).
func (s *FileStore) recordEndingAt(off int64) (*Record, error) {
	if off <= 0 {
		return nil, ErrMalformed
	}
	begin := off - 1
	buf := make([]byte, 64<<10)
	for begin > 0 {
		n := int64(len(buf))
		from := max(0, begin-n)
		chunk := buf[:begin-from]
		if _, err := s.f.ReadAt(chunk, from); err != nil {
			return nil, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			begin = from + int64(i) + 1
			break
		}
		begin = from
	}
	line := make([]byte, off-begin)
	if _, err := s.f.ReadAt(line, begin); err != nil {
		return nil, err
	}
	r, ok, err := ParseRecord(line)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrMalformed
	}
	return r, nil
}

// Append writes recs, fsyncs the log, then rewrites and fsyncs the head.
// The order matters: after a crash the head never names a record the log
// lacks.
func (s *FileStore) Append(recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	var buf bytes.Buffer
	var newIdx []indexEntry
	off := s.size
	for _, r := range recs {
		if r.Seq%IndexEvery == 0 {
			newIdx = append(newIdx, indexEntry{Seq: r.Seq, Offset: off + int64(buf.Len()), Time: r.Time.UnixNano()})
		}
		buf.Write(r.Raw)
	}
	n, err := s.f.WriteAt(buf.Bytes(), s.size)
	if err == nil && !s.opt.NoSync {
		err = s.f.Sync()
	}
	if err != nil {
		s.broken = fmt.Errorf("audit log %s: %w (reopen to recover)", s.path, err)
		return s.broken
	}
	s.size += int64(n)
	s.last = recs[len(recs)-1]
	if s.headF != nil {
		if err := s.writeHead(); err != nil {
			s.broken = fmt.Errorf("audit log head %s: %w", HeadPath(s.path), err)
			return s.broken
		}
	}
	s.appendIndex(newIdx)
	return nil
}

func (s *FileStore) writeHead() error {
	h := Head{Seq: s.last.Seq, Hash: s.last.Hash, Offset: s.size, Time: s.last.Time.UTC(), Node: s.opt.Node, KeyID: s.opt.Keys.ID}
	h.MAC = s.opt.Keys.mac(h.macInput())
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if len(b) >= headSlot {
		return errors.New("head too large")
	}
	slot := bytes.Repeat([]byte{' '}, headSlot)
	copy(slot, b)
	slot[headSlot-1] = '\n'
	// Alternate slots: a torn write spoils at most the slot being written.
	if _, err := s.headF.WriteAt(slot, int64(s.headWrites%2)*headSlot); err != nil {
		return err
	}
	s.headWrites++
	if s.opt.NoSync {
		return nil
	}
	return fdatasync(s.headF)
}

// Last is the last stored record.
func (s *FileStore) Last() *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Size is the log's length in bytes.
func (s *FileStore) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Iterate reads records from seq from on, as of the call (records
// appended meanwhile are not read).
func (s *FileStore) Iterate(from uint64, fn func(*Record) error) error {
	s.mu.Lock()
	size, idx := s.size, s.idx
	s.mu.Unlock()
	return iterateFile(s.path, size, idx, from, fn)
}

// Close closes the files (without writing a close record: Log.Close does).
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, f := range []*os.File{s.f, s.headF, s.idxF} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	s.f, s.headF, s.idxF = nil, nil, nil
	if s.broken == nil {
		s.broken = errors.New("audit log closed")
	}
	return errors.Join(errs...)
}

// --- the sparse index ---

type indexEntry struct {
	Seq    uint64
	Offset int64
	Time   int64 // unix nanoseconds
}

const indexEntrySize = 24

func (s *FileStore) loadIndex() error {
	b, err := io.ReadAll(io.NewSectionReader(s.idxF, 0, 1<<62))
	if err != nil {
		return err
	}
	s.idx = decodeIndex(b)
	// Keep entries that still point at the record they name; a crash or a
	// repair can leave later ones stale.
	keep := len(s.idx)
	for keep > 0 {
		e := s.idx[keep-1]
		if e.Offset < s.size && s.seqAt(e.Offset) == e.Seq {
			break
		}
		keep--
	}
	lastIndexed := uint64(0)
	if keep > 0 {
		lastIndexed = s.idx[keep-1].Seq
	}
	if keep != len(s.idx) || (s.last != nil && s.last.Seq/IndexEvery*IndexEvery > lastIndexed) {
		return s.rebuildIndex(keep)
	}
	return nil
}

// seqAt reads the seq of the line starting at off (0 if none).
func (s *FileStore) seqAt(off int64) uint64 {
	var b [40]byte
	n, _ := s.f.ReadAt(b[:], off)
	return lineSeq(b[:n])
}

func lineSeq(b []byte) uint64 {
	const p = `{"seq":`
	if !bytes.HasPrefix(b, []byte(p)) {
		return 0
	}
	b = b[len(p):]
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	v, _ := strconv.ParseUint(string(b[:i]), 10, 64)
	return v
}

// rebuildIndex rescans the log after the first keep entries.
func (s *FileStore) rebuildIndex(keep int) error {
	s.idx = s.idx[:keep]
	start := int64(0)
	if keep > 0 {
		start = s.idx[keep-1].Offset
	}
	rd := bufio.NewReaderSize(io.NewSectionReader(s.f, start, s.size-start), 1<<20)
	off := start
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 {
			seq := lineSeq(line)
			if seq%IndexEvery == 0 && seq != 0 && (len(s.idx) == 0 || seq > s.idx[len(s.idx)-1].Seq) {
				if r, _, perr := ParseRecord(line); perr == nil {
					s.idx = append(s.idx, indexEntry{Seq: seq, Offset: off, Time: r.Time.UnixNano()})
				}
			}
			off += int64(len(line))
		}
		if err != nil {
			break
		}
	}
	if err := s.idxF.Truncate(0); err != nil {
		return err
	}
	_, err := s.idxF.WriteAt(encodeIndex(s.idx), 0)
	return err
}

func (s *FileStore) appendIndex(es []indexEntry) {
	if len(es) == 0 {
		return
	}
	// The index is a hint: a failed write is repaired at the next open.
	_, _ = s.idxF.WriteAt(encodeIndex(es), int64(len(s.idx))*indexEntrySize)
	s.idx = append(s.idx[:len(s.idx):len(s.idx)], es...)
}

func encodeIndex(es []indexEntry) []byte {
	b := make([]byte, 0, len(es)*indexEntrySize)
	for _, e := range es {
		b = binary.LittleEndian.AppendUint64(b, e.Seq)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Offset))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Time))
	}
	return b
}

func decodeIndex(b []byte) []indexEntry {
	var es []indexEntry
	for len(b) >= indexEntrySize {
		e := indexEntry{Seq: binary.LittleEndian.Uint64(b), Offset: int64(binary.LittleEndian.Uint64(b[8:])), Time: int64(binary.LittleEndian.Uint64(b[16:]))}
		if len(es) > 0 && (e.Seq <= es[len(es)-1].Seq || e.Offset <= es[len(es)-1].Offset) {
			break
		}
		es = append(es, e)
		b = b[indexEntrySize:]
	}
	return es
}

// --- reading ---

// Reader reads a log file without locking it, so logs in use can be
// searched and reported on. It sees the records present when opened.
type Reader struct {
	path string
	size int64
	idx  []indexEntry
}

// OpenReader opens a log for reading.
func OpenReader(path string) (*Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	r := &Reader{path: path, size: st.Size()}
	if b, err := os.ReadFile(IndexPath(path)); err == nil {
		r.idx = decodeIndex(b)
	}
	return r, nil
}

// Iterate reads records with Seq >= from. It stops at the first line that
// is not a record (run Verify to learn more); a last line without its
// newline (a write in progress or cut short) is not read.
func (r *Reader) Iterate(from uint64, fn func(*Record) error) error {
	return iterateFile(r.path, r.size, r.idx, from, fn)
}

// SeqFor returns a seq from which iterating sees every record written at
// or after t (record times never decrease within a log).
func (r *Reader) SeqFor(t time.Time) uint64 {
	i := sort.Search(len(r.idx), func(i int) bool { return r.idx[i].Time >= t.UnixNano() })
	if i == 0 {
		return 0
	}
	return r.idx[i-1].Seq
}

func iterateFile(path string, size int64, idx []indexEntry, from uint64, fn func(*Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start := int64(0)
	if i := sort.Search(len(idx), func(i int) bool { return idx[i].Seq > from }); i > 0 {
		e := idx[i-1]
		var b [40]byte
		n, _ := f.ReadAt(b[:], e.Offset)
		if e.Offset < size && lineSeq(b[:n]) == e.Seq {
			start = e.Offset
		}
	}
	rd := bufio.NewReaderSize(io.NewSectionReader(f, start, size-start), 1<<20)
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if seq := lineSeq(line); seq != 0 && seq < from {
				continue
			}
			rec, _, perr := ParseRecord(line)
			if perr != nil {
				return fmt.Errorf("%s: a line that is not a record after byte %d: run lienthong audit verify", path, start)
			}
			if ferr := fn(rec); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
