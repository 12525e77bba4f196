package chain

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeyEnv is the environment variable that may hold the audit key (hex),
// when no key file is given.
const KeyEnv = "LIENTHONG_AUDIT_KEY"

// MinKeyBytes is the shortest audit key accepted.
const MinKeyBytes = 32

// Keys are derived from one audit key: a key for PIN hashes, a key that
// authenticates log heads, and a public id naming the key in records.
// Keeping them apart means publishing a head MAC reveals nothing about
// the PIN hashes and the other way round.
type Keys struct {
	pin, head []byte
	// ID is the first 16 hex digits of an HMAC of a fixed string: it
	// names the key (records carry it) without revealing it.
	ID string
}

// NewKeys derives the keys from an audit key of at least MinKeyBytes bytes.
func NewKeys(master []byte) (*Keys, error) {
	if len(master) < MinKeyBytes {
		return nil, fmt.Errorf("audit key too short: %d bytes, want at least %d (make one with: lienthong audit keygen --out FILE)", len(master), MinKeyBytes)
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return &Keys{
		pin:  derive("lienthong/audit/pin/v1"),
		head: derive("lienthong/audit/head/v1"),
		ID:   hex.EncodeToString(derive("lienthong/audit/key-id/v1"))[:16],
	}, nil
}

// NewKey makes a random audit key, hex-encoded as key files hold it.
func NewKey() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// LoadKey reads the audit key from file (64 or more hex digits), or from
// the environment variable KeyEnv when file is empty. A key file others
// can read is refused.
func LoadKey(file string) (*Keys, error) {
	var text string
	if file == "" {
		v, ok := os.LookupEnv(KeyEnv)
		if !ok {
			return nil, fmt.Errorf("no audit key: give a key file (--audit-key FILE, [audit] key_file) or set %s; make one with: lienthong audit keygen --out FILE", KeyEnv)
		}
		text = v
	} else {
		st, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("audit key: %w", err)
		}
		if st.Mode().Perm()&0o004 != 0 {
			return nil, fmt.Errorf("audit key %s is readable by every user (mode %v): chmod 600 it", file, st.Mode().Perm())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("audit key: %w", err)
		}
		text = string(b)
	}
	master, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errors.New("audit key must be hex digits (as written by lienthong audit keygen)")
	}
	return NewKeys(master)
}

// WriteKeyFile creates a new key file readable by its owner only; it
// refuses to overwrite one.
func WriteKeyFile(path string) (*Keys, error) {
	key := NewKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	master, _ := hex.DecodeString(key)
	return NewKeys(master)
}

// PIN is the keyed hash of a PIN: HMAC-SHA-256 under the PIN key, 64 hex
// digits. Without the key it cannot be computed, so the 10^12 possible
// PINs cannot be tried against it.
func (k *Keys) PIN(pin string) string {
	m := hmac.New(sha256.New, k.pin)
	m.Write([]byte(pin))
	return hex.EncodeToString(m.Sum(nil))
}

// pinToken is what replaces a PIN in stored SQL text.
func (k *Keys) pinToken(pin string) string { return "pin:" + k.PIN(pin)[:16] }

// mac authenticates a head.
func (k *Keys) mac(b []byte) string {
	m := hmac.New(sha256.New, k.head)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// ScrubSQL replaces PINs in SQL text by their keyed tokens: every literal
// the planner found compared with a PIN column (pins), and, because an
// attempt refused before planning has no such list, every run of exactly
// 12 digits anywhere in the text. The second rule may also hash a 12-digit
// number that is not a PIN; that loses nothing an auditor needs.
func (k *Keys) ScrubSQL(sql string, pins []string) string {
	// Digit runs first: a token is hex and could itself hold 12 digits.
	sql = replaceDigitRuns(sql, 12, k.pinToken)
	for _, p := range pins {
		if p == "" {
			continue
		}
		quoted := "'" + strings.ReplaceAll(p, "'", "''") + "'"
		sql = strings.ReplaceAll(sql, quoted, "'"+k.pinToken(p)+"'")
	}
	return sql
}

// replaceDigitRuns replaces each maximal run of exactly n ASCII digits.
func replaceDigitRuns(s string, n int, repl func(string) string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i == n {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString(repl(s[i:j]))
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Scrub removes PIN-like numbers from free text such as an error message.
func Scrub(s string) string {
	return replaceDigitRuns(s, 12, func(string) string { return "<pin>" })
}
