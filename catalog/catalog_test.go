package catalog

import (
	"strings"
	"testing"
)

// A driver's retries are said once, with their count.
func TestUnavailableSaysEachCauseOnce(t *testing.T) {
	reason := "source pg: connect: source unavailable: failed to connect to `user=postgres database=postgres`:; \t127.0.0.1:5999 (127.0.0.1): dial error: dial tcp 127.0.0.1:5999: connect: connection refused; \t127.0.0.1:5999 (127.0.0.1): dial error: dial tcp 127.0.0.1:5999: connect: connection refused"
	got := (&UnavailableError{Source: "pg", Reason: reason}).Error()
	want := "source pg is unavailable (source pg: connect: source unavailable: failed to connect to `user=postgres database=postgres`: 127.0.0.1:5999 (127.0.0.1): dial error: dial tcp 127.0.0.1:5999: connect: connection refused (2 attempts)); queries on other sources keep working"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got  %s\nwant %s...", got, want)
	}
	if one := "source my: connect: source unavailable: dial tcp 127.0.0.1:3999: connect: connection refused"; Reason(one) != one {
		t.Fatalf("a single cause changed: %s", Reason(one))
	}
}
