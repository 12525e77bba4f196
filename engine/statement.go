package engine

import (
	"regexp"
	"strings"
)

// Kind is what a statement asks for, beyond a plain query.
type Kind int

const (
	KindQuery Kind = iota
	KindExplain
	KindExplainAnalyze
	KindRefresh
)

var (
	explainRe = regexp.MustCompile(`(?is)^\s*explain\s+(analyze\s+)?(.*)$`)
	refreshRe = regexp.MustCompile(`(?is)^\s*refresh\s+catalog\s*;?\s*$`)
)

// Classify recognises lienthong's own statements (EXPLAIN [ANALYZE] and
// REFRESH CATALOG) and returns the query text they wrap.
func Classify(sql string) (Kind, string) {
	if refreshRe.MatchString(sql) {
		return KindRefresh, ""
	}
	if m := explainRe.FindStringSubmatch(sql); m != nil {
		if m[1] != "" {
			return KindExplainAnalyze, m[2]
		}
		return KindExplain, m[2]
	}
	return KindQuery, strings.TrimSpace(sql)
}
