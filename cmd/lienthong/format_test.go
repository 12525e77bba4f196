package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// csvSession is a session over one CSV source "f" reading dir/*.csv.
func csvSession(t *testing.T, dir string, out *bytes.Buffer) *session {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "lienthong.toml")
	toml := "[[sources]]\nname = \"f\"\nkind = \"csv\"\npath = " + `"` + filepath.Join(dir, "*.csv") + `"` + "\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	n, _, err := openNode(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &session{db: localBackend{eng: n.Engine}, out: out, format: "csv"}
}

func runCSV(t *testing.T, s *session, sql string) string {
	t.Helper()
	out := s.out.(*bytes.Buffer)
	out.Reset()
	if err := s.run(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out.String()
}

// CSV keeps NULL and the empty string apart both ways: lienthong writes it as "", NULL
// as an empty field (\N in a one-column result, where an empty line would
// be skipped by readers), and a CSV source reads them back the same way.
func TestCSVKeepsNullAndEmptyApart(t *testing.T) {
	src := t.TempDir()
	// Row 1 has the empty string, row 2 NULL (both ways of writing it).
	data := "id,s,u\n1,\"\",\"\\N\"\n2,,\\N\n3,x,\" y\"\n"
	if err := os.WriteFile(filepath.Join(src, "t.csv"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := csvSession(t, src, &out)
	// Reading.
	got := runCSV(t, s, "SELECT id, s IS NULL AS s_null, LENGTH(s) AS len, u IS NULL AS u_null, u FROM f.t ORDER BY id")
	want := "id,s_null,len,u_null,u\n1,false,0,false,\"\\N\"\n2,true,,true,\n3,false,1,false,\" y\"\n"
	if got != want {
		t.Errorf("reading CSV:\n%s\nwant:\n%s", got, want)
	}
	// Writing, several columns: '' quoted, NULL empty.
	if got, want := runCSV(t, s, "SELECT id, s FROM f.t ORDER BY id"), "id,s\n1,\"\"\n2,\n3,x\n"; got != want {
		t.Errorf("writing CSV:\n%q\nwant\n%q", got, want)
	}
	// One column: no row may be an empty line.
	one := runCSV(t, s, "SELECT s FROM f.t ORDER BY id")
	if want := "s\n\"\"\n\\N\nx\n"; one != want {
		t.Errorf("one-column CSV:\n%q\nwant\n%q", one, want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(one, "\n"), "\n") {
		if line == "" {
			t.Errorf("an empty line in %q", one)
		}
	}
	// Round trip: what lienthong wrote, read back as a CSV source.
	back := t.TempDir()
	if err := os.WriteFile(filepath.Join(back, "one.csv"), []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	var out2 bytes.Buffer
	s2 := csvSession(t, back, &out2)
	if got, want := runCSV(t, s2, "SELECT s IS NULL AS n, s FROM f.one"), "n,s\nfalse,\"\"\ntrue,\nfalse,x\n"; got != want {
		t.Errorf("round trip:\n%q\nwant\n%q", got, want)
	}
	// Python's csv module keeps every row (DictReader skips empty lines).
	if py, err := exec.LookPath("python3"); err == nil {
		cmd := exec.Command(py, "-c", "import csv,sys; r=list(csv.DictReader(sys.stdin)); print(len(r), [x['s'] for x in r])")
		cmd.Stdin = strings.NewReader(one)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python3: %v %s", err, b)
		}
		if got := strings.TrimSpace(string(b)); got != `3 ['', '\\N', 'x']` {
			t.Errorf("python3 csv.DictReader read %s", got)
		}
	}
}

// DESCRIBE t and DESC t describe the table in the CLI, like \d t.
func TestDescribeInCLI(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "t.csv"), []byte("id,s\n1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := csvSession(t, src, &out)
	for _, q := range []string{"DESCRIBE f.t", "desc t;", "DESCRIBE `f`.`t`"} {
		if got := runCSV(t, s, q); !strings.HasPrefix(got, "f.t (csv)") || !strings.Contains(got, "  id ") {
			t.Errorf("%s: %q", q, got)
		}
	}
	if err := s.run(context.Background(), "DESCRIBE f.nope"); err == nil || !strings.Contains(err.Error(), "no table f.nope") {
		t.Errorf("unknown table: %v", err)
	}
}
