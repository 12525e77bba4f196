package engine_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/bench/gen"
	"lienthong/config"
	"lienthong/engine"
)

// genEngine generates embedded agency data and opens an engine over it.
func genEngine(t *testing.T, scale float64, seed int64) (*engine.Engine, *gen.Manifest, string) {
	t.Helper()
	dir := t.TempDir()
	m, err := gen.Generate(context.Background(), gen.Options{Scale: scale, Seed: seed, Out: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "lienthong.toml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, m, dir
}

// rows runs sql and renders each row canonically.
func rows(t *testing.T, e *engine.Engine, sql string, opt engine.QueryOptions) ([]string, error) {
	t.Helper()
	res, err := e.Query(context.Background(), sql, opt)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	var out []string
	for res.Next() {
		rec := res.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var b strings.Builder
			for c := 0; c < int(rec.NumCols()); c++ {
				if c > 0 {
					b.WriteString(" | ")
				}
				b.WriteString(canon(rec.Column(c), i))
			}
			out = append(out, b.String())
		}
	}
	return out, res.Err()
}

func canon(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "NULL"
	}
	switch a := col.(type) {
	case *array.Float64:
		// Sums of doubles differ in the last bits with summation order.
		return strconv.FormatFloat(a.Value(i), 'g', 9, 64)
	case *array.Date32:
		return a.Value(i).ToTime().Format("2006-01-02")
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC().Format("2006-01-02 15:04:05.999999")
	case *array.String:
		return strings.Clone(a.Value(i))
	}
	return col.ValueStr(i)
}
