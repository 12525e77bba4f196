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

func main() {
	var o bench.Options
	flag.Float64Var(&o.Setup.Scale, "scale", 1, "data scale (1 = 1,000,000 citizens)")
	flag.Int64Var(&o.Setup.Seed, "seed", 1, "generator seed")
	flag.StringVar(&o.Setup.DataDir, "data", "bench/data", "data directory (gitignored); the data set goes to DIR/sf<scale>")
	flag.StringVar(&o.Setup.PostgresDSN, "postgres", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL admin DSN")
	flag.StringVar(&o.Setup.MySQLDSN, "mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB/MySQL admin DSN")
	flag.BoolVar(&o.Setup.Regenerate, "regen", false, "generate the data and rebuild the hub even if they are loaded")
	flag.IntVar(&o.Runs, "runs", 5, "counted runs per system and query")
	flag.IntVar(&o.Warmup, "warmup", 1, "warm-up runs per system and query (at least 1: its answers are checked)")
	flag.StringVar(&o.Queries, "queries", "", "comma-separated query names or prefixes (q01,q02); empty runs all")
	flag.StringVar(&o.Out, "out", "bench/results", "results directory")
	flag.DurationVar(&o.PeerTimeout, "peer-timeout", 300*time.Second, "the peer's statement_timeout")
	flag.StringVar(&o.LienthongBin, "lienthong", "bin/lienthong", "lienthong CLI for the peak-RSS runs")
	flag.BoolVar(&o.SkipRSS, "no-rss", false, "skip the peak-RSS subprocess runs")
	flag.Float64Var(&o.MaxBusy, "max-busy", 0.25, "before each query, wait until other work keeps the CPUs busy less than this fraction (0: never wait)")
	flag.DurationVar(&o.MaxBusyWait, "max-busy-wait", 10*time.Minute, "longest wait for --max-busy")
	setupOnly := flag.Bool("setup-only", false, "load the data and build the hub, then stop")
	list := flag.Bool("list", false, "list the queries and stop")
	rerender := flag.String("report", "", "rewrite the .md and .png of this results .json, and stop")
	flag.Parse()
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
