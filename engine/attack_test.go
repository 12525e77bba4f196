package engine_test

import (
	"testing"

	"lienthong/internal/attacks"
	"lienthong/internal/defence"
)

// The access policy's attack suite (internal/attacks) in process, as the
// CLI runs queries; server/attack_test.go runs it over HTTP and Flight SQL.
func TestAttackSuite(t *testing.T) {
	f := attacks.NewFixture(t)
	corpus := f.Corpus()
	if len(corpus) < 250 {
		t.Errorf("the suite needs at least 250 attempts, has %d", len(corpus))
	}
	for _, fail := range f.RunAll(attacks.EngineRunner{E: f.Secured}, corpus) {
		t.Error(fail)
	}
}

// The mutation check: with any one defence switched off the suite reports
// leaks, so a defence that silently stopped working cannot go unnoticed.
func TestAttackSuiteNoticesEachDefenceOff(t *testing.T) {
	f := attacks.NewFixture(t)
	corpus := f.Corpus()
	for _, d := range defence.All {
		restore := defence.SwitchOff(d)
		fails := f.RunAll(attacks.EngineRunner{E: f.Secured}, corpus)
		restore()
		if len(fails) == 0 {
			t.Errorf("with the %s defence off the attack suite reports nothing", d)
		} else {
			t.Logf("%s off: %d attempts not held, e.g. %s", d, len(fails), fails[0])
		}
	}
}
