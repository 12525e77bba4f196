package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/engine"
	"lienthong/internal/testenv"
	"lienthong/state"
)

// pgPeople makes a PostgreSQL database with people(pin, name) holding n
// rows and returns its DSN.
func pgPeople(t *testing.T, n int, name string) string {
	t.Helper()
	return testenv.PostgresWith(t, "CREATE TABLE people (pin text PRIMARY KEY, name text)",
		fmt.Sprintf("INSERT INTO people SELECT lpad(i::text, 12, '0'), %s FROM generate_series(1, %d) i", quoteLit(name), n))
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func waitListed(t *testing.T, e *engine.Engine, source string) *catalog.Source {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		snap := e.WaitCatalog(context.Background())
		if src := snap.Source(source); src != nil && src.Unavailable != "connecting" {
			return src
		}
		if time.Now().After(deadline) {
			t.Fatalf("source %s never finished connecting", source)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The sources in force change while the engine runs: a source added is
// connected and queryable, one replaced reads its new settings, one
// removed is gone from the catalog and from queries, and a change that
// is not valid as a whole changes nothing.
func TestSourcesChangeAtRuntime(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte("pin,name\n001,a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := tomlEngine(t, dir, "[[sources]]\nname = \"f\"\nkind = \"csv\"\npath = \"*.csv\"\n")
	ctx := context.Background()
	one := pgPeople(t, 100000, "one")
	two := pgPeople(t, 2, "two")
	pg := config.Source{Name: "pg", Kind: catalog.Postgres, DSN: one}

	if err := e.ChangeSources(ctx, engine.OpSourcesAdd, []config.Source{pg}, nil); err != nil {
		t.Fatal(err)
	}
	if src := waitListed(t, e, "pg"); src.Unavailable != "" || len(src.Tables) != 1 {
		t.Fatalf("pg after add: %+v", src)
	}
	if got, err := rows(t, e, "SELECT name, count(*) FROM pg.people GROUP BY name", engine.QueryOptions{}); err != nil || strings.Join(got, ";") != "one | 100000" {
		t.Fatalf("pg.people after add: %v %v", got, err)
	}
	if got := e.SourceNames(); strings.Join(got, ",") != "f,pg" {
		t.Fatalf("sources in force: %v", got)
	}

	// Refused as a whole: the second source is already in force, so the
	// first is not added either.
	err := e.ChangeSources(ctx, engine.OpSourcesAdd, []config.Source{{Name: "other", Kind: catalog.Postgres, DSN: two}, pg}, nil)
	if err == nil || !strings.Contains(err.Error(), `"pg" is already in force`) {
		t.Fatalf("adding pg twice: %v", err)
	}
	for _, c := range []struct {
		op    string
		srcs  []config.Source
		names []string
		want  string
	}{
		{engine.OpSourcesReplace, []config.Source{{Name: "nope", Kind: catalog.Postgres, DSN: two}}, nil, "not in force: add it"},
		{engine.OpSourcesRemove, nil, []string{"pg", "nope"}, `"nope" is not in force`},
		{engine.OpSourcesAdd, []config.Source{{Name: "bad name", Kind: catalog.Postgres, DSN: two}}, nil, "name must be letters"},
		{engine.OpSourcesAdd, []config.Source{{Name: "k", Kind: "oracle", Path: "x"}}, nil, `kind "oracle" is not one of`},
		{engine.OpSourcesAdd, []config.Source{{Name: "env", Kind: catalog.Postgres, DSNEnv: "LT_TEST_UNSET_DSN"}}, nil, "on this node: source \"env\": dsn_env: dsn_env names LT_TEST_UNSET_DSN, which is not set"},
	} {
		if err := e.ChangeSources(ctx, c.op, c.srcs, c.names); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v %v: %v, want %q", c.op, c.srcs, c.names, err, c.want)
		}
	}
	if got := e.SourceNames(); strings.Join(got, ",") != "f,pg" {
		t.Fatalf("sources in force after refused changes: %v", got)
	}

	// A query under way when its source is replaced finishes on the old
	// connection; the next one reads the new database.
	res, err := e.Query(ctx, "SELECT name FROM pg.people", engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if res.Next() { // the statement is running
		n += int(res.RecordBatch().NumRows())
	}
	pg.DSN = two
	if err := e.ChangeSources(ctx, engine.OpSourcesReplace, []config.Source{pg}, nil); err != nil {
		t.Fatal(err)
	}
	for res.Next() {
		n += int(res.RecordBatch().NumRows())
	}
	if err := res.Err(); err != nil || n != 100000 {
		t.Fatalf("the query under way when pg was replaced: %d rows, %v", n, err)
	}
	res.Release()
	waitListed(t, e, "pg")
	if got, err := rows(t, e, "SELECT name, count(*) FROM pg.people GROUP BY name", engine.QueryOptions{}); err != nil || strings.Join(got, ";") != "two | 2" {
		t.Fatalf("pg.people after replace: %v %v", got, err)
	}

	if err := e.ChangeSources(ctx, engine.OpSourcesRemove, nil, []string{"PG"}); err != nil {
		t.Fatal(err)
	}
	if e.Catalog().Source("pg") != nil || strings.Join(e.SourceNames(), ",") != "f" {
		t.Fatalf("after remove: catalog %v, sources %v", e.Catalog().Source("pg"), e.SourceNames())
	}
	if _, err := rows(t, e, "SELECT name FROM pg.people", engine.QueryOptions{}); err == nil || !strings.Contains(err.Error(), "pg") {
		t.Fatalf("a query of a removed source: %v", err)
	}
	if got, err := rows(t, e, "SELECT name FROM f.people", engine.QueryOptions{}); err != nil || strings.Join(got, ";") != "a" {
		t.Fatalf("f.people: %v %v", got, err)
	}
}

// A source in force whose settings do not complete on this node (another
// node proposed it; its dsn_env is not set here) is listed as
// unavailable, saying why without the cause's text, and every query of
// it fails as unavailable.
func TestSourceUnusableOnThisNode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte("pin,name\n001,a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := state.NewMachines()
	cfg, err := config.Parse(filepath.Join(dir, "lienthong.toml"), []byte("[[sources]]\nname = \"f\"\nkind = \"csv\"\npath = \"*.csv\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.NewMachines(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	local := state.NewLocalOn(st)
	e, err := engine.Open(context.Background(), cfg, engine.Options{State: local, Machines: m})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// What another node's proposal is, applied here: nothing of this
	// node is checked.
	cmd, err := state.New(engine.OpSourcesAdd, time.Now(), engine.SourcesBody{Sources: []config.Source{{Name: "far", Kind: catalog.Postgres, DSNEnv: "LT_TEST_UNSET_DSN"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Propose(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	src := waitListed(t, e, "far")
	if !strings.Contains(src.Unavailable, "do not resolve on this node") || strings.Contains(src.Unavailable, "LT_TEST_UNSET_DSN") {
		t.Fatalf("far listed as %q", src.Unavailable)
	}
	_, err = rows(t, e, "SELECT * FROM far.people", engine.QueryOptions{})
	if !errors.Is(err, connectors.ErrSourceUnavailable) && (err == nil || !strings.Contains(err.Error(), "far")) {
		t.Fatalf("a query of far: %v", err)
	}
}

// The sources machine: a seed applies only while the sources were never
// set, even after all of them are removed; a snapshot restores them and
// the catalog's list follows.
func TestSourceSetSeedAndSnapshot(t *testing.T) {
	cat := catalog.NewMachine(&catalog.Snapshot{Version: 1})
	m := engine.NewSourceSet(cat)
	apply := func(op string, b engine.SourcesBody) error {
		t.Helper()
		cmd, err := state.New(op, time.Unix(0, 0), b)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Apply(cmd)
		return err
	}
	a := config.Source{Name: "a", Kind: catalog.CSV, Path: "a/*.csv"}
	b := config.Source{Name: "b", Kind: catalog.CSV, Path: "b/*.csv"}
	if err := apply(engine.OpSourcesSeed, engine.SourcesBody{Sources: []config.Source{a}}); err != nil {
		t.Fatal(err)
	}
	if err := apply(engine.OpSourcesSeed, engine.SourcesBody{Sources: []config.Source{b}}); err != nil {
		t.Fatal(err)
	}
	if got := m.InForce(); len(got) != 1 || got[0].Name != "a" {
		t.Fatalf("a second seed changed the sources: %v", got)
	}
	if err := apply(engine.OpSourcesRemove, engine.SourcesBody{Names: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if err := apply(engine.OpSourcesSeed, engine.SourcesBody{Sources: []config.Source{b}}); err != nil || len(m.InForce()) != 0 {
		t.Fatalf("a seed after every source was removed: %v, %v", err, m.InForce())
	}
	if len(cat.Current().Sources) != 0 {
		t.Fatalf("catalog lists %v after the remove", cat.Current().Sources)
	}
	if err := apply(engine.OpSourcesAdd, engine.SourcesBody{Sources: []config.Source{b, a}}); err != nil {
		t.Fatal(err)
	}
	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	cat2 := catalog.NewMachine(&catalog.Snapshot{Version: 1})
	m2 := engine.NewSourceSet(cat2)
	if err := m2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got := m2.InForce(); len(got) != 2 || got[0].Name != "b" || got[1].Path != "a/*.csv" {
		t.Fatalf("restored: %v", got)
	}
	if got := cat.Current().Sources; len(got) != 2 || got[0].Name != "b" || got[0].Unavailable != "connecting" {
		t.Fatalf("catalog after add: %v", got)
	}
	// The restored machine refuses a second seed too.
	cmd, _ := state.New(engine.OpSourcesSeed, time.Unix(0, 0), engine.SourcesBody{Sources: []config.Source{{Name: "c", Kind: catalog.CSV, Path: "c"}}})
	if _, err := m2.Apply(cmd); err != nil || len(m2.InForce()) != 2 {
		t.Fatalf("seed on the restored machine: %v %v", err, m2.InForce())
	}
}

// A source removed while its first connection is still being made does
// not leave that connection open: the connect that ends after the remove
// closes what it opened.
func TestSourceRemovedWhileConnecting(t *testing.T) {
	dsn := testenv.PostgresWith(t, "CREATE TABLE people (pin text PRIMARY KEY, name text)")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	// A proxy that holds every connection a second before forwarding it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(time.Second)
				up, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	slow := *u
	slow.Host = ln.Addr().String()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte("pin,name\n001,a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := tomlEngine(t, dir, "[[sources]]\nname = \"f\"\nkind = \"csv\"\npath = \"*.csv\"\n")
	ctx := context.Background()
	if err := e.ChangeSources(ctx, engine.OpSourcesAdd, []config.Source{{Name: "pg", Kind: catalog.Postgres, DSN: slow.String()}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.ChangeSources(ctx, engine.OpSourcesRemove, nil, []string{"pg"}); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, testenv.PostgresBase())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	time.Sleep(2500 * time.Millisecond) // the connect ends, after the remove
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d connections to the removed source's database are still open", n)
	}
}
