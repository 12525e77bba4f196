package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lienthong/config"
	"lienthong/state"
	"lienthong/tokens"
)

// TestTokenRevocationThroughCache: a server reads its tokens file as a
// tokens.set command; a token verified (and cached for the auth cache's
// whole TTL) stops working on the very next request once its principal is
// revoked, by a tokens.revoke command or by a reloaded file without it; a
// principal put in force is let in at once even though its token was
// just remembered as wrong.
func TestTokenRevocationThroughCache(t *testing.T) {
	testEngine(t) // the hashes
	path := filepath.Join(t.TempDir(), "tokens.toml")
	entry := func(name, hash string) string {
		return fmt.Sprintf("[[principals]]\nname = %q\nagency = \"bhxh\"\ntoken_hash = %q\n", name, hash)
	}
	if err := os.WriteFile(path, []byte(entry("analyst", testHash)+entry("other", otherHash)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(&Config{HTTPAddr: "127.0.0.1:0", FlightAddr: "off", TokensFile: path, AuthCacheTTL: config.Duration{Duration: time.Hour}},
		Options{Logger: NewLogger(io.Discard, "error")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	auth := s.auth.(*TokenAuthenticator)
	metrics := func(token string) int { return get(t, s.HTTPURL()+"/metrics", token).status }
	propose := func(c state.Command, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.state.Propose(context.Background(), c)
		return err
	}

	for range 3 {
		if st := metrics(testToken); st != 200 {
			t.Fatalf("analyst's token: %d", st)
		}
	}
	if st := metrics(otherToken); st != 200 {
		t.Fatalf("other's token: %d", st)
	}
	before := auth.Verifications()

	// Revoked by command: refused at once, without waiting out the hour.
	if err := propose(tokens.RevokeCommand(time.Now(), "analyst")); err != nil {
		t.Fatal(err)
	}
	if st := metrics(testToken); st != 401 {
		t.Fatalf("revoked token: %d, want 401", st)
	}
	// Other principals' cached verifications still hold: no argon2 rerun.
	v := auth.Verifications()
	if st := metrics(otherToken); st != 200 || auth.Verifications() != v {
		t.Fatalf("other's token after a revocation: %d, %d more argon2 runs", st, auth.Verifications()-v)
	}
	if v <= before {
		t.Fatalf("the revoked token was not verified again (%d runs before, %d after)", before, v)
	}

	// Put back by command: the token just refused (and remembered as
	// wrong) works at once.
	if err := propose(tokens.PutCommand(time.Now(), tokens.Entry{Name: "analyst", Agency: "bhxh", TokenHash: testHash})); err != nil {
		t.Fatal(err)
	}
	if st := metrics(testToken); st != 200 {
		t.Fatalf("token put back: %d, want 200", st)
	}

	// A refused command changes nothing.
	if err := propose(tokens.RevokeCommand(time.Now(), "nobody")); err == nil {
		t.Fatal("revoking an unknown principal: no error")
	}
	if err := propose(tokens.PutCommand(time.Now(), tokens.Entry{Name: "x", Agency: "y", TokenHash: "plain"})); err == nil {
		t.Fatal("a put with a bad hash: no error")
	}
	if st := metrics(testToken); st != 200 {
		t.Fatalf("after refused commands: %d, want 200", st)
	}

	// Revoked by the file: a reload without the principal.
	if err := os.WriteFile(path, []byte(entry("other", otherHash)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadTokens(); err != nil {
		t.Fatal(err)
	}
	if st := metrics(testToken); st != 401 {
		t.Fatalf("token removed from the file: %d, want 401", st)
	}
	// A broken file is refused whole and the principals in force stay.
	if err := os.WriteFile(path, []byte(entry("analyst", testHash)+"[[principals]]\nname = \"z\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadTokens(); err == nil {
		t.Fatal("reloading a file with an error: no error")
	}
	if metrics(testToken) != 401 || metrics(otherToken) != 200 {
		t.Fatal("a refused file changed the principals in force")
	}
}
