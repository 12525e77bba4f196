package tokens

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new token hashes: OWASP's recommended minimum
// (19 MiB, 2 passes, 1 lane). Verification reads the parameters from each
// hash, so they can be raised later without invalidating old hashes.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// MinLength refuses trivially guessable tokens.
const MinLength = 16

// Hash returns the PHC-format argon2id hash of token:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64).
func Hash(token string) (string, error) {
	if len(token) < MinLength {
		return "", fmt.Errorf("token too short: use at least %d characters (lienthong token new makes one)", MinLength)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(token), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Generate makes a random bearer token (256 bits).
func Generate() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "lt_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// argonHash is a parsed PHC argon2id hash.
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var errBadHash = errors.New(`not an argon2id hash: want "$argon2id$v=19$m=...,t=...,p=...$salt$hash" (lienthong token hash prints one)`)

func parseArgonHash(s string) (*argonHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, fmt.Errorf("argon2id version %q is not %d", parts[2], argon2.Version)
	}
	h := &argonHash{}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &threads); err != nil {
		return nil, errBadHash
	}
	if h.memory < 8*1024 || h.memory > 4<<20 || h.time < 1 || h.time > 100 || threads < 1 || threads > 255 {
		return nil, fmt.Errorf("argon2id parameters %q out of range", parts[3])
	}
	h.threads = uint8(threads)
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errBadHash
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 {
		return nil, errBadHash
	}
	return h, nil
}

// verify computes argon2id of token with h's salt and parameters and
// compares in constant time.
func (h *argonHash) verify(token string) bool {
	key := argon2.IDKey([]byte(token), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
