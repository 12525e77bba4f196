package main

// Docs as executable examples: every `lienthong ...` and `curl ...` command
// in a ```sh block of README.md and docs/*.md runs against the demo data
// set, and the test fails when one fails. Commands that cannot run here say
// why in docsSkip.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lienthong/bench/gen"
)

// TestMain lets the docs test run this test binary as the lienthong CLI:
// with LIENTHONG_AS_CLI=1 it is main, no test runs.
func TestMain(m *testing.M) {
	if os.Getenv("LIENTHONG_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// docsSkipFiles' examples need what the demo data does not have: a
// policy with its principals and keys, a running server with tokens.
// The attack suite and the server tests exercise what they show.
var docsSkipFiles = map[string]string{
	"docs/security.md": "needs a policy file with its principals and keys (engine and server tests cover it)",
	"docs/server.md":   "needs a running server and a token (server tests cover it)",
}

// docsSkip lists commands that cannot run against the demo data, by a
// substring of the command, with the reason.
var docsSkip = []struct{ contains, reason string }{
	{"lienthong sql     --server", "needs a running server (lienthong serve) and its token"},
	{"lienthong serve", "runs until stopped"},
	{"lienthong sources probe", "runs the prober until stopped"},
	{"--config node.toml", "needs a node config with an access policy (docs/security.md)"},
	{"--out /etc/lienthong/", "writes to /etc; the test makes its key with --out audit.key"},
	{"lienthong agent", "needs an agency's database and certificates (agent/config_test.go checks docs/examples/agency.toml, cmd/lienthong/agent_test.go runs these commands)"},
}

// docsQuery stands for the "SELECT ..." of the examples.
const docsQuery = `"SELECT c.sex, COUNT(*) AS n FROM dancu.citizens c JOIN hotich.births b ON b.child_pin = c.pin GROUP BY c.sex"`

// docCommand is one command of a doc's ```sh block.
type docCommand struct {
	file string
	line int
	cmd  string
}

var (
	shBlock  = regexp.MustCompile("(?s)```(?:sh|bash|shell)\n(.*?)```")
	optional = regexp.MustCompile(` \[--[^\]]*\]`) // usage brackets: [--anchor N:H]
)

// docCommands extracts the lienthong and curl commands of a Markdown file.
func docCommands(t *testing.T, file string) []docCommand {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	var out []docCommand
	for _, m := range shBlock.FindAllStringSubmatchIndex(text, -1) {
		first := strings.Count(text[:m[2]], "\n") + 1
		lines := strings.Split(text[m[2]:m[3]], "\n")
		for i := 0; i < len(lines); i++ {
			start := i
			l := strings.TrimSpace(lines[i])
			for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
				i++
				l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
			}
			if strings.HasPrefix(l, "lienthong ") || strings.HasPrefix(l, "bin/lienthong ") || strings.HasPrefix(l, "curl ") {
				out = append(out, docCommand{file: file, line: first + start, cmd: l})
			}
		}
	}
	return out
}

func TestDocsExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the demo data set")
	}
	root := filepath.Join("..", "..")
	files := []string{filepath.Join(root, "README.md")}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, docs...)

	// The demo data set, generated as `lienthong demo` does.
	work := t.TempDir()
	ctx := context.Background()
	if _, err := gen.Generate(ctx, gen.Options{Scale: 0.05, Seed: 1, Out: work}); err != nil {
		t.Fatal(err)
	}
	checkDemoConfigDoc(t, filepath.Join(root, "docs", "configuration.md"), filepath.Join(work, "lienthong.toml"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "lienthong")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "LIENTHONG_AS_CLI=1", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	run := func(cmd string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		c := exec.CommandContext(cctx, "sh", "-c", cmd)
		c.Dir, c.Env = work, env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	// The node's audit log, as docs/audit.md sets it up: every query below
	// is recorded, so audit search, verify and report have a log to read.
	if out, err := run("lienthong audit keygen --out audit.key"); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(work, "lienthong.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\n[audit]\nlog = \"audit.log\"\nkey_file = \"audit.key\"\nprobe_interval = \"5s\"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	ran := 0
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		rel = filepath.ToSlash(rel)
		if reason, ok := docsSkipFiles[rel]; ok {
			t.Logf("skipping %s: %s", rel, reason)
			continue
		}
	commands:
		for _, dc := range docCommands(t, file) {
			for _, s := range docsSkip {
				if strings.Contains(dc.cmd, s.contains) {
					t.Logf("%s:%d: skipped (%s): %s", rel, dc.line, s.reason, dc.cmd)
					continue commands
				}
			}
			cmd := strings.ReplaceAll(dc.cmd, `"SELECT ..."`, docsQuery)
			cmd = optional.ReplaceAllString(cmd, "")
			out, err := run(cmd + " </dev/null")
			if err != nil {
				t.Errorf("%s:%d: %s\n  ran: %s\n  %v\n%s", rel, dc.line, dc.cmd, cmd, err, out)
				continue
			}
			ran++
		}
	}
	if ran < 10 {
		t.Errorf("only %d doc commands ran; did the extraction break?", ran)
	}
	t.Logf("%d doc commands ran", ran)
}

// checkDemoConfigDoc: docs/configuration.md shows the demo's config as
// `lienthong demo` writes it (comments aside).
func checkDemoConfigDoc(t *testing.T, doc, generated string) {
	t.Helper()
	d, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	text := string(d)
	i := strings.Index(text, "writes `demo-data/lienthong.toml`")
	if i < 0 {
		t.Fatalf("%s: no demo config example", doc)
	}
	a := strings.Index(text[i:], "```toml\n")
	b := strings.Index(text[i+a+8:], "```")
	if a < 0 || b < 0 {
		t.Fatalf("%s: no toml block after the demo config sentence", doc)
	}
	settings := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if got, want := settings(text[i+a+8:i+a+8+b]), settings(string(g)); got != want {
		t.Errorf("docs/configuration.md's demo config differs from the generated one; it is:\n%s\nthe demo writes:\n%s", got, want)
	}
}
