package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"lienthong/config"
	"lienthong/connectors"
)

// The breaker's states: closed until breaker_failures consecutive source
// faults, then open (refusing) for the cool-down, then half-open for one
// probe whose outcome closes or reopens it; an abandoned probe lets the
// next one through; client cancellations and SQL errors count as nothing
// and as success.
func TestBreakerStates(t *testing.T) {
	s := newSrcState(config.Source{Name: "x", BreakerFailures: 2, BreakerCooldown: config.Duration{Duration: 50 * time.Millisecond}})
	fault := &connectors.SourceError{Source: "x", Op: "query", Err: &connectors.TimeoutError{Setting: "read_timeout", After: time.Second}}
	admit := func() (bool, error) { return s.admit() }
	s.report(false, fault)
	if _, err := admit(); err != nil || s.state != BreakerClosed {
		t.Fatalf("one fault opened it: %v", err)
	}
	s.report(false, context.Canceled) // says nothing
	s.report(false, fault)
	if _, err := admit(); !errors.Is(err, ErrSourceDown) || !errors.Is(err, connectors.ErrSourceUnavailable) {
		t.Fatalf("two faults: %v", err)
	}
	time.Sleep(60 * time.Millisecond)
	probe, err := admit()
	if !probe || err != nil {
		t.Fatalf("after the cool-down: %v %v", probe, err)
	}
	if _, err := admit(); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("a second statement during the probe: %v", err)
	}
	s.report(true, context.Canceled) // abandoned
	if probe, err := admit(); !probe || err != nil {
		t.Fatalf("after an abandoned probe: %v %v", probe, err)
	}
	s.report(true, fault)
	if _, err := admit(); !errors.Is(err, ErrSourceDown) {
		t.Fatalf("a failed probe: %v", err)
	}
	time.Sleep(60 * time.Millisecond)
	admit()
	s.report(false, errors.New("SQLSTATE 42703")) // anything that ends while half-open decides
	if _, err := admit(); err != nil || s.state != BreakerClosed || s.failures != 0 {
		t.Fatalf("the source answered: %v %s", err, s.state)
	}
}

// A healthy source's statements wait up to queue_timeout for a slot; a
// suspect one's do not wait.
func TestSourceSlots(t *testing.T) {
	s := newSrcState(config.Source{Name: "x", MaxConcurrent: 1, QueueTimeout: config.Duration{Duration: 100 * time.Millisecond}})
	rel, err := s.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(30 * time.Millisecond); rel() }()
	rel2, err := s.acquire(context.Background())
	if err != nil {
		t.Fatalf("a slot freed within queue_timeout: %v", err)
	}
	start := time.Now()
	if _, err := s.acquire(context.Background()); !errors.Is(err, connectors.ErrSourceBusy) || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("want busy after queue_timeout: %v %s", err, time.Since(start))
	}
	s.report(false, &connectors.SourceError{Source: "x", Err: connectors.ErrSourceUnavailable})
	start = time.Now()
	if _, err := s.acquire(context.Background()); !errors.Is(err, connectors.ErrSourceBusy) || time.Since(start) > 20*time.Millisecond {
		t.Fatalf("a suspect source's statement waited: %v %s", err, time.Since(start))
	}
	rel2()
}
