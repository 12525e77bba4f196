package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"lienthong/attempt"
	"lienthong/catalog"
	"lienthong/planner/plan"
)

// The SQL catalog views: information_schema.schemata, .tables and
// .columns, with MySQL's column names (TABLE_SCHEMA is the source), so
// that analysts and BI tools browse the catalog in SQL on every front-end.
// A statement that names information_schema binds against the snapshot
// with the views' source added (catalogViewsFor); the planner reads them
// without a grant and only scans them; their rows are made here, when the
// query runs, from CatalogFor of the query's own session, so a principal
// sees exactly the sources, tables and columns its grants let it read.

// varchar and bigint are the views' column types.
var (
	cvText  = arrow.BinaryTypes.String
	cvInt   = arrow.PrimitiveTypes.Int64
	cvFloat = arrow.PrimitiveTypes.Float64
	cvTime  = &arrow.TimestampType{Unit: arrow.Second}
)

func cvCols(spec ...any) []catalog.Column {
	var cols []catalog.Column
	for i := 0; i < len(spec); i += 2 {
		cols = append(cols, catalog.Column{Name: spec[i].(string), Type: spec[i+1].(arrow.DataType), Nullable: true})
	}
	return cols
}

// catalogViewTables are the views, in MySQL's column order (a subset of
// MySQL's columns: those BI tools read).
var catalogViewTables = []*catalog.Table{
	{Source: catalog.InformationSchema, Name: "SCHEMATA", Columns: cvCols(
		"CATALOG_NAME", cvText, "SCHEMA_NAME", cvText, "DEFAULT_CHARACTER_SET_NAME", cvText,
		"DEFAULT_COLLATION_NAME", cvText, "SQL_PATH", cvText)},
	{Source: catalog.InformationSchema, Name: "TABLES", Columns: cvCols(
		"TABLE_CATALOG", cvText, "TABLE_SCHEMA", cvText, "TABLE_NAME", cvText, "TABLE_TYPE", cvText,
		"ENGINE", cvText, "VERSION", cvInt, "ROW_FORMAT", cvText, "TABLE_ROWS", cvInt, "AVG_ROW_LENGTH", cvInt,
		"DATA_LENGTH", cvInt, "MAX_DATA_LENGTH", cvInt, "INDEX_LENGTH", cvInt, "DATA_FREE", cvInt, "AUTO_INCREMENT", cvInt,
		"CREATE_TIME", cvTime, "UPDATE_TIME", cvTime, "CHECK_TIME", cvTime, "TABLE_COLLATION", cvText, "CHECKSUM", cvInt,
		"CREATE_OPTIONS", cvText, "TABLE_COMMENT", cvText)},
	{Source: catalog.InformationSchema, Name: "COLUMNS", Columns: cvCols(
		"TABLE_CATALOG", cvText, "TABLE_SCHEMA", cvText, "TABLE_NAME", cvText, "COLUMN_NAME", cvText,
		"ORDINAL_POSITION", cvInt, "COLUMN_DEFAULT", cvText, "IS_NULLABLE", cvText, "DATA_TYPE", cvText,
		"CHARACTER_MAXIMUM_LENGTH", cvInt, "CHARACTER_OCTET_LENGTH", cvInt, "NUMERIC_PRECISION", cvInt,
		"NUMERIC_SCALE", cvInt, "DATETIME_PRECISION", cvInt, "CHARACTER_SET_NAME", cvText,
		"COLLATION_NAME", cvText, "COLUMN_TYPE", cvText, "COLUMN_KEY", cvText, "EXTRA", cvText,
		"PRIVILEGES", cvText, "COLUMN_COMMENT", cvText, "GENERATION_EXPRESSION", cvText)},
	// lienthong's own: the session principal's privacy budget (Budget),
	// for dashboards that reach the node only through SQL.
	{Source: catalog.InformationSchema, Name: "PRIVACY_BUDGET", Columns: cvCols(
		"PRINCIPAL", cvText, "PERIOD", cvText, "PERIOD_KEY", cvText, "RESETS", cvTime,
		"EPSILON_BUDGET", cvFloat, "EPSILON_SPENT", cvFloat, "EPSILON_REMAINING", cvFloat,
		"DELTA_BUDGET", cvFloat, "DELTA_SPENT", cvFloat, "DELTA_REMAINING", cvFloat,
		"EPSILON_PER_QUERY", cvFloat, "DELTA_PER_QUERY", cvFloat, "QUERIES_LEFT", cvInt)},
}

// mentionsCatalogViews reports whether sql may name the catalog views (a
// mention in a comment or literal only adds them to the snapshot).
func mentionsCatalogViews(sql string) bool {
	return strings.Contains(strings.ToLower(sql), catalog.InformationSchema)
}

// withCatalogViews is snap with the views' source added.
func withCatalogViews(snap *catalog.Snapshot) *catalog.Snapshot {
	out := &catalog.Snapshot{Version: snap.Version, Sources: append(append([]*catalog.Source(nil), snap.Sources...),
		&catalog.Source{Name: catalog.InformationSchema, Kind: catalog.CatalogViews, Tables: catalogViewTables})}
	return out
}

// openCatalogView reads remote rm of a catalog view: the rows of the
// session's own catalog, columns as rm asks. Without the session (a plan
// run outside Query) there is nothing it may list.
func (e *Engine) openCatalogView(ctx context.Context, rm *plan.Remote, schema *arrow.Schema) (array.RecordReader, error) {
	s, _, ok := attempt.RequestFrom(ctx)
	if !ok || rm.Scan == nil {
		return nil, fmt.Errorf("internal: catalog view read outside a query's session")
	}
	var rows [][]any
	if strings.EqualFold(rm.Scan.Table.Name, "PRIVACY_BUDGET") {
		b, err := e.Budget(ctx, s.Principal)
		switch {
		case errors.Is(err, ErrNoBudget):
			// No row: nothing is charged here.
		case err != nil:
			return nil, err
		default:
			rows = [][]any{{b.Principal, b.Period, b.Key, b.Resets, b.EpsilonBudget, b.EpsilonSpent, b.EpsilonRemaining,
				b.DeltaBudget, b.DeltaSpent, b.DeltaRemaining, b.EpsilonPerQuery, b.DeltaPerQuery, b.QueriesLeft}}
		}
	} else {
		snap, err := e.CatalogFor(ctx, s)
		if err != nil {
			return nil, err
		}
		rows = catalogViewRows(snap, rm.Scan.Table.Name)
	}
	idx := map[string]int{}
	for i, c := range rm.Scan.Table.Columns {
		idx[strings.ToLower(c.Name)] = i
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for j, f := range schema.Fields() {
		col, known := idx[strings.ToLower(rm.Columns[j].Name)]
		for _, r := range rows {
			var v any = int64(1) // _lt_one: the scan reads no column
			if known {
				v = r[col]
			}
			switch fb := b.Field(j).(type) {
			case *array.StringBuilder:
				if sv, ok := v.(string); ok {
					fb.Append(sv)
				} else {
					fb.AppendNull()
				}
			case *array.Int64Builder:
				if iv, ok := v.(int64); ok {
					fb.Append(iv)
				} else {
					fb.AppendNull()
				}
			case *array.Float64Builder:
				if fv, ok := v.(float64); ok {
					fb.Append(fv)
				} else {
					fb.AppendNull()
				}
			case *array.TimestampBuilder:
				if tv, ok := v.(time.Time); ok {
					fb.Append(arrow.Timestamp(tv.Unix()))
				} else {
					fb.AppendNull() // the sources' tables: no times are known
				}
			default:
				return nil, fmt.Errorf("internal: catalog view column %s has type %s", f.Name, f.Type)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
}

// catalogViewRows are the rows of view name over snap, in the view's
// column order (nil: NULL).
func catalogViewRows(snap *catalog.Snapshot, name string) [][]any {
	var rows [][]any
	for _, src := range snap.Sources {
		switch strings.ToUpper(name) {
		case "SCHEMATA":
			rows = append(rows, []any{"def", src.Name, "utf8mb4", "utf8mb4_general_ci", nil})
		case "TABLES":
			for _, t := range src.Tables {
				// Sizes and times are the sources' business: unknown here.
				rows = append(rows, []any{"def", src.Name, t.Name, "BASE TABLE", string(src.Kind), int64(10), "Dynamic",
					nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "utf8mb4_general_ci", nil, "", ""})
			}
		case "COLUMNS":
			for _, t := range src.Tables {
				for i, c := range t.Columns {
					ty := mysqlTypeOf(c.Type)
					null := "YES"
					if !c.Nullable {
						null = "NO"
					}
					key := ""
					if strings.EqualFold(c.Name, t.PINColumn) {
						key = "MUL"
					}
					var cs, coll any
					if ty.text {
						cs, coll = "utf8mb4", "utf8mb4_general_ci"
					}
					comment := ""
					if c.Sensitive {
						comment = "sensitive"
					}
					rows = append(rows, []any{"def", src.Name, t.Name, c.Name, int64(i + 1), nil, null, ty.data,
						ty.charLen, ty.octetLen, ty.precision, ty.scale, ty.dtPrecision, cs, coll, ty.column, key, "", "select", comment, ""})
				}
			}
		}
	}
	return rows
}

// mysqlType is how a column's Arrow type reads in MySQL's catalog; the
// same names the MySQL front-end's SHOW COLUMNS gives (its test compares
// the two).
type mysqlType struct {
	data, column                                     string
	text                                             bool
	charLen, octetLen, precision, scale, dtPrecision any // int64 or nil
}

// maxVarchar is the declared length of a text column: sources do not
// say theirs through Arrow (MySQL's largest utf8mb4 VARCHAR).
const maxVarchar = 16383

func mysqlTypeOf(dt arrow.DataType) mysqlType {
	num := func(data, column string, precision int64) mysqlType {
		return mysqlType{data: data, column: column, precision: precision, scale: int64(0)}
	}
	fracDigits := func(u arrow.TimeUnit) int64 {
		switch u {
		case arrow.Millisecond:
			return 3
		case arrow.Microsecond, arrow.Nanosecond:
			return 6
		}
		return 0
	}
	withFrac := func(name string, d int64) string {
		if d > 0 {
			return fmt.Sprintf("%s(%d)", name, d)
		}
		return name
	}
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return num("tinyint", "tinyint(1)", 3)
	case *arrow.Int8Type:
		return num("tinyint", "tinyint", 3)
	case *arrow.Int16Type:
		return num("smallint", "smallint", 5)
	case *arrow.Int32Type:
		return num("int", "int", 10)
	case *arrow.Int64Type:
		return num("bigint", "bigint", 19)
	case *arrow.Uint8Type:
		return num("tinyint", "tinyint unsigned", 3)
	case *arrow.Uint16Type:
		return num("smallint", "smallint unsigned", 5)
	case *arrow.Uint32Type:
		return num("int", "int unsigned", 10)
	case *arrow.Uint64Type:
		return num("bigint", "bigint unsigned", 20)
	case *arrow.Float16Type, *arrow.Float32Type:
		return mysqlType{data: "float", column: "float", precision: int64(12)}
	case *arrow.Float64Type:
		return mysqlType{data: "double", column: "double", precision: int64(22)}
	case arrow.DecimalType:
		p, s := int64(t.GetPrecision()), int64(t.GetScale())
		return mysqlType{data: "decimal", column: fmt.Sprintf("decimal(%d,%d)", p, s), precision: p, scale: s}
	case *arrow.Date32Type, *arrow.Date64Type:
		return mysqlType{data: "date", column: "date"}
	case *arrow.TimestampType:
		d := fracDigits(t.Unit)
		name := "datetime"
		if t.TimeZone != "" {
			name = "timestamp"
		}
		return mysqlType{data: name, column: withFrac(name, d), dtPrecision: d}
	case *arrow.Time32Type, *arrow.Time64Type:
		d := fracDigits(t.(arrow.TemporalWithUnit).TimeUnit())
		return mysqlType{data: "time", column: withFrac("time", d), dtPrecision: d}
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType, *arrow.BinaryViewType:
		return mysqlType{data: "varbinary", column: "varbinary(65535)", charLen: int64(65535), octetLen: int64(65535)}
	case *arrow.NullType:
		return mysqlType{data: "null", column: "null"}
	}
	return mysqlType{data: "varchar", column: fmt.Sprintf("varchar(%d)", maxVarchar), text: true, charLen: int64(maxVarchar), octetLen: int64(maxVarchar * 4)}
}
