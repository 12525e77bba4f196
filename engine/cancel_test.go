package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"lienthong/engine"
	"lienthong/planner"
)

// drainCancelled starts q, cancels it after wait and reads it to the end,
// returning the error the result ended with.
func drainCancelled(t *testing.T, e *engine.Engine, q string, wait time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(wait, cancel)
	res, err := e.Query(ctx, q, engine.QueryOptions{})
	if err != nil {
		return err
	}
	defer res.Release()
	for res.Next() {
	}
	return res.Err()
}

// A cancelled query ends as cancelled: its error wraps context.Canceled,
// the audit says cancelled with LT-CANCELLED and hashes no partial result.
// Single-source and cross-source queries alike.
func TestCancelledQueryIsNeverSuccess(t *testing.T) {
	e, _ := pgEngine(t)
	rec := &recorder{}
	e.SetObserver(rec)
	for _, q := range []string{
		"SELECT pin, z FROM dancu.slow",
		"SELECT s.pin FROM dancu.slow s JOIN other.citizens c ON c.pin = s.pin",
	} {
		err := drainCancelled(t, e, q, 300*time.Millisecond)
		var ce *engine.CancelledError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &ce) {
			t.Errorf("%s: want a cancellation error, got %v", q, err)
		}
		if got := engine.ErrorCode(err); got != "LT-CANCELLED" {
			t.Errorf("%s: code %q", q, got)
		}
		last := rec.ends[len(rec.ends)-1]
		if last.Outcome != engine.Cancelled || last.ErrorCode != "LT-CANCELLED" || last.ResultSHA256 != "" {
			t.Errorf("%s: audited as %s %s hash %q", q, last.Outcome, last.ErrorCode, last.ResultSHA256)
		}
	}
	// Stopping early is not an error: DuckDB stops reading a remote once
	// LIMIT is met (the remote is cancelled), and the query succeeds.
	got, err := rows(t, e, "SELECT c.pin FROM dancu.citizens c JOIN other.citizens o ON o.pin = c.pin ORDER BY c.pin LIMIT 2", engine.QueryOptions{})
	if err != nil || len(got) != 2 {
		t.Fatalf("LIMIT: %v %v", got, err)
	}
	if last := rec.ends[len(rec.ends)-1]; last.Outcome != engine.Succeeded || last.ResultSHA256 == "" {
		t.Errorf("LIMIT query audited as %+v", last)
	}
}

func TestErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.Canceled, "LT-CANCELLED"},
		{&engine.CancelledError{Cause: context.DeadlineExceeded}, "LT-TIMEOUT"},
		{errors.New("who knows"), "LT-INTERNAL"},
		{engine.ErrAudit, "LT-AUDIT"},
	} {
		if got := engine.ErrorCode(c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}

// A result read to its end stays a success when its context is cancelled
// afterwards (the shell cancels each statement's context when it is done).
func TestCancelAfterTheEndIsNoError(t *testing.T) {
	e, _ := pgEngine(t)
	for _, q := range []string{"SELECT pin FROM dancu.citizens", "SELECT c.pin FROM dancu.citizens c JOIN other.citizens o ON o.pin = c.pin"} {
		ctx, cancel := context.WithCancel(context.Background())
		res, err := e.Query(ctx, q, engine.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for res.Next() {
			n += res.RecordBatch().NumRows()
		}
		cancel()
		if err := res.Err(); err != nil || n != 500 {
			t.Errorf("%s: %d rows, then %v", q, n, err)
		}
		res.Release()
	}
}

// A value that fails the user's CAST in the residual is the user's error
// (LT-TYPE), not an internal one, and its message quotes no data.
func TestResidualValueErrorIsTheUsers(t *testing.T) {
	f := setup(t)
	q := "SELECT CAST(c.full_name AS SIGNED) FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin"
	_, err := rows(t, f.servers, q, engine.QueryOptions{})
	var pe *planner.Error
	if !errors.As(err, &pe) || pe.Code != planner.CodeType || engine.ErrorCode(err) != "LT-TYPE" || !errors.Is(err, engine.ErrResidual) {
		t.Fatalf("want LT-TYPE from the residual, got %v", err)
	}
	if strings.Contains(err.Error(), "Nguy") {
		t.Errorf("the message quotes data: %v", err)
	}
}
