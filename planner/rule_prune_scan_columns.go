package planner

import "lienthong/planner/plan"

// PruneScanColumns drops from each scan the columns only its own pushed
// filters read: the source evaluates them and need not send them.
//
//	Scan(c) WHERE c.permanent_commune = '00004' returning pin, permanent_commune
//	=> returning pin
//
// Safe because those filters run in the source, on the columns there: no
// expression above the scan reads the dropped columns (they are found by
// reading every expression of the statement, subqueries included).
func pruneScanColumnsRule(s *planning) (bool, error) {
	before := 0
	for _, sc := range s.b.scans {
		before += len(sc.Columns)
	}
	pruneScanColumns(s.q, s.b.scans)
	for _, sc := range s.b.scans {
		before -= len(sc.Columns)
	}
	return before > 0, nil
}

func pruneScanColumns(q *plan.Query, scans []*plan.Scan) {
	saved := make([][]plan.Expr, len(scans))
	for i, s := range scans {
		saved[i], s.Filters = s.Filters, nil
	}
	used := columnRefs(q)
	for i, s := range scans {
		s.Filters = saved[i]
		var keep []string
		for _, c := range s.Columns {
			if used[s.Alias+"."+c] {
				keep = append(keep, c)
			}
		}
		s.Columns = keep
	}
}
