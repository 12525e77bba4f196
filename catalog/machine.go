package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/state"
)

// The catalog's commands: OpSet replaces the entries of the sources it
// gives at once (REFRESH CATALOG), OpPutSource one source's entry (a
// source connected, lost or re-read). Their bodies are the sources; each
// applied command makes the next snapshot version. Which sources are
// listed is not theirs to say but the sources in force's (Follow): a
// source they give that is not listed is left out (removed meanwhile),
// and a listed one they do not give keeps its entry (added meanwhile).
const (
	OpSet       = "catalog.set"
	OpPutSource = "catalog.put_source"
)

// Machine holds the catalog snapshot in force as a state.Machine, so every
// node that applies the same commands plans against the same version.
type Machine struct {
	cur atomic.Pointer[Snapshot]
}

// NewMachine starts from snap.
func NewMachine(snap *Snapshot) *Machine {
	m := &Machine{}
	m.cur.Store(snap)
	return m
}

// Current is the snapshot in force.
func (m *Machine) Current() *Snapshot { return m.cur.Load() }

// Apply makes the next snapshot from an OpSet or OpPutSource command.
func (m *Machine) Apply(c state.Command) (any, error) {
	old := m.cur.Load()
	next := &Snapshot{Version: old.Version + 1}
	switch c.Op {
	case OpSet:
		var given []*Source
		if err := json.Unmarshal(c.Body, &given); err != nil {
			return nil, fmt.Errorf("catalog: reading %s: %w", c.Op, err)
		}
		for _, s := range old.Sources {
			for _, g := range given {
				if g != nil && strings.EqualFold(g.Name, s.Name) {
					s = g
				}
			}
			next.Sources = append(next.Sources, s)
		}
	case OpPutSource:
		var src *Source
		if err := json.Unmarshal(c.Body, &src); err != nil || src == nil {
			return nil, fmt.Errorf("catalog: reading %s: %v", c.Op, err)
		}
		found := false
		for _, s := range old.Sources {
			if strings.EqualFold(s.Name, src.Name) {
				s, found = src, true
			}
			next.Sources = append(next.Sources, s)
		}
		if !found {
			return nil, fmt.Errorf("catalog: %s: no source %q", c.Op, src.Name)
		}
	default:
		return nil, fmt.Errorf("catalog: unknown command %q", c.Op)
	}
	m.cur.Store(next)
	return next, nil
}

// Follow makes the next snapshot list exactly the sources of order (by
// name, in that order), as the machine of the sources in force asks in
// the command that changes them: those named in put are listed anew as
// connecting (Unavailable: connecting), the others keep what is known of
// them. It is called from that machine's Apply, never concurrently with
// this one's.
func (m *Machine) Follow(order []Source, put []string, connecting string) {
	old := m.cur.Load()
	next := &Snapshot{Version: old.Version + 1}
	for _, o := range order {
		src := old.Source(o.Name)
		if src == nil || src.Kind != o.Kind || slices.ContainsFunc(put, func(n string) bool { return strings.EqualFold(n, o.Name) }) {
			src = &Source{Name: o.Name, Kind: o.Kind, Unavailable: connecting}
		}
		next.Sources = append(next.Sources, src)
	}
	m.cur.Store(next)
}

// Snapshot is the snapshot in force.
func (m *Machine) Snapshot() ([]byte, error) { return json.Marshal(m.cur.Load()) }

// Restore puts a snapshot in force.
func (m *Machine) Restore(b []byte) error {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("catalog: reading snapshot: %w", err)
	}
	m.cur.Store(&s)
	return nil
}

// columnJSON is a Column with its Arrow type written as text.
type columnJSON struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	SourceType string `json:"source_type,omitempty"`
	Nullable   bool   `json:"nullable,omitempty"`
	Sensitive  bool   `json:"sensitive,omitempty"`
}

func (c Column) MarshalJSON() ([]byte, error) {
	t, err := typeText(c.Type)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", c.Name, err)
	}
	return json.Marshal(columnJSON{c.Name, t, c.SourceType, c.Nullable, c.Sensitive})
}

func (c *Column) UnmarshalJSON(b []byte) error {
	var j columnJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := parseType(j.Type)
	if err != nil {
		return fmt.Errorf("column %s: %w", j.Name, err)
	}
	*c = Column{Name: j.Name, Type: t, SourceType: j.SourceType, Nullable: j.Nullable, Sensitive: j.Sensitive}
	return nil
}

// fixedTypes are the Arrow types without parameters a catalog holds.
var fixedTypes = map[string]arrow.DataType{
	"bool": arrow.FixedWidthTypes.Boolean, "int8": arrow.PrimitiveTypes.Int8, "int16": arrow.PrimitiveTypes.Int16,
	"int32": arrow.PrimitiveTypes.Int32, "int64": arrow.PrimitiveTypes.Int64, "float32": arrow.PrimitiveTypes.Float32,
	"float64": arrow.PrimitiveTypes.Float64, "utf8": arrow.BinaryTypes.String, "binary": arrow.BinaryTypes.Binary,
	"date32": arrow.FixedWidthTypes.Date32, "null": arrow.Null,
}

var timeUnits = map[arrow.TimeUnit]string{arrow.Second: "s", arrow.Millisecond: "ms", arrow.Microsecond: "us", arrow.Nanosecond: "ns"}

// typeText writes the types connectors produce: decimal(p,s),
// timestamp(unit[,zone]) and the fixed ones.
func typeText(t arrow.DataType) (string, error) {
	switch x := t.(type) {
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal(%d,%d)", x.Precision, x.Scale), nil
	case *arrow.TimestampType:
		if x.TimeZone != "" {
			return "timestamp(" + timeUnits[x.Unit] + "," + x.TimeZone + ")", nil
		}
		return "timestamp(" + timeUnits[x.Unit] + ")", nil
	}
	if t != nil {
		if f, ok := fixedTypes[t.Name()]; ok && arrow.TypeEqual(f, t) {
			return t.Name(), nil
		}
	}
	return "", fmt.Errorf("type %v has no catalog text", t)
}

func parseType(s string) (arrow.DataType, error) {
	if t, ok := fixedTypes[s]; ok {
		return t, nil
	}
	name, args, ok := strings.Cut(strings.TrimSuffix(s, ")"), "(")
	if ok && strings.HasSuffix(s, ")") {
		parts := strings.Split(args, ",")
		switch name {
		case "decimal":
			if len(parts) == 2 {
				p, err1 := strconv.Atoi(parts[0])
				sc, err2 := strconv.Atoi(parts[1])
				if err1 == nil && err2 == nil {
					return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(sc)}, nil
				}
			}
		case "timestamp":
			for u, text := range timeUnits {
				if parts[0] == text {
					tz := ""
					if len(parts) == 2 {
						tz = parts[1]
					}
					return &arrow.TimestampType{Unit: u, TimeZone: tz}, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("unknown catalog type %q", s)
}
