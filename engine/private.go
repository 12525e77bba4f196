package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"lienthong/planner"
	"lienthong/planner/plan"
	"lienthong/policy/dp"
)

// admit decides, before any source is read, whether a planned query may
// run now: a pin_verify check takes one of the principal's checks for the
// minute, and a differentially private query spends its (epsilon, delta)
// from the principal's budget for the period (a budget.spend command),
// durably, whether or not it then succeeds (a failure must not be a free
// look).
func (e *Engine) admit(p *plan.Plan, s Session, a *Attempt) error {
	pol := e.policy.Current()
	if pol == nil {
		return nil
	}
	if p.Verify {
		if err := e.verifies.allow(s.Principal, pol.VerifyPerMinute, time.Now()); err != nil {
			return err
		}
	}
	if p.Privacy == nil {
		return nil
	}
	if e.ledger == nil {
		return fmt.Errorf("%w: privacy ledger: no privacy_ledger file configured", ErrAudit)
	}
	pv := pol.Privacy
	cmd, err := dp.SpendCommand(time.Now(), s.Principal, pv.Period, p.Privacy.Epsilon, p.Privacy.Delta, pv.EpsilonBudget, pv.DeltaBudget)
	if err == nil {
		_, err = e.state.Propose(context.Background(), cmd)
	}
	if err != nil {
		var ex *dp.ExhaustedError
		if errors.As(err, &ex) {
			return &planner.Error{Code: planner.CodeBudget, Msg: fmt.Sprintf("%s has spent its privacy budget for %s (epsilon %.3g of %.3g left, this query needs %.3g); it renews on %s",
				s.Principal, ex.Key, ex.RemainingEpsilon, pv.EpsilonBudget, p.Privacy.Epsilon, ex.Resets.Format("2006-01-02"))}
		}
		return fmt.Errorf("%w: privacy ledger: %w", ErrAudit, err)
	}
	a.Epsilon, a.Delta = p.Privacy.Epsilon, p.Privacy.Delta
	return nil
}

// privateReader turns the bounded exact figures of a Privacy plan (one row
// per group: keys, distinct citizens, bounded counts and sums) into what
// the user asked for: noise on every figure, and only the groups whose
// noisy citizen count clears the threshold. Nothing exact passes.
type privateReader struct {
	inner  array.RecordReader
	spec   *plan.Privacy
	schema *arrow.Schema
	cur    arrow.RecordBatch
	err    error
}

func newPrivateReader(inner array.RecordReader, spec *plan.Privacy) *privateReader {
	fields := make([]arrow.Field, len(spec.Outputs))
	for i, o := range spec.Outputs {
		fields[i] = arrow.Field{Name: o.Name, Type: o.Type, Nullable: true}
	}
	return &privateReader{inner: inner, spec: spec, schema: arrow.NewSchema(fields, nil)}
}

func (r *privateReader) Schema() *arrow.Schema          { return r.schema }
func (r *privateReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *privateReader) Record() arrow.RecordBatch      { return r.cur }
func (r *privateReader) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.inner.Err()
}
func (r *privateReader) Retain() {}
func (r *privateReader) Release() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.inner.Release()
}

func (r *privateReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for r.err == nil && r.inner.Next() {
		rec, err := r.noise(r.inner.RecordBatch())
		if err != nil {
			r.err = fmt.Errorf("internal: differential privacy: %w", err)
			return false
		}
		if rec.NumRows() > 0 {
			r.cur = rec
			return true
		}
		rec.Release()
	}
	return false
}

// noise makes one output batch from one batch of exact bounded figures.
func (r *privateReader) noise(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	sp := r.spec
	mem := memory.DefaultAllocator
	var keep []int
	units := make([]int64, in.NumRows())
	for i := 0; i < int(in.NumRows()); i++ {
		n := number(in.Column(sp.UnitsCol), i)
		if math.IsNaN(n) {
			return nil, fmt.Errorf("citizen count of type %s", in.Column(sp.UnitsCol).DataType())
		}
		exact := int64(n)
		switch {
		case sp.Grouped:
			noisy, release, err := dp.SelectGroup(exact, sp.UnitsEpsilon, sp.Delta, sp.MaxGroups)
			if err != nil {
				return nil, err
			}
			if !release || noisy < sp.MinGroup {
				continue
			}
			units[i] = noisy
		case sp.UnitsEpsilon > 0:
			noisy, err := dp.NoisyCount(exact, sp.MaxGroups, sp.UnitsEpsilon)
			if err != nil {
				return nil, err
			}
			units[i] = noisy
		}
		keep = append(keep, i)
	}
	cols := make([]arrow.Array, len(sp.Outputs))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j, o := range sp.Outputs {
		if o.Kind == "key" {
			col, err := take(mem, in.Column(o.Col), keep)
			if err != nil {
				return nil, err
			}
			cols[j] = col
			continue
		}
		b := array.NewBuilder(mem, o.Type)
		for _, i := range keep {
			if err := appendNoisy(b, o, in, i, units[i]); err != nil {
				b.Release()
				return nil, err
			}
		}
		cols[j] = b.NewArray()
		b.Release()
	}
	return array.NewRecordBatch(r.schema, cols, int64(len(keep))), nil
}

func appendNoisy(b array.Builder, o plan.PrivateOutput, in arrow.RecordBatch, i int, units int64) error {
	exact := number(in.Column(o.Col), i)
	if math.IsNaN(exact) {
		return fmt.Errorf("figure of type %s", in.Column(o.Col).DataType())
	}
	switch o.Kind {
	case "units":
		b.(*array.Int64Builder).Append(max(units, 0))
	case "count":
		v, err := dp.NoisyCount(int64(exact), int64(o.Sensitivity), o.Epsilon)
		if err != nil {
			return err
		}
		b.(*array.Int64Builder).Append(max(v, 0))
	case "sum":
		if ib, ok := b.(*array.Int64Builder); ok && o.Sensitivity == math.Trunc(o.Sensitivity) {
			v, err := dp.NoisyCount(int64(math.Round(exact)), int64(o.Sensitivity), o.Epsilon)
			if err != nil {
				return err
			}
			ib.Append(v)
			return nil
		}
		v, err := dp.NoisySum(exact, o.Sensitivity, o.Epsilon)
		if err != nil {
			return err
		}
		appendFloat(b, v)
	case "avg":
		s, err := dp.NoisySum(exact, o.Sensitivity, o.Epsilon)
		if err != nil {
			return err
		}
		n, err := dp.NoisyCount(int64(number(in.Column(o.CountCol), i)), int64(o.CountSensitivity), o.CountEpsilon)
		if err != nil {
			return err
		}
		if n <= 0 {
			b.AppendNull() // no citizen's value is certain to be there
			return nil
		}
		appendFloat(b, s/float64(n))
	default:
		return fmt.Errorf("unknown output kind %q", o.Kind)
	}
	return nil
}

func appendFloat(b array.Builder, v float64) {
	switch x := b.(type) {
	case *array.Float64Builder:
		x.Append(v)
	case *array.Int64Builder:
		x.Append(int64(math.Round(v)))
	}
}

// number reads a numeric cell as float64; NULL (an empty SUM) is 0.
func number(col arrow.Array, i int) float64 {
	if col.IsNull(i) {
		return 0
	}
	switch a := col.(type) {
	case *array.Int64:
		return float64(a.Value(i))
	case *array.Int32:
		return float64(a.Value(i))
	case *array.Int16:
		return float64(a.Value(i))
	case *array.Int8:
		return float64(a.Value(i))
	case *array.Uint64:
		return float64(a.Value(i))
	case *array.Uint32:
		return float64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Decimal128:
		return a.Value(i).ToFloat64(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Decimal256:
		return a.Value(i).ToFloat64(a.DataType().(*arrow.Decimal256Type).Scale)
	}
	return math.NaN()
}

// take copies the rows keep of col.
func take(mem memory.Allocator, col arrow.Array, keep []int) (arrow.Array, error) {
	if len(keep) == 0 {
		return array.MakeArrayOfNull(mem, col.DataType(), 0), nil
	}
	parts := make([]arrow.Array, len(keep))
	for k, i := range keep {
		parts[k] = array.NewSlice(col, int64(i), int64(i+1))
	}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	return array.Concatenate(parts, mem)
}

// Budget is a principal's privacy budget for the period in force.
type Budget struct {
	Principal string    `json:"principal"`
	Period    string    `json:"period"` // "month", ...
	Key       string    `json:"key"`    // e.g. "2026-12"
	Resets    time.Time `json:"resets"`
	// EpsilonBudget and DeltaBudget are the policy's per-period budgets;
	// Spent and Remaining what of them this principal spent and has left.
	EpsilonBudget    float64 `json:"epsilon_budget"`
	EpsilonSpent     float64 `json:"epsilon_spent"`
	EpsilonRemaining float64 `json:"epsilon_remaining"`
	DeltaBudget      float64 `json:"delta_budget"`
	DeltaSpent       float64 `json:"delta_spent"`
	DeltaRemaining   float64 `json:"delta_remaining"`
	// EpsilonPerQuery and DeltaPerQuery are what one private query
	// spends, QueriesLeft how many more fit in what remains of both.
	EpsilonPerQuery float64 `json:"epsilon_per_query"`
	DeltaPerQuery   float64 `json:"delta_per_query"`
	QueriesLeft     int64   `json:"queries_left"`
}

// ErrNoBudget: no policy is in force, or the node keeps no privacy
// ledger, so there is no privacy budget to read.
var ErrNoBudget = errors.New("no privacy budget")

// Budget reads principal's privacy budget through the store (a
// budget.balance command): on a cluster it counts every charge committed
// on any node before the call, not only what this node has applied, at
// the cost of one proposal (LT-NO-QUORUM without a majority).
func (e *Engine) Budget(ctx context.Context, principal string) (*Budget, error) {
	pol := e.policy.Current()
	if pol == nil {
		return nil, fmt.Errorf("%w: no access policy is in force, so no table is aggregate-only and nothing is charged", ErrNoBudget)
	}
	if e.ledger == nil {
		return nil, fmt.Errorf("%w: this node has no privacy_ledger", ErrNoBudget)
	}
	pv := pol.Privacy
	cmd, err := dp.BalanceCommand(time.Now(), principal, pv.Period, pv.EpsilonBudget, pv.DeltaBudget)
	if err != nil {
		return nil, err
	}
	v, err := e.state.Propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	s, ok := v.(dp.Spent)
	if !ok {
		return nil, fmt.Errorf("engine: the ledger answered a balance with %T", v)
	}
	b := &Budget{Principal: principal, Period: s.Period, Key: s.Key, Resets: s.Resets,
		EpsilonBudget: pv.EpsilonBudget, EpsilonSpent: s.TotalEpsilon, EpsilonRemaining: s.RemainingEpsilon,
		DeltaBudget: pv.DeltaBudget, DeltaSpent: s.TotalDelta, DeltaRemaining: s.RemainingDelta, EpsilonPerQuery: pv.EpsilonPerQuery, DeltaPerQuery: pv.DeltaPerQuery}
	if pv.EpsilonPerQuery > 0 {
		// The ledger's fixed point: ten charges of 0.1 fill 1.0 exactly.
		b.QueriesLeft = int64(math.Floor(s.RemainingEpsilon/pv.EpsilonPerQuery + 1e-9))
		if pv.DeltaPerQuery > 0 {
			b.QueriesLeft = min(b.QueriesLeft, int64(math.Floor(s.RemainingDelta/pv.DeltaPerQuery+1e-9)))
		}
	}
	return b, nil
}
