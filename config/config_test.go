package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorsNameLine(t *testing.T) {
	cases := []struct {
		name, toml string
		line       int
		want       string
	}{
		{"syntax", "[[sources]]\nname = \"a\"\nkind = \n", 3, "expected"},
		{"unknown kind", "[[sources]]\nname = \"a\"\nkind = \"oracle\"\npath = \"x\"\n", 3, `kind "oracle" is not one of postgres`},
		{"misspelt kind, second source", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\n\n[[sources]]\n# the citizens\nname = \"b\"\ndsn = \"postgres://h/db\"\nkind = \"postgress\"\n", 10, `kind "postgress" is not one of`},
		{"unknown key", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npaht = \"x\"\n", 4, `unknown setting "sources.paht"`},
		{"missing dsn", "[[sources]]\nname = \"a\"\nkind = \"postgres\"\n", 1, "needs dsn"},
		{"duplicate", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\n\n[[sources]]\nname = \"A\"\nkind = \"sqlite\"\npath = \"y\"\n", 7, "duplicate source name"},
		{"bad name", "[[sources]]\nname = \"a-b\"\nkind = \"sqlite\"\npath = \"x\"\n", 2, "letters, digits and _"},
		{"bad zone", "time_zone = \"Mars/Olympus\"\n[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\n", 1, "not a known zone"},
		{"bad timeout", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\nconnect_timeout = \"soon\"\n", 5, "duration"},
		{"timeout not a string", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\n\n[[sources]]\nname = \"b\"\nkind = \"sqlite\"\npath = \"x\"\nconnect_timeout = 5\n", 10, "connect_timeout"},
		{"dsn_env unset", "[[sources]]\nname = \"a\"\nkind = \"mysql\"\ndsn_env = \"LT_TEST_SURELY_UNSET\"\n", 4, "not set"},
		{"single brackets", "[sources]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\n", 1, "use [[sources]] (an array of tables), not [sources]"},
		{"single brackets later", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\n[sources]  # b\nname = \"b\"\n", 5, "use [[sources]]"},
		{"malformed postgres dsn", "[[sources]]\nname = \"a\"\nkind = \"postgres\"\ndsn = \"postgres://%zz\"\n", 4, "dsn is malformed"},
		{"malformed mysql dsn", "[[sources]]\nname = \"a\"\nkind = \"mysql\"\n\ndsn = \"root@127.0.0.1:3306/x\"\n", 5, "dsn is malformed"},
		{"mysql url bad param", "[[sources]]\nname = \"a\"\nkind = \"mysql\"\ndsn = \"mysql://root@h/x?parseTime=maybe\"\n", 4, "dsn is malformed"},
		{"mysql dsn without database", "[[sources]]\nname = \"a\"\nkind = \"mysql\"\ndsn = \"root@tcp(127.0.0.1:3306)/\"\n", 4, "names no database"},
		{"no sources", "time_zone = \"UTC\"\n", 0, "no [[sources]]"},
		{"agent without address", "[[sources]]\nname = \"a\"\nkind = \"agent\"\nca_file = \"x\"\n", 1, `needs address = "host:port"`},
		{"agent bad address", "[[sources]]\nname = \"a\"\nkind = \"agent\"\n\naddress = \"127.0.0.1\"\n", 5, `needs address = "host:port"`},
		{"agent without cert", "[[sources]]\nname = \"a\"\nkind = \"agent\"\naddress = \"127.0.0.1:8815\"\n", 3, "needs ca_file"},
		{"agent unreadable ca", "[[sources]]\nname = \"a\"\nkind = \"agent\"\naddress = \"127.0.0.1:8815\"\nca_file = \"/nonexistent/ca.pem\"\ncert_file = \"c\"\nkey_file = \"k\"\n", 5, "ca_file /nonexistent/ca.pem cannot be read"},
		{"agent setting on sqlite", "[[sources]]\nname = \"a\"\nkind = \"sqlite\"\npath = \"x\"\npartitions = 4\n", 5, "partitions applies to kind agent only"},
		{"agent address on postgres", "[[sources]]\nname = \"a\"\nkind = \"postgres\"\ndsn = \"postgres://h/db\"\naddress = \"127.0.0.1:1\"\n", 5, "address applies to kind agent only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("node.toml", []byte(c.toml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error, got %T %v", err, err)
			}
			if ce.File != "node.toml" || ce.Line != c.line || !strings.Contains(ce.Msg, c.want) {
				t.Fatalf("got %s (line %d), want line %d containing %q", ce, ce.Line, c.line, c.want)
			}
		})
	}
}

// A DSN may hold a password: a malformed one is reported without it.
func TestMalformedDSNNotEchoed(t *testing.T) {
	t.Setenv("LT_TEST_BAD_DSN", "postgres://u:s3cret%zz@h/db")
	_, err := Parse("node.toml", []byte("[[sources]]\nname = \"a\"\nkind = \"postgres\"\ndsn_env = \"LT_TEST_BAD_DSN\"\n"))
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "node.toml:4:") || !strings.Contains(err.Error(), "$LT_TEST_BAD_DSN") {
		t.Fatalf("got %v", err)
	}
}

func TestParseDefaultsAndRelativePaths(t *testing.T) {
	t.Setenv("LT_TEST_DSN", "root@tcp(127.0.0.1:3306)/x")
	c, err := Parse("/etc/lt/node.toml", []byte(`
[[sources]]
name = "yte"
kind = "sqlite"
path = "data/yte.db"

[[sources]]
name = "hotich"
kind = "mysql"
dsn_env = "LT_TEST_DSN"
connect_timeout = "2s"
[sources.tables]
births = { pin_column = "child_pin", sensitive = ["ethnicity"] }
`))
	if err != nil {
		t.Fatal(err)
	}
	y, h := c.Sources[0], c.Sources[1]
	if y.Path != "/etc/lt/data/yte.db" || y.PINColumn != "pin" || y.ConnectTimeout.Seconds() != 5 {
		t.Errorf("sqlite source defaults wrong: %+v", y)
	}
	if h.DSN != "root@tcp(127.0.0.1:3306)/x" || h.ConnectTimeout.Seconds() != 2 || h.Tables["births"].PINColumn != "child_pin" {
		t.Errorf("mysql source wrong: %+v", h)
	}
	if c.TimeZone != "UTC" {
		t.Errorf("time zone default: %q", c.TimeZone)
	}
}
