package gen

import (
	"math"
	"strconv"
)

type colType uint8

const (
	cText colType = iota
	cBigint
	cInt
	cDate
	cDecimal // scale 2; val.i holds hundredths
)

type column struct {
	name     string
	typ      colType
	size     int // VARCHAR length, or DECIMAL precision
	nullable bool
}

// val is one cell: text in s; integers, dates (days since 1970-01-01) and
// decimals (hundredths) in i. Each sink converts to its driver's types.
type val struct {
	s    string
	i    int64
	null bool
}

type table struct {
	source, name string
	cols         []column
	pin          string   // the citizen PIN column, "" if none
	key          string   // primary key column
	indexes      []string // secondary indexes made on server and SQLite outputs
	rows         func(yield func([]val) bool)
}

func txt(name string, size int) column { return column{name: name, typ: cText, size: size} }
func txtNull(name string, size int) column {
	return column{name: name, typ: cText, size: size, nullable: true}
}
func bigint(name string) column            { return column{name: name, typ: cBigint} }
func integer(name string) column           { return column{name: name, typ: cInt} }
func date(name string) column              { return column{name: name, typ: cDate} }
func dateNull(name string) column          { return column{name: name, typ: cDate, nullable: true} }
func decimal(name string, prec int) column { return column{name: name, typ: cDecimal, size: prec} }
func sv(s string) val                      { return val{s: s} }
func iv(i int64) val                       { return val{i: i} }
func dv(d int32) val                       { return val{i: int64(d)} }
func nullVal() val                         { return val{null: true} }

func (g *generator) pinVal(idx int32) val {
	if idx < 0 {
		return nullVal()
	}
	return sv(g.persons[idx].pinString())
}

// agency is one source database and the tables it holds.
type agency struct {
	name   string
	tables []*table
}

func (g *generator) agencies() []agency {
	return []agency{
		{"dancu", []*table{g.citizensTable(), g.householdsTable()}},
		{"hotich", []*table{g.birthsTable(), g.deathsTable(), g.marriagesTable()}},
		{"cutru", []*table{g.residencesTable()}},
		{"bhxh", []*table{g.healthCardsTable(), g.funeralAllowancesTable()}},
		{"yte", []*table{g.vaccinationsTable(), g.visitsTable()}},
	}
}

func (g *generator) citizensTable() *table {
	t := &table{source: "dancu", name: "citizens", pin: "pin", key: "pin",
		indexes: []string{"household_id"},
		cols: []column{
			txt("pin", 12), txt("full_name", 100), date("birth_date"), txt("sex", 1),
			txt("ethnicity_code", 2), txtNull("religion", 50), txt("nationality", 2),
			txt("hometown_province", 3), txt("permanent_commune", 5), txt("current_commune", 5),
			bigint("household_id"), txt("relation_to_head", 20), txt("marital_status", 10),
			txtNull("father_pin", 12), txtNull("mother_pin", 12), dateNull("death_date"), txtNull("phone", 10),
		}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		for i := range g.persons {
			p := &g.persons[i]
			r := newRng(g.seed, sPhone, uint64(i))
			row[0] = sv(p.pinString())
			row[1] = sv(p.fullName())
			row[2] = dv(p.birth)
			row[3] = sv(p.sexCode())
			row[4] = sv(ethnicCodes[p.ethnic])
			if p.religion == 0 {
				row[5] = nullVal()
			} else {
				row[5] = sv(religions[p.religion])
			}
			row[6] = sv("VN")
			if r.chance(0.0005) { // dual nationals
				row[6] = sv(foreignNationalities[r.intn(len(foreignNationalities))])
			}
			row[7] = sv(provCodes3[p.hometown])
			row[8] = sv(communes[p.perm].code)
			row[9] = sv(communes[p.cur].code)
			row[10] = iv(int64(p.household) + 1)
			row[11] = sv(relations[p.relation])
			row[12] = sv(maritalStatuses[p.marital])
			row[13] = g.pinVal(p.father)
			row[14] = g.pinVal(p.mother)
			if p.alive() {
				row[15] = nullVal()
			} else {
				row[15] = dv(p.death)
			}
			if p.flags&fPhoneNull != 0 {
				row[16] = nullVal()
			} else {
				row[16] = sv(phoneNumber(&r))
			}
			if !yield(row) {
				return
			}
		}
	}
	return t
}

var foreignNationalities = []string{"US", "FR", "AU", "CA", "DE", "KR", "JP", "CN", "LA", "KH"}

var ethnicCodes = func() []string {
	s := make([]string, 54)
	for i := range s {
		s[i] = strconv.Itoa(101 + i)[1:]
	}
	return s
}()

func phoneNumber(r *rng) string {
	b := make([]byte, 0, 10)
	b = append(b, phonePrefixes[r.intn(len(phonePrefixes))]...)
	for range 7 {
		b = append(b, byte('0'+r.intn(10)))
	}
	return string(b)
}

func (g *generator) householdsTable() *table {
	t := &table{source: "dancu", name: "households", pin: "head_pin", key: "household_id",
		cols: []column{bigint("household_id"), txt("head_pin", 12), txt("commune_code", 5), txt("address", 200)}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		for h := range g.households {
			hh := &g.households[h]
			row[0] = iv(int64(h) + 1)
			row[1] = g.pinVal(hh.first)
			row[2] = sv(communes[hh.commune].code)
			row[3] = sv(g.address(h))
			if !yield(row) {
				return
			}
		}
	}
	return t
}

// address is a street address in wards, a village elsewhere (Ấp in the
// south, where codes start at 70).
func (g *generator) address(h int) string {
	r := newRng(g.seed, sAddress, uint64(h))
	c := communes[g.households[h].commune]
	b := make([]byte, 0, 64)
	if c.urban {
		b = append(b, "Số "...)
		b = strconv.AppendInt(b, int64(r.between(1, 300)), 10)
		if r.chance(0.3) {
			b = append(b, "/"...)
			b = strconv.AppendInt(b, int64(r.between(1, 80)), 10)
		}
		b = append(b, ' ')
		b = append(b, streets[r.intn(len(streets))]...)
		b = append(b, ", Tổ "...)
		b = strconv.AppendInt(b, int64(r.between(1, 40)), 10)
		return string(b)
	}
	switch {
	case provinces[c.prov].code >= 70:
		b = append(b, "Ấp "...)
	case r.chance(0.5):
		b = append(b, "Thôn "...)
	default:
		b = append(b, "Xóm "...)
	}
	b = strconv.AppendInt(b, int64(r.between(1, 15)), 10)
	return string(b)
}

func (g *generator) birthsTable() *table {
	t := &table{source: "hotich", name: "births", pin: "child_pin", key: "registration_id",
		indexes: []string{"child_pin"},
		cols: []column{
			bigint("registration_id"), txt("child_pin", 12), txt("full_name", 100), date("birth_date"),
			txt("sex", 1), txtNull("father_pin", 12), txtNull("mother_pin", 12), date("registered_on"),
			txt("commune_code", 5),
		}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		id := int64(0)
		for i := range g.persons {
			p := &g.persons[i]
			if p.flags&fNoBirthReg != 0 {
				continue
			}
			r := newRng(g.seed, sBirthReg, uint64(i))
			id++
			row[0] = iv(id)
			if p.flags&fBadPIN != 0 {
				row[1] = sv(pinString(g.badPIN(p)))
			} else {
				row[1] = sv(p.pinString())
			}
			row[2] = sv(p.birthName())
			row[3] = dv(p.birth)
			row[4] = sv(p.sexCode())
			row[5] = g.pinVal(p.father)
			row[6] = g.pinVal(p.mother)
			reg := p.birth + int32(r.intn(61))
			if r.chance(0.08) { // late registrations
				reg = p.birth + int32(r.between(61, 3650))
			}
			row[7] = dv(min(reg, refDate))
			c := int(p.perm)
			if int(communes[c].prov) != int(p.birthProv) {
				c = g.pickCommune(&r, int(p.birthProv))
			}
			row[8] = sv(communes[c].code)
			if !yield(row) {
				return
			}
		}
	}
	return t
}

func (g *generator) deathsTable() *table {
	t := &table{source: "hotich", name: "deaths", pin: "pin", key: "registration_id",
		indexes: []string{"pin"},
		cols:    []column{bigint("registration_id"), txt("pin", 12), date("death_date"), date("registered_on"), txt("commune_code", 5)}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		id := int64(0)
		for i := range g.persons {
			p := &g.persons[i]
			if p.alive() || p.flags&fDeathUnregistered != 0 {
				continue
			}
			r := newRng(g.seed, sDeath, uint64(i))
			id++
			d := p.death
			if p.flags&fDeathDateMismatch != 0 {
				shift := int32(r.between(1, 20))
				if d-shift >= p.birth {
					d -= shift
				} else {
					d += min(shift, refDate-d)
				}
			}
			reg := p.death + int32(r.intn(16))
			if r.chance(0.1) { // registered after the 15-day limit
				reg = p.death + int32(r.between(16, 90))
			}
			row[0] = iv(id)
			row[1] = sv(p.pinString())
			row[2] = dv(d)
			row[3] = dv(max(min(reg, refDate), d))
			row[4] = sv(communes[p.perm].code)
			if !yield(row) {
				return
			}
		}
	}
	return t
}

func (g *generator) marriagesTable() *table {
	t := &table{source: "hotich", name: "marriages", pin: "pin", key: "registration_id",
		indexes: []string{"pin", "spouse_pin"},
		cols:    []column{bigint("registration_id"), txt("pin", 12), txt("spouse_pin", 12), date("registered_on"), txt("commune_code", 5)}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		id := int64(0)
		for i := range g.persons {
			h := &g.persons[i]
			if h.sex != 0 || h.spouse < 0 {
				continue
			}
			w := &g.persons[h.spouse]
			r := newRng(g.seed, sMarriage, uint64(i))
			// Before the couple's first child where there is one.
			first := int32(math.MaxInt32)
			hh := g.households[h.household]
			for j := hh.first; j < hh.first+int32(hh.n); j++ {
				if c := &g.persons[j]; c.mother == h.spouse && c.birth < first {
					first = c.birth
				}
			}
			var reg int32
			if first != math.MaxInt32 {
				reg = first - int32(30+r.intn(700))
			} else {
				reg = addYears(w.birth, r.between(19, 30)) + int32(r.intn(365))
			}
			reg = max(reg, addYears(w.birth, 18), addYears(h.birth, 20))
			id++
			row[0] = iv(id)
			row[1] = sv(h.pinString())
			row[2] = sv(w.pinString())
			row[3] = dv(min(reg, refDate))
			row[4] = sv(communes[w.perm].code)
			if !yield(row) {
				return
			}
		}
	}
	return t
}

func (g *generator) residencesTable() *table {
	t := &table{source: "cutru", name: "residences", pin: "pin", key: "residence_id",
		indexes: []string{"pin"},
		cols: []column{
			bigint("residence_id"), txt("pin", 12), txt("commune_code", 5), txt("kind", 10),
			date("registered_on"), dateNull("ended_on"), txt("status", 10),
		}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		id := int64(0)
		emit := func(p *person, c int, kind string, reg int32, ended int32) bool {
			id++
			row[0] = iv(id)
			row[1] = sv(p.pinString())
			row[2] = sv(communes[c].code)
			row[3] = sv(kind)
			row[4] = dv(reg)
			if ended == 0 {
				row[5], row[6] = nullVal(), sv("active")
			} else {
				row[5], row[6] = dv(ended), sv("deleted")
			}
			return yield(row)
		}
		for i := range g.persons {
			p := &g.persons[i]
			r := newRng(g.seed, sResidence, uint64(i))
			end := refDate // last day anything can have happened
			if !p.alive() {
				end = p.death
			}
			if p.flags&fTempHistory != 0 {
				from := addYears(p.birth, 18)
				if from < end {
					reg := from + int32(r.intn(int(end-from)))
					ended := min(reg+int32(r.between(180, 1000)), end)
					c := g.pickCommune(&r, migrateWeights.pick(&r))
					if !emit(p, c, "temporary", reg, max(ended, reg)) {
						return
					}
				}
			}
			permReg := min(p.birth+int32(r.intn(61)), refDate)
			if p.flags&fMoved != 0 {
				// Most moves come with work or marriage, between 18 and 30.
				from := addYears(p.birth, 18)
				if from < end {
					move := min(from+int32(r.intn(12*365)), end)
					prev := g.pickCommune(&r, provWeights.pick(&r))
					if prev == int(p.perm) {
						prev = (prev + 1) % len(communes)
					}
					if !emit(p, prev, "permanent", permReg, max(move, permReg)) {
						return
					}
					permReg = max(move, permReg)
				}
			}
			if p.flags&fNoPerm == 0 {
				var ended int32
				if !p.alive() && p.flags&fPermActiveAfterDeath == 0 {
					ended = max(min(p.death+int32(r.between(1, 30)), refDate), permReg)
				}
				if !emit(p, int(p.perm), "permanent", permReg, ended) {
					return
				}
			}
			if p.cur != p.perm {
				reg := max(p.birth, refDate-int32(r.intn(3*365)))
				var ended int32
				if !p.alive() {
					reg = min(reg, p.death)
					ended = max(min(p.death+int32(r.between(1, 30)), refDate), reg)
				}
				if !emit(p, int(p.cur), "temporary", min(reg, refDate), ended) {
					return
				}
			}
		}
	}
	return t
}

func (g *generator) healthCardsTable() *table {
	t := &table{source: "bhxh", name: "health_cards", pin: "pin", key: "card_no",
		indexes: []string{"pin"},
		cols: []column{
			txt("card_no", 15), txt("pin", 12), date("valid_from"), date("valid_to"),
			decimal("benefit_level", 5), txt("issued_province", 3),
		}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		codes := newFeistel(100_000_000, uint64(g.seed), sCard)
		buf := make([]byte, 0, 15)
		for i := range g.persons {
			p := &g.persons[i]
			if p.flags&fInsured == 0 {
				continue
			}
			r := newRng(g.seed, sCard, uint64(i))
			asOf := refDate
			if !p.alive() {
				asOf = p.death
			}
			grp := cardGroupFor(&r, p, float64(asOf-p.birth)/365.2425, p.birth > addYears(asOf, -6))
			var from, to int32
			switch {
			case grp == groupTE:
				from, to = p.birth, addYears(p.birth, 6)-1
				if p.flags&fCardBeforeBirth != 0 {
					from = p.birth - int32(r.between(1, 60))
				}
			case !p.alive():
				from = max(p.birth, p.death-int32(r.intn(300)))
				to = from + 364
			case r.chance(0.04): // lapsed
				from = refDate - 365 - int32(r.intn(700))
				to = from + 364
			default:
				from = refDate - int32(r.intn(365))
				to = from + 364
			}
			if !p.alive() {
				if p.flags&fCardAfterDeath == 0 {
					to = p.death
				} else if to <= p.death {
					to = p.death + 30
				}
			}
			prov := int(communes[p.perm].prov)
			buf = append(buf[:0], grp.prefix...)
			buf = append(buf, byte('0'+grp.benefit))
			buf = append(buf, provCodes2[prov]...)
			buf = append(buf, provCodes2[prov]...)
			buf = appendPadded(buf, codes.apply(uint64(i)), 8)
			row[0] = sv(string(buf))
			row[1] = sv(p.pinString())
			row[2] = dv(from)
			row[3] = dv(to)
			row[4] = iv(grp.level * 100)
			row[5] = sv(provCodes3[prov])
			if !yield(row) {
				return
			}
		}
	}
	return t
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var d [20]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}

func cardGroupFor(r *rng, p *person, age float64, under6 bool) cardGroup {
	switch u := r.float(); {
	case under6:
		return groupTE
	case age < 18:
		return groupHS
	case age < 60:
		switch {
		case u < 0.45:
			return groupDN
		case u < 0.52:
			return groupHC
		case u < 0.60:
			return groupCN
		case u < 0.66 && p.ethnic != 0:
			return groupDT
		}
		return groupGD
	case age >= 80 && u < 0.4:
		return groupBT
	case u < 0.6:
		return groupHT
	}
	return groupGD
}

// baseSalary is the statutory base salary (lương cơ sở) in VND on a day;
// the funeral allowance is ten times it.
func baseSalary(d int32) int64 {
	switch {
	case d < daysFromCivil(2023, 7, 1):
		return 1_490_000
	case d < daysFromCivil(2024, 7, 1):
		return 1_800_000
	}
	return 2_340_000
}

func (g *generator) funeralAllowancesTable() *table {
	t := &table{source: "bhxh", name: "funeral_allowances", pin: "pin", key: "payment_id",
		indexes: []string{"pin"},
		cols:    []column{bigint("payment_id"), txt("pin", 12), date("paid_on"), decimal("amount", 12)}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		id := int64(0)
		for i := range g.persons {
			p := &g.persons[i]
			if p.flags&fAllowance == 0 {
				continue
			}
			r := newRng(g.seed, sAllowance, uint64(i))
			paid := refDate - int32(r.intn(700))
			basis := paid
			if !p.alive() {
				paid = min(p.death+int32(r.between(7, 90)), refDate)
				basis = p.death
			}
			amount := 10 * baseSalary(basis) * 100
			for n := 0; n < 1 || n < 2 && p.flags&fAllowanceDup != 0; n++ {
				if n == 1 {
					paid = min(paid+int32(r.between(20, 120)), refDate)
				}
				id++
				row[0] = iv(id)
				row[1] = sv(p.pinString())
				row[2] = dv(paid)
				row[3] = iv(amount)
				if !yield(row) {
					return
				}
			}
		}
	}
	return t
}

// facility is a commune health station or hospital in the person's current
// province.
func facility(r *rng, p *person) string {
	prov := communes[p.cur].prov
	b := make([]byte, 0, 5)
	b = append(b, provCodes2[prov]...)
	return string(appendPadded(b, uint64(1+r.intn(provinces[prov].facilities)), 3))
}

var (
	epiStart   = daysFromCivil(2019, 1, 1) // digitised immunisation records
	covidStart = daysFromCivil(2021, 7, 1)
	covidBoost = daysFromCivil(2022, 2, 1)
	covidBorn  = daysFromCivil(2010, 1, 1) // 12 or older during the campaign
	covidPick  = newWeighted([]float64{35, 30, 15, 20})
)

func (g *generator) vaccinationsTable() *table {
	t := &table{source: "yte", name: "vaccinations", pin: "pin", key: "vaccination_id",
		cols: []column{bigint("vaccination_id"), txt("pin", 12), txt("vaccine", 30), integer("dose"), date("given_on"), txt("facility_code", 5)}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		id := int64(0)
		emit := func(p *person, vaccine string, dose int64, on int32, fac string) bool {
			id++
			row[0] = iv(id)
			row[1] = sv(p.pinString())
			row[2] = sv(vaccine)
			row[3] = iv(dose)
			row[4] = dv(on)
			row[5] = sv(fac)
			return yield(row)
		}
		for i := range g.persons {
			p := &g.persons[i]
			r := newRng(g.seed, sVaccine, uint64(i))
			end := refDate
			if !p.alive() {
				end = p.death
			}
			fac := facility(&r, p)
			if p.birth >= epiStart {
				var stopped uint32 // bit per series
				for _, d := range epiSchedule {
					if stopped&(1<<d.series) != 0 {
						continue
					}
					on := p.birth + int32(d.ageDays)
					if d.ageDays > 0 {
						on += int32(r.intn(15))
					}
					if on > end {
						break
					}
					if r.chance(0.04) { // missed: the series stops here
						stopped |= 1 << d.series
						continue
					}
					if !emit(p, d.vaccine, d.dose, on, fac) {
						return
					}
				}
			}
			if p.birth < covidBorn && r.chance(0.8) {
				v := covidVaccines[covidPick.pick(&r)]
				on := covidStart + int32(r.intn(184))
				for dose := int64(1); dose <= 3 && on <= end; dose++ {
					if !emit(p, v, dose, on, facility(&r, p)) {
						return
					}
					if dose == 1 && !r.chance(0.9) || dose == 2 && !r.chance(0.55) {
						break
					}
					if dose == 1 {
						on += int32(r.between(28, 90))
					} else {
						on = max(on+90, covidBoost+int32(r.intn(240)))
						v = covidVaccines[1+r.intn(2)]
					}
				}
			}
		}
	}
	return t
}

func (g *generator) visitsTable() *table {
	t := &table{source: "yte", name: "visits", pin: "pin", key: "visit_id",
		cols: []column{bigint("visit_id"), txt("pin", 12), txt("facility_code", 5), date("visit_date"), txt("diagnosis_code", 3), decimal("cost", 12)}}
	t.rows = func(yield func([]val) bool) {
		row := make([]val, len(t.cols))
		id := int64(0)
		var dates []int32
		for i := range g.persons {
			p := &g.persons[i]
			r := newRng(g.seed, sVisit, uint64(i))
			lo, hi := max(p.birth, refDate-364), refDate
			if !p.alive() {
				hi = p.death
			}
			if hi < lo {
				continue
			}
			age := float64(refDate-p.birth) / 365.2425
			band, mean := 1, 0.9
			switch {
			case age < 6:
				band, mean = 0, 2.0
			case age < 18:
				mean = 0.7
			case age >= 60:
				band, mean = 2, 2.2
			}
			k := r.poisson(mean * float64(hi-lo+1) / 365)
			dates = dates[:0]
			for range k {
				dates = append(dates, lo+int32(r.intn(int(hi-lo+1))))
			}
			for a := 1; a < len(dates); a++ { // tiny insertion sort
				for b := a; b > 0 && dates[b] < dates[b-1]; b-- {
					dates[b], dates[b-1] = dates[b-1], dates[b]
				}
			}
			for _, d := range dates {
				dg := diagnoses[diagnosisPick[band].pick(&r)]
				if dg.code == "O80" && (p.sex != 1 || age < 18 || age > 45) {
					dg = diagnoses[len(diagnoses)-1] // Z00 general examination
				}
				cost := math.Round(dg.costKVN*math.Exp(0.5*r.normal())) * 1000
				id++
				row[0] = iv(id)
				row[1] = sv(p.pinString())
				row[2] = sv(facility(&r, p))
				row[3] = dv(d)
				row[4] = sv(dg.code)
				row[5] = iv(int64(cost) * 100)
				if !yield(row) {
					return
				}
			}
		}
	}
	return t
}
