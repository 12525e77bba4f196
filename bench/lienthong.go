package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"lienthong/config"
	"lienthong/engine"
)

// Outcome is one run of one query on one system.
type Outcome struct {
	Rows    []Row
	Elapsed time.Duration // excludes the time spent converting rows for comparison
	Timeout bool
	Err     error
}

// Lienthong runs queries in-process through the public API (engine.New and
// Engine.Query), reading every batch, and measures peak memory in a
// subprocess of the CLI.
type Lienthong struct {
	eng    *engine.Engine
	config string
	bin    string
}

// OpenLienthong starts an engine over the generated sources' config; bin is
// the lienthong CLI used for the peak-RSS runs.
func OpenLienthong(ctx context.Context, cfgPath, bin string) (*Lienthong, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	e, err := engine.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for _, s := range e.WaitCatalog(ctx).Sources {
		if s.Unavailable != "" {
			e.Close()
			return nil, fmt.Errorf("lienthong: source %s unavailable: %s", s.Name, s.Unavailable)
		}
	}
	return &Lienthong{eng: e, config: cfgPath, bin: bin}, nil
}

func (l *Lienthong) Close() error { return l.eng.Close() }

// Run runs sql and reads every batch.
func (l *Lienthong) Run(ctx context.Context, sql string) Outcome {
	var o Outcome
	var conv time.Duration
	start := time.Now()
	res, err := l.eng.Query(ctx, sql, engine.QueryOptions{})
	if err != nil {
		o.Err = err
		return o
	}
	for res.Next() {
		t := time.Now()
		o.Rows, err = ArrowRows(o.Rows, res.RecordBatch())
		conv += time.Since(t)
		if err != nil {
			res.Release()
			o.Err = err
			return o
		}
	}
	o.Err = res.Err()
	res.Release()
	o.Elapsed = time.Since(start) - conv
	return o
}

// Explain returns lienthong's plan; with analyze it runs the query and
// reports rows and bytes read per remote.
func (l *Lienthong) Explain(ctx context.Context, sql string, analyze bool) (string, error) {
	return l.eng.Explain(ctx, sql, analyze, engine.QueryOptions{})
}

// SourceRead is what one remote read, from EXPLAIN ANALYZE.
type SourceRead struct {
	Remote int    `json:"remote"`
	Source string `json:"source"`
	SQL    string `json:"sql"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	// ReduceBy is the plan's run-time key filter ("AND c.pin IN (distinct
	// pin of remote 2), when they are few"); ReducedKeys is how many keys
	// EXPLAIN ANALYZE says it applied, -1 when the scan was not reduced.
	ReduceBy    string `json:"reduce_by,omitempty"`
	ReducedKeys int64  `json:"reduced_keys"`
}

var (
	remoteLine = regexp.MustCompile(`^Remote (\d+) -> (\S+) \(([^)]*)\) as \S+:$`)
	wholeLine  = regexp.MustCompile(`^Whole query runs in source (\S+) \(([^)]*)\):$`)
	readLine   = regexp.MustCompile(`^read (\d+) rows, (\d+) bytes`)
	keysLine   = regexp.MustCompile(`scan reduced by (\d+) keys`)
)

// ParseExplain extracts each remote's source and SQL (and, from EXPLAIN
// ANALYZE, rows and bytes read) from lienthong's EXPLAIN text.
func ParseExplain(text string) ([]SourceRead, error) {
	var out []SourceRead
	var cur *SourceRead
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "  ") {
			cur = nil
			if m := remoteLine.FindStringSubmatch(line); m != nil {
				id, _ := strconv.Atoi(m[1])
				out = append(out, SourceRead{Remote: id, Source: m[2], Rows: -1, Bytes: -1, ReducedKeys: -1})
				cur = &out[len(out)-1]
			} else if m := wholeLine.FindStringSubmatch(line); m != nil {
				out = append(out, SourceRead{Source: m[1], Rows: -1, Bytes: -1, ReducedKeys: -1})
				cur = &out[len(out)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case cur.SQL == "":
			cur.SQL = t
		case readLine.MatchString(t):
			m := readLine.FindStringSubmatch(t)
			cur.Rows, _ = strconv.ParseInt(m[1], 10, 64)
			cur.Bytes, _ = strconv.ParseInt(m[2], 10, 64)
			if k := keysLine.FindStringSubmatch(t); k != nil {
				cur.ReducedKeys, _ = strconv.ParseInt(k[1], 10, 64)
			}
		case strings.HasPrefix(t, "reduced at run time:"):
			cur.ReduceBy = strings.TrimSpace(strings.TrimPrefix(t, "reduced at run time:"))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no remote found in EXPLAIN output:\n%s", text)
	}
	return out, nil
}

// PeakRSS runs the query once in a lienthong CLI subprocess (--format arrow
// to /dev/null) under /usr/bin/time and returns its peak resident set size
// in MiB and its wall time, engine start-up included. The subprocess is not
// started directly: Linux carries the forking process's high-water RSS into
// the child's ru_maxrss, so a child of this (large) process would report at
// least this process's memory; time(1) is small.
func (l *Lienthong) PeakRSS(ctx context.Context, sql string) (float64, time.Duration, error) {
	dir, err := os.MkdirTemp("", "bench-rss-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	sqlFile, timeFile := filepath.Join(dir, "q.sql"), filepath.Join(dir, "time.out")
	if err := os.WriteFile(sqlFile, []byte(sql+";\n"), 0o644); err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, TimeBin, "-f", "%M", "-o", timeFile,
		l.bin, "query", "--config", l.config, "--format", "arrow", "-f", sqlFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr // stdout stays nil: /dev/null
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return 0, wall, fmt.Errorf("%s query: %w: %s", l.bin, err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(timeFile)
	if err != nil {
		return 0, wall, err
	}
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return 0, wall, fmt.Errorf("%s wrote nothing", TimeBin)
	}
	kb, err := strconv.ParseFloat(lines[len(lines)-1], 64)
	if err != nil {
		return 0, wall, fmt.Errorf("%s: %q: %w", TimeBin, b, err)
	}
	return kb / 1024, wall, nil
}

// TimeBin is GNU time (Debian package "time"), which reports the peak RSS.
const TimeBin = "/usr/bin/time"
