package agent_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/agent"
	"lienthong/internal/testenv"
	"lienthong/internal/testpki"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// goodTOML is a valid agency.toml over the test database, with the TLS
// files and the database in dir.
func goodTOML(t *testing.T) (dir, text string) {
	t.Helper()
	dir = t.TempDir()
	ca := testpki.NewCA(t, "ca")
	ca.Write(t, dir, "agent", ca.Issue(t, "agent"))
	db := citizensDB(t)
	if err := os.Rename(db, filepath.Join(dir, "hotich.db")); err != nil {
		t.Fatal(err)
	}
	return dir, `agency = "hotich"

[listen]
flight = "127.0.0.1:0"

[tls]
cert_file = "agent.pem"
key_file = "agent-key.pem"
client_ca_file = "agent-ca.pem"

[source]
kind = "sqlite"
path = "hotich.db"

[log]
path = "requests.log"

[[engines]]
name = "central"
purposes = ["audit"]

[[exports]]
table = "citizens"
columns = ["pin", "full_name"]
pin_column = "pin"
row_filter = "deceased = 0"
`
}

func TestCheckReportsFileAndLine(t *testing.T) {
	dir, good := goodTOML(t)
	write := func(text string) string {
		p := filepath.Join(dir, "agency.toml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := agent.Check(context.Background(), write(good)); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown setting", `path = "requests.log"`, `path = "requests.log"` + "\nlog_bodys = true", `agency.toml:17: unknown setting "log.log_bodys"`},
		{"unknown table", `table = "citizens"`, `table = "citizen"`, `agency.toml:23: export "citizen": the source has no table "citizen" (it has citizens, secret)`},
		{"unknown column", `columns = ["pin", "full_name"]`, `columns = ["pin", "fullname"]`, `agency.toml:24: export "citizens": table citizens has no column "fullname"`},
		{"pin not exported", `pin_column = "pin"`, `pin_column = "province"`, `agency.toml:25: export "citizens": pin_column "province" is not one of the exported columns`},
		{"row filter does not bind", `row_filter = "deceased = 0"`, `row_filter = "dead = 0"`, `agency.toml:26: export "citizens": row_filter unknown column dead`},
		{"row filter not a condition", `row_filter = "deceased = 0"`, `row_filter = "deceased + 1"`, `agency.toml:26: export "citizens": row_filter is not a condition`},
		{"row filter the source cannot compute", `row_filter = "deceased = 0"`, `row_filter = "salary > 1.5"`, `agency.toml:26: export "citizens": row_filter is not computed exactly by the sqlite database`},
		{"bad kind", `kind = "sqlite"`, `kind = "oracle"`, `agency.toml:12: source.kind "oracle" is not one of postgres, mysql, sqlite, duckdb, parquet, csv`},
		{"missing source file", `path = "hotich.db"`, `path = "nowhere.db"`, `agency.toml:13: cannot connect to the sqlite source`},
		{"missing TLS file", `key_file = "agent-key.pem"`, `key_file = "nokey.pem"`, `agency.toml:8: tls.key_file: no such file or directory`},
		{"no client CA", `client_ca_file = "agent-ca.pem"`, ``, `agency.toml:6: tls.client_ca_file is required`},
		{"engine without purposes", `purposes = ["audit"]`, ``, `agency.toml:18: engine "central": purposes is required`},
		{"duplicate export", `row_filter = "deceased = 0"`, `row_filter = "deceased = 0"` + "\n\n[[exports]]\ntable = \"CITIZENS\"\ncolumns = [\"pin\"]", `agency.toml:29: table "CITIZENS" is exported twice`},
		{"number for a string", `flight = "127.0.0.1:0"`, `flight = 8815`, `agency.toml:4: listen.flight: incompatible types`},
		{"single brackets", `[[engines]]`, `[engines]`, `agency.toml:18: use [[engines]] (an array of tables, one per entry), not [engines]`},
		{"double brackets", `[source]`, `[[source]]`, `agency.toml:11: use [source] (one table), not [[source]]`},
		{"a node's source setting", `path = "hotich.db"`, `path = "hotich.db"` + "\nmax_concurrent = 8", `agency.toml:14: source.max_concurrent is a node's setting, not an agent's`},
		{"no engines", `[[engines]]` + "\nname = \"central\"\npurposes = [\"audit\"]", ``, `agency.toml: no [[engines]]`},
	}
	for _, c := range cases {
		if c.want == "" {
			continue
		}
		text := strings.Replace(good, c.from, c.to, 1)
		if text == good {
			t.Fatalf("%s: the replacement did not apply", c.name)
		}
		err := agent.Check(context.Background(), write(text))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.HasPrefix(strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)), c.want) {
			t.Errorf("%s:\n got %v\nwant %s...", c.name, err, c.want)
		}
	}
}

// docs/examples/agency.toml, the reference's example, passes the check
// over a PostgreSQL database holding the tables it exports.
func TestDocsExampleAgencyChecks(t *testing.T) {
	example, err := os.ReadFile("../docs/examples/agency.toml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/agent.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```toml\n"+string(example)+"```") {
		t.Error("docs/agent.md does not show docs/examples/agency.toml as it is")
	}
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE citizens (pin char(12) PRIMARY KEY, full_name text NOT NULL, birth_date date, sex text, province_code text, deceased boolean NOT NULL DEFAULT false, religion text)`,
		`CREATE TABLE deaths (pin char(12), death_date date, place_code text, cause_code text)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOTICH_DSN", dsn)
	dir := t.TempDir()
	ca := testpki.NewCA(t, "engines")
	if err := os.Mkdir(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	f := ca.Write(t, filepath.Join(dir, "tls"), "agent", ca.Issue(t, "agent"))
	if err := os.Rename(f.CA, filepath.Join(dir, "tls", "engines-ca.pem")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "agency.toml")
	if err := os.WriteFile(p, example, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := agent.Check(context.Background(), p); err != nil {
		t.Fatalf("docs/examples/agency.toml: %v", err)
	}
}
