package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"lienthong/bench/gen"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/internal/testenv"
	"lienthong/planner"
)

// The differential test: the same generated data loaded into one DuckDB (the
// oracle, nothing pushed anywhere) and spread over PostgreSQL, MariaDB,
// SQLite, DuckDB, Parquet and CSV sources. Every query must return the same
// multiset of rows everywhere (the same sequence where ORDER BY fixes it),
// with pushdown on and off.

const diffScale = 0.002 // 2,000 citizens: every table non-trivial, runs in seconds
const diffSeed = 7

type fixture struct {
	oracle, servers, embedded *engine.Engine
	serversConfig             string // the servers' layout's config file
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func setup(t *testing.T) *fixture {
	t.Helper()
	// The servers must answer before the shared fixture is built.
	testenv.PostgresDSN(t)
	testenv.MySQLDSN(t)
	fixOnce.Do(func() { fix, fixErr = build(testenv.PostgresBase(), testenv.MySQLBase()) })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func build(pgDSN, myDSN string) (*fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "lienthong-diff-")
	if err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("ltdiff%d_", os.Getpid())
	srvDir, embDir := filepath.Join(dir, "servers"), filepath.Join(dir, "embedded")
	oracle := filepath.Join(dir, "oracle.duckdb")
	if _, err := gen.Generate(ctx, gen.Options{Scale: diffScale, Seed: diffSeed, Out: srvDir, PostgresDSN: pgDSN, MySQLDSN: myDSN, DBPrefix: prefix, Oracle: oracle}); err != nil {
		return nil, fmt.Errorf("generating server data: %w", err)
	}
	dropAtExit = func() {
		dropGenerated(pgDSN, myDSN, prefix)
		os.RemoveAll(dir)
	}
	if _, err := gen.Generate(ctx, gen.Options{Scale: diffScale, Seed: diffSeed, Out: embDir}); err != nil {
		return nil, fmt.Errorf("generating embedded data: %w", err)
	}
	var sb strings.Builder
	for _, s := range []string{"dancu", "hotich", "cutru", "bhxh", "yte"} {
		fmt.Fprintf(&sb, "[[sources]]\nname = %q\nkind = \"duckdb\"\npath = %q\nschema = %q\n\n", s, oracle, s)
	}
	sb.WriteString("[sources.tables]\nbirths = { pin_column = \"child_pin\" }\n")
	oracleToml := filepath.Join(dir, "oracle.toml")
	if err := os.WriteFile(oracleToml, []byte(fixBirths(sb.String())), 0o644); err != nil {
		return nil, err
	}
	f := &fixture{serversConfig: filepath.Join(srvDir, "lienthong.toml")}
	for _, x := range []struct {
		path string
		dst  **engine.Engine
	}{{oracleToml, &f.oracle}, {filepath.Join(srvDir, "lienthong.toml"), &f.servers}, {filepath.Join(embDir, "lienthong.toml"), &f.embedded}} {
		cfg, err := config.Load(x.path)
		if err != nil {
			return nil, err
		}
		e, err := engine.New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		for _, s := range e.WaitCatalog(ctx).Sources {
			if s.Unavailable != "" {
				return nil, fmt.Errorf("%s: source %s unavailable: %s", x.path, s.Name, s.Unavailable)
			}
		}
		*x.dst = e
	}
	return f, nil
}

// dropAtExit removes the server databases the fixture generated.
var dropAtExit = func() {}

func TestMain(m *testing.M) {
	code := m.Run()
	if fix != nil {
		fix.oracle.Close()
		fix.servers.Close()
		fix.embedded.Close()
	}
	dropAtExit()
	os.Exit(code)
}

func dropGenerated(pgDSN, myDSN, prefix string) {
	ctx := context.Background()
	if c, err := pgx.Connect(ctx, pgDSN); err == nil {
		for _, db := range []string{"dancu", "cutru"} {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+prefix+db+" WITH (FORCE)")
		}
		c.Close(ctx)
	}
	if db, err := sql.Open("mysql", myDSN); err == nil {
		for _, name := range []string{"hotich", "bhxh"} {
			db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+prefix+name+"`")
		}
		db.Close()
	}
}

// fixBirths moves the births override under the hotich source, where it belongs.
func fixBirths(toml string) string {
	toml = strings.Replace(toml, "[sources.tables]\nbirths = { pin_column = \"child_pin\" }\n", "", 1)
	return strings.Replace(toml, "schema = \"hotich\"\n", "schema = \"hotich\"\n[sources.tables]\nbirths = { pin_column = \"child_pin\" }\n", 1)
}

type diffQuery struct {
	sql     string
	ordered bool // ORDER BY fixes the whole order
}

// forceReduce makes ReduceScanByJoinKeys fire on the fixture's small
// tables (2,000 citizens, far below the 50,000-row threshold).
var forceReduce = engine.QueryOptions{MinReduceProbe: 1}

type diffRun struct {
	name string
	e    *engine.Engine
	opt  engine.QueryOptions
}

// standardRuns are the ways every differential query runs.
func standardRuns(f *fixture) []diffRun {
	return []diffRun{
		{"servers+pushdown", f.servers, engine.QueryOptions{}},
		{"servers-nopushdown", f.servers, engine.QueryOptions{NoPushdown: true}},
		{"servers+reduce", f.servers, forceReduce},
		{"embedded+pushdown", f.embedded, engine.QueryOptions{}},
		{"embedded+reduce", f.embedded, forceReduce},
	}
}

// compare runs q the standard ways and checks each against the oracle; it
// reports whether semi-join reduction was planned in any run.
func compare(t *testing.T, f *fixture, q diffQuery) bool {
	t.Helper()
	return compareRuns(t, f, q, standardRuns(f))
}

func compareRuns(t *testing.T, f *fixture, q diffQuery, runs []diffRun) (reduced bool) {
	t.Helper()
	want, err := rows(t, f.oracle, q.sql, engine.QueryOptions{NoPushdown: true})
	if err != nil {
		t.Fatalf("oracle failed: %v\n%s", err, q.sql)
	}
	if !q.ordered {
		sort.Strings(want)
	}
	for _, run := range runs {
		got, err := rows(t, run.e, q.sql, run.opt)
		if err != nil {
			t.Errorf("%s failed: %v\n%s", run.name, err, q.sql)
			continue
		}
		if !q.ordered {
			sort.Strings(got)
		}
		if d := diff(want, got); d != "" {
			plan, _ := run.e.Explain(context.Background(), q.sql, false, run.opt)
			t.Errorf("%s differs from the oracle:\n%s\n%s\nplan:\n%s", run.name, q.sql, d, plan)
		}
		if p, _, err := run.e.Plan(q.sql, run.opt); err == nil {
			for _, rm := range p.Remotes {
				reduced = reduced || rm.ReduceBy != nil
			}
		}
	}
	return reduced
}

func diff(want, got []string) string {
	if len(want) != len(got) {
		return fmt.Sprintf("oracle has %d rows, got %d\nfirst oracle rows: %v\nfirst got rows: %v", len(want), len(got), head(want), head(got))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Sprintf("row %d: oracle %q, got %q", i, want[i], got[i])
		}
	}
	return ""
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// handWritten covers each SQL feature and the cross-agency checks analysts run.
var handWritten = []diffQuery{
	{sql: "SELECT COUNT(*) FROM dancu.citizens"},
	{sql: "SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex"},
	{sql: "SELECT pin, full_name FROM dancu.citizens WHERE full_name LIKE 'Nguyễn Thị%' ORDER BY pin LIMIT 20", ordered: true},
	{sql: "SELECT pin FROM dancu.citizens WHERE full_name LIKE '%ấ%'"},
	{sql: "SELECT pin FROM dancu.citizens WHERE full_name = 'nguyễn văn an'"},
	{sql: "SELECT pin, birth_date FROM dancu.citizens WHERE birth_date BETWEEN DATE '1990-01-01' AND DATE '1990-12-31' ORDER BY birth_date, pin", ordered: true},
	{sql: "SELECT pin FROM dancu.citizens WHERE death_date IS NOT NULL"},
	{sql: "SELECT pin FROM dancu.citizens WHERE religion IS NULL AND sex = 'F' AND NOT (ethnicity_code = '01')"},
	{sql: "SELECT ethnicity_code, COUNT(*) AS n FROM dancu.citizens GROUP BY ethnicity_code HAVING COUNT(*) > 5 ORDER BY n DESC, ethnicity_code", ordered: true},
	{sql: "SELECT YEAR(birth_date) AS y, COUNT(*) FROM dancu.citizens GROUP BY YEAR(birth_date) ORDER BY y", ordered: true},
	{sql: "SELECT COUNT(DISTINCT permanent_commune) FROM dancu.citizens"},
	{sql: "SELECT DISTINCT sex, marital_status FROM dancu.citizens"},
	{sql: "SELECT pin FROM dancu.citizens ORDER BY full_name DESC, pin LIMIT 10 OFFSET 5", ordered: true},
	{sql: "SELECT full_name FROM dancu.citizens ORDER BY full_name LIMIT 30", ordered: true},
	{sql: "SELECT phone FROM dancu.citizens ORDER BY phone, pin LIMIT 15", ordered: true},
	{sql: "SELECT phone FROM dancu.citizens ORDER BY phone DESC, pin LIMIT 15", ordered: true},
	{sql: "SELECT c.pin, b.registration_id FROM dancu.citizens c JOIN hotich.births b ON b.child_pin = c.pin"},
	{sql: "SELECT c.pin, r.commune_code FROM dancu.citizens c LEFT JOIN cutru.residences r ON r.pin = c.pin AND r.kind = 'permanent'"},
	{sql: "SELECT c.pin, r.residence_id FROM cutru.residences r RIGHT JOIN dancu.citizens c ON r.pin = c.pin WHERE c.sex = 'M'"},
	{sql: "SELECT c.pin FROM dancu.citizens c LEFT JOIN bhxh.health_cards h ON h.pin = c.pin WHERE h.pin IS NULL"},
	{sql: "SELECT d.pin, f.pin FROM hotich.deaths d FULL JOIN bhxh.funeral_allowances f ON f.pin = d.pin"},
	{sql: "SELECT d.pin, f.paid_on FROM hotich.deaths d FULL OUTER JOIN bhxh.funeral_allowances f ON f.pin = d.pin AND f.paid_on > d.death_date WHERE f.pin IS NULL OR d.pin IS NULL"},
	{sql: "SELECT a.pin, b.household_id FROM dancu.citizens a FULL JOIN dancu.households b ON b.head_pin = a.pin WHERE a.household_id < 100 OR a.pin IS NULL"},
	{sql: "SELECT COUNT(*) FROM dancu.citizens c CROSS JOIN hotich.deaths d WHERE d.pin = c.pin"},
	// Procedure group (a): children under 6 without a health card.
	{sql: `SELECT c.pin FROM dancu.citizens c
		WHERE c.birth_date > DATE_SUB(DATE '2026-11-30', INTERVAL 6 YEAR) AND c.death_date IS NULL
		AND NOT EXISTS (SELECT 1 FROM bhxh.health_cards h WHERE h.pin = c.pin)`},
	// Procedure group (b): deceased with an active permanent residence.
	{sql: `SELECT c.pin FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin
		WHERE c.death_date IS NOT NULL AND r.kind = 'permanent' AND r.status = 'active'`},
	{sql: "SELECT d.pin FROM hotich.deaths d WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin)"},
	{sql: "SELECT f.pin FROM bhxh.funeral_allowances f WHERE f.pin NOT IN (SELECT d.pin FROM hotich.deaths d WHERE d.pin IS NOT NULL)"},
	{sql: "SELECT pin FROM hotich.deaths WHERE pin IN (SELECT pin FROM dancu.citizens WHERE death_date IS NULL)"},
	{sql: "SELECT c.pin, (SELECT COUNT(*) FROM yte.visits v WHERE v.pin = c.pin) AS visits FROM dancu.citizens c WHERE c.permanent_commune = (SELECT MIN(permanent_commune) FROM dancu.citizens)"},
	{sql: "SELECT pin, SUM(amount) FROM bhxh.funeral_allowances GROUP BY pin HAVING COUNT(*) > 1"},
	{sql: "SELECT SUM(amount), AVG(amount), MIN(amount), MAX(amount) FROM bhxh.funeral_allowances"},
	{sql: "SELECT SUM(cost), COUNT(*) FROM yte.visits WHERE cost > 100000"},
	{sql: "SELECT diagnosis_code, COUNT(DISTINCT pin) FROM yte.visits GROUP BY diagnosis_code"},
	{sql: "WITH kids AS (SELECT pin FROM dancu.citizens WHERE birth_date >= '2021-01-01') SELECT COUNT(*) FROM kids k JOIN bhxh.health_cards h ON h.pin = k.pin"},
	{sql: "WITH d AS (SELECT pin FROM hotich.deaths) SELECT COUNT(*) FROM d x JOIN d y ON x.pin = y.pin"},
	{sql: "SELECT COUNT(*) FROM dancu.citizens a JOIN dancu.citizens b ON a.father_pin = b.pin"},
	{sql: "SELECT a.pin FROM dancu.citizens a JOIN dancu.citizens m ON a.mother_pin = m.pin JOIN hotich.births b ON b.child_pin = a.pin WHERE b.mother_pin <> m.pin"},
	{sql: "SELECT pin FROM hotich.deaths UNION SELECT pin FROM bhxh.funeral_allowances"},
	{sql: "SELECT pin FROM hotich.deaths UNION ALL SELECT pin FROM bhxh.funeral_allowances"},
	{sql: "SELECT sex FROM dancu.citizens UNION SELECT kind FROM cutru.residences ORDER BY 1", ordered: true},
	{sql: "SELECT pin, CASE WHEN death_date IS NULL THEN 'living' ELSE 'deceased' END AS state FROM dancu.citizens WHERE household_id < 50"},
	{sql: "SELECT CAST(household_id AS CHAR) AS h, CAST('12.50' AS DECIMAL(10,2)) AS d FROM dancu.citizens WHERE household_id < 5"},
	{sql: "SELECT CONCAT(full_name, ' (', sex, ')'), LOWER(full_name), UPPER(full_name), LENGTH(full_name), CHAR_LENGTH(full_name) FROM dancu.citizens WHERE household_id < 20"},
	{sql: "SELECT SUBSTRING(pin, 1, 3) AS province, COUNT(*) FROM dancu.citizens GROUP BY SUBSTRING(pin, 1, 3)"},
	{sql: "SELECT TRIM(full_name), COALESCE(phone, 'none'), IFNULL(religion, '-') FROM dancu.citizens WHERE household_id < 20"},
	{sql: "SELECT pin, DATEDIFF(DATE '2026-11-30', birth_date) AS days, TIMESTAMPDIFF(YEAR, birth_date, DATE '2026-11-30') AS age FROM dancu.citizens WHERE household_id < 30"},
	{sql: "SELECT MONTH(birth_date), DAY(birth_date), EXTRACT(YEAR FROM birth_date) FROM dancu.citizens WHERE household_id < 30"},
	{sql: "SELECT DATE_ADD(birth_date, INTERVAL 1 MONTH), DATE_SUB(birth_date, INTERVAL 2 DAY) FROM dancu.citizens WHERE household_id < 30"},
	{sql: "SELECT ROUND(AVG(cost), 2), ABS(-3), ROUND(2.5) FROM yte.visits"},
	{sql: "SELECT pin, ROW_NUMBER() OVER (PARTITION BY household_id ORDER BY birth_date, pin) AS rn FROM dancu.citizens WHERE household_id < 40"},
	{sql: "SELECT pin, RANK() OVER (ORDER BY birth_date) FROM dancu.citizens WHERE household_id < 40"},
	{sql: "SELECT pin, cost, SUM(cost) OVER (PARTITION BY pin) FROM yte.visits"},
	{sql: "SELECT t.province, t.n FROM (SELECT SUBSTRING(pin, 1, 3) AS province, COUNT(*) AS n FROM dancu.citizens GROUP BY SUBSTRING(pin, 1, 3)) AS t WHERE t.n > 10"},
	{sql: "SELECT c.pin, c.full_name, b.full_name FROM dancu.citizens c JOIN hotich.births b ON b.child_pin = c.pin WHERE c.full_name <> b.full_name"},
	{sql: "SELECT c.pin FROM dancu.citizens c JOIN hotich.births b ON b.child_pin = c.pin WHERE c.birth_date <> b.birth_date OR c.sex <> b.sex"},
	{sql: "SELECT h.pin, h.valid_from, c.birth_date FROM bhxh.health_cards h JOIN dancu.citizens c ON c.pin = h.pin WHERE h.valid_from < c.birth_date"},
	{sql: "SELECT c.pin, COUNT(v.visit_id), COUNT(vc.vaccination_id) FROM dancu.citizens c LEFT JOIN yte.visits v ON v.pin = c.pin LEFT JOIN yte.vaccinations vc ON vc.pin = c.pin WHERE c.household_id < 60 GROUP BY c.pin"},
	{sql: "SELECT r.commune_code, COUNT(*) FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin JOIN bhxh.health_cards h ON h.pin = c.pin WHERE r.status = 'active' GROUP BY r.commune_code"},
	{sql: "SELECT COUNT(*) FROM dancu.citizens WHERE pin IN ('001090000001', '079201234567', '')"},
	{sql: "SELECT pin FROM dancu.citizens WHERE full_name > 'Trần' AND full_name < 'Vũ'"},
	{sql: "SELECT pin FROM dancu.citizens WHERE full_name >= 'a'"},
	{sql: "SELECT MIN(full_name), MAX(full_name) FROM dancu.citizens"},
	{sql: "SELECT 1 + 2, 7 / 2, 7 DIV 2, 7 % 3, 'x'"},
	{sql: "SELECT household_id * 2 + 1, household_id - 3 FROM dancu.citizens WHERE household_id BETWEEN 10 AND 12"},
	{sql: "SELECT NULL IS NULL, pin FROM dancu.citizens WHERE 1 = 0"},
	// Window functions, derived tables and CTEs across sources: a rule may
	// look through a derived block only when it runs row by row.
	{sql: "SELECT f.pin, c.rn FROM bhxh.funeral_allowances f JOIN (SELECT pin, ROW_NUMBER() OVER (ORDER BY pin) rn FROM dancu.citizens) c ON c.pin = f.pin ORDER BY f.pin LIMIT 3", ordered: true},
	{sql: "SELECT f.pin, c.rn FROM bhxh.funeral_allowances f JOIN (SELECT pin, ROW_NUMBER() OVER (ORDER BY pin) rn FROM dancu.citizens) c ON c.pin = f.pin"},
	{sql: "SELECT d.pin, c.n FROM hotich.deaths d JOIN (SELECT pin, COUNT(*) OVER (PARTITION BY sex) AS n FROM dancu.citizens) c ON c.pin = d.pin"},
	{sql: "SELECT c.pin, v.k FROM dancu.citizens c JOIN (SELECT pin, RANK() OVER (ORDER BY pin) AS k FROM yte.visits) v ON v.pin = c.pin WHERE c.household_id < 200"},
	{sql: "WITH ranked AS (SELECT pin, DENSE_RANK() OVER (ORDER BY birth_date) AS r FROM dancu.citizens) SELECT d.pin, x.r FROM hotich.deaths d JOIN ranked x ON x.pin = d.pin"},
	{sql: "SELECT d.pin, c.rn FROM hotich.deaths d JOIN (SELECT pin, ROW_NUMBER() OVER (ORDER BY pin) AS rn FROM dancu.citizens) c ON c.pin = d.pin WHERE c.rn < 500"},
	{sql: "WITH dead AS (SELECT pin, death_date FROM hotich.deaths) SELECT c.pin, x.death_date FROM dancu.citizens c JOIN dead x ON x.pin = c.pin"},
	{sql: "WITH v AS (SELECT pin, cost FROM yte.visits WHERE cost > 100000) SELECT c.sex, COUNT(*) FROM dancu.citizens c JOIN v ON v.pin = c.pin GROUP BY c.sex"},
	{sql: "SELECT c.pin, t.n FROM dancu.citizens c JOIN (SELECT pin, COUNT(*) AS n FROM yte.visits GROUP BY pin) t ON t.pin = c.pin"},
	{sql: "SELECT c.pin, t.pin FROM dancu.citizens c JOIN (SELECT DISTINCT pin FROM yte.visits) t ON t.pin = c.pin"},
	{sql: "SELECT c.pin, t.pin FROM dancu.citizens c JOIN (SELECT pin FROM yte.visits ORDER BY pin LIMIT 50) t ON t.pin = c.pin"},
	{sql: "SELECT c.pin FROM dancu.citizens c JOIN (SELECT pin FROM hotich.deaths UNION SELECT pin FROM bhxh.funeral_allowances) u ON u.pin = c.pin"},
	{sql: "SELECT x.pin, x.full_name FROM (SELECT c.pin, c.full_name FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin) x JOIN bhxh.funeral_allowances f ON f.pin = x.pin"},
	{sql: "SELECT d.pin FROM hotich.deaths d WHERE d.pin IN (SELECT pin FROM (SELECT pin, ROW_NUMBER() OVER (ORDER BY pin) AS rn FROM dancu.citizens) r WHERE r.rn <= 1000)"},
}

func TestDifferentialHandWritten(t *testing.T) {
	f := setup(t)
	reduced := 0
	for i, q := range handWritten {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if compare(t, f, q) {
				reduced++
			}
		})
	}
	// A rule that never fires cannot fail this test: make sure it fires.
	if reduced < 10 {
		t.Errorf("semi-join reduction was planned for %d hand-written queries, want at least 10", reduced)
	}
}

func TestDifferentialRandom(t *testing.T) {
	f := setup(t)
	g := newQueryGen(t, f.oracle, 42)
	reduced := 0
	for i := 0; i < 260; i++ {
		q := g.next()
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if compare(t, f, q) {
				reduced++
			}
		})
	}
	if reduced < 40 {
		t.Errorf("semi-join reduction was planned for %d of 260 random queries, want at least 40", reduced)
	}
}

// Each rewrite rule alone must not change an answer: the hand-written
// queries run with each rule disabled in turn (reduction forced on).
func TestDifferentialPerRule(t *testing.T) {
	f := setup(t)
	for _, rule := range planner.Rules {
		t.Run(rule, func(t *testing.T) {
			opt := engine.QueryOptions{MinReduceProbe: 1, DisableRules: []string{rule}}
			runs := []diffRun{{"servers-" + rule, f.servers, opt}}
			for i, q := range handWritten {
				t.Run(strconv.Itoa(i), func(t *testing.T) { compareRuns(t, f, q, runs) })
			}
		})
	}
}

// queryGen makes random queries over the catalog: filters on sampled values,
// joins on the PIN, aggregates, semi/anti joins and ordered top-N.
type queryGen struct {
	r      *rand.Rand
	tables []*catalog.Table
	values map[string][]string // "source.table.column" -> SQL literals
}

func newQueryGen(t *testing.T, oracle *engine.Engine, seed uint64) *queryGen {
	g := &queryGen{r: rand.New(rand.NewPCG(seed, seed)), values: map[string][]string{}}
	for _, s := range oracle.WaitCatalog(context.Background()).Sources {
		for _, tb := range s.Tables {
			if tb.PINColumn == "" {
				continue
			}
			g.tables = append(g.tables, tb)
			for _, c := range tb.Columns {
				if !literalType(c.Type) {
					continue
				}
				q := fmt.Sprintf("SELECT DISTINCT %s FROM %s.%s WHERE %s IS NOT NULL ORDER BY 1 LIMIT 40", c.Name, s.Name, tb.Name, c.Name)
				vals, err := rows(t, oracle, q, engine.QueryOptions{})
				if err != nil {
					t.Fatalf("sampling %s: %v", q, err)
				}
				for _, v := range vals {
					g.values[s.Name+"."+tb.Name+"."+c.Name] = append(g.values[s.Name+"."+tb.Name+"."+c.Name], sqlLiteral(c.Type, v))
				}
			}
		}
	}
	sort.Slice(g.tables, func(i, j int) bool { return g.tables[i].Source+g.tables[i].Name < g.tables[j].Source+g.tables[j].Name })
	return g
}

func literalType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.INT64, arrow.INT32, arrow.INT16, arrow.INT8, arrow.DATE32, arrow.DECIMAL128:
		return true
	}
	return false
}

func sqlLiteral(t arrow.DataType, v string) string {
	switch t.ID() {
	case arrow.STRING:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case arrow.DATE32:
		return "DATE '" + v + "'"
	}
	return v
}

func (g *queryGen) pick(n int) int { return g.r.IntN(n) }

func (g *queryGen) table() *catalog.Table { return g.tables[g.pick(len(g.tables))] }

func (g *queryGen) column(t *catalog.Table, ok func(arrow.DataType) bool) *catalog.Column {
	var cs []*catalog.Column
	for i := range t.Columns {
		if ok(t.Columns[i].Type) {
			cs = append(cs, &t.Columns[i])
		}
	}
	if len(cs) == 0 {
		return nil
	}
	return cs[g.pick(len(cs))]
}

// pred is a random predicate on alias's table.
func (g *queryGen) pred(alias string, t *catalog.Table) string {
	c := g.column(t, literalType)
	ref := alias + "." + c.Name
	vals := g.values[t.Source+"."+t.Name+"."+c.Name]
	if len(vals) == 0 || g.pick(8) == 0 {
		if g.pick(2) == 0 {
			return ref + " IS NULL"
		}
		return ref + " IS NOT NULL"
	}
	v := vals[g.pick(len(vals))]
	switch g.pick(9) {
	case 0:
		return ref + " = " + v
	case 1:
		return ref + " <> " + v
	case 2:
		return ref + " < " + v
	case 3:
		return ref + " >= " + v
	case 4:
		w := vals[g.pick(len(vals))]
		if w < v {
			v, w = w, v
		}
		return ref + " BETWEEN " + v + " AND " + w
	case 5:
		list := []string{v}
		for k := 0; k < 1+g.pick(4); k++ {
			list = append(list, vals[g.pick(len(vals))])
		}
		return ref + " IN (" + strings.Join(list, ", ") + ")"
	case 6:
		if c.Type.ID() == arrow.STRING && len(v) > 4 {
			runes := []rune(strings.Trim(v, "'"))
			n := 1 + g.pick(min(4, len(runes)))
			pat := strings.ReplaceAll(string(runes[:n]), "'", "''")
			if g.pick(3) == 0 {
				pat = "_" + string(runes[1:n])
			}
			return ref + " LIKE '" + strings.ReplaceAll(pat, `\`, `\\`) + "%'"
		}
		return ref + " > " + v
	case 7:
		return "NOT (" + ref + " = " + v + ")"
	default:
		return "(" + ref + " = " + v + " OR " + g.pred(alias, t) + ")"
	}
}

func (g *queryGen) where(alias string, t *catalog.Table) string {
	preds := []string{g.pred(alias, t)}
	for g.pick(3) == 0 {
		preds = append(preds, g.pred(alias, t))
	}
	return strings.Join(preds, " AND ")
}

func (g *queryGen) cols(alias string, t *catalog.Table, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		c := g.column(t, func(arrow.DataType) bool { return true })
		out = append(out, alias+"."+c.Name)
	}
	return out
}

func (g *queryGen) next() diffQuery {
	a := g.table()
	b := g.table()
	for b == a && len(g.tables) > 1 {
		b = g.table()
	}
	from := func(t *catalog.Table, alias string) string { return t.Source + "." + t.Name + " " + alias }
	switch g.pick(11) {
	case 8: // join a derived table with a window function
		win := []string{
			"ROW_NUMBER() OVER (ORDER BY b.%[1]s, b.%[2]s)",
			"RANK() OVER (ORDER BY b.%[1]s)",
			"COUNT(*) OVER (PARTITION BY b.%[1]s)",
			"DENSE_RANK() OVER (ORDER BY b.%[2]s)",
		}[g.pick(4)]
		// A unique order: every column of b breaks ties.
		var all []string
		for _, c := range b.Columns {
			all = append(all, c.Name)
		}
		w := fmt.Sprintf(win, b.PINColumn, strings.Join(all, ", b."))
		if strings.HasPrefix(win, "DENSE") {
			w = fmt.Sprintf("DENSE_RANK() OVER (ORDER BY b.%s)", g.column(b, literalType).Name)
		}
		return diffQuery{sql: fmt.Sprintf("SELECT a.%s, d.w FROM %s JOIN (SELECT b.%s AS k, %s AS w FROM %s) d ON d.k = a.%s WHERE %s", a.PINColumn, from(a, "a"), b.PINColumn, w, from(b, "b"), a.PINColumn, g.where("a", a))}
	case 9: // join a CTE
		return diffQuery{sql: fmt.Sprintf("WITH x AS (SELECT b.%s AS k, %s FROM %s WHERE %s) SELECT a.%s, x.* FROM %s JOIN x ON x.k = a.%s", b.PINColumn, strings.Join(g.cols("b", b, 1+g.pick(2)), ", "), from(b, "b"), g.where("b", b), a.PINColumn, from(a, "a"), a.PINColumn)}
	case 10: // join an aggregated derived table
		return diffQuery{sql: fmt.Sprintf("SELECT a.%s, d.n FROM %s JOIN (SELECT b.%s AS k, COUNT(*) AS n FROM %s GROUP BY b.%s) d ON d.k = a.%s WHERE %s", a.PINColumn, from(a, "a"), b.PINColumn, from(b, "b"), b.PINColumn, a.PINColumn, g.where("a", a))}
	case 0: // filter scan
		return diffQuery{sql: fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(g.cols("a", a, 1+g.pick(3)), ", "), from(a, "a"), g.where("a", a))}
	case 1: // aggregate
		gc := g.column(a, func(t arrow.DataType) bool { return t.ID() == arrow.STRING || t.ID() == arrow.DATE32 })
		nc := g.column(a, func(t arrow.DataType) bool {
			return t.ID() == arrow.INT64 || t.ID() == arrow.DECIMAL128 || t.ID() == arrow.DATE32
		})
		aggs := []string{"COUNT(*)"}
		if nc != nil {
			aggs = append(aggs, "MIN(a."+nc.Name+")", "MAX(a."+nc.Name+")")
			if nc.Type.ID() != arrow.DATE32 {
				aggs = append(aggs, "SUM(a."+nc.Name+")")
			}
		}
		aggs = append(aggs, "COUNT(DISTINCT a."+a.PINColumn+")")
		return diffQuery{sql: fmt.Sprintf("SELECT a.%s, %s FROM %s WHERE %s GROUP BY a.%s", gc.Name, strings.Join(aggs, ", "), from(a, "a"), g.where("a", a), gc.Name)}
	case 2, 3: // join on the PIN
		kind := []string{"JOIN", "LEFT JOIN", "JOIN"}[g.pick(3)]
		cols := append(g.cols("a", a, 1+g.pick(2)), g.cols("b", b, 1+g.pick(2))...)
		return diffQuery{sql: fmt.Sprintf("SELECT %s FROM %s %s %s ON b.%s = a.%s WHERE %s", strings.Join(cols, ", "), from(a, "a"), kind, from(b, "b"), b.PINColumn, a.PINColumn, g.where("a", a))}
	case 4: // semi / anti join
		not := []string{"", "NOT "}[g.pick(2)]
		return diffQuery{sql: fmt.Sprintf("SELECT a.%s FROM %s WHERE %sEXISTS (SELECT 1 FROM %s WHERE b.%s = a.%s AND %s)", a.PINColumn, from(a, "a"), not, from(b, "b"), b.PINColumn, a.PINColumn, g.where("b", b))}
	case 5: // IN subquery
		not := []string{"", "NOT "}[g.pick(2)]
		return diffQuery{sql: fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE a.%s IS NOT NULL AND a.%s %sIN (SELECT b.%s FROM %s WHERE b.%s IS NOT NULL AND %s)", from(a, "a"), a.PINColumn, a.PINColumn, not, b.PINColumn, from(b, "b"), b.PINColumn, g.where("b", b))}
	case 6: // ordered top-N: ordering by every output column fixes the order
		cols := g.cols("a", a, 1+g.pick(3))
		var keys []string
		for i := range cols {
			dir := []string{"", " DESC"}[g.pick(2)]
			keys = append(keys, strconv.Itoa(i+1)+dir)
		}
		return diffQuery{sql: fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d", strings.Join(cols, ", "), from(a, "a"), g.where("a", a), strings.Join(keys, ", "), 1+g.pick(30)), ordered: true}
	default: // join with aggregate
		gc := g.column(b, func(t arrow.DataType) bool { return t.ID() == arrow.STRING })
		return diffQuery{sql: fmt.Sprintf("SELECT b.%s, COUNT(*), COUNT(DISTINCT a.%s) FROM %s JOIN %s ON b.%s = a.%s WHERE %s GROUP BY b.%s", gc.Name, a.PINColumn, from(a, "a"), from(b, "b"), b.PINColumn, a.PINColumn, g.where("a", a), gc.Name)}
	}
}
