package config

import "testing"

func TestLimitsAndSourceSettings(t *testing.T) {
	c, err := Parse("x.toml", []byte("[limits]\nmax_expression_depth = 100\n\n[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"a.db\"\nread_timeout = \"3s\"\nmax_concurrent = 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sources[0]
	if c.Limits.MaxExpressionDepth != 100 || s.ReadTimeout.Duration.Seconds() != 3 || s.MaxConcurrent != 2 ||
		s.StatementTimeout.Duration != DefaultStatementTimeout || s.BreakerFailures != DefaultBreakerFailures || s.QueueTimeout.Duration != DefaultSourceQueue {
		t.Fatalf("%+v %+v", c.Limits, s)
	}
	for _, bad := range []string{"[limits]\nmax_in_list = -1\n", "[limits]\nmax_depth = 3\n", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"a.db\"\nread_timeout = \"-1s\"\n"} {
		if _, err := Parse("x.toml", []byte(bad+"\n[[sources]]\nname = \"b\"\nkind = \"sqlite\"\npath = \"b.db\"\n")); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
