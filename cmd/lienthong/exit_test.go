package main

import (
	"fmt"
	"testing"

	"lienthong/errcode"
	"lienthong/server"
)

// A remote session's errors (sql --server) exit with the registry's status
// of their code, as local ones do.
func TestExitStatusOfServerErrors(t *testing.T) {
	for _, code := range []string{"LT-DENIED", "LT-SOURCE-DOWN", "LT-LIMIT", "LT-SYNTAX"} {
		err := fmt.Errorf("query: %w", &server.Error{Code: code, Message: code + ": ..."})
		if got, want := exitStatus(err), errcode.Lookup(code).Exit; got != want || want == 1 && code != "LT-SYNTAX" {
			t.Errorf("%s: exit %d, want %d", code, got, want)
		}
	}
	if got := exitStatus(&server.Error{Code: "LT-NO-SUCH-CODE"}); got != 1 {
		t.Errorf("an unknown code: exit %d, want 1", got)
	}
}
