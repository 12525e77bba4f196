package attacks

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"lienthong/engine"
)

// Reply is what a front-end gave back for one attempt.
type Reply struct {
	Cells []string // rows ("a | b"), a plan's lines, or catalog entries ("src.table", "src.table.column")
	Code  string   // the error's stable code; "" on success
	Text  string   // the error message and any plan text the client saw
}

// Runner runs attempts through one front-end.
type Runner interface {
	Name() string
	Run(a Attack) Reply
}

// userCodes are the codes of refusals and of the user's own errors: every
// attack must end in one of these or succeed.
var userCodes = map[string]bool{"LT-DENIED": true, "LT-UNKNOWN": true, "LT-NO-DATABASE": true, "LT-TYPE": true, "LT-UNSUPPORTED": true, "LT-SYNTAX": true,
	"LT-AMBIGUOUS": true, "LT-BUDGET": true, "LT-RATE-LIMIT": true, "LT-LIMIT": true, "LT-READONLY": true, "LT-BAD-REQUEST": true}

var (
	readRows    = regexp.MustCompile(`read \d+ rows`)
	profileRows = regexp.MustCompile(`\d+ Rows`)
)

// countsRestricted finds counts of dancu (whose citizens a row filter
// restricts for the principals tried) in an EXPLAIN ANALYZE, or DuckDB's
// per-operator counts.
func countsRestricted(lines []string) bool {
	in := false
	for _, l := range lines {
		if strings.HasPrefix(l, "Remote ") || strings.HasPrefix(l, "Whole query") {
			in = strings.Contains(l, "dancu")
		}
		if in && readRows.MatchString(l) || profileRows.MatchString(l) {
			return true
		}
	}
	return false
}

// Check reports how a reply breaks the attack's safe outcome ("" if not).
func (f *Fixture) Check(a Attack, r Reply) string {
	if r.Code != "" && !userCodes[r.Code] {
		return fmt.Sprintf("ended %s, not a refusal or a user error: %s", r.Code, r.Text)
	}
	switch a.Want {
	case Denied:
		if r.Code != "LT-DENIED" {
			return fmt.Sprintf("want LT-DENIED, got %q (%d rows) %s", r.Code, len(r.Cells), r.Text)
		}
	case Refused:
		if r.Code == "" || len(r.Cells) > 0 {
			return fmt.Sprintf("want a refusal, got %q with %d rows", r.Code, len(r.Cells))
		}
	}
	if v := f.Leak(r.Cells, r.Text+"\n"+strings.Join(r.Cells, "\n"), a.SQL); v != "" && !(a.Who.Purpose == "POPULATION_STATISTICS" && f.statsPseudonym(v)) {
		return fmt.Sprintf("leaks %q", v)
	}
	if a.Technique == "catalog-sql" {
		if why := f.checkCatalogRows(a, r); why != "" {
			return why
		}
	}
	switch a.Op {
	case OpExplainAnalyze:
		if r.Code == "" && countsRestricted(r.Cells) {
			return "EXPLAIN ANALYZE counts rows of a table the principal sees only in part:\n" + strings.Join(r.Cells, "\n")
		}
	case OpCatalog:
		if a.Who.Principal == "an" {
			listed := map[string]bool{}
			for _, c := range r.Cells {
				listed[c] = true
			}
			for _, h := range f.HiddenCatalog {
				if listed[h] {
					return "the catalog lists " + h
				}
			}
			if r.Code == "" && !listed["dancu.citizens.full_name"] {
				return "the catalog lists too little to test anything: " + strings.Join(r.Cells, ", ")
			}
		}
	}
	return ""
}

// checkCatalogRows checks a query of the SQL catalog views: no row names
// a hidden entry (source, table and column as consecutive cells), and
// the whole listing of "an" names what it may read.
func (f *Fixture) checkCatalogRows(a Attack, r Reply) string {
	if r.Code != "" {
		return "the catalog views refused the query: " + r.Text
	}
	named := false
	for _, row := range r.Cells {
		joined := "." + strings.ToLower(strings.Join(strings.Split(row, " | "), ".")) + "."
		for _, h := range f.HiddenCatalog {
			if a.Who.Principal == "an" && strings.Contains(joined, "."+strings.ToLower(h)+".") {
				return "the catalog views list " + h + ": " + row
			}
		}
		named = named || strings.Contains(joined, ".dancu.citizens.")
	}
	if a.Who.Principal == "an" && !strings.Contains(a.SQL, "WHERE") && !named {
		return "the catalog views list too little to test anything: " + strings.Join(r.Cells, "; ")
	}
	return ""
}

// RunAll runs the corpus on r and returns every attack that was not held.
func (f *Fixture) RunAll(r Runner, corpus []Attack) []string {
	var out []string
	answered := 0
	for _, a := range corpus {
		reply := r.Run(a)
		if a.Want == Safe && reply.Code == "" && len(reply.Cells) > 0 {
			answered++
		}
		if why := f.Check(a, reply); why != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", r.Name(), a, why))
		}
	}
	// A front-end that answers nothing would hold every attack: the suite
	// must see the allowed parts of the attempts answered.
	if answered < 60 {
		out = append(out, fmt.Sprintf("%s answered only %d attempts with rows: the runner tests nothing", r.Name(), answered))
	}
	return out
}

// EngineRunner runs attempts in process, as the CLI does.
type EngineRunner struct{ E *engine.Engine }

func (EngineRunner) Name() string { return "engine/CLI" }

func (er EngineRunner) Run(a Attack) Reply {
	ctx := context.Background()
	opt := engine.QueryOptions{Session: a.Who}
	var r Reply
	var err error
	switch a.Op {
	case OpExplainAnalyze:
		var plan string
		plan, err = er.E.Explain(ctx, a.SQL, true, opt)
		if plan != "" {
			r.Cells = strings.Split(plan, "\n")
		}
	case OpCatalog:
		snap, cerr := er.E.CatalogFor(ctx, a.Who)
		err = cerr
		if snap != nil {
			for _, src := range snap.Sources {
				for _, t := range src.Tables {
					r.Cells = append(r.Cells, src.Name+"."+t.Name)
					for _, c := range t.Columns {
						r.Cells = append(r.Cells, src.Name+"."+t.Name+"."+c.Name)
					}
				}
			}
		}
	default:
		kind, inner := engine.Classify(a.SQL)
		switch kind {
		case engine.KindExplain, engine.KindExplainAnalyze:
			var plan string
			plan, err = er.E.Explain(ctx, inner, kind == engine.KindExplainAnalyze, opt)
			r.Text = plan
		default:
			r.Cells, err = Rows(er.E, a.SQL, opt)
		}
	}
	if err != nil {
		r.Code, r.Text = engine.ErrorCode(err), r.Text+"\n"+err.Error()
	}
	return r
}
