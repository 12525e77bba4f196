package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/agent/wire"
	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/connectors/open"
	"lienthong/planner"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// scanAlias is the alias every rendered read uses: a request reads one
// table, so one fixed alias is unambiguous.
const scanAlias = "t"

// export is one [[exports]] entry checked against the source.
type export struct {
	name     string         // the table as requests and the catalog name it
	table    *catalog.Table // the source's table (all columns: the row filter may read any)
	columns  []catalog.Column
	byName   map[string]catalog.Column // exported columns by exact name
	pin      string
	filter   string // the agency's row filter ("" none)
	purposes map[string]bool
	// requireCase, maxRows and maxKeys as configured (defaults filled).
	requireCase bool
	maxRows     int64
	maxKeys     int
}

// column answers wire.Decoder: only exported columns exist.
func (x *export) column(name string) (arrow.DataType, bool) {
	c, ok := x.byName[name]
	if !ok {
		return nil, false
	}
	return c.Type, true
}

// rowFilter binds the agency's row filter for one request (its NOW() is
// the request's).
func (x *export) rowFilter(now time.Time) (plan.Expr, error) {
	if x.filter == "" {
		return nil, nil
	}
	return planner.BindPredicate(x.table, scanAlias, x.filter, now)
}

// connect opens the source and checks every export against its tables,
// reporting problems at their lines.
func connect(ctx context.Context, c *Config) (connectors.Connector, map[string]*export, error) {
	conn, err := open.Source(ctx, c.Source)
	if err != nil {
		// The driver's text may name the host or user but not a password
		// (pgx and the MySQL driver redact it); the operator needs it.
		return nil, nil, c.keyErr(c.dsnKey(), "cannot connect to the %s source: %v", c.Source.Kind, err)
	}
	tables, err := conn.Tables(ctx)
	if err != nil {
		conn.Close()
		return nil, nil, c.keyErr(c.dsnKey(), "cannot list the source's tables: %v", err)
	}
	exports, err := resolve(c, conn.Dialect(), tables)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, exports, nil
}

func resolve(c *Config, d sqlgen.Dialect, tables []*catalog.Table) (map[string]*export, error) {
	byName := map[string]*catalog.Table{}
	var names []string
	for _, t := range tables {
		byName[strings.ToLower(t.Name)] = t
		names = append(names, t.Name)
	}
	out := map[string]*export{}
	for i, xc := range c.Exports {
		bad := func(key, format string, args ...any) error {
			return c.entryErr("exports", i, key, "export %q: %s", xc.Table, fmt.Sprintf(format, args...))
		}
		t := byName[strings.ToLower(xc.Table)]
		if t == nil {
			return nil, bad("table", "the source has no table %q (it has %s)", xc.Table, list(names))
		}
		x := &export{name: t.Name, table: t, byName: map[string]catalog.Column{}, filter: xc.RowFilter,
			requireCase: xc.RequireCase, maxRows: xc.MaxRows, maxKeys: xc.MaxKeys}
		var cols []string
		for _, cc := range t.Columns {
			cols = append(cols, cc.Name)
		}
		for _, name := range xc.Columns {
			cc := t.Column(name)
			if cc == nil {
				return nil, bad("columns", "table %s has no column %q (it has %s)", t.Name, name, list(cols))
			}
			if _, dup := x.byName[cc.Name]; dup {
				return nil, bad("columns", "column %q is listed twice", name)
			}
			if _, err := wire.TypeName(cc.Type); err != nil {
				return nil, bad("columns", "column %s is of type %s, which agents do not exchange", cc.Name, catalog.TypeName(cc.Type))
			}
			x.byName[cc.Name] = *cc
		}
		// The catalog lists columns in table order, whatever the file's.
		for _, cc := range t.Columns {
			if _, ok := x.byName[cc.Name]; ok {
				x.columns = append(x.columns, cc)
			}
		}
		if xc.PINColumn != "" {
			pc, ok := x.byName[xc.PINColumn]
			if !ok {
				if tc := t.Column(xc.PINColumn); tc != nil {
					pc, ok = x.byName[tc.Name]
				}
			}
			if !ok {
				return nil, bad("pin_column", "pin_column %q is not one of the exported columns", xc.PINColumn)
			}
			if pc.Type.ID() != arrow.STRING {
				return nil, bad("pin_column", "pin_column %s is of type %s; a PIN is a string", pc.Name, catalog.TypeName(pc.Type))
			}
			x.pin = pc.Name
		}
		if x.filter != "" {
			e, err := x.rowFilter(time.Now())
			if err != nil {
				var pe *planner.Error
				if errors.As(err, &pe) {
					err = errors.New(pe.Msg)
				}
				return nil, bad("row_filter", "row_filter %v", err)
			}
			if !sqlgen.CanEval(d, e, nil) {
				return nil, bad("row_filter", "row_filter is not computed exactly by the %s database (keep to comparisons, AND/OR/NOT, IN, BETWEEN, LIKE and the functions docs/sql.md lists for it)", c.Source.Kind)
			}
		}
		if len(xc.Purposes) > 0 {
			x.purposes = map[string]bool{}
			for _, p := range xc.Purposes {
				x.purposes[p] = true
			}
		}
		out[x.name] = x
	}
	return out, nil
}

func list(names []string) string {
	slices.Sort(names)
	if len(names) > 12 {
		return strings.Join(names[:12], ", ") + ", ..."
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Check validates an agency.toml completely: Load, the TLS files, then
// the exports against the source's tables (connecting to it). Its errors
// are *config.Error, naming the file and line.
func Check(ctx context.Context, path string) error {
	c, err := Load(path)
	if err != nil {
		return err
	}
	if _, err := loadCerts(c); err != nil {
		return err
	}
	conn, _, err := connect(ctx, c)
	if err != nil {
		return err
	}
	return conn.Close()
}
