# lienthong: every target builds with the duckdb_arrow tag (DuckDB's Arrow
# interface is how the engine runs cross-source work).
GO      ?= go
TAGS    := duckdb_arrow
export GOFLAGS := -tags=$(TAGS) -buildvcs=false

.PHONY: build test test-memory test-cluster demo bench bench-agent lint clean screenshots

build:
	$(GO) build -o bin/lienthong ./cmd/lienthong

# The whole suite. Tests that need PostgreSQL or MariaDB skip when those are
# not reachable, unless LIENTHONG_REQUIRE_SERVICES=1 (as in CI), where they fail.
test:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# The memory tests (docs/configuration.md, "Memory"), larger than in make test:
# a 48M-row cross-source sort under a 128MB duckdb_memory_limit (spills,
# completes in order, gives its memory back), SIGKILL and the spill sweep,
# and 10M rows through the CLI, HTTP and Flight SQL within the RSS bound.
test-memory:
	LT_MEMORY_ROWS=4000000 LT_FRONTEND_ROWS=10000000 timeout 600 $(GO) test -count=1 -v -timeout 10m \
		-run 'TestResidualSortSpillsAndReleases|TestResidualOutOfMemoryIsLimit|TestSpillSweptAfterKill|TestFrontendsStreamWithinMemoryBound' \
		./engine ./cmd/lienthong

# The long cluster fault runs (docs/operations.md): LT_CLUSTER_SCALE=5 makes
# the kill -9 run 1,000 audited appends and the partition and flapping runs
# five times longer; LT_CLUSTER_REPORT=1 adds the measurements (audit commit
# latency at 1 and 64 clients on 1 and 3 nodes, catch-up of 100,000 records).
test-cluster:
	LT_CLUSTER_SCALE=5 LT_CLUSTER_REPORT=1 timeout 600 $(GO) test -count=1 -v -timeout 9m \
		-run 'TestKill9|TestPartition|TestSymmetric|TestFlapping|TestCatchUp|TestRestartOfAll|TestReport' \
		./cluster

demo: build
	bin/lienthong demo --dir demo-data

# The web console's screenshots in docs/console/ (docs/console.md), taken by
# its end-to-end test in headless Chromium (apt-get install chromium).
screenshots:
	LIENTHONG_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -timeout 5m -run TestConsoleInBrowser ./server/console

# CitizenBench (docs/benchmark.md): lienthong against the PostgreSQL FDW peer and
# the co-located DuckDB floor, same run; e.g. BENCHFLAGS="--queries q01,q09 --runs 3".
# Loads its data on first use (PostgreSQL and MariaDB must be running).
bench: build
	$(GO) run ./bench/cmd/bench $(BENCHFLAGS)

# Reading through an agency's agent against reading the same PostgreSQL table
# directly, same run (docs/agent.md): a 1M-row, 3-column scan and a PIN lookup.
bench-agent:
	timeout 600 $(GO) test -run XXX -bench BenchmarkAgent -benchtime 5x -count 3 ./connectors/agent

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
