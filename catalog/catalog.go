// Package catalog holds what lienthong knows about the connected databases:
// sources, tables, columns with their Arrow types, which tables are
// citizen-linked (carry a PIN column), as immutable versioned snapshots.
package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Kind is the kind of database behind a source, as configs name it. Which
// kinds exist is what the connector packages register
// (connectors.Register); the constants name the built-in ones.
type Kind string

const (
	Postgres Kind = "postgres"
	MySQL    Kind = "mysql"
	SQLite   Kind = "sqlite"
	DuckDB   Kind = "duckdb"
	Parquet  Kind = "parquet"
	CSV      Kind = "csv"
	// Agent is an agency's own agent (lienthong agent) in front of its
	// database: structured scan requests over Arrow Flight, never SQL.
	Agent Kind = "agent"
)

// InformationSchema is the source of the SQL catalog views (schemata,
// tables, columns, as MySQL names them). No config declares it: the
// engine adds it, of kind CatalogViews, to the snapshot a statement that
// names it binds against, and fills it with what the session's principal
// may see of the catalog (engine.CatalogFor). Every principal may read it.
const (
	InformationSchema      = "information_schema"
	CatalogViews      Kind = "catalog_views"
)

// Column is one column of a source table.
type Column struct {
	Name string
	Type arrow.DataType
	// SourceType is the type as the source declares it (for the catalog listing).
	SourceType string
	Nullable   bool
	// Sensitive marks special categories of personal data (ethnicity,
	// religion, health) that policies mask unless a purpose allows them.
	Sensitive bool
}

// Table is one table (or view) of a source.
type Table struct {
	Source string
	Name   string
	// RemoteName is how the source itself names the table (schema-qualified
	// where that matters), kept apart from the SQL-visible Name.
	RemoteSchema string
	RemoteName   string
	Columns      []Column
	// PINColumn is the column holding the citizen's personal identification
	// number; empty when the table is not citizen-linked.
	PINColumn string
	// RowEstimate is the source's own estimate, -1 when unknown.
	RowEstimate int64
}

// Column returns the named column (case-insensitive, as in MySQL) or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return &t.Columns[i]
		}
	}
	return nil
}

// CitizenLinked reports whether the table carries a PIN column.
func (t *Table) CitizenLinked() bool { return t.PINColumn != "" }

// Source is one connected database.
type Source struct {
	Name   string
	Kind   Kind
	Tables []*Table
	// Unavailable says why the source could not be introspected (down,
	// login refused); empty when it is connected. Queries that touch an
	// unavailable source fail naming it; others run.
	Unavailable string
}

// Table returns the named table (case-insensitive) or nil.
func (s *Source) Table(name string) *Table {
	for _, t := range s.Tables {
		if strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

// Snapshot is an immutable view of every source. A query binds against one
// snapshot for its whole life; REFRESH CATALOG builds a new one.
type Snapshot struct {
	Version int64
	Sources []*Source
}

// Source returns the named source (case-insensitive) or nil.
func (s *Snapshot) Source(name string) *Source {
	for _, src := range s.Sources {
		if strings.EqualFold(src.Name, name) {
			return src
		}
	}
	return nil
}

// NotFoundError says a name does not exist and suggests the closest one.
type NotFoundError struct {
	What       string // "source", "table", "column"
	Name       string
	Suggestion string
	Known      []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("unknown %s %q", e.What, e.Name)
	if e.Suggestion != "" {
		msg += fmt.Sprintf("; did you mean %q?", e.Suggestion)
	} else if len(e.Known) > 0 && len(e.Known) <= 12 {
		msg += fmt.Sprintf("; known: %s", strings.Join(e.Known, ", "))
	}
	return msg
}

// UnavailableError says a query needs a source that is not connected.
type UnavailableError struct {
	Source, Reason string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("source %s is unavailable (%s); queries on other sources keep working, and lienthong reconnects by itself once it is back (its operator sees the cause with lienthong sources status)", e.Source, Reason(e.Reason))
}

// Reason shortens why a source is unavailable for people: a driver that
// tries several times (pgx tries each address, with and without TLS)
// reports every attempt, often with the same text; each distinct cause is
// said once, with how many attempts ended in it.
func Reason(reason string) string {
	parts := strings.Split(reason, "; ")
	var order []string
	count := map[string]int{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if count[p] == 0 {
			order = append(order, p)
		}
		count[p]++
	}
	if len(order) == len(parts) {
		return reason
	}
	var b strings.Builder
	for i, p := range order {
		if i > 0 {
			if strings.HasSuffix(order[i-1], ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(p)
		if n := count[p]; n > 1 {
			fmt.Fprintf(&b, " (%d attempts)", n)
		}
	}
	return b.String()
}

// LookupTable resolves source.table, or explains which part is unknown.
func (s *Snapshot) LookupTable(source, table string) (*Table, error) {
	src := s.Source(source)
	if src == nil {
		var names []string
		for _, x := range s.Sources {
			names = append(names, x.Name)
		}
		// A bare table name is the common mistake: say which sources hold it.
		return nil, &NotFoundError{What: "source", Name: source, Suggestion: Closest(source, names), Known: names}
	}
	if src.Unavailable != "" {
		return nil, &UnavailableError{Source: src.Name, Reason: src.Unavailable}
	}
	t := src.Table(table)
	if t == nil {
		var names []string
		for _, x := range src.Tables {
			names = append(names, src.Name+"."+x.Name)
		}
		sug := Closest(src.Name+"."+table, names)
		return nil, &NotFoundError{What: "table", Name: src.Name + "." + table, Suggestion: sug, Known: names}
	}
	return t, nil
}

// TablesNamed returns every table called name in any source, for the error
// a user gets when writing a table without its source.
func (s *Snapshot) TablesNamed(name string) []string {
	var out []string
	for _, src := range s.Sources {
		if t := src.Table(name); t != nil {
			out = append(out, src.Name+"."+t.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Closest returns the candidate nearest to name by edit distance, or "" when
// nothing is near enough to be a plausible typo.
func Closest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	ln := strings.ToLower(name)
	for _, c := range candidates {
		d := editDistance(ln, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len(name)/3) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// TypeName renders an Arrow type the way the catalog listing and EXPLAIN show it.
func TypeName(t arrow.DataType) string {
	switch tt := t.(type) {
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal(%d,%d)", tt.Precision, tt.Scale)
	case *arrow.TimestampType:
		if tt.TimeZone != "" {
			return "timestamp with time zone"
		}
		return "timestamp"
	case *arrow.Date32Type:
		return "date"
	case *arrow.StringType, *arrow.LargeStringType:
		return "string"
	}
	return t.String()
}
