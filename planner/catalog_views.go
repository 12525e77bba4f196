package planner

import (
	"strings"

	"lienthong/catalog"
	"lienthong/planner/sqlgen"
)

// The SQL catalog views (catalog.InformationSchema) are only scanned: the
// engine serves their rows from memory, and every filter, join and sort
// on them runs in the residual.
func init() { sqlgen.RegisterKind(catalog.CatalogViews, sqlgen.ScanOnly(sqlgen.DuckDB)) }

// isCatalogView reports whether tbl is one of the catalog views: every
// principal may read them without a grant (what they list is already
// filtered by the principal's grants), so they have no secured view.
func isCatalogView(cat *catalog.Snapshot, tbl *catalog.Table) bool {
	if !strings.EqualFold(tbl.Source, catalog.InformationSchema) {
		return false
	}
	src := cat.Source(tbl.Source)
	return src != nil && src.Kind == catalog.CatalogViews
}
