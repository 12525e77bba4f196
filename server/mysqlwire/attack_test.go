package mysqlwire_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"lienthong/internal/attacks"
	"lienthong/server"
	"lienthong/server/mysqlwire"
	"lienthong/tokens"
)

// The access policy's attack suite (internal/attacks) through the MySQL
// front-end: the principal from the login, purpose and case from SET, the
// catalog from SHOW DATABASES / TABLES / COLUMNS.
func TestAttackSuiteOverMySQL(t *testing.T) {
	f := attacks.NewFixture(t)
	toks := map[string]string{}
	tm := &tokens.Machine{}
	for _, p := range []struct{ name, agency string }{{"an", "BHXH"}, {"binh", "SO_Y_TE"}, {"cuong", "UBND_XA"}, {"dung", "UBND_XA"}, {"em", "SO_Y_TE"}, {"mallory", "X"}} {
		tok := "lt_attack-" + p.name + "-0123456789abcdef"
		h, err := tokens.Hash(tok)
		if err != nil {
			t.Fatal(err)
		}
		toks[p.name] = tok
		c, err := tokens.PutCommand(time.Now(), tokens.Entry{Name: p.name, Agency: p.agency, TokenHash: h})
		if err == nil {
			_, err = tm.Apply(c)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	auth := server.NewTokenAuthenticator(tm, time.Minute)
	cfg := &server.Config{HTTPAddr: "off", FlightAddr: "off", MySQLAddr: "127.0.0.1:0", MySQLAllowCleartextLoopback: true, TokensFile: "(test)", MaxConcurrent: 8}
	s, err := server.New(cfg, server.Options{Logger: server.NewLogger(io.Discard, "info"), Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	s.SetEngine(f.Secured)
	m, err := mysqlwire.Start(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		m.Close()
	})
	r := &mysqlRunner{addr: m.Addr(), tokens: toks, dbs: map[string]*sql.DB{}}
	defer r.close()
	var net, catalogStmts []attacks.Attack
	for _, a := range f.Corpus() {
		if _, ok := toks[a.Who.Principal]; !ok {
			continue
		}
		// SHOW and DESCRIBE are refused by the engine (they would be
		// DuckDB's, unfiltered); this front-end answers them from the
		// principal's catalog, so they must list only what it lists.
		if u := strings.ToUpper(a.SQL); strings.HasPrefix(u, "SHOW ") || strings.HasPrefix(u, "DESCRIBE ") {
			catalogStmts = append(catalogStmts, a)
			continue
		}
		net = append(net, a)
	}
	for _, fail := range f.RunAll(r, net) {
		t.Error(fail)
	}
	if len(catalogStmts) < 3 {
		t.Fatalf("the corpus has %d SHOW/DESCRIBE attempts; the check below tests nothing", len(catalogStmts))
	}
	for _, a := range catalogStmts {
		// What the engine itself lists for the session (not this
		// front-end's SHOW, which is what is tested).
		listed := map[string]bool{}
		snap, err := f.Secured.CatalogFor(context.Background(), a.Who)
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range snap.Sources {
			for _, tb := range src.Tables {
				for _, c := range tb.Columns {
					listed[strings.ToLower(src.Name+"."+tb.Name+"."+c.Name)] = true
				}
			}
		}
		got := r.Run(a)
		for _, cell := range got.Cells {
			field, _, _ := strings.Cut(cell, " | ")
			// SHOW COLUMNS FROM src.t / DESCRIBE src.t: its rows name columns.
			words := strings.Fields(a.SQL)
			qualified := strings.ToLower(words[len(words)-1] + "." + field)
			if !listed[qualified] {
				t.Errorf("%s %q lists %s, which the principal's catalog does not", a.Who.Principal, a.SQL, qualified)
			}
			for _, h := range f.HiddenCatalog {
				if h == qualified {
					t.Errorf("%s %q lists the hidden %s", a.Who.Principal, a.SQL, h)
				}
			}
		}
		if got.Code != "" && got.Code != "LT-UNKNOWN" && got.Code != "LT-NO-DATABASE" {
			t.Errorf("%s %q: %s %s", a.Who.Principal, a.SQL, got.Code, got.Text)
		}
	}
}

type mysqlRunner struct {
	addr   string
	tokens map[string]string
	dbs    map[string]*sql.DB
}

func (*mysqlRunner) Name() string { return "mysql" }

func (r *mysqlRunner) close() {
	for _, db := range r.dbs {
		db.Close()
	}
}

// quote is a MySQL string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

func reply(err error) attacks.Reply {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		code, _, _ := strings.Cut(me.Message, ":")
		return attacks.Reply{Code: code, Text: me.Message}
	}
	return attacks.Reply{Code: "LT-TRANSPORT", Text: err.Error()}
}

func (r *mysqlRunner) Run(a attacks.Attack) attacks.Reply {
	db := r.dbs[a.Who.Principal]
	if db == nil {
		var err error
		db, err = sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/?allowCleartextPasswords=true&timeout=10s", a.Who.Principal, r.tokens[a.Who.Principal], r.addr))
		if err != nil {
			return reply(err)
		}
		db.SetMaxOpenConns(1)
		r.dbs[a.Who.Principal] = db
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return reply(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET @lienthong_purpose = "+quote(a.Who.Purpose)+", @lienthong_case = "+quote(a.Who.CaseID)); err != nil {
		return reply(err)
	}
	var out attacks.Reply
	rows := func(q string) ([][]string, error) {
		rs, err := conn.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		cols, _ := rs.Columns()
		var all [][]string
		for rs.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				return all, err
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = "NULL"
				if v.Valid {
					row[i] = v.String
				}
			}
			all = append(all, row)
		}
		return all, rs.Err()
	}
	switch a.Op {
	case attacks.OpCatalog:
		dbs, err := rows("SHOW DATABASES")
		if err != nil {
			return reply(err)
		}
		for _, d := range dbs {
			tables, err := rows("SHOW TABLES FROM `" + d[0] + "`")
			if err != nil {
				return reply(err)
			}
			for _, tb := range tables {
				out.Cells = append(out.Cells, d[0]+"."+tb[0])
				cols, err := rows("SHOW COLUMNS FROM `" + tb[0] + "` FROM `" + d[0] + "`")
				if err != nil {
					return reply(err)
				}
				for _, c := range cols {
					out.Cells = append(out.Cells, d[0]+"."+tb[0]+"."+c[0])
				}
			}
		}
		return out
	case attacks.OpExplainAnalyze:
		lines, err := rows("EXPLAIN ANALYZE " + a.SQL)
		for _, l := range lines {
			out.Cells = append(out.Cells, strings.Join(l, " | "))
		}
		if err != nil {
			e := reply(err)
			e.Cells = out.Cells
			return e
		}
		return out
	}
	got, err := rows(a.SQL)
	for _, row := range got {
		out.Cells = append(out.Cells, strings.Join(row, " | "))
	}
	if err != nil {
		e := reply(err)
		e.Cells = out.Cells
		return e
	}
	return out
}
