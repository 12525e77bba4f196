// Command bench runs CitizenBench: lienthong against a PostgreSQL FDW peer
// and the co-located DuckDB floor, in the same run. See docs/benchmark.md.
//
//	go run -tags duckdb_arrow ./bench/cmd/bench --scale 1 --runs 5 --queries q01,q02 --out bench/results
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"lienthong/bench"
)

// newFlags declares bench's flags on a set of its own: the global one also
// holds the flags of packages bench imports (glog's -v, -log_dir, ...),
// which -h would list as if they were bench's.
func newFlags(o *bench.Options, setupOnly, list **bool, rerender **string) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.Float64Var(&o.Setup.Scale, "scale", 1, "data scale (1 = 1,000,000 citizens)")
	fs.Int64Var(&o.Setup.Seed, "seed", 1, "generator seed")
	fs.StringVar(&o.Setup.DataDir, "data", "bench/data", "data directory (gitignored); the data set goes to DIR/sf<scale>")
	fs.StringVar(&o.Setup.PostgresDSN, "postgres", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL admin DSN")
	fs.StringVar(&o.Setup.MySQLDSN, "mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB/MySQL admin DSN")
	fs.BoolVar(&o.Setup.Regenerate, "regen", false, "generate the data and rebuild the hub even if they are loaded")
	fs.IntVar(&o.Runs, "runs", 5, "counted runs per system and query")
	fs.IntVar(&o.Warmup, "warmup", 1, "warm-up runs per system and query (at least 1: its answers are checked)")
	fs.StringVar(&o.Queries, "queries", "", "comma-separated query names or prefixes (q01,q02); empty runs all")
	fs.StringVar(&o.Out, "out", "bench/results", "results directory")
	fs.DurationVar(&o.PeerTimeout, "peer-timeout", 300*time.Second, "the peer's statement_timeout")
	fs.StringVar(&o.LienthongBin, "lienthong", "bin/lienthong", "lienthong CLI for the peak-RSS runs")
	fs.BoolVar(&o.SkipRSS, "no-rss", false, "skip the peak-RSS subprocess runs")
	fs.Float64Var(&o.MaxBusy, "max-busy", 0.25, "before each query, wait until other work keeps the CPUs busy less than this fraction (0: never wait)")
	fs.DurationVar(&o.MaxBusyWait, "max-busy-wait", 10*time.Minute, "longest wait for --max-busy")
	*setupOnly = fs.Bool("setup-only", false, "load the data and build the hub, then stop")
	*list = fs.Bool("list", false, "list the queries and stop")
	*rerender = fs.String("report", "", "rewrite the .md and .png of this results .json, and stop")
	return fs
}

func main() {
	var o bench.Options
	var setupOnly, list *bool
	var rerender *string
	fs := newFlags(&o, &setupOnly, &list, &rerender)
	fs.Parse(os.Args[1:])
	o.Setup.Log, o.Log = os.Stderr, os.Stderr
	if o.Warmup < 1 {
		o.Warmup = 1
	}
	if o.Runs < 1 {
		fail(fmt.Errorf("--runs must be at least 1"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *list {
		qs, err := bench.Queries()
		if err != nil {
			fail(err)
		}
		for _, q := range qs {
			fmt.Printf("%s\t%s\n", q.Name, q.Measures)
		}
		return
	}
	if *rerender != "" {
		files, err := bench.Rerender(*rerender)
		if err != nil {
			fail(err)
		}
		for _, f := range files {
			fmt.Println("wrote", f)
		}
		return
	}
	if *setupOnly {
		if _, err := bench.Setup(ctx, o.Setup); err != nil {
			fail(err)
		}
		return
	}
	rep, files, err := bench.Run(ctx, o)
	if err != nil {
		fail(err)
	}
	s := rep.Summary
	fmt.Printf("geomean lienthong/peer %.3f (speedup %.2fx), lienthong/floor %.2f; slower than peer: %v; over 2x floor: %v; not counted: %v\n",
		s.GeoMeanVsPeer, s.SpeedupVsPeer, s.GeoMeanVsFloor, s.SlowerThanPeer, s.OverTwiceFloor, s.NotCounted)
	for _, f := range files {
		fmt.Println("wrote", f)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
