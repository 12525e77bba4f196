package mysqlwire_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// step is one statement a BI tool sends and what it must get: rows
// ("a|b;c|d"), any rows ("*"), or an error with this errno.
type step struct {
	sql   string
	want  string
	errno uint16
}

// The start-up and browsing sequences of BI tools, as their source sends
// them (a sequence's comment names where it was read; "abridged" marks a
// statement cut to the columns and clauses that matter here). Each is
// replayed on one connection: every statement is answered (or refused
// with an errno) within 10 seconds and the connection stays usable.
var biSequences = map[string][]step{
	// Grafana's MySQL data source, public/app/plugins/datasource/mysql/
	// mySqlMetaQuery.ts (showDatabases, buildTableQuery,
	// buildColumnQuery); its backend is go-sql-driver (this test's).
	"grafana": {
		{sql: "SELECT DISTINCT TABLE_SCHEMA from information_schema.TABLES where TABLE_TYPE != 'SYSTEM VIEW' ORDER BY TABLE_SCHEMA", want: "f;my"},
		{sql: "SELECT table_name FROM information_schema.tables WHERE table_schema = 'my' ORDER BY table_name", want: "benefits"},
		{sql: "SELECT table_name FROM information_schema.tables WHERE table_schema = database() ORDER BY table_name", want: ""}, // no USE yet: DATABASE() is NULL
		{sql: "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'my' AND table_name = 'benefits' AND data_type IN ('timestamp','datetime','bigint','int','double','float') ORDER BY column_name", want: "at|datetime;n|bigint;ratio|double"},
		{sql: "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'my' AND table_name = 'benefits' AND data_type IN ('bigint','int','smallint','mediumint','tinyint','double','decimal','float') AND column_name <> 'at' ORDER BY column_name", want: "amount|decimal;n|bigint;ratio|double"},
		{sql: "USE my", want: ""},
		{sql: "SELECT table_name FROM information_schema.tables WHERE table_schema = database() ORDER BY table_name", want: "benefits"},
		{sql: "SELECT at AS time, amount AS value FROM benefits WHERE at IS NOT NULL ORDER BY at", want: "2026-03-01T08:30:00Z|1250000.50;2026-04-15T17:05:09Z|99.99"}, // parseTime: time.Time values,
	},
	// Metabase's MySQL driver uses MariaDB Connector/J 3: its session
	// settings (org/mariadb/jdbc/client/impl/StandardClient.java,
	// createSessionVariableQuery, handleTimezone), then Metabase's own
	// (src/metabase/driver/mysql.clj: db-default-timezone,
	// set-timezone-sql), then the driver's DatabaseMetaData queries
	// (getCatalogs, getTables, getColumns: abridged) and Metabase's
	// have-select-privilege? probe.
	"metabase": {
		{sql: "set autocommit=1,sql_mode=CONCAT(@@sql_mode,',STRICT_TRANS_TABLES'),session_track_system_variables = CONCAT(@@global.session_track_system_variables,',transaction_isolation')", want: ""},
		{sql: "SELECT @@time_zone, @@system_time_zone", want: "+00:00|UTC"},
		{sql: "SELECT @@GLOBAL.time_zone AS global_tz, @@system_time_zone AS system_tz, time_format(   timediff(      now(), convert_tz(now(), @@GLOBAL.time_zone, '+00:00')   ),   '%H:%i' ) AS offset;", want: "+00:00|UTC|NULL"},
		{sql: "SET @@session.time_zone = 'UTC';", want: ""},
		{sql: "SELECT SCHEMA_NAME TABLE_CAT FROM INFORMATION_SCHEMA.SCHEMATA ORDER BY 1", want: "f;my"},
		{sql: "SELECT TABLE_SCHEMA TABLE_CAT, NULL TABLE_SCHEM, TABLE_NAME, IF(TABLE_TYPE='BASE TABLE' or TABLE_TYPE='SYSTEM VERSIONED', 'TABLE', TABLE_TYPE) as TABLE_TYPE, TABLE_COMMENT REMARKS FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'my' AND TABLE_NAME LIKE '%' ORDER BY TABLE_TYPE, TABLE_SCHEMA, TABLE_NAME", want: "my|NULL|benefits|TABLE|"},
		{sql: "SELECT TABLE_SCHEMA TABLE_CAT, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE TYPE_NAME, IF(NUMERIC_PRECISION IS NULL, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION) COLUMN_SIZE, NUMERIC_SCALE DECIMAL_DIGITS, IF(IS_NULLABLE = 'YES', 1, 0) NULLABLE, COLUMN_COMMENT REMARKS, COLUMN_DEFAULT COLUMN_DEF, ORDINAL_POSITION, IS_NULLABLE, IF(EXTRA = 'auto_increment', 'YES', 'NO') IS_AUTOINCREMENT FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'my' AND TABLE_NAME LIKE 'benefits' AND COLUMN_NAME LIKE '%' ORDER BY TABLE_CAT, TABLE_NAME, ORDINAL_POSITION",
			want: "my|benefits|pin|varchar|varchar(16383)|16383|NULL|0||NULL|1|NO|NO;my|benefits|amount|decimal|decimal(12,2)|12|2|1||NULL|2|YES|NO;my|benefits|paid|date|date|NULL|NULL|1||NULL|3|YES|NO;my|benefits|at|datetime|datetime(6)|NULL|NULL|1||NULL|4|YES|NO;my|benefits|n|bigint|bigint|19|0|1||NULL|5|YES|NO;my|benefits|ratio|double|double|22|NULL|1||NULL|6|YES|NO"},
		{sql: "SELECT TRUE AS `_` FROM `my`.`benefits` WHERE 1 <> 1 LIMIT 0", want: ""},
		{sql: "SELECT TRUE AS `_` FROM `my`.`secret` WHERE 1 <> 1 LIMIT 0", errno: 1142},
	},
	// MySQL Connector/J 8 (DBeaver's MySQL driver) on connect:
	// com/mysql/cj/NativeSession.loadServerVariables, then its session
	// settings; then what DBeaver's MySQL plugin reads while browsing.
	"dbeaver": {
		{sql: "/* mysql-connector-j-8.0.33 (Revision: 7d6b0800528b6b25c68b52dc10d6c1c8429c100c) */SELECT  @@session.auto_increment_increment AS auto_increment_increment, @@character_set_client AS character_set_client, @@character_set_connection AS character_set_connection, @@character_set_results AS character_set_results, @@character_set_server AS character_set_server, @@collation_server AS collation_server, @@collation_connection AS collation_connection, @@init_connect AS init_connect, @@interactive_timeout AS interactive_timeout, @@license AS license, @@lower_case_table_names AS lower_case_table_names, @@max_allowed_packet AS max_allowed_packet, @@net_write_timeout AS net_write_timeout, @@performance_schema AS performance_schema, @@sql_mode AS sql_mode, @@system_time_zone AS system_time_zone, @@time_zone AS time_zone, @@transaction_isolation AS transaction_isolation, @@wait_timeout AS wait_timeout", want: "*"},
		{sql: "SET NAMES utf8mb4", want: ""},
		{sql: "SET character_set_results = NULL", want: ""},
		{sql: "SET autocommit=1", want: ""},
		{sql: "SELECT @@session.transaction_read_only", want: "1"},
		{sql: "SHOW WARNINGS", want: ""},
		{sql: "SHOW ENGINES", want: "*"},
		{sql: "SHOW CHARSET", want: "*"},
		{sql: "SHOW COLLATION", want: "*"},
		{sql: "SELECT @@GLOBAL.character_set_server,@@GLOBAL.collation_server", want: "utf8mb4|utf8mb4_general_ci"},
		{sql: "SHOW PLUGINS", want: ""},
		{sql: "SHOW VARIABLES LIKE 'lower_case_table_names'", want: "lower_case_table_names|2"},
		{sql: "SELECT DATABASE()", want: "NULL"},
		{sql: "SHOW DATABASES", want: "f;my"},
		{sql: "SELECT * FROM information_schema.SCHEMATA", want: "*"},
		{sql: "SHOW FULL PROCESSLIST", want: "*"},
		{sql: "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_ROWS, DATA_LENGTH, CREATE_TIME, TABLE_COMMENT FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = 'my' ORDER BY t.TABLE_NAME", want: "benefits|BASE TABLE|mysql|NULL|NULL|NULL|"},
		{sql: "SELECT * FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = 'my' AND c.TABLE_NAME = 'benefits' ORDER BY c.ORDINAL_POSITION", want: "*"},
		{sql: "SHOW TABLE STATUS FROM `my`", want: "*"},
		{sql: "SHOW TABLE STATUS FROM `my` LIKE 'benefits'", want: "*"},
		{sql: "SHOW INDEX FROM `my`.`benefits`", want: ""},
		{sql: "SHOW CREATE TABLE `my`.`benefits`", want: "*"},
		{sql: "SELECT * FROM information_schema.KEY_COLUMN_USAGE kcu WHERE kcu.TABLE_SCHEMA = 'my'", errno: 1146},
		{sql: "SELECT * FROM `my`.`benefits` LIMIT 0, 200", want: "*"},
	},
	// Superset through SQLAlchemy's MySQL dialect and mysqlclient:
	// lib/sqlalchemy/dialects/mysql/base.py (initialize: _detect_sql_mode,
	// _detect_casing, get_isolation_level, _get_default_schema_name;
	// reflection: get_schema_names, get_table_names, get_view_names,
	// _show_create_table), then SQL Lab's first query.
	"superset": {
		{sql: "SHOW VARIABLES LIKE 'sql_mode'", want: "sql_mode|ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"},
		{sql: "SHOW VARIABLES LIKE 'lower_case_table_names'", want: "lower_case_table_names|2"},
		{sql: "SELECT @@transaction_isolation", want: "REPEATABLE-READ"},
		{sql: "SELECT DATABASE()", want: "NULL"},
		{sql: "show collation where `Charset` = 'utf8mb4' and `Collation` = 'utf8mb4_bin'", want: ""},
		{sql: "SHOW schemas", want: "f;my"},
		{sql: "SHOW FULL TABLES FROM `my`", want: "benefits|BASE TABLE"},
		{sql: "SHOW FULL TABLES FROM `my` WHERE Table_type = 'VIEW'", want: ""},
		{sql: "SHOW FULL TABLES FROM `f` WHERE Table_type = 'BASE TABLE' AND Tables_in_f LIKE 'p%'", want: "people|BASE TABLE"},
		{sql: "SHOW CREATE TABLE `my`.`benefits`", want: "benefits|CREATE TABLE `benefits` (\n  `pin` varchar(16383) NOT NULL,\n  `amount` decimal(12,2) DEFAULT NULL,\n  `paid` date DEFAULT NULL,\n  `at` datetime(6) DEFAULT NULL,\n  `n` bigint DEFAULT NULL,\n  `ratio` double DEFAULT NULL,\n  KEY `pin` (`pin`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"},
		{sql: "SHOW CREATE TABLE `my`.`secret`", errno: 1146},
		{sql: "SELECT pin, amount FROM my.benefits ORDER BY pin LIMIT 2", want: "P001|1250000.50;P002|99.99"},
	},
}

// biDSN are the go-sql-driver settings a tool's own driver would use:
// Grafana's are its backend's (pkg/tsdb/mysql/mysql.go: the collation,
// parseTime, UTC, its "Allow cleartext passwords" toggle, a time_zone
// the driver SETs on connect).
var biDSN = map[string]string{
	"grafana": "&collation=utf8mb4_unicode_ci&parseTime=true&loc=UTC&allowNativePasswords=true&time_zone=%27%2B00%3A00%27",
}

func TestBIStartupSequences(t *testing.T) {
	f := start(t, loopbackOK)
	for tool, steps := range biSequences {
		t.Run(tool, func(t *testing.T) {
			db := f.open(t, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS"+biDSN[tool])
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, st := range steps {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				got, err := queryRows(ctx, conn, st.sql)
				cancel()
				switch {
				case errors.Is(ctx.Err(), context.DeadlineExceeded):
					t.Fatalf("%s: no answer within 10s", st.sql)
				case st.errno != 0:
					var me *mysql.MySQLError
					if !errorsAs(err, &me) || me.Number != st.errno {
						t.Errorf("%s: want errno %d, got %v (rows %q)", st.sql, st.errno, err, got)
					}
				case err != nil:
					t.Errorf("%s: %v", st.sql, err)
				case st.want != "*" && got != st.want:
					t.Errorf("%s:\n got %q\nwant %q", st.sql, got, st.want)
				case st.want == "*" && got == "":
					t.Errorf("%s: no rows", st.sql)
				}
				if err := conn.PingContext(context.Background()); err != nil {
					t.Fatalf("after %s the connection is gone: %v", st.sql, err)
				}
			}
		})
	}
}

// queryRows runs q on conn: rows "a|b;c|d", NULL as "NULL".
func queryRows(ctx context.Context, conn *sql.Conn, q string) (string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v.String
			if !v.Valid {
				parts[i] = "NULL"
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return strings.Join(out, ";"), rows.Err()
}

func errorsAs(err error, target **mysql.MySQLError) bool { return errors.As(err, target) }
