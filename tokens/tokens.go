// Package tokens holds who may call a node's server: the principals of the
// tokens file, each with the argon2id hash of its bearer token and the
// client certificate CN that names it. The set in force is a
// state.Machine, so that a cluster replicates principals added, changed
// and revoked like any other state. Only hashes are ever held or carried
// in a command, never a token. The package is a leaf (no engine, no
// DuckDB): the consensus path builds without them.
package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/BurntSushi/toml"

	"lienthong/config"
	"lienthong/state"
)

// Entry is one [[principals]] entry of the tokens file.
type Entry struct {
	Name   string `toml:"name" json:"name"`
	Agency string `toml:"agency" json:"agency"`
	// TokenHash is an argon2id hash (lienthong token hash); empty for a
	// principal that only authenticates with a client certificate.
	TokenHash string `toml:"token_hash" json:"token_hash,omitempty"`
	// CertCN is the client certificate subject CN naming this principal;
	// default: the principal's name.
	CertCN string `toml:"cert_cn" json:"cert_cn,omitempty"`
}

// cn is the certificate CN that names e.
func (e Entry) cn() string {
	if e.CertCN != "" {
		return e.CertCN
	}
	return e.Name
}

// Set is a checked, immutable set of principals: names and certificate
// CNs are unique, every agency is given, every hash parses.
type Set struct {
	entries []Entry
	hashes  []*argonHash // by entry; nil for a principal without a token
	byName  map[string]int
	byCN    map[string]int
}

// entryError is a problem with the i-th entry (from 0), at key.
type entryError struct {
	i   int
	key string
	msg string
}

func (e *entryError) Error() string { return e.msg }

// NewSet checks entries as a whole.
func NewSet(entries []Entry) (*Set, error) {
	s := &Set{entries: entries, hashes: make([]*argonHash, len(entries)), byName: map[string]int{}, byCN: map[string]int{}}
	for i, e := range entries {
		bad := func(key, format string, args ...any) error {
			return &entryError{i: i, key: key, msg: fmt.Sprintf(format, args...)}
		}
		if e.Name == "" {
			return nil, bad("name", "principal %d: missing name", i+1)
		}
		if _, dup := s.byName[e.Name]; dup {
			return nil, bad("name", "principal %q listed twice", e.Name)
		}
		if e.Agency == "" {
			return nil, bad("", "principal %q: missing agency", e.Name)
		}
		if _, dup := s.byCN[e.cn()]; dup {
			return nil, bad("cert_cn", "principal %q: certificate CN %q already names another principal", e.Name, e.cn())
		}
		if e.TokenHash != "" {
			h, err := parseArgonHash(e.TokenHash)
			if err != nil {
				return nil, bad("token_hash", "principal %q: token_hash: %v", e.Name, err)
			}
			s.hashes[i] = h
		}
		s.byName[e.Name], s.byCN[e.cn()] = i, i
	}
	return s, nil
}

// Parse checks a tokens file given as bytes; an error names the file and
// the line.
func Parse(path string, data []byte) (*Set, error) {
	var f struct {
		Principals []Entry `toml:"principals"`
	}
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &config.Error{File: path, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &config.Error{File: path, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, &config.Error{File: path, Line: config.KeyLine(data, und[0].String()),
			Msg: fmt.Sprintf("unknown setting %q (want [[principals]] with name, agency, token_hash, cert_cn)", und[0].String())}
	}
	s, err := NewSet(f.Principals)
	var ee *entryError
	if errors.As(err, &ee) {
		return nil, &config.Error{File: path, Line: config.TableLine(data, "[[principals]]", ee.i, ee.key), Msg: ee.msg}
	}
	return s, err
}

// Entries are the principals, in the order they were given.
func (s *Set) Entries() []Entry { return append([]Entry(nil), s.entries...) }

// Lookup finds a principal by name.
func (s *Set) Lookup(name string) (Entry, bool) {
	i, ok := s.byName[name]
	if !ok {
		return Entry{}, false
	}
	return s.entries[i], true
}

// ByCN finds the principal a client certificate CN names.
func (s *Set) ByCN(cn string) (Entry, bool) {
	i, ok := s.byCN[cn]
	if !ok {
		return Entry{}, false
	}
	return s.entries[i], true
}

// Verify finds the principal whose hash token matches, and says how many
// argon2id computations it took (each is deliberately slow).
func (s *Set) Verify(token string) (e Entry, ok bool, runs int) {
	for i, h := range s.hashes {
		if h == nil {
			continue
		}
		runs++
		if h.verify(token) {
			return s.entries[i], true, runs
		}
	}
	return Entry{}, false, runs
}

// The machine's commands. OpSet replaces every principal with a whole
// tokens file (checked whole, refused with its file and line); OpPut adds
// or replaces one principal; OpRevoke removes one.
const (
	OpSet    = "tokens.set"
	OpPut    = "tokens.put"
	OpRevoke = "tokens.revoke"
)

// SetBody is an OpSet command's body: the file's text (hashes only) and
// the name its errors cite.
type SetBody struct {
	Path string `json:"path"`
	Text string `json:"text"`
	// Seed: put it in force only if no set ever was (a node's own file at
	// start; in a cluster the principals in force stay). Checked all the
	// same.
	Seed bool `json:"seed,omitempty"`
}

// RevokeBody is an OpRevoke command's body.
type RevokeBody struct {
	Name string `json:"name"`
}

// SetCommand puts the tokens file text in force.
func SetCommand(at time.Time, path string, text []byte) (state.Command, error) {
	return state.New(OpSet, at, SetBody{Path: path, Text: string(text)})
}

// SeedCommand is SetCommand that changes nothing once a set is in force.
func SeedCommand(at time.Time, path string, text []byte) (state.Command, error) {
	return state.New(OpSet, at, SetBody{Path: path, Text: string(text), Seed: true})
}

// PutCommand adds e, or replaces the principal of its name.
func PutCommand(at time.Time, e Entry) (state.Command, error) { return state.New(OpPut, at, e) }

// RevokeCommand removes the principal name.
func RevokeCommand(at time.Time, name string) (state.Command, error) {
	return state.New(OpRevoke, at, RevokeBody{Name: name})
}

// Machine holds the principals in force as a state.Machine. Apply checks
// the whole resulting set and refuses a command that would break it,
// leaving the set as it was. Its zero value has no principals.
type Machine struct {
	cur atomic.Pointer[Set]
}

var empty = &Set{byName: map[string]int{}, byCN: map[string]int{}}

// Current is the set in force; readers take it once per request.
func (m *Machine) Current() *Set {
	if s := m.cur.Load(); s != nil {
		return s
	}
	return empty
}

// Apply puts an OpSet, OpPut or OpRevoke command in force and returns the
// new set.
func (m *Machine) Apply(c state.Command) (any, error) {
	cur, next := m.Current(), (*Set)(nil)
	var err error
	switch c.Op {
	case OpSet:
		var b SetBody
		if err := json.Unmarshal(c.Body, &b); err != nil {
			return nil, fmt.Errorf("tokens: reading %s: %w", c.Op, err)
		}
		next, err = Parse(b.Path, []byte(b.Text))
		if err == nil && b.Seed {
			if set := m.cur.Load(); set != nil {
				return set, nil
			}
		}
	case OpPut:
		var e Entry
		if err := json.Unmarshal(c.Body, &e); err != nil {
			return nil, fmt.Errorf("tokens: reading %s: %w", c.Op, err)
		}
		entries := cur.Entries()
		if i, ok := cur.byName[e.Name]; ok {
			entries[i] = e
		} else {
			entries = append(entries, e)
		}
		next, err = NewSet(entries)
	case OpRevoke:
		var b RevokeBody
		if err := json.Unmarshal(c.Body, &b); err != nil {
			return nil, fmt.Errorf("tokens: reading %s: %w", c.Op, err)
		}
		i, ok := cur.byName[b.Name]
		if !ok {
			return nil, fmt.Errorf("tokens: no principal %q to revoke", b.Name)
		}
		entries := cur.Entries()
		next, err = NewSet(append(entries[:i], entries[i+1:]...))
	default:
		return nil, fmt.Errorf("tokens: unknown command %q", c.Op)
	}
	if err != nil {
		return nil, err
	}
	m.cur.Store(next)
	return next, nil
}

// Snapshot is the principals in force, in order.
func (m *Machine) Snapshot() ([]byte, error) {
	entries := m.Current().entries
	if entries == nil {
		entries = []Entry{}
	}
	return json.Marshal(entries)
}

// Restore puts a snapshot's principals in force.
func (m *Machine) Restore(b []byte) error {
	var entries []Entry
	if err := json.Unmarshal(b, &entries); err != nil {
		return fmt.Errorf("tokens: reading snapshot: %w", err)
	}
	s, err := NewSet(entries)
	if err != nil {
		return fmt.Errorf("tokens: snapshot: %w", err)
	}
	m.cur.Store(s)
	return nil
}
