package catalog

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/state"
)

// Every type a connector produces survives a command; versions follow the
// commands applied.
func TestCatalogCommands(t *testing.T) {
	types := []arrow.DataType{arrow.FixedWidthTypes.Boolean, arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int16,
		arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64,
		arrow.BinaryTypes.String, arrow.BinaryTypes.Binary, arrow.FixedWidthTypes.Date32, arrow.Null,
		&arrow.Decimal128Type{Precision: 12, Scale: 2}, &arrow.TimestampType{Unit: arrow.Microsecond},
		&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "Asia/Ho_Chi_Minh"}, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}}
	tbl := &Table{Source: "dancu", Name: "citizens", RemoteSchema: "public", RemoteName: "citizens", PINColumn: "pin", RowEstimate: 42}
	for i, ty := range types {
		tbl.Columns = append(tbl.Columns, Column{Name: "c" + string(rune('a'+i)), Type: ty, SourceType: "x", Nullable: i%2 == 0, Sensitive: i == 3})
	}
	sources := []*Source{{Name: "dancu", Kind: Postgres, Tables: []*Table{tbl}}, {Name: "yte", Kind: CSV, Unavailable: "down"}}
	m := NewMachine(&Snapshot{Version: 1})
	// The sources in force list dancu and yte; a refresh that also gives
	// gone (removed meanwhile) does not list it again.
	m.Follow([]Source{{Name: "dancu", Kind: Postgres}, {Name: "yte", Kind: CSV}}, []string{"dancu", "yte"}, "connecting")
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	set, err := state.New(OpSet, at, append(sources, &Source{Name: "gone", Kind: CSV}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(set); err != nil {
		t.Fatal(err)
	}
	got := m.Current()
	if got.Version != 3 || !reflect.DeepEqual(got.Sources, sources) {
		b, _ := json.Marshal(got)
		t.Fatalf("applied catalog differs: version %d\n%s", got.Version, b)
	}
	put, _ := state.New(OpPutSource, at, &Source{Name: "YTE", Kind: CSV})
	if _, err := m.Apply(put); err != nil {
		t.Fatal(err)
	}
	if s := m.Current(); s.Version != 4 || s.Source("yte").Unavailable != "" || s.Source("dancu") == nil {
		t.Fatalf("after put: %+v", s)
	}
	missing, _ := state.New(OpPutSource, at, &Source{Name: "nowhere"})
	if _, err := m.Apply(missing); err == nil || m.Current().Version != 4 {
		t.Fatalf("a source the catalog does not have: %v, version %d", err, m.Current().Version)
	}
	// A source added meanwhile keeps its entry through a refresh that
	// does not give it; one whose kind changed is listed anew.
	m.Follow([]Source{{Name: "dancu", Kind: Postgres}, {Name: "yte", Kind: CSV}, {Name: "new", Kind: MySQL}}, []string{"new"}, "connecting")
	set, _ = state.New(OpSet, at, sources[:1])
	if _, err := m.Apply(set); err != nil {
		t.Fatal(err)
	}
	if s := m.Current(); len(s.Sources) != 3 || s.Source("new").Unavailable != "connecting" || s.Source("yte").Kind != CSV {
		t.Fatalf("after a refresh that missed an added source: %+v", s.Sources)
	}
	m.Follow([]Source{{Name: "dancu", Kind: MySQL}}, nil, "connecting")
	if s := m.Current(); len(s.Sources) != 1 || s.Source("dancu").Unavailable != "connecting" || len(s.Source("dancu").Tables) != 0 {
		t.Fatalf("after dancu's kind changed: %+v", s.Sources[0])
	}
	snap, _ := m.Snapshot()
	r := NewMachine(&Snapshot{})
	if err := r.Restore(snap); err != nil || !reflect.DeepEqual(r.Current(), m.Current()) {
		t.Fatalf("restore: %v", err)
	}
	if _, err := typeText(arrow.ListOf(arrow.PrimitiveTypes.Int64)); err == nil {
		t.Fatal("a list type got catalog text")
	}
}
