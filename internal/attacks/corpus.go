package attacks

import (
	"fmt"
	"strings"

	"lienthong/engine"
)

// Want is the safe outcome an attempt must have.
type Want int

const (
	// Safe: whatever it returns (rows, an error, a plan) carries nothing
	// forbidden, and an error is of a user class with a stable code.
	Safe Want = iota
	// Denied: refused by the policy, LT-DENIED.
	Denied
	// Refused: refused with some user-class code, no rows.
	Refused
)

// Op is what an attempt asks of the front-end.
type Op int

const (
	OpQuery          Op = iota
	OpExplainAnalyze    // EXPLAIN ANALYZE of SQL
	OpCatalog           // the catalog listing (SQL unused)
)

// Attack is one attempt.
type Attack struct {
	Technique string
	Who       engine.Session
	SQL       string
	Want      Want
	Op        Op
}

func (a Attack) String() string {
	return fmt.Sprintf("[%s] %s: %s", a.Technique, a.Who.Principal, a.SQL)
}

// Corpus is the attack suite, by technique (THREATS.md), over the fixture's
// data. Each technique's attempts are variations an insider who has read
// the docs and the code would try.
func (f *Fixture) Corpus() []Attack {
	pin, name, birth := f.Citizen[0], f.Citizen[1], f.Citizen[2]
	q := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	var out []Attack
	add := func(tech string, who engine.Session, want Want, sqls ...string) {
		for _, s := range sqls {
			out = append(out, Attack{Technique: tech, Who: who, SQL: s, Want: want})
		}
	}
	// Names: letter case, quoting, comments, qualification, shadowing
	// aliases; never a way to an ungranted table or column.
	for _, t := range []string{"hotich.births", "HOTICH.BIRTHS", "`hotich`.`births`", "hotich . births", "hotich./**/births", "dancu.households", "dancu.`households`"} {
		add("names", An, Denied, "SELECT * FROM "+t, "SELECT COUNT(*) FROM "+t)
	}
	for _, c := range []string{"phone", "PHONE", "`phone`", "c.phone", "father_pin", "mother_pin", "citizens_src.phone", "citizens_src.pin"} {
		add("names", An, Refused, "SELECT "+c+" FROM dancu.citizens c", "SELECT COUNT(*) FROM dancu.citizens c WHERE "+c+" IS NOT NULL")
	}
	add("names", An, Safe,
		"SeLeCt /* x */ PIN, Full_Name fRoM DANCU.CITIZENS",
		"SELECT c.* FROM dancu.citizens AS c",
		"SELECT x.pin FROM dancu.citizens x JOIN dancu.citizens citizens ON citizens.pin = x.pin",
		"SELECT deaths.pin FROM hotich.deaths deaths",
		"SELECT `c`.`pin` FROM dancu.citizens `c`",
	)
	// Flow: a protected value through every construct that moves values.
	protected := []string{"pin", "birth_date", "religion", "ethnicity_code", "full_name"}
	for _, col := range protected {
		add("flow", An, Safe,
			"SELECT "+col+" FROM dancu.citizens",
			"SELECT (SELECT "+col+" FROM dancu.citizens ORDER BY pin LIMIT 1)",
			"WITH x AS (SELECT "+col+" AS v FROM dancu.citizens) SELECT v FROM x",
			"SELECT v FROM (SELECT "+col+" AS v FROM dancu.citizens) t",
			"SELECT "+col+" FROM dancu.citizens UNION ALL SELECT "+col+" FROM dancu.citizens",
			"SELECT "+col+", ROW_NUMBER() OVER (ORDER BY "+col+") FROM dancu.citizens",
			"SELECT "+col+" FROM dancu.citizens ORDER BY "+col+" DESC LIMIT 1",
			"SELECT "+col+", COUNT(*) FROM dancu.citizens GROUP BY "+col,
			"SELECT CONCAT("+col+", '') FROM dancu.citizens",
			"SELECT CAST("+col+" AS CHAR) FROM dancu.citizens",
			"SELECT CASE WHEN "+col+" IS NOT NULL THEN "+col+" END FROM dancu.citizens",
			"SELECT LOWER(CAST("+col+" AS CHAR)), UPPER(CAST("+col+" AS CHAR)) FROM dancu.citizens",
		)
	}
	add("flow", An, Safe,
		"SELECT SUBSTRING(pin, 1, 12), LEFT(pin, 3), RIGHT(pin, 9), LPAD(pin, 12, '0') FROM dancu.citizens",
		"SELECT d.pin, c.full_name FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin",
		"SELECT d.pin FROM hotich.deaths d WHERE d.pin NOT IN (SELECT pin FROM dancu.citizens)",
		"SELECT full_name FROM dancu.citizens WHERE hometown_province = '001' OR 1 = 1",
		"SELECT full_name FROM dancu.citizens WHERE hometown_province <> '079'",
		"SELECT MIN(birth_date), MAX(birth_date), MIN(pin), MAX(pin) FROM dancu.citizens",
		"SELECT full_name FROM dancu.citizens LIMIT 10 OFFSET 10",
		"SELECT card_no FROM bhxh.health_cards",
		"SELECT religion FROM dancu.citizens WHERE religion IS NOT NULL",
		"SELECT COUNT(*) FROM dancu.citizens WHERE religion = 'Phật giáo'",
	)
	// Filters on masked or hidden values: compare with the mask only.
	add("filter-on-mask", An, Safe,
		"SELECT pin FROM dancu.citizens WHERE pin = '"+pin+"'",
		"SELECT full_name FROM dancu.citizens WHERE full_name = '"+q(name)+"'",
		"SELECT pin FROM dancu.citizens WHERE birth_date = '"+birth+"'",
		"SELECT COUNT(*) FROM dancu.citizens WHERE pin LIKE '0%'",
		"SELECT pin FROM dancu.citizens WHERE pin BETWEEN '000000000000' AND '999999999999'",
		"SELECT pin FROM hotich.deaths WHERE pin IN ('"+pin+"')",
	)
	// Pseudonyms: forging, linking, prefix matching.
	add("pseudonym", An, Refused,
		"SELECT lt_pseudonym('"+pin+"', 'DEATH_FOLLOWUP')",
		"SELECT lt_pseudonym('"+pin+"', 'POPULATION_STATISTICS')",
		"SELECT full_name FROM dancu.citizens WHERE pin = pseudonym('"+pin+"')",
		"SELECT hmac('"+pin+"')",
	)
	add("pseudonym", An, Safe,
		"SELECT c.pin FROM dancu.citizens c WHERE LEFT(c.pin, 3) = '"+pin[:3]+"'",
		"SELECT d.pin FROM hotich.deaths d JOIN bhxh.funeral_allowances f ON f.pin = d.pin",
	)
	// Single-query singling-out against aggregate-only tables.
	one := "sex = 'F' AND birth_date = '" + birth + "' AND permanent_commune IS NOT NULL"
	add("singling-out", Binh, Denied,
		"SELECT SUM(CASE WHEN "+one+" THEN 1 ELSE 0 END) FROM dancu.citizens",
		"SELECT AVG(CASE WHEN "+one+" THEN 1000000 ELSE 0 END) FROM dancu.citizens",
		"SELECT SUM(cost * CASE WHEN pin = '"+pin+"' THEN 1000 ELSE 0 END) FROM yte.visits",
		"SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex HAVING MAX(CASE WHEN "+one+" THEN 1 END) = 1",
		"SELECT COUNT(*) FROM dancu.citizens WHERE permanent_commune IN (SELECT permanent_commune FROM dancu.citizens WHERE "+one+")",
		"SELECT c.sex, c.birth_date, COUNT(*) FROM dancu.citizens c JOIN dancu.citizens d ON d.permanent_commune = c.permanent_commune GROUP BY c.sex, c.birth_date",
		"SELECT COUNT(*) FROM (SELECT pin FROM dancu.citizens UNION ALL SELECT pin FROM dancu.citizens) t",
		"SELECT COUNT(*) FROM (SELECT * FROM dancu.citizens WHERE "+one+") t",
		"SELECT (SELECT COUNT(*) FROM dancu.citizens WHERE "+one+")",
		"SELECT MIN(birth_date) FROM dancu.citizens",
		"SELECT MAX(pin) FROM dancu.citizens",
		"SELECT sex, COUNT(*) OVER () FROM dancu.citizens",
		"SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex ORDER BY COUNT(*) DESC",
		"SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex LIMIT 1",
		"SELECT pin FROM dancu.citizens",
		"SELECT * FROM dancu.citizens",
		"SELECT birth_date FROM dancu.citizens WHERE "+one,
		"SELECT COUNT(DISTINCT birth_date) FROM dancu.citizens",
		"WITH x AS (SELECT * FROM dancu.citizens) SELECT COUNT(*) FROM x",
		"SELECT COUNT(*) FROM dancu.citizens c LEFT JOIN yte.visits v ON v.pin = c.pin",
		"SELECT AVG(cost * 2) FROM yte.visits",
		"SELECT DISTINCT sex FROM dancu.citizens",
		"SELECT COUNT(*) FROM dancu.citizens c, dancu.citizens d",
		"SELECT COUNT(*) * 1000 FROM dancu.citizens WHERE "+one,
	)
	add("singling-out", Binh, Safe,
		"SELECT COUNT(*) FROM dancu.citizens WHERE "+one,
		"SELECT pin, COUNT(*) FROM dancu.citizens GROUP BY pin",
		"SELECT birth_date, COUNT(*) FROM dancu.citizens GROUP BY birth_date",
		"SELECT permanent_commune, birth_date, COUNT(*) FROM dancu.citizens GROUP BY permanent_commune, birth_date",
		"SELECT COUNT(*) FROM dancu.citizens WHERE pin = '"+pin+"'",
		"SELECT birth_date, COUNT(DISTINCT pin) FROM dancu.citizens GROUP BY birth_date ORDER BY birth_date",
		"SELECT v.diagnosis_code, COUNT(*) FROM yte.visits v JOIN dancu.citizens c ON c.pin = v.pin GROUP BY v.diagnosis_code",
		"SELECT SUM(cost), AVG(cost) FROM yte.visits WHERE pin = '"+pin+"'",
	)
	// Multi-query inference: each half of a differencing or complementary
	// pair answers only noisy figures; paging and trackers are refused.
	add("differencing", Binh, Safe,
		"SELECT COUNT(*) FROM dancu.citizens WHERE sex = 'F'",
		"SELECT COUNT(*) FROM dancu.citizens WHERE sex = 'F' AND birth_date <> '"+birth+"'",
		"SELECT death_date IS NULL, COUNT(*) FROM dancu.citizens GROUP BY death_date IS NULL",
		"SELECT COUNT(*) FROM dancu.citizens",
		"SELECT sex, COUNT(*) FROM dancu.citizens WHERE birth_date <> '"+birth+"' GROUP BY sex",
	)
	add("differencing", Binh, Denied,
		"SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex LIMIT 1 OFFSET 1",
		"SELECT COUNT(*) - (SELECT COUNT(*) FROM dancu.citizens WHERE birth_date <> '"+birth+"') FROM dancu.citizens",
	)
	// Aggregate-only is per table, whatever else the principal may read.
	add("aggregate-per-table", Em, Denied,
		"SELECT sex, birth_date FROM dancu.citizens",
		"SELECT d.pin, c.birth_date FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin",
		"SELECT d.pin FROM hotich.deaths d WHERE d.pin IN (SELECT pin FROM dancu.citizens WHERE sex = 'F')",
		"SELECT d.death_date, (SELECT COUNT(*) FROM dancu.citizens c WHERE c.pin = d.pin) FROM hotich.deaths d",
		"SELECT pin FROM hotich.deaths UNION SELECT pin FROM dancu.citizens",
	)
	add("aggregate-per-table", Em, Safe,
		"SELECT COUNT(*) FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin",
		"SELECT pin, death_date FROM hotich.deaths",
	)
	// Oracles: errors that fire only on a hidden row.
	for _, o := range []string{
		"CAST(CASE WHEN full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1",
		"CAST(CASE WHEN full_name = '%s' THEN 'not a date' ELSE '2000-01-01' END AS DATE) IS NOT NULL",
		"1 / CASE WHEN full_name = '%s' THEN 0 ELSE 1 END = 1",
		"CAST(CASE WHEN full_name = '%s' THEN '99999999999999999999' ELSE '1' END AS SIGNED) = 1",
	} {
		cond := strings.ReplaceAll(o, "%s", q(name))
		add("error-oracle", An, Safe,
			"SELECT COUNT(*) FROM dancu.citizens WHERE "+cond,
			"SELECT pin FROM dancu.citizens WHERE sex = 'F' AND "+cond,
			"SELECT COUNT(*) FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin AND "+strings.ReplaceAll(cond, "full_name", "c.full_name"),
		)
	}
	// pin_verify as an oracle.
	chk := func(p, n, b string) string { return fmt.Sprintf("pin_verify('%s', '%s', DATE '%s')", p, q(n), b) }
	add("verify-oracle", Cuong, Denied,
		"SELECT COUNT(*) FROM dancu.citizens WHERE pin_verify(pin, '"+q(name)+"', DATE '"+birth+"')",
		"SELECT * FROM (SELECT "+chk(pin, name, birth)+" AS ok) t",
		"SELECT NOT "+chk(pin, name, birth),
		"SELECT "+chk(pin, name, birth)+", "+chk(pin, name, "1990-01-01"),
		"SELECT "+chk(pin, name, birth)+" UNION ALL SELECT "+chk(pin, name, "1990-01-01"),
		"WITH c AS (SELECT 1 AS x) SELECT "+chk(pin, name, birth),
		"SELECT pin_verify(CONCAT('"+pin[:6]+"', '"+pin[6:]+"'), '"+q(name)+"', DATE '"+birth+"')",
		"SELECT "+chk(pin, name, birth)+" WHERE 1 = 1",
		"SELECT CASE WHEN "+chk(pin, name, birth)+" THEN 1 ELSE 0 END",
		"SELECT pin_verify(p, '"+q(name)+"', DATE '"+birth+"') FROM (SELECT '"+pin+"' AS p) t",
		"SELECT "+chk(pin, name, birth)+" ORDER BY 1",
	)
	add("verify-oracle", An, Denied, "SELECT "+chk(pin, name, birth))
	add("verify-oracle", Binh, Denied, "SELECT "+chk(pin, name, birth))
	add("verify-oracle", Cuong, Safe, "SELECT "+chk(pin+" ", name, birth), "SELECT "+chk(pin[:11], name, birth))
	add("verify-oracle", Cuong, Denied, "SELECT pin FROM dancu.citizens", "SELECT COUNT(*) FROM dancu.citizens")
	// EXPLAIN and EXPLAIN ANALYZE: plans show no data, counts of restricted
	// tables, keys or DuckDB's filter values.
	for _, s := range []string{
		"SELECT COUNT(*) FROM dancu.citizens WHERE full_name = '" + q(name) + "'",
		"SELECT c.full_name FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin",
		"SELECT COUNT(*) FROM dancu.citizens WHERE hometown_province <> '079'",
	} {
		out = append(out, Attack{Technique: "explain", Who: An, SQL: s, Want: Safe, Op: OpExplainAnalyze})
	}
	out = append(out, Attack{Technique: "explain", Who: Binh, SQL: "SELECT COUNT(*) FROM dancu.citizens WHERE " + one, Want: Denied, Op: OpExplainAnalyze})
	add("explain", An, Safe, "EXPLAIN SELECT pin FROM dancu.citizens WHERE pin = '"+pin+"'", "EXPLAIN ANALYZE SELECT full_name FROM dancu.citizens")
	// Catalog and metadata.
	for _, who := range []engine.Session{An, {Principal: "an"}, Cuong, Binh} {
		out = append(out, Attack{Technique: "catalog", Who: who, Want: Safe, Op: OpCatalog})
	}
	// The SQL catalog views answer, listing only what the grants give
	// (Check: no row names a hidden table or column).
	for _, who := range []engine.Session{An, {Principal: "an"}, Cuong, Binh} {
		add("catalog-sql", who, Safe,
			"SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.tables",
			"SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.columns",
			"SELECT * FROM information_schema.columns WHERE table_name = 'births' OR column_name IN ('phone', 'father_pin')",
			"SELECT * FROM INFORMATION_SCHEMA.`TABLES` WHERE TABLE_SCHEMA = 'hotich' OR LOWER(table_name) LIKE '%house%'",
			"SELECT t.TABLE_SCHEMA, t.TABLE_NAME, c.COLUMN_NAME FROM information_schema.tables t JOIN information_schema.columns c ON c.table_schema = t.table_schema AND c.table_name = t.table_name",
			"SELECT s.SCHEMA_NAME, t.TABLE_NAME FROM information_schema.schemata s LEFT JOIN information_schema.tables t ON t.table_schema = s.schema_name",
		)
	}
	add("catalog", An, Refused,
		"SELECT * FROM duckdb_tables()",
		"SELECT * FROM duckdb_columns()",
		"SELECT * FROM pg_catalog.pg_tables",
		"SHOW TABLES",
		"SHOW COLUMNS FROM dancu.citizens",
	)
	// Session tricks.
	for _, s := range []engine.Session{
		{Principal: "an", Purpose: "DEATH_FOLLOWUP"},
		{Principal: "an", Purpose: "POPULATION_STATISTICS", CaseID: "x"},
		{Principal: "an", Purpose: "", CaseID: "x"},
		{Principal: "an", Purpose: "death_followup ", CaseID: "x"},
		{Principal: "mallory", Purpose: "DEATH_FOLLOWUP", CaseID: "x"},
		{Principal: "", Purpose: "DEATH_FOLLOWUP", CaseID: "x"},
		{Principal: "AN", Purpose: "DEATH_FOLLOWUP", CaseID: "x"},
		{Principal: "an' OR '1'='1", Purpose: "DEATH_FOLLOWUP", CaseID: "x"},
		{Principal: "binh", Purpose: "DEATH_FOLLOWUP", CaseID: "x"},
		{Principal: "cuong", Purpose: "DEATH_FOLLOWUP", CaseID: "x"},
	} {
		add("session", s, Denied, "SELECT COUNT(*) FROM dancu.citizens", "SELECT pin FROM hotich.deaths")
	}
	// DuckDB's own surface: table functions, settings, files, internals.
	add("engine-surface", An, Refused,
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_parquet('/tmp/x.parquet')",
		"SELECT * FROM read_text('/etc/hostname')",
		"SELECT * FROM duckdb_settings()",
		"SELECT current_setting('memory_limit')",
		"SELECT * FROM _lt_q1_remote_1",
		"SELECT * FROM glob('/*')",
		"ATTACH '/tmp/x.db' AS x",
		"PRAGMA database_list",
		"SET memory_limit = '1TB'",
		"COPY (SELECT 1) TO '/tmp/x.csv'",
		"INSTALL httpfs",
		"SELECT 1; SELECT pin FROM dancu.households",
		"DELETE FROM dancu.citizens",
		"UPDATE dancu.citizens SET full_name = 'x'",
		"CREATE TABLE x AS SELECT * FROM dancu.citizens",
		"SELECT getenv('LT_TEST_KEY_DEATH')",
		"SELECT * FROM read_json('/etc/passwd')",
		"SELECT * FROM sqlite_scan('/tmp/x.db', 't')",
		"SELECT * FROM postgres_scan('host=127.0.0.1', 'public', 't')",
		"SELECT * FROM information_schema.schemata s, information_schema.nosuch n",
		"DESCRIBE dancu.households",
		"SELECT * FROM dancu.citizens FOR UPDATE",
		"SELECT pin INTO OUTFILE '/tmp/x' FROM dancu.citizens",
		"LOAD DATA INFILE '/etc/passwd' INTO TABLE x",
		"CALL pragma_version()",
		"SELECT * FROM dancu.citizens_src",
	)
	return out
}
