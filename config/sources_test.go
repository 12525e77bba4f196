package config

import (
	"reflect"
	"strings"
	"testing"
)

// A sources file for the cluster's API: sources checked as written,
// errors at their line, nothing resolved on this machine, and a dsn that
// carries a password refused in every form a driver takes one, without
// repeating it.
func TestParseSources(t *testing.T) {
	text := "[[sources]]\nname = \"a\"\nkind = \"postgres\"\ndsn_env = \"LT_NOT_SET_HERE\"\n\n[[sources]]\nname = \"b\"\nkind = \"csv\"\npath = \"data/*.csv\"\n[sources.tables.people]\nsensitive = [\"religion\"]\n"
	srcs, err := ParseSources("s.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].DSNEnv != "LT_NOT_SET_HERE" || srcs[0].DSN != "" || srcs[1].Path != "data/*.csv" || srcs[1].Tables["people"].Sensitive[0] != "religion" {
		t.Fatalf("parsed: %+v", srcs)
	}
	// What FormatSources writes reads back the same.
	again, err := ParseSources("s.toml", []byte(FormatSources(srcs)))
	if err != nil || !reflect.DeepEqual(again, srcs) {
		t.Fatalf("round trip: %v\n%s\n%+v", err, FormatSources(srcs), again)
	}
	head := "[[sources]]\nname = \"p\"\n"
	for in, want := range map[string]string{
		head + "kind = \"postgres\"\ndsn = \"postgres://u:s3cr3t@127.0.0.1/db\"\n":                   "s.toml:4: source 1 (\"p\"): the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"postgres://u@127.0.0.1/db?password=s3cr3t\"\n":          "s.toml:4: source 1 (\"p\"): the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"host=127.0.0.1 password=s3cr3t dbname=x\"\n":            "s.toml:4: source 1 (\"p\"): the dsn carries a password",
		head + "kind = \"mysql\"\ndsn = \"root:s3cr3t@tcp(127.0.0.1:3306)/x\"\n":                     "s.toml:4: source 1 (\"p\"): the dsn carries a password",
		head + "kind = \"mysql\"\ndsn = \"mysql://root:s3cr3t@127.0.0.1:3306/x\"\n":                  "s.toml:4: source 1 (\"p\"): the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"postgres://127.0.0.1/db?password=s3cr3t\"\n":            "the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"postgresql://127.0.0.1/db?user=u&password=s3cr3t\"\n":   "the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"postgresql://127.0.0.1/db?user=u&pass%77ord=s3cr3t\"\n": "the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"host=h user=u\\u000bpassword=s3cr3t dbname=d\"\n":       "the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"host='h'password=s3cr3t dbname=d\"\n":                   "the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"host=h sslpassword=s3cr3t dbname=d\"\n":                 "the dsn carries a password",
		head + "kind = \"postgres\"\ndsn = \"host=h PASSWORD = s3cr3t dbname=d\"\n":                  "the dsn carries a password",
		head + "kind = \"postgres\"\n":                                                    "s.toml:1: source 1 (\"p\"): kind postgres needs dsn (or dsn_env)",
		head + "kind = \"csv\"\npath = \"x\"\naddress = \"127.0.0.1:1\"\n":                "s.toml:5: source 1 (\"p\"): address applies to kind agent only",
		head + "kind = \"csv\"\npath = \"x\"\n" + head + "kind = \"csv\"\npath = \"y\"\n": "s.toml:6: source 2 (\"p\"): duplicate source name",
		head + "kind = \"csv\"\npath = \"x\"\n[server]\nhttp_addr = \"x\"\n":              `s.toml:5: unknown setting "server": a sources file holds [[sources]] tables only`,
		"[sources]\nname = \"p\"\n":                                                       "s.toml:1: use [[sources]]",
		"# nothing\n":                                                                     "s.toml: no [[sources]] table in the file",
		head + "kind = \"csv\"\npath = \"x\"\nmax_concurrent = -1\n":                      "must not be negative",
	} {
		_, err := ParseSources("s.toml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	// A dsn without a password is replicable; shown redacted, one with
	// a password never shows it.
	ok := Source{Name: "q", Kind: "mysql", DSN: "root@tcp(127.0.0.1:3306)/x"}
	if CheckSource(ok) != nil || ok.Redacted().DSN != ok.DSN {
		t.Fatalf("a dsn without a password: %v %q", CheckSource(ok), ok.Redacted().DSN)
	}
	if r := (Source{Name: "q", Kind: "mysql", DSN: "root:s3cr3t@tcp(127.0.0.1:3306)/x"}).Redacted(); strings.Contains(r.DSN, "s3cr3t") {
		t.Fatalf("redacted: %q", r.DSN)
	}
}

// A config keeps its sources as written (SourceDefs: what a cluster
// replicates) beside the completed ones; a cluster node may have none,
// and refuses a dsn with a password at its line.
func TestSourceDefsAndClusterSources(t *testing.T) {
	t.Setenv("LT_TEST_DSN", "postgres://postgres@127.0.0.1:5432/x")
	c, err := Parse("/etc/lt/lienthong.toml", []byte("[[sources]]\nname = \"a\"\nkind = \"postgres\"\ndsn_env = \"LT_TEST_DSN\"\n\n[[sources]]\nname = \"b\"\nkind = \"csv\"\npath = \"d/*.csv\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.SourceDefs; len(d) != 2 || d[0].DSN != "" || d[0].DSNEnv != "LT_TEST_DSN" || d[1].Path != "d/*.csv" || d[1].PINColumn != "" {
		t.Fatalf("as written: %+v", d)
	}
	if s := c.Sources; s[0].DSN != "postgres://postgres@127.0.0.1:5432/x" || s[1].Path != "/etc/lt/d/*.csv" || s[1].PINColumn != "pin" {
		t.Fatalf("completed: %+v", s)
	}
	if r, err := c.SourceDefs[1].Resolve("/srv/n2"); err != nil || r.Path != "/srv/n2/d/*.csv" {
		t.Fatalf("resolved on another node: %+v %v", r, err)
	}
	if _, err := Parse("x.toml", []byte(clusterOK)); err != nil {
		t.Fatalf("a cluster node without sources: %v", err)
	}
	_, err = Parse("x.toml", []byte("[[sources]]\nname = \"a\"\nkind = \"postgres\"\ndsn = \"postgres://u:s3cr3t@127.0.0.1/db\"\n"+clusterOK))
	if err == nil || !strings.Contains(err.Error(), "x.toml:4: source 1 (\"a\"): the dsn carries a password") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("a cluster node's dsn with a password: %v", err)
	}
	if _, err := Parse("x.toml", []byte("[[sources]]\nname = \"a\"\nkind = \"postgres\"\ndsn = \"postgres://u:pw@127.0.0.1/db\"\n")); err != nil {
		t.Fatalf("a node on its own may keep a password in its file: %v", err)
	}
}
