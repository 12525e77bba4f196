package server

import (
	"strings"
	"testing"
)

// Invalid UTF-8 in a plain-text body reaches the planner as is and is
// refused there with a position (JSON bodies cannot carry it: the decoder
// turns bad bytes into U+FFFD).
func TestHTTPInvalidUTF8(t *testing.T) {
	ts := startServer(t, nil, nil)
	r := post(t, nil, ts.HTTPURL()+"/v1/query", testToken, "SELECT 1 WHERE 'a\xff' = 'b'")
	e := wantError(t, r, 400, "LT-SYNTAX")
	if !strings.Contains(e.Message, "not valid UTF-8") || e.Line != 1 || e.Column != 18 {
		t.Fatalf("%+v", e)
	}
}
