package main

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"lienthong/catalog"
)

// sqlKeywords are completed anywhere a name is not expected.
var sqlKeywords = strings.Fields(`SELECT FROM WHERE JOIN INNER LEFT RIGHT FULL OUTER CROSS ON USING
GROUP BY ORDER HAVING LIMIT OFFSET AS AND OR NOT IN IS NULL LIKE BETWEEN EXISTS DISTINCT
CASE WHEN THEN ELSE END UNION ALL WITH ASC DESC TRUE FALSE INTERVAL DATE TIMESTAMP
EXPLAIN ANALYZE REFRESH CATALOG DESCRIBE
COUNT SUM AVG MIN MAX COALESCE IFNULL NULLIF IF CAST CONVERT NFC UNACCENT CONCAT CONCAT_WS
SUBSTRING LOWER UPPER TRIM LENGTH CHAR_LENGTH REPLACE ROUND FLOOR CEIL ABS YEAR MONTH DAY
DATEDIFF DATE_ADD DATE_SUB TIMESTAMPDIFF NOW CURDATE ROW_NUMBER RANK DENSE_RANK OVER PARTITION
PIN_VERIFY`)

// metaCommands are completed after a backslash at the start of a line.
var metaCommands = strings.Fields(`\? \q \dt \d \d+ \x \format \timing \o \e \pager \history`)

// completer completes the word before the cursor (Tab) from the catalog
// the principal may see (the same filtered catalog \d lists: local
// engine.CatalogFor, or the server's GET /v1/catalog), so completion never
// names a table the principal was not granted.
//
// Context, where cheap: after FROM or JOIN (and \d) it offers sources and
// tables; after "source." that source's tables; after "t." (a table or an
// alias the statement gives it) that table's columns; elsewhere keywords,
// functions, sources and the columns of the tables the statement names.
type completer struct {
	s       *session
	pending *strings.Builder // the lines of the statement typed before this one

	mu   sync.Mutex
	snap *catalog.Snapshot
	at   time.Time
}

// catalogTTL is how long completion trusts the catalog it read.
const catalogTTL = time.Minute

func (c *completer) catalog() *catalog.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != nil && time.Since(c.at) < catalogTTL {
		return c.snap
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	snap, err := c.s.db.Catalog(ctx)
	if err != nil {
		return c.snap // the last one read, or nothing: completion is a help
	}
	c.snap, c.at = snap, time.Now()
	return snap
}

// forget drops the catalog read (after REFRESH CATALOG).
func (c *completer) forget() {
	c.mu.Lock()
	c.snap = nil
	c.mu.Unlock()
}

// Do is readline's AutoCompleter: the candidates' remaining runes and the
// length of the word they complete.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	word := lastWord(before)
	cands := c.candidates(c.pending.String()+before, c.pending.String()+string(line), before, word)
	var out [][]rune
	for _, cand := range cands {
		out = append(out, []rune(cand[len(word):]))
	}
	return out, len([]rune(word))
}

// candidates are the completions of word, each starting with word.
// text is the statement up to the cursor (earlier lines too), whole all
// of it (a FROM after the cursor names tables too), line this line up to
// the cursor.
func (c *completer) candidates(text, whole, line, word string) []string {
	trimmed := strings.TrimLeft(line, " \t")
	if c.pending.Len() == 0 && strings.HasPrefix(trimmed, `\`) {
		if !strings.ContainsAny(trimmed, " \t") {
			return matching(metaCommands, word, false)
		}
		f := strings.Fields(trimmed)
		if f[0] == `\d` || f[0] == `\d+` {
			return matching(c.tableNames(), word, true)
		}
		return nil
	}
	snap := c.catalog()
	if i := strings.LastIndexByte(word, '.'); i >= 0 {
		qual := word[:i]
		if src := findSource(snap, qual); src != nil && !strings.Contains(qual, ".") {
			var names []string
			for _, t := range src.Tables {
				names = append(names, qual+"."+t.Name+" ")
			}
			return matching(names, word, true)
		}
		if t := resolve(snap, whole, qual); t != nil {
			var names []string
			for _, col := range t.Columns {
				names = append(names, qual+"."+col.Name+" ")
			}
			return matching(names, word, true)
		}
		return nil
	}
	prev := strings.ToUpper(previousWord(strings.TrimSuffix(text, word)))
	if prev == "FROM" || prev == "JOIN" {
		return matching(append(c.sourceNames(), c.tableNames()...), word, true)
	}
	var names []string
	for _, k := range sqlKeywords {
		names = append(names, k+" ")
	}
	names = append(names, c.sourceNames()...)
	seen := map[string]bool{}
	for _, nt := range statementTables(snap, whole) {
		for _, col := range nt.t.Columns {
			if !seen[col.Name] {
				seen[col.Name] = true
				names = append(names, col.Name+" ")
			}
		}
	}
	return matching(names, word, true)
}

func (c *completer) sourceNames() []string {
	var out []string
	if snap := c.catalog(); snap != nil {
		for _, src := range snap.Sources {
			out = append(out, src.Name+".")
		}
	}
	return out
}

func (c *completer) tableNames() []string {
	var out []string
	if snap := c.catalog(); snap != nil {
		for _, src := range snap.Sources {
			for _, t := range src.Tables {
				out = append(out, src.Name+"."+t.Name+" ")
			}
		}
	}
	return out
}

func findSource(snap *catalog.Snapshot, name string) *catalog.Source {
	if snap == nil {
		return nil
	}
	for _, src := range snap.Sources {
		if strings.EqualFold(src.Name, name) {
			return src
		}
	}
	return nil
}

func findTable(snap *catalog.Snapshot, source, table string) *catalog.Table {
	if src := findSource(snap, source); src != nil {
		for _, t := range src.Tables {
			if strings.EqualFold(t.Name, table) {
				return t
			}
		}
	}
	return nil
}

// tableRef matches "FROM|JOIN|, source.table"; aliasAfter the alias
// that may follow it.
var (
	tableRef   = regexp.MustCompile("(?i)(?:\\bfrom|\\bjoin|,)\\s+`?([\\pL\\pN_$]+)`?\\.`?([\\pL\\pN_$]+)`?")
	aliasAfter = regexp.MustCompile("(?i)^\\s+(?:as\\s+)?`?([\\pL\\pN_$]+)`?")
)

// namedTable is a table a statement reads, with its alias if any.
type namedTable struct {
	t     *catalog.Table
	alias string
}

// statementTables are the tables text names, with their aliases.
func statementTables(snap *catalog.Snapshot, text string) []namedTable {
	var out []namedTable
	for _, m := range tableRef.FindAllStringSubmatchIndex(text, -1) {
		t := findTable(snap, text[m[2]:m[3]], text[m[4]:m[5]])
		if t == nil {
			continue
		}
		nt := namedTable{t: t}
		if a := aliasAfter.FindStringSubmatch(text[m[1]:]); a != nil && !isKeyword(a[1]) {
			nt.alias = a[1]
		}
		out = append(out, nt)
	}
	return out
}

// resolve finds the table qual names in text: "source.table", an alias,
// or the bare name of a table the statement reads.
func resolve(snap *catalog.Snapshot, text, qual string) *catalog.Table {
	if src, tbl, ok := strings.Cut(qual, "."); ok {
		return findTable(snap, src, tbl)
	}
	for _, nt := range statementTables(snap, text) {
		if strings.EqualFold(nt.alias, qual) || strings.EqualFold(nt.t.Name, qual) {
			return nt.t
		}
	}
	return nil
}

func isKeyword(w string) bool {
	for _, k := range sqlKeywords {
		if strings.EqualFold(k, w) {
			return true
		}
	}
	return false
}

// matching keeps the names that start with word, ignoring case, spelled
// with word's own case where word has letters (sel -> select); names
// keeps the catalog's spelling of anything after the word.
func matching(names []string, word string, ignoreCase bool) []string {
	lower := word != "" && word == strings.ToLower(word) && strings.ToLower(word) != strings.ToUpper(word)
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if len(n) < len(word) {
			continue
		}
		head := n[:len(word)]
		if head != word && !(ignoreCase && strings.EqualFold(head, word)) {
			continue
		}
		cand := word + n[len(word):]
		if lower && isKeyword(strings.TrimSpace(n)) {
			cand = strings.ToLower(cand)
		}
		if !seen[cand] {
			seen[cand] = true
			out = append(out, cand)
		}
	}
	sort.Strings(out)
	return out
}

// lastWord is the name being typed at the end of s: letters, digits, _,
// $ and dots (source.table.column), or a backslash command.
func lastWord(s string) string {
	rs := []rune(s)
	i := len(rs)
	for i > 0 && isNameRune(rs[i-1]) {
		i--
	}
	if i > 0 && rs[i-1] == '\\' && strings.TrimSpace(string(rs[:i-1])) == "" {
		i--
	}
	return string(rs[i:])
}

func isNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '$' || r == '.'
}

// previousWord is the last whole word of s (before the one being typed).
func previousWord(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return !isNameRune(r) })
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
