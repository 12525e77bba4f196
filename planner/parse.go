package planner

import (
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// MySQL has no FULL OUTER JOIN, so neither has its parser. lienthong
// accepts it by rewriting the tokens before parsing: a user's STRAIGHT_JOIN
// (an optimizer hint here meaning an inner join) becomes JOIN, and
// FULL [OUTER] JOIN becomes STRAIGHT_JOIN, which the binder reads back as a
// full join. edits let error positions refer to the text the user wrote.
type edit struct {
	at    int // offset in the rewritten text where the edit ends
	delta int // rewritten length minus original length
}

func rewriteFullJoins(sql string) (string, []edit) {
	tkn := parser.NewStringTokenizer(sql)
	type tok struct {
		typ        int
		start, end int
	}
	var toks []tok
	for {
		typ, val := tkn.Scan()
		if typ == 0 || typ == sqlparser.LEX_ERROR {
			break
		}
		toks = append(toks, tok{typ, tkn.Pos - len(val), tkn.Pos})
	}
	var b strings.Builder
	var edits []edit
	last := 0
	replace := func(start, end int, with string) {
		b.WriteString(sql[last:start])
		orig := end - start
		if len(with) < orig {
			with += strings.Repeat(" ", orig-len(with))
		}
		b.WriteString(with)
		if d := len(with) - orig; d != 0 {
			edits = append(edits, edit{at: b.Len(), delta: d})
		}
		last = end
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.typ == sqlparser.STRAIGHT_JOIN && sql[t.start:t.end] != "":
			replace(t.start, t.end, "JOIN")
		case t.typ == sqlparser.FULL && i+1 < len(toks) && toks[i+1].typ == sqlparser.JOIN:
			replace(t.start, toks[i+1].end, "STRAIGHT_JOIN")
			i++
		case t.typ == sqlparser.FULL && i+2 < len(toks) && toks[i+1].typ == sqlparser.OUTER && toks[i+2].typ == sqlparser.JOIN:
			replace(t.start, toks[i+2].end, "STRAIGHT_JOIN")
			i += 2
		}
	}
	if len(edits) == 0 && last == 0 {
		return sql, nil
	}
	b.WriteString(sql[last:])
	return b.String(), edits
}

// originalOffset maps an offset in the rewritten text back to the user's.
func originalOffset(off int, edits []edit) int {
	for _, e := range edits {
		if off >= e.at {
			off -= e.delta
		}
	}
	return off
}
