package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"lienthong/engine"
	"lienthong/planner"
)

// Flight SQL prepared statements with parameters: DoPut binds a record
// batch of values (one row per execution, one column per ?); the
// statement then runs once per row, its results concatenated, each run a
// query of its own (admitted, audited with its values, logged). Values
// become the planner's parameters, bound as literals of their own type.

// parameterSchema is a prepared statement's parameter schema: empty
// without parameters; with some, none (nil): lienthong's parameters have
// no declared type (each binds as the literal its value is), and a client
// without a schema types the binding from its values (arrow-go's
// database/sql driver does; with a schema it would build each column of
// the schema's type).
func parameterSchema(n int) *arrow.Schema {
	if n > 0 {
		return nil
	}
	return arrow.NewSchema(nil, nil)
}

// statementParams is sql's parameter count (0 for lienthong's own
// statements, which take none), or its syntax error.
func statementParams(sql string) (int, error) {
	if k, _ := engine.Classify(sql); k != engine.KindQuery {
		return 0, nil
	}
	n, err := planner.CountParams(sql)
	if err != nil {
		return 0, toError(err)
	}
	return n, nil
}

// bindParams reads a DoPut binding: every row of every batch is one
// parameter set of n values.
func bindParams(rdr flight.MessageReader, n int) ([][]any, error) {
	var sets [][]any
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		if int(rec.NumCols()) != n {
			return nil, newError(http.StatusBadRequest, "LT-SYNTAX", "the binding has %d column(s) but the statement has %d parameter(s) (?); send one column per ?", rec.NumCols(), n)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if len(sets) >= maxParamSets {
				return nil, newError(http.StatusBadRequest, "LT-LIMIT", "more than %d parameter sets in one binding; bind fewer rows at once", maxParamSets)
			}
			set := make([]any, n)
			for c := 0; c < n; c++ {
				sc, err := scalar.GetScalar(rec.Column(c), i)
				if err != nil {
					return nil, newError(http.StatusBadRequest, "LT-TYPE", "parameter %d: a value of type %s cannot be read", c+1, rec.Column(c).DataType())
				}
				v, err := scalarParam(sc)
				if r, ok := sc.(scalar.Releasable); ok {
					r.Release()
				}
				if err != nil {
					return nil, newError(http.StatusBadRequest, "LT-TYPE", "parameter %d: %v", c+1, err)
				}
				set[c] = v
			}
			sets = append(sets, set)
		}
	}
	if err := rdr.Err(); err != nil {
		return nil, newError(http.StatusBadRequest, CodeBadRequest, "the parameter binding could not be read as Arrow record batches")
	}
	return sets, nil
}

// scalarParam is an Arrow value as a parameter value (see
// planner.Options.Params): integers, floats, booleans and strings as
// themselves, decimals exact, dates and timestamps as their text (a
// string compared with a date column is read as a date).
func scalarParam(s scalar.Scalar) (any, error) {
	if !s.IsValid() {
		return nil, nil
	}
	switch v := s.(type) {
	case *scalar.DenseUnion:
		return scalarParam(v.Value)
	case *scalar.SparseUnion:
		return scalarParam(v.Value[v.ChildID])
	case *scalar.Boolean:
		return v.Value, nil
	case *scalar.Int8:
		return int64(v.Value), nil
	case *scalar.Int16:
		return int64(v.Value), nil
	case *scalar.Int32:
		return int64(v.Value), nil
	case *scalar.Int64:
		return v.Value, nil
	case *scalar.Uint8:
		return int64(v.Value), nil
	case *scalar.Uint16:
		return int64(v.Value), nil
	case *scalar.Uint32:
		return int64(v.Value), nil
	case *scalar.Uint64:
		if v.Value > math.MaxInt64 {
			return json.Number(strconv.FormatUint(v.Value, 10)), nil
		}
		return int64(v.Value), nil
	case *scalar.Float32:
		return float64(v.Value), nil
	case *scalar.Float64:
		return v.Value, nil
	case *scalar.String:
		return string(v.Value.Bytes()), nil
	case *scalar.LargeString:
		return string(v.Value.Bytes()), nil
	case *scalar.Decimal128:
		return json.Number(decimal128.Num(v.Value).ToString(v.Type.(*arrow.Decimal128Type).Scale)), nil
	case *scalar.Decimal256:
		return json.Number(decimal256.Num(v.Value).ToString(v.Type.(*arrow.Decimal256Type).Scale)), nil
	case *scalar.Date32:
		return v.Value.ToTime().Format(time.DateOnly), nil
	case *scalar.Date64:
		return v.Value.ToTime().Format(time.DateOnly), nil
	case *scalar.Timestamp:
		t := v.Value.ToTime(v.Type.(*arrow.TimestampType).Unit).UTC()
		return t.Format("2006-01-02 15:04:05.999999"), nil
	}
	return nil, fmt.Errorf("a %s value cannot be a parameter; send a string, number, boolean, decimal, date, timestamp or null", s.DataType())
}

// paramSets are parameter sets as a ticket carries them: JSON keeps
// strings, booleans, null and exact numbers (json.Number: integers and
// decimals); a float is written {"float": "…"} so it stays a float.
type paramSets [][]any

func (p paramSets) MarshalJSON() ([]byte, error) {
	out := make([][]any, len(p))
	for i, set := range p {
		out[i] = make([]any, len(set))
		for j, v := range set {
			if f, ok := v.(float64); ok {
				v = map[string]string{"float": strconv.FormatFloat(f, 'g', -1, 64)}
			}
			out[i][j] = v
		}
	}
	return json.Marshal(out)
}

func (p *paramSets) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var raw [][]any
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	for _, set := range raw {
		for j, v := range set {
			if m, ok := v.(map[string]any); ok {
				s, _ := m["float"].(string)
				f, err := strconv.ParseFloat(s, 64)
				if err != nil || len(m) != 1 {
					return fmt.Errorf("not a parameter value")
				}
				set[j] = f
			}
		}
	}
	*p = raw
	return nil
}
