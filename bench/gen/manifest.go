package gen

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Manifest describes a generated data set: what was generated, where it
// went, and the exact number of every deliberate imperfection.
type Manifest struct {
	Generator     string  `json:"generator"`
	Seed          int64   `json:"seed"`
	Scale         float64 `json:"scale"`
	Citizens      int64   `json:"citizens"`
	ReferenceDate string  `json:"reference_date"` // YYYY-MM-DD, the data's "today"
	// SQLDialect says how Inconsistencies[].SQL is written.
	SQLDialect      string          `json:"sql_dialect"`
	Sources         []SourceInfo    `json:"sources"`
	Tables          []TableInfo     `json:"tables"`
	Inconsistencies []Inconsistency `json:"inconsistencies"`
	// Stats are descriptive counts (not imperfections).
	Stats map[string]int64 `json:"stats"`
}

// SourceInfo is where one agency's tables went (as in lienthong.toml).
type SourceInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Path string `json:"path,omitempty"` // relative to the output directory
	DSN  string `json:"dsn,omitempty"`
}

// TableInfo describes one generated table.
type TableInfo struct {
	Source    string       `json:"source"`
	Name      string       `json:"name"`
	Rows      int64        `json:"rows"`
	PINColumn string       `json:"pin_column,omitempty"`
	Key       string       `json:"key"`
	Columns   []ColumnInfo `json:"columns"`
	// Digest identifies the table's content whatever database holds it and
	// in whatever order rows come back: "sha256sum:" + hex of the lane-wise
	// sum (four big-endian uint64 lanes, mod 2^64) of the SHA-256 of the CSV
	// header line and of each row rendered as a CSV line (NULL as an empty
	// field, dates YYYY-MM-DD, decimals with two places, "\n" ended).
	Digest string `json:"digest"`
}

// ColumnInfo is one column: Type is DuckDB's spelling (VARCHAR, BIGINT,
// INTEGER, DATE, DECIMAL(p,2)).
type ColumnInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// Inconsistency is one kind of deliberate imperfection: SQL counts its
// occurrences, and Count is what that query returns on this data set.
type Inconsistency struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
	Rate       string `json:"rate"`
	SQL        string `json:"sql"`
	Count      int64  `json:"count"`
}

// Inconsistency returns the named inconsistency, or nil.
func (m *Manifest) Inconsistency(name string) *Inconsistency {
	for i := range m.Inconsistencies {
		if m.Inconsistencies[i].Name == name {
			return &m.Inconsistencies[i]
		}
	}
	return nil
}

// Table returns the named table (source.name), or nil.
func (m *Manifest) Table(source, name string) *TableInfo {
	for i := range m.Tables {
		if m.Tables[i].Source == source && m.Tables[i].Name == name {
			return &m.Tables[i]
		}
	}
	return nil
}

// ReadManifest loads a manifest.json written by Generate.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

func pct(r float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", r*100), "0"), ".") + "%"
}

// inconsistencies lists every imperfection with the SQL that finds it and
// its exact count, computed from the per-person decisions the tables were
// generated from (the tests check each count by running the SQL).
func (g *generator) inconsistencies() []Inconsistency {
	var (
		childNoCard, cardBeforeBirth, childNoPerm, deadActivePerm, deadUnreg, dateMismatch   int64
		deathsNoAllowance, allowancesNoDeath, dupAllowances, cardAfterDeath, badPIN, noBirth int64
		upper, nfd, dspace, phoneNull                                                        int64
	)
	for i := range g.persons {
		p := &g.persons[i]
		f := p.flags
		has := func(x uint32) bool { return f&x != 0 }
		alive := p.alive()
		under6 := p.birth > under6Cutoff
		if has(fNoCard) {
			childNoCard++
		}
		if has(fCardBeforeBirth) {
			cardBeforeBirth++
		}
		if alive && under6 && has(fNoPerm) {
			childNoPerm++
		}
		if has(fPhoneNull) {
			phoneNull++
		}
		if has(fBadPIN) {
			badPIN++
		}
		if has(fBadPIN | fNoBirthReg) {
			noBirth++
		}
		switch {
		case has(fNameUpper):
			upper++
		case has(fNameNFD):
			nfd++
		case has(fNameDoubleSpace):
			dspace++
		}
		registered := !alive && !has(fDeathUnregistered)
		if !alive {
			if has(fPermActiveAfterDeath) {
				deadActivePerm++
			}
			if has(fDeathUnregistered) {
				deadUnreg++
			}
			if registered && has(fDeathDateMismatch) {
				dateMismatch++
			}
			if registered && !has(fAllowance) {
				deathsNoAllowance++
			}
			if has(fInsured) && has(fCardAfterDeath) {
				cardAfterDeath++
			}
		}
		if has(fAllowance) {
			n := int64(1)
			if has(fAllowanceDup) {
				n = 2
				dupAllowances++
			}
			if !registered {
				allowancesNoDeath += n
			}
		}
	}
	cut := dateString(under6Cutoff)
	ref := dateString(refDate)
	return []Inconsistency{
		{
			Name:       "children_under6_without_health_card",
			Definition: "Living citizens under 6 on the reference date " + ref + " (birth_date after " + cut + ") with no bhxh.health_cards row (procedure group a).",
			Rate:       pct(rateChildNoCard) + " of living children under 6",
			SQL:        "SELECT count(*) FROM dancu.citizens c WHERE c.birth_date > DATE '" + cut + "' AND c.death_date IS NULL AND NOT EXISTS (SELECT 1 FROM bhxh.health_cards h WHERE h.pin = c.pin)",
			Count:      childNoCard,
		},
		{
			Name:       "health_card_starts_before_birth",
			Definition: "Health cards whose valid_from is before the holder's birth_date.",
			Rate:       pct(rateCardBeforeBirth) + " of living children under 6 with a card",
			SQL:        "SELECT count(*) FROM bhxh.health_cards h JOIN dancu.citizens c ON c.pin = h.pin WHERE h.valid_from < c.birth_date",
			Count:      cardBeforeBirth,
		},
		{
			Name:       "children_under6_without_permanent_residence",
			Definition: "Living citizens under 6 with no active permanent residence in cutru.residences.",
			Rate:       pct(rateChildNoPerm) + " of living children under 6",
			SQL:        "SELECT count(*) FROM dancu.citizens c WHERE c.birth_date > DATE '" + cut + "' AND c.death_date IS NULL AND NOT EXISTS (SELECT 1 FROM cutru.residences r WHERE r.pin = c.pin AND r.kind = 'permanent' AND r.status = 'active')",
			Count:      childNoPerm,
		},
		{
			Name:       "deceased_with_active_permanent_residence",
			Definition: "Citizens with a death_date who still have an active permanent residence (procedure group b: residence not deleted).",
			Rate:       pct(ratePermActiveAfterDeath) + " of deceased citizens",
			SQL:        "SELECT count(*) FROM dancu.citizens c WHERE c.death_date IS NOT NULL AND EXISTS (SELECT 1 FROM cutru.residences r WHERE r.pin = c.pin AND r.kind = 'permanent' AND r.status = 'active')",
			Count:      deadActivePerm,
		},
		{
			Name:       "deceased_without_death_registration",
			Definition: "Citizens with a death_date in the NPD but no hotich.deaths row.",
			Rate:       pct(rateDeathUnregistered) + " of deceased citizens",
			SQL:        "SELECT count(*) FROM dancu.citizens c WHERE c.death_date IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hotich.deaths d WHERE d.pin = c.pin)",
			Count:      deadUnreg,
		},
		{
			Name:       "death_date_mismatch",
			Definition: "Death registrations whose death_date differs from the NPD's (by 1 to 20 days).",
			Rate:       pct(rateDeathDateMismatch) + " of registered deaths",
			SQL:        "SELECT count(*) FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin WHERE c.death_date <> d.death_date",
			Count:      dateMismatch,
		},
		{
			Name:       "deaths_without_funeral_allowance",
			Definition: "Death registrations with no bhxh.funeral_allowances row for the same PIN.",
			Rate:       pct(1-rateAllowanceRegistered) + " of registered deaths",
			SQL:        "SELECT count(*) FROM hotich.deaths d WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin)",
			Count:      deathsNoAllowance,
		},
		{
			Name:       "funeral_allowances_without_death_registration",
			Definition: "Funeral allowance payments (rows) whose PIN has no hotich.deaths row: paid for unregistered deaths or to living citizens.",
			Rate:       pct(rateAllowanceUnregistered) + " of unregistered deaths, " + pct(rateAllowanceLiving) + " of living citizens",
			SQL:        "SELECT count(*) FROM bhxh.funeral_allowances f WHERE NOT EXISTS (SELECT 1 FROM hotich.deaths d WHERE d.pin = f.pin)",
			Count:      allowancesNoDeath,
		},
		{
			Name:       "duplicate_funeral_allowances",
			Definition: "PINs paid a funeral allowance more than once.",
			Rate:       pct(rateAllowanceDuplicate) + " of recipients",
			SQL:        "SELECT count(*) FROM (SELECT pin FROM bhxh.funeral_allowances GROUP BY pin HAVING count(*) > 1) t",
			Count:      dupAllowances,
		},
		{
			Name:       "health_card_valid_after_death",
			Definition: "Health cards of deceased citizens whose valid_to is after the death_date.",
			Rate:       pct(rateCardAfterDeath) + " of insured deceased citizens",
			SQL:        "SELECT count(*) FROM bhxh.health_cards h JOIN dancu.citizens c ON c.pin = h.pin WHERE c.death_date IS NOT NULL AND h.valid_to > c.death_date",
			Count:      cardAfterDeath,
		},
		{
			Name:       "births_invalid_pin",
			Definition: "hotich.births rows whose child_pin century/sex digit (4th) disagrees with the row's sex and birth_date (Decree 137/2015); such PINs match no citizen.",
			Rate:       pct(rateBadPIN) + " of citizens",
			SQL:        "SELECT count(*) FROM hotich.births b WHERE substr(b.child_pin, 4, 1) <> CASE WHEN b.birth_date >= DATE '2000-01-01' THEN CASE WHEN b.sex = 'F' THEN '3' ELSE '2' END ELSE CASE WHEN b.sex = 'F' THEN '1' ELSE '0' END END",
			Count:      badPIN,
		},
		{
			Name:       "citizens_without_birth_registration",
			Definition: "Citizens whose PIN appears in no hotich.births row (registration missing, or recorded under an invalid PIN).",
			Rate:       pct(rateNoBirthReg+rateBadPIN) + " of citizens",
			SQL:        "SELECT count(*) FROM dancu.citizens c WHERE NOT EXISTS (SELECT 1 FROM hotich.births b WHERE b.child_pin = c.pin)",
			Count:      noBirth,
		},
		{
			Name:       "birth_name_upper_case",
			Definition: "Births whose full_name is the NPD name upper-cased.",
			Rate:       pct(rateNameUpper) + " of births",
			SQL:        "SELECT count(*) FROM hotich.births b JOIN dancu.citizens c ON c.pin = b.child_pin WHERE b.full_name <> c.full_name AND b.full_name = upper(c.full_name)",
			Count:      upper,
		},
		{
			Name:       "birth_name_nfd",
			Definition: "Births whose full_name is the NPD name in Unicode NFD (decomposed diacritics) instead of NFC; nfc_normalize is DuckDB's.",
			Rate:       pct(rateNameNFD) + " of births",
			SQL:        "SELECT count(*) FROM hotich.births b JOIN dancu.citizens c ON c.pin = b.child_pin WHERE b.full_name <> c.full_name AND nfc_normalize(b.full_name) = c.full_name",
			Count:      nfd,
		},
		{
			Name:       "birth_name_double_space",
			Definition: "Births whose full_name has a double space where the NPD name has one.",
			Rate:       pct(rateNameDoubleSpace) + " of births",
			SQL:        "SELECT count(*) FROM hotich.births b JOIN dancu.citizens c ON c.pin = b.child_pin WHERE b.full_name <> c.full_name AND replace(b.full_name, '  ', ' ') = c.full_name",
			Count:      dspace,
		},
		{
			Name:       "birth_name_mismatch",
			Definition: "Births whose full_name differs in any way from the NPD name: exactly the three variants above.",
			Rate:       pct(rateNameUpper+rateNameNFD+rateNameDoubleSpace) + " of births",
			SQL:        "SELECT count(*) FROM hotich.births b JOIN dancu.citizens c ON c.pin = b.child_pin WHERE b.full_name <> c.full_name",
			Count:      upper + nfd + dspace,
		},
		{
			Name:       "citizens_missing_phone",
			Definition: "Citizens with a NULL phone.",
			Rate:       pct(ratePhoneNull) + " of citizens",
			SQL:        "SELECT count(*) FROM dancu.citizens WHERE phone IS NULL",
			Count:      phoneNull,
		},
	}
}

func (g *generator) stats() map[string]int64 {
	s := map[string]int64{"households": int64(len(g.households))}
	for i := range g.persons {
		p := &g.persons[i]
		age := yearsBetween(p.birth, refDate)
		if !p.alive() {
			s["deceased"]++
			continue
		}
		s["living"]++
		switch {
		case p.birth > under6Cutoff:
			s["living_under_6"]++
			s["living_0_14"]++
		case age < 15:
			s["living_0_14"]++
		case age < 65:
			s["living_15_64"]++
		default:
			s["living_65_plus"]++
		}
		if p.cur != p.perm {
			s["living_away_from_permanent_residence"]++
		}
	}
	return s
}

// yearsBetween is the age in whole years on day to of someone born on from.
func yearsBetween(from, to int32) int {
	fy, fm, fd := civilFromDays(from)
	ty, tm, td := civilFromDays(to)
	n := ty - fy
	if tm < fm || tm == fm && td < fd {
		n--
	}
	return n
}
